"""Issue 17's "one engine" for check_backward: one finite-difference engine (matcalc/oracles/fd.py),
one relative error and verdict (matcalc/engine/verdict.py, policy in matcalc/core/tolerance.py), one
validation and one memory guard (matcalc/engine/settings.py), one result renderer (Result).

Behavioural: each test swaps or watches the one shared piece and shows that check_backward's
outcome follows it, so a private copy of that piece inside matcalc/backward/ would make it fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch

import matcalc as mc
import matcalc.engine.verdict as verdict
import matcalc.oracles.fd as fd
from matcalc.backward import checker
from matcalc.backward.judge import FDTruth
from matcalc.catalog import quadratic_form
from matcalc.core.result import Result
from matcalc.core.tolerance import FD_SAFETY, fd_tolerance
from matcalc.engine.verdict import Verdict, judge

F64 = torch.float64
X = {"x": mc.matrix("b", "n")}
XW = {"x": mc.matrix("b", "n"), "w": mc.vector("n")}


class _Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        x, w = ctx.saved_tensors
        return g * w, (g * x).sum(0)


class _ScaleDoubled(_Scale):
    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        x, w = ctx.saved_tensors
        return 2 * g * w, (g * x).sum(0)


def _scale_ref(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * w


# ---- one finite-difference engine ---------------------------------------------------------------
class _Watch:
    """Calls of a function, each marked by whether the fd engine was running."""

    def __init__(self) -> None:
        self.depth = 0
        self.calls: list[tuple[bool, tuple[torch.Tensor, ...]]] = []

    def wrap(self, f: Callable[..., object]) -> Callable[..., object]:
        def watched(*args: torch.Tensor) -> object:
            self.calls.append((self.depth > 0, tuple(a.detach().to(F64).clone() for a in args)))
            return f(*args)
        return watched

    @contextmanager
    def inside(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


def _watch_engine(monkeypatch: pytest.MonkeyPatch, watch: _Watch) -> None:
    for name in ("directional_differences", "kink_gap"):
        real = getattr(fd, name)

        def engine(*args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            with watch.inside():
                return _real(*args, **kwargs)

        monkeypatch.setattr(fd, name, engine)
        for module in ("matcalc.backward.truth", "matcalc.backward.probe_runs"):
            mod = __import__(module, fromlist=["_"])
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, engine)


def _sin_scale(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * torch.sin(w)


@pytest.mark.parametrize("reference", [None, lambda x, w: x * w.sin()], ids=["fd", "reference"])
def test_every_moved_input_comes_from_the_fd_engine(monkeypatch: pytest.MonkeyPatch, reference) -> None:  # type: ignore[no-untyped-def]
    """fn (and the reference) are evaluated away from the drawn inputs only inside
    matcalc/oracles/fd.py: backward/ takes no finite-difference step of its own."""
    watch = _Watch()
    _watch_engine(monkeypatch, watch)
    fn = watch.wrap(_sin_scale)
    ref = None if reference is None else watch.wrap(reference)
    inputs = {"x": mc.matrix("b", "n"), "w": mc.matrix("b", "n")}  # no stride-0 probe: it moves values
    res = mc.check_backward(fn, inputs=inputs, reference=ref, name="scale", seed=3)
    assert res.passed, str(res)
    drawn = watch.calls[0][1]
    inside = [args for engine, args in watch.calls if engine]
    outside = [args for engine, args in watch.calls if not engine]
    # six evaluations per direction: the truth's three directions, or the reference's confirmation
    assert len(inside) >= 6 * (3 if reference is None else 1)
    for args in outside:
        assert all(torch.equal(a, d) for a, d in zip(args, drawn, strict=True)), "a step outside fd.py"
    assert any(not all(torch.equal(a, d) for a, d in zip(args, drawn, strict=True)) for args in inside)


def test_the_truth_without_a_reference_is_the_engines_values(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fd.richardson
    assert mc.check_backward(_Scale.apply, inputs=XW).passed

    def off(*args, **kwargs):  # type: ignore[no-untyped-def]
        s = real(*args, **kwargs)
        return None if s is None else fd.Slope(s.value * (1 + 1e-3), s.error, s.gap)

    monkeypatch.setattr(fd, "richardson", off)
    res = mc.check_backward(_Scale.apply, inputs=XW)
    assert res.outcome == "fail", str(res)
    assert res.error == pytest.approx(1e-3, rel=1e-3)


def _at_a_kink(op: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """op(x - x0), x0 the first input it sees: the drawn sample sits on op's kink."""
    seen: dict[str, torch.Tensor] = {}

    def fn(x: torch.Tensor) -> torch.Tensor:
        c = seen.setdefault("c", x.detach().clone())
        return op(x - c.to(x.dtype))
    return fn


@pytest.mark.parametrize("op", [torch.relu, torch.abs], ids=["relu", "abs"])
def test_a_kink_at_the_sample_is_inconclusive_by_the_one_sided_slopes(op) -> None:  # type: ignore[no-untyped-def]
    # central differences average the two sides: relu's 1/2 would fail autograd's subgradient 0,
    # abs's 0 would pass it; neither is a decision
    res = mc.check_backward(_at_a_kink(op), inputs={"x": mc.vector("n")})
    assert res.outcome == "inconclusive", str(res)
    assert "one-sided slopes differ" in res.inconclusive and not res.passed


def test_a_reference_with_a_kink_at_the_sample_is_inconclusive_not_misuse() -> None:
    fn = _at_a_kink(torch.relu)
    res = mc.check_backward(fn, inputs={"x": mc.vector("n")}, reference=_at_a_kink(torch.relu))
    assert res.outcome == "inconclusive" and "reference's one-sided slopes" in res.inconclusive, str(res)


def test_ridders_is_the_fd_engines() -> None:
    from matcalc.oracles import taylor

    assert taylor.ridders is fd.ridders and taylor.directional is fd.directional


# ---- one verdict ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reference", [None, _scale_ref], ids=["fd", "reference"])
def test_every_decision_is_the_one_verdicts(monkeypatch: pytest.MonkeyPatch, reference) -> None:  # type: ignore[no-untyped-def]
    """With verdict.judge's comparisons replaced, a wrong backward passes and a right one fails or
    is inconclusive: nothing in backward/ decides on its own."""
    decide: list[Verdict] = []
    monkeypatch.setattr(verdict, "_judge_one", lambda m, out, nudged, *rest: Verdict(**vars(decide[0])))
    decide[:] = [Verdict(True, 0.0)]
    assert mc.check_backward(_ScaleDoubled.apply, inputs=XW, reference=reference).passed
    decide[:] = [Verdict(False, 0.5, message="planted")]
    assert mc.check_backward(_Scale.apply, inputs=XW, reference=reference).outcome == "fail"
    decide[:] = [Verdict(False, 0.0, inconclusive="planted reason")]
    res = mc.check_backward(_Scale.apply, inputs=XW, reference=reference)
    assert res.outcome == "inconclusive" and "planted reason" in res.inconclusive, str(res)


def _wrong_only_in_the_probes() -> list[Callable[..., object]]:
    """A backward right at the first call and wrong at the second, and a Function whose jvp alone
    is wrong: only the probes see them."""
    calls = [0]

    class Stateful(_Scale):
        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            calls[0] += 1
            x, w = ctx.saved_tensors
            return calls[0] * g * w, (g * x).sum(0)

    class WrongJvp(_Scale):
        @staticmethod
        def forward(ctx, x, w):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x, w)
            ctx.save_for_forward(x, w)
            ctx.xw = (x, w)
            return x * w

        @staticmethod
        def jvp(ctx, tx, tw):  # type: ignore[no-untyped-def]
            x, w = ctx.xw
            return 3 * tx * w + x * tw  # the tangent of x * w is tx * w + x * tw

    return [Stateful.apply, WrongJvp.apply]


@pytest.mark.parametrize("which", [0, 1], ids=["second call", "jvp"])
def test_the_probes_decide_by_the_one_verdict(monkeypatch: pytest.MonkeyPatch, which: int) -> None:
    fn = _wrong_only_in_the_probes()[which]
    res = mc.check_backward(fn, inputs=XW, reference=_scale_ref)
    assert res.outcome == "fail" and any(v.startswith("fail") for v in res.probes_run.values()), str(res)
    monkeypatch.setattr(verdict, "_judge_one", lambda m, out, nudged: Verdict(True, 0.0))
    fn = _wrong_only_in_the_probes()[which]
    assert mc.check_backward(fn, inputs=XW, reference=_scale_ref).passed


def test_the_measured_error_of_finite_differences_never_widens_the_tolerance() -> None:
    values = torch.tensor([1.0, -2.0], dtype=F64)
    dirs = [{"x": torch.tensor([1.0], dtype=F64)}, {"x": torch.tensor([-2.0], dtype=F64)}]
    rounding = torch.full((2,), 1e-14, dtype=F64)
    coarse = fd.FiniteDifferences(values, 1e-4 * values.abs(), dirs, F64, 1.0, rounding)
    tol = fd_tolerance(coarse.rounding_resolution, 1e-15)
    assert tol == pytest.approx(FD_SAFETY * 1e-14 * math.sqrt(2) / math.sqrt(5), rel=1e-12)
    truth = FDTruth(coarse, tol)
    within_error = judge(truth.measurements({"x": torch.tensor([1.0 + 1e-6], dtype=F64)})["(all inputs)"])
    assert within_error.inconclusive and not within_error.passed  # a wider tolerance would pass it
    far = judge(truth.measurements({"x": torch.tensor([1.1], dtype=F64)})["(all inputs)"])
    assert not far.passed and not far.inconclusive
    fine = fd.FiniteDifferences(values, 1e-14 * values.abs(), dirs, F64, 1.0, rounding)
    assert judge(FDTruth(fine, tol).measurements({"x": torch.tensor([1.0], dtype=F64)})["(all inputs)"]).passed


def test_the_fd_tolerance_is_capped_at_the_taylor_oracles() -> None:
    """f's rounding (a large constant term) never widens the tolerance past check()'s own
    finite-difference tolerance: the truth is coarse instead, and the verdict inconclusive."""
    from matcalc.oracles.taylor import TAYLOR_MIN_TOL

    assert fd_tolerance(1e-2, 1e-14) == TAYLOR_MIN_TOL
    assert fd_tolerance(1e-12, 1e-14) == FD_SAFETY * 1e-12


@pytest.mark.parametrize("scale", [1.0, 1e-315])
def test_the_engine_counts_subnormal_rounding(scale: float) -> None:
    x = {"x": torch.tensor([0.5, -1.0, 2.0], dtype=F64)}
    dirs = [{"x": torch.tensor([1.0, 0.5, -0.3], dtype=F64)}]
    got = fd.directional_differences(lambda a: (scale * a[0].sin(),), x, [torch.ones(3, dtype=F64)], dirs, F64)
    # values near 1e-315 keep about 30 bits, not 52: their rounding is ~1e6 times eps's
    assert (got.rounding_resolution > 1e-6) == (scale < 1e-300), got.rounding_resolution
    assert got.kinks == 0


# ---- one validation, one memory guard -------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"seed": 3.0}, {"seed": -1}, {"seed": 2**63}, {"probes": 0}, {"probes": 65}, {"dtype": torch.int32},
    {"device": "tpu"}, {"sizes": {"n": 0}}, {"sizes": {"zz": 3}}, {"sizes": {"n": 2**41}},
])
def test_check_and_check_backward_refuse_misuse_in_the_same_words(kwargs: dict[str, object]) -> None:
    def words(call: Callable[[], object], subject: str) -> str:
        with pytest.raises(mc.MatcalcError) as info:
            call()
        return str(info.value).replace(subject, "SUBJECT")

    inputs = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}  # quadratic_form's
    rule = words(lambda: mc.check(quadratic_form, **kwargs), "rule 'quadratic_form'")  # type: ignore[arg-type]
    backward = words(lambda: mc.check_backward(lambda x, A: x @ A @ x, inputs=inputs, name="qf",
                                               **kwargs), "'qf'")  # type: ignore[arg-type]
    assert rule == backward


@pytest.mark.parametrize("wrt", [123, ["x", 5], [], "y"])
def test_wrt_is_validated_by_the_settings(wrt: object) -> None:
    from matcalc.engine.settings import resolve_wrt

    with pytest.raises(mc.MatcalcError) as want:
        resolve_wrt("'sin'", wrt, X)
    with pytest.raises(mc.MatcalcError) as got:
        mc.check_backward(torch.sin, inputs=X, wrt=wrt, name="sin")  # type: ignore[arg-type]
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("inputs", [{"x": mc.matrix("n", "n")}, {"x": mc.vector("n"), "A": mc.matrix("n", "n")}])
def test_a_million_wide_check_is_refused_before_the_run_exists(monkeypatch: pytest.MonkeyPatch, inputs) -> None:  # type: ignore[no-untyped-def]
    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("got past the memory guard")

    monkeypatch.setattr(checker, "draw_domains", never)
    monkeypatch.setattr(checker, "_Check", never)
    with pytest.raises(mc.MatcalcError, match=r"memory budget.*use smaller sizes= or raise memory_budget"):
        mc.check_backward(lambda *a: sum(t.sum() for t in a), inputs=inputs, sizes={"n": 10**6})


# ---- one result renderer ---------------------------------------------------------------------------
def test_a_backward_result_is_rendered_by_results_renderer() -> None:
    res = mc.check_backward(_ScaleDoubled.apply, inputs=XW, reference=_scale_ref)
    assert isinstance(res, Result) and type(res).__str__ is Result.__str__
    text = str(res)
    assert text.startswith("FAIL _ScaleDoubled [") and "truth=reference" in text
    assert "  gradients: x " in text and "  checks: " in text  # its _detail_lines, inside Result's text
