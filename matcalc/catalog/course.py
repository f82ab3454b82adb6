"""The deep-learning course: the matrix-calculus and autograd slides, and the course book.

The slides' tables use abstract u(x), v(x); here they are concrete maps with closed-form
derivatives: scalar u = sum(sin(Bx)) (du/dx = cos(Bx)^T B), scalar v = (c^T x)^2
(dv/dx = 2 (c^T x) c^T), vector u = Bx, vector v = sin(Cx) (dv/dx = diag(cos(Cx)) C).
"""

import torch

from matcalc.domains import matrix, scalar, vector
from matcalc.catalog._text import text_rule
from matcalc.rule import Rule

SLIDES = "course slides: matrix calculus"
AUTOGRAD = "course slides: autograd"
BOOK = "course book (d2l 2.4)"
SCALAR_TABLE = "scalar-by-vector table"
VECTOR_TABLE = "vector-by-vector table"
ELEMENTWISE = "scalar derivatives, elementwise"
CHAIN = "chain-rule shapes"


def du(x, B):
    return torch.cos(B @ x) @ B


def dv(x, c):
    return 2 * (c @ x) * c


def u_(x, B):
    return torch.sin(B @ x).sum()


def v_(x, c):
    return (c @ x) ** 2


GROUP = "course"

RULES = (
    # ---- y scalar, x vector: dy/dx is (1, n) --------------------------------------------
    Rule(
        name="course_constant_scalar",
        f=lambda x, a: a * torch.ones((), dtype=x.dtype, device=x.device),
        derivative=lambda x, a: torch.zeros_like(x),
        wrt="x", inputs={"x": vector("n"), "a": scalar()},
        latex=r"\partial a / \partial x = 0^\top", source=SLIDES, section=SCALAR_TABLE,
    ),
    Rule(
        name="course_scaled_scalar",
        f=lambda x, a, B: a * u_(x, B),
        derivative=lambda x, a, B: a * du(x, B),
        wrt="x", inputs={"x": vector("n"), "a": scalar(), "B": matrix("m", "n")},
        latex=r"\partial (a u) / \partial x = a\, \partial u / \partial x,\ u = \mathrm{sum}(\sin Bx)",
        source=SLIDES, section=SCALAR_TABLE,
    ),
    Rule(
        name="course_sum",
        f=lambda x: x.sum(),
        derivative=lambda x: torch.ones_like(x),
        wrt="x", inputs={"x": vector("n")},
        latex=r"\partial\, \mathrm{sum}(x) / \partial x = 1^\top", source=SLIDES, section=SCALAR_TABLE,
    ),
    text_rule(
        name="course_squared_norm",
        f="norm(x) ** 2",
        derivative="2 * x",
        wrt="x", inputs={"x": vector("n")},
        source=SLIDES, section=SCALAR_TABLE,
    ),
    Rule(
        name="course_sum_rule_scalar",
        f=lambda x, B, c: u_(x, B) + v_(x, c),
        derivative=lambda x, B, c: du(x, B) + dv(x, c),
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "c": vector("n")},
        latex=r"\partial (u + v) / \partial x = \partial u/\partial x + \partial v/\partial x",
        source=SLIDES, section=SCALAR_TABLE,
    ),
    Rule(
        name="course_product_rule_scalar",
        f=lambda x, B, c: u_(x, B) * v_(x, c),
        derivative=lambda x, B, c: v_(x, c) * du(x, B) + u_(x, B) * dv(x, c),
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "c": vector("n")},
        latex=r"\partial (uv) / \partial x = v\, \partial u/\partial x + u\, \partial v/\partial x",
        source=SLIDES, section=SCALAR_TABLE,
    ),
    Rule(
        name="course_inner_product_rule",
        f=lambda x, B, C: (B @ x) @ torch.sin(C @ x),
        derivative=lambda x, B, C: (B @ x) @ (torch.cos(C @ x)[:, None] * C) + torch.sin(C @ x) @ B,
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "C": matrix("m", "n")},
        latex=r"\partial \langle u, v\rangle / \partial x = u^\top \partial v/\partial x + v^\top \partial u/\partial x,\ u = Bx,\ v = \sin(Cx)",
        source=SLIDES, section=SCALAR_TABLE,
    ),
    # ---- y vector, x vector: dy/dx is (m, n) --------------------------------------------
    Rule(
        name="course_constant_vector",
        f=lambda x, a: a * 1.0,
        derivative=lambda x, a: torch.zeros(a.shape[0], x.shape[0], dtype=x.dtype, device=x.device),
        wrt="x", inputs={"x": vector("n"), "a": vector("m")},
        latex=r"\partial a / \partial x = 0", source=SLIDES, section=VECTOR_TABLE,
    ),
    Rule(
        name="course_identity",
        f=lambda x: x * 1.0,
        derivative=lambda x: torch.eye(x.shape[0], dtype=x.dtype, device=x.device),
        wrt="x", inputs={"x": vector("n")},
        latex=r"\partial x / \partial x = I", source=SLIDES, section=VECTOR_TABLE,
    ),
    text_rule(
        name="course_row_vector_times_matrix",
        f="x @ A",
        derivative="A.T",
        wrt="x", inputs={"x": vector("n"), "A": matrix("n", "m")},
        source=SLIDES, section=VECTOR_TABLE,
    ),
    Rule(
        name="course_scaled_vector",
        f=lambda x, a, B: a * torch.sin(B @ x),
        derivative=lambda x, a, B: a * torch.cos(B @ x)[:, None] * B,
        wrt="x", inputs={"x": vector("n"), "a": scalar(), "B": matrix("m", "n")},
        latex=r"\partial (a u) / \partial x = a\, \partial u / \partial x,\ u = \sin(Bx)",
        source=SLIDES, section=VECTOR_TABLE,
    ),
    Rule(
        name="course_matrix_times_vector_fn",
        f=lambda x, A, B: A @ torch.sin(B @ x),
        derivative=lambda x, A, B: A @ (torch.cos(B @ x)[:, None] * B),
        wrt="x", inputs={"x": vector("n"), "A": matrix("k", "m"), "B": matrix("m", "n")},
        latex=r"\partial (A u) / \partial x = A\, \partial u / \partial x,\ u = \sin(Bx)",
        source=SLIDES, section=VECTOR_TABLE,
    ),
    Rule(
        name="course_sum_rule_vector",
        f=lambda x, B, C: B @ x + torch.sin(C @ x),
        derivative=lambda x, B, C: B + torch.cos(C @ x)[:, None] * C,
        wrt="x", inputs={"x": vector("n"), "B": matrix("m", "n"), "C": matrix("m", "n")},
        latex=r"\partial (u + v) / \partial x = \partial u/\partial x + \partial v/\partial x,\ u = Bx,\ v = \sin(Cx)",
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
    Rule(
        name="elementwise_abs",
        f=lambda x: torch.abs(x),
        derivative=lambda x: torch.diag(torch.sign(x)),
        wrt="x", inputs={"x": vector("n")},
        latex=r"\partial |x| = \mathrm{sign}(x)\ (x \ne 0)", source=SLIDES, section=ELEMENTWISE,
        conditions="x != 0 entrywise; at 0 the subderivative is [-1, 1] (documented, not sampled)",
    ),
    Rule(
        name="elementwise_relu",
        f=lambda x: torch.relu(x),
        derivative=lambda x: torch.diag((x > 0).to(x.dtype)),
        wrt="x", inputs={"x": vector("n")},
        latex=r"\partial \max(x, 0) = [x > 0]\ (x \ne 0)", source=SLIDES, section=ELEMENTWISE,
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
    Rule(
        name="chain_vector_of_vector",
        f=lambda x, B, C: C @ torch.tanh(B @ x),
        derivative=lambda x, B, C: C @ ((1 - torch.tanh(B @ x) ** 2)[:, None] * B),
        wrt="x", inputs={"x": vector("n"), "B": matrix("k", "n"), "C": matrix("m", "k")},
        latex=r"(m,n) = (m,k)(k,n):\ D(C \tanh(Bx)) = C\, \mathrm{diag}(1 - \tanh^2(Bx))\, B",
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
    Rule(
        name="book_gradient_frobenius",
        f=lambda X: torch.linalg.matrix_norm(X) ** 2,
        derivative=lambda X: 2 * X,
        wrt="X", inputs={"X": matrix("m", "n")}, layout="denominator",
        latex=r"\nabla_X \|X\|_F^2 = 2X", source=BOOK, section="gradients",
    ),
)
