"""check_backward(): the backward autograd runs through ``fn`` is the claim; the truth comes from
``reference``'s autograd, or from ``fn``'s forward alone, never from that backward.

A backward is one more kind of claim, decided by the engine's pieces: the settings are resolved
by :func:`matcalc.engine.settings.resolve_settings`, the memory guard runs before any draw, the
inputs come from :func:`matcalc.draws.inputs.draw_domains`, every comparison is a
:class:`~matcalc.oracles.base.Measurement` decided by :func:`matcalc.engine.verdict.judge` (one
relative error, one resolution guard), and the result is a :class:`~matcalc.core.result.Result`.

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
from collections.abc import Callable, Mapping, Sequence

import torch

from matcalc.backward import bug_probes as bugs
from matcalc.backward import fn_calls as run
from matcalc.backward import truth
from matcalc.backward.gradient_hints import HintContext, gradient_hints
from matcalc.backward.judge import ALL, FACTOR, FDTruth, ReferenceTruth, Truth, finite
from matcalc.backward.result import BackwardResult
from matcalc.core.guards import SMALL_BYTES, nbytes, same_values
from matcalc.core.tolerance import relative_error, tolerance
from matcalc.diagnosis.kink import kink
from matcalc.draws.inputs import draw_domains, input_bytes
from matcalc.engine.settings import Settings, require_memory, resolve_settings
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain
from matcalc.oracles.base import Measurement

Fn = Callable[..., object]
DEFAULT_PROBES = 3
# The float64 truth holds copies of inputs, activations and gradients: about 8 float64 copies of
# the inputs, by the layers checked here.
TRUTH_COPIES = 8
# A reference whose autograd disagrees with finite differences of its own forward by more than
# this many times their measured error hides part of its computation from autograd.
CONFIRM_MARGIN = 100.0

__all__ = ["BackwardResult", "check_backward"]


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
    """Check the backward that autograd runs through ``fn``, and its jvp where it has one.

    >>> import torch, matcalc as mc
    >>> wrong = lambda x: x.exp().detach() + 2 * x - 2 * x.detach()   # d/dx says 2, truth is exp
    >>> mc.check_backward(wrong, inputs={"x": mc.vector("n")}, reference=torch.exp).outcome
    'fail'

    Args:
        fn: the function whose backward is checked: an ``autograd.Function``'s ``.apply``, a
            ``torch.library`` custom op, or any callable of tensors. It is called positionally
            with the inputs drawn from ``inputs``, in that order, and returns a tensor or a
            tuple of tensors.
        inputs: name -> domain (``mc.vector("n")``, ``mc.matrix("b", "n")``, ...).
        reference: a plain-PyTorch forward of the same function. The truth is then its autograd in
            float64, and ``fn``'s forward must match it. Without one, the truth is central
            differences of ``fn``'s forward along ``probes`` random directions, in float64 when
            ``fn`` accepts float64, else in ``fn``'s dtype with the resolution stated.
        wrt: the inputs whose gradients are checked (all of them by default).
        name: the name results and messages use (default: fn's).
        device, dtype, sizes, seed, probes, memory_budget: as for :func:`matcalc.check`.

    Returns:
        A :class:`BackwardResult`: ``outcome`` is "pass", "fail" or "inconclusive";
        ``grad_errors`` and ``grad_tolerances`` hold one entry per input (or "(all inputs)"
        without a reference), ``probes_run`` the verdict of each classic-bug probe.

    Raises:
        MatcalcError: misuse: fn not callable (or an ``autograd.Function`` class instead of its
            ``.apply``), ``reference`` that is fn itself, ``wrt`` not among the inputs, bad
            settings, a check over the memory budget (refused before anything is drawn), fn's
            forward raising or changing its inputs, fn or the reference not being a function of
            their inputs, a reference that hides computation from autograd. A wrong backward
            (including one that raises) is a failed result, never an exception.
    """
    label = _label(fn, name)
    subject = f"check_backward({label})"
    names = _validate(subject, fn, inputs, reference, wrt)
    settings = resolve_settings(repr(label), inputs, device=device, dtype=dtype, sizes=sizes, seed=seed,
                                probes=probes, memory_budget=memory_budget)
    need = TRUTH_COPIES * input_bytes(inputs, settings.sizes, torch.float64)
    require_memory(settings, need, "the float64 truth", "use smaller sizes= or raise memory_budget")
    from matcalc.engine.check import ENGINE_LOCK  # forward-mode AD state is process-wide

    with ENGINE_LOCK:
        res = _Check(fn, reference, label, dict(inputs), names, settings).run()
    if not res.passed and not res.inconclusive and settings.device.type == "cuda":
        on_cpu = check_backward(fn, inputs=inputs, reference=reference, wrt=wrt, name=name,
                                device="cpu", dtype=settings.dtype, sizes=settings.sizes, seed=seed,
                                probes=probes)
        if on_cpu.passed:
            res.hints.insert(0, "wrong only on cuda: the same check passes on cpu")
    return res


def _label(fn: object, name: str | None) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise MatcalcError(f"check_backward: name= must be a non-empty string, got {name!r}")
        return name
    owner = getattr(fn, "__self__", None)  # MyFunction.apply: name it MyFunction
    label = (owner.__name__ if isinstance(owner, type) else None) or getattr(
        fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return str(label).replace(".apply", "")


def _validate(subject: str, fn: object, inputs: object, reference: object,
              wrt: object) -> tuple[str, ...]:
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        raise MatcalcError(f"{subject}: fn is the autograd.Function class; pass {fn.__name__}.apply")
    if not callable(fn):
        raise MatcalcError(f"{subject}: fn must be callable, got {type(fn).__name__}")
    if not isinstance(inputs, Mapping) or not inputs or not all(
            isinstance(k, str) and isinstance(v, Domain) for k, v in inputs.items()):
        raise MatcalcError(f"{subject}: inputs= must map names to domains, e.g. "
                           "{'x': mc.matrix('b', 'n'), 'w': mc.vector('n')}")
    if reference is not None:
        if isinstance(reference, type) and issubclass(reference, torch.autograd.Function):
            raise MatcalcError(f"{subject}: reference is an autograd.Function class; pass a plain-"
                               "PyTorch forward of the same function")
        if not callable(reference):
            raise MatcalcError(f"{subject}: reference must be a callable (a plain-PyTorch forward), "
                               f"got {type(reference).__name__}")
        if reference is fn or _same_function(reference, fn):
            raise MatcalcError(f"{subject}: reference is fn itself, so its backward would be judged "
                               "against itself; pass an independent plain-PyTorch forward, or leave "
                               "reference=None to use finite differences of fn's forward")
    if wrt is None:
        names: tuple[object, ...] = tuple(inputs)
    elif isinstance(wrt, str):
        names = (wrt,)
    elif isinstance(wrt, Sequence):
        names = tuple(wrt)
    else:
        raise MatcalcError(f"{subject}: wrt= must be an input name or a list of them, got {wrt!r}")
    if not names:
        raise MatcalcError(f"{subject}: wrt= names no input")
    for w in names:
        if not isinstance(w, str) or w not in inputs:
            raise MatcalcError(f"{subject}: wrt={w!r} is not among the inputs {sorted(inputs)}; "
                               "name one of them")
    return tuple(str(w) for w in names)


def _same_function(a: object, b: object) -> bool:
    """Two bound ``.apply``s of one autograd.Function class are the same function."""
    owner = getattr(b, "__self__", None)
    return isinstance(owner, type) and getattr(a, "__self__", None) is owner and \
        getattr(a, "__name__", None) == getattr(b, "__name__", None)


class _Check:
    """One check_backward run; its steps share the drawn inputs, grad_outputs and the truth."""

    def __init__(self, fn: Fn, reference: Fn | None, label: str, domains: dict[str, Domain],
                 names: tuple[str, ...], settings: Settings) -> None:
        self.fn, self.reference, self.domains, self.names = fn, reference, domains, names
        self.s = settings
        self.dev, self.dt, self.sz = settings.device, settings.dtype, settings.sizes
        self.where = settings.where
        self.size = max(self.sz.values(), default=1)
        self.floor = tolerance(self.dt, self.size)
        self.gen = torch.Generator(device=self.dev)
        self.gen.manual_seed((settings.seed + 1_000_003) % 2**63)  # independent of the input stream
        self.failed: list[str] = []
        self.res = BackwardResult(
            rule=label, passed=False, error=math.inf, tolerance=self.floor,
            oracle="reference" if reference else "finite differences", device=self.dev.type,
            dtype=_name(self.dt), sizes=self.sz, seed=settings.seed)

    # ---- the run -------------------------------------------------------------------------------
    def run(self) -> BackwardResult:
        x = draw_domains(self.domains, self.sz, self.dev, self.dt, self.s.seed)
        self.x = x
        res = self.res
        outs, leaves = self._forward(self.fn, x, "fn")
        self.outs = outs
        ref_outs = None
        if self.reference is not None:
            ref_outs = self._reference_outputs(x)
            if ref_outs is None:
                return self._done()
        wanted = set(run.differentiable(outs))
        if ref_outs is not None:
            wanted |= {i for i, o in enumerate(ref_outs) if o.requires_grad and outs[i].is_floating_point()}
        if not wanted:
            raise MatcalcError(f"{self.where}: none of fn's outputs depends differentiably on "
                               f"{list(self.names)}; check wrt= and that fn returns floating tensors")
        self.G = [bugs.grad_output(o.shape, self.gen, o.dtype, self.dev) if i in wanted else None
                  for i, o in enumerate(outs)]
        if not all(finite(o.detach()) for o in outs if o.is_floating_point()):
            res.inconclusive = (f"fn's forward is not finite at these inputs in {_name(self.dt)} "
                                "(overflow, or an input outside fn's domain)")
            return self._done()
        claim = run.vjp(outs, leaves, self.G, retain=True)
        if isinstance(claim, run.Broken):
            res.message = f"fn's backward raised {claim.describe()}"
            hint = run.shape_hint(claim, list(leaves))
            res.hints = [hint] if hint else []
            return self._done()
        found = self._truth(x)
        if found is None:
            return self._done()
        self.truth = found
        verdicts = self._decide(found, claim)
        res.grad_errors = {k: v.error for k, v in verdicts.items()}
        res.grad_tolerances = dict(found.tolerance)
        res.error = max(res.grad_errors.values())
        res.tolerance = max(found.tolerance.values())
        if res.low_precision is not None:
            res.low_precision["claim"] = res.error
        bad = [k for k, v in verdicts.items() if not v.passed and not v.inconclusive]
        undecided = [v.inconclusive for v in verdicts.values() if v.inconclusive]
        self._probe("grad_output (random, non-unit)", "fail" if bad else (
            f"inconclusive ({undecided[0]})" if undecided else "pass"), failed=bool(bad))
        self._second_call(outs, leaves, claim)
        self._grad_output_layout(outs, leaves, claim)
        self._layouts(x)
        self._broadcast(x)
        self._one_at_a_time(x)
        self._jvp(x)
        if bad:
            self._diagnose(claim, bad, verdicts, outs, leaves)
        elif self.failed:
            res.message = ("the gradients are right at the drawn inputs, but these checks fail: "
                           + ", ".join(self.failed))
        elif undecided:
            res.inconclusive = undecided[0]
        res.passed = not bad and not self.failed and not undecided
        return self._done()

    def _done(self) -> BackwardResult:
        if not self.res.passed:
            self.res.counterexample = {k: v.detach().cpu() for k, v in self.x.items()}
        return self.res

    def _probe(self, key: str, verdict: str, *, failed: bool = False) -> None:
        self.res.probes_run[key] = verdict
        if failed:
            self.failed.append(key)

    def _decide(self, found: Truth, grads: Mapping[str, torch.Tensor]) -> dict[str, Verdict]:
        return {k: judge(m) for k, m in found.measurements(grads).items()}

    # ---- calling fn and the reference, guarded -------------------------------------------------
    def _forward(self, f: Fn, x: Mapping[str, torch.Tensor], who: str
                 ) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
        """f's forward with graph; it must not change its inputs and must be a function of them."""
        where = self.where if who == "fn" else f"{self.where}, in the {who}"
        outs, leaves = run.forward(f, x, self.names, where)
        self._unchanged(who, x, leaves)
        if nbytes(x) <= SMALL_BYTES:
            again, _ = run.forward(f, x, self.names, self.where)
            for i, (a, b) in enumerate(zip(outs, again, strict=True)):
                if a.shape != b.shape or (a.is_floating_point() and not same_values(
                        b.detach(), a.detach(), self.floor)):
                    raise MatcalcError(
                        f"{who} gives different values on the same inputs (output {i}; {self.where}): "
                        "it is not a function of its inputs (dropout in training mode? the global "
                        "RNG? state kept between calls?); make it deterministic")
        return outs, leaves

    def _unchanged(self, who: str, x: Mapping[str, torch.Tensor], leaves: Mapping[str, torch.Tensor]) -> None:
        for n, leaf in leaves.items():
            if leaf._version != 0 or not torch.equal(leaf.detach(), x[n]):
                raise MatcalcError(f"{who} changes its input {n!r} in place ({self.where}): a "
                                   "function under check must leave its inputs as they are; "
                                   "work on a copy (x = x.clone()) or use out-of-place ops")

    def _reference_outputs(self, x: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, ...] | None:
        assert self.reference is not None
        cast = truth.upcast(x, torch.float64)
        ref_outs, _ = self._forward(self.reference, cast, "reference")
        if len(ref_outs) != len(self.outs):
            self.res.message = (f"fn returns {len(self.outs)} outputs, the reference {len(ref_outs)}: "
                                "fn's forward does not match the reference")
            return None
        for i, (o, r) in enumerate(zip(self.outs, ref_outs, strict=True)):
            if tuple(o.shape) != tuple(r.shape):
                self.res.message = (f"output {i} of fn has shape {tuple(o.shape)}, the reference's "
                                    f"{tuple(r.shape)}: fn's forward does not match the reference")
                return None
        return ref_outs

    # ---- the truth -----------------------------------------------------------------------------
    def _truth(self, x: dict[str, torch.Tensor]) -> Truth | None:
        if self.reference is not None:
            self.res.why_oracle = ("reference= given: its autograd at the same input values, in float64"
                                   + ("" if self.dt == torch.float64 else
                                      f"; the tolerance scales with its own error in {_name(self.dt)}"))
            found = self._reference_truth(x)
            if found is not None and not self._confirm_reference(x, found):
                return None
            return found
        fd_truth = self._fd_truth(x)
        self.res.why_oracle = ("no reference=: central differences (one Richardson step, its error "
                               f"measured in each direction) of fn's forward along {self.s.probes} random "
                               "directions, in "
                               f"{_name(fd_truth.fd.dtype) if fd_truth else 'the dtype fn accepts'}")
        return fd_truth

    def _reference_truth(self, x: dict[str, torch.Tensor], *, tol: Mapping[str, float] | None = None,
                         check_forward: bool = True) -> ReferenceTruth | None:
        assert self.reference is not None
        res = self.res
        ref64 = truth.reference_vjp(self.reference, x, self.names, self.G, torch.float64, self.where)
        if not all(finite(g) for g in ref64.grads.values()):
            res.inconclusive = "the reference's own gradient is not finite at these inputs"
            return None
        low = None if self.dt == torch.float64 or tol is not None else truth.reference_vjp(
            self.reference, x, self.names, self.G, self.dt, self.where)
        found = ReferenceTruth(ref64.grads, {})
        if tol is None:
            own = {n: 0.0 if low is None else relative_error(low.grads[n], ref64.grads[n],
                                                             floor=found.floor(n))
                   for n in self.names}
            tol = {n: FACTOR * own[n] + self.floor for n in self.names}
            if low is not None:
                res.low_precision = {"autograd": max(own.values()), "factor": FACTOR}
        found.tolerance = dict(tol)
        if check_forward and not self._forward_matches(ref64.outputs, None if low is None else low.outputs):
            return None
        return found

    def _confirm_reference(self, x: dict[str, torch.Tensor], found: ReferenceTruth) -> bool:
        """The reference's autograd is the truth only if autograd sees all of the reference:
        central differences of its forward along one random direction must agree with it."""
        assert self.reference is not None
        d = {n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64, device=self.dev)
             for n in self.names}
        fd = truth.fd_probes(self.reference, x, self.G, [d], torch.float64, f"{self.where}, in the reference")
        if not finite(fd.values) or not finite(fd.errors):
            return True  # no confident finite differences here: nothing to contradict autograd
        auto = truth.along(found.truth, fd.directions)
        gap = float((auto - fd.values).abs()[0])
        err = float(fd.errors[0])
        size = max(float(fd.values.abs()[0]), float(auto.abs()[0]))
        if gap > CONFIRM_MARGIN * err + 1e-6 * size:
            raise MatcalcError(
                f"the reference's autograd disagrees with finite differences of the reference's own "
                f"forward ({gap:.3g} apart, finite-difference error {err:.2g}; {self.where}): the "
                "reference hides part of its computation from autograd (.detach(), .item(), .numpy(), "
                "a custom backward?); write it in plain differentiable PyTorch")
        return True

    def _tol(self, low: torch.Tensor | None, true: torch.Tensor) -> float:
        if low is None:
            return self.floor
        return FACTOR * relative_error(low, true) + self.floor

    def _forward_matches(self, ref: Sequence[torch.Tensor], low: Sequence[torch.Tensor] | None) -> bool:
        for i, (o, r) in enumerate(zip(self.outs, ref, strict=True)):
            if not o.is_floating_point():
                continue
            tol = self._tol(None if low is None else low[i], r)
            err = relative_error(o.detach(), r)
            if not err <= tol:
                self.res.message = (f"fn's forward does not match the reference at output {i} "
                                    f"(relative error {err:.3g} > {tol:.3g}): a backward can only be "
                                    "judged against the function it claims to differentiate")
                self.res.error, self.res.tolerance = err, tol
                return False
        return True

    def _fd_truth(self, x: dict[str, torch.Tensor]) -> FDTruth | None:
        at_x = truth.accepts(self.fn, x, torch.float64)
        fd_dtype = torch.float64 if at_x is not None else self.dt
        dirs = [{n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64, device=self.dev)
                 for n in self.names} for _ in range(self.s.probes)]
        fd = truth.fd_probes(self.fn, x, self.G, dirs, fd_dtype, self.where, at_x=at_x)
        res = self.res
        res.resolution = fd.resolution
        res.oracle = f"finite differences ({_name(fd_dtype)}, resolution {fd.resolution:.2g})"
        if not finite(fd.values):
            res.inconclusive = "fn's forward is not finite near these inputs"
            return None
        self.fd_dirs = dirs
        # The tolerance is the dtype's, or the measured error: never wider than the resolution
        # guard of the verdict allows (a coarse resolution makes the check inconclusive instead).
        return FDTruth(fd, max(self.floor, 4 * fd.resolution))

    # ---- the classic-bug probes ----------------------------------------------------------------
    def _second_call(self, outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
                     claim: Mapping[str, torch.Tensor]) -> None:
        again = run.vjp(outs, leaves, self.G, retain=True)
        key = "second backward call"
        if isinstance(again, run.Broken):
            self._probe(key, f"fail (raised {again.describe()})", failed=True)
            self.res.hints.append(f"second backward call raised: the backward consumes or mutates "
                                  f"state saved in ctx ({again.describe()})")
            return
        worst, diff = self._largest_change(again, claim)
        if diff <= min(self.truth.tolerance.values()):
            self._probe(key, "pass")
        else:
            self._probe(key, f"fail ({worst!r} differs by {diff:.3g})", failed=True)
            self.res.hints.append(f"second backward call gives a different gradient of {worst!r} "
                                  f"(relative change {diff:.3g}): the backward mutates state "
                                  "saved in ctx")

    def _largest_change(self, a: Mapping[str, torch.Tensor],
                        b: Mapping[str, torch.Tensor]) -> tuple[str, float]:
        diff = {n: relative_error(a[n], b[n], floor=self._floor_of(n)) for n in b}
        worst = max(diff, key=lambda n: diff[n])
        return worst, diff[worst]

    def _floor_of(self, name: str) -> float:
        return self.truth.floor(name) if isinstance(self.truth, ReferenceTruth) else 0.0

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
        worst, diff = self._largest_change(got, claim)
        if diff <= max(self.truth.tolerance.values()):
            self._probe(key, "pass")
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
        return not kink(scalar, flat, gen)

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
            found = FDTruth(fd, max(self.floor, 4 * fd.resolution))
            v = judge(found.measurements(grads)[ALL])
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
            v = judge(Measurement(claimed=torch.tensor([claimed], dtype=torch.float64),
                                  true=self.truth.fd.values[:1], tolerance=self.truth.tol,
                                  resolution=float(self.truth.fd.errors[0]) / max(
                                      float(self.truth.fd.values[:1].abs()[0]), 1e-300),
                                  floor=0.0, materialized=False))
            err, tol, worst = v.error, self.truth.tol, 0
            if v.inconclusive:
                self._probe(key, f"inconclusive ({v.inconclusive})")
                return
        else:
            assert self.reference is not None
            true = truth.reference_jvp(self.reference, x, tangents, torch.float64, self.where)
            low = None if self.dt == torch.float64 else truth.reference_jvp(
                self.reference, x, tangents, self.dt, self.where)
            if true is None:
                self._probe(key, "skipped (the reference has no forward-mode AD)")
                return
            errs, tols, idx = [], [], []
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
                errs.append(relative_error(c, t))
                lt = None if low is None else low[i]
                tols.append(self._tol(None if lt is None else lt, t))
                idx.append(i)
            if not errs:
                self._probe(key, "skipped (no differentiable output)")
                return
            j = max(range(len(errs)), key=lambda k: errs[k] / max(tols[k], 1e-300))
            err, tol, worst = errs[j], tols[j], idx[j]
        if err <= tol:
            self._probe(key, "pass")
        else:
            self._probe(key, f"fail (output {worst}: {err:.3g} > {tol:.3g})", failed=True)
            self.res.hints.append(f"fn's jvp (forward-mode) is wrong for output {worst}, relative "
                                  f"error {err:.3g}")

    # ---- diagnosis -----------------------------------------------------------------------------
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
            v = judge(FDTruth(fd, max(self.floor, 4 * fd.resolution)).measurements(claim)[ALL])
            if not v.passed and not v.inconclusive:
                bad.append(n)
        return bad

    def _fd_factor(self, claim: Mapping[str, torch.Tensor]) -> list[str]:
        assert isinstance(self.truth, FDTruth)
        c = truth.along(claim, self.truth.fd.directions)
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


def _name(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")
