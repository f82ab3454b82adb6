"""Matrix Cookbook 2.5-2.7: traces (99u-128), vector norms (129-131), matrix norms (132)."""

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import sincos, tr
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, vector
from matcalc.model.rule import Rule

GENERAL, FIRST, SECOND, HIGHER, OTHER = (
    "2.5 trace, general", "2.5.1 trace, first order", "2.5.2 trace, second order",
    "2.5.3 trace, higher order", "2.5.4 trace, other")
VNORM, MNORM = "2.6 vector norms", "2.7 matrix norms"
K = 4  # the power k in 121 and 122



GROUP = "Matrix Cookbook"

RULES = (
    text_rule(
        name="cookbook_99u_trace_matrix_function",
        f="tr(expm(X))", derivative="expm(X).T",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb("2.5, unnumbered"), section=GENERAL,
        conditions="F an analytic matrix function (power series), not applied elementwise",
    ),
    text_rule(
        name="cookbook_99_trace",
        f="tr(X)", derivative="I",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(99), section=FIRST,
    ),
    text_rule(
        name="cookbook_100_trace_XA",
        f="tr(X @ A)", derivative="A.T",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("m", "n")},
        source=cb(100), section=FIRST,
    ),
    text_rule(
        name="cookbook_101_trace_AXB",
        f="tr(A @ X @ B)", derivative="A.T @ B.T",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("k", "n"), "B": matrix("m", "k")},
        source=cb(101), section=FIRST,
    ),
    text_rule(
        name="cookbook_102_trace_AXtB",
        f="tr(A @ X.T @ B)", derivative="B @ A",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("k", "m"), "B": matrix("n", "k")},
        source=cb(102), section=FIRST,
    ),
    text_rule(
        name="cookbook_103_trace_XtA",
        f="tr(X.T @ A)", derivative="A",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("n", "m")},
        source=cb(103), section=FIRST,
    ),
    text_rule(
        name="cookbook_104_trace_AXt",
        f="tr(A @ X.T)", derivative="A",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("n", "m")},
        source=cb(104), section=FIRST,
    ),
    text_rule(
        name="cookbook_105_trace_kron",
        f="tr(kron(A, X))", derivative="tr(A) * I",
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("m", "m")},
        source=cb(105), section=FIRST,
    ),
    text_rule(
        name="cookbook_106_trace_X2",
        f="tr(X @ X)", derivative="2 * X.T",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(106), section=SECOND,
    ),
    text_rule(
        name="cookbook_107_trace_X2B",
        f="tr(X @ X @ B)", derivative="(X @ B + B @ X).T",
        wrt="X", inputs={"X": matrix("n", "n"), "B": matrix("n", "n")},
        source=cb(107), section=SECOND,
    ),
    text_rule(
        name="cookbook_108_trace_XtBX",
        f="tr(X.T @ B @ X)", derivative="B @ X + B.T @ X",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n")},
        source=cb(108), section=SECOND,
    ),
    text_rule(
        name="cookbook_109_trace_BXXt",
        f="tr(B @ X @ X.T)", derivative="B @ X + B.T @ X",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n")},
        source=cb(109), section=SECOND,
    ),
    text_rule(
        name="cookbook_110_trace_XXtB",
        f="tr(X @ X.T @ B)", derivative="B @ X + B.T @ X",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n")},
        source=cb(110), section=SECOND,
    ),
    text_rule(
        name="cookbook_111_trace_XBXt",
        f="tr(X @ B @ X.T)", derivative="X @ B.T + X @ B",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("m", "m")},
        source=cb(111), section=SECOND,
    ),
    text_rule(
        name="cookbook_112_trace_BXtX",
        f="tr(B @ X.T @ X)", derivative="X @ B.T + X @ B",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("m", "m")},
        source=cb(112), section=SECOND,
    ),
    text_rule(
        name="cookbook_113_trace_XtXB",
        f="tr(X.T @ X @ B)", derivative="X @ B.T + X @ B",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("m", "m")},
        source=cb(113), section=SECOND,
    ),
    text_rule(
        name="cookbook_114_trace_AXBX",
        f="tr(A @ X @ B @ X)", derivative="A.T @ X.T @ B.T + B.T @ X.T @ A.T",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("m", "n"), "B": matrix("m", "n")},
        source=cb(114), section=SECOND,
    ),
    text_rule(
        name="cookbook_115_trace_XtX",
        f="tr(X.T @ X)", derivative="2 * X",
        wrt="X", inputs={"X": matrix("n", "m")},
        source=cb(115), section=SECOND,
    ),
    text_rule(
        name="cookbook_115_trace_XXt",
        f="tr(X @ X.T)", derivative="2 * X",
        wrt="X", inputs={"X": matrix("n", "m")},
        source=cb(115), section=SECOND,
    ),
    text_rule(
        name="cookbook_116_trace_BtXtCXB",
        f="tr(B.T @ X.T @ C @ X @ B)",
        derivative="C.T @ X @ B @ B.T + C @ X @ B @ B.T",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("m", "k"), "C": matrix("n", "n")},
        source=cb(116), section=SECOND,
        conditions="C need not be symmetric",
    ),
    text_rule(
        name="cookbook_117_trace_XtBXC",
        f="tr(X.T @ B @ X @ C)", derivative="B @ X @ C + B.T @ X @ C.T",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("n", "n"), "C": matrix("m", "m")},
        source=cb(117), section=SECOND,
    ),
    text_rule(
        name="cookbook_118_trace_AXBXtC",
        f="tr(A @ X @ B @ X.T @ C)",
        derivative="A.T @ C.T @ X @ B.T + C @ A @ X @ B",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("k", "n"), "B": matrix("m", "m"), "C": matrix("n", "k")},
        source=cb(118), section=SECOND,
    ),
    text_rule(
        name="cookbook_119_trace_affine_square",
        f="tr((A @ X @ B + C) @ (A @ X @ B + C).T)",
        derivative="2 * A.T @ (A @ X @ B + C) @ B.T",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("k", "n"), "B": matrix("m", "r"), "C": matrix("k", "r")},
        source=cb(119), section=SECOND,
    ),
    text_rule(
        name="cookbook_120_trace_kron_XX",
        f="tr(kron(X, X))", derivative="2 * tr(X) * I",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(120), section=SECOND,
    ),
    text_rule(
        name="cookbook_120_trace_squared",
        f="tr(X) * tr(X)", derivative="2 * tr(X) * I",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(120), section=SECOND,
    ),
    text_rule(
        name="cookbook_121_trace_power",
        f="tr(matrix_power(X, 4))", derivative="4 * matrix_power(X, 3).T",
        wrt="X", inputs={"X": matrix("n", "n")},
        source=cb(121), section=HIGHER,
    ),
    text_rule(
        name="cookbook_122_trace_A_power",
        f="tr(A @ matrix_power(X, 4))",
        derivative="(A @ matrix_power(X, 3)).T + (X @ A @ matrix_power(X, 2)).T + (matrix_power(X, 2) @ A @ X).T + (matrix_power(X, 3) @ A).T",
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        source=cb(122), section=HIGHER,
    ),
    text_rule(
        name="cookbook_123_trace_quartic",
        f="tr(B.T @ X.T @ C @ X @ X.T @ C @ X @ B)",
        derivative="C @ X @ X.T @ C @ X @ B @ B.T + C.T @ X @ B @ B.T @ X.T @ C.T @ X + C @ X @ B @ B.T @ X.T @ C @ X + C.T @ X @ X.T @ C.T @ X @ B @ B.T",
        wrt="X", inputs={"X": matrix("n", "m"), "B": matrix("m", "k"), "C": matrix("n", "n")},
        source=cb(123), section=HIGHER, conditions="C need not be symmetric",
    ),
    text_rule(
        name="cookbook_124_trace_A_inv_B",
        f="tr(A @ inv(X) @ B)",
        derivative="-inv(X).T @ A.T @ B.T @ inv(X).T",
        wrt="X", inputs={"X": matrix("n", "n", structure="invertible"), "A": matrix("m", "n"), "B": matrix("n", "m")},
        source=cb(124), section=OTHER,
        conditions="X invertible",
    ),
    text_rule(
        name="cookbook_125_trace_inv_XtCX_A",
        f="tr(inv(X.T @ C @ X) @ A)", derivative="-C @ X @ inv(X.T @ C @ X) @ (A + A.T) @ inv(X.T @ C @ X)",
        wrt="X", inputs={"X": matrix("n", "m", structure="full_column_rank"), "A": matrix("m", "m"), "C": matrix("n", "n", structure="spd")},
        source=cb(125), section=OTHER, conditions="C symmetric (fails otherwise), X^T C X invertible; A arbitrary",
    ),
    text_rule(
        name="cookbook_126_trace_inv_XtCX_XtBX",
        f="tr(inv(X.T @ C @ X) @ (X.T @ B @ X))", derivative="-2 * C @ X @ inv(X.T @ C @ X) @ X.T @ B @ X @ inv(X.T @ C @ X) + 2 * B @ X @ inv(X.T @ C @ X)",
        wrt="X", inputs={"X": matrix("n", "m", structure="full_column_rank"), "B": matrix("n", "n", structure="symmetric"),
                         "C": matrix("n", "n", structure="spd")},
        source=cb(126), section=OTHER, conditions="B and C symmetric (each is needed), X^T C X invertible",
    ),
    text_rule(
        name="cookbook_127_symmetric_A",
        f="tr(inv(A + X.T @ C @ X) @ (X.T @ B @ X))", derivative="-2 * C @ X @ inv(A + X.T @ C @ X) @ X.T @ B @ X @ inv(A + X.T @ C @ X) + 2 * B @ X @ inv(A + X.T @ C @ X)",
        wrt="X", inputs={"X": matrix("n", "m"), "A": matrix("m", "m", structure="spd"),
                         "B": matrix("n", "n", structure="symmetric"), "C": matrix("n", "n", structure="spd")},
        source=cb("127, with A symmetric"), section=OTHER,
        conditions="A, B, C symmetric (A symmetric is missing in the Cookbook), A + X^T C X invertible",
    ),
    text_rule(
        name="cookbook_127_general",
        f="tr(inv(S + (K - K.T) / 2 + X.T @ C @ X) @ (X.T @ B @ X))",
        derivative="-C @ X @ (inv(S + (K - K.T) / 2 + X.T @ C @ X) @ (X.T @ B @ X) @ inv(S + (K - K.T) / 2 + X.T @ C @ X) + inv(S + (K - K.T) / 2 + X.T @ C @ X).T @ (X.T @ B @ X) @ inv(S + (K - K.T) / 2 + X.T @ C @ X).T) + B @ X @ (inv(S + (K - K.T) / 2 + X.T @ C @ X) + inv(S + (K - K.T) / 2 + X.T @ C @ X).T)",
        wrt="X", inputs={"X": matrix("n", "m"), "S": matrix("m", "m", structure="spd"), "K": matrix("m", "m"),
                         "B": matrix("n", "n", structure="symmetric"), "C": matrix("n", "n", structure="spd")},
        source=cb("127, general A"), section=OTHER,
        conditions="B, C symmetric; A any square (instance S + skew(K)); K invertible",
    ),
    Rule(
        name="cookbook_128_trace_sin",
        f=lambda X: tr(sincos(X)[0]), derivative=lambda X: sincos(X)[1].T,
        wrt="X", inputs={"X": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(\sin X)}{\partial X} = \cos(X)^\top", source=cb(128), section=OTHER,
        conditions="matrix sin and cos (power series), not elementwise",
    ),
    # ---- 2.6 vector norms, 2.7 matrix norms ----------------------------------------------
    text_rule(
        name="cookbook_129_distance",
        f="norm(x - a)", derivative="(x - a) / norm(x - a)",
        wrt="x", inputs={"a": vector("n"), "x": vector("n", distinct_from="a")},
        source=cb(129), section=VNORM,
        conditions="x != a",
    ),
    text_rule(
        name="cookbook_130_unit_direction",
        f="(x - a) / norm(x - a)",
        derivative="I / norm(x - a) - outer(x - a, x - a) / norm(x - a) ** 3",
        wrt="x", inputs={"a": vector("n"), "x": vector("n", distinct_from="a")},
        source=cb(130), section=VNORM, conditions="x != a",
    ),
    text_rule(
        name="cookbook_131_squared_norm",
        f="norm(x) ** 2", derivative="2 * x",
        wrt="x", inputs={"x": vector("n")},
        source=cb(131), section=VNORM,
    ),
    text_rule(
        name="cookbook_131_norm_of_xTx",
        f="norm(x @ x)", derivative="2 * x",
        wrt="x", inputs={"x": vector("n", nonzero=True)},
        source=cb(131), section=VNORM,
        conditions="x != 0 (the norm of the scalar x^T x is |x^T x|)",
    ),
    text_rule(
        name="cookbook_132_frobenius",
        f="norm(X) ** 2", derivative="2 * X",
        wrt="X", inputs={"X": matrix("n", "m")},
        source=cb(132), section=MNORM,
    ),
    text_rule(
        name="cookbook_132_trace_XXH",
        f="tr(X @ X.mH)", derivative="2 * X",
        wrt="X", inputs={"X": matrix("n", "m")},
        source=cb(132), section=MNORM,
        conditions="real X (the complex case holds under torch's conjugate-gradient convention, not sampled)",
    ),
)
