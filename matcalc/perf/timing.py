"""Median wall-clock timing with warm-up, synchronized on CUDA, and interleaved timing of several
methods side by side.

Example::

    >>> import torch
    >>> t = median_time(lambda: torch.ones(8).sum(), torch.device("cpu"), repeats=3)
    >>> t > 0
    True
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], Any], device: torch.device, *, repeats: int = 5,
                warmup: int = 1, budget_s: float | None = None) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs.

    With ``budget_s``, stops repeating once the runs so far have used the budget (at least one
    timed run always happens), so a slow cell cannot stall a whole report.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if budget_s is not None and spent >= budget_s:
            break
    return statistics.median(times)


def interleaved_times(fns: Mapping[str, Callable[[], Any]], device: torch.device, *,
                      repeats: int = 5, warmup: int = 1,
                      clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds of each of ``fns`` over ``repeats`` rounds, each round running every one of them
    once, the order rotated from round to round, after ``warmup`` such rounds.

    On a shared machine the speed drifts within seconds; interleaving puts every method in every
    phase of the drift, so the ratio of their medians measures the methods, not the moment.
    ``clock`` is wall time by default; ``time.process_time`` counts this process's CPU time on
    all its threads, which a machine loaded by other processes does not inflate (a check that
    takes 2.4 ms of CPU took 17 to 23 ms of wall time at a load average of 8 on 2 cores).

    >>> times = interleaved_times({"a": lambda: None, "b": lambda: None}, torch.device("cpu"),
    ...                           repeats=3)
    >>> sorted(times), [len(t) for t in times.values()]
    (['a', 'b'], [3, 3])
    """
    labels = list(fns)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for round_ in range(warmup + repeats):
        shift = round_ % max(1, len(labels))
        for label in labels[shift:] + labels[:shift]:
            _sync(device)
            t0 = clock()
            fns[label]()
            _sync(device)
            if round_ >= warmup:
                times[label].append(clock() - t0)
    return times
