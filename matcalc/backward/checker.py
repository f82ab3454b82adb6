"""check_backward(): the backward autograd runs through ``fn`` is the claim; the truth comes from
``reference``'s autograd, or from ``fn``'s forward alone, never from that backward.

Example::

    >>> import torch, matcalc as mc
    >>> class Scale(torch.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x, w):
    ...         ctx.save_for_backward(x, w)
    ...         return x * w
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         x, w = ctx.saved_tensors
    ...         return g * w, (g * x).sum(0)
    >>> res = mc.check_backward(Scale.apply, inputs={"x": mc.matrix("b", "n"), "w": mc.vector("n")},
    ...                         reference=lambda x, w: x * w)
    >>> res.outcome
    'pass'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from matcalc.backward import bug_probes as bugs
from matcalc.backward import fn_calls as run
from matcalc.backward import truth
from matcalc.backward.gradient_hints import Context, gradient_hints
from matcalc.backward.judge import FACTOR, FDJudge, Judge, ReferenceJudge, failing, finite, relative_error
from matcalc.core.result import Result
from matcalc.core.tolerance import tolerance
from matcalc.draws.inputs import draw_inputs
from matcalc.engine.settings import resolve_device, resolve_dtype, resolve_sizes
from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain
from matcalc.model.rule import Rule
from matcalc.oracles import memory_budget as budget_for

Fn = Callable[..., object]
DEFAULT_PROBES = 3
# Finite differences below this resolution decide a check; coarser ones make it inconclusive.
MAX_RESOLUTION = 0.1


@dataclass
class BackwardResult(Result):
    """A :class:`~matcalc.Result` for a backward: per-input errors and the bug probes' verdicts."""

    grad_errors: dict[str, float] = field(default_factory=dict)
    grad_tolerances: dict[str, float] = field(default_factory=dict)
    probes_run: dict[str, str] = field(default_factory=dict)

    def context(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return f"{dims} on {self.device}/{self.dtype}, seed={self.seed}, truth={self.oracle}"

    def __str__(self) -> str:
        head = f"{self.outcome.upper()} {self.rule} [{self.context()}]: "
        if self.inconclusive:
            head += self.inconclusive
        else:
            sign = "<=" if self.error <= self.tolerance else ">"
            head += f"relative error {self.error:.3g} {sign} tolerance {self.tolerance:.3g}"
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        lines.extend(f"  hint: {h}" for h in self.hints)
        if self.grad_errors and not self.passed:
            lines.append("  gradients: " + ", ".join(
                f"{n} {e:.3g} {'<=' if e <= self.grad_tolerances.get(n, 0) else '>'} "
                f"{self.grad_tolerances.get(n, math.nan):.3g}" for n, e in self.grad_errors.items()))
        if self.probes_run:
            lines.append("  checks: " + "; ".join(f"{k} {v}" for k, v in self.probes_run.items()))
        return "\n".join(lines)


def _stub(fn: Fn, inputs: Mapping[str, Domain], wrt: str | Sequence[str] | None,
          name: str | None) -> tuple[Rule, tuple[str, ...]]:
    owner = getattr(fn, "__self__", None)  # MyFunction.apply: name it MyFunction
    label = name or (owner.__name__ if isinstance(owner, type) else None) or getattr(
        fn, "__qualname__", None) or getattr(fn, "__name__", None) or "fn"
    label = re.sub(r"\W+", "_", str(label).replace(".apply", "")).strip("_") or "fn"
    if label[0].isdigit():
        label = "fn_" + label
    if not isinstance(inputs, Mapping) or not inputs:
        raise MatcalcError(f"check_backward({label}): inputs= must map names to domains, e.g. "
                           "{'x': mc.matrix('b', 'n'), 'w': mc.vector('n')}")
    if not callable(fn):
        raise MatcalcError(f"check_backward({label}): fn must be callable, got {type(fn).__name__}")
    names = tuple(inputs) if wrt is None else ((wrt,) if isinstance(wrt, str) else tuple(wrt))
    for w in names:
        if w not in inputs:
            raise MatcalcError(f"check_backward({label}): wrt={w!r} is not among the inputs "
                               f"{sorted(inputs)}; name one of them")
    if not names:
        raise MatcalcError(f"check_backward({label}): wrt= names no input")
    rule = Rule(name=label, f=fn, derivative=fn, wrt=names[0], inputs=inputs)  # type: ignore[arg-type]
    return rule, names


def check_backward(
    fn: Fn,
    *,
    inputs: Mapping[str, Domain],
    reference: Fn | None = None,
    wrt: str | Sequence[str] | None = None,
    name: str | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    probes: int = DEFAULT_PROBES,
    memory_budget: int | None = None,
) -> BackwardResult:
    """Check the backward autograd runs through ``fn`` (its vjp, and its jvp where it has one).

    ``fn`` is called positionally with the inputs drawn from ``inputs`` (in that order) and may
    return a tensor or a tuple of tensors. ``wrt`` names the inputs whose gradients are checked
    (all of them by default). With ``reference`` (a plain-PyTorch forward) the truth is its
    autograd in float64, and fn's forward must match it; without one, the truth is central
    differences of fn's forward along ``probes`` random directions, in float64 when fn accepts
    float64, else in fn's dtype with the resolution stated. A wrong backward is a failed result;
    misuse raises :class:`~matcalc.MatcalcError`.
    """
    rule, names = _stub(fn, inputs, wrt, name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise MatcalcError(f"check_backward({rule.name}): seed must be an int in [0, 2**63), got {seed!r}")
    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
        raise MatcalcError(f"check_backward({rule.name}): probes must be a positive int, got {probes!r}")
    if reference is not None and not callable(reference):
        raise MatcalcError(f"check_backward({rule.name}): reference must be a callable (a plain-"
                           f"PyTorch forward), got {type(reference).__name__}")
    dev, dt, sz = resolve_device(rule, device), resolve_dtype(rule, dtype), resolve_sizes(rule, sizes)
    from matcalc.engine.check import ENGINE_LOCK

    with ENGINE_LOCK:
        res = _Check(fn, reference, rule, names, dev, dt, sz, seed, probes, memory_budget).run()
    if not res.passed and not res.inconclusive and dev.type == "cuda":
        on_cpu = check_backward(fn, inputs=inputs, reference=reference, wrt=wrt, name=name,
                                device="cpu", dtype=dt, sizes=sz, seed=seed, probes=probes)
        if on_cpu.passed:
            res.hints.insert(0, "wrong only on cuda: the same check passes on cpu")
    return res


class _Check:
    """One check_backward run; its steps share the drawn inputs, grad_outputs and the judge."""

    def __init__(self, fn: Fn, reference: Fn | None, rule: Rule, names: tuple[str, ...],
                 dev: torch.device, dt: torch.dtype, sz: dict[str, int], seed: int, probes: int,
                 memory_budget: int | None) -> None:
        self.fn, self.reference, self.rule, self.names = fn, reference, rule, names
        self.dev, self.dt, self.sz, self.seed, self.k = dev, dt, sz, seed, probes
        self.memory_budget = memory_budget
        dims = ", ".join(f"{k}={v}" for k, v in sz.items()) or "no dims"
        self.where = f"while checking {rule.name!r} at {dims} on {dev.type}/{_name(dt)}"
        self.size = max(sz.values(), default=1)
        self.floor = tolerance(dt, self.size)
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(seed + 1_000_003)  # directions: independent of the input stream

    # ---- the run -------------------------------------------------------------------------------
    def run(self) -> BackwardResult:
        x = draw_inputs(self.rule, self.sz, self.dev, self.dt, self.seed)
        self._guard_memory(x)
        self.x = x
        res = BackwardResult(rule=self.rule.name, passed=False, error=math.inf, tolerance=self.floor,
                             oracle="reference" if self.reference else "finite differences",
                             device=self.dev.type, dtype=_name(self.dt), sizes=self.sz, seed=self.seed)
        self.res = res
        outs, leaves = run.forward(self.fn, x, self.names, self.where)
        self.outs = outs
        idx = run.differentiable(outs)
        if not idx:
            raise MatcalcError(f"{self.where}: none of fn's outputs depends differentiably on "
                               f"{list(self.names)}; check wrt= and that fn returns floating tensors")
        self.G = [bugs.grad_output(o.shape, self.gen, o.dtype, self.dev) if i in idx else None
                  for i, o in enumerate(outs)]
        if not all(finite(o.detach()) for o in outs if o.is_floating_point()):
            res.inconclusive = (f"fn's forward is not finite at these inputs in {_name(self.dt)} "
                                "(overflow, or an input outside fn's domain)")
            return self._done(x)
        claim = run.vjp(outs, leaves, self.G, retain=True)
        if isinstance(claim, run.Broken):
            res.message = f"fn's backward raised {claim.describe()}"
            hint = run.shape_hint(claim, list(leaves))
            res.hints = [hint] if hint else []
            return self._done(x)
        judge = self._judge(x)
        if judge is None or res.inconclusive:
            return self._done(x)
        self.judge = judge
        errors = judge.errors(claim)
        res.grad_errors, res.grad_tolerances = errors, dict(judge.tolerance)
        res.error = max(errors.values())
        res.tolerance = max(judge.tolerance.values())
        if res.low_precision is not None:
            res.low_precision["claim"] = res.error
        bad = failing(judge, errors)
        res.probes_run["grad_output (random, non-unit)"] = "fail" if bad else "pass"
        self._second_call(outs, leaves, claim)
        self._layouts(x)
        self._broadcast(x)
        self._jvp(x)
        failed = [k for k, v in res.probes_run.items() if not (v == "pass" or v.startswith("skipped"))]
        res.passed = not failed
        if bad:
            self._diagnose(claim, bad, outs, leaves)
        elif failed:
            res.message = ("the gradients are right at the drawn inputs, but these checks fail: "
                           + ", ".join(failed))
        return self._done(x)

    def _done(self, x: dict[str, torch.Tensor]) -> BackwardResult:
        if not self.res.passed:
            self.res.counterexample = {k: v.detach().cpu() for k, v in x.items()}
        return self.res

    def _guard_memory(self, x: Mapping[str, torch.Tensor]) -> None:
        # The float64 truth holds copies of inputs, activations and gradients: about 8 float64
        # copies of the inputs, by the layers checked here.
        need = 8 * 8 * sum(v.numel() for v in x.values())
        budget = budget_for(self.dev, self.memory_budget)
        if need > budget:
            raise MatcalcError(f"{self.where}: the float64 truth would take about {need / 2**20:.0f} "
                               f"MiB, over the memory budget of {budget / 2**20:.0f} MiB: use smaller "
                               "sizes= or raise memory_budget")

    # ---- the truth -----------------------------------------------------------------------------
    def _judge(self, x: dict[str, torch.Tensor]) -> Judge | None:
        if self.reference is not None:
            self.res.why_oracle = ("reference= given: its autograd at the same input values, in float64"
                                   + ("" if self.dt == torch.float64 else
                                      f"; the tolerance scales with its own error in {_name(self.dt)}"))
            return self._reference_judge(x)
        judge = self._fd_judge(x)
        self.res.why_oracle = ("no reference=: central differences (one Richardson step) of fn's forward "
                               f"along {self.k} random directions, in "
                               f"{_name(judge.fd.dtype) if judge else 'the dtype fn accepts'}")
        return judge

    def _reference_judge(self, x: dict[str, torch.Tensor], *, tol: Mapping[str, float] | None = None,
                         check_forward: bool = True) -> ReferenceJudge | None:
        assert self.reference is not None
        res = self.res
        ref64 = truth.reference_vjp(self.reference, x, self.names, self.G, torch.float64, self.where)
        if len(ref64.outputs) != len(self.outs):
            res.message = (f"fn returns {len(self.outs)} outputs, the reference {len(ref64.outputs)}: "
                           "fn's forward does not match the reference")
            return None
        if not all(finite(g) for g in ref64.grads.values()):
            res.inconclusive = "the reference's own gradient is not finite at these inputs"
            return None
        low = None if self.dt == torch.float64 or tol is not None else truth.reference_vjp(
            self.reference, x, self.names, self.G, self.dt, self.where)
        if tol is None:
            own = {n: 0.0 if low is None else relative_error(low.grads[n], ref64.grads[n])
                   for n in self.names}
            tol = {n: FACTOR * own[n] + self.floor for n in self.names}
            if low is not None:
                res.low_precision = {"autograd": max(own.values()), "factor": FACTOR}
        if check_forward and not self._forward_matches(ref64.outputs, None if low is None else low.outputs):
            return None
        return ReferenceJudge(ref64.grads, dict(tol))

    def _tol(self, low: torch.Tensor | None, true: torch.Tensor) -> float:
        if low is None:
            return self.floor
        return FACTOR * relative_error(low, true) + self.floor

    def _forward_matches(self, ref: Sequence[torch.Tensor], low: Sequence[torch.Tensor] | None) -> bool:
        for i, (o, r) in enumerate(zip(self.outs, ref, strict=True)):
            if not o.is_floating_point():
                continue
            tol = self._tol(None if low is None else low[i], r)
            err = relative_error(o.detach(), r) if o.shape == r.shape else math.inf
            if not err <= tol:
                self.res.message = (f"fn's forward does not match the reference at output {i} "
                                    f"(relative error {err:.3g} > {tol:.3g}): a backward can only be "
                                    "judged against the function it claims to differentiate")
                self.res.error, self.res.tolerance = err, tol
                return False
        return True

    def _fd_judge(self, x: dict[str, torch.Tensor]) -> FDJudge | None:
        at_x = truth.accepts(self.fn, x, torch.float64)
        fd_dtype = torch.float64 if at_x is not None else self.dt
        dirs = [{n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64, device=self.dev)
                 for n in self.names} for _ in range(self.k)]
        fd = truth.fd_probes(self.fn, x, self.G, dirs, fd_dtype, self.where, at_x=at_x)
        res = self.res
        res.resolution = fd.resolution
        res.oracle = f"finite differences ({_name(fd_dtype)}, resolution {fd.resolution:.2g})"
        if not bool(torch.isfinite(fd.values).all()):
            res.inconclusive = "fn's forward is not finite near these inputs"
            return None
        if fd.resolution > MAX_RESOLUTION:
            res.inconclusive = (f"finite differences in {_name(fd_dtype)} resolve only a relative error "
                                f"of {fd.resolution:.2g}: pass reference= or let fn accept float64")
            return None
        self.fd_dirs = dirs
        return FDJudge(fd, max(self.floor, 4 * fd.resolution))

    # ---- the classic-bug probes ----------------------------------------------------------------
    def _second_call(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                     claim: Mapping[str, torch.Tensor]) -> None:
        again = run.vjp(outs, leaves, self.G, retain=True)
        key = "second backward call"
        if isinstance(again, run.Broken):
            self.res.probes_run[key] = f"fail (raised {again.describe()})"
            self.res.hints.append(f"second backward call raised: the backward consumes or mutates "
                                  f"state saved in ctx ({again.describe()})")
            return
        diff = {n: relative_error(again[n], claim[n]) for n in claim}
        worst = max(diff, key=lambda n: diff[n])
        tol = min(self.judge.tolerance.values())
        if diff[worst] <= tol:
            self.res.probes_run[key] = "pass"
        else:
            self.res.probes_run[key] = f"fail ({worst!r} differs by {diff[worst]:.3g})"
            self.res.hints.append(f"second backward call gives a different gradient of {worst!r} "
                                  f"(relative change {diff[worst]:.3g}): the backward mutates state "
                                  "saved in ctx")

    def _variant(self, key: str, inputs: dict[str, torch.Tensor],
                 judge: Judge) -> tuple[str, dict[str, float]]:
        try:
            outs, leaves = run.forward(self.fn, inputs, self.names, self.where)
        except MatcalcError as exc:
            return f"fail (fn raised: {str(exc.__cause__ or exc)[:200]})", {}
        grads = run.vjp(outs, leaves, self.G, retain=False)
        if isinstance(grads, run.Broken):
            return f"fail (backward raised {grads.describe()})", {}
        errors = judge.errors(grads)
        bad = failing(judge, errors)
        if bad:
            return "fail (" + ", ".join(f"{n} {errors[n]:.3g}" for n in bad) + ")", errors
        return "pass", errors

    def _layouts(self, x: dict[str, torch.Tensor]) -> None:
        key = "non-contiguous / transposed views"
        verdict, _ = self._variant(key, bugs.non_contiguous(x), self.judge)
        self.res.probes_run[key] = verdict
        if verdict != "pass" and self.res.probes_run["grad_output (random, non-unit)"] == "pass":
            self.res.hints.append("wrong only for non-contiguous inputs: the same values as transposed "
                                  f"or strided views give a wrong gradient {verdict[5:]}")

    def _broadcast(self, x: dict[str, torch.Tensor]) -> None:
        key = "stride-0 broadcast views"
        names = bugs.broadcastable(x, self.names)
        if not names:
            self.res.probes_run[key] = "skipped (no vector input broadcast against a matrix)"
            return
        if self.reference is None:
            self.res.probes_run[key] = "skipped (needs reference=: its truth differs)"
            return
        xb = bugs.stride0(x, names)
        judge = self._reference_judge(xb, tol=self.judge.tolerance, check_forward=False)
        if judge is None:
            self.res.probes_run[key] = "skipped (no finite truth there)"
            self.res.inconclusive = ""
            return
        verdict, _ = self._variant(key, xb, judge)
        self.res.probes_run[key] = verdict
        if verdict != "pass" and self.res.probes_run["grad_output (random, non-unit)"] == "pass":
            self.res.hints.append(f"wrong only for stride-0 (expanded) views of {names}: the kernel "
                                  "assumes contiguous inputs")

    def _jvp(self, x: dict[str, torch.Tensor]) -> None:
        key = "jvp"
        owner = getattr(self.fn, "__self__", None)
        if isinstance(owner, type) and issubclass(owner, torch.autograd.Function) and \
                getattr(owner, "jvp", None) is getattr(torch.autograd.Function, "jvp", None):
            self.res.probes_run[key] = "skipped (fn has no forward-mode AD)"
            return
        if self.reference is None:
            tangents = {n: d.to(self.dt) for n, d in self.judge.fd.directions[0].items()} \
                if isinstance(self.judge, FDJudge) else {}
        else:
            tangents = {n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64,
                                       device=self.dev).to(self.dt) for n in self.names}
        got = run.jvp(self.fn, x, tangents, self.where)
        if got is None:
            self.res.probes_run[key] = "skipped (fn has no forward-mode AD)"
            return
        if isinstance(got, run.Broken):
            self.res.probes_run[key] = f"fail (raised {got.describe()})"
            return
        if isinstance(self.judge, FDJudge):
            claimed = sum(float((t.to(torch.float64) * g.to(torch.float64)).sum())
                          for t, g in zip(got, self.G, strict=True) if t is not None and g is not None)
            err = relative_error(torch.tensor([claimed], dtype=torch.float64), self.judge.fd.values[:1])
            tol = self.judge.tol
            worst = 0
        else:
            assert self.reference is not None
            true = truth.reference_jvp(self.reference, x, tangents, torch.float64, self.where)
            low = None if self.dt == torch.float64 else truth.reference_jvp(
                self.reference, x, tangents, self.dt, self.where)
            if true is None:
                self.res.probes_run[key] = "skipped (the reference has no forward-mode AD)"
                return
            errs, tols = [], []
            for i, (c, t) in enumerate(zip(got, true, strict=True)):
                if t is None or not self.outs[i].is_floating_point():
                    continue
                c = torch.zeros_like(t) if c is None else c
                errs.append(relative_error(c, t))
                lt = None if low is None else low[i]
                tols.append(self._tol(None if lt is None else lt, t))
            if not errs:
                self.res.probes_run[key] = "skipped (no differentiable output)"
                return
            worst = max(range(len(errs)), key=lambda i: errs[i] / max(tols[i], 1e-300))
            err, tol = errs[worst], tols[worst]
        if err <= tol:
            self.res.probes_run[key] = "pass"
        else:
            self.res.probes_run[key] = f"fail (output {worst}: {err:.3g} > {tol:.3g})"
            self.res.hints.append(f"fn's jvp (forward-mode) is wrong for output {worst}, relative "
                                  f"error {err:.3g}")

    # ---- diagnosis -----------------------------------------------------------------------------
    def _diagnose(self, claim: Mapping[str, torch.Tensor], bad: list[str],
                  outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor]) -> None:
        res, judge = self.res, self.judge
        right = [n for n in self.names if n not in bad]
        if isinstance(judge, FDJudge):
            res.message = (f"u^T J v along {self.k} random directions differs from finite differences "
                           f"of fn's forward (relative error {res.error:.3g} > {judge.tol:.3g})")
            bad = self._localize_fd(claim)
            res.message += "; wrong gradient for " + ", ".join(repr(n) for n in bad) if bad else ""
        else:
            res.message = "wrong gradient for " + ", ".join(
                f"input {n!r} (relative error {res.grad_errors[n]:.3g} > {judge.tolerance[n]:.3g})"
                for n in bad)
            if right:
                res.message += "; right for " + ", ".join(repr(n) for n in right)
        hints: list[str] = []
        if self._ignores_grad_output(outs, leaves, claim, bad):
            hints.append("ignores grad_output: the backward returns the same gradient for two "
                         "different grad_outputs")
        if isinstance(judge, ReferenceJudge):
            ctx = Context(self.x, {n: d.shape for n, d in self.rule.inputs.items()}, outs, self.sz)
            for n in bad:
                hints.extend(gradient_hints(n, claim[n], judge.truth[n], judge.tolerance[n],
                                            truths={m: judge.truth[m] for m in self.names}, context=ctx))
            hints.extend(self._row_zero_only(claim, bad))
            hints.extend(self._which_output(outs, leaves, bad))
        else:
            hints.extend(self._fd_factor(claim))
        res.hints = hints + [h for h in res.hints if h not in hints]

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
        assert self.reference is not None
        ref = truth.reference_vjp(self.reference, self.x, self.names, G0, torch.float64, self.where)
        out = []
        for n in bad:
            if relative_error(claim[n], ref.grads[n]) <= max(10 * self.judge.tolerance[n], 1e-9):
                out.append(f"missing reduction over dim 0: the gradient of {n!r} counts only row 0 "
                           "of grad_output")
        return out

    def _which_output(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                      bad: list[str]) -> list[str]:
        idx = [i for i, g in enumerate(self.G) if g is not None]
        if len(idx) < 2:
            return []
        assert self.reference is not None and isinstance(self.judge, ReferenceJudge)
        wrong: dict[str, list[int]] = {n: [] for n in bad}
        for i in idx:
            only = [g if j == i else None for j, g in enumerate(self.G)]
            got = run.vjp(outs, leaves, only, retain=True)
            if isinstance(got, run.Broken):
                continue
            ref = truth.reference_vjp(self.reference, self.x, self.names, only, torch.float64, self.where)
            for n in bad:
                if not relative_error(got[n], ref.grads[n]) <= self.judge.tolerance[n]:
                    wrong[n].append(i)
        return [f"the gradient of {n!r} is wrong through output{'s' if len(o) > 1 else ''} "
                f"{', '.join(map(str, o))} of {len(idx)}" for n, o in wrong.items() if o]

    def _localize_fd(self, claim: Mapping[str, torch.Tensor]) -> list[str]:
        if len(self.names) < 2:
            return list(self.names)
        bad = []
        assert isinstance(self.judge, FDJudge)
        for n in self.names:
            dirs = [{n: d[n]} for d in self.fd_dirs]
            fd = truth.fd_probes(self.fn, self.x, self.G, dirs, self.judge.fd.dtype, self.where)
            err = relative_error(truth.along(claim, fd.directions), fd.values)
            if not err <= max(self.floor, 4 * fd.resolution):
                bad.append(n)
        return bad

    def _fd_factor(self, claim: Mapping[str, torch.Tensor]) -> list[str]:
        assert isinstance(self.judge, FDJudge)
        c = truth.along(claim, self.judge.fd.directions)
        t = self.judge.fd.values
        tt = float((t * t).sum())
        if tt == 0 or not bool(torch.isfinite(c).all()):
            return []
        a = float((c * t).sum()) / tt
        if abs(a - 1) > 0.05 and relative_error(c, a * t) <= max(self.judge.tol, 1e-6):
            return ["sign flipped" if abs(a + 1) < 1e-3 else f"off by a factor of {a:.4g}"]
        return []


def _first_row(g: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(g)
    if g.ndim >= 2:
        out[0] = g[0]
    else:
        out.copy_(g)
    return out


def _name(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")
