"""Large inputs drawn fast, on threads: the samplers :func:`matcalc.draws.samplers.draw` switches
to at and above :data:`FAST_DRAW_MIN_NUMEL` entries.

Example::

    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> a = draw_large("spd", (200, 200), gen, torch.float64)
    >>> bool(torch.equal(a, a.T))
    True
    >>> ev = torch.linalg.eigvalsh(a)
    >>> bool(ev.min() > 1 - 1e-9 and ev.max() < 10 + 1e-9)
    True

Why a second set of samplers, and why only above a size:

- ``torch.randn(8192, 8192, dtype=torch.float64)`` runs a scalar Mersenne-Twister and Box-Muller
  loop on one thread: on this project's CPU 60 to 100 passes over the matrix
  (``bench/draw_speed.py`` measures it). Here entries come from numpy's ``Generator`` (SFC64 bits,
  the Ziggurat for normals) at the target precision, one generator per fixed span of
  :data:`SPAN` entries: span ``k`` of a draw with stream seed ``s`` is filled by child ``k`` of
  ``SeedSequence(s)`` (``SeedSequence(s).spawn(k + 1)[k]``). numpy's fill methods release the
  GIL, so spans are drawn on threads, and since each span has its own generator the values depend
  only on the seed, the entry's index and the dtype: never on the number of threads or on how
  spans are shared. Entries are i.i.d. N(0, 1) (or uniform) at float64 or float32 resolution;
  other dtypes are drawn in float32 and rounded. A general 8192 x 8192 float64 draw took 15
  passes on a quiet machine, 28 to 29 while other jobs shared its 2 cores (the Ziggurat's
  arithmetic, about 10 ns per entry per core here, is the bound;
  bench/results/cpu-draws-pure.md).
- The output is allocated by numpy (:func:`matcalc.draws.buffers.empty`), which asks the kernel for
  transparent huge pages; torch's own allocator faults in 4 KiB pages, which on this machine costs
  more than writing the matrix.
- Structured matrices avoid the O(n^3) QR of a Gaussian: their orthogonal factors are a random
  permutation times a block reflector ``I - 2 W W^T`` with ``W`` n x :data:`REFLECTOR_RANK`
  orthonormal (the QR of a thin Gaussian, O(n k^2)). ``Q diag(l) Q^T`` and ``U diag(s) V^T`` are
  then a diagonal plus a rank-2k product: one matrix product with an inner dimension of 2k, one
  write of the output. Eigenvalues and singular values are exactly ``l`` and ``s`` up to rounding,
  so the conditioning guarantees of :data:`matcalc.model.domains.MATRIX_STRUCTURES` are proven the same
  way; what changes is only the distribution of the orthogonal factor (no longer Haar).
- Small draws keep the original samplers bit for bit: seeds recorded in tests, the 100-seed sweep
  record and the docs keep drawing the same inputs. 2**20 entries (8 MiB in float64, n = 1024) is
  where the original samplers start to cost more than the f they feed: below it a draw is
  milliseconds.

All randomness comes from the check's private generator (a 63-bit stream seed is drawn from it),
never from torch's or numpy's global RNG.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from matcalc.draws.buffers import empty
from matcalc.draws.parallel import spread, tile_walk

# At and above this many entries, draw() uses the samplers below (tests lower it to exercise them).
FAST_DRAW_MIN_NUMEL = 2**20
# Entries per span, each drawn by its own generator. Part of the values (another span length draws
# other values), so fixed; 2 MiB of float64, which stays in cache while a thread fills it, and
# 256 spans at n = 8192 (seeding one costs about 15 us).
SPAN = 2**18
# Side of the tiles of symmetrize_: 128 x 128 = 16384 entries, under ATen's grain size (32768), so
# a tile op never starts a thread team of its own (matcalc.fast.forms.TILE says why).
TILE = 128
# Columns of W in the block reflector I - 2 W W^T.
REFLECTOR_RANK = 8
# Structures with a fast sampler on every device; general/symmetric/positive/nonzero have one on CPU
# only (on CUDA torch's Philox generator already runs at memory speed).
STRUCTURED = frozenset({"spd", "separated_eigenvalues", "invertible", "full_column_rank", "orthogonal"})
ELEMENTWISE = frozenset({"general", "symmetric", "positive", "nonzero"})


def is_large(shape: tuple[int, ...]) -> bool:
    """True when a draw of this shape takes the fast path.

    >>> is_large((1024, 1024)), is_large((1023, 1024))
    (True, False)
    """
    return math.prod(shape) >= FAST_DRAW_MIN_NUMEL


def stream_seed(gen: torch.Generator) -> int:
    """A 63-bit seed drawn from ``gen``, for the streams of one large input.

    >>> stream_seed(torch.Generator().manual_seed(0)) == stream_seed(torch.Generator().manual_seed(0))
    True
    """
    return int(torch.randint(2**62, (1,), generator=gen, device=gen.device).item())


def span_generator(seed: int, span: int) -> np.random.Generator:
    """The generator that fills span ``span`` of the stream of ``seed``: numpy's SFC64 seeded by
    child ``span`` of ``SeedSequence(seed)``.

    >>> child = np.random.SeedSequence(7).spawn(3)[2]
    >>> a = span_generator(7, 2).standard_normal(4)
    >>> bool((a == np.random.Generator(np.random.SFC64(child)).standard_normal(4)).all())
    True
    """
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=(span,))))


def _workers(workers: int | None, most: int) -> int:
    if workers is None:
        workers = min(torch.get_num_threads(), os.cpu_count() or 1)
    return max(1, min(workers, most))


def _drawn(normal: bool, shape: tuple[int, ...], seed: int, dtype: torch.dtype, workers: int | None,
           lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """Standard normals, or uniforms scaled to [lo, hi], float64 or float32, span by span on
    ``workers`` threads (each span scaled while it is in cache)."""
    out = empty(shape, dtype, torch.device("cpu"))
    flat = out.view(-1).numpy()
    spans = max(1, -(-flat.shape[0] // SPAN))
    n = _workers(workers, spans)

    def work(first: int) -> None:
        for k in range(first, spans, n):
            part = flat[k * SPAN:(k + 1) * SPAN]
            gen = span_generator(seed, k)
            if normal:
                gen.standard_normal(out=part, dtype=part.dtype)
            else:
                gen.random(out=part, dtype=part.dtype)
                np.multiply(part, hi - lo, out=part)
                np.add(part, lo, out=part)

    spread(work, n)
    return out


def gaussian(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64, *,
             workers: int | None = None) -> torch.Tensor:
    """i.i.d. N(0, 1) entries (numpy's Ziggurat at float64 or float32; other dtypes rounded from
    float32), a CPU tensor of ``dtype``; the same values for any number of ``workers``.

    >>> g = gaussian((4, 3), seed=1)
    >>> bool(torch.equal(g, gaussian((4, 3), seed=1, workers=1))), g.dtype
    (True, torch.float64)
    """
    work_dtype = dtype if dtype in (torch.float64, torch.float32) else torch.float32
    x = _drawn(True, shape, seed, work_dtype, workers)
    return x if work_dtype == dtype else x.to(dtype)


def uniform(shape: tuple[int, ...], lo: float, hi: float, seed: int, dtype: torch.dtype = torch.float64,
            *, workers: int | None = None) -> torch.Tensor:
    """i.i.d. entries uniform in [lo, hi] (numpy's uniforms at float64 or float32, scaled), a CPU
    tensor of ``dtype``.

    >>> u = uniform((1000,), 0.5, 2.0, seed=3)
    >>> bool(u.min() >= 0.5 and u.max() <= 2.0)
    True
    """
    work_dtype = dtype if dtype in (torch.float64, torch.float32) else torch.float32
    x = _drawn(False, shape, seed, work_dtype, workers, lo, hi)
    return x if work_dtype == dtype else x.to(dtype)


def _mean(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x + y).mul_(0.5)


def symmetrize_(a: torch.Tensor, *, workers: int | None = None) -> torch.Tensor:
    """A <- (A + A^T) / 2 in place by the tile walk (one read and one write of A, no second
    matrix; on CPU the rows of tiles on ``workers`` threads); the result is exactly symmetric.

    >>> a = torch.arange(9.0).reshape(3, 3)
    >>> symmetrize_(a).tolist()
    [[0.0, 2.0, 4.0], [2.0, 4.0, 6.0], [4.0, 6.0, 8.0]]
    """
    # on a GPU the tile ops are kernel launches: threads would only contend for the launch queue
    threads = _workers(workers, a.shape[0]) if a.device.type == "cpu" else 1
    return tile_walk(a, a, _mean, TILE, threads)


def orthonormal_columns(n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """n x k with orthonormal columns spanning a uniformly random subspace (QR of a Gaussian), float64.

    >>> w = orthonormal_columns(50, 4, torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(w.T @ w, torch.eye(4, dtype=torch.float64)))
    True
    """
    g = torch.randn(n, k, generator=gen, device=gen.device, dtype=torch.float64)
    return torch.linalg.qr(g).Q


def spectral(eigenvalues: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Q diag(l) Q^T with Q = I - 2 W W^T (W orthonormal, REFLECTOR_RANK columns), float64 and
    exactly symmetric: its eigenvalues are ``eigenvalues``.

    >>> a = spectral(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64), torch.Generator())
    >>> [round(v, 9) for v in torch.linalg.eigvalsh(a).tolist()]
    [1.0, 2.0, 3.0, 4.0]
    """
    n = eigenvalues.shape[0]
    k = min(REFLECTOR_RANK, n)
    w = orthonormal_columns(n, k, gen)
    m = eigenvalues.unsqueeze(1) * w                     # diag(l) W
    eye = torch.eye(k, dtype=torch.float64, device=w.device)
    # (I - 2WW^T) L (I - 2WW^T) = L + [W, LW] [[4 W^T L W, -2I], [-2I, 0]] [W, LW]^T
    inner = torch.cat([torch.cat([4 * (w.T @ m), -2 * eye], 1),
                       torch.cat([-2 * eye, torch.zeros_like(eye)], 1)], 0)
    z = torch.cat([w, m], 1)
    out = empty((n, n), torch.float64, w.device)
    torch.mm(z @ inner, z.T, out=out)
    symmetrize_(out)
    out.diagonal().add_(eigenvalues)
    return out


def singular(rows: int, singular_values: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """U diag(s) V^T, rows x len(s), float64, with U = P (I - 2 W W^T)[:, :cols] (P a random
    permutation) and V = I - 2 X X^T: its singular values are ``s``.

    >>> a = singular(5, torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64), torch.Generator())
    >>> [round(v, 9) for v in torch.linalg.svdvals(a).tolist()]
    [3.0, 2.0, 1.0]
    """
    s = singular_values
    cols = s.shape[0]
    dev = s.device
    wu = orthonormal_columns(rows, min(REFLECTOR_RANK, cols), gen)
    wv = orthonormal_columns(cols, min(REFLECTOR_RANK, cols), gen)
    perm = torch.randperm(rows, generator=gen, device=dev)
    # U_c S V^T = E_c S + [pad(S Wv), Wu] [-2 Wv, -2 V S Wc]^T with Wc = Wu[:cols], V = I - 2 Wv Wv^T
    swv = s.unsqueeze(1) * wv
    swc = s.unsqueeze(1) * wu[:cols]
    vswc = swc - 2 * wv @ (wv.T @ swc)
    left = torch.cat([torch.cat([swv, swv.new_zeros(rows - cols, swv.shape[1])], 0), wu], 1)
    right = torch.cat([-2 * wv, -2 * vswc], 1)
    out = empty((rows, cols), torch.float64, dev)
    torch.mm(left[perm], right.T, out=out)               # P (low-rank part)
    hit = torch.nonzero(perm < cols).squeeze(1)          # P E_c S: row i gets s[perm[i]] at column perm[i]
    out.index_put_((hit, perm[hit]), s[perm[hit]], accumulate=True)
    return out


def _uniform_small(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=gen, device=gen.device, dtype=torch.float64)
    return lo + (hi - lo) * u


def draw_large(structure: str, shape: tuple[int, ...], gen: torch.Generator,
               dtype: torch.dtype) -> torch.Tensor | None:
    """The fast sampler's draw of ``structure`` at ``dtype``, or None where there is none (then the
    original sampler is used). Symmetric structures come back exactly symmetric at ``dtype``.

    >>> x = draw_large("general", (2048, 512), torch.Generator().manual_seed(0), torch.float32)
    >>> x.dtype, tuple(x.shape)
    (torch.float32, (2048, 512))
    """
    device = gen.device
    if structure in ELEMENTWISE and device.type == "cpu":
        seed = stream_seed(gen)
        if structure == "positive":
            return uniform(shape, 0.5, 2.0, seed, dtype)
        x = gaussian(shape, seed, dtype)
        if structure == "symmetric":
            symmetrize_(x)
        elif structure == "nonzero":
            radius = float(_uniform_small(1, 0.5, 1.5, gen)) * math.sqrt(x.numel())
            x.mul_(radius / max(float(torch.linalg.vector_norm(x, dtype=torch.float64)), 1e-300))
        return x
    if structure not in STRUCTURED:
        return None
    rows, cols = shape
    if structure == "spd":
        x = spectral(_uniform_small(rows, 1.0, 10.0, gen), gen)
    elif structure == "separated_eigenvalues":
        steps = torch.arange(rows, device=device, dtype=torch.float64) - rows // 2
        lam = steps + _uniform_small(rows, 0.25, 0.75, gen)
        x = spectral(lam[torch.randperm(rows, generator=gen, device=device)], gen)
    elif structure == "orthogonal":
        x = singular(rows, torch.ones(cols, dtype=torch.float64, device=device), gen)
    else:  # invertible, full_column_rank (rows >= cols is checked by the caller)
        x = singular(rows, _uniform_small(cols, 1.0, 10.0, gen), gen)
    if dtype == torch.float64:
        return x
    out = empty(shape, dtype, device)
    return out.copy_(x)  # elementwise rounding keeps exact symmetry
