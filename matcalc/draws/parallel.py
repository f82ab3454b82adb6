"""Loops of small torch and numpy ops shared among torch's threads, and the tile walk.

Example::

    >>> seen = []
    >>> spread(seen.append, 3)
    >>> sorted(seen)
    [0, 1, 2]

Why: an op below ATen's grain size (32768 entries) never starts a thread team, so a Python loop of
cache-sized ops (the large draws, the CPU fast forms) runs on one core unless the loop itself is
split. The ops release the GIL, so Python threads run them in parallel. Grad mode and inference
mode are per thread, and a new thread starts in grad mode outside inference mode: each worker
gets the caller's modes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch


def spread(work: Callable[[int], object], workers: int) -> None:
    """``work(0)``, ..., ``work(workers - 1)``, on that many threads (inline for one), in the
    caller's grad and inference modes.

    >>> spread(lambda w: None, 1)
    """
    if workers <= 1:
        work(0)
        return
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def in_callers_modes(w: int) -> None:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            work(w)

    with ThreadPoolExecutor(workers) as pool:
        for done in [pool.submit(in_callers_modes, w) for w in range(workers)]:
            done.result()


Combine = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def tile_walk(src: torch.Tensor, dst: torch.Tensor, combine: Combine, tile: int,
              workers: int = 1) -> torch.Tensor:
    """The tile walk: for each pair of ``tile`` x ``tile`` tiles (I, J) of square ``src`` with
    I on or above the diagonal, ``dst[I, J] = combine(src[I, J], src[J, I].T)`` and ``dst[J, I]``
    its transpose; returns ``dst``. Rows of tiles are shared among ``workers`` threads.

    >>> a = torch.arange(9.0).reshape(3, 3)
    >>> tile_walk(a, torch.empty(3, 3), torch.add, tile=2).tolist()
    [[0.0, 4.0, 8.0], [4.0, 8.0, 12.0], [8.0, 12.0, 16.0]]

    Each pair of tiles is read whole before either is written and no two pairs share a tile, so
    ``dst`` may be ``src`` (in place) as long as ``combine`` returns a new tensor. Walking A^T in
    tiles keeps its strided reads in cache.
    """
    n = src.shape[0]
    starts = range(0, n, tile)
    workers = max(1, min(workers, len(starts)))

    def rows_of_tiles(first: int) -> None:
        for i in starts[first::workers]:  # interleaved: the triangle's rows shrink
            for j in range(i, n, tile):
                block = combine(src[i:i + tile, j:j + tile], src[j:j + tile, i:i + tile].T)
                dst[i:i + tile, j:j + tile] = block
                if j != i:
                    dst[j:j + tile, i:i + tile] = block.T

    spread(rows_of_tiles, workers)
    return dst
