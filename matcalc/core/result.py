"""Result: the outcome of one check, and how it explains itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from matcalc.core.mismatch import Mismatch


@dataclass
class Result:
    """The outcome of one check: what :func:`matcalc.check` returns. ``str(result)`` explains it.

    >>> import torch, matcalc as mc
    >>> rule = mc.Rule(name="twice_Ax", f=lambda x, A: x @ A @ x, derivative=lambda x, A: 2 * A @ x,
    ...                wrt="x", inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")})
    >>> res = mc.check(rule, dtype=torch.float64, sizes={"n": 4}, seed=0)
    >>> res.passed, res.outcome, res.error > res.tolerance, sorted(res.counterexample)
    (False, 'fail', True, ['A', 'x'])
    >>> print(str(res).splitlines()[0])  # doctest: +ELLIPSIS
    FAIL twice_Ax [n=4 on cpu/float64, seed=0, oracle=jacobian]: relative error ... > tolerance ...

    A check ends in one of three outcomes (:attr:`outcome`): ``"pass"``, ``"fail"``, or
    ``"inconclusive"`` when the question cannot be decided at this dtype and size; only a pass
    has ``passed`` True. Results are made by the engine; users read them.

    Attributes:
        rule: the rule's name.
        passed: True only for a pass; never for an inconclusive check, never with NaN anywhere.
        error: the normwise relative error ||claim - truth|| / ||truth|| (with a small absolute
            floor where the truth is near 0); ``inf`` when no relative error exists (a wrong
            shape, NaN or Inf in the claim).
        tolerance: the bound the error was compared with, c * eps(dtype) * growth(size,
            conditioning); ``passed`` needs ``error <= tolerance``.
        oracle: the oracle that computed the truth (``"jacobian"``, ``"func"``, ``"probe"``,
            ``"taylor"``).
        device: where the check ran, ``"cpu"`` or ``"cuda"``.
        dtype: the dtype's name, e.g. ``"float64"``.
        sizes: each symbolic dim's size at the last size assignment checked.
        seed: the seed the inputs were drawn with; the same seed draws the same inputs.
        refuted: True when the rule is an erratum, which is expected to fail.
        counterexample: on a failure, the input tensors (by name) at which the claim failed;
            None otherwise.
        message: what differs, in words (a wrong shape, NaN, values), or "" on a pass.
        hints: why the claim may be wrong, each one proven by a re-check where it proposes a
            correction ("matches the transpose: is this denominator layout?").
        mismatch: entry-by-entry statistics of a failure (how many entries differ, the largest
            absolute and relative difference and where), or None.
        claim_shape: the shape the claim returned, when it was evaluated.
        true_shape: the shape the truth has.
        rates: Taylor-remainder convergence rates, where an oracle reports them; no oracle
            does at present, so it is None.
        timings: seconds per stage of the check (draw, f, claim, oracle, ...).
        inconclusive: why the question could not be decided (overflow, a sample outside f's
            domain, a dtype too coarse); non-empty makes the outcome "inconclusive", which never
            counts as a pass.
        resolution: the smallest relative error the oracle that ran reliably detects at this
            dtype and size, or None.
        why_oracle: why the oracle that ran was chosen (``oracle="auto"``'s reasoning).
        low_precision: for a check in a low-precision dtype (decided in float64), how far the
            claim evaluated in the check's own dtype is from the truth (relative), next to
            autograd's own error in that dtype; None otherwise.
        sizes_checked: every size assignment the check ran at (a default check runs at two).
    """

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
        """Where the check ran: sizes, device/dtype, seed and oracle, as ``str(result)`` shows."""
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return f"{dims} on {self.device}/{self.dtype}, seed={self.seed}, {self._truth_word}={self.oracle}"

    # What ``oracle`` names in ``context()``: a rule's oracle, a backward's truth.
    _truth_word = "oracle"

    def _detail_lines(self) -> list[str]:
        """Lines a kind of claim adds after the hints (a backward: its gradients and probes)."""
        return []

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
        lines.extend(self._detail_lines())
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
