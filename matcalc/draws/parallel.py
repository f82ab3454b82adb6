"""Loops of small torch ops shared among torch's threads.

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
