"""Why a gradient is wrong, in matcalc's style: transposed, off by a factor, sign, swapped with
another input's, a missing reduction over a broadcast dim, a dropped term.

Example::

    >>> import torch
    >>> t = {"x": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "w": torch.tensor([[5.0, 1.0], [2.0, 7.0]])}
    >>> gradient_hints("x", t["w"], t["x"], 1e-6, truths=t, context=HintContext({}, {}, (), {}))
    ["gradients of 'x' and 'w' swapped: the gradient of 'x' is the true gradient of 'w'"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from matcalc import diagnosis as base
from matcalc.core.tolerance import relative_error

FIT = 0.05  # a dropped term explains the error when the fit leaves under 5% of it


@dataclass
class HintContext:
    """What a hint may name: the inputs (values and symbolic dims), the outputs, the sizes."""

    inputs: Mapping[str, torch.Tensor]
    dims: Mapping[str, tuple[str | int, ...]]
    outputs: Sequence[torch.Tensor]
    sizes: Mapping[str, int]


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    """Within the check's own tolerance (in low precision it already allows 8x autograd's error)."""
    return tuple(a.shape) == tuple(b.shape) and relative_error(a, b) <= max(tol, 1e-12)


NICE = ((2.0, "2"), (0.5, "1/2"), (-2.0, "-2"), (-0.5, "-1/2"), (4.0, "4"), (0.25, "1/4"),
        (3.0, "3"), (1 / 3, "1/3"))


def gradient_hints(name: str, claim: torch.Tensor, true: torch.Tensor, tol: float, *,
                   truths: Mapping[str, torch.Tensor], context: HintContext) -> list[str]:
    """Hints for one input's wrong gradient, most specific first."""
    for other, t in truths.items():
        if other != name and _close(claim, t, tol):
            return [f"gradients of {name!r} and {other!r} swapped: the gradient of {name!r} is the "
                    f"true gradient of {other!r}"]
    found = [h.replace("matches the transpose: the claim is transposed",
                       f"the gradient of {name!r} is transposed")
             for h in base.hints(claim, true, tol=max(tol, 1e-12), out_shape=(),
                                 wrt_shape=tuple(true.shape))]
    factor = _factor(claim, true, tol)
    if factor is not None:
        reduction = _reduction(name, factor, context)
        if reduction:
            return [reduction]
        if factor == 0:
            return [f"the gradient of {name!r} is 0 where the true one is not: the backward returns "
                    "None or zeros for it (a wrong ctx.needs_input_grad index?)"]
        if abs(factor + 1) <= max(tol, 1e-9):
            return [f"gradient of {name!r}: sign flipped"]
        for value, text in NICE:
            if abs(factor - value) <= max(tol, 1e-9) * abs(value):
                return [f"gradient of {name!r}: off by a factor of {text}"]
        big = abs(factor) if abs(factor) > 1 else 1 / abs(factor)
        root = round(big * big)
        if root > 1 and abs(big - math.sqrt(root)) <= max(tol, 1e-9) * big:
            sign = "-" if factor < 0 else ""
            inv = "" if abs(factor) > 1 else "1/"
            return [f"gradient of {name!r}: off by a factor of {sign}{inv}sqrt({root})"]
        if abs(factor - 1) > max(tol, 1e-9):
            return [f"gradient of {name!r}: off by a factor of {factor:.6g}"]
    if found and not found[0].startswith("correct except"):
        return [f"gradient of {name!r}: {h}" if name not in h else h for h in found]
    dropped = _dropped_term(name, claim - true.to(claim.dtype), context)
    return ([dropped] if dropped else []) + found


def _factor(claim: torch.Tensor, true: torch.Tensor, tol: float) -> float | None:
    c64, t64 = claim.to(torch.float64), true.to(torch.float64)
    tt = float((t64 * t64).sum())
    if tt == 0 or not bool(torch.isfinite(c64).all()):
        return None
    c = float((c64 * t64).sum()) / tt
    return c if _close(c64, c * t64, tol) else None


def _reduction(name: str, factor: float, ctx: HintContext) -> str | None:
    """A gradient that is 1/size of the truth for a dim the input lacks: averaged, not summed."""
    mine = set(ctx.dims.get(name, ()))
    for other, dims in ctx.dims.items():
        for pos, d in enumerate(dims):
            if d in mine or not isinstance(d, str):
                continue
            size = ctx.sizes.get(d, 0)
            if size > 1 and abs(factor * size - 1) < 1e-2:
                return (f"missing reduction over dim {pos} of {other!r} ({d}={size}, which {name!r} "
                        f"lacks): the gradient of {name!r} is averaged over it, not summed "
                        f"(off by a factor of 1/{size})")
    return None


def _dropped_term(name: str, err: torch.Tensor, ctx: HintContext) -> str | None:
    """The error is, slice by slice along one dim, a multiple of a known tensor: a dropped term."""
    if err.ndim == 0 or err.numel() < 3 or not bool(torch.isfinite(err).all()):
        return None
    e = err.to(torch.float64)
    candidates: list[tuple[str, torch.Tensor]] = [
        ("a constant (a mean / centering term)", torch.ones_like(e))]
    for other, x in ctx.inputs.items():
        if tuple(x.shape) == tuple(e.shape):
            candidates.append((f"input {other!r}", x.to(torch.float64)))
    for i, o in enumerate(ctx.outputs):
        if tuple(o.shape) == tuple(e.shape):
            candidates.append((f"output {i}", o.detach().to(torch.float64)))
    for dim in sorted({-1, 0} if e.ndim >= 2 else {-1}):
        for what, c in candidates:
            centered = [(what, c)]
            if not what.startswith("a constant"):
                centered.append((f"{what} minus its mean", c - c.mean(dim, keepdim=True)))
            for label, cand in centered:
                cc = (cand * cand).sum(dim, keepdim=True)
                alpha = (e * cand).sum(dim, keepdim=True) / cc.clamp_min(1e-300)
                resid = float(torch.linalg.vector_norm(e - alpha * cand))
                if resid <= FIT * float(torch.linalg.vector_norm(e)):
                    along_ = "row by row" if dim == -1 else "column by column"
                    return (f"dropped term: the error in the gradient of {name!r} is, {along_}, a "
                            f"multiple of {label}")
    return None
