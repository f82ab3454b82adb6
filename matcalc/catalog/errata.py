"""Errata: published or commonly written claims that are wrong, kept so that they are seen to fail.

Each entry says where the claim appears (``source``), what is wrong with it (``flaw``) and which
catalog rule is correct (``correct``). The catalog's tests expect every entry here to fail.
"""

from matcalc.catalog._cite import EDITION, cb
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, vector

SECTION = "errata"
SLIP = "common hand-derivation slip"


GROUP = "errata"

RULES = (
    text_rule(
        name="cookbook_92_printed",
        f="a @ matrix_power(X, 3).T @ matrix_power(X, 3) @ b", derivative="matrix_power(X, 2) @ outer(a, b) @ matrix_power(X, 3).T + matrix_power(X, 3) @ outer(a, b) @ matrix_power(X, 2).T + X @ outer(a, b) @ matrix_power(X, 3).T @ X + X.T @ matrix_power(X, 3) @ outer(a, b) @ X.T + outer(a, b) @ matrix_power(X, 3).T @ matrix_power(X, 2) + matrix_power(X, 2).T @ matrix_power(X, 3) @ outer(a, b)",
        wrt="X", inputs={"X": matrix("n", "n"), "a": vector("n"), "b": vector("n")},
        source=f"{cb(92)}, {EDITION}", section=SECTION, refuted=True,
        flaw="The first summand is printed transposed; wrong already at p = 1. Appendix B.1.3 proves only eq. 90.",
        correct="cookbook_92_corrected",
    ),
    text_rule(
        name="cookbook_95_printed",
        f="(x @ A.T @ A @ x) / (x @ B.T @ B @ x)",
        derivative="2 * A.T @ A @ x / (x @ B @ B @ x) - 2 * (x @ A.T @ A @ x) * B.T @ B @ x / (x @ B.T @ B @ x) ** 2",
        wrt="x", inputs={"x": vector("n", nonzero=True), "A": matrix("m", "n"), "B": matrix("n", "n", structure="invertible")},
        source=f"{cb(95)}, {EDITION}", section=SECTION, refuted=True,
        flaw="The first denominator is printed x^T B B x; it must be x^T B^T B x (right only for symmetric B).",
        correct="cookbook_95_corrected",
    ),
    text_rule(
        name="cookbook_127_printed_nonsymmetric_A",
        f="tr(inv(S + (K - K.T) / 2 + X.T @ C @ X) @ (X.T @ B @ X))",
        derivative="-2 * C @ X @ inv(S + (K - K.T) / 2 + X.T @ C @ X) @ X.T @ B @ X @ inv(S + (K - K.T) / 2 + X.T @ C @ X) + 2 * B @ X @ inv(S + (K - K.T) / 2 + X.T @ C @ X)",  # the printed formula
        wrt="X", inputs={"X": matrix("n", "m"), "S": matrix("m", "m", structure="spd"), "K": matrix("m", "m"),
                         "B": matrix("n", "n", structure="symmetric"), "C": matrix("n", "n", structure="spd")},
        source=f"{cb(127)}, {EDITION}", section=SECTION, refuted=True,
        flaw="States only B and C symmetric; the formula also needs A symmetric (relative error ~0.1 for a nonsymmetric A).",
        correct="cookbook_127_general",
    ),
    text_rule(
        name="cookbook_139_as_frobenius_gradient",
        f="tr(A @ X)",
        derivative="sum((A + A.T - A * I) * dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="symmetric"), "A": matrix("n", "n")},
        source=f"{cb(139)} read as a gradient on Sym(n); Srinivasan & Panda, arXiv 1911.06491",
        section=SECTION, refuted=True,
        flaw="G + G^T - dg(G) lists per-free-parameter partials; used as a Frobenius gradient it doubles the off-diagonal terms. The gradient on Sym(n) is (G + G^T)/2.",
        correct="sym_frobenius_gradient_trace",
    ),
    text_rule(
        name="cookbook_141_as_frobenius_gradient",
        f="logdet(X)",
        derivative="sum((2 * inv(X) - inv(X) * I) * dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="spd")},
        source=f"{cb(141)} read as a gradient on Sym(n); Srinivasan & Panda, arXiv 1911.06491",
        section=SECTION, refuted=True,
        flaw="Per-free-parameter partials used as a Frobenius gradient; the gradient on Sym(n) is X^{-1}.",
        correct="sym_frobenius_gradient_logdet",
    ),
    text_rule(
        name="slip_quadratic_form_2Ax",
        f="x @ A @ x", derivative="2 * A @ x",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="True only for symmetric A; in general the gradient is (A + A^T)x.",
        correct="quadratic_form",
    ),
    text_rule(
        name="slip_trace_AX_is_A",
        f="tr(A @ X)", derivative="A",
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="A transpose is missing: the derivative is A^T (Cookbook 100, since Tr(AX) = Tr(XA)).",
        correct="cookbook_100_trace_XA",
    ),
    text_rule(
        name="slip_det_gradient_no_transpose",
        f="det(X)", derivative="det(X) * inv(X)",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="A transpose is missing: the derivative is det(X) X^{-T} (Cookbook 49); equal only for symmetric X.",
        correct="cookbook_49_det",
    ),
    text_rule(
        name="slip_Ax_jacobian_transposed",
        f="A @ x", derivative="A.T",
        wrt="x", inputs={"x": vector("n"), "A": matrix("m", "n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="A layout mix-up: A^T is the gradient (denominator layout); the Jacobian D(Ax) is A.",
        correct="linear_map",
    ),
    text_rule(
        name="slip_norm_gradient_squared",
        f="norm(x)", derivative="x / (x @ x)",
        wrt="x", inputs={"x": vector("n", nonzero=True)},
        source=SLIP, section=SECTION, refuted=True,
        flaw="Divides by the squared norm; the gradient is x / ||x||.",
        correct="norm_gradient",
    ),
    text_rule(
        name="slip_least_squares_gradient_untransposed",
        f="sum((X @ w - y) ** 2)", derivative="2 * X @ (X @ w - y)",
        wrt="w", inputs={"w": vector("n"), "X": matrix("n", "n"), "y": vector("n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="X must be transposed: 2X^T(Xw - y); the slip survives a shape check only for square X.",
        correct="autograd_example_least_squares",
    ),
    text_rule(
        name="slip_hessian_quadratic_2A",
        f="x @ A @ x", derivative="2 * A",
        wrt="x", kind="hessian", inputs={"x": vector("n"), "A": matrix("n", "n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="True only for symmetric A; the Hessian is A + A^T.",
        correct="hessian_quadratic_form",
    ),
    text_rule(
        name="slip_softmax_jacobian_diagonal",
        f="softmax(x)", derivative="diag(softmax(x) * (1 - softmax(x)))",
        wrt="x", inputs={"x": vector("n")},
        source=SLIP, section=SECTION, refuted=True,
        flaw="Drops the off-diagonal terms -p_i p_j: the Jacobian is diag(p) - p p^T (the Hessian of logsumexp).",
        correct="hessian_logsumexp",
    ),
)
