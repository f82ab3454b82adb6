"""Matrix Cookbook 2.1-2.3: determinants (46-58), inverses (59-64u), eigenvalues (65-68).

Y(x) = A + x B + x^2 C is the instance of a matrix function of a scalar: A invertible
(cond <= 10), B and C orthogonal, x in [0.5, 2] scaled by 0.1, so Y stays invertible.
"""

import torch

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import det, eye_like, inv, pinv
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, scalar, vector
from matcalc.model.rule import Rule

DET, INV, EIG = "2.1 determinant", "2.2 inverse", "2.3 eigenvalues"
Y_INPUTS = {"x": scalar(positive=True), "A": matrix("n", "n", structure="invertible"),
            "B": matrix("n", "n", structure="orthogonal"), "C": matrix("n", "n", structure="orthogonal")}



def Y(x, A, B, C):
    return A + 0.1 * x * B + 0.01 * x * x * C


def dY(x, A, B, C):
    return 0.1 * B + 0.02 * x * C


def sep_eigh(A):
    """eigh with a fixed sign gauge (each eigenvector's largest-magnitude entry positive), so
    that float32 and float64 solves return the same vectors."""
    lam, V = torch.linalg.eigh(A)
    pivot = V.abs().argmax(dim=0, keepdim=True)
    return torch.return_types.linalg_eigh((lam, V * torch.sign(V.gather(0, pivot))))


GROUP = "Matrix Cookbook"

RULES = (
    # ---- 2.1 determinant -------------------------------------------------------------------
    text_rule(
        name="cookbook_46_det_of_matrix_function",
        f="det(A + 0.1 * x * B + 0.01 * x * x * C)",
        derivative="det(A + 0.1 * x * B + 0.01 * x * x * C) * tr(inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.1 * B + 0.02 * x * C))",
        wrt="x", inputs=Y_INPUTS,
        source=cb(46), section=DET, conditions="Y(x) invertible, differentiable",
    ),
    Rule(
        name="cookbook_47_det_gradient_identity",
        f=lambda X: det(X),
        derivative=lambda X: torch.linalg.solve(X.T, det(X) * eye_like(X), left=False),
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        latex=r"\sum_k \frac{\partial \det X}{\partial X_{ik}} X_{jk} = \delta_{ij} \det X",
        source=cb("47, 50"), section=DET,
        conditions="X invertible: the gradient G is the solution of G X^T = det(X) I",
    ),
    text_rule(
        name="cookbook_49_det",
        f="det(X)", derivative="det(X) * inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(49), section=DET,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_51_det_AXB",
        f="det(A @ X @ B)",
        derivative="det(A @ X @ B) * inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible"),
                         "A": matrix("n", "n", structure="invertible"), "B": matrix("n", "n", structure="invertible")},
        source=cb(51), section=DET,
        conditions="A, X, B square and invertible (squareness of A, B implicit in the Cookbook)",
    ),
    text_rule(
        name="cookbook_52_det_XtAX_square",
        f="det(X.T @ A @ X)",
        derivative="2 * det(X.T @ A @ X) * inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible"), "A": matrix("n", "n", structure="invertible")},
        source=cb(52), section=DET,
        conditions="X square invertible; A square invertible, need not be symmetric",
    ),
    text_rule(
        name="cookbook_53_det_XtAX_symmetric",
        f="det(X.T @ A @ X)",
        derivative="2 * det(X.T @ A @ X) * A @ X @ inv(X.T @ A @ X)",
        wrt="X", inputs={"X": matrix("n", "m", structure="full_column_rank"), "A": matrix("n", "n", structure="spd")},
        source=cb(53), section=DET,
        conditions="A symmetric (fails for nonsymmetric A), X^T A X invertible; X may be non-square",
    ),
    text_rule(
        name="cookbook_54_det_XtAX_general",
        f="det(X.T @ (S + (K - K.T) / 2) @ X)",
        derivative="det(X.T @ (S + (K - K.T) / 2) @ X) * ((S + (K - K.T) / 2) @ X @ inv(X.T @ (S + (K - K.T) / 2) @ X) + (S + (K - K.T) / 2).T @ X @ inv(X.T @ (S + (K - K.T) / 2).T @ X))",
        wrt="X", inputs={"X": matrix("n", "m", structure="full_column_rank"),
                         "S": matrix("n", "n", structure="spd"), "K": matrix("n", "n")},
        source=cb(54), section=DET,
        conditions="A any square (instance A = S + skew(K), nonsymmetric), X^T A X invertible",
    ),
    text_rule(
        name="cookbook_55_logdet_XtX",
        f="logdet(X.T @ X)", derivative="2 * pinv(X).T",
        wrt="X", inputs={"X": matrix("n", "m", structure="full_column_rank")},
        source=cb(55), section=DET,
        conditions="X full column rank",
    ),
    text_rule(
        name="cookbook_56_logdet_wrt_pinv",
        f="logdet(pinv(Pt.T).T @ pinv(Pt.T))",
        derivative="-2 * pinv(Pt.T)",
        wrt="Pt", inputs={"Pt": matrix("n", "m", structure="full_column_rank")},
        source=cb(56), section=DET,
        conditions="X full column rank; checked by writing X = pinv(P), P = Pt^T, so the result is (-2 X^T)^T",
    ),
    text_rule(
        name="cookbook_57_log_abs_det",
        f="log(abs(det(X)))", derivative="inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(57), section=DET,
        conditions="X invertible, either sign of det",
    ),
    text_rule(
        name="cookbook_58_det_power",
        f="det(matrix_power(X, 3))", derivative="3 * det(matrix_power(X, 3)) * inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(58), section=DET,
        conditions="X invertible",
    ),
    # ---- 2.2 inverse -----------------------------------------------------------------------
    text_rule(
        name="cookbook_59_inverse_of_matrix_function",
        f="inv(A + 0.1 * x * B + 0.01 * x * x * C)",
        derivative="-inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.1 * B + 0.02 * x * C) @ inv(A + 0.1 * x * B + 0.01 * x * x * C)",
        wrt="x", inputs=Y_INPUTS,
        source=cb(59), section=INV, conditions="Y(x) invertible",
    ),
    Rule(
        name="cookbook_60_inverse_entries",
        f=lambda X: inv(X),
        derivative=lambda X: -torch.einsum("ki,jl->klij", inv(X), inv(X)),
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        latex=r"\frac{\partial (X^{-1})_{kl}}{\partial X_{ij}} = -(X^{-1})_{ki} (X^{-1})_{jl}", source=cb(60), section=INV,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_61_bilinear_inverse",
        f="a @ inv(X) @ b",
        derivative="-inv(X).T @ outer(a, b) @ inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible"), "a": vector("n"), "b": vector("n")},
        source=cb(61), section=INV,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_62_det_inverse",
        f="det(inv(X))", derivative="-det(inv(X)) * inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        source=cb(62), section=INV,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_63_trace_A_inv_B",
        f="tr(A @ inv(X) @ B)",
        derivative="-(inv(X) @ B @ A @ inv(X)).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible"), "A": matrix("m", "n"), "B": matrix("n", "m")},
        source=cb(63), section=INV,
        conditions="X n x n invertible; A m x n, B n x m",
    ),
    text_rule(
        name="cookbook_64_trace_inverse_shifted",
        f="tr(inv(X + A))",
        derivative="-(inv(X + A) @ inv(X + A)).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="spd"), "A": matrix("n", "n", structure="spd")},
        source=cb(64), section=INV,
        conditions="X + A invertible (instance: both spd)",
    ),
    text_rule(
        name="cookbook_64u_gradient_through_inverse",
        f="tr(C @ inv(A) @ D @ inv(A))",
        derivative="-inv(A).T @ (C.T @ inv(A).T @ D.T + D.T @ inv(A).T @ C.T) @ inv(A).T",
        wrt="A", inputs={"A": matrix("n", "n", structure="invertible"), "C": matrix("n", "n"), "D": matrix("n", "n")},
        source=cb("64, unnumbered"), section=INV,
        conditions="A invertible; instance J = Tr(C W D W), dJ/dW = C^T W^T D^T + D^T W^T C^T",
    ),
    # ---- 2.3 eigenvalues -------------------------------------------------------------------
    Rule(
        name="cookbook_65_sum_of_eigenvalues",
        f=lambda X: torch.linalg.eigvals(X).sum().real, derivative=lambda X: eye_like(X),
        wrt="X", inputs={"X": matrix("n", "n", structure="separated_eigenvalues")},
        latex=r"\frac{\partial}{\partial X} \sum \mathrm{eig}(X) = \frac{\partial \mathrm{Tr}(X)}{\partial X} = I", source=cb(65), section=EIG,
        conditions="distinct eigenvalues (for the eigvals backward)",
    ),
    text_rule(
        name="cookbook_65_trace",
        f="tr(X)", derivative="I",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(65), section=EIG,
    ),
    Rule(
        name="cookbook_66_product_of_eigenvalues",
        f=lambda X: torch.linalg.eigvals(X).prod().real, derivative=lambda X: det(X) * inv(X).T,
        wrt="X", inputs={"X": matrix("n", "n", structure="separated_eigenvalues")},
        latex=r"\frac{\partial}{\partial X} \prod \mathrm{eig}(X) = \det(X) X^{-\top}", source=cb(66), section=EIG,
        conditions="X invertible, distinct eigenvalues (instance: symmetric with gaps >= 0.5, none near 0 for odd n)",
    ),
    Rule(
        name="cookbook_67_eigenvalue_differential",
        f=lambda A: sep_eigh(A).eigenvalues,
        derivative=lambda A, dA: torch.einsum("ji,jk,ki->i", sep_eigh(A).eigenvectors, dA, sep_eigh(A).eigenvectors),
        wrt=("A",), kind="differential", inputs={"A": matrix("n", "n", structure="separated_eigenvalues")},
        latex=r"\partial \lambda_i = v_i^\top \partial A\, v_i", source=cb(67), section=EIG,
        conditions="A real symmetric with distinct eigenvalues, v_i^T v_i = 1; symmetric directions dA",
    ),
    Rule(
        name="cookbook_68_eigenvector_differential",
        f=lambda A: sep_eigh(A).eigenvectors,
        derivative=lambda A, dA: torch.stack([
            pinv(lam * eye_like(A) - A) @ dA @ v
            for lam, v in zip(sep_eigh(A).eigenvalues, sep_eigh(A).eigenvectors.T, strict=True)], dim=1),
        wrt=("A",), kind="differential", inputs={"A": matrix("n", "n", structure="separated_eigenvalues")},
        latex=r"\partial v_i = (\lambda_i I - A)^+ \partial A\, v_i", source=cb(68), section=EIG,
        conditions="A real symmetric with distinct eigenvalues, v_i^T v_i = 1, sign gauge: largest entry positive; symmetric dA",
    ),
)
