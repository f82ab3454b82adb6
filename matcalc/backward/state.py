"""What one check_backward run knows, shared by its steps: the settings, the drawn inputs, fn's
outputs, the grad_outputs, the truth, and the result being filled in; and the small steps every
part uses (record a probe's verdict, decide a set of measurements, compare two sets of gradients).

Example::

    >>> sorted(n for n in CheckState.__annotations__ if not n.startswith("_"))[:4]
    ['G', 'dev', 'domains', 'dt']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from matcalc.backward.judge import FDTruth, ReferenceTruth, Truth
from matcalc.backward.result import BackwardResult
from matcalc.core.tolerance import fd_tolerance, low_precision_tolerance, relative_error
from matcalc.engine.settings import Settings
from matcalc.engine.verdict import Verdict, judge
from matcalc.model.domains import Domain
from matcalc.oracles.base import Measurement
from matcalc.oracles.fd import FiniteDifferences

Fn = Callable[..., object]


class CheckState:
    """The state of one run (filled in by matcalc.backward.checker._Check)."""

    fn: Fn
    reference: Fn | None
    domains: dict[str, Domain]
    names: tuple[str, ...]
    s: Settings
    dev: torch.device
    dt: torch.dtype
    sz: dict[str, int]
    where: str
    size: int
    floor: float
    gen: torch.Generator
    failed: list[str]
    res: BackwardResult
    x: dict[str, torch.Tensor]
    outs: tuple[torch.Tensor, ...]
    G: list[torch.Tensor | None]
    truth: Truth
    fd_dirs: list[dict[str, torch.Tensor]]

    def _probe(self, key: str, verdict: str, *, failed: bool = False) -> None:
        self.res.probes_run[key] = verdict
        if failed:
            self.failed.append(key)

    def _decide(self, found: Truth, grads: Mapping[str, torch.Tensor]) -> dict[str, Verdict]:
        measured = found.measurements(grads)
        verdicts = {k: judge(m) for k, m in measured.items()}
        note = found.rounding_note() if isinstance(found, FDTruth) else ""
        for k, v in verdicts.items():
            # Say what helps (float64 does not: the differences are float64's already). An exact
            # 0 against an exact 0 keeps the verdict's own reason, which says the same of zeros.
            zeros = not bool(measured[k].true.any()) and not bool(measured[k].claimed.any())
            if note and v.inconclusive and not zeros:
                v.inconclusive = note
        return verdicts

    def _tol(self, low: torch.Tensor | None, true: torch.Tensor) -> float:
        """The tolerance of a value computed in the check's dtype, whose float64 truth ``true``
        autograd computes as ``low`` in that dtype (None in float64)."""
        own = 0.0 if low is None else relative_error(low, true)
        return low_precision_tolerance(own, self.dt, self.size)

    def _fd(self, fd: FiniteDifferences, rounding: float = 0.0) -> FDTruth:
        """Finite differences as the truth, with the one tolerance policy of
        matcalc/core/tolerance.py (``rounding``: fn's own forward error in the check's dtype)."""
        floor = low_precision_tolerance(rounding, self.dt, self.size)
        return FDTruth(fd, fd_tolerance(fd.rounding_resolution, floor, fd.dtype), rounding)

    def _change(self, got: Mapping[str, torch.Tensor], before: Mapping[str, torch.Tensor],
                tol: float) -> tuple[str, Verdict]:
        """``got`` against ``before`` (the same backward's gradients in another call or layout),
        input by input, by the one verdict: the worst input and its verdict."""
        verdicts = {n: judge(Measurement(claimed=got[n].detach(), true=before[n].detach(), tolerance=tol,
                                         resolution=0.0, floor=self._floor_of(n),
                                         what=f"the gradient of {n!r} against the first call's"))
                    for n in before}
        worst = max(verdicts, key=lambda n: (not verdicts[n].passed and not verdicts[n].inconclusive,
                                             verdicts[n].error))
        return worst, verdicts[worst]

    def _floor_of(self, name: str) -> float:
        return self.truth.floor(name) if isinstance(self.truth, ReferenceTruth) else 0.0

    def _reference_truth(self, x: dict[str, torch.Tensor], *, tol: Mapping[str, float] | None = None,
                         check_forward: bool = True) -> ReferenceTruth | None:
        raise NotImplementedError  # the run defines it (matcalc.backward.checker._Check)
