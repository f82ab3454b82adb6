"""Result: the outcome of one check, and how it explains itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from matcalc import diagnose


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
    mismatch: diagnose.Mismatch | None = None
    claim_shape: tuple[int, ...] | None = None
    true_shape: tuple[int, ...] | None = None
    rates: list[float | None] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def as_expected(self) -> bool:
        """True rules should pass; errata (refuted=True) should fail."""
        return self.passed != self.refuted

    def context(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return f"{dims} on {self.device}/{self.dtype}, seed={self.seed}, oracle={self.oracle}"

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        head = f"{verdict} {self.rule} [{self.context()}]: "
        if self.oracle == "taylor":
            head += f"remainder rates {self._rates()} (need >= expected - 0.5)"
        else:
            head += f"relative error {self.error:.3g} {'<=' if self.passed else '>'} " \
                    f"tolerance {self.tolerance:.3g}"
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        if self.claim_shape is not None and not self.passed:
            lines.append(f"  shapes: claim {self.claim_shape}, true {self.true_shape}")
        if self.mismatch is not None and not self.passed:
            lines.append(f"  {self.mismatch.describe()}")
        lines.extend(f"  hint: {h}" for h in self.hints)
        if self.refuted:
            lines.append("  (erratum: expected to fail)" if not self.passed
                         else "  (erratum passed: the refutation did not reproduce)")
        return "\n".join(lines)

    def _rates(self) -> str:
        return "[" + ", ".join("exact" if r is None else f"{r:.2f}" for r in self.rates or []) + "]"
