"""Triton kernels for the fast forms on CUDA: each reads its input once and writes its output once.

Example (runs where Triton is installed: on CUDA, or on CPU with ``TRITON_INTERPRET=1`` set before
this module is imported)::

    >>> import torch
    >>> a = torch.arange(16.0).reshape(4, 4)
    >>> torch.equal(symmetric_sum(a), a + a.T)  # doctest: +SKIP
    True

:mod:`matcalc.fast` imports this module only when a CUDA tensor arrives and Triton is importable;
without Triton the fast forms fall back to their torch versions. ``HAVE_TRITON`` says which.

- :func:`quadratic_gradient`: A x + A^T x from one read of A. Each program owns a block of rows,
  walks the columns tile by tile, and from each tile (loaded once) accumulates its rows' share of
  A x and writes the tile's column sums weighted by x (its share of A^T x) to a workspace of
  (row blocks) x n, which one small reduction folds (1/BLOCK_M of A's traffic; no atomics, so
  the result is deterministic).
- :func:`symmetric_sum`: A + A^T by tile pairs: the program for tiles (I, J), I <= J, loads A[I, J]
  and A[J, I] once each, and writes (A + A^T)[I, J] and its transpose to [J, I]. Both loads and
  both stores are row-contiguous; the result is exactly symmetric.
- :func:`rank_one`: diag(d) + u v^T, the diagonal fused into the one write of the output.
"""

from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl

    HAVE_TRITON = True
except ImportError:  # pragma: no cover - exercised where Triton is absent
    HAVE_TRITON = False

BLOCK_M = 64    # rows per program in quadratic_gradient
BLOCK_N = 128   # columns per tile in quadratic_gradient
TILE = 64       # tile side in symmetric_sum and rank_one

if HAVE_TRITON:

    @triton.jit
    def _quadratic_gradient_kernel(a_ptr, x_ptr, ax_ptr, ws_ptr, n, stride_a,
                                   BM: tl.constexpr, BN: tl.constexpr):
        pid = tl.program_id(0)
        rows = pid.to(tl.int64) * BM + tl.arange(0, BM)
        rmask = rows < n
        xr = tl.load(x_ptr + rows, mask=rmask, other=0.0)
        acc = tl.zeros_like(xr)
        for start in range(0, n, BN):
            cols = start + tl.arange(0, BN).to(tl.int64)
            cmask = cols < n
            a = tl.load(a_ptr + rows[:, None] * stride_a + cols[None, :],
                        mask=rmask[:, None] & cmask[None, :], other=0.0)
            xc = tl.load(x_ptr + cols, mask=cmask, other=0.0)
            acc += tl.sum(a * xc[None, :], axis=1)
            tl.store(ws_ptr + pid.to(tl.int64) * n + cols, tl.sum(a * xr[:, None], axis=0), mask=cmask)
        tl.store(ax_ptr + rows, acc, mask=rmask)

    @triton.jit
    def _symmetric_sum_kernel(a_ptr, out_ptr, n, stride_a, stride_o, B: tl.constexpr):
        bi = tl.program_id(0)
        bj = tl.program_id(1)
        rows = bi.to(tl.int64) * B + tl.arange(0, B)
        cols = bj.to(tl.int64) * B + tl.arange(0, B)
        # Programs below the diagonal have nothing to do: their limit is 0, so every access is masked.
        lim = n * (bi <= bj).to(tl.int64)
        m_ij = (rows[:, None] < lim) & (cols[None, :] < lim)
        m_ji = (cols[:, None] < lim) & (rows[None, :] < lim)
        t_ij = tl.load(a_ptr + rows[:, None] * stride_a + cols[None, :], mask=m_ij, other=0.0)
        t_ji = tl.load(a_ptr + cols[:, None] * stride_a + rows[None, :], mask=m_ji, other=0.0)
        s = t_ij + tl.trans(t_ji)
        tl.store(out_ptr + rows[:, None] * stride_o + cols[None, :], s, mask=m_ij)
        tl.store(out_ptr + cols[:, None] * stride_o + rows[None, :], tl.trans(s), mask=m_ji)

    @triton.jit
    def _rank_one_kernel(d_ptr, u_ptr, v_ptr, out_ptr, n, stride_o, B: tl.constexpr):
        rows = tl.program_id(0).to(tl.int64) * B + tl.arange(0, B)
        cols = tl.program_id(1).to(tl.int64) * B + tl.arange(0, B)
        rmask = rows < n
        cmask = cols < n
        u = tl.load(u_ptr + rows, mask=rmask, other=0.0)
        d = tl.load(d_ptr + rows, mask=rmask, other=0.0)
        v = tl.load(v_ptr + cols, mask=cmask, other=0.0)
        val = u[:, None] * v[None, :]
        val = tl.where(rows[:, None] == cols[None, :], val + d[:, None], val)
        tl.store(out_ptr + rows[:, None] * stride_o + cols[None, :], val,
                 mask=rmask[:, None] & cmask[None, :])


def _need_triton() -> None:
    if not HAVE_TRITON:
        raise RuntimeError("matcalc.fast_triton needs Triton: pip install triton")


def quadratic_gradient(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """A x + A^T x for square A, reading A once."""
    _need_triton()
    n = a.shape[0]
    a = a if a.stride(1) == 1 else a.contiguous()
    x = x.contiguous()
    blocks = triton.cdiv(n, BLOCK_M)
    ax = torch.empty(n, dtype=a.dtype, device=a.device)
    ws = torch.empty(blocks, n, dtype=a.dtype, device=a.device)
    _quadratic_gradient_kernel[(blocks,)](a, x, ax, ws, n, a.stride(0), BM=BLOCK_M, BN=BLOCK_N)
    return ax.add_(ws.sum(0))


def symmetric_sum(a: torch.Tensor) -> torch.Tensor:
    """A + A^T for square A: one read of A, one write of the result, exactly symmetric."""
    _need_triton()
    n = a.shape[0]
    a = a if a.stride(1) == 1 else a.contiguous()
    out = torch.empty(n, n, dtype=a.dtype, device=a.device)
    tiles = triton.cdiv(n, TILE)
    _symmetric_sum_kernel[(tiles, tiles)](a, out, n, a.stride(0), out.stride(0), B=TILE)
    return out


def rank_one(diag: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """diag(d) + u v^T in one write of the n x n output."""
    _need_triton()
    n = u.shape[0]
    out = torch.empty(n, n, dtype=u.dtype, device=u.device)
    tiles = triton.cdiv(n, TILE)
    _rank_one_kernel[(tiles, tiles)](diag.contiguous(), u.contiguous(), v.contiguous(), out, n,
                                     out.stride(0), B=TILE)
    return out
