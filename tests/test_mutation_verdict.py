"""The verdict (matcalc/engine/verdict.py), pinned where mutation testing found it loose.

Each test builds measurements by hand, so each rule of the verdict is tested at its boundary:
the worst of several comparisons decides, the resolution guard, the truth's own error, values
that do not fit float64, a zero truth, and the sides' measured rounding (a difference within it
passes while the rounding is small, and is an ill-conditioned sample past ROUNDING_CAP).
bench/results/mutation.md maps the module's mutants to these tests.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from matcalc.core.tolerance import MAX_RESOLUTION, ROUNDING_CAP, ROUNDING_SAFETY, SUBNORMAL
from matcalc.engine.verdict import OVERFLOW_SCALE, SUBNORMAL_SPACINGS, TRUTH_SLACK, judge
from matcalc.oracles.base import Measurement, combined

F64 = torch.float64
ONES = torch.ones(4, dtype=F64)


def _m(claimed: torch.Tensor, true: torch.Tensor = ONES, tol: float = 1e-9, **kw) -> Measurement:  # type: ignore[no-untyped-def]
    fields = {"resolution": tol, "floor": 0.0, **kw}
    return Measurement(claimed=claimed, true=true, tolerance=tol, **fields)


# ---- the worst comparison decides -------------------------------------------------------------


def test_a_fail_in_any_comparison_fails_and_the_largest_fail_is_reported() -> None:
    """Defect: the verdict keeps the more lenient of several comparisons (a pass, or the smaller
    of two fails), so a wrong form beside a right one passes."""
    m = combined([_m(ONES), _m(ONES * 1.5, what="b"), _m(ONES * 3, what="c"), _m(ONES)])
    v = judge(m)
    assert not v.passed and not v.inconclusive and v.part == 2 and v.error == pytest.approx(2.0)
    inf_fail = combined([_m(ONES * 3), _m(torch.full((4,), math.nan, dtype=F64))])
    assert judge(inf_fail).part == 1 and judge(inf_fail).error == math.inf


def test_a_fail_beats_an_inconclusive_and_an_inconclusive_beats_a_pass() -> None:
    """Defect: an inconclusive comparison hides a fail, or a pass hides an inconclusive."""
    unsure = _m(ONES, inconclusive="no idea")
    v = judge(combined([_m(ONES), unsure, _m(ONES * 2)]))
    assert not v.passed and not v.inconclusive and v.part == 2
    v = judge(combined([_m(ONES), _m(ONES, inconclusive="first"), _m(ONES, inconclusive="second")]))
    assert not v.passed and v.inconclusive == "first" and v.part == 1


def test_among_passes_the_largest_error_relative_to_its_tolerance_is_reported() -> None:
    """Defect: the reported pass is not the one closest to its bound (the error in the result
    understates how close the check came to failing); a pass with tolerance 0 (an exact match)
    is ranked by its error, never divided by 0."""
    def a() -> Measurement:
        return _m(ONES * (1 + 4e-10), tol=1e-9)    # 0.4 of its bound

    def b() -> Measurement:
        return _m(ONES * (1 + 8e-10), tol=1e-8)    # 0.08 of its bound, larger error

    v = judge(combined([b(), a()]))
    assert v.passed and v.part == 1 and v.error == pytest.approx(4e-10, rel=1e-6)
    v = judge(combined([a(), b()]))
    assert v.passed and v.part == 0
    v = judge(combined([_m(ONES, tol=0.0, resolution=0.0), b()]))
    assert v.passed and v.part == 1


def test_nudged_measurements_are_matched_part_by_part() -> None:
    """Defect: a nudged measurement's parts compared with another part (or one of another shape),
    so the rounding of one comparison excuses another."""
    near = ONES * (1 + 1e-12)
    m = combined([_m(ONES, tol=1e-14), _m(near, tol=1e-14)])
    moved = combined([_m(ONES, tol=1e-14), _m(near * (1 + 1e-13), tol=1e-14)])
    assert judge(m, nudged=[moved]).passed
    # the same nudge offered only for the first part excuses nothing in the second
    assert not judge(m, nudged=[combined([_m(near * (1 + 1e-13), tol=1e-14)])]).passed
    wrong_shape = combined([_m(ONES, tol=1e-14), _m(torch.ones(5, dtype=F64), torch.ones(5, dtype=F64),
                                                    tol=1e-14)])
    assert not judge(m, nudged=[wrong_shape]).passed


# ---- one comparison ---------------------------------------------------------------------------


def test_a_complex_or_misshapen_claim_fails_with_its_reason() -> None:
    """Defect: a complex claim compared by its real part, or a claim of the wrong shape broadcast
    against the truth."""
    v = judge(_m(ONES.to(torch.complex128)))
    assert not v.passed and not v.inconclusive and "complex" in v.message and v.error == math.inf
    v = judge(_m(torch.ones(1, dtype=F64)))
    assert not v.passed and not v.inconclusive and "shape mismatch" in v.message and "(1,)" in v.message


def test_an_oracle_that_could_not_decide_is_inconclusive() -> None:
    """Defect: the oracle's own inconclusive reason dropped, so its numbers decide."""
    v = judge(_m(ONES, inconclusive="did not converge"))
    assert not v.passed and v.inconclusive == "did not converge"


def test_a_non_finite_truth_is_inconclusive() -> None:
    """Defect: a truth with NaN or Inf passes or fails a claim."""
    for bad in (math.nan, math.inf):
        v = judge(_m(ONES, _t_with(bad)))
        assert not v.passed and "not finite" in v.inconclusive


def _t_with(bad: float) -> torch.Tensor:
    t = ONES.clone()
    t[1] = bad
    return t


def test_a_non_finite_claim_fails_unless_the_values_overflow() -> None:
    """Defect: a NaN or Inf claim passes, is called an overflow where the truth is small, or is
    called wrong where the truth (or f) is past the overflow scale."""
    bad = ONES.clone()
    bad[0], bad[1], bad[2] = math.nan, math.inf, -math.inf
    v = judge(_m(bad))
    assert not v.passed and not v.inconclusive and "(1 NaN, 2 Inf)" in v.message
    assert "overflows" in judge(_m(bad, ONES * OVERFLOW_SCALE * 2)).inconclusive
    assert not judge(_m(bad, ONES * OVERFLOW_SCALE)).inconclusive  # exactly the scale: not past it
    assert "overflows" in judge(_m(bad), out=torch.tensor([OVERFLOW_SCALE * 2, math.inf], dtype=F64)).inconclusive
    assert not judge(_m(bad), out=torch.tensor([1.0, math.inf], dtype=F64)).inconclusive


def test_a_comparison_coarser_than_max_resolution_is_inconclusive() -> None:
    """Defect: the resolution guard dropped or moved (it survived a mutation run from outside): a
    comparison that resolves only errors above 1e-2 cannot pass a claim, even an exact one; at
    exactly MAX_RESOLUTION it still decides."""
    assert MAX_RESOLUTION == 1e-2
    v = judge(_m(ONES, tol=1e-1, resolution=MAX_RESOLUTION * 1.01))
    assert not v.passed and "too coarse" in v.inconclusive and v.error == 0.0
    assert judge(_m(ONES, tol=1e-1, resolution=MAX_RESOLUTION)).passed


def test_a_truth_known_coarsely_is_inconclusive_and_never_widens_the_tolerance() -> None:
    """Defect: the truth's own error (finite differences) not compared with TRUTH_SLACK
    tolerances, or allowed to widen the tolerance; at exactly the slack the truth still decides."""
    tol = 1e-9
    size = 2.0  # norm of ONES
    assert TRUTH_SLACK == 10.0
    assert judge(_m(ONES, tol=tol, truth_error=TRUTH_SLACK * tol * size)).passed
    v = judge(_m(ONES, tol=tol, truth_error=TRUTH_SLACK * tol * size * 1.01))
    assert not v.passed and "known only" in v.inconclusive
    # a difference within the truth's error but beyond the tolerance: inconclusive, not a pass
    v = judge(_m(ONES * (1 + 1e-6), tol=tol, truth_error=1e-5))
    assert not v.passed and v.inconclusive
    # beyond both: a fail
    v = judge(_m(ONES * 2, tol=tol, truth_error=1e-5))
    assert not v.passed and not v.inconclusive


def test_the_truths_error_is_relative_to_the_truth_or_its_floor() -> None:
    """Defect: the truth's error measured against the wrong size: the floor when the truth is
    larger, or nothing when the truth is zero (a zero truth with an error is unknown, not 0)."""
    tol = 1e-9
    zero = torch.zeros(4, dtype=F64)
    assert judge(_m(zero, zero, tol=tol, floor=1.0, truth_error=TRUTH_SLACK * tol)).passed
    assert not judge(_m(zero, zero, tol=tol, floor=1.0, truth_error=TRUTH_SLACK * tol * 1.01)).passed
    v = judge(_m(zero, zero, tol=tol, truth_error=1e-30))
    assert not v.passed and v.inconclusive
    assert judge(_m(zero, zero, tol=tol)).passed


def test_subnormal_differences_are_inconclusive() -> None:
    """Defect: a difference of a few subnormal spacings (values that keep only a few bits) failed
    as a wrong formula, or a difference above them excused."""
    true = ONES * SUBNORMAL * 4096
    at = true.clone()
    at[0] += SUBNORMAL_SPACINGS * SUBNORMAL
    v = judge(_m(at, true, tol=1e-12))
    assert not v.passed and "subnormal" in v.inconclusive
    past = true.clone()
    past[0] += 2 * SUBNORMAL_SPACINGS * SUBNORMAL
    v = judge(_m(past, true, tol=1e-12))
    assert not v.passed and not v.inconclusive


def test_a_zero_truth_without_scale_fails_any_nonzero_claim() -> None:
    """Defect: a claim that is not 0 against an exact zero truth without floor is excused (or a
    floor given to it ignored)."""
    zero = torch.zeros(4, dtype=F64)
    v = judge(_m(ONES * 1e-3, zero))
    assert not v.passed and not v.inconclusive and v.zero_truth and "0 everywhere" in v.message
    v = judge(_m(ONES * 1e-3, zero, floor=1.0))
    assert not v.passed and not v.zero_truth


# ---- the sides' measured rounding -------------------------------------------------------------


def _nudged(claim_rel: float, true_rel: float = 0.0, floor: float = 0.0, base: torch.Tensor = ONES,
            claimed: torch.Tensor | None = None) -> Measurement:
    c = base if claimed is None else claimed
    return _m(c * (1 + claim_rel), base * (1 + true_rel), floor=floor)


def test_a_difference_within_the_measured_rounding_passes_with_that_bound() -> None:
    """Defect: the measured rounding not used (a true rule fails at an ill-conditioned but
    decidable sample), or used without ROUNDING_SAFETY, or reported as the wrong bound."""
    claimed = ONES * (1 + 1e-12)
    m = _m(claimed, tol=1e-14)
    assert not judge(m).passed
    v = judge(m, nudged=[_nudged(1e-13, claimed=claimed)])
    moved = float(torch.linalg.vector_norm(claimed * 1e-13))
    assert v.passed and v.tolerance == pytest.approx(ROUNDING_SAFETY * moved / 2.0, rel=1e-3)
    # the worst of several nudges counts: one that moves nothing does not hide another
    assert judge(m, nudged=[_nudged(0.0, claimed=claimed), _nudged(1e-13, claimed=claimed)]).passed
    # the truth's movement counts as much as the claim's
    assert judge(m, nudged=[_nudged(0.0, true_rel=1e-13, claimed=claimed)]).passed
    # a movement too small to explain the difference: a fail
    v = judge(m, nudged=[_nudged(1e-15, claimed=claimed)])
    assert not v.passed and not v.inconclusive and "values differ" in v.message


def test_a_rounding_past_the_cap_is_an_ill_conditioned_sample() -> None:
    """Defect: a sample whose rounding exceeds ROUNDING_CAP passes (any formula is within such a
    rounding), or fails as a wrong formula: it is inconclusive. At the cap it still decides."""
    claimed = ONES * (1 + 1e-9)
    m = _m(claimed, tol=1e-14)
    v = judge(m, nudged=[_nudged(2 * ROUNDING_CAP, claimed=claimed)])
    assert not v.passed and "ill-conditioned" in v.inconclusive
    v = judge(m, nudged=[_nudged(0.6 * ROUNDING_CAP, true_rel=0.6 * ROUNDING_CAP, claimed=claimed)])
    assert not v.passed and "ill-conditioned" in v.inconclusive  # both sides' movements add up
    assert judge(m, nudged=[_nudged(0.99 * ROUNDING_CAP, claimed=claimed)]).passed


def test_a_truth_that_is_rounding_noise_is_a_zero_truth() -> None:
    """Defect: a truth that is rounding noise at f's natural scale compared relatively (any claim
    fails), or a nonzero claim accepted against it, or a truth that is not noise at that scale
    taken for one."""
    tol = 1e-14
    noise_truth = ONES * 1e-20
    zero = torch.zeros(4, dtype=F64)

    def moved(claim: torch.Tensor, natural: float = 1.0) -> Measurement:
        return _m(claim, noise_truth * 11, tol=tol, floor=natural)  # the truth moves by 1e-19

    v = judge(_m(zero, noise_truth, tol=tol), nudged=[moved(zero)])
    assert v.passed and v.zero_truth
    claim = ONES * 1e-3
    v = judge(_m(claim, noise_truth, tol=tol), nudged=[moved(claim)])
    assert not v.passed and v.zero_truth and "0 up to rounding" in v.message
    # at f's natural scale of 1e-30 the truth is not negligible: no zero truth
    v = judge(_m(zero, noise_truth, tol=tol), nudged=[moved(zero, natural=1e-30)])
    assert not v.zero_truth


# ---- every branch says False (not a falsy stand-in), its error, and its whole reason ------------


def test_each_branch_reports_a_real_false_its_error_and_its_reason() -> None:
    """Defect: a branch returns ``passed=None`` (falsy, but not the bool the Result promises), an
    error of None, or a garbled reason; the texts are part of the result users read."""
    v = judge(_m(ONES.to(torch.complex128)))
    assert v.passed is False and v.message == (
        "the claim is complex; a real f has a real derivative (an imaginary part is a wrong "
        "claim, not a rounding)")
    v = judge(_m(torch.ones(1, dtype=F64)))
    assert v.passed is False and v.error == math.inf
    v = judge(_m(ONES, inconclusive="did not converge"))
    assert v.passed is False and v.error == math.inf
    v = judge(_m(ONES, _t_with(math.nan)))
    assert v.passed is False and v.error == math.inf and v.inconclusive == (
        "the true derivative is not finite at this sample (f is not differentiable there, or "
        "its derivative overflows): draw inputs inside f's domain")
    bad = ONES.clone()
    bad[0] = math.inf
    v = judge(_m(bad, ONES * OVERFLOW_SCALE * 2))
    assert v.passed is False and v.error == math.inf and v.inconclusive.endswith(
        "values do not fit float64 at this size; use smaller sizes")
    v = judge(_m(bad))
    assert v.passed is False
    v = judge(_m(ONES * 2, tol=1e-1, resolution=0.05))
    assert v.passed is False and v.error == pytest.approx(1.0) and v.inconclusive == (
        "this comparison resolves only relative errors above 0.05: too coarse "
        "to tell a wrong formula from rounding; use float64 or smaller sizes")
    v = judge(_m(ONES * (1 + 1e-6), truth_error=1e-5))
    assert v.passed is False and v.error == pytest.approx(1e-6, rel=1e-6) and v.inconclusive == (
        "the truth is known only to a relative 5e-06 here (measured: the oracle), coarser than the "
        "tolerance 1e-09: it can neither pass nor fail a claim that is 1e-06 from it; use an autograd "
        "oracle, another seed, or a sample where f is smooth")
    v = judge(_m(ONES * (1 + 1e-6), truth_error=1e-5, what="finite differences"))
    assert "(measured: finite differences)" in v.inconclusive
    true = ONES * SUBNORMAL * 4096
    v = judge(_m(true + SUBNORMAL, true, tol=1e-12))
    assert v.passed is False and v.error == pytest.approx(1 / 4096, rel=1e-6) and v.inconclusive.endswith(
        "a few spacings of float64's subnormal range (values below 2.2e-308 keep only a few "
        "significant bits): scale f up to decide")
    v = judge(_m(ONES * 1e-3, torch.zeros(4, dtype=F64)))
    assert v.passed is False
    v = judge(_m(ONES * 2, what="b"))
    assert v.passed is False and v.message == "values differ (b)"


def test_a_claim_of_nothing_but_non_finite_values_where_f_overflows_fails() -> None:
    """Defect: the largest finite value of a tensor with none crashes the verdict."""
    v = judge(_m(torch.full((4,), math.nan, dtype=F64)), out=torch.full((2,), math.inf, dtype=F64))
    assert v.passed is False and not v.inconclusive and "(4 NaN, 0 Inf)" in v.message


def test_an_inconclusive_part_with_a_finite_error_is_not_hidden_by_a_pass() -> None:
    """Defect: the inconclusive parts skipped, so the pass with the largest ratio wins even
    though another comparison could not decide."""
    coarse = _m(ONES, tol=1e-1, resolution=0.05)  # error 0, inconclusive
    v = judge(combined([_m(ONES * (1 + 4e-10)), coarse]))
    assert v.passed is False and "too coarse" in v.inconclusive


def test_the_floor_reaches_the_relative_error() -> None:
    """Defect: the comparison's floor (a zero truth's scale) not passed to the relative error:
    a claim within the tolerance of that scale fails, a wrong one gets the wrong error."""
    zero = torch.zeros(4, dtype=F64)
    assert judge(_m(ONES * 1e-12, zero, floor=1.0)).passed
    assert judge(_m(ONES * 1e-3, zero, floor=1.0)).error == pytest.approx(2e-3, rel=1e-12)


def test_a_difference_equal_to_the_truths_error_is_inconclusive() -> None:
    """Defect: the boundary of the truth's error moved: a claim exactly as far from the truth as
    the truth is known (0.5 here) can be neither passed nor failed."""
    v = judge(_m(ONES * 1.5, truth_error=1.0))  # error 0.5, known 1.0 / ||ONES|| = 0.5
    assert v.passed is False and v.inconclusive


def test_the_zero_truth_boundaries_are_inclusive() -> None:
    """Defect: a truth exactly at the measured noise, or exactly at the tolerance of f's natural
    scale, not taken for a zero truth (the boundaries are inclusive)."""
    zero = torch.zeros(4, dtype=F64)
    true = ONES * 2.0**-60                     # ||true|| = 2^-59 exactly
    # at the tolerance x natural scale: 2^-40 * 2^-19 = 2^-59
    m = _m(zero, true, tol=2.0**-40)
    v = judge(m, nudged=[_m(zero, true * 3, tol=2.0**-40, floor=2.0**-19)])
    assert v.passed and v.zero_truth
    # at the noise: 64 x ||true * 2^-6|| = 2^-59
    m = _m(zero, true, tol=1e-9)
    v = judge(m, nudged=[_m(zero, true * (1 + 2.0**-6), tol=1e-9, floor=1.0)])
    assert v.passed and v.zero_truth


def test_a_zero_truths_floor_is_the_noise_over_the_tolerance() -> None:
    """Defect: the zero truth's floor taken as noise x tolerance instead of noise / tolerance, so
    a claim within the measured noise fails against a truth that is noise."""
    tol, true = 1e-14, ONES * 1e-40
    claim = ONES * 1e-38
    v = judge(_m(claim, true, tol=tol), nudged=[_m(claim, true * 11, tol=tol, floor=1e-25)])
    assert v.passed and v.zero_truth


def test_the_ill_conditioned_reason_reports_each_sides_relative_movement() -> None:
    """Defect: the reason reports the claim's or the truth's movement scaled the wrong way."""
    claimed = ONES * (1 + 1e-9)
    m = _m(claimed, tol=1e-14)
    v = judge(m, nudged=[_m(claimed * (1 + 6e-11), ONES * (1 + 6e-11))])
    assert "changes the claim by a relative 6e-11 and the truth by 6e-11," in v.inconclusive
    assert v.passed is False and v.error == pytest.approx(1e-9, rel=1e-6)
    v = judge(m, nudged=[_m(claimed, ONES * (1 + 1e-6))])  # noise too small for the zero truth
    assert v.passed is False


def test_a_nonzero_claim_against_rounding_noise_fails_with_a_real_false() -> None:
    """Defect: the zero truth's fail and the rounding branch's fail return a falsy non-bool."""
    tol, true = 1e-14, ONES * 1e-20
    claim = ONES * 1e-3
    v = judge(_m(claim, true, tol=tol), nudged=[_m(claim, true * 11, tol=tol, floor=1.0)])
    assert v.passed is False and v.zero_truth
    v = judge(_m(ONES * (1 + 1e-12), tol=1e-14), nudged=[_m(ONES * (1 + 1e-12) * (1 + 1e-15), ONES)])
    assert v.passed is False and v.message == "values differ ()"


# ---- the bounds of the measured rounding hold at exact ties --------------------------------------
# Values are powers of two (and sqrt(x * x) == x in binary floating point), so each measured
# quantity equals its bound exactly: `<=` against `<` is then a different verdict.


def test_a_zero_truth_claim_exactly_at_the_tolerance_passes() -> None:
    """Defect: the zero truth's bound made strict (a claim exactly one tolerance from a zero truth
    fails)."""
    tol = 2.0**-20
    m = _m(torch.tensor([tol], dtype=F64), torch.zeros(1, dtype=F64), tol=tol)
    same = _m(torch.tensor([tol], dtype=F64), torch.zeros(1, dtype=F64), tol=tol, floor=1.0)
    v = judge(m, nudged=[same])
    assert v.passed and v.zero_truth and v.error == tol
    over = _m(torch.tensor([2 * tol], dtype=F64), torch.zeros(1, dtype=F64), tol=tol)
    assert not judge(over, nudged=[dataclasses.replace(same, claimed=over.claimed)]).passed


def test_a_difference_exactly_at_the_measured_rounding_passes() -> None:
    """Defect: the rounding bound made strict (a difference exactly ROUNDING_SAFETY times the
    sides' movement fails as a wrong formula)."""
    assert math.log2(ROUNDING_SAFETY).is_integer()
    moved = 2.0**-40
    claimed = torch.tensor([1 + ROUNDING_SAFETY * moved], dtype=F64)
    m = _m(claimed, torch.ones(1, dtype=F64), tol=1e-14)
    nudge = _m(claimed, torch.tensor([1 + moved], dtype=F64), tol=1e-14)
    v = judge(m, nudged=[nudge])
    assert v.passed and v.tolerance == ROUNDING_SAFETY * moved
    nudge = _m(claimed, torch.tensor([1 + moved / 2], dtype=F64), tol=1e-14)
    assert not judge(m, nudged=[nudge]).passed


def test_a_rounding_exactly_at_the_cap_still_decides() -> None:
    """Defect: the cap made strict (a sample whose measured rounding is exactly ROUNDING_CAP is
    called ill-conditioned)."""
    claimed = torch.tensor([1 + 2.0**-30, 0.0], dtype=F64)
    true = torch.tensor([1.0, 0.0], dtype=F64)
    m = _m(claimed, true, tol=1e-14)
    at_cap = _m(torch.tensor([1 + 2.0**-30, ROUNDING_CAP], dtype=F64), true, tol=1e-14)
    assert judge(m, nudged=[at_cap]).passed
    past = _m(torch.tensor([1 + 2.0**-30, 2 * ROUNDING_CAP], dtype=F64), true, tol=1e-14)
    assert "ill-conditioned" in judge(m, nudged=[past]).inconclusive
