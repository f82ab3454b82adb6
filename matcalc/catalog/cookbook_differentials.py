"""Matrix Cookbook, 2.0: the entry derivative (32) and the differentials (eqs. 33-45), the latter
checked as directional derivatives.

Each rule's derivative receives the inputs and a direction d<name> for every input in ``wrt``,
and returns df; the oracle is torch.func.jvp (or the contracted autograd Jacobians).
"""

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import adjugate, det, tr, unit_entries
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, scalar
from matcalc.model.rule import Rule

SECTION = "2.0 differentials"



GROUP = "Matrix Cookbook"

RULES = (
    Rule(
        name="cookbook_32_entries",
        f=lambda X: X * 1.0, derivative=lambda X: unit_entries(tuple(X.shape), X),
        wrt="X", inputs={"X": matrix("n", "m")},
        latex=r"\frac{\partial X_{kl}}{\partial X_{ij}} = \delta_{ik} \delta_{lj}", source=cb(32), section="2.0 basics",
        conditions="entries of X independent (no structure)",
    ),
    text_rule(
        name="cookbook_33_constant",
        f="A * 1.0", derivative="zeros_like(A)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m"), "A": matrix("n", "m")},
        source=cb(33), section=SECTION, conditions="A constant",
    ),
    text_rule(
        name="cookbook_34_scaling",
        f="alpha * X", derivative="alpha * dX",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m"), "alpha": scalar()},
        source=cb(34), section=SECTION,
    ),
    text_rule(
        name="cookbook_35_sum",
        f="X + Y", derivative="dX + dY",
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("n", "m")},
        source=cb(35), section=SECTION,
    ),
    text_rule(
        name="cookbook_36_trace",
        f="tr(X)", derivative="tr(dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n")},
        source=cb(36), section=SECTION,
    ),
    text_rule(
        name="cookbook_37_product",
        f="X @ Y", derivative="dX @ Y + X @ dY",
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "k"), "Y": matrix("k", "m")},
        source=cb(37), section=SECTION,
    ),
    text_rule(
        name="cookbook_38_hadamard",
        f="X * Y", derivative="dX * Y + X * dY",
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("n", "m")},
        source=cb(38), section=SECTION,
    ),
    text_rule(
        name="cookbook_39_kronecker",
        f="kron(X, Y)", derivative="kron(dX, Y) + kron(X, dY)",
        wrt=("X", "Y"), kind="differential", inputs={"X": matrix("n", "m"), "Y": matrix("k", "r")},
        source=cb(39), section=SECTION,
    ),
    text_rule(
        name="cookbook_40_inverse",
        f="inv(X)", derivative="-inv(X) @ dX @ inv(X)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(40), section=SECTION,
        conditions="X invertible",
    ),
    Rule(
        name="cookbook_41_det_adjugate",
        f=lambda X: det(X), derivative=lambda X, dX: tr(adjugate(X) @ dX),
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n")},
        latex=r"\partial \det(X) = \mathrm{Tr}(\mathrm{adj}(X)\, \partial X)", source=cb(41), section=SECTION,
        conditions="X square; holds for singular X too",
    ),
    text_rule(
        name="cookbook_42_det",
        f="det(X)", derivative="det(X) * tr(inv(X) @ dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(42), section=SECTION,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_43_logdet",
        f="log(abs(det(X)))", derivative="tr(inv(X) @ dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(43), section=SECTION,
        conditions="X invertible; ln det read as ln|det X| when det X < 0",
    ),
    text_rule(
        name="cookbook_44_transpose",
        f="X.T", derivative="dX.T",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m")},
        source=cb(44), section=SECTION,
    ),
    text_rule(
        name="cookbook_45_conjugate_transpose_real",
        f="X.mH", derivative="dX.mH",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "m")},
        source=cb(45), section=SECTION,
        conditions="checked on real X (X^H = X^T); the complex case is not sampled",
    ),
)
