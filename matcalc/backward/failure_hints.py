"""Why a backward is wrong: which inputs and outputs, by what factor, which classic bug.

Example::

    >>> issubclass(FailureHints, CheckState)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from matcalc.backward import bug_probes as bugs
from matcalc.backward import fn_calls as run
from matcalc.backward import truth
from matcalc.backward.gradient_hints import HintContext, gradient_hints
from matcalc.backward.judge import ALL, FDTruth, ReferenceTruth
from matcalc.backward.state import CheckState
from matcalc.core.tolerance import relative_error
from matcalc.engine.verdict import Verdict, judge


class FailureHints(CheckState):
    """The diagnosis of a failed comparison, as steps of one run."""

    def _diagnose(self, claim: Mapping[str, torch.Tensor], bad: list[str], verdicts: Mapping[str, Verdict],
                  outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor]) -> None:
        res, found = self.res, self.truth
        right = [n for n in self.names if n not in bad]
        if isinstance(found, FDTruth):
            res.message = (f"u^T J v along {self.s.probes} random directions differs from finite "
                           f"differences of fn's forward (relative error {res.error:.3g} > {found.tol:.3g})")
            bad = self._localize_fd(claim)
            res.message += "; wrong gradient for " + ", ".join(repr(n) for n in bad) if bad else ""
        else:
            res.message = "wrong gradient for " + ", ".join(
                f"input {n!r} (relative error {verdicts[n].error:.3g} > {found.tolerance[n]:.3g})"
                for n in bad)
            if right:
                res.message += "; right for " + ", ".join(repr(n) for n in right)
        hints: list[str] = []
        dropped = self._dropped_outputs()
        hints.extend(dropped)
        if self._ignores_grad_output(outs, leaves, claim, bad):
            hints.append("ignores grad_output: the backward returns the same gradient for two "
                         "different grad_outputs")
        if isinstance(found, ReferenceTruth):
            ctx = HintContext(self.x, {n: d.shape for n, d in self.domains.items()}, outs, self.sz)
            for n in bad:
                hints.extend(gradient_hints(n, claim[n], found.truth[n], found.tolerance[n],
                                            truths={m: found.truth[m] for m in self.names}, context=ctx))
            hints.extend(self._row_zero_only(claim, bad))
            if not dropped:
                hints.extend(self._which_output(outs, leaves, bad))
        else:
            hints.extend(self._fd_factor(claim))
        res.hints = hints + [h for h in res.hints if h not in hints]

    def _dropped_outputs(self) -> list[str]:
        """Outputs the reference differentiates but fn does not (marked non-differentiable, or
        detached): a gradient path fn's backward drops."""
        return [f"output {i} of fn is not differentiable (marked non-differentiable or detached), but "
                "the reference differentiates it: a dropped gradient path (if that output is meant "
                "to carry no gradient, return it detached from the reference too)"
                for i, (o, g) in enumerate(zip(self.outs, self.G, strict=True))
                if g is not None and not o.requires_grad]

    def _ignores_grad_output(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                             claim: Mapping[str, torch.Tensor], bad: list[str]) -> bool:
        other = [None if g is None else bugs.grad_output(g.shape, self.gen, g.dtype, self.dev)
                 for g in self.G]
        again = run.vjp(outs, leaves, other, retain=True)
        if isinstance(again, run.Broken):
            return False
        names = [n for n in bad if n in claim] or list(claim)
        return all(relative_error(again[n], claim[n]) <= 1e-12 for n in names) and any(
            float(torch.linalg.vector_norm(claim[n].to(torch.float64))) > 0 for n in names)

    def _row_zero_only(self, claim: Mapping[str, torch.Tensor], bad: list[str]) -> list[str]:
        if not any(g is not None and g.ndim >= 2 and g.shape[0] > 1 for g in self.G):
            return []
        G0 = [None if g is None else _first_row(g) for g in self.G]
        assert self.reference is not None and isinstance(self.truth, ReferenceTruth)
        ref = truth.reference_vjp(self.reference, self.x, self.names, G0, torch.float64, self.where)
        out = []
        for n in bad:
            if relative_error(claim[n], ref.grads[n]) <= max(10 * self.truth.tolerance[n], 1e-9):
                out.append(f"missing reduction over dim 0: the gradient of {n!r} counts only row 0 "
                           "of grad_output")
        return out

    def _which_output(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                      bad: list[str]) -> list[str]:
        idx = [i for i, g in enumerate(self.G) if g is not None]
        if len(idx) < 2:
            return []
        assert self.reference is not None and isinstance(self.truth, ReferenceTruth)
        wrong: dict[str, list[int]] = {n: [] for n in bad}
        for i in idx:
            only = [g if j == i else None for j, g in enumerate(self.G)]
            got = run.vjp(outs, leaves, only, retain=True)
            if isinstance(got, run.Broken):
                continue
            ref = truth.reference_vjp(self.reference, self.x, self.names, only, torch.float64, self.where)
            for n in bad:
                err = relative_error(got[n], ref.grads[n], floor=self.truth.floor(n))
                if not err <= self.truth.tolerance[n]:
                    wrong[n].append(i)
        return [f"the gradient of {n!r} is wrong through output{'s' if len(o) > 1 else ''} "
                f"{', '.join(map(str, o))} of {len(idx)}" for n, o in wrong.items() if o]

    def _localize_fd(self, claim: Mapping[str, torch.Tensor]) -> list[str]:
        if len(self.names) < 2:
            return list(self.names)
        bad = []
        assert isinstance(self.truth, FDTruth)
        for n in self.names:
            dirs = [{n: d[n]} for d in self.fd_dirs]
            fd = truth.fd_probes(self.fn, self.x, self.G, dirs, self.truth.fd.dtype, self.where)
            v = judge(self._fd(fd, self.truth.rounding).measurements(claim)[ALL])
            if not v.passed and not v.inconclusive:
                bad.append(n)
        return bad

    def _fd_factor(self, claim: Mapping[str, torch.Tensor]) -> list[str]:
        assert isinstance(self.truth, FDTruth)
        c = self.truth.fd.project(claim)
        t = self.truth.fd.values
        tt = float((t * t).sum())
        if tt == 0 or not bool(torch.isfinite(c).all()):
            return []
        a = float((c * t).sum()) / tt
        if abs(a - 1) > 0.05 and relative_error(c, a * t) <= max(self.truth.tol, 1e-6):
            return ["sign flipped" if abs(a + 1) < 1e-3 else f"off by a factor of {a:.4g}"]
        return []


def _first_row(g: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(g)
    if g.ndim >= 2:
        out[0] = g[0]
    else:
        out.copy_(g)
    return out
