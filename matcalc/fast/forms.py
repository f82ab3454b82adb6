"""Fast implementations of catalog closed forms (the rules' ``fast`` field).

Example::

    >>> a = torch.arange(9.0).reshape(3, 3)
    >>> torch.equal(symmetric_sum(a), a + a.T)
    True

The catalog keeps the simple form as the statement; these compute the same value with fewer
passes over memory, and tests/test_catalog.py verifies each against its statement. Each docstring
says what it reads and writes, which is what `matcalc bench` compares with the bandwidth floor.

On CUDA, where Triton is installed, each runs as one Triton kernel that reads its input once and
writes its output once (:mod:`matcalc.fast.triton_kernels`, imported on first use;
``USE_TRITON = False`` turns it off). On CPU they are loops of cache-sized torch ops shared among
torch's threads (:mod:`matcalc.draws.parallel`), and the large outputs go to huge-page buffers
(:mod:`matcalc.draws.buffers`): on this project's machine first-touch page faults of a fresh torch
buffer cost more than the write itself.
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch.autograd import forward_ad

from matcalc.draws.buffers import empty
from matcalc.draws.parallel import spread, tile_walk

# Side of the CPU tiles of symmetric_sum: 128 x 128 = 16384 entries stays under ATen's grain size
# (32768), so a tile op never starts a thread team; 256 tiles did, and on a loaded 2-core machine
# each team start could stall for milliseconds (bench/fast_forms.py measures both).
TILE = 128
USE_TRITON = True


def _triton(t: torch.Tensor, *others: torch.Tensor) -> ModuleType | None:
    """matcalc.fast.triton_kernels when ``t`` is on CUDA, Triton is importable and nothing records
    the inputs (the kernels have no derivative of their own, see :func:`_plain`), else None."""
    if not USE_TRITON or t.device.type != "cuda" or not _plain(t, *others):
        return None
    from matcalc.fast import triton_kernels as fast_triton
    return fast_triton if fast_triton.HAVE_TRITON else None


def _needs_grad(*ts: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in ts)


def _plain(*ts: torch.Tensor) -> bool:
    """Nothing records these tensors: no gradient is needed, no torch.func transform is active
    and none carries a forward-mode tangent (``torch.autograd.forward_ad``, which
    ``check_backward``'s jvp probe uses). The out= writes and worker threads below are only safe
    then (a claim's text can put these forms inside an f that autograd differentiates)."""
    return (not _needs_grad(*ts) and torch._C._functorch.peek_interpreter_stack() is None
            and not any(forward_ad.unpack_dual(t).tangent is not None for t in ts))


def symmetric_sum(a: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """A + A^T for square A by the tile walk (:func:`matcalc.draws.parallel.tile_walk`): reads A
    once and writes the result once. The plain ``A + A.T`` walks A.T with a stride of n and was
    measured 20x slower at n = 8192.
    On CPU the rows of tiles are shared among torch's threads: each tile op is too small to start
    a thread team of its own, so one thread would leave the other cores idle (2 threads measured
    1.4x faster than one at n = 8192; bench/results/cpu-fast-forms.md). Every path gives the same
    values: each entry is the one addition A[i, j] + A[j, i]."""
    n = a.shape[0]
    kernels = _triton(a)
    if kernels is not None:
        return kernels.symmetric_sum(a)
    if n <= tile or a.device.type != "cpu":  # on a GPU the tile loop's launches cost more than it saves
        return a + a.T
    # torch.func transforms are per thread (workers would not see them), and autograd must not
    # record several threads writing into one output
    workers = torch.get_num_threads() if _plain(a) else 1
    return tile_walk(a, empty((n, n), a.dtype, a.device), torch.add, tile, workers)


ROW_BLOCK = 32


def quadratic_gradient(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """x^T (A^T + A) = A x + A^T x, never forming A^T + A.

    On CPU, one pass over A: each block of 32 rows (1 MiB at n = 8192 in float32) is used for its
    share of A x and of A^T x while it is still in cache, the blocks shared among torch's threads;
    bench/results/cpu-fast-forms.md has it against two matrix-vector products and autograd. On
    CUDA the loop's kernel launches would cost more than they save: with Triton it is one kernel
    that reads A once, without it two bandwidth-bound matrix-vector products. The blocks' partial
    sums of A^T x are added per worker, so results at different thread counts agree to rounding,
    not bit for bit.
    """
    if a.shape[0] > 4 * ROW_BLOCK and (kernels := _triton(a, x)) is not None:
        return kernels.quadratic_gradient(x, a)
    if a.device.type != "cpu" or a.shape[0] <= 4 * ROW_BLOCK or not _plain(x, a):
        return torch.addmv(x @ a, a, x)
    n = a.shape[0]
    ax = torch.empty(n, dtype=a.dtype)
    # Each block's two products are too small for a thread team of their own: the blocks are
    # shared among torch's threads instead, each summing its own share of A^T x (2 threads
    # measured 1.2x to 1.5x faster than one at n = 8192).
    workers = max(1, min(torch.get_num_threads(), n // (8 * ROW_BLOCK)))
    shares = [torch.zeros(a.shape[1], dtype=a.dtype) for _ in range(workers)]

    def blocks(w: int) -> None:
        for i in range(w * ROW_BLOCK, n, ROW_BLOCK * workers):
            rows = a[i:i + ROW_BLOCK]
            torch.mv(rows, x, out=ax[i:i + ROW_BLOCK])
            shares[w].addmv_(rows.T, x[i:i + ROW_BLOCK])

    spread(blocks, workers)
    for share in shares:
        ax.add_(share)
    return ax


def rank_one_hessian(diag: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """diag(d) + u v^T written in one pass over the n x n output (plus the diagonal; on CUDA with
    Triton the diagonal is fused into that pass)."""
    kernels = _triton(u, v, diag)
    if kernels is not None:
        return kernels.rank_one(diag, u, v)
    n = u.shape[0]
    if not _plain(u, v, diag):  # out= has no derivative
        out = torch.outer(u, v)
    else:
        out = torch.outer(u, v, out=empty((n, n), u.dtype, u.device))
    out.diagonal().add_(diag)
    return out


def norm_hessian(x: torch.Tensor) -> torch.Tensor:
    """(I - x x^T / ||x||^2) / ||x||: one write of the output."""
    r = torch.linalg.vector_norm(x)
    return rank_one_hessian((1 / r).expand(x.shape[0]), x, x * (-1 / r**3))


def logsumexp_hessian(x: torch.Tensor) -> torch.Tensor:
    """diag(p) - p p^T with p = softmax(x): one write of the output."""
    p = torch.softmax(x, 0)
    return rank_one_hessian(p, p, -p)
