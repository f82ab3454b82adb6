"""The four oracles, the auto choice, the memory guard, large n, and the false-alarm sweep."""

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
    # The full sweep (100 seeds) is `matcalc sweep`; CI runs 10 seeds of every oracle and dtype.
    counts = sweep([r for r in RULES.values() if not r.refuted], seeds=range(10), oracles=ORACLES,
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
