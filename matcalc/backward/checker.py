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
from matcalc.backward.failure_hints import FailureHints
from matcalc.backward.judge import FDTruth, ReferenceTruth, Truth, finite
from matcalc.backward.probe_runs import ProbeRuns
from matcalc.backward.result import BackwardResult
from matcalc.backward.spread import truth_spread
from matcalc.core.guards import SMALL_BYTES, nbytes, same_values
from matcalc.core.tolerance import (
    LOW_PRECISION_FACTOR,
    low_precision_tolerance,
    relative_error,
    tolerance,
)
from matcalc.draws.inputs import draw_domains, input_bytes
from matcalc.engine.settings import Settings, require_memory, resolve_settings
from matcalc.engine.verdict import judge
from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain
from matcalc.model.sizes import SEED_LIMIT
from matcalc.oracles.base import Measurement
from matcalc.oracles.confirm import Confirmation
from matcalc.oracles.fd import Slope

Fn = Callable[..., object]
DEFAULT_PROBES = 3
# The float64 truth holds copies of inputs, activations and gradients: about 8 float64 copies of
# the inputs, by the layers checked here.
TRUTH_COPIES = 8

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
        device: "cpu" or "cuda".
        dtype: the dtype fn runs in; the truth is float64 (a reference's autograd, or finite
            differences when fn accepts float64), and below float64 the tolerance scales with the
            reference's own error in ``dtype``.
        sizes: dim name -> size; each dim left out gets a small default, distinct dims distinct
            sizes.
        seed: the inputs' and grad_outputs' seed (an int in [0, 2**63)).
        probes: the number of random directions of the finite-difference truth (1 to 64).
        memory_budget: bytes the check may use (default: a quarter of the free memory); the
            check is refused before anything is drawn when its estimate is over it.

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
    _validate(f"check_backward({label})", fn, reference)
    settings = resolve_settings(repr(label), inputs, device=device, dtype=dtype, sizes=sizes, seed=seed,
                                probes=probes, memory_budget=memory_budget, wrt=wrt)
    need = TRUTH_COPIES * input_bytes(inputs, settings.sizes, torch.float64)
    require_memory(settings, need, "the float64 truth", "use smaller sizes= or raise memory_budget")
    from matcalc.engine.check import ENGINE_LOCK  # forward-mode AD state is process-wide

    with ENGINE_LOCK:
        res = _Check(fn, reference, label, dict(inputs), settings.wrt, settings).run()
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


def _validate(subject: str, fn: object, reference: object) -> None:
    """What only a backward has: fn and reference (the settings, inputs and wrt are validated by
    :func:`matcalc.engine.settings.resolve_settings`, as for every check)."""
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        raise MatcalcError(f"{subject}: fn is the autograd.Function class; pass {fn.__name__}.apply")
    if not callable(fn):
        raise MatcalcError(f"{subject}: fn must be callable, got {type(fn).__name__}")
    if reference is None:
        return
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


def _same_function(a: object, b: object) -> bool:
    """Two bound ``.apply``s of one autograd.Function class are the same function."""
    owner = getattr(b, "__self__", None)
    return isinstance(owner, type) and getattr(a, "__self__", None) is owner and \
        getattr(a, "__name__", None) == getattr(b, "__name__", None)


class _Check(ProbeRuns, FailureHints):
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
        self.gen.manual_seed((settings.seed + 1_000_003) % SEED_LIMIT)  # independent of the input stream
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
            tol = {n: low_precision_tolerance(own[n], self.dt, self.size) for n in self.names}
            found.resolutions = dict(own)
            if low is not None:
                res.low_precision = {"autograd": max(own.values()), "factor": LOW_PRECISION_FACTOR}
        found.tolerance = dict(tol)
        if check_forward and not self._forward_matches(ref64.outputs, None if low is None else low.outputs):
            return None
        return found

    def _confirm_reference(self, x: dict[str, torch.Tensor], found: ReferenceTruth) -> bool:
        """The reference's autograd is the truth only if autograd sees all of the reference:
        central differences of its forward along one random direction must agree with it, by the
        confirmation check() runs on a rule's autograd truth (matcalc/oracles/confirm.py). False
        (inconclusive) at a kink of the reference, where its gradient is not unique."""
        assert self.reference is not None
        d = {n: torch.randn(x[n].shape, generator=self.gen, dtype=torch.float64, device=self.dev)
             for n in self.names}
        fd = truth.fd_probes(self.reference, x, self.G, [d], torch.float64, f"{self.where}, in the reference")
        gap = 0.0 if fd.gaps is None else float(fd.gaps[0])
        seen = Confirmation(float(fd.project(found.truth)[0]),
                            Slope(float(fd.values[0]), float(fd.errors[0]), gap))
        outcome = seen.outcome(max(found.tolerance.values()))
        if outcome == "kink":
            self.res.inconclusive = (
                "the reference's one-sided slopes differ at these inputs: it is not differentiable "
                "here (a kink: relu or abs at 0, a tie in a max), so its gradient is not unique; use "
                "another seed")
            return False
        if outcome == "blind":
            raise MatcalcError(
                f"the reference's autograd disagrees with finite differences of the reference's own "
                f"forward ({seen.describe()}; {self.where}): the reference hides part of its "
                "computation from autograd (.detach(), .item(), .numpy(), a custom backward?); write "
                "it in plain differentiable PyTorch")
        return True

    def _forward_matches(self, ref: Sequence[torch.Tensor], low: Sequence[torch.Tensor] | None) -> bool:
        for i, (o, r) in enumerate(zip(self.outs, ref, strict=True)):
            if not o.is_floating_point():
                continue
            tol = self._tol(None if low is None else low[i], r)
            v = judge(Measurement(claimed=o.detach(), true=r.detach(), tolerance=tol, resolution=0.0,
                                  floor=0.0, what=f"fn's forward against the reference's, output {i}"))
            if v.inconclusive:
                self.res.inconclusive = f"output {i} of the reference: {v.inconclusive}"
                return False
            if not v.passed:
                self.res.message = (f"fn's forward does not match the reference at output {i} "
                                    f"(relative error {v.error:.3g} > {tol:.3g}): a backward can only be "
                                    "judged against the function it claims to differentiate")
                self.res.error, self.res.tolerance = v.error, tol
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
        rounding = 0.0
        if at_x is not None and self.dt != torch.float64:
            # fn's backward runs in self.dt against a float64 truth: it rounds as much as fn's own
            # forward does in self.dt (a cancellation, a large argument of sin), or as much as the
            # truth moves when the inputs move by a few ulps of self.dt (the gradient's own
            # conditioning, which the forward's error does not show), whichever is larger
            own = max((relative_error(o.detach(), r) for o, r in zip(self.outs, at_x, strict=True)
                       if o.is_floating_point()), default=0.0)
            moved = self._truth_spread(x, fd)
            rounding = max(own, moved)
            res.low_precision = {"forward": own, "truth at nudged inputs": moved,
                                 "factor": LOW_PRECISION_FACTOR}
        # The tolerance is fixed before the differences are measured (the dtype's, or the
        # differences' own rounding); their measured error is the truth's error in the verdict.
        return self._fd(fd, rounding)


    def _truth_spread(self, x: dict[str, torch.Tensor], fd: truth.FiniteDifferences) -> float:
        """How far the differences move, relative, when the inputs move by a few ulps of the
        check's dtype (matcalc/backward/spread.py): the rounding a gradient in that dtype is due."""
        def differences(moved: dict[str, torch.Tensor]) -> truth.FiniteDifferences | None:
            try:
                return truth.fd_probes(self.fn, moved, self.G, fd.directions, fd.dtype, self.where)
            except MatcalcError:
                return None  # fn refuses the nudged inputs: no evidence either way

        nudge = torch.Generator(device=self.dev)
        nudge.manual_seed((self.s.seed + 2_000_003) % SEED_LIMIT)  # independent of the other draws
        structures = {n: d.structure for n, d in self.domains.items()}
        return truth_spread(differences, x, structures, self.dt, nudge, fd)


def _name(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")
