"""Matrix Cookbook 2.4: first-order (69-75), second-order (76-89), higher-order forms (90-95)
and the gradient of a quadratic (97). The printed forms of 92 and 95 are wrong: their corrected
forms are here, the printed ones are in errata.py."""

import torch

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import eye_like, mpow, tsum, unit_entries
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, scalar, vector
from matcalc.model.rule import Rule

FIRST, SECOND, HIGHER, GRAD = "2.4.1 first order", "2.4.2 second order", "2.4.3 higher order", "2.4.4 gradient"
P = 3  # the power p in 90-92 (the Cookbook's statements hold for every p >= 1)



def power_sum_90(X):
    return tsum(torch.einsum("ki,jl->klij", mpow(X, r), mpow(X, P - 1 - r)) for r in range(P))


def quad_79(X, B):
    m = X.shape[1]
    Im = eye_like(X, m)
    return torch.einsum("lj,ki->klij", Im, X.T @ B) + torch.einsum("kj,il->klij", Im, B @ X)


def quad_80(X, B):
    n, m = X.shape
    out = torch.empty(m, m, n, m, dtype=X.dtype, device=X.device)
    for i in range(n):
        for j in range(m):
            Jij = torch.zeros_like(X)
            Jij[i, j] = 1
            out[:, :, i, j] = X.T @ B @ Jij + Jij.T @ B @ X
    return out


GROUP = "Matrix Cookbook"

RULES = (
    # ---- 2.4.1 first order -----------------------------------------------------------------
    text_rule(
        name="cookbook_69_xT_a",
        f="x @ a", derivative="a",
        wrt="x", inputs={"x": vector("n"), "a": vector("n")},
        source=cb(69), section=FIRST,
    ),
    text_rule(
        name="cookbook_69_aT_x",
        f="a @ x", derivative="a",
        wrt="x", inputs={"x": vector("n"), "a": vector("n")},
        source=cb(69), section=FIRST,
    ),
    text_rule(
        name="cookbook_70_aT_X_b",
        f="a @ X @ b", derivative="outer(a, b)",
        wrt="X", inputs={"X": matrix("n", "m"), "a": vector("n"), "b": vector("m")},
        source=cb(70), section=FIRST,
    ),
    text_rule(
        name="cookbook_71_aT_Xt_b",
        f="a @ X.T @ b", derivative="outer(b, a)",
        wrt="X", inputs={"X": matrix("n", "m"), "a": vector("m"), "b": vector("n")},
        source=cb(71), section=FIRST,
    ),
    text_rule(
        name="cookbook_72_aT_X_a",
        f="a @ X @ a", derivative="outer(a, a)",
        wrt="X", inputs={"X": matrix("n", "n"), "a": vector("n")},
        source=cb(72), section=FIRST,
    ),
    text_rule(
        name="cookbook_72_aT_Xt_a",
        f="a @ X.T @ a", derivative="outer(a, a)",
        wrt="X", inputs={"X": matrix("n", "n"), "a": vector("n")},
        source=cb(72), section=FIRST,
    ),
    Rule(
        name="cookbook_73_single_entry",
        f=lambda X: X * 1.0, derivative=lambda X: unit_entries(tuple(X.shape), X),
        wrt="X", inputs={"X": matrix("n", "m")},
        latex=r"\frac{\partial X}{\partial X_{ij}} = J^{ij}", source=cb(73), section=FIRST,
    ),
    Rule(
        name="cookbook_74_XA_entries",
        f=lambda X, A: X @ A,
        derivative=lambda X, A: torch.einsum("im,nj->ijmn", eye_like(X, X.shape[0]), A),
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("m", "k")},
        latex=r"\frac{\partial (XA)_{ij}}{\partial X_{mn}} = \delta_{im} A_{nj} = (J^{mn} A)_{ij}", source=cb(74), section=FIRST,
    ),
    Rule(
        name="cookbook_75_XtA_entries",
        f=lambda X, A: X.T @ A,
        derivative=lambda X, A: torch.einsum("in,mj->ijmn", eye_like(X, X.shape[1]), A),
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("n", "k")},
        latex=r"\frac{\partial (X^\top A)_{ij}}{\partial X_{mn}} = \delta_{in} A_{mj} = (J^{nm} A)_{ij}", source=cb(75), section=FIRST,
    ),
    # ---- 2.4.2 second order ----------------------------------------------------------------
    text_rule(
        name="cookbook_76_sum_squared",
        f="sum(X) ** 2", derivative="2 * sum(X) * ones_like(X)",
        wrt="X", inputs={"X": matrix("n", "m")},
        source=cb(76), section=SECOND,
    ),
    text_rule(
        name="cookbook_77_bT_XtX_c",
        f="b @ X.T @ X @ c",
        derivative="X @ (outer(b, c) + outer(c, b))",
        wrt="X", inputs={"X": matrix("n", "m"), "b": vector("m"), "c": vector("m")},
        source=cb(77), section=SECOND,
    ),
    text_rule(
        name="cookbook_78_affine_bilinear",
        f="(B @ x + b) @ C @ (D @ x + d)",
        derivative="B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b)",
        wrt="x", inputs={"x": vector("n"), "B": matrix("k", "n"), "b": vector("k"), "C": matrix("k", "m"),
                         "D": matrix("m", "n"), "d": vector("m")},
        source=cb(78), section=SECOND, conditions="conformable; C need not be square",
    ),
    Rule(
        name="cookbook_79_XtBX_entries",
        f=lambda X, B: X.T @ B @ X, derivative=quad_79,
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n")},
        latex=r"\frac{\partial (X^\top B X)_{kl}}{\partial X_{ij}} = \delta_{lj} (X^\top B)_{ki} + \delta_{kj} (BX)_{il}", source=cb(79), section=SECOND,
    ),
    Rule(
        name="cookbook_80_XtBX_single_entry",
        f=lambda X, B: X.T @ B @ X, derivative=quad_80,
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n")},
        latex=r"\frac{\partial X^\top B X}{\partial X_{ij}} = X^\top B J^{ij} + J^{ji} B X", source=cb(80), section=SECOND,
    ),
    text_rule(
        name="cookbook_81_xT_B_x",
        f="x @ B @ x", derivative="(B + B.T) @ x",
        wrt="x", inputs={"x": vector("n"), "B": matrix("n", "n")},
        source=cb(81), section=SECOND,
    ),
    text_rule(
        name="cookbook_82_bT_XtDX_c",
        f="b @ X.T @ D @ X @ c",
        derivative="D.T @ X @ outer(b, c) + D @ X @ outer(c, b)",
        wrt="X", inputs={"X": matrix("n", "m"), "b": vector("m"), "c": vector("m"), "D": matrix("n", "n")},
        source=cb(82), section=SECOND,
    ),
    text_rule(
        name="cookbook_83_affine_quadratic",
        f="(X @ b + c) @ D @ (X @ b + c)",
        derivative="outer((D + D.T) @ (X @ b + c), b)",
        wrt="X", inputs={"X": matrix("n", "m"), "b": vector("m"), "c": vector("n"), "D": matrix("n", "n")},
        source=cb(83), section=SECOND,
    ),
    text_rule(
        name="cookbook_84_weighted_residual_s",
        f="(x - A @ s) @ W @ (x - A @ s)",
        derivative="-2 * A.T @ W @ (x - A @ s)",
        wrt="s", inputs={"s": vector("m"), "x": vector("n"), "A": matrix("n", "m"), "W": matrix("n", "n", structure="symmetric")},
        source=cb(84), section=SECOND,
        conditions="W symmetric (fails for nonsymmetric W)",
    ),
    text_rule(
        name="cookbook_85_weighted_distance_x",
        f="(x - s) @ W @ (x - s)", derivative="2 * W @ (x - s)",
        wrt="x", inputs={"x": vector("n"), "s": vector("n"), "W": matrix("n", "n", structure="symmetric")},
        source=cb(85), section=SECOND,
        conditions="W symmetric (fails for nonsymmetric W)",
    ),
    text_rule(
        name="cookbook_86_weighted_distance_s",
        f="(x - s) @ W @ (x - s)", derivative="-2 * W @ (x - s)",
        wrt="s", inputs={"s": vector("n"), "x": vector("n"), "W": matrix("n", "n", structure="symmetric")},
        source=cb(86), section=SECOND,
        conditions="W symmetric (fails for nonsymmetric W)",
    ),
    text_rule(
        name="cookbook_87_weighted_residual_x",
        f="(x - A @ s) @ W @ (x - A @ s)",
        derivative="2 * W @ (x - A @ s)",
        wrt="x", inputs={"x": vector("n"), "s": vector("m"), "A": matrix("n", "m"), "W": matrix("n", "n", structure="symmetric")},
        source=cb(87), section=SECOND,
        conditions="W symmetric (fails for nonsymmetric W)",
    ),
    text_rule(
        name="cookbook_88_weighted_residual_A",
        f="(x - A @ s) @ W @ (x - A @ s)",
        derivative="-2 * outer(W @ (x - A @ s), s)",
        wrt="A", inputs={"A": matrix("n", "m"), "x": vector("n"), "s": vector("m"), "W": matrix("n", "n", structure="symmetric")},
        source=cb(88), section=SECOND,
        conditions="W symmetric (fails for nonsymmetric W)",
    ),
    text_rule(
        name="cookbook_89_squared_residual_real",
        f="(a - x @ b) ** 2", derivative="-2 * b * (a - x @ b)",
        wrt="x", inputs={"x": vector("n"), "a": scalar(), "b": vector("n")},
        source=cb(89), section=SECOND,
        conditions="real case; the complex statement holds for |a - x^H b|^2 with d/dRe + i d/dIm (not sampled)",
    ),
    # ---- 2.4.3 higher order ----------------------------------------------------------------
    Rule(
        name="cookbook_90_power_entries",
        f=lambda X: mpow(X, P), derivative=power_sum_90,
        wrt="X", inputs={"X": matrix("n", "n")},
        latex=r"\frac{\partial (X^p)_{kl}}{\partial X_{ij}} = \sum_{r=0}^{p-1} (X^r J^{ij} X^{p-1-r})_{kl}\ (p = 3)", source=cb(90), section=HIGHER,
    ),
    text_rule(
        name="cookbook_91_aT_Xp_b",
        f="a @ matrix_power(X, 3) @ b",
        derivative="outer(a, b) @ matrix_power(X, 2).T + X.T @ outer(a, b) @ X.T + matrix_power(X, 2).T @ outer(a, b)",
        wrt="X", inputs={"X": matrix("n", "n"), "a": vector("n"), "b": vector("n")},
        source=cb(91), section=HIGHER,
    ),
    text_rule(
        name="cookbook_92_corrected",
        f="a @ matrix_power(X, 3).T @ matrix_power(X, 3) @ b",
        derivative="matrix_power(X, 3) @ (outer(a, b) + outer(b, a)) @ matrix_power(X, 2).T + X.T @ matrix_power(X, 3) @ (outer(a, b) + outer(b, a)) @ X.T + matrix_power(X, 2).T @ matrix_power(X, 3) @ (outer(a, b) + outer(b, a))",
        wrt="X", inputs={"X": matrix("n", "n"), "a": vector("n"), "b": vector("n")},
        source=cb("92, corrected"), section=HIGHER,
        conditions="X square; the printed form transposes the first summand (see the erratum)",
    ),
    text_rule(
        name="cookbook_93_bilinear_of_maps",
        f="tanh(Pm @ x) @ A @ (sin(Q @ x) + Q @ (x * x))",
        derivative="(diag(1 - tanh(Pm @ x) ** 2) @ Pm).T @ A @ (sin(Q @ x) + Q @ (x * x)) + (diag(cos(Q @ x)) @ Q + Q @ diag(2 * x)).T @ A.T @ tanh(Pm @ x)",
        wrt="x", inputs={"x": vector("n"), "Pm": matrix("k", "n"), "Q": matrix("m", "n"), "A": matrix("k", "m")},
        source=cb(93), section=HIGHER, conditions="instance s = tanh(Px), r = sin(Qx) + Q(x * x)",
    ),
    text_rule(
        name="cookbook_95_corrected",
        f="(x @ A.T @ A @ x) / (x @ B.T @ B @ x)",
        derivative="2 * A.T @ A @ x / (x @ B.T @ B @ x) - 2 * (x @ A.T @ A @ x) * B.T @ B @ x / (x @ B.T @ B @ x) ** 2",
        wrt="x", inputs={"x": vector("n", nonzero=True), "A": matrix("m", "n"), "B": matrix("n", "n", structure="invertible")},
        source=cb("95, corrected"), section=HIGHER,
        conditions="Bx != 0 (instance: B invertible, x != 0); the printed first denominator x^T B B x is a typo",
    ),
    # ---- 2.4.4 gradient --------------------------------------------------------------------
    text_rule(
        name="cookbook_97_quadratic_plus_linear",
        f="x @ A @ x + b @ x", derivative="(A + A.T) @ x + b",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "n"), "b": vector("n")},
        source=cb(97), section=GRAD,
    ),
)
