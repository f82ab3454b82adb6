"""The backward judge (matcalc/backward/judge.py, with its policy in matcalc/core/tolerance.py): the
truths as measurements for the one verdict.

One group per behaviour class the mutation run (bench/mutation.sh, bench/results/mutation.md)
found unguarded: the rms in units of the largest entry, the zero-truth floor (of a whole pass and
of a subset), the tolerance and resolution each input hands the verdict, the finite-difference
truth's non-finite branch and its resolution, and the low-precision policy's FACTOR.
"""

from __future__ import annotations

import math

import pytest
import torch

import matcalc as mc
from matcalc.backward.judge import ALL, FDTruth, ReferenceTruth
from matcalc.core.tolerance import LOW_PRECISION_FACTOR as FACTOR
from matcalc.core.tolerance import MAX_RESOLUTION, tolerance
from matcalc.core.tolerance import rms as _rms
from matcalc.engine.verdict import judge
from matcalc.oracles.fd import FiniteDifferences

F64 = torch.float64


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


# ---- the rms is taken in units of the largest entry: exact at every scale ----------------------
@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e200])
def test_rms_is_exact_at_every_scale(scale: float) -> None:
    # rms(3, 4) = sqrt(12.5); squaring 3e200 overflows and squaring 3e-200 underflows
    assert _rms(scale * _t(3.0, 4.0)) == pytest.approx(scale * math.sqrt(12.5), rel=1e-14, abs=0)
    assert _rms(scale * torch.ones(7, dtype=F64)) == pytest.approx(scale, rel=1e-14, abs=0)


def test_rms_of_a_float32_tensor_is_taken_in_float64() -> None:
    # near float32's largest value, and to float64's precision (a float32 norm of three equal
    # entries is off by ~1e-8)
    x = torch.full((3,), 3e38, dtype=torch.float32)
    assert _rms(x) == pytest.approx(float(x[0]), rel=1e-14, abs=0)


def test_rms_of_empty_zero_and_non_finite_tensors() -> None:
    assert _rms(torch.zeros(0, dtype=F64)) == 0.0
    assert _rms(torch.zeros(5, dtype=F64)) == 0.0
    assert _rms(_t(1.0, math.inf)) == math.inf
    # NaN never makes a floor NaN (a NaN floor would be ignored by max and hide the zero-truth floor)
    assert _rms(_t(1.0, math.nan)) == math.inf


def test_rms_ignores_autograd_history() -> None:
    x = _t(3.0, 4.0).requires_grad_()
    assert _rms(2 * x) == pytest.approx(2 * math.sqrt(12.5), rel=1e-14, abs=0)


# ---- the zero-truth floor: the largest true gradient of the pass, per entry --------------------
def test_the_floor_is_the_largest_rms_of_the_pass_for_each_size() -> None:
    truth = {"zero": torch.zeros(4, dtype=F64), "big": torch.full((9,), 3.0, dtype=F64),
             "small": torch.full((2,), 0.5, dtype=F64), "scalar": torch.zeros((), dtype=F64)}
    j = ReferenceTruth(truth, dict.fromkeys(truth, 1e-12))
    assert j.floor("zero") == pytest.approx(3.0 * 2, rel=1e-14, abs=0)  # 3 per entry, sqrt(4) entries
    assert j.floor("big") == pytest.approx(3.0 * 3, rel=1e-14, abs=0)
    assert j.floor("small") == pytest.approx(3.0 * math.sqrt(2), rel=1e-14, abs=0)
    assert j.floor("scalar") == pytest.approx(3.0, rel=1e-14, abs=0)  # one entry


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_a_zero_truth_floored_at_the_pass_passes_noise_and_fails_a_real_gradient(scale: float) -> None:
    truth = {"x": scale * torch.ones(5, dtype=F64), "b": torch.zeros(5, dtype=F64)}
    j = ReferenceTruth(truth, dict.fromkeys(truth, 1e-12))
    noise = {"x": truth["x"], "b": scale * 1e-16 * torch.ones(5, dtype=F64)}
    assert judge(j.measurements(noise)["b"]).passed
    wrong = {"x": truth["x"], "b": scale * 0.5 * torch.ones(5, dtype=F64)}
    v = judge(j.measurements(wrong)["b"])
    assert not v.passed and not v.inconclusive and v.error == pytest.approx(0.5, rel=1e-12, abs=0)


def test_a_subset_keeps_the_floors_of_the_whole_pass() -> None:
    # one input at a time: the subset holds only the zero-truth input, whose own rms is 0
    sub = ReferenceTruth({"b": torch.zeros(5, dtype=F64)}, {"b": 1e-12}, floors={"b": 2.0})
    assert sub.floor("b") == 2.0
    m = sub.measurements({"b": 1e-14 * torch.ones(5, dtype=F64)})["b"]
    assert m.floor == 2.0
    assert judge(m).passed  # 1e-14 * sqrt(5) / 2 is within 1e-12
    assert not judge(sub.measurements({"b": 1e-3 * torch.ones(5, dtype=F64)})["b"]).passed
    # without the pass's floors the same noise is an infinite relative error
    alone = ReferenceTruth({"b": torch.zeros(5, dtype=F64)}, {"b": 1e-12})
    assert not judge(alone.measurements({"b": 1e-14 * torch.ones(5, dtype=F64)})["b"]).passed


# ---- each input hands the verdict its own tolerance and resolution -----------------------------
def test_each_input_is_judged_against_its_own_tolerance() -> None:
    truth = {"x": torch.ones(3, dtype=F64), "w": torch.ones(3, dtype=F64)}
    j = ReferenceTruth(truth, {"x": 1e-3, "w": 1e-12})
    claim = {"x": (1 + 1e-6) * truth["x"], "w": (1 + 1e-6) * truth["w"], "unused": torch.zeros(1)}
    ms = j.measurements(claim)
    assert set(ms) == {"x", "w"}
    assert ms["x"].tolerance == 1e-3 and ms["w"].tolerance == 1e-12
    assert judge(ms["x"]).passed
    assert not judge(ms["w"]).passed
    assert torch.equal(ms["x"].claimed, claim["x"]) and torch.equal(ms["x"].true, truth["x"])
    assert ms["x"].materialized  # whole gradients: entry-level hints mean something


def test_the_claim_is_detached_from_the_backward_graph() -> None:
    j = ReferenceTruth({"x": torch.ones(3, dtype=F64)}, {"x": 1e-12})
    g = torch.ones(3, dtype=F64, requires_grad=True) * 2
    assert not j.measurements({"x": g})["x"].claimed.requires_grad


def test_the_resolution_reaches_the_verdict() -> None:
    truth = {"x": torch.ones(3, dtype=F64), "w": torch.ones(3, dtype=F64)}
    claim = {k: 2 * v for k, v in truth.items()}  # a doubled gradient: fails wherever it is resolved
    plain = ReferenceTruth(truth, dict.fromkeys(truth, 1e-12))
    assert all(m.resolution == 0.0 for m in plain.measurements(claim).values())
    coarse = ReferenceTruth(truth, dict.fromkeys(truth, 1e-12), resolutions={"x": 10 * MAX_RESOLUTION})
    ms = coarse.measurements(claim)
    assert ms["x"].resolution == 10 * MAX_RESOLUTION and ms["w"].resolution == 0.0
    assert judge(ms["x"]).inconclusive  # the dtype cannot decide: never a pass, never a fail
    v = judge(ms["w"])
    assert not v.passed and not v.inconclusive


# ---- finite differences: u^T J e along directions, non-finite gradients fail -------------------
def _fd(values: list[float], errors: list[float], n: int = 3, unit: float = 1.0) -> FiniteDifferences:
    gen = torch.Generator().manual_seed(0)
    dirs = [{"x": torch.randn(n, generator=gen, dtype=F64), "w": torch.randn(n, generator=gen, dtype=F64)}
            for _ in values]
    return FiniteDifferences(torch.tensor(values, dtype=F64), torch.tensor(errors, dtype=F64), dirs, F64, unit)


def _projected(fd: FiniteDifferences, grads: dict[str, torch.Tensor]) -> FiniteDifferences:
    """fd with its values set to the projections of ``grads``: the finite differences of a
    function whose gradients are ``grads``."""
    return FiniteDifferences(fd.project(grads), fd.errors, fd.directions, fd.dtype, fd.unit)


def test_fd_truth_is_one_comparison_of_all_inputs() -> None:
    grads = {"x": _t(1.0, 2.0, 3.0), "w": _t(-1.0, 0.5, 2.0)}
    fd = _projected(_fd([0.0, 0.0], [1e-13, 1e-13], unit=4.0), grads)
    t = FDTruth(fd, 1e-9)
    assert t.tolerance == {ALL: 1e-9}
    ms = t.measurements(grads)
    assert list(ms) == [ALL]
    m = ms[ALL]
    assert torch.equal(m.claimed, fd.values) and torch.equal(m.true, fd.values)
    assert m.tolerance == 1e-9 and m.floor == 0.0
    assert not m.materialized  # projections: entry-level hints mean nothing
    assert judge(m).passed
    wrong = {"x": 2 * grads["x"], "w": grads["w"]}
    v = judge(t.measurements(wrong)[ALL])
    assert not v.passed and not v.inconclusive


def test_fd_resolution_is_the_coarser_of_the_differences_and_the_rounding() -> None:
    grads = {"x": _t(1.0, 2.0, 3.0), "w": _t(-1.0, 0.5, 2.0)}
    fd = _projected(_fd([0.0, 0.0], [1e-13, 1e-13]), grads)
    assert FDTruth(fd, 1e-9).measurements(grads)[ALL].resolution == fd.resolution
    assert FDTruth(fd, 1e-9, rounding=1e-5).measurements(grads)[ALL].resolution == 1e-5
    assert FDTruth(fd, 1e-9, rounding=1e-20).measurements(grads)[ALL].resolution == fd.resolution
    # a coarse rounding (fn's own forward in a low dtype) makes even a doubled gradient inconclusive
    coarse = FDTruth(fd, 1e-9, rounding=10 * MAX_RESOLUTION)
    assert judge(coarse.measurements({"x": 2 * grads["x"], "w": grads["w"]})[ALL]).inconclusive


@pytest.mark.parametrize("directions", [1, 2])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("which", ["x", "w"])
def test_a_non_finite_gradient_fails_against_finite_differences(bad: float, which: str, directions: int) -> None:
    grads = {"x": _t(0.0, 0.0, 0.0), "w": _t(0.0, 0.0, 0.0)}
    # the truth is large (past the verdict's overflow scale) so that an Inf claim could pass for
    # an overflow; the other input's gradient is 0, so that judging it instead would pass
    fd = _fd([2e151, -2e151][:directions], [1e136, 1e136][:directions])
    grads[which] = _t(bad, 0.0, 0.0)
    t = FDTruth(fd, 1e-9)
    m = t.measurements(grads)[ALL]
    assert not bool(torch.isfinite(m.claimed).all())
    assert m.resolution == fd.resolution and m.tolerance == 1e-9
    v = judge(m)
    assert not v.passed and not v.inconclusive, v


def test_a_gradient_with_nan_after_a_finite_entry_fails_against_finite_differences() -> None:
    grads = {"x": _t(0.0, math.nan, 0.0), "w": _t(0.0, 0.0, 0.0)}
    v = judge(FDTruth(_fd([1.0, 1.0], [1e-13, 1e-13]), 1e-9).measurements(grads)[ALL])
    assert not v.passed


def test_fd_truth_without_directions_is_an_empty_comparison() -> None:
    fd = FiniteDifferences(torch.zeros(0, dtype=F64), torch.zeros(0, dtype=F64), [], F64)
    m = FDTruth(fd, 1e-9).measurements({})[ALL]
    assert m.claimed.numel() == 0 and m.true.numel() == 0


# ---- the result names the one finite-difference comparison "(all inputs)" ----------------------
def test_a_check_without_a_reference_reports_all_inputs_as_one() -> None:
    res = mc.check_backward(lambda x, w: x * w, inputs={"x": mc.vector("n"), "w": mc.vector("n")},
                            sizes={"n": 3}, probes=2)
    assert res.passed, str(res)
    assert set(res.grad_errors) == {"(all inputs)"} == set(res.grad_tolerances)


# ---- below float64: FACTOR x the reference's own error + the dtype's tolerance -----------------
def test_the_low_precision_tolerance_is_factor_times_autograd_plus_the_floor() -> None:
    assert FACTOR == 8.0  # the policy measured by the 100-seed sweep (judge.py's docstring)
    res = mc.check_backward(torch.tanh, inputs={"x": mc.vector("n")}, reference=lambda x: torch.tanh(x),
                            dtype=torch.float32, sizes={"n": 64})
    assert res.passed, str(res)
    assert res.low_precision is not None
    own = res.low_precision["autograd"]
    assert own > 0
    assert res.grad_tolerances["x"] == pytest.approx(8.0 * own + tolerance(torch.float32, 64), rel=1e-12, abs=0)
