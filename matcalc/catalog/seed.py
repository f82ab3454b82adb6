"""The seed identities: the d2l lecture note on derivatives, partial derivatives and gradients."""

import torch

from matcalc.catalog._text import text_rule
from matcalc.fast.forms import quadratic_gradient
from matcalc.model.domains import matrix, scalar, vector

SEED = "seed (d2l lecture: derivatives and gradients)"

GROUP = "seed"

RULES = (
    text_rule(
        name="linear_map",
        f="A @ x",
        derivative="A",
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("m", "n")},
        source=SEED, section="seed",
        jvp=lambda v, x, A: A @ v,
        vjp=lambda u, x, A: u @ A,
    ),
    text_rule(
        name="quadratic_form",
        f="x @ A @ x",
        derivative="x @ (A.T + A)",
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("n", "n")},
        source=SEED, section="seed", conditions="A square, not necessarily symmetric",
        jvp=lambda v, x, A: v @ (A @ x) + x @ (A @ v),
        vjp=lambda u, x, A: u * (x @ A + A @ x),
        fast=lambda x, A: quadratic_gradient(x, A),
    ),
    text_rule(
        name="squared_norm_gradient",
        f="x @ x",
        derivative="2 * x",
        wrt="x",
        inputs={"x": vector("n")},
        source=SEED, section="seed", layout="denominator",
    ),
    text_rule(
        name="norm_gradient",
        f="norm(x)",
        derivative="x / norm(x)",
        wrt="x",
        inputs={"x": vector("n", nonzero=True)},
        source=SEED, section="seed", layout="denominator", conditions="x != 0",
        jvp=lambda v, x: (x @ v) / torch.linalg.vector_norm(x),
        vjp=lambda u, x: u * x / torch.linalg.vector_norm(x),
    ),
    text_rule(
        name="norm_gradient_via_chain",
        f="sqrt(x @ x)",
        derivative="(1 / (2 * sqrt(x @ x))) * 2 * x",
        wrt="x",
        inputs={"x": vector("n", nonzero=True)},
        source=SEED + " exercise", section="seed", layout="denominator", conditions="x != 0",
    ),
    text_rule(
        name="exercise_3x1sq_5exp",
        f="3 * x[0] ** 2 + 5 * exp(x[1])",
        derivative="stack([6 * x[0], 5 * exp(x[1])])",
        wrt="x",
        inputs={"x": vector(2)},
        source=SEED + " exercise", section="seed", layout="denominator",
    ),
    text_rule(
        name="gradient_is_jacobian_transpose",
        f="A @ x",
        derivative="A.T",
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("m", "n")},
        source=SEED, section="seed", layout="denominator",
        conditions="gradient (denominator) layout: nabla f = Df^T",
    ),
    text_rule(
        name="slides_quadratic_example",
        f="x[0] ** 2 + 2 * x[1] ** 2",
        derivative="stack([2 * x[0], 4 * x[1]])",
        wrt="x",
        inputs={"x": vector(2)},
        source="course slides: matrix calculus (p. 5)", section="seed",
    ),
    text_rule(
        name="autograd_example_inner",
        f="(x @ w - y) ** 2",
        derivative="2 * (x @ w - y) * x",
        wrt="w",
        inputs={"x": vector("n"), "w": vector("n"), "y": scalar()},
        source="course slides: autograd (example 1)", section="seed",
    ),
    text_rule(
        name="autograd_example_least_squares",
        f="sum((X @ w - y) ** 2)",
        derivative="2 * (X @ w - y) @ X",
        wrt="w",
        inputs={"X": matrix("m", "n"), "w": vector("n"), "y": vector("m")},
        source="course slides: autograd (example 2)", section="seed",
        conditions="X in R^{m x n}, m != n in the tests",
    ),
)
