"""Every form a rule gives is a claim: its matrix-free ``jvp`` (v -> D v) and ``vjp`` (u -> u^T D)
are compared with the truth beside the materialized derivative, under every oracle.

Against a materialized truth J (the jacobian and func oracles, and the probe oracle when f has no
more outputs than probes), each form is applied to k random directions and compared with J applied
to the same ones: a projection of a whole-Jacobian comparison, whose resolution is the probe
argument's (matcalc/oracles/probe.py). The probe and Taylor oracles compare the forms against their
own projections of the truth.

Every form is evaluated here (:func:`apply`), and its output must have the shape the form has: a
jvp returns f's output shape (D v), a vjp the input's shape (u^T D). Values are compared flattened,
so a form of another shape is a FAIL that names both shapes, before any value is read: otherwise a
transposed vjp of a 1 x m input (whose memory order is the input's) would pass, and a reshaped one
at any shape.

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> gen = torch.Generator().manual_seed(0)
    >>> parts = against_whole(J, (2,), (2,), lambda v: J @ v, lambda u: 1.5 * (u @ J), 4, gen, 1e-13)
    >>> [p.what.split(" ")[2] for p in parts]
    ['jvp', 'vjp']
    >>> [bool((p.claimed - p.true).abs().max() > 1e-9) for p in parts]
    [False, True]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from matcalc.oracles.base import Measurement

Fn = Callable[[torch.Tensor], torch.Tensor]
Batch = Callable[[Fn, torch.Tensor, bool], torch.Tensor]

# What each form's output must be shaped like, in words (the shape itself is the caller's).
MUST = {"jvp": "f's output shape (D v)", "vjp": "the input's shape (u^T D)"}


MISS_PROBABILITY = 1e-6


def resolution_factor(k: int) -> float:
    """How many tolerances a rank-1 error must exceed to be missed with probability < 1e-6 (the
    derivation is in matcalc/oracles/probe.py's docstring)."""
    s = (MISS_PROBABILITY * 2 ** (k / 2) * math.gamma(k / 2 + 1)) ** (2 / k)
    return math.sqrt(k / s)


def batched(fn: Fn, batch: torch.Tensor, loop: bool = False) -> torch.Tensor:
    """fn over the leading dim of batch: vmapped when fn supports it, else one at a time."""
    if not loop:
        try:
            return torch.func.vmap(fn)(batch)
        except Exception:  # an op without a batching rule: same values, one direction at a time
            pass
    return torch.stack([fn(b) for b in batch])


def apply(form: str, fn: Fn, batch: torch.Tensor, shape: tuple[int, ...], loop: bool = False,
          run: Batch | None = None) -> torch.Tensor | Measurement:
    """The claimed ``form`` ("jvp" or "vjp") on each direction of ``batch``, stacked (k, *shape),
    or, when it returns another shape, the FAIL that names both (:func:`wrong_shape`). ``run``
    batches fn (default :func:`batched`).

    >>> vs = torch.ones(3, 1, 4, dtype=torch.float64)
    >>> apply("vjp", lambda u: 2 * u, vs, (1, 4)).shape
    torch.Size([3, 1, 4])
    >>> print(apply("vjp", lambda u: u.mT, vs, (1, 4)).what)
    the claimed vjp returns shape (4, 1); it must return the input's shape (u^T D), (1, 4)
    """
    out = (run or batched)(fn, batch, loop)
    got = tuple(out.shape[1:])
    if got != tuple(shape):
        return wrong_shape(form, got, shape)
    return out


def wrong_shape(form: str, got: tuple[int, ...], shape: tuple[int, ...]) -> Measurement:
    """The comparison of a form whose output has shape ``got`` where it must have ``shape``: its
    two sides have those shapes, which the verdict fails on before reading a value (the values
    here are zeros: a value compared across a reshape means nothing)."""
    return Measurement(
        claimed=torch.zeros(got, dtype=torch.float64), true=torch.zeros(shape, dtype=torch.float64),
        tolerance=0.0, resolution=0.0, floor=0.0, materialized=False,
        what=f"the claimed {form} returns shape {got}; it must return {MUST[form]}, {tuple(shape)}")


def random_directions(shape: tuple[int, ...], k: int, gen: torch.Generator,
                      like: torch.Tensor) -> torch.Tensor:
    return torch.randn((k, *shape), generator=gen, device=like.device, dtype=torch.float64).to(like.dtype)


def against_whole(true: torch.Tensor, out_shape: tuple[int, ...], wrt_shape: tuple[int, ...],
                  jvp: Fn | None, vjp: Fn | None, k: int, gen: torch.Generator, tolerance: float,
                  loop: bool = False, scale: float = 0.0) -> list[Measurement]:
    """The claimed jvp and vjp on k random directions each, against J (numerator layout, shape
    out_shape + wrt_shape) on the same directions; ``scale`` floors ||J|| per unit of J."""
    out_numel = math.prod(out_shape)
    flat = true.detach().reshape(out_numel, -1)
    parts = []
    resolution = resolution_factor(k) * tolerance
    if jvp is not None:
        like = true if true.is_floating_point() else true.double()
        V = random_directions(wrt_shape, k, gen, like)
        out = apply("jvp", jvp, V, out_shape, loop)
        parts.append(out if isinstance(out, Measurement) else Measurement(
            claimed=out.detach().reshape(k, -1).to(flat.dtype), true=V.reshape(k, -1).to(flat.dtype) @ flat.T,
            tolerance=tolerance, resolution=resolution, floor=scale * math.sqrt(k), materialized=False,
            what=f"the claimed jvp along {k} random directions, against J v"))
    if vjp is not None:
        like = true if true.is_floating_point() else true.double()
        U = random_directions(out_shape, k, gen, like)
        out = apply("vjp", vjp, U, wrt_shape, loop)
        parts.append(out if isinstance(out, Measurement) else Measurement(
            claimed=out.detach().reshape(k, -1).to(flat.dtype), true=U.reshape(k, -1).to(flat.dtype) @ flat,
            tolerance=tolerance, resolution=resolution, floor=scale * math.sqrt(k), materialized=False,
            what=f"the claimed vjp along {k} random directions, against u^T J"))
    return parts
