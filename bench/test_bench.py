"""pytest-benchmark suite: every benchmarkable rule x method x n, grouped by rule.

One function per cell, parametrized by rule, method and n in increasing n; a cell whose time,
extrapolated from the same method at the previous n, would exceed --bench-budget is skipped with
that prediction as the reason. CUDA cells synchronize around the timed call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from matcalc.catalog import RULES
from matcalc.draws.inputs import draw_inputs
from matcalc.model.sizes import scaled_sizes
from matcalc.perf.scaling import (
    BENCH_RULES,
    _over_budget,
    applicable,
    default_ns,
    methods_for,
    output_numel,
    thunk,
)

HISTORY: dict[tuple[str, str], list[tuple[int, float]]] = {}
INPUTS: dict[tuple[str, int, str, str], dict[str, torch.Tensor]] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Cells in increasing n per rule and method, over the chosen device's size range."""
    if "method" not in metafunc.fixturenames:
        return
    device = metafunc.config.getoption("--bench-device")
    cases = []
    for name in BENCH_RULES:
        rule = RULES[name]
        for n in default_ns(rule, device):
            for method in methods_for(rule):
                cases.append(pytest.param(name, method, n, id=f"{name}-{method}-n{n}"))
    metafunc.parametrize(("name", "method", "n"), cases)


def _synced(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    if device != "cuda":
        return fn

    def run() -> Any:
        out = fn()
        torch.cuda.synchronize()
        return out

    return run


def test_cell(benchmark: Any, request: pytest.FixtureRequest, name: str, method: str, n: int) -> None:
    device = request.config.getoption("--bench-device")
    dtype = request.config.getoption("--bench-dtype")
    max_n = request.config.getoption("--bench-max-n")
    budget = request.config.getoption("--bench-budget")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("--bench-device cuda needs a GPU")
    if max_n is not None and n > max_n:
        pytest.skip(f"n={n} > --bench-max-n {max_n}")
    rule = RULES[name]
    reason = _over_budget(HISTORY.get((name, method), []), n, budget)
    if reason:
        pytest.skip(reason)
    key = (name, n, device, dtype)
    if key not in INPUTS:
        INPUTS.clear()  # one size of inputs alive at a time
        INPUTS[key] = draw_inputs(rule, scaled_sizes(rule.dims(), n), torch.device(device),
                                  getattr(torch, dtype), 0)
    inputs = INPUTS[key]
    why = applicable(rule, method, output_numel(rule, inputs))
    if why:
        pytest.skip(why)
    fn = thunk(rule, method, inputs)
    try:
        fn()
    except Exception as exc:  # an autograd mode that does not support this f, e.g. legacy forward-mode vmap
        pytest.skip(f"{method} raised {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
    benchmark.group = name
    benchmark.extra_info.update(rule=name, method=method, n=n, device=device, dtype=dtype)
    rounds = 3 if n >= 4096 else 5
    benchmark.pedantic(_synced(fn, device), rounds=rounds, warmup_rounds=1,
                       iterations=1)
    median = benchmark.stats["median"] if benchmark.stats else math.nan
    HISTORY.setdefault((name, method), []).append((n, median))
