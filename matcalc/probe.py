"""The probe oracle: the claim and autograd applied to random directions, never a full Jacobian.

The k left probes u_i go through one batched ``vjp`` (``torch.func.vmap``), so a memory-bound f
such as ``A @ x`` is read about once for all of them. The claim is compared twice: its rows
u_i^T D against u_i^T J, and its action on right probes v_j through the bilinear forms
u_i^T (D v_j) against (u_i^T J) v_j (u^T J v both ways), which costs autograd no further pass.
When f has at most k outputs, the standard basis replaces the random u, the k vjp rows are J
exactly, and no right probes are needed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from matcalc import oracles

Call = Callable[..., torch.Tensor]
Fn = Callable[[torch.Tensor], torch.Tensor]


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
    """fn over the leading dim of batch: vmapped when fn supports it, else a loop."""
    try:
        return torch.func.vmap(fn)(batch)
    except Exception:  # an op without a batching rule: same values, one probe at a time
        return torch.stack([fn(b) for b in batch])


def directions(shape: tuple[int, ...], k: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn((k, *shape), generator=gen, device=like.device, dtype=torch.float64).to(like.dtype)


def left_probes(out_shape: tuple[int, ...], k: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    numel = 1
    for s in out_shape:
        numel *= s
    if numel <= k:
        return torch.eye(numel, dtype=like.dtype, device=like.device).reshape(numel, *out_shape)
    return directions(out_shape, k, gen, like)


def probe_pairs(
    *,
    fn: Fn,
    x: torch.Tensor,
    out_shape: tuple[int, ...],
    claim: torch.Tensor | None,
    claim_jvp: Fn | None,
    claim_vjp: Fn | None,
    hessian: bool,
    k: int,
    gen: torch.Generator,
    pullback: Fn | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(claimed, true) pairs to compare: the rows u_i^T D against u_i^T J (one batched vjp), and
    the bilinear forms u_i^T (D v_j) against (u_i^T J) v_j, u^T J v both ways, which check the
    claim's jvp side without a second pass of autograd over the inputs."""
    U = left_probes(out_shape, k, gen, x)
    V = None if _numel(out_shape) <= k else directions(tuple(x.shape), k, gen, x)
    if hessian:
        scalar_fn = lambda w: fn(w).reshape(())
        true_rows = _batched(lambda u: oracles.hvp(scalar_fn, x, u), U)  # H is symmetric
    else:
        if pullback is None:
            _, vjp_fn = torch.func.vjp(fn, x)[:2]
            pullback = lambda u: vjp_fn(u)[0]
        true_rows = _batched(pullback, U).detach()
    flat_u = U.reshape(U.shape[0], -1)
    if claim is not None:
        flat = claim.reshape(_numel(out_shape), x.numel()).to(U.dtype)
        rows = (flat_u @ flat).reshape(U.shape[0], *x.shape)
        dv = None if V is None else V.reshape(V.shape[0], -1) @ flat.T
    else:
        assert claim_jvp is not None
        vjp = claim_vjp if claim_vjp is not None else _vjp_of(claim_jvp, x)
        rows = _batched(vjp, U)
        dv = None if V is None else _batched(claim_jvp, V).reshape(V.shape[0], -1).to(U.dtype)
    pairs = [(rows, true_rows)]
    if V is not None and dv is not None:
        flat_v = V.reshape(V.shape[0], -1)
        pairs.append((flat_u @ dv.T, true_rows.reshape(U.shape[0], -1).to(U.dtype) @ flat_v.T))
    return pairs


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _vjp_of(jvp: Fn, x: torch.Tensor) -> Fn:
    """Without a closed-form vjp, u^T D is the transpose of the (linear) claimed jvp map."""
    _, pullback = torch.func.vjp(jvp, torch.zeros_like(x))[:2]
    return lambda u: pullback(u)[0]
