"""The seed identities: the d2l lecture note on derivatives, partial derivatives and gradients."""

import torch

from matcalc.domains import matrix, scalar, vector
from matcalc.fast import quadratic_gradient
from matcalc.rule import Rule

SEED = "seed (d2l lecture: derivatives and gradients)"

GROUP = "seed"

RULES = (
    Rule(
        name="linear_map",
        f=lambda x, A: A @ x,
        derivative=lambda x, A: A,
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("m", "n")},
        latex=r"D(Ax) = A \in \mathbb{R}^{m \times n}",
        source=SEED, section="seed",
        jvp=lambda v, x, A: A @ v,
        vjp=lambda u, x, A: u @ A,
    ),
    Rule(
        name="quadratic_form",
        f=lambda x, A: x @ A @ x,
        derivative=lambda x, A: x @ (A.T + A),
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("n", "n")},
        latex=r"D(x^\top A x) = x^\top (A^\top + A)",
        source=SEED, section="seed", conditions="A square, not necessarily symmetric",
        jvp=lambda v, x, A: v @ (A @ x) + x @ (A @ v),
        vjp=lambda u, x, A: u * (x @ A + A @ x),
        fast=lambda x, A: quadratic_gradient(x, A),
    ),
    Rule(
        name="squared_norm_gradient",
        f=lambda x: x @ x,
        derivative=lambda x: 2 * x,
        wrt="x",
        inputs={"x": vector("n")},
        latex=r"\nabla_x \|x\|^2 = \nabla_x x^\top x = 2x",
        source=SEED, section="seed", layout="denominator",
    ),
    Rule(
        name="norm_gradient",
        f=lambda x: torch.linalg.vector_norm(x),
        derivative=lambda x: x / torch.linalg.vector_norm(x),
        wrt="x",
        inputs={"x": vector("n", nonzero=True)},
        latex=r"\nabla_x \|x\|_2 = x / \|x\|_2",
        source=SEED, section="seed", layout="denominator", conditions="x != 0",
        jvp=lambda v, x: (x @ v) / torch.linalg.vector_norm(x),
        vjp=lambda u, x: u * x / torch.linalg.vector_norm(x),
    ),
    Rule(
        name="norm_gradient_via_chain",
        f=lambda x: torch.sqrt(x @ x),
        derivative=lambda x: (1 / (2 * torch.sqrt(x @ x))) * 2 * x,
        wrt="x",
        inputs={"x": vector("n", nonzero=True)},
        latex=r"y = \|x\|^2,\ f = \sqrt{y}:\ \nabla f = \tfrac{1}{2\sqrt{y}} \cdot 2x",
        source=SEED + " exercise", section="seed", layout="denominator", conditions="x != 0",
    ),
    Rule(
        name="exercise_3x1sq_5exp",
        f=lambda x: 3 * x[0] ** 2 + 5 * torch.exp(x[1]),
        derivative=lambda x: torch.stack([6 * x[0], 5 * torch.exp(x[1])]),
        wrt="x",
        inputs={"x": vector(2)},
        latex=r"\nabla (3x_1^2 + 5e^{x_2}) = [6x_1, 5e^{x_2}]",
        source=SEED + " exercise", section="seed", layout="denominator",
    ),
    Rule(
        name="gradient_is_jacobian_transpose",
        f=lambda x, A: A @ x,
        derivative=lambda x, A: A.T,
        wrt="x",
        inputs={"x": vector("n"), "A": matrix("m", "n")},
        latex=r"\nabla_x (Ax) = (D(Ax))^\top = A^\top",
        source=SEED, section="seed", layout="denominator",
        conditions="gradient (denominator) layout: nabla f = Df^T",
    ),
    Rule(
        name="slides_quadratic_example",
        f=lambda x: x[0] ** 2 + 2 * x[1] ** 2,
        derivative=lambda x: torch.stack([2 * x[0], 4 * x[1]]),
        wrt="x",
        inputs={"x": vector(2)},
        latex=r"\partial (x_1^2 + 2x_2^2) / \partial x = [2x_1, 4x_2]",
        source="course slides: matrix calculus (p. 5)", section="seed",
    ),
    Rule(
        name="autograd_example_inner",
        f=lambda x, w, y: (x @ w - y) ** 2,
        derivative=lambda x, w, y: 2 * (x @ w - y) * x,
        wrt="w",
        inputs={"x": vector("n"), "w": vector("n"), "y": scalar()},
        latex=r"z = (\langle x, w\rangle - y)^2:\ \partial z / \partial w = 2(\langle x,w\rangle - y) x^\top",
        source="course slides: autograd (example 1)", section="seed",
    ),
    Rule(
        name="autograd_example_least_squares",
        f=lambda X, w, y: torch.sum((X @ w - y) ** 2),
        derivative=lambda X, w, y: 2 * (X @ w - y) @ X,
        wrt="w",
        inputs={"X": matrix("m", "n"), "w": vector("n"), "y": vector("m")},
        latex=r"z = \|Xw - y\|^2:\ \partial z / \partial w = 2(Xw - y)^\top X",
        source="course slides: autograd (example 2)", section="seed",
        conditions="X in R^{m x n}, m != n in the tests",
    ),
)
