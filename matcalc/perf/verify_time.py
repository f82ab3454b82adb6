"""Time to a verdict at large n, in passes over the inputs: matcalc's ``auto`` and its own oracles
against the checks people write by hand (``jacrev`` + ``assert_close``, ``gradcheck`` in fast mode,
and JAX's ``check_grads`` when jax is importable), on the three checks of :data:`CASES` (x^T A x
at n = 8192, D(Ax) at n = 4096, log|det X| at n = 4096), float64, CPU.

A pass is one ``sum()`` over every input, timed in the same run; each cell is the median time of
a whole check over ``repeats`` runs, drawing included, divided by one pass. matcalc draws its own
inputs; the hand-written checks get the same inputs from matcalc's sampler and are charged that
draw too, so every column pays for its inputs once. ``matcalc bench --verify`` prints the table
(and ``bench/verify_time.py`` does too).

The engine's own cost (``matcalc bench --verify --engine-cost``) is a second table, measured by
:mod:`matcalc.perf.engine_cost`.

Example::

    >>> from matcalc.catalog import RULES
    >>> rows = verify_table([(RULES["linear_map"], 16)], repeats=1, oracles=("auto", "probe"))
    >>> rows[0].check, rows[0].n, rows[0].auto_chose, list(rows[0].passes)[:3]
    ('linear_map', 16, 'jacobian', ['draw', 'auto', 'probe'])
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.util import find_spec
from typing import Any

import torch
from tabulate import tabulate

from matcalc.catalog import RULES
from matcalc.draws.inputs import draw_inputs
from matcalc.engine.check import check
from matcalc.errors import MatcalcError
from matcalc.model.domains import matrix
from matcalc.model.rule import Rule
from matcalc.perf.timing import median_time

CPU = torch.device("cpu")
DTYPE = torch.float64
ORACLES = ("auto", "jacobian", "probe", "taylor")
DEFAULT_ORACLES = ("auto", "jacobian", "probe")
SMALL_N = 512
JACREV = "jacrev + assert_close"
GRADCHECK = "gradcheck fast"
JAX = "JAX check_grads"
ONE_PASS_REPEATS = 7

LOGDET = Rule(name="log_abs_det", f=lambda X: torch.linalg.slogdet(X).logabsdet,
              derivative=lambda X: torch.linalg.inv(X).T, wrt="X",
              inputs={"X": matrix("n", "n", structure="invertible")})
CASES: tuple[tuple[Rule, int], ...] = ((RULES["quadratic_form"], 8192), (RULES["linear_map"], 4096),
                                        (LOGDET, 4096))

# f of each case written in jax.numpy, given the inputs that are not differentiated (as jax arrays).
JAX_F: dict[str, Callable[[Any, Mapping[str, Any]], Callable[[Any], Any]]] = {
    "quadratic_form": lambda jnp, c: lambda x: x @ c["A"] @ x,
    "linear_map": lambda jnp, c: lambda x: c["A"] @ x,
    "log_abs_det": lambda jnp, c: lambda X: jnp.linalg.slogdet(X)[1],
}


@dataclass
class VerifyRow:
    """One check of the table: median seconds per column and the same in passes over the inputs.

    >>> row = VerifyRow("linear_map", 64, 0.001, {"draw": 0.002}, {"draw": 2.0}, "probe", 1.1)
    >>> row.passes["draw"]
    2.0
    """

    check: str
    n: int
    one_pass_s: float
    seconds: dict[str, float]  # column -> median seconds; nan where the check could not run
    passes: dict[str, float]  # column -> median of (seconds / the pass timed just before it)
    auto_chose: str  # the oracle auto picked ("" when auto could not run)
    auto_over_fastest_own: float  # auto's time over the fastest of matcalc's own oracles (nan: none)


def jax_available() -> bool:
    """Whether jax can be imported, without importing it (the JAX column is shown only then).

    >>> isinstance(jax_available(), bool)
    True
    """
    return find_spec("jax") is not None


def own_oracles(oracles: Iterable[str]) -> tuple[str, ...]:
    """The oracles to time: ``auto`` always first, then each requested one once, in order.

    >>> own_oracles(["probe", "auto", "jacobian", "probe"])
    ('auto', 'probe', 'jacobian')
    >>> own_oracles(["func"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: unknown oracle 'func' for the verification-time table: use auto, ...
    """
    chosen = list(oracles)
    unknown = [o for o in chosen if o not in ORACLES]
    if unknown:
        raise MatcalcError(f"unknown oracle {unknown[0]!r} for the verification-time table: use "
                           f"{', '.join(ORACLES)}")
    return tuple(dict.fromkeys(["auto", *chosen]))


def cases(ns: Sequence[int] | None = None) -> list[tuple[Rule, int]]:
    """The checks to time: :data:`CASES` at their own n, or every case at each n of ``ns``.

    >>> [(rule.name, n) for rule, n in cases()]
    [('quadratic_form', 8192), ('linear_map', 4096), ('log_abs_det', 4096)]
    >>> [(rule.name, n) for rule, n in cases([64])]
    [('quadratic_form', 64), ('linear_map', 64), ('log_abs_det', 64)]
    """
    if not ns:
        return list(CASES)
    for n in ns:
        if n < 1:
            raise MatcalcError(f"n must be a positive int, got {n}")
    return [(rule, n) for n in ns for rule, _ in CASES]


def sizes_for(rule: Rule, n: int) -> dict[str, int]:
    """The sizes of a case: dim ``n`` is n, any other dim 3/5 of it (at least 2).

    >>> from matcalc.catalog import RULES
    >>> sizes_for(RULES["linear_map"], 4096)
    {'m': 2457, 'n': 4096}
    """
    return {d: n if d == "n" else max(2, n * 3 // 5) for d in rule.dims()}


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs on the CPU, no warm-up run.

    >>> median_s(lambda: sum(range(10)), 3) >= 0
    True
    """
    return median_time(fn, CPU, repeats=repeats, warmup=0)


def paired(fn: Callable[[], object], one_pass: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median seconds of ``fn``, median of its time over the time of ``one_pass`` measured just
    before it). Pairing each run with its own unit cancels most of a shared machine's drift,
    which moved one pass by 2x within a minute on this project's CPU.

    >>> seconds, ratio = paired(lambda: sum(range(1000)), lambda: sum(range(100)), 3)
    >>> seconds > 0 and ratio > 0
    True
    """
    times, ratios = [], []
    for _ in range(repeats):
        one_pass()  # after a long run the first short one pays for waking threads and caches
        unit = median_s(one_pass, 5)
        times.append(median_s(fn, 1))
        ratios.append(times[-1] / max(unit, 1e-12))
    return statistics.median(times), statistics.median(ratios)


def hand_written(rule: Rule, sizes: Mapping[str, int]) -> Callable[[], None]:
    """What people write: draw, ``jacrev`` of f, the closed form, ``assert_close``.

    >>> from matcalc.catalog import RULES
    >>> hand_written(RULES["linear_map"], {"m": 3, "n": 5})()
    """
    def run() -> None:
        inputs = draw_inputs(rule, sizes, CPU, DTYPE, 0)
        name = rule.wrt_names[0]
        jac = torch.func.jacrev(lambda w: rule.f(**{**inputs, name: w}))(inputs[name])
        torch.testing.assert_close(rule.derivative(**inputs).reshape(jac.shape), jac)
    return run


def gradcheck_fast(rule: Rule, sizes: Mapping[str, int]) -> Callable[[], None]:
    """Draw, then ``torch.autograd.gradcheck(..., fast_mode=True)`` of f (autograd against finite
    differences; the closed form is not looked at).

    >>> from matcalc.catalog import RULES
    >>> gradcheck_fast(RULES["linear_map"], {"m": 3, "n": 5})()
    """
    def run() -> None:
        inputs = draw_inputs(rule, sizes, CPU, DTYPE, 0)
        name = rule.wrt_names[0]
        x = inputs[name].clone().requires_grad_(True)
        torch.autograd.gradcheck(lambda w: rule.f(**{**inputs, name: w}), (x,), fast_mode=True)
    return run


def jax_check_grads(rule: Rule, sizes: Mapping[str, int]) -> Callable[[], None]:
    """Draw, copy the inputs to numpy, then ``jax.test_util.check_grads(f, (x,), order=1,
    modes=("rev",))`` in float64 with f written in jax.numpy (:data:`JAX_F`). Needs jax.

    >>> from matcalc.catalog import RULES
    >>> jax_check_grads(RULES["linear_map"], {"m": 3, "n": 5})()  # doctest: +SKIP
    """
    if rule.name not in JAX_F:
        raise MatcalcError(f"no jax.numpy version of {rule.name!r}: add one to "
                           "matcalc.perf.verify_time.JAX_F")
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    make_f = JAX_F[rule.name]

    def run() -> None:
        inputs = draw_inputs(rule, sizes, CPU, DTYPE, 0)
        name = rule.wrt_names[0]
        arrays = {k: jnp.asarray(v.numpy()) for k, v in inputs.items()}
        x = arrays.pop(name)
        check_grads(make_f(jnp, arrays), (x,), order=1, modes=("rev",))
    return run


def baselines(rule: Rule, sizes: Mapping[str, int], *, jax: bool) -> list[tuple[str, Callable[[], None]]]:
    """The hand-written checks, by column: jacrev + assert_close, gradcheck fast, and JAX's
    check_grads when ``jax`` (built lazily: jax is imported only when that column runs).

    >>> from matcalc.catalog import RULES
    >>> [label for label, _ in baselines(RULES["linear_map"], {"m": 3, "n": 5}, jax=True)]
    ['jacrev + assert_close', 'gradcheck fast', 'JAX check_grads']
    """
    out = [(JACREV, hand_written(rule, sizes)), (GRADCHECK, gradcheck_fast(rule, sizes))]
    if jax:
        out.append((JAX, lambda: jax_check_grads(rule, sizes)()))
    return out


def measure(rule: Rule, n: int, repeats: int, oracles: Iterable[str] = DEFAULT_ORACLES, *,
            jax: bool | None = None, note: Callable[[str], None] | None = None) -> VerifyRow:
    """One row: one pass, the draw, each oracle (``auto`` always) and each hand-written check.

    >>> from matcalc.catalog import RULES
    >>> row = measure(RULES["quadratic_form"], 16, 1, ("jacobian",), jax=False)
    >>> row.auto_chose, list(row.passes)
    ('jacobian', ['draw', 'auto', 'jacobian', 'jacrev + assert_close', 'gradcheck fast'])

    A check that cannot run (over the memory budget, out of memory, an assertion) gets nan, and
    ``note`` is told why (default: a line on stderr). ``jax=None`` shows the JAX column when jax
    is importable.
    """
    oracles = own_oracles(oracles)
    jax = jax_available() if jax is None else jax
    if note is None:
        note = _print_stderr
    sizes = sizes_for(rule, n)
    where = f"{rule.name} n={n}"
    kept = draw_inputs(rule, sizes, CPU, DTYPE, 0)

    def unit() -> object:
        return [t.sum() for t in kept.values()]

    one_pass = median_s(unit, ONE_PASS_REPEATS)
    seconds: dict[str, float] = {}
    passes: dict[str, float] = {}
    seconds["draw"], passes["draw"] = paired(lambda: draw_inputs(rule, sizes, CPU, DTYPE, 0), unit,
                                             repeats)
    chosen = ""
    for oracle in oracles:
        try:
            res = check(rule, sizes=sizes, oracle=oracle, diagnose_structure=False)
        except MatcalcError as exc:  # over the memory budget, say
            seconds[oracle] = passes[oracle] = math.nan
            note(f"{where} {oracle}: {exc}")
            continue
        if oracle == "auto":
            chosen = res.oracle
        if not res.passed:  # a true rule that does not pass: its time is not a time to a verdict
            seconds[oracle] = passes[oracle] = math.nan
            note(f"{where} {oracle}: the check did not pass ({res.outcome}: {res.message})")
            continue
        seconds[oracle], passes[oracle] = paired(
            partial(check, rule, sizes=sizes, oracle=oracle, diagnose_structure=False), unit, repeats)
    for label, fn in baselines(rule, sizes, jax=jax):
        try:
            seconds[label], passes[label] = paired(fn, unit, repeats)
        except (AssertionError, RuntimeError, MemoryError, ImportError) as exc:
            seconds[label] = passes[label] = math.nan
            note(f"{where} {label}: {type(exc).__name__}: {str(exc)[:100]}")
    # auto against the others in seconds: they share the row's unit, so it would only add noise
    own = [seconds[o] for o in oracles if o != "auto" and not math.isnan(seconds[o])]
    ratio = seconds["auto"] / min(own) if own and not math.isnan(seconds["auto"]) else math.nan
    return VerifyRow(rule.name, n, one_pass, seconds, passes, chosen, ratio)


def _print_stderr(message: str) -> None:
    """Print ``message`` on stderr (the default ``note`` of :func:`measure`).

    >>> _print_stderr("linear_map n=64 taylor: over the memory budget")
    """
    print(message, file=sys.stderr)


def verify_table(checks: Iterable[tuple[Rule, int]], repeats: int = 3,
                 oracles: Iterable[str] = DEFAULT_ORACLES, *, jax: bool | None = None,
                 progress: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None) -> list[VerifyRow]:
    """The rows for ``checks`` (pairs of rule and n, e.g. :func:`cases`), in order.

    >>> from matcalc.catalog import RULES
    >>> [r.check for r in verify_table([(RULES["linear_map"], 8)], 1, ("auto",), jax=False)]
    ['linear_map']

    ``progress`` is called with ``"<rule> n=<n>"`` before each check.
    """
    if repeats < 1:
        raise MatcalcError(f"repeats must be a positive int, got {repeats}")
    oracles = own_oracles(oracles)
    jax = jax_available() if jax is None else jax
    rows = []
    for rule, n in checks:
        if progress is not None:
            progress(f"{rule.name} n={n}")
        rows.append(measure(rule, n, repeats, oracles, jax=jax, note=note))
    return rows


def title(repeats: int) -> str:
    """The line above the table: what a cell is, and the torch it was measured with.

    >>> title(3).split(";")[0]
    'time to a verdict, in passes over the inputs (time / one pass), medians of 3'
    """
    return (f"time to a verdict, in passes over the inputs (time / one pass), medians of {repeats}; "
            f"float64, CPU, torch {torch.__version__}, {torch.get_num_threads()} threads")


def render(rows: Sequence[VerifyRow], fmt: str = "github") -> str:
    """The table: check, n, one pass, a column per timed check in passes, auto's choice and ratio.

    >>> row = VerifyRow("linear_map", 64, 0.001, {"draw": 0.002, "auto": 0.01},
    ...                 {"draw": 2.0, "auto": 10.0}, "jacobian", math.nan)
    >>> print(render([row], "plain").splitlines()[1].split())
    ['linear_map', '64', '1.00', 'ms', '2', '10', 'jacobian', 'nan']
    """
    columns = list(dict.fromkeys(k for r in rows for k in r.passes))
    table = [[r.check, r.n, f"{r.one_pass_s * 1e3:.2f} ms",
              *[f"{r.passes.get(k, math.nan):.1f}" for k in columns], r.auto_chose,
              f"{r.auto_over_fastest_own:.2f}"] for r in rows]
    return tabulate(table, headers=["check", "n", "one pass", *columns, "auto chose",
                                    "auto / fastest own oracle (median seconds)"], tablefmt=fmt)
