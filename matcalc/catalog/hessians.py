"""Second derivatives, checked against torch.autograd.functional.hessian (kind="hessian").

Each ``derivative`` returns the Hessian with shape wrt.shape + wrt.shape; ``fast`` is a cheaper
implementation where one exists (timed in bench/, verified against ``derivative`` in tests).
"""

import torch

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import inv
from matcalc.catalog._text import text_rule
from matcalc.catalog.cookbook_derivatives import Y_INPUTS
from matcalc.fast.forms import logsumexp_hessian, norm_hessian, symmetric_sum
from matcalc.model.domains import matrix, vector
from matcalc.model.rule import Rule

SECTION = "Hessians"


GROUP = "Hessians"

RULES = (
    text_rule(
        name="hessian_quadratic_form",
        f="x @ A @ x", derivative="A + A.T", fast=lambda x, A: symmetric_sum(A),
        wrt="x", kind="hessian", inputs={"x": vector("n"), "A": matrix("n", "n")},
        source=f"course book / {cb(98)}", section=SECTION,
    ),
    text_rule(
        name="cookbook_98_hessian",
        f="x @ A @ x + b @ x", derivative="A + A.T",
        wrt="x", kind="hessian", inputs={"x": vector("n"), "A": matrix("n", "n"), "b": vector("n")},
        source=cb(98), section=SECTION,
    ),
    text_rule(
        name="hessian_norm",
        f="norm(x)",
        derivative="(I - outer(x / norm(x), x / norm(x))) / norm(x)",
        fast=norm_hessian,
        wrt="x", kind="hessian", inputs={"x": vector("n", nonzero=True)},
        source="standard (gradient of x/||x||)", section=SECTION,
        conditions="x != 0",
    ),
    text_rule(
        name="hessian_logsumexp",
        f="logsumexp(x)", derivative="diag(softmax(x)) - outer(softmax(x), softmax(x))", fast=logsumexp_hessian,
        wrt="x", kind="hessian", inputs={"x": vector("n")},
        source="standard (Boyd & Vandenberghe 3.1.5)", section=SECTION,
    ),
    text_rule(
        name="hessian_least_squares",
        f="sum((X @ w - y) ** 2)", derivative="2 * X.T @ X",
        wrt="w", kind="hessian", inputs={"w": vector("n"), "X": matrix("m", "n"), "y": vector("m")},
        source="course slides: autograd (example 2)", section=SECTION,
    ),
    text_rule(
        name="hessian_logistic_loss",
        f="sum(softplus(X @ w))", derivative="X.T @ diag(sigmoid(X @ w) * (1 - sigmoid(X @ w))) @ X",
        wrt="w", kind="hessian", inputs={"w": vector("n"), "X": matrix("m", "n")},
        source="standard (logistic regression)", section=SECTION,
    ),
    text_rule(
        name="hessian_log_barrier",
        f="-sum(log(x))", derivative="diag(1 / x ** 2)",
        wrt="x", kind="hessian", inputs={"x": vector("n", positive=True)},
        source="standard (log barrier)", section=SECTION,
        conditions="x > 0",
    ),
    Rule(
        name="hessian_logdet",
        f=lambda X: torch.logdet(X),
        derivative=lambda X: -torch.einsum("jk,li->ijkl", inv(X), inv(X)),
        wrt="X", kind="hessian", inputs={"X": matrix("n", "n", structure="spd")},
        latex=r"\frac{\partial^2 \ln\det X}{\partial X_{ij} \partial X_{kl}} = -(X^{-1})_{jk} (X^{-1})_{li}", source="standard (differentiating Cookbook 57)", section=SECTION,
        conditions="det X > 0 (instance spd)",
    ),
    text_rule(
        name="cookbook_48_det_second_derivative",
        f="det(A + 0.1 * x * B + 0.01 * x * x * C)", derivative="det(A + 0.1 * x * B + 0.01 * x * x * C) * (tr(inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.02 * C)) + tr(inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.1 * B + 0.02 * x * C)) ** 2 - tr(inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.1 * B + 0.02 * x * C) @ inv(A + 0.1 * x * B + 0.01 * x * x * C) @ (0.1 * B + 0.02 * x * C)))",
        wrt="x", kind="hessian", inputs=Y_INPUTS,
        source=cb(48), section=SECTION, conditions="Y(x) invertible, twice differentiable",
    ),
)
