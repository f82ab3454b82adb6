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

from matcalc.backward.judge import FACTOR, ReferenceTruth, Truth
from matcalc.backward.result import BackwardResult
from matcalc.core.tolerance import relative_error
from matcalc.engine.settings import Settings
from matcalc.engine.verdict import Verdict, judge
from matcalc.model.domains import Domain

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
        return {k: judge(m) for k, m in found.measurements(grads).items()}

    def _tol(self, low: torch.Tensor | None, true: torch.Tensor) -> float:
        if low is None:
            return self.floor
        return FACTOR * relative_error(low, true) + self.floor

    def _largest_change(self, a: Mapping[str, torch.Tensor],
                        b: Mapping[str, torch.Tensor]) -> tuple[str, float]:
        diff = {n: relative_error(a[n], b[n], floor=self._floor_of(n)) for n in b}
        worst = max(diff, key=lambda n: diff[n])
        return worst, diff[worst]

    def _floor_of(self, name: str) -> float:
        return self.truth.floor(name) if isinstance(self.truth, ReferenceTruth) else 0.0

    def _reference_truth(self, x: dict[str, torch.Tensor], *, tol: Mapping[str, float] | None = None,
                         check_forward: bool = True) -> ReferenceTruth | None:
        raise NotImplementedError  # the run defines it (matcalc.backward.checker._Check)
