"""The classic-bug probes of a backward, run after the main comparison: a second backward call,
the same grad_output values in another layout, the inputs as non-contiguous and stride-0 views,
one input requiring grad at a time, and the jvp. Each records its verdict in
``BackwardResult.probes_run``; a failed probe fails the check.

Example::

    >>> issubclass(ProbeRuns, CheckState)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from matcalc.backward import bug_probes as bugs
from matcalc.backward import fn_calls as run
from matcalc.backward import truth
from matcalc.backward.judge import ALL, FDTruth, ReferenceTruth, Truth
from matcalc.backward.state import CheckState
from matcalc.core.tolerance import norm
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.oracles.base import Measurement
from matcalc.oracles.fd import kink_gap

# Random directions the broadcast probe looks for a kink of the reference along.
KINK_DIRECTIONS = 3


class ProbeRuns(CheckState):
    """The probes, as steps of one run."""

    def _second_call(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                     claim: Mapping[str, torch.Tensor]) -> None:
        again = run.vjp(outs, leaves, self.G, retain=True)
        key = "second backward call"
        if isinstance(again, run.Broken):
            self._probe(key, f"fail (raised {again.describe()})", failed=True)
            self.res.hints.append(f"second backward call raised: the backward consumes or mutates "
                                  f"state saved in ctx ({again.describe()})")
            return
        worst, v = self._change(again, claim, min(self.truth.tolerance.values()))
        diff = v.error
        if v.passed or v.inconclusive:
            self._probe(key, "pass" if v.passed else f"inconclusive ({v.inconclusive})")
        else:
            self._probe(key, f"fail ({worst!r} differs by {diff:.3g})", failed=True)
            self.res.hints.append(f"second backward call gives a different gradient of {worst!r} "
                                  f"(relative change {diff:.3g}): the backward mutates state "
                                  "saved in ctx")

    def _grad_output_layout(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                            claim: Mapping[str, torch.Tensor]) -> None:
        """The same grad_output values in a non-contiguous layout: a backward that reads g as if it
        were row-major gives another gradient."""
        key = "non-contiguous grad_output"
        views = bugs.non_contiguous({str(i): g for i, g in enumerate(self.G) if g is not None})
        if all(v.is_contiguous() for v in views.values()):
            self._probe(key, "skipped (grad_outputs too small to lay out otherwise)")
            return
        G = [None if g is None else views[str(i)] for i, g in enumerate(self.G)]
        got = run.vjp(outs, leaves, G, retain=True)
        if isinstance(got, run.Broken):
            self._probe(key, f"fail (backward raised {got.describe()})", failed=True)
            return
        worst, v = self._change(got, claim, max(self.truth.tolerance.values()))
        diff = v.error
        if v.passed or v.inconclusive:
            self._probe(key, "pass" if v.passed else f"inconclusive ({v.inconclusive})")
            return
        self._probe(key, f"fail ({worst!r} changes by {diff:.3g})", failed=True)
        self.res.hints.append(f"wrong for a non-contiguous grad_output: the backward reads g's "
                              f"memory as if it were contiguous (the gradient of {worst!r} changes "
                              f"by {diff:.3g} for the same values); call g.contiguous() first")

    def _variant(self, inputs: dict[str, torch.Tensor], found: Truth,
                 requires: Sequence[str] | None = None) -> tuple[str, bool]:
        names = self.names if requires is None else tuple(requires)
        try:
            outs, leaves = run.forward(self.fn, inputs, names, self.where)
        except MatcalcError as exc:
            return f"fail (fn raised: {str(exc.__cause__ or exc)[:200]})", True
        grads = run.vjp(outs, leaves, self.G, retain=False)
        if isinstance(grads, run.Broken):
            return f"fail (backward raised {grads.describe()})", True
        if requires is not None:
            if not isinstance(found, ReferenceTruth):
                return "pass", False
            found = ReferenceTruth({n: found.truth[n] for n in names},
                                   {n: found.tolerance[n] for n in names},
                                   {n: found.floor(n) for n in names})
        verdicts = self._decide(found, grads)
        bad = [k for k, v in verdicts.items() if not v.passed and not v.inconclusive]
        if bad:
            return "fail (" + ", ".join(f"{k} {verdicts[k].error:.3g}" for k in bad) + ")", True
        return "pass", False

    def _layouts(self, x: dict[str, torch.Tensor]) -> None:
        key = "non-contiguous / transposed views"
        verdict, failed = self._variant(bugs.non_contiguous(x), self.truth)
        self._probe(key, verdict, failed=failed)
        if failed and "grad_output (random, non-unit)" not in self.failed:
            self.res.hints.append("wrong only for non-contiguous inputs: the same values as transposed "
                                  f"or strided views give a wrong gradient {verdict[5:]}")

    def _broadcast(self, x: dict[str, torch.Tensor]) -> None:
        key = "stride-0 broadcast views"
        names = bugs.broadcastable(x, self.names)
        if not names:
            self._probe(key, "skipped (no vector input broadcast against a matrix)")
            return
        if self.reference is None:
            self._probe(key, "skipped (needs reference=: its truth differs)")
            return
        xb = bugs.stride0(x, names)
        if not self._smooth_at(xb):
            self._probe(key, "skipped (the repeated values of the broadcast view sit on a kink of the "
                             "reference, e.g. ties in a max: its gradient is not unique there)")
            return
        inconclusive = self.res.inconclusive
        found = self._reference_truth(xb, tol=self.truth.tolerance, check_forward=False)
        if found is None:
            self._probe(key, "skipped (no finite truth there)")
            self.res.inconclusive = inconclusive
            return
        verdict, failed = self._variant(xb, found)
        self._probe(key, verdict, failed=failed)
        if failed and "grad_output (random, non-unit)" not in self.failed:
            self.res.hints.append(f"wrong only for stride-0 (expanded) views of {names}: the kernel "
                                  "assumes contiguous inputs")

    def _smooth_at(self, xb: Mapping[str, torch.Tensor]) -> bool:
        """Whether the reference is differentiable at ``xb`` (one-sided differences agree)."""
        assert self.reference is not None
        base = truth.upcast(xb, torch.float64)
        shapes = {n: base[n].shape for n in self.names}
        sizes = [base[n].numel() for n in self.names]
        u = [None if g is None else g.to(torch.float64) for g in self.G]
        reference = self.reference

        def scalar(w: torch.Tensor) -> torch.Tensor:
            parts = dict(zip(self.names, torch.split(w, sizes), strict=True))
            moved = {k: (parts[k].reshape(shapes[k]) if k in parts else v) for k, v in base.items()}
            outs = run.as_outputs(reference(*moved.values()), self.where)
            return sum((o.to(torch.float64) * g).sum() for o, g in zip(outs, u, strict=True)
                       if g is not None)  # type: ignore[return-value]

        flat = torch.cat([base[n].reshape(-1) for n in self.names])
        gen = torch.Generator().manual_seed(self.s.seed)
        size = max(norm(flat), 1.0)
        with torch.no_grad():
            fx = scalar(flat)
            for _ in range(KINK_DIRECTIONS):
                v = torch.randn(flat.shape, generator=gen, dtype=torch.float64).to(flat.device)
                v = v * (size / max(norm(v), 1e-300))  # kink_gap's steps are relative to the sample
                def at(s: float, v: torch.Tensor = v) -> tuple[torch.Tensor]:
                    return (flat + s * v,)

                if kink_gap(scalar, at, fx) > 0:
                    return False
        return True

    def _one_at_a_time(self, x: dict[str, torch.Tensor]) -> None:
        """Each input requiring grad alone: a backward that indexes ctx.needs_input_grad wrongly, or
        returns gradients in the wrong slots when some are None, gives another gradient."""
        key = "one input requiring grad at a time"
        if len(self.names) < 2:
            self._probe(key, "skipped (one input checked)")
            return
        if not isinstance(self.truth, ReferenceTruth):
            # u^T J e along directions needs every gradient at once: one input alone is compared
            # with finite differences along that input's part of the directions
            bad = self._localize_fd_alone(x)
            self._probe(key, "pass" if not bad else "fail (" + ", ".join(bad) + ")", failed=bool(bad))
            return
        bad = []
        for n in self.names:
            verdict, failed = self._variant(dict(x), self.truth, requires=[n])
            if failed:
                bad.append(f"{n} alone: {verdict[6:-1] if verdict.startswith('fail (') else verdict}")
        self._probe(key, "pass" if not bad else "fail (" + "; ".join(bad) + ")", failed=bool(bad))
        if bad and "grad_output (random, non-unit)" not in self.failed:
            self.res.hints.append("wrong when only some inputs require grad: the backward reads "
                                  "ctx.needs_input_grad wrongly, or returns gradients in the wrong "
                                  "positions when some of them are None")

    def _localize_fd_alone(self, x: dict[str, torch.Tensor]) -> list[str]:
        assert isinstance(self.truth, FDTruth)
        bad = []
        for n in self.names:
            try:
                outs, leaves = run.forward(self.fn, x, (n,), self.where)
            except MatcalcError as exc:
                bad.append(f"{n} alone: fn raised {str(exc.__cause__ or exc)[:120]}")
                continue
            grads = run.vjp(outs, leaves, self.G, retain=False)
            if isinstance(grads, run.Broken):
                bad.append(f"{n} alone: backward raised {grads.describe()}")
                continue
            dirs = [{n: d[n]} for d in self.fd_dirs]
            fd = truth.fd_probes(self.fn, x, self.G, dirs, self.truth.fd.dtype, self.where)
            v = judge(self._fd(fd, self.truth.rounding).measurements(grads)[ALL])
            if not v.passed and not v.inconclusive:
                bad.append(f"{n} alone: {v.error:.3g}")
        return bad

    def _jvp(self, x: dict[str, torch.Tensor]) -> None:
        key = "jvp"
        declared = run.declares_jvp(self.fn)
        if declared is False:
            self._probe(key, "skipped (fn's autograd.Function defines no jvp)")
            return
        if isinstance(self.truth, FDTruth):
            tangents = {n: d.to(self.dt) for n, d in self.truth.fd.directions[0].items()}
        else:
            tangents = {n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64,
                                       device=self.dev).to(self.dt) for n in self.names}
        got = run.jvp(self.fn, x, tangents, self.where, declared=declared)
        if isinstance(got, run.NoForwardAD):
            self._probe(key, f"skipped ({got.reason})")
            return
        if isinstance(got, run.Broken):
            self._probe(key, f"fail (raised {got.describe()})", failed=True)
            return
        if isinstance(self.truth, FDTruth):
            if all(t is None for t in got):
                self._probe(key, "skipped (fn propagates no forward-mode tangent: it has no jvp)")
                return
            claimed = sum(float((t.to(torch.float64) * g.to(torch.float64)).sum())
                          for t, g in zip(got, self.G, strict=True) if t is not None and g is not None)
            first = FDTruth(self.truth.fd.head(1), self.truth.tol, self.truth.rounding)
            v = judge(first.compare(torch.tensor([claimed / self.truth.fd.unit], dtype=torch.float64),
                                    "u^T (fn's jvp along v) against finite differences along v"))
            tol, worst = self.truth.tol, 0
        else:
            assert self.reference is not None
            true = truth.reference_jvp(self.reference, x, tangents, torch.float64, self.where)
            low = None if self.dt == torch.float64 else truth.reference_jvp(
                self.reference, x, tangents, self.dt, self.where)
            if true is None:
                self._probe(key, "skipped (the reference has no forward-mode AD)")
                return
            verdicts: dict[int, tuple[Verdict, float]] = {}
            for i, (c, t) in enumerate(zip(got, true, strict=True)):
                if t is None or not self.outs[i].is_floating_point():
                    continue
                if c is None:
                    if declared is None:  # a custom op or a Function without jvp inside fn
                        self._probe(key, f"skipped (fn propagates no forward-mode tangent to output {i}: "
                                         "it has no jvp, e.g. a custom op registered with "
                                         "register_autograd only)")
                        return
                    c = torch.zeros_like(t)
                tol_i = self._tol(None if low is None else low[i], t)
                m = Measurement(claimed=c.detach(), true=t.detach(), tolerance=tol_i, resolution=0.0,
                                floor=0.0, what=f"fn's jvp against the reference's, output {i}")
                verdicts[i] = (judge(m), tol_i)
            if not verdicts:
                self._probe(key, "skipped (no differentiable output)")
                return
            worst = max(verdicts, key=lambda i: (_failed(verdicts[i][0]),
                                                 verdicts[i][0].error / max(verdicts[i][1], 1e-300)))
            v, tol = verdicts[worst]
        if v.passed:
            self._probe(key, "pass")
        elif v.inconclusive:
            self._probe(key, f"inconclusive ({v.inconclusive})")
        else:
            self._probe(key, f"fail (output {worst}: {v.error:.3g} > {tol:.3g})", failed=True)
            self.res.hints.append(f"fn's jvp (forward-mode) is wrong for output {worst}, relative "
                                  f"error {v.error:.3g}")


def _failed(v: Verdict) -> bool:
    return not v.passed and not v.inconclusive
