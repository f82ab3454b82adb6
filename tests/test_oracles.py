"""The four oracles, the auto choice, the memory guard, large n, and the false-alarm sweep."""

import math

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.perf.probe_breakdown import probe_breakdown
from matcalc.report.sweep import sweep

ORACLES = ["jacobian", "func", "probe", "taylor"]


@pytest.mark.parametrize("oracle", ORACLES)
def test_each_oracle_is_reported(oracle: str) -> None:
    res = mc.check(RULES["quadratic_form"], oracle=oracle)
    assert res.passed and res.oracle == oracle


def test_auto_uses_the_reference_when_it_fits() -> None:
    assert mc.check(RULES["linear_map"]).oracle == "jacobian"


def test_auto_switches_to_probe_over_budget() -> None:
    res = mc.check(RULES["linear_map"], sizes={"n": 300, "m": 200}, memory_budget=1_500_000)
    assert res.passed and res.oracle == "probe"


def test_memory_guard_raises_and_suggests_probe() -> None:
    with pytest.raises(mc.MatcalcError, match="oracle='probe'"):
        mc.check(RULES["linear_map"], sizes={"n": 300, "m": 200}, oracle="jacobian", memory_budget=1_500_000)


def test_memory_budget_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCALC_MEMORY_BUDGET", "1.5e6")
    assert mc.check(RULES["linear_map"], sizes={"n": 300, "m": 200}).oracle == "probe"
    monkeypatch.setenv("MATCALC_MEMORY_BUDGET", "lots")
    with pytest.raises(mc.MatcalcError, match="MATCALC_MEMORY_BUDGET"):
        mc.check(RULES["linear_map"])


def test_every_form_of_a_matrix_free_rule_is_a_claim() -> None:
    """A rule's derivative is a claim even beside a jvp and a vjp (issue 17, class 4): the probe
    oracle checks the forms matrix-free and the derivative too, so a derivative that raises is the
    rule's own error, named."""
    def explode(**_: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the derivative is evaluated")

    rule = RULES["linear_map"]
    matrix_free = mc.Rule(name="mf", f=rule.f, derivative=explode, wrt="x", inputs=rule.inputs,
                          jvp=rule.jvp, vjp=rule.vjp)
    with pytest.raises(mc.MatcalcError, match="the derivative raised"):
        mc.check(matrix_free, oracle="probe", sizes={"n": 64, "m": 40})
    right = mc.Rule(name="mf", f=rule.f, derivative=rule.derivative, wrt="x", inputs=rule.inputs,
                    jvp=rule.jvp, vjp=rule.vjp)
    assert mc.check(right, oracle="probe", sizes={"n": 64, "m": 40}).passed


def test_wrong_matrix_free_claim_fails() -> None:
    rule = RULES["linear_map"]
    wrong = mc.Rule(name="mf", f=rule.f, derivative=rule.derivative, wrt="x", inputs=rule.inputs,
                    jvp=lambda v, x, A: A @ v, vjp=lambda u, x, A: 1.001 * (u @ A))
    assert not mc.check(wrong, oracle="probe").passed


def test_jvp_without_vjp_is_transposed_automatically() -> None:
    rule = RULES["linear_map"]
    only_jvp = mc.Rule(name="j", f=rule.f, derivative=rule.derivative, wrt="x", inputs=rule.inputs, jvp=rule.jvp)
    assert mc.check(only_jvp, oracle="probe").passed


def test_taylor_verifies_a_custom_autograd_function() -> None:
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[override]
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):  # type: ignore[override]
            (x,) = ctx.saved_tensors
            return 2 * x**2 * g  # wrong: should be 3 x^2

    # The hand-written backward is wrong, so autograd's truth agrees with a wrong claim; the
    # engine confirms that truth by finite differences of f before a pass (issue 17, class 2) and
    # names the problem; the Taylor oracle uses only f, and rejects the claim.
    wrong_backward_claim = mc.Rule(name="cube", f=lambda x: Cube.apply(x), derivative=lambda x: torch.diag(2 * x**2),
                                   wrt="x", inputs={"x": mc.vector("n")})
    with pytest.raises(mc.MatcalcError, match="hides part of its computation"):
        mc.check(wrong_backward_claim, oracle="jacobian")
    res = mc.check(wrong_backward_claim, oracle="taylor")
    assert not res.passed and abs(res.error - 1 / 3) < 1e-6  # claims 2x^2 where f' = 3x^2
    right = mc.Rule(name="cube_ok", f=lambda x: Cube.apply(x), derivative=lambda x: torch.diag(3 * x**2),
                    wrt="x", inputs={"x": mc.vector("n")})
    assert mc.check(right, oracle="taylor").passed


def test_probe_breakdown_at_moderate_n() -> None:
    row = probe_breakdown(RULES["quadratic_form"], 512, repeats=1)
    assert row["passed"] and row["oracle"] == "probe"
    assert row["one_pass_s"] > 0 and row["draw_s"] > 0 and row["input_bytes"] == 8 * (512 * 512 + 512)


def test_false_alarm_sweep_small() -> None:
    # The full sweep (100 seeds) is `matcalc sweep --seeds 100`; CI runs 4 seeds of every oracle and
    # dtype (10 took 290 s of the suite's 10-minute budget on 2 cores once every form of a rule
    # was checked and an autograd truth confirmed before a pass).
    counts = sweep([r for r in RULES.values() if not r.refuted], seeds=range(4), oracles=ORACLES,
                   dtypes=["float64", "float32"])
    assert sum(c.failures + c.inconclusive for c in counts) == 0, [c.failed for c in counts if c.failed]


def test_auto_takes_the_whole_jacobian_when_it_has_no_more_rows_than_probes() -> None:
    """Past AUTO_MAX_ENTRIES, many rows go to probes, but a gradient (one row) stays one backward
    pass: probes would pull back the same rows."""
    from matcalc.engine.check_plan import AUTO_MAX_ENTRIES, plan_check
    from matcalc.oracles import DEFAULT_PROBES
    from matcalc.oracles.memory import memory_budget

    n = int(AUTO_MAX_ENTRIES ** 0.5) + 64
    cpu = torch.device("cpu")
    budget = memory_budget(cpu, None)  # the default a check resolves
    gradient = mc.Rule(name="g", f=lambda X: (X * X).sum(), derivative=lambda X: 2 * X, wrt="X",
                       inputs={"X": mc.matrix("n", "n")})
    plan = plan_check(gradient, {"n": n}, torch.float64, cpu, "auto", DEFAULT_PROBES, budget)
    assert plan.oracle == "jacobian", plan.why
    rows = mc.Rule(name="r", f=lambda X: X.sum(1), derivative=lambda X: X, wrt="X",
                   inputs={"X": mc.matrix("m", "n")})
    plan = plan_check(rows, {"m": DEFAULT_PROBES + 1, "n": AUTO_MAX_ENTRIES}, torch.float64, cpu,
                      "auto", DEFAULT_PROBES, budget)
    assert plan.oracle == "probe", plan.why


@pytest.fixture
def pullback_loops(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The ``loop`` flag of every batched call the probe oracle makes, in order, with the size
    past which it loops lowered to 1000 entries."""
    from matcalc.oracles import probe

    seen: list[bool] = []
    real = probe._batched

    def spy(fn: probe.Fn, batch: torch.Tensor, loop: bool) -> torch.Tensor:
        seen.append(loop)
        return real(fn, batch, loop)

    monkeypatch.setattr(probe, "_batched", spy)
    monkeypatch.setattr(probe, "LOOP_ABOVE_NUMEL", 1000)
    return seen


@pytest.mark.parametrize("rule", ["linear_map", "quadratic_form"])
def test_probe_loops_autograd_pullbacks_when_a_captured_input_is_large(
        request: pytest.FixtureRequest, rule: str) -> None:
    """Large inputs of f that are not differentiated (A in A @ x) make a vmapped pullback a
    transposed matrix product, 10x slower than a loop: the pullback loops, the claim's closed
    forms stay vmapped, and the verdict is the one of the all-vmapped check."""
    sizes = {"n": 40, "m": 30} if rule == "linear_map" else {"n": 40}
    vmapped = mc.check(RULES[rule], sizes=sizes, oracle="probe")
    seen = request.getfixturevalue("pullback_loops")  # A has 1200 or 1600 entries, x 40
    looped = mc.check(RULES[rule], sizes=sizes, oracle="probe")
    assert seen[0] is True and not any(seen[1:]), seen
    assert looped.passed and vmapped.passed
    assert looped.error == pytest.approx(vmapped.error, rel=1e-6, abs=1e-15)
    base = RULES[rule]
    wrong = mc.Rule(name="wrong", f=base.f, wrt="x", inputs=base.inputs,
                    derivative=lambda **k: 1.001 * base.derivative(**k))
    assert not mc.check(wrong, sizes=sizes, oracle="probe").passed
    assert seen.count(True) >= 2  # the wrong claim's pullbacks looped too
    seen.clear()  # many probes: one vmapped pullback costs less than 32 in a loop
    assert mc.check(RULES[rule], sizes=sizes, oracle="probe", probes=32).passed
    assert seen[0] is False


def test_benchmarked_probe_check_batches_pullbacks_like_check(pullback_loops: list[bool]) -> None:
    """`matcalc bench` times probe_pairs: it must take the path check() takes for a large A."""
    from matcalc.perf.scaling import thunk

    seen = pullback_loops
    rule = RULES["quadratic_form"]
    inputs = {"x": torch.randn(40, dtype=torch.float64), "A": torch.randn(40, 40, dtype=torch.float64)}
    thunk(rule, "probe_check", inputs)()
    assert seen and seen[0] is True


# ---- a matrix-free form of the wrong shape fails, whatever its memory order ------------------
# Each case: f, the input's domain, the sizes, and (right, wrong) forms whose values agree in
# memory order, so that only the shape tells them apart: a 1 x m input and an m x 1 one
# (transposed), a batch of one (the batch dim dropped), a 4-D output (its unit dims squeezed).
def _sin(X: torch.Tensor) -> torch.Tensor:
    return torch.sin(X)


def _sin4(X: torch.Tensor) -> torch.Tensor:
    return torch.sin(X)[:, None, :, None]


SHAPE_CASES = {
    "vjp of 1 x m, transposed": (_sin, ("n", "m"), {"n": 1, "m": 6}, "vjp",
                                 lambda U, /, X: U * torch.cos(X), lambda U, /, X: (U * torch.cos(X)).mT),
    "vjp of m x 1, transposed": (_sin, ("m", "n"), {"n": 1, "m": 6}, "vjp",
                                 lambda U, /, X: U * torch.cos(X), lambda U, /, X: (U * torch.cos(X)).mT),
    "jvp of 1 x m, transposed": (_sin, ("n", "m"), {"n": 1, "m": 6}, "jvp",
                                 lambda V, /, X: torch.cos(X) * V, lambda V, /, X: (torch.cos(X) * V).mT),
    "jvp of m x 1, transposed": (_sin, ("m", "n"), {"n": 1, "m": 6}, "jvp",
                                 lambda V, /, X: torch.cos(X) * V, lambda V, /, X: (torch.cos(X) * V).mT),
    "vjp of a batch of one, flattened": (_sin, ("b", "n"), {"b": 1, "n": 5}, "vjp",
                                         lambda U, /, X: U * torch.cos(X),
                                         lambda U, /, X: (U * torch.cos(X)).reshape(-1)),
    "jvp of a 4-D output, squeezed": (_sin4, ("b", "n"), {"b": 3, "n": 4}, "jvp",
                                      lambda V, /, X: (torch.cos(X) * V)[:, None, :, None],
                                      lambda V, /, X: torch.cos(X) * V),
    "vjp of a 4-D output, kept 4-D": (_sin4, ("b", "n"), {"b": 3, "n": 4}, "vjp",
                                      lambda U, /, X: U[:, 0, :, 0] * torch.cos(X),
                                      lambda U, /, X: U * torch.cos(X)[:, None, :, None]),
}


def _shape_rule(case: str, wrong: bool) -> tuple[mc.Rule, dict[str, int]]:
    f, dims, sizes, form, right_form, wrong_form = SHAPE_CASES[case]
    rule = mc.Rule(name=case, f=f, derivative=lambda X: torch.func.jacrev(f)(X), wrt="X",
                   inputs={"X": mc.matrix(*dims)}, **{form: wrong_form if wrong else right_form})
    return rule, sizes


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_a_matrix_free_form_of_the_wrong_shape_fails_naming_both_shapes(case: str, oracle: str) -> None:
    """Values are compared flattened, so a form of the right values in the wrong shape passed
    (a transposed vjp of a 1 x m input); it is a FAIL that names the shape it returned and the
    one it must have, under every oracle. The same rule with the right shape passes."""
    rule, sizes = _shape_rule(case, wrong=False)
    assert mc.check(rule, oracle=oracle, sizes=sizes).passed
    rule, sizes = _shape_rule(case, wrong=True)
    res = mc.check(rule, oracle=oracle, sizes=sizes)
    assert res.outcome == "fail", str(res)
    f, dims, _, form, _, wrong_form = SHAPE_CASES[case]
    x = torch.zeros([sizes[d] for d in dims])
    out = f(x)
    must, got = ((tuple(x.shape), tuple(wrong_form(out, X=x).shape)) if form == "vjp"
                 else (tuple(out.shape), tuple(wrong_form(x, X=x).shape)))
    assert must != got and f"shape {got}" in res.message and f"shape {must}" in res.message, str(res)


def test_a_hessians_forms_must_have_the_inputs_shape() -> None:
    """A Hessian's H v and u^T H have the input's shape; an (n, 1) column is a FAIL naming both,
    under every oracle."""
    def f(x: torch.Tensor) -> torch.Tensor:
        return (x**4).sum()

    def hv(v: torch.Tensor, /, x: torch.Tensor) -> torch.Tensor:
        return 12 * x**2 * v

    for oracle in ORACLES:
        for form in ("jvp", "vjp"):
            for wrong in (False, True):
                fn = (lambda v, /, x: hv(v, x)[:, None]) if wrong else hv
                rule = mc.Rule(name="quartic", f=f, derivative=lambda x: torch.diag(12 * x**2), wrt="x",
                               inputs={"x": mc.vector("n")}, kind="hessian", **{form: fn})
                res = mc.check(rule, oracle=oracle, sizes={"n": 5})
                if not wrong:
                    assert res.passed, str(res)
                    continue
                assert res.outcome == "fail", str(res)
                assert "shape (5, 1)" in res.message and "shape (5,)" in res.message, str(res)


def test_a_jvp_of_the_wrong_shape_has_no_transpose_for_the_probe_oracle() -> None:
    """Without a vjp and a materialized claim, the probe oracle transposes the claimed jvp by
    autograd: a jvp of the wrong shape is its FAIL, not an autograd error."""
    from matcalc.engine.verdict import judge
    from matcalc.oracles.probe import ProbeInputs, ProbeOracle

    x = torch.randn(1, 6, dtype=torch.float64)

    def measure(jvp):  # type: ignore[no-untyped-def]
        problem = ProbeInputs(torch.sin, x, (1, 6), None, jvp, None, False, 3,
                              torch.Generator().manual_seed(0), tolerance=1e-13)
        return judge(ProbeOracle().measure(problem))  # type: ignore[arg-type]

    assert measure(lambda v: torch.cos(x) * v).passed
    v = measure(lambda v: (torch.cos(x) * v).mT)
    assert not v.passed and not v.inconclusive
    assert "shape (6, 1)" in v.message and "shape (1, 6)" in v.message, v.message


# ---- finite differences of f that moves by an ulp or two of a large constant ------------------
@pytest.mark.parametrize("w", [3e3, 3e4])
def test_a_difference_quotient_of_rounding_alone_is_not_believed_to_its_tableaus_agreement(w: float) -> None:
    """f(t) = 1e8 + 1e-8 sin(w t + 0.3) rounds to 1e8 give or take an ulp at every step: the
    quotients are rounding over h, and two tableaux of them agree with each other whatever the
    slope. The measured error must cover the actual one (times the Taylor oracle's safety), which
    it did not (1.5e-6 against 2.9e-5 at w = 3e3); a smooth f beside a constant is still known
    well within the Taylor oracle's tolerance."""
    from matcalc.oracles.fd import EPS, directional
    from matcalc.oracles.taylor import TAYLOR_MIN_TOL, TAYLOR_SAFETY

    def quotient(f):  # type: ignore[no-untyped-def]
        return lambda h: ((f(h) - f(-h)) / (2 * h)).reshape(1)

    def rounding(c: float):  # type: ignore[no-untyped-def]
        return lambda h: 2 * EPS * c / h  # the Taylor oracle's: f's value rounds by eps |f|

    ulps = lambda t: torch.tensor(1e8, dtype=torch.float64) + 1e-8 * math.sin(w * t + 0.3)
    est, err = directional(quotient(ulps), rounding(1e8))
    assert TAYLOR_SAFETY * err >= abs(float(est[0]) - 1e-8 * w * math.cos(0.3)), (est, err)
    smooth = lambda t: torch.tensor(1e3, dtype=torch.float64) + math.sin(t + 0.3)
    est, err = directional(quotient(smooth), rounding(1e3))
    assert abs(float(est[0]) - math.cos(0.3)) <= TAYLOR_SAFETY * err < TAYLOR_MIN_TOL, (est, err)


@pytest.mark.parametrize("offset", [1e8, 1e12])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_taylor_does_not_fail_a_true_claim_about_f_that_moves_by_an_ulp_of_its_offset(offset: float,
                                                                                   seed: int) -> None:
    """1e-8 sin(det W) beside -offset moves by about an ulp of the offset over Taylor's steps
    (it failed by 358 at 1e8, seed 1): the truth's error includes f's rounding at the steps it
    came from, and is then inconclusive rather than a false FAIL. A claim off by 2 beside a
    moderate offset still fails, and the true one passes."""
    derivative = "1e-08 * (cos(det(W)) * (det(W) * inv(W).T))"
    rule = mc.claim(f"1e-08 * (sin(det(W))) + {-offset!r}", wrt="W", where="W: invertible", derivative=derivative)
    res = mc.check(rule, oracle="taylor", seed=seed)
    assert res.outcome in ("pass", "inconclusive") and (res.passed or res.inconclusive), str(res)
    moderate = "sin(0.1 * det(W)) + 1000.0"
    right = "0.1 * cos(0.1 * det(W)) * (det(W) * inv(W).T)"
    assert mc.check(mc.claim(moderate, wrt="W", where="W: invertible", derivative=right),
                    oracle="taylor", seed=seed).passed
    wrong = mc.claim(moderate, wrt="W", where="W: invertible", derivative=f"2 * {right}")
    assert mc.check(wrong, oracle="taylor", seed=seed).outcome == "fail"
