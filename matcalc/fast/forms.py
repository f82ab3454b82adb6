"""Fast implementations of catalog closed forms (the rules' ``fast`` field).

Example::

    >>> a = torch.arange(9.0).reshape(3, 3)
    >>> torch.equal(symmetric_sum(a), a + a.T)
    True

The catalog keeps the simple form as the statement; these compute the same value with fewer
passes over memory, and tests/test_catalog.py verifies each against its statement. Each docstring
says what it reads and writes, which is what `matcalc bench` compares with the bandwidth floor.

On CUDA, where Triton is installed, each runs as one Triton kernel that reads its input once and
writes its output once (:mod:`matcalc.fast_triton`, imported on first use; ``USE_TRITON = False``
turns it off). On CPU the large outputs go to huge-page buffers (:mod:`matcalc.buffers`): on this
project's machine first-touch page faults of a fresh torch buffer cost more than the write itself.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch
from torch.autograd import forward_ad

from matcalc.draws.buffers import empty
from matcalc.draws.parallel import spread

# Side of the CPU tiles of symmetric_sum: 128 x 128 = 16384 entries stays under ATen's grain size
# (32768), so a tile op never starts a thread team; 256 tiles did, and on a loaded 2-core machine
# each team start could stall for milliseconds (bench/fast_forms.py measures both).
TILE = 128
USE_TRITON = True


def _compiled() -> ModuleType | None:
    try:
        return importlib.import_module("matcalc._fastcpu")
    except ImportError:  # installed without a C compiler: the torch loops below run instead
        return None


# matcalc/_fastcpu.c; None where it was not built (then the torch tile loops run instead).
_fastcpu = _compiled()


def _triton(t: torch.Tensor, *others: torch.Tensor) -> ModuleType | None:
    """matcalc.fast_triton when ``t`` is on CUDA, Triton is importable and nothing records the
    inputs (the kernels have no derivative of their own, see :func:`_plain`), else None."""
    if not USE_TRITON or t.device.type != "cuda" or not _plain(t, *others):
        return None
    from matcalc.fast import triton_kernels as fast_triton
    return fast_triton if fast_triton.HAVE_TRITON else None


def _numpy_ready(*ts: torch.Tensor) -> bool:
    """Contiguous float64/float32 tensors of one dtype without the lazy neg bit, which
    ``.numpy()`` refuses: what the compiled loops take."""
    return all(t.dtype == ts[0].dtype and t.dtype in (torch.float64, torch.float32) and t.is_contiguous()
               and not t.is_neg() for t in ts)


def _needs_grad(*ts: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in ts)


def _plain(*ts: torch.Tensor) -> bool:
    """Nothing records these tensors: no gradient is needed, no torch.func transform is active
    and none carries a forward-mode tangent (``torch.autograd.forward_ad``, which
    ``check_backward``'s jvp probe uses). The out= writes, worker threads and compiled loops below
    are only safe then (a claim's text can put these forms inside an f that autograd
    differentiates)."""
    return (not _needs_grad(*ts) and torch._C._functorch.peek_interpreter_stack() is None
            and not any(forward_ad.unpack_dual(t).tangent is not None for t in ts))


def symmetric_sum(a: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """A + A^T for square A by cache-sized tiles: reads A once and writes the result once.
    The plain ``A + A.T`` walks A.T with a stride of n and was measured 20x slower at n = 8192.
    On CPU the rows of tiles are shared among torch's threads: each tile op is too small to start
    a thread team of its own, so one thread would leave the other cores idle (2 threads measured
    1.4x faster than one at n = 8192; bench/results/cpu-fast-forms.md). Contiguous float64 and
    float32 matrices take the compiled loop of ``matcalc/_fastcpu.c`` where it was built; every
    path gives the same values (each entry is the one addition A[i, j] + A[j, i])."""
    n = a.shape[0]
    kernels = _triton(a)
    if kernels is not None:
        return kernels.symmetric_sum(a)
    if n <= tile or a.device.type != "cpu":  # on a GPU the tile loop's launches cost more than it saves
        return a + a.T
    out = empty((n, n), a.dtype, a.device)
    starts = range(0, n, tile)
    # torch.func transforms are per thread (workers would not see them), and autograd must not
    # record several threads writing into one output
    plain = _plain(a)
    workers = max(1, min(torch.get_num_threads(), len(starts))) if plain else 1
    compiled = _fastcpu
    if compiled is not None and plain and _numpy_ready(a):
        # One compiled pass, 64 x 64 tiles, the GIL released: the torch loop's ~2,000 tile ops
        # cost Python and dispatch time comparable to the memory traffic.
        src, dst = a.detach().numpy(), out.numpy()
        spread(lambda w: compiled.symmetric_sum(src, dst, w, workers), workers)
        return out

    def rows_of_tiles(first: int) -> None:
        for i in starts[first::workers]:  # interleaved: the triangle's rows shrink
            for j in range(i, n, tile):
                block = a[i:i + tile, j:j + tile] + a[j:j + tile, i:i + tile].T
                out[i:i + tile, j:j + tile] = block
                if j != i:
                    out[j:j + tile, i:i + tile] = block.T

    spread(rows_of_tiles, workers)
    return out


ROW_BLOCK = 32


def quadratic_gradient(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """x^T (A^T + A) = A x + A^T x, never forming A^T + A.

    On CPU, one pass over A: each block of 32 rows (1 MiB at n = 8192 in float32) is used for its
    share of A x and of A^T x while it is still in cache, the blocks shared among torch's threads;
    bench/results/cpu-fast-forms.md has it against two matrix-vector products and autograd. On
    CUDA the loop's kernel launches would cost more than they save: with Triton it is one kernel
    that reads A once, without it two bandwidth-bound matrix-vector products. Contiguous float64
    and float32 inputs take the compiled loop of ``matcalc/_fastcpu.c`` where it was built (four
    rows at a time for both products; 1.6x faster than the torch block loop at n = 8192 in
    bench/results/cpu-fast-forms.md); its
    sums are ordered differently, so the two agree to rounding, not bit for bit.
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
    compiled = _fastcpu
    if compiled is not None and _numpy_ready(a, x) and x.dim() == 1 and a.shape[0] == a.shape[1]:
        # One compiled loop reads each row once for both products (two torch calls per block read
        # it from cache twice and pay two dispatches).
        arrays = a.detach().numpy(), x.detach().numpy(), ax.numpy()
        spread(lambda w: compiled.quadratic_gradient(*arrays, shares[w].numpy(), w, workers), workers)
        for share in shares:
            ax.add_(share)
        return ax

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
