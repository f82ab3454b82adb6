"""Check rules and render the outcome: tabulate tables, JSON, and the generated catalog page.

Example::

    >>> from matcalc.catalog import RULES
    >>> rows = run_report([RULES["linear_map"]], devices=["cpu"], dtypes=["float64"], timing=False)
    >>> rows[0].status
    'pass'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from tabulate import tabulate

from matcalc.core.result import Result
from matcalc.draws.inputs import draw_inputs
from matcalc.engine.check import check
from matcalc.engine.settings import resolve_device, resolve_dtype
from matcalc.model.rule import Rule
from matcalc.model.sizes import scaled_sizes
from matcalc.oracles import reference_hessian, reference_jacobian
from matcalc.perf.timing import median_time
from matcalc.report.status_words import Status, status_of, verdict_of
from matcalc.report.strictjson import dumps

FORMATS = {"github": "github", "plain": "plain", "markdown": "pipe", "json": "json"}
TERMINAL_FORMATS = ("github", "plain")
TIMING_COLUMNS = ("closed_form_s", "autograd_s", "speedup")
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

    @property
    def verdict(self) -> Status:
        return "inconclusive" if self.status == "inconclusive" else "expected" if self.ok else "unexpected"


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
                    status=status_of(res.outcome, rule.refuted),
                    closed_form_s=closed, autograd_s=auto,
                    speedup=(auto / closed) if closed and auto else None,
                    oracle=res.oracle, detail=_detail(res) if verdict_of(res.outcome, rule.refuted)
                    != "expected" else "",
                ))
    return rows


def _detail(res: Result) -> str:
    text = str(res)
    if res.inconclusive and res.inconclusive not in text:
        text += f"\n  inconclusive: {res.inconclusive}"
    return text


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


def render(rows: Sequence[Row], fmt: str, *, timing: bool = True, width: int | None = None) -> str:
    """``fmt`` is github, plain, markdown or json (strict: no NaN or Infinity). ``timing=False``
    drops the timing columns. ``width`` fits a terminal format to that many characters: the
    statement column is cut short, then dropped, and so on (markdown keeps every column in full).

    >>> from matcalc.catalog import RULES
    >>> rows = run_report([RULES["linear_map"]], devices=["cpu"], dtypes=["float64"], timing=False)
    >>> print(render(rows, "plain", timing=False, width=60).splitlines()[0])
    rule        dtype    n         error    tolerance    status
    """
    if fmt == "json":
        return dumps([asdict(r) for r in rows], indent=2, default=str)
    columns = [c for c in COLUMNS if timing or c not in TIMING_COLUMNS]
    headers = [HEADERS[COLUMNS.index(c)] for c in columns]
    table = [[str(_fmt(getattr(r, c), c)) for c in columns] for r in rows]
    if width is None or fmt not in TERMINAL_FORMATS:
        return tabulate(table, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)
    from matcalc.report.terminal_width import cut, fit_table

    src = columns.index("source")
    for row in table:  # a long source leaves the statement no room; markdown keeps it whole
        row[src] = cut(row[src], max(20, width // 6))
    # What a narrow terminal loses first: the statement, then the columns the others imply.
    narrowing = ("statement", "device", "source", "n", "tolerance", "autograd_s", "closed_form_s", "rule")
    flexible = [columns.index(c) for c in narrowing if c in columns]
    return fit_table(headers, table, width=width, tablefmt=FORMATS[fmt], flexible=flexible,
                     keep=[columns.index("rule")])


def summary(rows: Sequence[Row]) -> str:
    """Counts by outcome: passes, failures and inconclusive checks apart, errata apart.

    >>> summary([])
    '0 checks: 0 pass, 0 failed, 0 inconclusive'
    """
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [f"{counts.get('pass', 0)} pass", f"{counts.get('FAIL', 0)} failed",
             f"{counts.get('inconclusive', 0)} inconclusive"]
    if counts.get("refuted"):
        parts.append(f"{counts['refuted']} errata refuted (as expected)")
    if counts.get("UNREFUTED"):
        parts.append(f"{counts['UNREFUTED']} errata UNREFUTED")
    return f"{len(rows)} checks: {', '.join(parts)}"
