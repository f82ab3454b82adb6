"""Verification at large n with the probe oracle, and where its time goes.

Example::

    >>> from matcalc.catalog import RULES
    >>> row = probe_breakdown(RULES["linear_map"], 256)
    >>> row["passed"], row["oracle"]
    (True, 'probe')
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import torch

from matcalc.draws.inputs import draw_inputs
from matcalc.engine.check import check
from matcalc.engine.settings import resolve_device, resolve_dtype
from matcalc.model.rule import Rule
from matcalc.model.sizes import scaled_sizes
from matcalc.perf.timing import median_time

LARGE_RULES = ("linear_map", "quadratic_form", "norm_gradient")


def probe_breakdown(rule: Rule, n: int, *, device: str = "cpu", dtype: str = "float64",
                    repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Median seconds of each stage of a probe check, beside one pass over the inputs.

    ``passes`` is (claim + f + oracle time) / (one pass), the cost beyond drawing the inputs in
    units of reading every input once (``sum()`` over each input, timed in the same run).
    """
    dev, dt = resolve_device(rule, device), resolve_dtype(rule, dtype)
    sizes = scaled_sizes(rule.dims(), n)
    check(rule, device=dev, dtype=dt, sizes=sizes, seed=seed, oracle="probe")  # warm-up, not timed
    runs = [check(rule, device=dev, dtype=dt, sizes=sizes, seed=seed, oracle="probe") for _ in range(repeats)]
    inputs = draw_inputs(rule, sizes, dev, dt, seed)
    one_pass = median_time(lambda: [t.sum() for t in inputs.values()], dev, repeats=7)
    stages = {k: statistics.median(r.timings.get(k, 0.0) for r in runs)
              for k in ("draw", "f", "claim", "oracle")}
    beyond_draw = stages["f"] + stages["claim"] + stages["oracle"]
    return {
        "rule": rule.name, "n": n, "device": dev.type, "dtype": dt_name(dt), "oracle": runs[0].oracle,
        "passed": all(r.passed for r in runs), "outcome": _worst(r.outcome for r in runs),
        "refuted": rule.refuted, "error": runs[0].error, "tolerance": runs[0].tolerance,
        **{f"{k}_s": v for k, v in stages.items()}, "one_pass_s": one_pass,
        "passes": beyond_draw / one_pass if one_pass > 0 else float("inf"),
        "input_bytes": sum(t.numel() * t.element_size() for t in inputs.values()),
    }


def _worst(outcomes: Iterable[str]) -> str:
    seen = set(outcomes)
    return "fail" if "fail" in seen else "inconclusive" if "inconclusive" in seen else "pass"


def dt_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
