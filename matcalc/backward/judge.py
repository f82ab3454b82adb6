"""The truths a backward is judged against, as measurements for the one verdict.

A :class:`ReferenceTruth` holds the reference's gradients (its autograd in float64) and one
tolerance per input; an :class:`FDTruth` holds finite-difference values of u^T J e along a few
directions e (matcalc/oracles/fd.py), each with its own measured error. Both turn a claimed set of
gradients into :class:`~matcalc.oracles.base.Measurement`s, and :func:`matcalc.engine.verdict.judge`
decides each one, exactly as it decides a rule: the same relative error (in units of the largest
entry), the same resolution guard, the same truth-error rule, the same NaN handling. The
tolerances, the low-precision policy and the zero-truth floor of a pass are written once, in
matcalc/core/tolerance.py; this module only says which of them each truth hands the verdict.

Example::

    >>> import torch
    >>> t = {"x": torch.ones(3, dtype=torch.float64)}
    >>> j = ReferenceTruth(t, {"x": 1e-12})
    >>> m = j.measurements({"x": 2 * t["x"]})["x"]
    >>> float(m.claimed[0]), float(m.true[0])
    (2.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import FD_SAFETY, norm, pass_floor
from matcalc.oracles.base import Measurement
from matcalc.oracles.fd import FiniteDifferences

ALL = "(all inputs)"


def finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x).all())


@dataclass
class ReferenceTruth:
    """The reference's float64 gradients and one tolerance per input."""

    truth: dict[str, torch.Tensor]
    tolerance: dict[str, float]
    # Floors fixed by the whole pass, when this truth is a subset of it (one input at a time).
    floors: dict[str, float] | None = None
    # Below float64: the reference's own error in the check's dtype, per input: the smallest
    # relative error that dtype resolves for this computation. Past the verdict's resolution guard
    # the dtype cannot decide (f underflows, say): inconclusive, never a wider tolerance.
    resolutions: dict[str, float] | None = None

    def floor(self, name: str) -> float:
        """The zero-truth floor of ``name``: the largest true gradient of the pass, per entry of
        every input, expressed for ``name``'s number of entries."""
        if self.floors is not None:
            return self.floors[name]
        return pass_floor(self.truth, name)

    def measurements(self, grads: Mapping[str, torch.Tensor]) -> dict[str, Measurement]:
        out = {}
        for name, true in self.truth.items():
            claim = grads[name]
            out[name] = Measurement(
                claimed=claim.detach(), true=true, tolerance=self.tolerance[name],
                resolution=0.0 if self.resolutions is None else self.resolutions.get(name, 0.0),
                floor=self.floor(name), what=f"the gradient of {name!r} against the reference's autograd")
        return out


@dataclass
class FDTruth:
    """Finite differences of fn's forward along a few directions, with their measured errors.

    ``tol`` is fixed before they are measured (matcalc.core.tolerance.fd_tolerance); their
    measured error is the truth's error, which the verdict weighs against it."""

    fd: FiniteDifferences
    tol: float
    # Below float64, with a float64 truth: fn's own forward error in the check's dtype (how much
    # this computation rounds there): the comparison resolves nothing finer.
    rounding: float = 0.0

    @property
    def tolerance(self) -> dict[str, float]:
        return {ALL: self.tol}

    def measurements(self, grads: Mapping[str, torch.Tensor]) -> dict[str, Measurement]:
        names = self.fd.directions[0].keys() if self.fd.directions else ()
        if not all(finite(grads[n]) for n in names):
            bad = next(n for n in names if not finite(grads[n]))
            flat = grads[bad].detach().reshape(-1)
            claimed = flat[~torch.isfinite(flat)][:1].to(torch.float64)  # a non-finite entry
            return {ALL: Measurement(claimed=claimed, true=torch.zeros_like(claimed), tolerance=self.tol,
                                     resolution=self.fd.resolution, floor=0.0,
                                     what=f"the gradient of {bad!r} is not finite")}
        return {ALL: self.compare(self.fd.project(grads), f"u^T J v along {len(self.fd.directions)} "
                                  "random directions against finite differences")}

    def rounding_note(self) -> str:
        """Why these differences cannot decide, when fn's own rounding is the reason: its values
        are large beside what they move by (a large constant part), so that f's rounding alone,
        from eps and the step, is coarser than the tolerance. "" otherwise (values in the
        subnormal range round for another reason; a kink says so itself).

        >>> fd = FiniteDifferences(torch.tensor([1e-6], dtype=torch.float64),
        ...                        torch.tensor([1e-6], dtype=torch.float64),
        ...                        [{"x": torch.ones(1, dtype=torch.float64)}], torch.float64, unit=1e12,
        ...                        rounding=torch.tensor([1e-6], dtype=torch.float64))
        >>> FDTruth(fd, 1e-8).rounding_note()[:60]
        "fn's output does not move beyond the rounding of its large c"
        """
        fd = self.fd
        coarse = FD_SAFETY * fd.rounding_resolution
        if fd.kinks or not coarse > self.tol or not fd.unit >= torch.finfo(fd.dtype).tiny:
            return ""
        seen = ("are that rounding alone" if fd.rounding_resolution >= 1 else
                f"resolve only relative errors above {fd.rounding_resolution:.2g}")
        return (f"fn's output does not move beyond the rounding of its large constant part (about "
                f"{fd.unit:.3g}): finite differences of its forward {seen}; pass reference= (a "
                "plain-PyTorch forward of the same function, whose autograd is then the truth), or "
                "check fn without the constant")

    def compare(self, claimed: torch.Tensor, what: str) -> Measurement:
        """The claim's side of u^T J e (in the units of ``fd.values``) against the differences."""
        kinks = ""
        if self.fd.kinks:
            kinks = (f"fn's one-sided slopes differ at these inputs along {self.fd.kinks} of "
                     f"{len(self.fd.directions)} directions: fn is not differentiable here (a kink: "
                     "relu or abs at 0, a tie in a max), so its gradient is not unique; use another seed")
        return Measurement(
            claimed=claimed, true=self.fd.values, tolerance=self.tol,
            resolution=max(self.fd.resolution, self.rounding), floor=0.0, materialized=False,
            truth_error=FD_SAFETY * norm(self.fd.errors), inconclusive=kinks, what=what)


Truth = ReferenceTruth | FDTruth
