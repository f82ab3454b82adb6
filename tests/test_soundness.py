"""Soundness: no wrong pass, no false fail, and an honest "inconclusive", in every regime matcalc
accepts. One section per class of defect; each repro from the issue is a test, and each class is
tested beyond its repro."""

import math
import resource
import threading

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.model.domains import Domain
from matcalc.model.sizes import scaled_sizes

QUAD_INPUTS = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
ALL_DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
ORACLES = ["auto", "jacobian", "func", "probe", "taylor"]


def quad(derivative, **kw) -> mc.Rule:
    return mc.Rule(name="quad", f=lambda x, A: x @ A @ x, derivative=derivative, wrt="x",
                   inputs=QUAD_INPUTS, **kw)


# ---- in-place mutation ---------------------------------------------------------------------


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_derivative_that_doubles_its_input_is_misuse(oracle: str) -> None:
    rule = quad(lambda x, A: (A.mul_(2), (A + A.T) @ x)[1])
    with pytest.raises(mc.MatcalcError, match=r"the derivative changed its input 'A' in place"):
        mc.check(rule, oracle=oracle)


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_derivative_that_zeroes_x_is_misuse(oracle: str) -> None:
    rule = quad(lambda x, A: torch.zeros_like(x.zero_()))
    with pytest.raises(mc.MatcalcError, match=r"changed its input 'x' in place"):
        mc.check(rule, oracle=oracle)


@pytest.mark.parametrize("mutate", [
    lambda x, A: A.add_(1), lambda x, A: A.data.mul_(3), lambda x, A: A.__setitem__(0, 0.0),
    lambda x, A: torch.mul(A, 2, out=A),
])
def test_f_that_changes_its_inputs_is_misuse(mutate) -> None:
    rule = mc.Rule(name="quad", f=lambda x, A: (mutate(x, A), x @ A @ x)[1],
                   derivative=lambda x, A: (A + A.T) @ x, wrt="x", inputs=QUAD_INPUTS)
    with pytest.raises(mc.MatcalcError, match=r"f changed its input 'A' in place"):
        mc.check(rule)


def test_f_mutating_a_captured_tensor_under_func_and_probe_is_misuse() -> None:
    state = torch.zeros(5, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        state.add_(x.detach())
        return (x * x).sum() + state.sum() * 0

    rule = mc.Rule(name="stateful", f=f, derivative=lambda x: 2 * x, wrt="x", inputs={"x": mc.vector("n")})
    for oracle in ("func", "probe"):
        with pytest.raises(mc.MatcalcError):
            mc.check(rule, oracle=oracle)


# ---- non-finite f, truth or claim ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_log_on_a_plain_vector_is_inconclusive_and_names_the_domain(seed: int) -> None:
    rule = mc.Rule(name="log", f=lambda x: torch.log(x).sum(), derivative=lambda x: 1 / x, wrt="x",
                   inputs={"x": mc.vector("n")})
    res = mc.check(rule, seed=seed)
    assert not res.passed and res.outcome == "inconclusive"
    assert "positive=True" in res.inconclusive
    assert "INCONCLUSIVE" in str(res)


def test_log_on_a_positive_vector_passes() -> None:
    rule = mc.Rule(name="log", f=lambda x: torch.log(x).sum(), derivative=lambda x: 1 / x, wrt="x",
                   inputs={"x": mc.vector("n", positive=True)})
    assert mc.check(rule).passed


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_claim_never_passes(bad: float) -> None:
    res = mc.check(quad(lambda x, A: (A + A.T) @ x + bad))
    assert res.outcome == "fail" and "not finite" in res.message


def test_a_truth_that_does_not_exist_is_inconclusive() -> None:
    # sqrt is not differentiable at 0: autograd gives inf there.
    rule = mc.Rule(name="sqrt0", f=lambda x: torch.sqrt(x * 0).sum(), derivative=lambda x: 0 * x,
                   wrt="x", inputs={"x": mc.vector("n", positive=True)})
    assert mc.check(rule).outcome == "inconclusive"


# ---- low precision: a wrong formula fails in every dtype, at every size ----------------------


def test_all_zero_tanh_jacobian_fails_in_bfloat16_at_1024() -> None:
    rule = mc.Rule(name="tanh", f=torch.tanh, derivative=lambda x: torch.zeros(x.numel(), x.numel(), dtype=x.dtype),
                   wrt="x", inputs={"x": mc.vector("n")})
    assert mc.check(rule, dtype=torch.bfloat16, sizes={"n": 1024}).outcome == "fail"


def test_factor_two_slip_fails_in_bfloat16_at_256() -> None:
    rule = quad(lambda x, A: 2 * (A + A.T) @ x)
    assert mc.check(rule, dtype=torch.bfloat16, sizes={"n": 256}).outcome == "fail"


SLIPS = {
    "factor": lambda d: lambda **kw: 2 * d(**kw),
    "sign": lambda d: lambda **kw: -d(**kw),
    "zero": lambda d: lambda **kw: 0 * d(**kw),
    "transpose": lambda d: lambda **kw: d(**kw).T if d(**kw).ndim == 2 else d(**kw),
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("slip", sorted(SLIPS))
@pytest.mark.parametrize("name,n", [("linear_map", 64), ("quadratic_form", 200), ("elementwise_sin", 1000),
                                    ("cookbook_49_det", 24)])
def test_formula_slips_fail_in_every_dtype(name: str, n: int, slip: str, dtype: torch.dtype) -> None:
    rule = RULES[name]
    if slip == "transpose" and name in ("quadratic_form", "elementwise_sin"):
        pytest.skip("a vector or symmetric matrix equals its transpose")
    wrong = mc.Rule(name="slip", f=rule.f, derivative=SLIPS[slip](rule.derivative), wrt=rule.wrt,
                    inputs=rule.inputs, layout=rule.layout)
    res = mc.check(wrong, dtype=dtype, sizes=scaled_sizes(rule.dims(), n))
    assert res.outcome == "fail", str(res)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_a_dropped_term_fails_in_every_dtype(dtype: torch.dtype) -> None:
    res = mc.check(quad(lambda x, A: A @ x), dtype=dtype, sizes={"n": 300})
    assert res.outcome == "fail"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_low_precision_accuracy_is_reported_beside_the_float64_verdict(dtype: torch.dtype) -> None:
    res = mc.check(RULES["quadratic_form"], dtype=dtype, sizes={"n": 64})
    assert res.passed and res.low_precision is not None
    eps = torch.finfo(dtype).eps
    assert 0 < res.low_precision["claim"] < 100 * eps * 8
    assert 0 < res.low_precision["autograd"] < 100 * eps * 8


def test_float16_hessian_logistic_loss_seed_110_passes() -> None:
    assert mc.check(RULES["hessian_logistic_loss"], dtype=torch.float16, seed=110).passed


# ---- complex claims ----------------------------------------------------------------------


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_complex_claim_fails(oracle: str) -> None:
    res = mc.check(quad(lambda x, A: (2 + 5j) * ((A + A.T) @ x) / 2), oracle=oracle)
    assert res.outcome == "fail" and "complex" in res.message


def test_a_complex_f_is_misuse() -> None:
    rule = mc.Rule(name="cx", f=lambda x: (x * 1j).sum(), derivative=lambda x: x, wrt="x",
                   inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="complex"):
        mc.check(rule)


# ---- non-determinism ---------------------------------------------------------------------


@pytest.mark.parametrize("oracle", ["jacobian", "taylor", "probe"])
def test_dropout_in_f_is_detected(oracle: str) -> None:
    rule = mc.Rule(name="drop", f=lambda x: torch.nn.functional.dropout(x, 0.5, training=True).sum(),
                   derivative=lambda x: torch.ones_like(x), wrt="x", inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="different values on the same inputs"):
        mc.check(rule, oracle=oracle)


def test_global_rng_in_f_is_detected() -> None:
    rule = mc.Rule(name="noisy", f=lambda x: (x * torch.rand(())).sum(), derivative=lambda x: 100 * torch.ones_like(x),
                   wrt="x", inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="different values"):
        mc.check(rule, oracle="taylor")


def test_a_random_claim_fails_saying_so() -> None:
    res = mc.check(quad(lambda x, A: torch.randn_like(x)))
    assert res.outcome == "fail" and "different values" in res.message


# ---- sizes baked into a claim ---------------------------------------------------------------


def test_a_claim_with_a_baked_in_size_fails_by_default() -> None:
    rule = mc.Rule(name="baked", f=lambda x: x.clone(), derivative=lambda x: torch.eye(5, dtype=x.dtype),
                   wrt="x", inputs={"x": mc.vector("n")})
    res = mc.check(rule)
    assert res.outcome == "fail" and len(res.sizes_checked) == 2


def test_default_checks_run_at_two_distinct_assignments() -> None:
    for rule in list(RULES.values())[::7]:
        checked = mc.check(rule, diagnose_structure=False).sizes_checked
        if not rule.dims() or rule.refuted:
            continue
        assert len(checked) == 2 and checked[0] != checked[1]
        for sizes in checked:
            assert min(sizes.values()) >= 2 and len(set(sizes.values())) == len(sizes)


# ---- each oracle's resolution ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if not r.refuted))
def test_taylor_catches_a_relative_error_of_1e_6_on_every_rule(name: str) -> None:
    rule = RULES[name]
    zero: list[bool] = []

    def off_claim(**kw: torch.Tensor) -> torch.Tensor:
        d = rule.derivative(**kw)
        zero.append(bool((d == 0).all()))
        return d * (1 + 1e-6)

    off = mc.Rule(name="off", f=rule.f, derivative=off_claim, wrt=rule.wrt, inputs=rule.inputs,
                  layout=rule.layout, kind=rule.kind)
    res = mc.check(off, oracle="taylor", diagnose_structure=False)
    if all(zero):
        pytest.skip("the derivative is identically 0: no relative error can be planted")
    assert res.outcome == "fail", str(res)
    assert res.resolution is not None and res.resolution <= 1e-6


@pytest.mark.parametrize("oracle", ORACLES)
def test_every_result_carries_its_resolution(oracle: str) -> None:
    res = mc.check(RULES["quadratic_form"], oracle=oracle)
    assert res.resolution is not None and 0 < res.resolution <= 1e-6


# ---- a true derivative that is exactly zero ------------------------------------------------

ZERO_INPUTS = {"X": mc.matrix("n", "n", structure="invertible"), "C": mc.matrix("n", "n", structure="spd"),
               "B": mc.matrix("n", "n")}


def zero_rule(derivative) -> mc.Rule:
    # For square invertible X, Tr((X^T C X)^-1 X^T B X) = Tr(C^-1 B): its derivative in X is 0.
    return mc.Rule(name="const", f=lambda X, C, B: torch.trace(torch.linalg.inv(X.T @ C @ X) @ X.T @ B @ X),
                   derivative=derivative, wrt="X", inputs=ZERO_INPUTS)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("oracle", ORACLES)
def test_an_exact_zero_claim_of_a_zero_derivative_passes(oracle: str, dtype: torch.dtype) -> None:
    for seed in range(3):
        res = mc.check(zero_rule(lambda X, C, B: torch.zeros_like(X)), oracle=oracle, dtype=dtype, seed=seed)
        assert res.passed, str(res)


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_nonzero_claim_of_a_zero_derivative_fails(oracle: str) -> None:
    res = mc.check(zero_rule(lambda X, C, B: 1e-3 * torch.ones_like(X)), oracle=oracle)
    assert res.outcome == "fail"
    if oracle != "taylor":
        assert any("does not depend on X" in h for h in res.hints)


def test_true_rules_hold_at_n_equal_1() -> None:
    failures = []
    for name, rule in RULES.items():
        if rule.refuted or "n" not in rule.dims():
            continue
        for seed in range(3):
            try:
                res = mc.check(rule, sizes={"n": 1}, seed=seed, diagnose_structure=False)
            except mc.MatcalcError:
                break  # a structure that needs more than one row (full column rank, say)
            if not res.passed:
                failures.append(f"{name}@{seed}: {res.outcome} {res.error:.3g}")
    assert not failures, failures


# ---- overflow and degenerate sizes ----------------------------------------------------------


def test_determinant_identities_pass_at_64_in_float32() -> None:
    for name in ("cookbook_49_det", "cookbook_51_det_AXB", "cookbook_43_logdet"):
        if name in RULES:
            assert mc.check(RULES[name], dtype=torch.float32, sizes={"n": 64}).passed, name


def test_a_determinant_that_overflows_float64_is_inconclusive() -> None:
    res = mc.check(RULES["cookbook_49_det"], sizes={"n": 700})
    assert res.outcome == "inconclusive" and "overflow" in res.inconclusive


@pytest.mark.parametrize("n", range(2, 40))
def test_scaled_sizes_stay_distinct_and_at_least_two_or_are_refused(n: int) -> None:
    for rule in RULES.values():
        try:
            sizes = scaled_sizes(rule.dims(), n)
        except mc.MatcalcError as exc:
            assert "too small" in str(exc)
            continue
        assert min(sizes.values(), default=2) >= 2
        assert len(set(sizes.values())) == len(sizes)
        if "n" in sizes:
            assert sizes["n"] == n


def test_an_erratum_does_not_pass_by_degenerate_scaling() -> None:
    with pytest.raises(mc.MatcalcError, match="too small"):
        scaled_sizes(["m", "n"], 2)


# ---- ill-conditioned draws -----------------------------------------------------------------


def test_trace_inverse_on_a_plain_matrix_never_fails_for_conditioning() -> None:
    rule = mc.Rule(name="trinv", f=lambda X: torch.trace(torch.linalg.inv(X)),
                   derivative=lambda X: -torch.linalg.matrix_power(torch.linalg.inv(X), 2).T, wrt="X",
                   inputs={"X": mc.matrix("n", "n")})
    for seed in (115, 166, 204, *range(60)):
        res = mc.check(rule, dtype=torch.float32, seed=seed, diagnose_structure=False)
        assert res.outcome != "fail", str(res)
        if res.outcome == "inconclusive":
            assert "ill-conditioned sample" in res.inconclusive and "invertible" in res.inconclusive


def test_a_wrong_inverse_formula_still_fails_on_an_ill_conditioned_draw() -> None:
    rule = mc.Rule(name="trinv", f=lambda X: torch.trace(torch.linalg.inv(X)),
                   derivative=lambda X: -torch.linalg.matrix_power(torch.linalg.inv(X), 2), wrt="X",
                   inputs={"X": mc.matrix("n", "n")})
    assert all(mc.check(rule, seed=s).outcome == "fail" for s in (115, 166, 204))


# ---- threads -------------------------------------------------------------------------------


def test_four_threads_give_the_sequential_results() -> None:
    names = ["hessian_quadratic_form", "quadratic_form", "linear_map", "cookbook_49_det", "norm_gradient"]
    jobs = [(n, o, s) for n in names for o in ("probe", "func", "taylor") for s in range(4)]
    expected = {j: mc.check(RULES[j[0]], oracle=j[1], seed=j[2]).error for j in jobs}
    got: dict = {}
    errors: list[BaseException] = []

    def work(part: list) -> None:
        try:
            for j in part:
                got[j] = mc.check(RULES[j[0]], oracle=j[1], seed=j[2]).error
        except BaseException as exc:  # recorded; the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(jobs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == expected


# ---- memory --------------------------------------------------------------------------------


@pytest.mark.parametrize("name,n", [("squared_norm_gradient", 10**9), ("quadratic_form", 10**9),
                                    ("quadratic_form", 200_000)])
def test_an_oversized_check_is_refused_before_anything_is_drawn(name: str, n: int) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(mc.MatcalcError, match="the largest size that fits is about n="):
        mc.check(RULES[name], sizes=scaled_sizes(RULES[name].dims(), n), memory_budget=2**30)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024


def test_a_huge_materialized_claim_is_refused() -> None:
    # The elementwise exp's claim is an n x n diagonal Jacobian: 80 GB at n = 100,000, for an input
    # of 0.8 MB.
    with pytest.raises(mc.MatcalcError, match="claimed derivative alone is too big"):
        mc.check(RULES["elementwise_exp"], oracle="probe", sizes={"n": 100_000}, memory_budget=2**30)


# ---- raw exceptions become MatcalcError -------------------------------------------------------


def test_f_returning_a_python_float() -> None:
    rule = mc.Rule(name="pyfloat", f=lambda x: float(x.sum()), derivative=lambda x: torch.ones_like(x),
                   wrt="x", inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match=r"not a tensor.*rule 'pyfloat'"):
        mc.check(rule)


def test_a_claim_on_the_meta_device() -> None:
    with pytest.raises(mc.MatcalcError, match="on meta, the inputs are on cpu"):
        mc.check(quad(lambda x, A: torch.empty(5, device="meta")))


@pytest.mark.parametrize("seed", [2**64, -1, 2**63])
def test_out_of_range_seed(seed: int) -> None:
    with pytest.raises(mc.MatcalcError, match=r"seed must be an int in \[0, 2\*\*63\)"):
        mc.check(quad(lambda x, A: (A + A.T) @ x), seed=seed)


@pytest.mark.parametrize("opaque", [lambda x: torch.from_numpy(x.numpy() ** 2).sum(),
                                    lambda x: (x.detach() ** 2).sum() + 0 * x.sum()])
def test_f_that_autograd_cannot_see_through_suggests_taylor(opaque) -> None:
    rule = mc.Rule(name="opaque", f=opaque, derivative=lambda x: 2 * x, wrt="x", inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="oracle='taylor'"):
        mc.check(rule, oracle="jacobian")
    if "numpy" not in str(opaque.__code__.co_names):
        assert mc.check(rule, oracle="taylor").passed


def test_a_three_dimensional_domain_fails_cleanly() -> None:
    T = Domain(("n", "m", "k"))
    rule = mc.Rule(name="t3", f=lambda T: (T * T).sum(), derivative=lambda T: 3 * T, wrt="T", inputs={"T": T})
    res = mc.check(rule)
    assert res.outcome == "fail" and any("factor" in h for h in res.hints), str(res)
    right = mc.Rule(name="t3", f=lambda T: (T * T).sum(), derivative=lambda T: 2 * T, wrt="T", inputs={"T": T})
    assert mc.check(right).passed
