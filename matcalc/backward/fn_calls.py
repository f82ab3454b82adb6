"""Calling the function under test: its forward, its backward (the claim) and its jvp.

The forward raising on drawn inputs is misuse (MatcalcError: fix fn or the input domains). The
backward raising is a wrong backward: it is returned as a :class:`Broken` value that the check turns
into a failed Result, never an exception.

Example::

    >>> import torch
    >>> x = {"x": torch.tensor([1.0, 2.0], dtype=torch.float64)}
    >>> outs, leaves = forward(torch.sin, x, ("x",), "sin")
    >>> g = vjp(outs, leaves, (torch.ones(2, dtype=torch.float64),))
    >>> torch.allclose(g["x"], torch.cos(x["x"]))
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD

from matcalc.errors import MatcalcError

Fn = Callable[..., object]


@dataclass(frozen=True)
class Broken:
    """fn's backward (or jvp) raised: a wrong backward, reported in a failed Result."""

    error: BaseException

    def describe(self) -> str:
        return f"{type(self.error).__name__}: {str(self.error).splitlines()[0][:300]}"


def as_outputs(value: object, where: str) -> tuple[torch.Tensor, ...]:
    """fn's return value as a tuple of tensors (a tensor, or a tuple / list of them)."""
    items = value if isinstance(value, tuple | list) else (value,)
    if not items or not all(isinstance(v, torch.Tensor) for v in items):
        raise MatcalcError(f"{where}: fn must return a tensor or a tuple of tensors, got "
                           f"{type(value).__name__}")
    return tuple(items)  # type: ignore[arg-type]


def leaves_of(inputs: Mapping[str, torch.Tensor], wrt: Sequence[str]) -> dict[str, torch.Tensor]:
    """Fresh leaves with the inputs' values *and strides* (a non-contiguous input stays so)."""
    out = {}
    for name, x in inputs.items():
        leaf = x.detach()  # keeps a view's strides (transposed, stride 2, stride 0)
        if leaf.is_contiguous():
            leaf = leaf.clone()  # fn may not write into the drawn inputs
        out[name] = leaf.requires_grad_(name in wrt)
    return out


def forward(fn: Fn, inputs: Mapping[str, torch.Tensor], wrt: Sequence[str],
            where: str) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
    """fn at the inputs (called positionally, in the order of ``inputs``), with graph."""
    leaves = leaves_of(inputs, wrt)
    try:
        value = fn(*leaves.values())
    except MatcalcError:
        raise
    except Exception as exc:
        raise MatcalcError(f"fn's forward raised {type(exc).__name__}: {exc} ({where}); fix fn or "
                           "the input domains (fn is called positionally, in the order of inputs=)"
                           ) from exc
    return as_outputs(value, where), leaves


def differentiable(outs: Sequence[torch.Tensor]) -> list[int]:
    """Indices of the outputs autograd can differentiate (floating, with a graph)."""
    return [i for i, o in enumerate(outs) if o.is_floating_point() and o.requires_grad]


def vjp(outs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
        grad_outputs: Sequence[torch.Tensor | None], *, retain: bool = True
        ) -> dict[str, torch.Tensor] | Broken:
    """u^T J through fn's own backward: one gradient per leaf that requires grad (zeros when unused)."""
    pairs = [(o, g) for o, g in zip(outs, grad_outputs, strict=True)
             if g is not None and o.requires_grad]
    names = [n for n, x in leaves.items() if x.requires_grad]
    if not pairs:
        return {n: torch.zeros_like(leaves[n]) for n in names}
    try:
        grads = torch.autograd.grad([o for o, _ in pairs], [leaves[n] for n in names],
                                    [g for _, g in pairs], retain_graph=retain, allow_unused=True)
    except Exception as exc:  # a wrong backward is a failed check, never a crash
        return Broken(exc)
    # Copies: a backward that returns a buffer it keeps on ctx must not rewrite our claim later.
    return {n: (torch.zeros_like(leaves[n]) if g is None else g.detach().clone())
            for n, g in zip(names, grads, strict=True)}


@dataclass(frozen=True)
class NoForwardAD:
    """fn has no forward-mode AD to check (torch says so: a missing formula), with the reason."""

    reason: str


def declares_jvp(fn: Fn) -> bool | None:
    """Ask torch, not an error message: True when fn is an ``autograd.Function``'s ``.apply`` that
    defines a jvp (its forward mode is a claim), False when it is one that does not, None when fn
    is something else (a custom op, a composite function)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, torch.autograd.Function):
        return getattr(owner, "jvp", None) is not getattr(torch.autograd.Function, "jvp", None)
    return None


def jvp(fn: Fn, inputs: Mapping[str, torch.Tensor], tangents: Mapping[str, torch.Tensor],
        where: str, *, declared: bool | None = None
        ) -> tuple[torch.Tensor | None, ...] | Broken | NoForwardAD:
    """J v through fn's forward-mode AD.

    A jvp fn declares (``declared=True``) is a claim: anything it raises is a wrong jvp. Otherwise
    torch's NotImplementedError is torch saying that an op inside fn has no forward-mode formula:
    nothing to check. A None tangent is returned as None for the caller to judge.
    """
    try:
        with fwAD.dual_level():
            args = [fwAD.make_dual(x.detach(), tangents[n]) if n in tangents else x.detach()
                    for n, x in inputs.items()]
            outs = as_outputs(fn(*args), where)
            return tuple(fwAD.unpack_dual(o).tangent for o in outs)
    except MatcalcError:
        raise
    except NotImplementedError as exc:
        if declared:
            return Broken(exc)
        return NoForwardAD(f"an op in fn has no forward-mode AD: {str(exc).splitlines()[0][:160]}")
    except Exception as exc:
        return Broken(exc)


def shape_hint(broken: Broken, names: Sequence[str]) -> str | None:
    """Read autograd's shape complaint: which input got a gradient of the wrong (transposed?) shape."""
    m = re.search(r"invalid gradient at index (\d+) - got \[([\d, ]*)\] but expected shape "
                  r"compatible with \[([\d, ]*)\]", str(broken.error))
    if m is None:
        return None
    index, got, want = int(m.group(1)), m.group(2), m.group(3)
    who = f"input {names[index]!r}" if index < len(names) else f"input #{index}"
    got_t = tuple(int(s) for s in got.split(",") if s.strip())
    want_t = tuple(int(s) for s in want.split(",") if s.strip())
    if len(got_t) == 2 and got_t[::-1] == want_t:
        return f"the gradient of {who} is transposed: shape {got_t}, the input has shape {want_t}"
    if len(got_t) > len(want_t):
        return (f"missing reduction over dim 0: the gradient of {who} has shape {got_t}, "
                f"the input has shape {want_t}")
    return f"the gradient of {who} has shape {got_t}, the input has shape {want_t}"
