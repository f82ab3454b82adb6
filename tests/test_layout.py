"""The seed's general facts: nabla f = Df^T, and the first-order approximation."""

import itertools

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.draws.inputs import draw_inputs


def test_gradient_is_jacobian_transpose() -> None:
    # The same claim stated in both layouts: D(Ax) = A (numerator) and nabla(Ax) = A^T (denominator).
    numerator = RULES["linear_map"]
    denominator = RULES["gradient_is_jacobian_transpose"]
    assert numerator.layout == "numerator" and denominator.layout == "denominator"
    assert mc.check(numerator).passed and mc.check(denominator).passed
    wrong = mc.Rule(name="denominator_declared_numerator", f=numerator.f, derivative=denominator.derivative,
                    wrt="x", inputs=numerator.inputs)
    assert "denominator layout" in str(mc.check(wrong))


def test_layouts_agree_for_scalar_f() -> None:
    for layout in ("numerator", "denominator"):
        rule = mc.Rule(name="sq", f=lambda X: (X**2).sum(), derivative=lambda X: 2 * X, wrt="X",
                       inputs={"X": mc.matrix("n", "m")}, layout=layout)
        assert mc.check(rule).passed


@pytest.mark.parametrize("name", ["linear_map", "quadratic_form", "norm_gradient", "chain_vector_of_vector",
                                  "course_inner_product_rule"])
def test_first_order_remainder_shrinks_quadratically(name: str) -> None:
    # f(z) - [f(x) + Df(x)(z - x)] = O(||z - x||^2): halving the step quarters the remainder.
    rule = RULES[name]
    inputs = draw_inputs(rule, {d: 6 + i for i, d in enumerate(rule.dims())}, torch.device("cpu"),
                         torch.float64, 0)
    x = inputs[rule.wrt]
    D = rule.derivative(**inputs)
    if rule.layout == "denominator":
        D = D.T if D.ndim == 2 else D
    v = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    remainders = []
    for h in (1e-2, 5e-3, 2.5e-3):
        z = x + h * v
        approx = rule.f(**inputs) + torch.tensordot(D, z - x, dims=1)
        remainders.append(float(torch.linalg.vector_norm(rule.f(**{**inputs, rule.wrt: z}) - approx)))
    if remainders[0] < 1e-12:  # f is linear: the approximation is exact
        assert max(remainders) < 1e-12
        return
    for big, small in itertools.pairwise(remainders):
        assert 3.5 < big / small < 4.5


def test_taylor_oracle_reports_rate_two() -> None:
    res = mc.check(RULES["quadratic_form"], oracle="taylor")
    assert res.passed and res.resolution is not None and res.resolution < 1e-6
