"""The deep-learning course: the matrix-calculus and autograd slides, and the course book.

The slides' tables use abstract u(x), v(x); here they are concrete maps with closed-form
derivatives: scalar u = sum(sin(Bx)) (du/dx = cos(Bx)^T B), scalar v = (c^T x)^2
(dv/dx = 2 (c^T x) c^T), vector u = Bx, vector v = sin(Cx) (dv/dx = diag(cos(Cx)) C).
"""

from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, scalar, vector

SLIDES = "course slides: matrix calculus"
AUTOGRAD = "course slides: autograd"
BOOK = "course book (d2l 2.4)"
SCALAR_TABLE = "scalar-by-vector table"
VECTOR_TABLE = "vector-by-vector table"
ELEMENTWISE = "scalar derivatives, elementwise"
CHAIN = "chain-rule shapes"


GROUP = "course"

RULES = (
    # ---- y scalar, x vector: dy/dx is (1, n) --------------------------------------------
    text_rule(
        name="course_constant_scalar",
        f="a",
        derivative="zeros_like(x)",
        wrt="x", inputs={"x": vector("n"), "a": scalar()},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_scaled_scalar",
        f="a * sum(sin(B @ x))",
        derivative="a * cos(B @ x) @ B",
        wrt="x", inputs={"x": vector("n"), "a": scalar(), "B": matrix("m", "n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_sum",
        f="sum(x)",
        derivative="ones_like(x)",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_squared_norm",
        f="norm(x) ** 2",
        derivative="2 * x",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_sum_rule_scalar",
        f="sum(sin(B @ x)) + (c @ x) ** 2",
        derivative="cos(B @ x) @ B + 2 * (c @ x) * c",
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "c": vector("n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_product_rule_scalar",
        f="sum(sin(B @ x)) * (c @ x) ** 2",
        derivative="(c @ x) ** 2 * cos(B @ x) @ B + sum(sin(B @ x)) * 2 * (c @ x) * c",
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "c": vector("n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_inner_product_rule",
        f="(B @ x) @ sin(C @ x)",
        derivative="(B @ x) @ (diag(cos(C @ x)) @ C) + sin(C @ x) @ B",
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "C": matrix("m", "n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    # ---- y vector, x vector: dy/dx is (m, n) --------------------------------------------
    text_rule(
        name="course_constant_vector",
        f="a",
        derivative="zeros_like(outer(a, x))",
        wrt="x", inputs={"x": vector("n"), "a": vector("m")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_identity",
        f="x",
        derivative="I",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_row_vector_times_matrix",
        f="x @ A",
        derivative="A.T",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "m")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_scaled_vector",
        f="a * sin(B @ x)",
        derivative="a * diag(cos(B @ x)) @ B",
        wrt="x", inputs={"x": vector("n"), "a": scalar(), "B": matrix("m", "n")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_matrix_times_vector_fn",
        f="A @ sin(B @ x)",
        derivative="A @ (diag(cos(B @ x)) @ B)",
        wrt="x", inputs={"x": vector("n"), "A": matrix("k", "m"), "B": matrix("m", "n")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_sum_rule_vector",
        f="B @ x + sin(C @ x)",
        derivative="B + diag(cos(C @ x)) @ C",
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "C": matrix("m", "n")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    # ---- scalar derivatives, applied elementwise (diagonal Jacobians) ---------------------
    text_rule(
        name="elementwise_power",
        f="x**3",
        derivative="diag(3 * x**2)",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=ELEMENTWISE,
    ),
    text_rule(
        name="elementwise_exp",
        f="exp(x)",
        derivative="diag(exp(x))",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=ELEMENTWISE,
    ),
    text_rule(
        name="elementwise_log",
        f="log(x)",
        derivative="diag(1 / x)",
        wrt="x", inputs={"x": vector("n", positive=True)},
        source=SLIDES, section=ELEMENTWISE, conditions="x > 0",
    ),
    text_rule(
        name="elementwise_sin",
        f="sin(x)",
        derivative="diag(cos(x))",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=ELEMENTWISE,
    ),
    text_rule(
        name="elementwise_abs",
        f="abs(x)",
        derivative="diag(sign(x))",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=ELEMENTWISE,
        conditions="x != 0 entrywise; at 0 the subderivative is [-1, 1] (documented, not sampled)",
    ),
    text_rule(
        name="elementwise_relu",
        f="relu(x)",
        derivative="diag((sign(x) + 1) / 2)",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=ELEMENTWISE,
        conditions="x != 0 entrywise; at 0 the subderivative is [0, 1] (documented, not sampled)",
    ),
    # ---- chain-rule shapes ---------------------------------------------------------------
    text_rule(
        name="chain_scalar_of_scalar",
        f="sin(b @ x)",
        derivative="cos(b @ x) * b",
        wrt="x", inputs={"x": vector("n"), "b": vector("n")},
        source=AUTOGRAD, section=CHAIN,
    ),
    text_rule(
        name="chain_scalar_of_vector",
        f="sum((B @ x) ** 2)",
        derivative="2 * (B @ x) @ B",
        wrt="x", inputs={"x": vector("n"), "B": matrix("k", "n")},
        source=AUTOGRAD, section=CHAIN,
    ),
    text_rule(
        name="chain_vector_of_vector",
        f="C @ tanh(B @ x)",
        derivative="C @ (diag(1 - tanh(B @ x) ** 2) @ B)",
        wrt="x", inputs={"x": vector("n"), "B": matrix("k", "n"), "C": matrix("m", "k")},
        source=AUTOGRAD, section=CHAIN,
    ),
    # ---- the course book, in gradient (denominator) layout -------------------------------
    text_rule(
        name="book_gradient_xT_A",
        f="x @ A",
        derivative="A",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "m")}, layout="denominator",
        source=BOOK, section="gradients",
    ),
    text_rule(
        name="book_gradient_quadratic",
        f="x @ A @ x",
        derivative="(A + A.T) @ x",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "n")}, layout="denominator",
        source=BOOK, section="gradients",
    ),
    text_rule(
        name="book_gradient_frobenius",
        f="norm(X) ** 2",
        derivative="2 * X",
        wrt="X", inputs={"X": matrix("m", "n")}, layout="denominator",
        source=BOOK, section="gradients",
    ),
)
