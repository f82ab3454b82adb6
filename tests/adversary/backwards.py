"""Backwards: random compositions wrapped in ``torch.autograd.Function``s and custom ops, with a
correct backward or a planted bug, checked by ``mc.check_backward`` with and without a reference.

The correct backward is ``torch.func.vjp`` of the forward at the saved inputs, so it is right by
construction; the bugs are the classic ones: a factor, a transpose, a dropped term, swapped
gradients, a wrong reduction over a broadcast dim, a misread ``ctx.needs_input_grad``, and
reading a saved input or the grad_output as if it were contiguous. Two variants are true claims
that look like bugs: ignoring ``needs_input_grad`` (computing every gradient) and using it
(returning None where no gradient is needed).

Example::

    >>> from adversary.compose import Case
    >>> case = Case(family="backward", form="backward", f="torch.sin(X @ a)",
    ...             inputs={"X": ["matrix", "n", "m", "general"], "a": ["vector", "m", "general"]},
    ...             wrt="X", mutation="factor:2.0", tags=["function", "reference"])
    >>> run_backward(case).got
    'fail'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from hypothesis import strategies as st

import matcalc as mc
from adversary.compose import LONG, Case, Regime, drop_term_variants, programs
from adversary.property import (
    EQUIVALENT_BELOW,
    WRONG_AT,
    Outcome,
    _classify,
    _lambda,
    _rel,
    _scaled,
    claims_a_kink,
    domain,
    smooth,
)
from matcalc.draws.inputs import draw_domains
from matcalc.engine.settings import resolve_sizes

Fn = Callable[..., torch.Tensor]
TRUE_BUGS = ("none", "ignores_needs_input_grad", "uses_needs_input_grad")
BUGS = ("factor:2.0", "factor:1.001", "factor:-1.0", "transpose", "drop_term", "swap_grads",
        "needs_input_grad_shifted", "wrong_reduction", "noncontiguous_input", "noncontiguous_grad")
_OP_COUNT = itertools.count()


def _contiguous_view(t: torch.Tensor) -> torch.Tensor:
    """The bug "as if contiguous": t's storage read with contiguous strides from its offset."""
    strides, acc = [], 1
    for size in reversed(t.shape):
        strides.append(acc)
        acc *= size
    return torch.as_strided(t, t.shape, tuple(reversed(strides)), t.storage_offset())


def backward_of(case: Case, F: Fn, G: Fn, names: list[str]) -> Callable[[Any, tuple[torch.Tensor, ...], torch.Tensor],
                                                                        tuple[torch.Tensor | None, ...]]:
    """backward(ctx, xs, g) with the case's planted bug (or none)."""
    bug = case.mutation
    target = case.bad_part

    def hit(name: str) -> bool:
        return target in ("all", name)

    def backward(ctx: Any, xs: tuple[torch.Tensor, ...], g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if bug == "noncontiguous_grad":
            g = _contiguous_view(g)
        if bug == "noncontiguous_input":
            xs = tuple(_contiguous_view(x) if hit(n) else x for n, x in zip(names, xs, strict=True))
        grads = list(torch.func.vjp(G if bug == "drop_term" else F, *xs)[1](g))
        if bug == "wrong_reduction":
            grads = _wrong_reduction(case, F, xs, g, grads, names)
        for i, n in enumerate(names):
            if not hit(n):
                continue
            if bug.startswith("factor:"):
                grads[i] = float(bug.split(":")[1]) * grads[i]
            elif bug == "transpose" and grads[i].ndim == 2 and grads[i].shape[0] == grads[i].shape[1]:
                grads[i] = grads[i].mT
        if bug == "swap_grads":
            same = [i for i, n in enumerate(names) if hit(n)]
            pairs = [(i, j) for i in same for j in range(len(names))
                     if j != i and grads[i].shape == grads[j].shape]
            if pairs:
                i, j = pairs[0]
                grads[i], grads[j] = grads[j], grads[i]
        out: list[torch.Tensor | None] = list(grads)
        needs = getattr(ctx, "needs_input_grad", None)
        if needs is not None and bug in ("uses_needs_input_grad", "needs_input_grad_shifted"):
            shift = 1 if bug == "needs_input_grad_shifted" else 0
            out = [grads[i] if needs[(i + shift) % len(names)] else None for i in range(len(names))]
        return tuple(out)

    return backward


def _wrong_reduction(case: Case, F: Fn, xs: tuple[torch.Tensor, ...], g: torch.Tensor,
                     grads: list[torch.Tensor], names: list[str]) -> list[torch.Tensor]:
    """A vector broadcast against a matrix: its gradient reduced over the wrong dim (or averaged)."""
    matrices = [x for x in xs if x.ndim == 2]
    for i, x in enumerate(xs):
        if x.ndim != 1 or not matrices or case.bad_part not in ("all", names[i]):
            continue
        rows = matrices[0].shape[0]
        expanded = list(xs)
        expanded[i] = x.expand(rows, x.shape[0])
        try:
            full = torch.func.vjp(F, *expanded)[1](g)[i]
        except Exception:
            continue
        grads = list(grads)
        grads[i] = full.mean(0) if full.shape[0] > 1 else 2 * full.sum(0)
    return grads


def make_fn(case: Case) -> Fn:
    """The fn to check: an autograd.Function's apply, or a custom op with register_autograd."""
    names = list(case.inputs)
    args = ", ".join(names)
    F = _lambda(args, _scaled(case.f, case))
    G = _lambda(args, _scaled(case.claim_f, case)) if case.claim_f else F
    backward = backward_of(case, F, G, names)
    if "custom_op" in case.tags:
        return _custom_op(names, F, backward, fake="fake" in case.tags)

    class Adversary(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *xs: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(*xs)
            return F(*xs)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
            return backward(ctx, ctx.saved_tensors, g)

    return Adversary.apply


def _custom_op(names: list[str], F: Fn, backward: Callable[..., tuple[torch.Tensor | None, ...]],
               *, fake: bool) -> Fn:
    params = ", ".join(f"{n}: torch.Tensor" for n in names)
    scope: dict[str, Any] = {"torch": torch, "F": F}
    exec(f"def op({params}) -> torch.Tensor:\n    return F({', '.join(names)}).clone()\n", scope)
    op = torch.library.custom_op(f"adversary::f{next(_OP_COUNT)}", mutates_args=())(scope["op"])
    if fake:
        op.register_fake(lambda *xs: F(*xs).clone())

    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(*inputs)

    op.register_autograd(lambda ctx, g: backward(ctx, ctx.saved_tensors, g), setup_context=setup_context)
    return op


# ---- strategies --------------------------------------------------------------------------------


@st.composite
def backward_cases(draw: st.DrawFn, regime: Regime = LONG) -> Case:
    """A hand-written backward of a random composition, correct or with one planted bug."""
    broadcast = draw(st.integers(0, 3)) == 0
    if broadcast:
        fn = draw(st.sampled_from(("torch.sin", "torch.tanh", "torch.exp", "")))
        op = draw(st.sampled_from(("+", "*")))
        reduce = draw(st.sampled_from(("", "torch.sum")))
        f = f"{fn}(X {op} b)" if fn else f"(X {op} b)"
        f = f"{reduce}({f})" if reduce else f
        inputs = {"X": ["matrix", "k", "n", "general"], "b": ["vector", "n", "general"]}
        root = None
    else:
        program = draw(programs(kinks=regime.kinks, structures=regime.structures, max_steps=regime.max_steps,
                                smooth=regime.smooth))
        f, inputs, root = program.root.py(), program.inputs, program.root
    names = list(inputs)
    bug = draw(st.sampled_from(TRUE_BUGS + BUGS))
    claim_f = ""
    if bug == "drop_term":
        drops = drop_term_variants(root) if root is not None else []
        if not drops:
            bug = "factor:2.0"
        else:
            claim_f = draw(st.sampled_from(drops)).py()
    if bug == "wrong_reduction" and "b" not in inputs:
        bug = "factor:-1.0"
    wrt = names if draw(st.booleans()) else sorted(set(draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))))
    bad_part = "all" if bug in TRUE_BUGS or draw(st.booleans()) else draw(st.sampled_from(wrt))
    tags = ["custom_op" if draw(st.integers(0, 3)) == 0 else "function"]
    if tags[0] == "custom_op" and draw(st.booleans()):
        tags.append("fake")
    if draw(st.booleans()):
        tags.append("reference")
    return Case(family="backward", form="backward", f=f, inputs=inputs, wrt=wrt, mutation=bug,
                bad_part=bad_part, claim_f=claim_f, oracle="reference" if "reference" in tags else "fd",
                dtype=draw(st.sampled_from(regime.dtypes)), seed=draw(st.integers(0, 2**20)),
                scale=draw(st.sampled_from(regime.scales)), offset=draw(st.sampled_from(regime.offsets)),
                sizes=None, tags=tags, probes=draw(st.sampled_from(regime.probes)))


# ---- the label and the verdict -----------------------------------------------------------------


def _grads(fn: Fn, xs: dict[str, torch.Tensor], wrt: list[str], g: torch.Tensor) -> list[torch.Tensor]:
    leaves = {n: x.detach().requires_grad_(n in wrt) for n, x in xs.items()}
    with torch.enable_grad():
        out = fn(*leaves.values())
        got = torch.autograd.grad(out, [leaves[n] for n in wrt], g, allow_unused=True)
    return [torch.zeros_like(leaves[n]) if v is None else v.detach() for n, v in zip(wrt, got, strict=True)]


def label_backward(case: Case, fn: Fn) -> str:
    """"true" for the correct variants; for a bug, "wrong" when it shows at the drawn inputs (in
    any layout check_backward probes), "wrong elsewhere" when only a non-contiguous grad_output
    shows it, "equivalent" when nothing does."""
    if case.mutation in TRUE_BUGS:
        return "true"
    domains = {k: domain(v) for k, v in case.inputs.items()}
    dims = {d for v in case.inputs.values() for d in v[1:-1]}
    rule = mc.Rule(name="b", f=fn, derivative=fn, wrt=next(iter(case.inputs)), inputs=domains)  # type: ignore[arg-type]
    sizes = resolve_sizes(rule, case.sizes) if dims else {}
    xs = draw_domains(domains, sizes, torch.device("cpu"), torch.float64, case.seed)
    wrt = [case.wrt] if isinstance(case.wrt, str) else list(case.wrt)
    F = _lambda(case.arguments(), _scaled(case.f, case))
    with torch.no_grad():
        out = F(*xs.values())
    if not bool(torch.isfinite(out).all()):
        return "ambiguous"
    gen = torch.Generator().manual_seed(case.seed + 5)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    idx = [list(case.inputs).index(n) for n in wrt]
    true = torch.func.vjp(F, *xs.values())[1](g)
    truth = [true[i] for i in idx]

    def differs(inputs: dict[str, torch.Tensor], grad: torch.Tensor) -> float:
        got = _grads(fn, inputs, wrt, grad)
        return max((_rel(a, b) for a, b in zip(got, truth, strict=True)), default=0.0)

    from matcalc.backward.bug_probes import non_contiguous

    seen = max(differs(xs, g), differs(non_contiguous(xs), g))
    if math.isnan(seen):
        return "ambiguous"
    if seen > WRONG_AT[case.dtype]:
        return "wrong"
    if seen > EQUIVALENT_BELOW:
        return "ambiguous"
    if g.ndim == 2 and min(g.shape) > 1 and differs(xs, g.mT.contiguous().mT) > WRONG_AT[case.dtype]:
        return "wrong elsewhere"
    return "equivalent"


def run_backward(case: Case) -> Outcome:
    """Build, label, check_backward and classify one backward case."""
    fn = make_fn(case)
    try:
        lab = label_backward(case, fn)
    except Exception as exc:  # the planted bug breaks autograd itself (a shape): still a claim
        lab = "wrong" if case.mutation not in TRUE_BUGS else "ambiguous"
        if lab == "ambiguous":
            return Outcome(case, lab, detail=f"no truth: {type(exc).__name__}: {exc}")
    if lab not in ("true", "wrong", "wrong elsewhere"):
        return Outcome(case, lab)
    F = _lambda(case.arguments(), _scaled(case.f, case))
    try:
        res = mc.check_backward(fn, inputs={k: domain(v) for k, v in case.inputs.items()},
                                reference=F if "reference" in case.tags else None, wrt=case.wrt,
                                dtype=getattr(torch, case.dtype), sizes=case.sizes, seed=case.seed,
                                name="adversary", **({} if case.probes is None else {"probes": case.probes}))
    except mc.MatcalcError as exc:
        return Outcome(case, lab, "raise", "raise", f"MatcalcError: {exc}")
    except Exception as exc:
        return Outcome(case, lab, "crash", "crash", f"{type(exc).__name__}: {exc}")
    got = res.outcome
    finding = _classify(lab, got)
    if not finding and got == "inconclusive" and (
            not res.inconclusive.strip() or (claims_a_kink(res.inconclusive) and smooth(case))):
        finding = "reason"  # none given, or a kink of an f built without a kink op
    return Outcome(case, lab, got, finding, str(res), reason=res.inconclusive)
