"""The tolerance policy (matcalc/core/tolerance.py), pinned where mutation testing found it loose.

Each test names the class of defect it guards against; bench/results/mutation.md maps the mutants
of the module to these tests. The policy's numbers are pinned exactly: a tolerance that drifts by a
factor (a power of KAPPA, a lost sqrt, a safety constant) passes wrong claims or fails true ones
without any end-to-end test noticing at the default sizes.
"""

from __future__ import annotations

import math

import pytest
import torch

from matcalc.core import tolerance as tol
from matcalc.core.tolerance import (
    TINY,
    eps,
    fd_tolerance,
    low_precision_tolerance,
    norm,
    pass_floor,
    relative_error,
    rms,
    tolerance,
)

F64, F32 = torch.float64, torch.float32


def _t(*values: float, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# ---- eps and the tolerance's formula ----------------------------------------------------------


def test_eps_is_the_dtype_machine_epsilon() -> None:
    """Defect: eps of the wrong dtype (or a constant), which rescales every bound."""
    assert eps(F64) == 2.0**-52
    assert eps(F32) == 2.0**-23
    assert eps(torch.bfloat16) == 2.0**-7


@pytest.mark.parametrize("size", [1, 4, 100, 8192])
def test_the_plain_tolerance_is_64_eps_sqrt_size(size: int) -> None:
    """Defect: the growth with size is not sqrt(size) (a lost sqrt, an off-by-one floor, a wrong
    safety constant), so large checks pass wrong claims or small ones fail true ones."""
    assert tolerance(F64, size) == pytest.approx(64 * 2.0**-52 * math.sqrt(size), rel=1e-15, abs=0)
    assert tolerance(F32, size) == pytest.approx(64 * 2.0**-23 * math.sqrt(size), rel=1e-15, abs=0)


def test_a_size_of_zero_counts_as_one() -> None:
    """Defect: an empty comparison gets a zero (or a larger) bound instead of the size-1 one."""
    assert tolerance(F64, 0) == tolerance(F64, 1) == 64 * 2.0**-52


def test_a_plain_check_is_not_conditioned_by_default() -> None:
    """Defect: the default ``conditioned`` widens every check by KAPPA**2."""
    assert tolerance(F64, 9) == tolerance(F64, 9, False) == pytest.approx(3 * 64 * 2.0**-52, abs=0)


def test_the_conditioned_float64_tolerance_is_kappa_squared_exactly() -> None:
    """Defect: the conditioned tolerance's power of KAPPA raised (2 -> 4 survived a mutation run
    from outside) or its base changed: float64 must widen by exactly KAPPA**2 = 100, and the
    lower dtypes (whose rows bound only the accuracy report) by KAPPA."""
    for size in (1, 25):
        assert tolerance(F64, size, True) == pytest.approx(100 * tolerance(F64, size), rel=1e-15, abs=0)
        assert tolerance(F32, size, True) == pytest.approx(10 * tolerance(F32, size), rel=1e-15, abs=0)
    # the bound a wrong formula (DESIGN's 1e-6) must stay outside of, at the largest default sizes
    assert tolerance(F64, 8192, True) < 1e-9


def test_the_low_dtype_rows_have_safety_4() -> None:
    """Defect: a low dtype given float64's safety (64), which lets its accuracy report pass an
    all-zero Jacobian."""
    assert tolerance(torch.float16, 4) == pytest.approx(4 * 2.0**-10 * 2, rel=1e-15, abs=0)
    assert tolerance(torch.bfloat16, 4) == pytest.approx(4 * 2.0**-7 * 2, rel=1e-15, abs=0)


def test_the_low_precision_and_fd_tolerances_add_their_allowances() -> None:
    """Defect: the low-precision allowance (8 x the truth's own error) or the finite-difference
    one (4 x its rounding, never below the dtype's) scaled, dropped or combined the wrong way."""
    assert low_precision_tolerance(0.0, F64, 16) == tolerance(F64, 16)
    assert low_precision_tolerance(1e-6, F32, 16) == pytest.approx(8e-6 + tolerance(F32, 16), rel=1e-15)
    assert fd_tolerance(1e-12, 1e-14) == pytest.approx(4e-12, rel=1e-15)
    assert fd_tolerance(1e-16, 1e-14) == 1e-14


# ---- the norm and the rms in units of the largest entry ---------------------------------------


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_the_norm_is_exact_at_every_scale(scale: float) -> None:
    """Defect: the norm is taken without the unit (squares overflow past 1e154 and underflow below
    1e-154), or the unit is applied the wrong way round."""
    assert norm(scale * _t(3.0, -4.0)) == pytest.approx(5 * scale, rel=1e-15, abs=0)
    assert norm(scale * _t(2.0)) == pytest.approx(2 * scale, rel=1e-15, abs=0)


def test_the_norm_of_empty_zero_and_non_finite_tensors() -> None:
    """Defect: the special cases (no entries, all zero, an infinity, a NaN) fall through to the
    division by the unit, which turns them into NaN or a wrong number."""
    assert norm(torch.zeros(0, dtype=F64)) == 0.0
    assert norm(torch.zeros(3, dtype=F64)) == 0.0
    assert norm(_t(1.0, math.inf)) == math.inf
    assert math.isnan(norm(_t(1.0, math.nan)))


def test_the_norm_of_a_float32_tensor_is_taken_in_float64() -> None:
    """Defect: the norm accumulated in the tensor's own (low) dtype, off by ~1e-7 relative."""
    x = torch.rand(4097, generator=torch.Generator().manual_seed(0), dtype=F32) + 0.1
    exact = float(torch.linalg.vector_norm(x.to(F64)))
    assert norm(x) == pytest.approx(exact, rel=1e-13, abs=0)
    assert norm(x.requires_grad_()) == pytest.approx(exact, rel=1e-13, abs=0)


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_the_rms_is_exact_at_every_scale(scale: float) -> None:
    """Defect: the rms loses its unit (overflow, underflow) or its 1/sqrt(n)."""
    assert rms(scale * _t(3.0, -4.0)) == pytest.approx(scale * math.sqrt(12.5), rel=1e-15, abs=0)


def test_the_rms_of_a_float32_tensor_is_taken_in_float64() -> None:
    """Defect: the rms accumulated in the tensor's own (low) dtype, off by ~1e-7 relative."""
    x = torch.rand(4097, generator=torch.Generator().manual_seed(2), dtype=F32) + 0.1
    exact = float(torch.linalg.vector_norm(x.to(F64))) / math.sqrt(4097)
    assert rms(x) == pytest.approx(exact, rel=1e-13, abs=0)


def test_the_rms_of_empty_zero_and_non_finite_tensors() -> None:
    """Defect: a non-finite tensor's rms is NaN (so a floor built from it compares false with
    everything) instead of inf, or an empty or zero tensor's rms is not 0."""
    assert rms(torch.zeros(0, dtype=F64)) == 0.0
    assert rms(torch.zeros(5, dtype=F64)) == 0.0
    assert rms(_t(1.0, math.inf)) == math.inf
    assert rms(_t(1.0, math.nan)) == math.inf


def test_the_pass_floor_is_the_largest_rms_scaled_to_the_tensor() -> None:
    """Defect: the zero-truth floor taken from one tensor instead of the largest of the pass, or
    not scaled by sqrt(entries) of the tensor judged (a scalar counts as one entry)."""
    truths = {"x": torch.full((4,), 3.0, dtype=F64), "b": torch.zeros(9, dtype=F64),
              "s": torch.tensor(0.0, dtype=F64), "y": torch.full((2,), 1.0, dtype=F64)}
    assert pass_floor(truths, "b") == pytest.approx(9.0, rel=1e-15)
    assert pass_floor(truths, "s") == pytest.approx(3.0, rel=1e-15)
    assert pass_floor(truths, "y") == pytest.approx(3.0 * math.sqrt(2), rel=1e-15)
    assert pass_floor({"e": torch.zeros(0, dtype=F64)}, "e") == 0.0


# ---- the relative error -----------------------------------------------------------------------


def test_the_relative_error_is_normwise_against_the_truth() -> None:
    """Defect: the error's numerator or denominator mixed up (a sum for a difference, the claim's
    norm for the truth's)."""
    assert relative_error(_t(2.0), _t(1.0)) == 1.0
    assert relative_error(_t(3.0, 4.0), _t(0.0, 4.0)) == pytest.approx(3 / 4, rel=1e-15)
    assert relative_error(_t(1.0, 1.0), _t(1.0, 1.0)) == 0.0


@pytest.mark.parametrize("scale", [1e-310, 1e-200, 1e300])
def test_the_relative_error_is_exact_at_every_scale(scale: float) -> None:
    """Defect: the error is measured without its unit, so that it overflows near float64's top
    or is swamped by the TINY guard among subnormals (1e-310 is below TINY = 2.2e-308)."""
    assert relative_error(scale * _t(2.0), scale * _t(1.0)) == pytest.approx(1.0, rel=1e-12, abs=0)


def test_the_unit_is_the_largest_entry_of_either_side() -> None:
    """Defect: the unit taken from one side only, so that a claim (or a truth) near float64's top
    overflows the norm of the other side's differences: the error turns inf or NaN where it is
    an ordinary number; and an empty comparison (no entries on either side) raises instead of
    giving the error 0."""
    ones = _t(1.0, 1.0)
    # in units of the claim the truth's squares are subnormal (1e-320): a few digits survive
    assert relative_error(_t(1e160, 1e160), ones) == pytest.approx(1e160, rel=1e-2)
    assert relative_error(ones, _t(1e300, 1e300)) == pytest.approx(1.0, rel=1e-12)
    empty = torch.zeros(0, dtype=F64)
    assert relative_error(empty, empty) == 0.0


def test_the_floor_is_compared_in_the_same_unit() -> None:
    """Defect: the floor (a zero truth's scale) divided by the wrong unit or not at all, so that a
    claim 1e-3 off a zero truth with a floor of 1 is judged at the wrong scale; the default floor
    is 0, so a small truth is never compared against an absolute 1."""
    assert relative_error(_t(1e-3), _t(0.0), floor=1.0) == pytest.approx(1e-3, rel=1e-15, abs=0)
    assert relative_error(_t(2e-3), _t(1e-3)) == pytest.approx(1.0, rel=1e-15, abs=0)


def test_a_nonzero_claim_against_an_exact_zero_without_floor_is_enormous() -> None:
    """Defect: the TINY guard dropped (a division by zero) or replaced (a finite error for a
    nonzero claim of a zero truth that has no scale)."""
    assert relative_error(_t(1.0), _t(0.0)) == pytest.approx(1 / TINY, rel=1e-15)
    assert relative_error(_t(0.0), _t(0.0)) == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_side_is_an_infinite_error(bad: float) -> None:
    """Defect: NaN or an infinity on either side slips through (NaN compares false with every
    bound, so a NaN error would never fail a claim)."""
    assert relative_error(_t(1.0, bad), _t(1.0, 1.0)) == math.inf
    assert relative_error(_t(1.0, 1.0), _t(1.0, bad)) == math.inf


def test_a_complex_side_is_an_infinite_error() -> None:
    """Defect: a complex claim or truth compared by its real part."""
    c = torch.tensor([1.0 + 0j], dtype=torch.complex128)
    assert relative_error(c, _t(1.0)) == math.inf
    assert relative_error(_t(1.0), c) == math.inf


def test_the_relative_error_of_float32_tensors_is_taken_in_float64() -> None:
    """Defect: the error accumulated in float32, off by ~1e-7 relative to the float64 value."""
    g = torch.Generator().manual_seed(1)
    c = torch.rand(4097, generator=g, dtype=F32) + 0.5
    t = torch.rand(4097, generator=g, dtype=F32) + 0.5
    c64, t64 = c.to(F64), t.to(F64)
    exact = float(torch.linalg.vector_norm(c64 - t64) / torch.linalg.vector_norm(t64))
    assert relative_error(c, t) == pytest.approx(exact, rel=1e-13, abs=0)


def test_the_module_constants_the_verdict_reads() -> None:
    """Defect: a constant of the policy drifts (module constants are not mutated by mutmut, so
    they are pinned here): KAPPA, the safeties, the rounding cap and the resolution bound."""
    assert tol.KAPPA == 10.0
    assert tol.KAPPA_POWER[F64] == 2 and tol.KAPPA_POWER[F32] == 1
    assert tol.SAFETY[F64] == tol.SAFETY[F32] == 64.0
    assert tol.ROUNDING_SAFETY == 64.0 and tol.ROUNDING_CAP == 1e-10
    assert tol.MAX_RESOLUTION == 1e-2 and tol.FD_SAFETY == 4.0 and tol.LOW_PRECISION_FACTOR == 8.0
    assert tol.TINY == 2.0**-1022 and tol.SUBNORMAL == 2.0**-1074
