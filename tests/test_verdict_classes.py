"""Wrong verdicts of ``mc.check``, one class per section: each class is tested over several
variants, not only the example it was found with. A section also names the engine mutation its
tests kill (apply it by hand, see the test fail, revert)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.engine.verdict import judge
from matcalc.model.sizes import second_sizes
from matcalc.oracles.base import Measurement

AUTOGRAD_ORACLES = ["jacobian", "func", "probe"]
ORACLES = [*AUTOGRAD_ORACLES, "taylor"]
X_A = {"x": mc.vector("n"), "A": mc.matrix("m", "n")}


def rule(f, derivative, inputs, wrt="x", **kw) -> mc.Rule:  # type: ignore[no-untyped-def]
    return mc.Rule(name="variant", f=f, derivative=derivative, wrt=wrt, inputs=inputs, **kw)


# ---- 1. the scale of a zero truth comes from the derivative, never from ||f|| ---------------

OFFSETS = [1e12, 1e16, 1e30]


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("c", OFFSETS)
def test_a_constant_offset_does_not_make_a_zero_claim_pass(oracle: str, c: float) -> None:
    variants = [
        rule(lambda x: c + x.sum(), lambda x: torch.zeros_like(x), {"x": mc.vector("n")}),
        rule(lambda x, A: c + A @ x, lambda x, A: torch.zeros_like(A), X_A),
        rule(lambda x, A: x.sum() + c * A.sum(), lambda x, A: torch.zeros_like(x), X_A),
    ]
    if oracle == "taylor" and c > 1e12:
        # f's values alone cannot tell x.sum() from 0 under c * A.sum() when c * eps swamps it:
        # finite differences along x then read a zero derivative (the Taylor oracle's limit).
        variants = variants[:2]
    for r in variants:
        res = mc.check(r, oracle=oracle, diagnose_structure=False)
        assert not res.passed, str(res)
        if oracle != "taylor":  # autograd sees the derivative exactly: the claim is wrong
            assert res.outcome == "fail", str(res)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("c", [1e160, 1e200, 1e300])
def test_huge_values_neither_overflow_the_scale_nor_pass_a_zero_claim(oracle: str, c: float) -> None:
    right = rule(lambda x, A: c * (A @ x), lambda x, A: c * A, X_A)
    zero = rule(lambda x, A: c * (A @ x), lambda x, A: torch.zeros_like(A), X_A)
    assert mc.check(zero, oracle=oracle, diagnose_structure=False).outcome == "fail"
    assert mc.check(right, oracle=oracle).outcome != "fail"


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("c", [1e-315, 1e-320, 1e-310])
def test_subnormal_values_make_a_right_claim_inconclusive_never_failed(oracle: str, c: float) -> None:
    right = rule(lambda x, A: c * (A @ x), lambda x, A: c * A, X_A)
    res = mc.check(right, oracle=oracle)
    assert res.outcome != "fail", str(res)
    if res.outcome == "inconclusive":
        assert "subnormal" in res.inconclusive or "finite differences" in res.inconclusive
    zero = rule(lambda x, A: c * (A @ x), lambda x, A: torch.zeros_like(A), X_A)
    if oracle != "taylor":
        assert mc.check(zero, oracle=oracle, diagnose_structure=False).outcome == "fail"


# ---- 2. a claim that agrees with autograd's blind spot never passes -------------------------

BLIND = [
    # f, the claim autograd's blind spot agrees with
    (lambda x: x / x.norm().item(), lambda x: torch.eye(x.numel(), dtype=x.dtype) / x.norm()),
    (lambda x: (x.detach() * x).sum(), lambda x: x),
    (lambda x: x.detach().sum() * x.sum(), lambda x: x.sum() * torch.ones_like(x)),
    (lambda x: torch.sin(x) * float(x.detach().sum()), lambda x: torch.diag(torch.cos(x)) * x.sum()),
]


class _Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def, override]
        (x,) = ctx.saved_tensors
        return 2 * x**2 * g  # wrong: 3 x^2


BLIND.append((lambda x: _Cube.apply(x), lambda x: torch.diag(2 * x**2)))


@pytest.mark.parametrize("oracle", ["auto", *AUTOGRAD_ORACLES])
@pytest.mark.parametrize("case", range(len(BLIND)))
def test_a_claim_agreeing_with_autograds_blind_spot_does_not_pass(oracle: str, case: int) -> None:
    f, claim = BLIND[case]
    r = rule(f, claim, {"x": mc.vector("n", nonzero=True)})
    for sizes in ({"n": 5}, {"n": 64}):
        with pytest.raises(mc.MatcalcError, match="oracle='taylor'"):
            mc.check(r, oracle=oracle, sizes=sizes)


def test_a_blind_hessian_does_not_pass() -> None:
    r = rule(lambda x: (x.detach() * x * x).sum(), lambda x: torch.diag(2 * x.detach()),
             {"x": mc.vector("n")}, kind="hessian")
    for oracle in AUTOGRAD_ORACLES:
        with pytest.raises(mc.MatcalcError, match="oracle='taylor'"):
            mc.check(r, oracle=oracle)


def test_a_blind_spot_on_many_outputs_does_not_pass_under_probe() -> None:
    r = rule(lambda x, A: (A @ x) * x.norm().item(), lambda x, A: A * x.norm(), X_A)
    with pytest.raises(mc.MatcalcError, match="oracle='taylor'"):
        mc.check(r, oracle="probe", sizes={"m": 40, "n": 30})


# ---- 3. the two default size assignments differ in every relation a claim can hide behind -----

FIRSTS = [{"n": 5}, {"m": 3, "n": 5}, {"k": 4, "m": 3, "n": 5}, {"k": 4, "n": 5, "p": 6, "q": 7},
          {"k": 4, "m": 3, "n": 5, "r": 2}, {"n": 2}, {"a": 8, "b": 9, "n": 5}, {"n": 5, "m": 2}]


@pytest.mark.parametrize("first", FIRSTS, ids=str)
def test_second_sizes_flip_every_parity_and_keep_dims_distinct(first: dict[str, int]) -> None:
    second = second_sizes(first)
    assert set(second) == set(first)
    for d in first:
        assert second[d] % 2 != first[d] % 2, (d, first, second)  # even and odd both checked
        assert second[d] >= 2
    assert len(set(second.values())) == len(second)  # no accidentally square matrix
    order = sorted(first, key=first.__getitem__)
    assert [second[d] for d in order] == sorted(second.values())  # rows >= cols is kept
    for a, b in itertools.combinations(first, 2):  # no difference between two dims survives
        assert second[a] - second[b] != first[a] - first[b], (a, b, first, second)


PARITY = [
    # right at odd n only
    rule(lambda X: torch.det(-X), lambda X: -torch.det(X) * torch.linalg.inv(X).T,
         {"X": mc.matrix("n", "n", structure="invertible")}, wrt="X"),
    # right at even n only
    rule(lambda X: torch.det(-X), lambda X: torch.det(X) * torch.linalg.inv(X).T,
         {"X": mc.matrix("n", "n", structure="invertible")}, wrt="X"),
    # right at odd m only, with a second dim
    rule(lambda y, x: torch.prod(-y) * x.sum(), lambda y, x: -torch.prod(y) / y * x.sum(),
         {"y": mc.vector("m", positive=True), "x": mc.vector("n")}, wrt="y"),
    # right at odd n only, with m present
    rule(lambda x, A: torch.prod(-x) * A.sum(), lambda x, A: -torch.prod(x) / x * A.sum(),
         {"x": mc.vector("n", positive=True), "A": mc.matrix("m", "n")}),
]


@pytest.mark.parametrize("case", range(len(PARITY)))
def test_a_claim_right_at_one_parity_fails_by_default(case: int) -> None:
    res = mc.check(PARITY[case], diagnose_structure=False)
    assert res.outcome == "fail", str(res)


# ---- 4. every form a rule gives (derivative, jvp, vjp) is a claim, under every oracle -----------


def _with(base: mc.Rule, **forms) -> mc.Rule:  # type: ignore[no-untyped-def]
    fields = {"derivative": base.derivative, "jvp": base.jvp, "vjp": base.vjp, **forms}
    return mc.Rule(name="forms", f=base.f, wrt=base.wrt, inputs=base.inputs, **fields)


def _scaled(fn, c: float):  # type: ignore[no-untyped-def]
    return lambda *a, **k: c * fn(*a, **k)


FORMS = ["linear_map", "quadratic_form", "norm_gradient"]


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("name", FORMS)
@pytest.mark.parametrize("form", ["derivative", "jvp", "vjp"])
def test_a_wrong_form_fails_under_every_oracle(oracle: str, name: str, form: str) -> None:
    base = RULES[name]
    wrong = _with(base, **{form: _scaled(getattr(base, form), 1.5)})
    res = mc.check(wrong, oracle=oracle, diagnose_structure=False)
    assert res.outcome == "fail", str(res)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("name", FORMS)
def test_right_forms_pass_under_every_oracle(oracle: str, name: str) -> None:
    assert mc.check(RULES[name], oracle=oracle).passed


@pytest.mark.parametrize("form", ["jvp", "vjp", "derivative"])
def test_a_slightly_wrong_form_fails_under_probe_with_many_outputs(form: str) -> None:
    # Kills two probe mutations: keeping the more lenient of u^T D and u^T D v, and dropping
    # u^T D v (then a wrong jvp is never compared).
    base = RULES["linear_map"]
    wrong = _with(base, **{form: _scaled(getattr(base, form), 1.001)})
    res = mc.check(wrong, oracle="probe", sizes={"n": 64, "m": 40}, diagnose_structure=False)
    assert res.outcome == "fail", str(res)


def test_a_derivative_too_big_to_materialize_is_left_to_its_matrix_free_forms() -> None:
    base = RULES["linear_map"]

    def explode(**_: torch.Tensor) -> torch.Tensor:
        raise AssertionError("a claim over the memory budget must not be materialized")

    res = mc.check(_with(base, derivative=explode), oracle="probe", sizes={"n": 3000, "m": 2000},
                   memory_budget=100_000_000)
    assert res.passed, str(res)


# ---- 7. kinks: a coarse finite difference makes a check inconclusive, never a pass or a fail -----

KINKED = [
    rule(lambda X: torch.linalg.matrix_norm(X, ord=2), lambda X: X,
         {"X": mc.matrix("n", "n", structure="orthogonal")}, wrt="X"),
    rule(lambda X: torch.relu(X), lambda X: torch.autograd.functional.jacobian(torch.relu, X),
         {"X": mc.matrix("n", "n", structure="diagonal")}, wrt="X"),
    rule(lambda X: X.abs().sum(), lambda X: torch.sign(X), {"X": mc.matrix("n", "n", structure="diagonal")},
         wrt="X"),
]


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("case", range(len(KINKED)))
def test_a_sample_on_a_kink_is_inconclusive_under_every_oracle(oracle: str, case: int) -> None:
    for seed in range(3):
        res = mc.check(KINKED[case], oracle=oracle, seed=seed)
        assert res.outcome == "inconclusive", str(res)
        assert "differentiable" in res.inconclusive or "kink" in res.inconclusive


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_kink_never_widens_the_tolerance_for_a_wrong_claim(oracle: str) -> None:
    for case in KINKED:
        off = rule(case.f, _scaled(case.derivative, 1 + 1e-6), case.inputs, wrt=case.wrt)
        assert not mc.check(off, oracle=oracle).passed


RELU = {"x": mc.vector("n"), "W": mc.matrix("m", "n"), "b": mc.vector("m")}


def _relu_layer(x, W, b):  # type: ignore[no-untyped-def]
    return torch.relu(x @ W.T + b)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("wrt", ["x", "W", "b"])
def test_autograds_own_relu_layer_is_never_failed(oracle: str, wrt: str) -> None:
    def own(**kw: torch.Tensor) -> torch.Tensor:
        return torch.autograd.functional.jacobian(lambda t: _relu_layer(**{**kw, wrt: t}), kw[wrt])

    r = rule(_relu_layer, own, RELU, wrt=wrt)
    for seed in range(8):
        for sizes in (None, {"n": 40, "m": 30}):
            res = mc.check(r, oracle=oracle, seed=seed, sizes=sizes)
            assert res.outcome != "fail", str(res)


# ---- 8. the truth's own rounding is measured, and the reason given is the true one ---------------


def _fd_claim_exp(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """d tr(C e^X)/dX = (int_0^1 e^{sX} C e^{(1-s)X} ds)^T by Gauss-Legendre quadrature: right,
    and rounded differently from autograd's block-matrix exponential."""
    import numpy as np

    nodes, weights = np.polynomial.legendre.leggauss(40)
    acc = torch.zeros_like(X)
    for s, w in zip((nodes + 1) / 2, weights / 2, strict=True):
        acc += float(w) * torch.linalg.matrix_exp(float(s) * X.T) @ C.T @ torch.linalg.matrix_exp((1 - float(s)) * X.T)
    return acc


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_a_right_claim_through_matrix_exp_is_never_blamed_on_an_unrelated_matrix(k: float) -> None:
    r = rule(lambda X, C: torch.trace(C @ torch.linalg.matrix_exp(k * X)),
             lambda X, C: k * _fd_claim_exp(k * X, C), {"X": mc.matrix("n", "n"), "C": mc.matrix("n", "n")},
             wrt="X")
    for seed in (9, 17, *range(6)):
        res = mc.check(r, seed=seed, diagnose_structure=False)
        assert res.outcome != "fail", str(res)
        assert "cond(C)" not in res.inconclusive


LOW = [
    (lambda x, A: (x.float() @ A.float() @ x.float()).double(), lambda x, A: (A + A.T) @ x),
    (lambda x, A: torch.sin(A.float() @ x.float()).double(), lambda x, A: torch.cos(A @ x)[:, None] * A),
    (lambda x, A: (A.half() @ x.half()).double().sum(), lambda x, A: A.sum(0)),
]


@pytest.mark.parametrize("case", range(len(LOW)))
def test_f_in_low_precision_is_named_not_called_a_kink(case: int) -> None:
    f, claim = LOW[case]
    inputs = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    res = mc.check(rule(f, claim, inputs))
    assert res.outcome == "inconclusive", str(res)
    assert "precision" in res.inconclusive and "kink" not in str(res)
    wrong = mc.check(rule(f, _scaled(claim, 2.0), inputs))
    assert wrong.outcome == "fail"


@pytest.mark.parametrize("seed", [731, 756, 2781])
@pytest.mark.parametrize("claim", [
    lambda x, A: (1 + 1e-7) * ((A + A.T) @ x),
    lambda x, A: (A + A.T + 2e-6 * torch.eye(x.numel(), dtype=x.dtype)) @ x,
])
def test_a_wrong_claim_with_no_inverse_is_not_blamed_on_conditioning(seed: int, claim) -> None:  # type: ignore[no-untyped-def]
    # cond(A) is 8e3 to 1.4e4 at these seeds, but x^T A x involves no inverse of A.
    r = rule(lambda x, A: x @ A @ x, claim, {"x": mc.vector("n"), "A": mc.matrix("n", "n")})
    res = mc.check(r, seed=seed, sizes={"n": 5}, diagnose_structure=False)
    assert res.outcome == "fail", str(res)


TRINV = {"X": mc.matrix("n", "n")}
EYE = torch.eye(5, dtype=torch.float64)
# d tr(X^-1)/dX = -(X^-2)^T, computed through a solve with X @ X: right, but rounded like
# cond(X)^2 eps where autograd rounds like cond(X) eps.
TRINV_RIGHT = rule(lambda X: torch.trace(torch.linalg.inv(X)), lambda X: -torch.linalg.solve(X @ X, EYE).T,
                   TRINV, wrt="X")
TRINV_WRONG = rule(lambda X: torch.trace(torch.linalg.inv(X)), lambda X: -torch.linalg.solve(X @ X, EYE),
                   TRINV, wrt="X")


@pytest.mark.parametrize("seed", [204, 648])
def test_rounding_on_an_ill_conditioned_sample_is_inconclusive_and_measured(seed: int) -> None:
    # cond(X) is 4e4 and 3e4 at these seeds: the measured rounding (~1e-8) is too coarse to decide.
    # Kills the mutation "conditioning is never blamed".
    res = mc.check(TRINV_RIGHT, seed=seed, sizes={"n": 5}, diagnose_structure=False)
    assert res.outcome == "inconclusive", str(res)
    assert "rounding" in res.inconclusive and "X" in res.inconclusive and "invertible" in res.inconclusive
    assert mc.check(TRINV_WRONG, seed=seed, sizes={"n": 5}, diagnose_structure=False).outcome == "fail"


def test_a_measured_rounding_small_enough_decides() -> None:
    # cond(X) = 7e3 at seed 1502: the claim differs from autograd by 1e-12, beyond the assumed
    # tolerance but within the rounding measured at this sample (~1e-11), which still decides.
    from matcalc.core.tolerance import tolerance

    res = mc.check(TRINV_RIGHT, seed=1502, sizes={"n": 5}, diagnose_structure=False)
    assert res.passed and res.error > tolerance(torch.float64, 5) and res.tolerance >= res.error, str(res)
    assert mc.check(TRINV_WRONG, seed=1502, sizes={"n": 5}, diagnose_structure=False).outcome == "fail"


# ---- 8b. autograd's own rounding, where nudges cannot show it (issue 17, class 8) ----------------
# Kills: the truth's rounding never measured (each true claim below fails); measured on a pass or a
# far wrong claim (the cost test); counted without the cap, or excusing a pass (the judge tests).

S8 = lambda x: 0.01 * x.sum() - 8
SATURATED = [
    # 1 + tanh(s) near s = -8, against the accurate sech(s)^2
    (lambda x: 1 + torch.tanh(S8(x)), lambda x: 0.01 / torch.cosh(S8(x)) ** 2 * torch.ones_like(x),
     {"x": mc.vector("n")}, (0, 1)),
    # the textbook (1 - tanh^2) of a quadratic form near saturation: both sides cancel
    (lambda x, A: torch.tanh(8 + 0.01 * (x @ A @ x)),
     lambda x, A: (1 - torch.tanh(8 + 0.01 * (x @ A @ x)) ** 2) * 0.01 * (x @ (A + A.T)),
     {"x": mc.vector("n"), "A": mc.matrix("n", "n")}, (0, 1, 2)),
    (lambda x: torch.tanh(0.25 * (x * x).sum() + 7), lambda x: (1 - torch.tanh(0.25 * (x * x).sum() + 7) ** 2) * 0.5 * x,
     {"x": mc.vector("n")}, (0, 1, 2)),
]


@pytest.mark.parametrize("oracle", AUTOGRAD_ORACLES)
@pytest.mark.parametrize("case", range(len(SATURATED)))
def test_a_true_claim_through_a_saturated_tanh_is_inconclusive_for_autograds_measured_rounding(
        oracle: str, case: int) -> None:
    f, d, inputs, seeds = SATURATED[case]
    for seed in seeds:
        res = mc.check(rule(f, d, inputs), oracle=oracle, seed=seed)
        assert res.outcome == "inconclusive", str(res)
        assert "autograd's own rounding here is about a relative" in res.inconclusive
        assert "float32" in res.inconclusive and "cancel" in res.inconclusive
        for wrong in (_scaled(d, 1 + 1e-6), _scaled(d, 2.0)):  # beyond 64 x 2^-29: still wrong
            assert mc.check(rule(f, wrong, inputs), oracle=oracle, seed=seed,
                            diagnose_structure=False).outcome == "fail"


def test_the_textbook_claim_about_tanh_of_a_sum_of_squares_is_inconclusive_as_text() -> None:
    r = mc.claim("tanh(sum(0.25 * W * W))", wrt="W", derivative="(1 - tanh(sum(0.25 * W * W)) ** 2) * 0.5 * W")
    res = mc.check(r, seed=0)
    assert res.outcome == "inconclusive" and "float32" in res.inconclusive, str(res)


@pytest.mark.parametrize("seed", [149, 0, 1])
def test_a_true_claim_about_1e8_trace_sin_is_inconclusive_for_matrix_exps_backward(seed: int) -> None:
    # matrix_exp's backward rounds in proportion to the grad_output (8e-9 at 1e8): float32 does
    # not show it, the truth of f rescaled by 2^-26 to 2^-28 (f's values near 1) does.
    base = RULES["cookbook_128_trace_sin"]
    f = lambda X: 1e8 * base.f(X=X)
    right = rule(f, lambda X: 1e8 * base.derivative(X=X), base.inputs, wrt="X")
    res = mc.check(right, sizes={"n": 5}, seed=seed)
    assert res.outcome != "fail", str(res)
    if res.outcome == "inconclusive":
        assert "for f times 2^-2" in res.inconclusive and "matrix_exp" in res.inconclusive, str(res)
    wrong = rule(f, lambda X: (1 + 1e-6) * 1e8 * base.derivative(X=X), base.inputs, wrt="X")
    assert mc.check(wrong, sizes={"n": 5}, seed=seed, diagnose_structure=False).outcome == "fail"


def test_the_truths_rounding_is_measured_only_for_a_small_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pass, and a failure beyond 64 x 2^-29, cost no float32 measurement.
    import matcalc.engine.refine as refine

    def refuse(*a: object) -> None:
        raise AssertionError("the truth's rounding was measured")

    monkeypatch.setattr(refine, "_truth_rounding", refuse)
    assert mc.check(RULES["quadratic_form"], seed=0).passed
    f, d, inputs, _ = SATURATED[1]
    assert mc.check(rule(f, _scaled(d, 1 + 1e-6), inputs), seed=0, diagnose_structure=False).outcome == "fail"
    with pytest.raises(AssertionError, match="was measured"):
        mc.check(rule(f, d, inputs), seed=0)


def test_a_difference_within_the_truths_rounding_is_inconclusive_and_beyond_it_fails() -> None:
    from matcalc.core.tolerance import ROUNDING_SAFETY, TRUTH_ROUNDING_MAX
    from matcalc.oracles.rounding import TruthRounding

    true = torch.ones(4, dtype=torch.float64)
    r = TruthRounding.in_low_precision(0.1)  # 0.1 x 2^-29 = 1.9e-10
    assert r.bound == pytest.approx(ROUNDING_SAFETY * 0.1 * TRUTH_ROUNDING_MAX)

    def m(rel: float) -> Measurement:
        return Measurement(claimed=true * (1 + rel), true=true, tolerance=1e-14, resolution=1e-14, floor=0.0)

    v = judge(m(0.9 * r.bound), truth_rounding=[r])
    assert not v.passed and "autograd's own rounding" in v.inconclusive
    v = judge(m(1.1 * r.bound), truth_rounding=[r])
    assert not v.passed and not v.inconclusive and "values differ" in v.message
    # within the tolerance it is a pass, whatever the truth's rounding (nothing to excuse)
    assert judge(m(1e-15), truth_rounding=[r]).passed
    # a measured rounding counts up to 2^-29 only: 64 x 2^-29 = 1.2e-7 is the most it excuses
    big = TruthRounding.rescaled(1e-3, -10)
    assert big.relative == 1e-3 and big.bound == ROUNDING_SAFETY * TRUTH_ROUNDING_MAX
    assert judge(m(1.1e-7), truth_rounding=[big]).inconclusive
    assert not judge(m(1.3e-7), truth_rounding=[big]).inconclusive


# ---- 8c. the resolution guard blocks passes, never a fail the measurement shows ------------------


def test_a_coarse_truth_with_a_measured_error_still_fails_a_claim_far_beyond_it() -> None:
    # The adversary's inv(X) - 1e8, backward x2, by finite differences: error 1 against a tolerance
    # of 0.403 and a truth known to 0.4 (resolution 0.1): a fail, not "too coarse".
    true = torch.ones(4, dtype=torch.float64)  # ||true|| = 2
    coarse = {"tolerance": 0.403, "resolution": 0.1, "floor": 0.0, "truth_error": 0.4 * 2}
    v = judge(Measurement(claimed=2 * true, true=true, **coarse))
    assert not v.passed and not v.inconclusive and v.error == pytest.approx(1.0)
    # within the truth's error, or exact: still no pass
    for claimed in (true * 1.3, true):
        v = judge(Measurement(claimed=claimed, true=true, **coarse))
        assert not v.passed and "too coarse" in v.inconclusive
    # a resolution the truth's error does not account for (a low dtype's own noise): inconclusive
    v = judge(Measurement(claimed=2 * true, true=true, **{**coarse, "truth_error": 0.05 * 2}))
    assert not v.passed and "too coarse" in v.inconclusive


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_doubled_backward_of_inv_minus_1e8_fails_by_finite_differences(seed: int) -> None:
    def doubled(fwd):  # type: ignore[no-untyped-def]
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X):  # type: ignore[no-untyped-def]
                ctx.save_for_backward(X)
                return fwd(X)

            @staticmethod
            def backward(ctx, g):  # type: ignore[no-untyped-def]
                (X,) = ctx.saved_tensors
                with torch.enable_grad():
                    Xd = X.detach().requires_grad_()
                    (grad,) = torch.autograd.grad(fwd(Xd), Xd, g)
                return 2 * grad

        return F.apply

    fwd = lambda X: torch.linalg.inv(X) - 1e8
    spd = {"X": mc.matrix("n", "n", structure="spd")}
    res = mc.check_backward(doubled(fwd), inputs=spd, seed=seed)
    assert res.outcome == "fail", str(res)
    assert mc.check_backward(fwd, inputs=spd, seed=seed).outcome != "fail"


# ---- 8d. exact zeros ----------------------------------------------------------------------------


def test_an_exact_zero_claim_against_an_exact_zero_truth_passes_where_f_is_all_zeros() -> None:
    zero = torch.zeros(4, dtype=torch.float64)
    fd = {"tolerance": 1e-8, "resolution": 1e-8, "floor": 0.0}
    v = judge(Measurement(claimed=zero, true=zero, truth_error=1e-317, **fd))  # f's values all 0
    assert v.passed and v.error == 0.0
    for seed in (0, 2):
        res = mc.check_backward(lambda t: t - t, inputs={"t": mc.vector("n")}, seed=seed)
        assert res.outcome == "pass", str(res)
        res = mc.check_backward(lambda X: X - X, inputs={"X": mc.matrix("n", "m")}, seed=seed)
        assert res.outcome == "pass", str(res)


def _zero_backward(fwd):  # type: ignore[no-untyped-def]
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(t)
            return fwd(t)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (t,) = ctx.saved_tensors
            return torch.zeros_like(t)

    return F.apply


def test_exact_zeros_where_f_does_not_move_above_its_rounding_are_inconclusive() -> None:
    # sigmoid(t - t) = 0.5 and 1e16 + 1e-3 sin(t) measure alike by finite differences (their
    # values never move); a zero backward is right for one and wrong for the other, so neither
    # passes: an exact-zero rule that ignored f's rounding would pass the wrong one.
    zero = torch.zeros(4, dtype=torch.float64)
    v = judge(Measurement(claimed=zero, true=zero, tolerance=1e-8, resolution=1e-8, floor=0.0, truth_error=2e-11))
    assert not v.passed and "did not move" in v.inconclusive
    vector = {"t": mc.vector("n")}
    for seed in (0, 2):
        right = mc.check_backward(lambda t: torch.sigmoid(t - t), inputs=vector, seed=seed)
        assert right.outcome == "inconclusive" and "did not move" in right.inconclusive, str(right)
        wrong = mc.check_backward(_zero_backward(lambda t: 1e16 + 1e-3 * t.sin()), inputs=vector, seed=seed)
        assert wrong.outcome != "pass", str(wrong)
        # with autograd's truth (a reference) both are decided
        ref = mc.check_backward(_zero_backward(lambda t: 1e16 + 1e-3 * t.sin()), inputs=vector, seed=seed,
                                reference=lambda t: 1e16 + 1e-3 * t.sin())
        assert ref.outcome == "fail", str(ref)


# ---- 10. misuse raises MatcalcError, never a raw exception ---------------------------------------


@pytest.mark.parametrize("budget", [math.inf, math.nan, -1.0, 0, True, "lots"])
def test_a_bad_memory_budget_is_misuse(budget: object) -> None:
    with pytest.raises(mc.MatcalcError, match="memory_budget"):
        mc.check(RULES["quadratic_form"], memory_budget=budget)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [10**12, 2**40])
@pytest.mark.parametrize("name", ["quadratic_form", "linear_map", "elementwise_exp"])
def test_sizes_past_the_machine_are_misuse_whatever_the_budget(name: str, n: int) -> None:
    r = RULES[name]
    with pytest.raises(mc.MatcalcError, match="memory"):
        mc.check(r, sizes={d: n - i for i, d in enumerate(r.dims())}, memory_budget=1e300)


@pytest.mark.parametrize("n", [2**41, 2**62, 2**63, 2**70])
def test_fixed_dims_past_any_machine_are_misuse(n: int) -> None:
    # refused where the domain is declared (before any rule or check exists)
    for declare in (lambda: mc.vector(n), lambda: mc.matrix(n, "n")):
        with pytest.raises(mc.MatcalcError, match="beyond any device's memory"):
            declare()


def test_sizes_2_to_the_70_are_misuse() -> None:
    with pytest.raises(mc.MatcalcError):
        mc.check(RULES["quadratic_form"], sizes={"n": 2**70})


@pytest.mark.parametrize("oracle", ["auto", *ORACLES])
def test_an_empty_output_is_misuse_under_every_oracle(oracle: str) -> None:
    r = rule(lambda x: x[:0], lambda x: torch.zeros(0, x.numel(), dtype=x.dtype), {"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="empty"):
        mc.check(r, oracle=oracle)


@pytest.mark.parametrize("inputs", [
    {"x": mc.vector("n"), "a": mc.vector("m", distinct_from="x")},
    {"A": mc.matrix("n", "m"), "x": mc.vector("n", distinct_from="A")},
    {"A": mc.matrix("n", "n"), "x": mc.vector("n", distinct_from="A")},
])
def test_distinct_from_an_input_of_another_shape_is_misuse(inputs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(mc.MatcalcError, match="distinct_from needs an input of the same shape"):
        rule(lambda **kw: kw["x"].sum(), lambda **kw: torch.ones_like(kw["x"]), inputs)


# ---- engine mutations that survived every test (section 5) ---------------------------------------


def test_the_conditioned_tolerance_grows_as_kappa_squared_not_faster() -> None:
    # Kills KAPPA_POWER[float64] 2 -> 4: a relative error of 1e-10 on a conditioned (spd) domain
    # is 30x the float64 bound at n = 5 and must fail.
    spd = {"X": mc.matrix("n", "n", structure="spd")}
    off = rule(lambda X: torch.logdet(X), lambda X: (1 + 1e-10) * torch.linalg.inv(X).T, spd, wrt="X")
    for seed in range(3):
        assert mc.check(off, seed=seed, diagnose_structure=False).outcome == "fail"


def test_a_comparison_coarser_than_its_bound_is_inconclusive() -> None:
    # Kills dropping the resolution guard in verdict.py.
    true = torch.ones(4, dtype=torch.float64)
    m = Measurement(claimed=true * (1 + 1e-3), true=true, tolerance=1e-2, resolution=5e-2, floor=0.0)
    v = judge(m)
    assert not v.passed and v.inconclusive


def test_a_truth_known_only_coarsely_never_passes() -> None:
    true = torch.ones(4, dtype=torch.float64)
    m = Measurement(claimed=true, true=true, tolerance=1e-9, resolution=1e-9, floor=0.0, truth_error=1e-3)
    v = judge(m)
    assert not v.passed and v.inconclusive
    far = Measurement(claimed=3 * true, true=true, tolerance=1e-9, resolution=1e-9, floor=0.0,
                      truth_error=1e-3)
    assert judge(far).message and not judge(far).inconclusive
