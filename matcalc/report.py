"""Check rules and render the outcome: tabulate tables, JSON, and the generated catalog page.

Example::

    >>> from matcalc.catalog import RULES
    >>> rows = run_report([RULES["linear_map"]], devices=["cpu"], dtypes=["float64"], timing=False)
    >>> rows[0].status
    'pass'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from tabulate import tabulate

from matcalc.check import check
from matcalc.inputs import draw_inputs, resolve_device, resolve_dtype
from matcalc.oracles import reference_hessian, reference_jacobian
from matcalc.rule import Rule
from matcalc.sizes import scaled_sizes
from matcalc.timing import median_time

FORMATS = {"github": "github", "plain": "plain", "markdown": "pipe", "json": "json"}
COLUMNS = ("rule", "statement", "source", "device", "dtype", "n", "error", "tolerance",
           "status", "closed_form_s", "autograd_s", "speedup")
HEADERS = ("rule", "statement", "source", "device", "dtype", "n", "error", "tolerance",
           "status", "closed form", "autograd", "speedup")


@dataclass
class Row:
    rule: str
    statement: str
    source: str
    device: str
    dtype: str
    n: str
    error: float
    tolerance: float
    status: str
    closed_form_s: float | None
    autograd_s: float | None
    speedup: float | None
    oracle: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "refuted")


def status_of(passed: bool, refuted: bool) -> str:
    if refuted:
        return "UNREFUTED" if passed else "refuted"
    return "pass" if passed else "FAIL"


def available_devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _timings(rule: Rule, device: torch.device, dtype: torch.dtype, sizes: dict[str, int],
             seed: int) -> tuple[float, float]:
    inputs = draw_inputs(rule, sizes, device, dtype, seed)
    if rule.kind == "differential":
        gen = torch.Generator(device=device).manual_seed(seed + 1)  # never the global RNG
        dirs = {f"d{w}": torch.randn(inputs[w].shape, generator=gen, device=device, dtype=dtype)
                for w in rule.wrt_names}
        primals = tuple(inputs[w] for w in rule.wrt_names)
        names = rule.wrt_names

        def fn(*ws: torch.Tensor) -> torch.Tensor:
            return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

        tangents = tuple(dirs[f"d{w}"] for w in names)
        closed = median_time(lambda: rule.derivative(**inputs, **dirs), device, repeats=3)
        auto = median_time(lambda: torch.func.jvp(fn, primals, tangents), device, repeats=3)
        return closed, auto
    name = rule.wrt_names[0]

    def g(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, name: w})

    oracle = reference_hessian if rule.kind == "hessian" else reference_jacobian
    closed = median_time(lambda: rule.derivative(**inputs), device, repeats=3)
    auto = median_time(lambda: oracle(g, inputs[name]), device, repeats=3, budget_s=2.0)
    return closed, auto


def run_report(rules: Iterable[Rule], *, devices: Sequence[str], dtypes: Sequence[str],
               n: int | None = None, seed: int = 0, timing: bool = True,
               progress: Callable[[str], None] | None = None) -> list[Row]:
    """One row per rule x device x dtype."""
    rows: list[Row] = []
    for rule in rules:
        sizes = scaled_sizes(rule.dims(), n) if n is not None else None
        for dev_name in devices:
            dev = resolve_device(rule, dev_name)
            for dt_name in dtypes:
                dt = resolve_dtype(rule, dt_name)
                if progress:
                    progress(f"{rule.name} {dev_name}/{dt_name}")
                res = check(rule, device=dev, dtype=dt, sizes=sizes, seed=seed,
                            diagnose_structure=False)
                closed = auto = None
                if timing:
                    closed, auto = _timings(rule, dev, dt, res.sizes, seed)
                rows.append(Row(
                    rule=rule.name, statement=rule.latex, source=rule.source, device=dev.type,
                    dtype=dt_name, n=", ".join(f"{k}={v}" for k, v in res.sizes.items()) or "-",
                    error=res.error, tolerance=res.tolerance,
                    status=status_of(res.passed, rule.refuted),
                    closed_form_s=closed, autograd_s=auto,
                    speedup=(auto / closed) if closed and auto else None,
                    oracle=res.oracle, detail="" if res.passed else str(res),
                ))
    return rows


def _fmt(value: object, column: str) -> object:
    if value is None:
        return "-"
    if column in ("closed_form_s", "autograd_s") and isinstance(value, float):
        return f"{value * 1e3:.3g} ms"
    if column == "speedup" and isinstance(value, float):
        return f"{value:.3g}x"
    if column in ("error", "tolerance") and isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.2g}"
    return value


def render(rows: Sequence[Row], fmt: str) -> str:
    """``fmt`` is github, plain, markdown or json."""
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], indent=2, default=str)
    table = [[_fmt(getattr(r, c), c) for c in COLUMNS] for r in rows]
    return tabulate(table, headers=HEADERS, tablefmt=FORMATS[fmt], disable_numparse=True)


def summary(rows: Sequence[Row]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return f"{len(rows)} checks: {parts}"
