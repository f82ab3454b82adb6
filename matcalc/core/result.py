"""Result: the outcome of one check, and how it explains itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from matcalc.core.mismatch import Mismatch


@dataclass
class Result:
    """The outcome of one check. ``str(result)`` explains it."""

    rule: str
    passed: bool
    error: float
    tolerance: float
    oracle: str
    device: str
    dtype: str
    sizes: dict[str, int]
    seed: int
    refuted: bool = False
    counterexample: dict[str, torch.Tensor] | None = None
    message: str = ""
    hints: list[str] = field(default_factory=list)
    mismatch: Mismatch | None = None
    claim_shape: tuple[int, ...] | None = None
    true_shape: tuple[int, ...] | None = None
    rates: list[float | None] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # Why the question could not be decided (overflow, a sample outside f's domain, a dtype too
    # coarse); non-empty makes the outcome "inconclusive", which never counts as a pass.
    inconclusive: str = ""
    # The smallest relative error the oracle that ran reliably detects at this dtype and size.
    resolution: float | None = None
    # Why the oracle that ran was chosen (auto's reasoning), for the user.
    why_oracle: str = ""
    # A low-precision check decides the formula in float64; this is how far the claim evaluated in
    # the check's own dtype is from the truth (relative), next to autograd's own error in that dtype.
    low_precision: dict[str, float] | None = None
    # Every size assignment the check ran at (a default check runs at two).
    sizes_checked: list[dict[str, int]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """One of "pass", "fail" or "inconclusive"."""
        if self.inconclusive:
            return "inconclusive"
        return "pass" if self.passed else "fail"

    @property
    def as_expected(self) -> bool:
        """True rules should pass; errata (refuted=True) should fail; inconclusive is neither."""
        return not self.inconclusive and self.passed != self.refuted

    def context(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return f"{dims} on {self.device}/{self.dtype}, seed={self.seed}, oracle={self.oracle}"

    def __str__(self) -> str:
        head = f"{self.outcome.upper()} {self.rule} [{self.context()}]: "
        shown_message = False
        if self.inconclusive:
            head += "undecided"
        elif not self.passed and math.isinf(self.error) and self.message:
            # No relative error exists (a wrong shape, NaN): "inf > tolerance 0" says nothing.
            head += self.message
            shown_message = True
        else:
            head += f"relative error {self.error:.3g} {'<=' if self.passed else '>'} " \
                    f"tolerance {self.tolerance:.3g}"
        if self.resolution is not None and not self.inconclusive and not shown_message:
            head += f" (resolution {self.resolution:.2g})"
        lines = [head]
        if self.inconclusive:
            lines.append(f"  inconclusive: {self.inconclusive}")
        if self.message and not shown_message:
            lines.append(f"  {self.message}")
        if self.claim_shape is not None and not self.passed and not self.inconclusive:
            lines.append(f"  shapes: claim {self.claim_shape}, true {self.true_shape}")
        if self.mismatch is not None and not self.passed:
            lines.append(f"  {self.mismatch.describe()}")
        lines.extend(f"  hint: {h}" for h in self.hints)
        if self.low_precision:
            parts = ", ".join(f"{k} {v:.2g}" for k, v in self.low_precision.items())
            lines.append(f"  in {self.dtype}: relative error of {parts} (the verdict is float64's)")
        if len(self.sizes_checked) > 1:
            lines.append("  sizes checked: " + "; ".join(
                ", ".join(f"{k}={v}" for k, v in s.items()) for s in self.sizes_checked))
        if self.refuted:
            lines.append("  (erratum: expected to fail)" if not self.passed
                         else "  (erratum passed: the refutation did not reproduce)")
        return "\n".join(lines)
