"""Matrix Cookbook, 2.0: the entry derivative (32) and the differentials (eqs. 33-45), the latter
checked as directional derivatives.

Each rule's derivative receives the inputs and a direction d<name> for every input in ``wrt``,
and returns df; the oracle is torch.func.jvp (or the contracted autograd Jacobians).
"""

import torch

from matcalc.catalog._ops import adjugate, det, inv, logabsdet, tr, unit_entries
from matcalc.domains import matrix, scalar
from matcalc.rule import Rule

SECTION = "2.0 differentials"


def cb(eq: int | str) -> str:
    return f"Matrix Cookbook ({eq})"


GROUP = "Matrix Cookbook"

RULES = (
    Rule(
        name="cookbook_32_entries",
        f=lambda X: X * 1.0, derivative=lambda X: unit_entries(tuple(X.shape), X),
        wrt="X", inputs={"X": matrix("n", "m")},
        latex=r"\frac{\partial X_{kl}}{\partial X_{ij}} = \delta_{ik} \delta_{lj}", source=cb(32), section="2.0 basics",
        conditions="entries of X independent (no structure)",
    ),
    Rule(
        name="cookbook_33_constant",
        f=lambda X, A: A * 1.0, derivative=lambda X, A, dX: torch.zeros_like(A),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m"), "A": matrix("n", "m")},
        latex=r"\partial A = 0", source=cb(33), section=SECTION, conditions="A constant",
    ),
    Rule(
        name="cookbook_34_scaling",
        f=lambda X, alpha: alpha * X, derivative=lambda X, alpha, dX: alpha * dX,
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m"), "alpha": scalar()},
        latex=r"\partial(\alpha X) = \alpha\, \partial X", source=cb(34), section=SECTION,
    ),
    Rule(
        name="cookbook_35_sum",
        f=lambda X, Y: X + Y, derivative=lambda X, Y, dX, dY: dX + dY,
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("n", "m")},
        latex=r"\partial(X + Y) = \partial X + \partial Y", source=cb(35), section=SECTION,
    ),
    Rule(
        name="cookbook_36_trace",
        f=lambda X: tr(X), derivative=lambda X, dX: tr(dX),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n")},
        latex=r"\partial \mathrm{Tr}(X) = \mathrm{Tr}(\partial X)", source=cb(36), section=SECTION,
    ),
    Rule(
        name="cookbook_37_product",
        f=lambda X, Y: X @ Y, derivative=lambda X, Y, dX, dY: dX @ Y + X @ dY,
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "k"), "Y": matrix("k", "m")},
        latex=r"\partial(XY) = (\partial X) Y + X (\partial Y)", source=cb(37), section=SECTION,
    ),
    Rule(
        name="cookbook_38_hadamard",
        f=lambda X, Y: X * Y, derivative=lambda X, Y, dX, dY: dX * Y + X * dY,
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("n", "m")},
        latex=r"\partial(X \circ Y) = (\partial X) \circ Y + X \circ (\partial Y)", source=cb(38), section=SECTION,
    ),
    Rule(
        name="cookbook_39_kronecker",
        f=lambda X, Y: torch.kron(X, Y), derivative=lambda X, Y, dX, dY: torch.kron(dX, Y) + torch.kron(X, dY),
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("k", "r")},
        latex=r"\partial(X \otimes Y) = (\partial X) \otimes Y + X \otimes (\partial Y)", source=cb(39), section=SECTION,
    ),
    Rule(
        name="cookbook_40_inverse",
        f=lambda X: inv(X), derivative=lambda X, dX: -inv(X) @ dX @ inv(X),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        latex=r"\partial(X^{-1}) = -X^{-1} (\partial X) X^{-1}", source=cb(40), section=SECTION,
        conditions="X invertible",
    ),
    Rule(
        name="cookbook_41_det_adjugate",
        f=lambda X: det(X), derivative=lambda X, dX: tr(adjugate(X) @ dX),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n")},
        latex=r"\partial \det(X) = \mathrm{Tr}(\mathrm{adj}(X)\, \partial X)", source=cb(41), section=SECTION,
        conditions="X square; holds for singular X too",
    ),
    Rule(
        name="cookbook_42_det",
        f=lambda X: det(X), derivative=lambda X, dX: det(X) * tr(inv(X) @ dX),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        latex=r"\partial \det(X) = \det(X)\, \mathrm{Tr}(X^{-1} \partial X)", source=cb(42), section=SECTION,
        conditions="X invertible",
    ),
    Rule(
        name="cookbook_43_logdet",
        f=lambda X: logabsdet(X), derivative=lambda X, dX: tr(inv(X) @ dX),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        latex=r"\partial \ln \det(X) = \mathrm{Tr}(X^{-1} \partial X)", source=cb(43), section=SECTION,
        conditions="X invertible; ln det read as ln|det X| when det X < 0",
    ),
    Rule(
        name="cookbook_44_transpose",
        f=lambda X: X.T, derivative=lambda X, dX: dX.T,
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m")},
        latex=r"\partial X^\top = (\partial X)^\top", source=cb(44), section=SECTION,
    ),
    Rule(
        name="cookbook_45_conjugate_transpose_real",
        f=lambda X: X.mH, derivative=lambda X, dX: dX.mH,
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m")},
        latex=r"\partial X^H = (\partial X)^H", source=cb(45), section=SECTION,
        conditions="checked on real X (X^H = X^T); the complex case is not sampled",
    ),
)
