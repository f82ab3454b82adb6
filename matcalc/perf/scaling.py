"""Timing closed forms against autograd as n grows, beside each closed form's physical floor.

A closed form's floor is the larger of two: the memory floor (the bytes it must read and write at
the copy bandwidth measured at that working-set size) and, for rules with a flop model in
:data:`FLOP_MODELS`, the compute floor (its flops at the matmul throughput measured on the same
device and dtype in the same run). The larger one says what bounds the rule ("memory" or
"compute"), and ``x_floor`` is the median over that floor.

Example::

    >>> from matcalc.catalog import RULES
    >>> rows = run_bench([RULES["quadratic_form"]], ns=[64], methods=["closed_form", "backward"],
    ...                  repeats=3)
    >>> sorted(r.method for r in rows)
    ['backward', 'closed_form']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd.functional import hessian as autograd_hessian
from torch.autograd.functional import jacobian as autograd_jacobian

from matcalc.draws.inputs import draw_inputs
from matcalc.engine.settings import resolve_device, resolve_dtype
from matcalc.model.rule import Rule
from matcalc.model.sizes import scaled_sizes
from matcalc.oracles import memory_budget
from matcalc.oracles.probe import probe_pairs
from matcalc.perf.timing import median_time

BENCH_RULES = ("linear_map", "quadratic_form", "squared_norm_gradient", "norm_gradient",
               "hessian_quadratic_form", "hessian_norm", "hessian_logsumexp", "hessian_least_squares",
               "hessian_logistic_loss", "hessian_log_barrier")
JACOBIAN_METHODS = ("closed_form", "fast", "jacobian", "jacobian_vectorized", "jacobian_forward",
                    "jacrev", "jacfwd", "backward", "probe_check")
HESSIAN_METHODS = ("closed_form", "fast", "hessian", "hessian_vectorized", "func_hessian", "probe_check")
AUTOGRAD_METHODS = frozenset({"jacobian", "jacobian_vectorized", "jacobian_forward", "jacrev", "jacfwd",
                              "backward", "hessian", "hessian_vectorized", "func_hessian"})
CLOSED_METHODS = frozenset({"closed_form", "fast"})


def default_ns(rule: Rule, device: str) -> list[int]:
    """Geometric sizes: matrices up to 8192 on CPU (32768 on CUDA); vector-only rules further,
    since a vector of 8192 entries is too small to leave the cache. Hessians have n^2 outputs and
    use the matrix range."""
    vector_only = rule.kind != "hessian" and all(d.kind != "matrix" for d in rule.inputs.values())
    if vector_only:
        top = 2**26 if device == "cuda" else 2**22
        return [2**k for k in range(10, int(math.log2(top)) + 1, 2)]
    top = 32768 if device == "cuda" else 8192
    return [2**k for k in range(8, int(math.log2(top)) + 1)]


def methods_for(rule: Rule) -> list[str]:
    if rule.kind == "hessian":
        return [m for m in HESSIAN_METHODS if m != "fast" or rule.fast is not None]
    return [m for m in JACOBIAN_METHODS if m != "fast" or rule.fast is not None]


def _xtx_flops(inputs: dict[str, torch.Tensor], extra_per_entry: int) -> float:
    """2 m n^2 for X^T X with X m x n (torch runs a full GEMM, not a SYRK), plus
    ``extra_per_entry`` flops per entry of X for the elementwise work around it."""
    m, n = inputs["X"].shape
    return 2.0 * m * n * n + extra_per_entry * m * n


# Flops of a closed form, keyed by rule name, for the rules that arithmetic rather than memory
# bounds. A rule missing here is memory-bound (its compute floor is not computed).
FLOP_MODELS: dict[str, Callable[[dict[str, torch.Tensor]], float]] = {
    # 2 X^T X with X m x n: the product costs 2 m n^2 flops (the scaling by 2, n^2, is negligible).
    "hessian_least_squares": lambda t: _xtx_flops(t, 0),
    # X^T diag(s(1-s)) X with s = sigmoid(X w): the product 2 m n^2, X w 2 m n, the row scaling m n.
    "hessian_logistic_loss": lambda t: _xtx_flops(t, 3),
}


@dataclass
class BenchRow:
    rule: str
    method: str
    n: int
    device: str
    dtype: str
    median_s: float | None
    speedup: float | None = None  # this method's time / the best closed form's time
    bytes_moved: int | None = None
    floor_s: float | None = None   # the binding floor: max(bandwidth_floor_s, compute_floor_s)
    x_floor: float | None = None   # median / floor_s, for the closed forms
    skipped: str = ""
    bandwidth_floor_s: float | None = None  # bytes_moved / copy bandwidth
    flops: float | None = None              # from FLOP_MODELS; None for memory-bound rules
    compute_floor_s: float | None = None    # flops / matmul throughput, same device and dtype
    bound: str | None = None                # "memory" or "compute": the larger floor


def matmul_throughput(device: torch.device, dtype: torch.dtype, n: int | None = None) -> float:
    """Flops per second of an n x n matrix product (2 n^3 flops), on preallocated buffers: the
    compute floor's unit. n defaults to 2048 on CPU and 8192 on CUDA. The fastest of 5 runs, not
    the median: a floor is the best the device did, and on a shared machine the median of a
    compute-bound kernel moves with the other load.

    >>> matmul_throughput(torch.device("cpu"), torch.float32, n=64) > 0
    True
    """
    n = n or (8192 if device.type == "cuda" else 2048)
    a = torch.ones(n, n, dtype=dtype, device=device)
    out = torch.empty_like(a)
    run = lambda: torch.mm(a, a, out=out)
    run()
    seconds = min(median_time(run, device, repeats=1, warmup=0) for _ in range(5))
    return 2 * n**3 / seconds


def floors(row: BenchRow, bandwidth: float | None, flops: float | None, throughput: float | None) -> None:
    """Fill ``row``'s floors from its bytes moved and flops: the larger floor binds.

    >>> r = BenchRow("r", "closed_form", 8, "cpu", "float32", median_s=2.0, bytes_moved=100)
    >>> floors(r, bandwidth=100.0, flops=1000.0, throughput=1000.0)
    >>> r.bound, r.floor_s, r.x_floor
    ('memory', 1.0, 2.0)
    """
    if row.bytes_moved and bandwidth:
        row.bandwidth_floor_s = row.bytes_moved / bandwidth
    if flops and throughput:
        row.flops = flops
        row.compute_floor_s = flops / throughput
    pairs = ((row.bandwidth_floor_s, "memory"), (row.compute_floor_s, "compute"))
    candidates = [(f, b) for f, b in pairs if f]
    if candidates and row.median_s:
        row.floor_s, row.bound = max(candidates)
        row.x_floor = row.median_s / row.floor_s


def copy_bandwidth(device: torch.device, dtype: torch.dtype, nbytes: int = 2**27) -> float:
    """Bytes per second of dst.copy_(src) (one read plus one write of ``nbytes`` each), on
    preallocated buffers."""
    numel = nbytes // torch.empty((), dtype=dtype).element_size()
    src = torch.ones(numel, dtype=dtype, device=device)
    dst = torch.empty_like(src)
    seconds = median_time(lambda: dst.copy_(src), device, repeats=7, warmup=2)
    return 2 * nbytes / seconds


Fn = Callable[[torch.Tensor], torch.Tensor]


def _fn_of_wrt(rule: Rule, inputs: dict[str, torch.Tensor]) -> tuple[Fn, torch.Tensor]:
    name = rule.wrt_names[0]
    return (lambda w: rule.f(**{**inputs, name: w})), inputs[name]


def thunk(rule: Rule, method: str, inputs: dict[str, torch.Tensor]) -> Callable[[], Any]:
    """A zero-argument callable that computes the derivative by ``method``."""
    fn, x = _fn_of_wrt(rule, inputs)
    scalar_fn = lambda w: fn(w).reshape(())
    if method == "closed_form":
        return lambda: rule.derivative(**inputs)
    if method == "fast":
        assert rule.fast is not None
        fast = rule.fast
        return lambda: fast(**inputs)
    if method == "jacobian":
        return lambda: autograd_jacobian(fn, x)
    if method == "jacobian_vectorized":
        return lambda: autograd_jacobian(fn, x, vectorize=True)
    if method == "jacobian_forward":
        return lambda: autograd_jacobian(fn, x, vectorize=True, strategy="forward-mode")
    if method == "jacrev":
        return lambda: torch.func.jacrev(fn)(x)
    if method == "jacfwd":
        return lambda: torch.func.jacfwd(fn)(x)
    if method == "backward":
        def backward() -> torch.Tensor | None:
            w = x.detach().requires_grad_(True)
            fn(w).backward()
            return w.grad
        return backward
    if method == "hessian":
        return lambda: autograd_hessian(scalar_fn, x)
    if method == "hessian_vectorized":
        return lambda: autograd_hessian(scalar_fn, x, vectorize=True)
    if method == "func_hessian":
        return lambda: torch.func.hessian(scalar_fn)(x)
    if method == "probe_check":
        out = fn(x)

        def probe() -> Any:
            gen = torch.Generator(device=x.device).manual_seed(0)
            claim = None if rule.jvp is not None and rule.kind != "hessian" else rule.derivative(**inputs)
            return probe_pairs(
                fn=fn, x=x, out_shape=tuple(x.shape) if rule.kind == "hessian" else tuple(out.shape),
                claim=claim, hessian=rule.kind == "hessian", k=4, gen=gen, inputs=inputs,
                claim_jvp=None if rule.jvp is None else (lambda v: rule.jvp(v, **inputs)),  # type: ignore[misc]
                claim_vjp=None if rule.vjp is None else (lambda u: rule.vjp(u, **inputs)),  # type: ignore[misc]
            )
        return probe
    raise ValueError(f"unknown method {method!r}")


def output_numel(rule: Rule, inputs: dict[str, torch.Tensor]) -> int:
    """Entries of f's output (of the Hessian's rows for a Hessian rule): one evaluation of f."""
    fn, x = _fn_of_wrt(rule, inputs)
    return x.numel() if rule.kind == "hessian" else fn(x).numel()


def applicable(rule: Rule, method: str, out_numel: int) -> str:
    """'' when ``method`` applies to ``rule``, else why not."""
    if method == "backward" and (rule.kind != "jacobian" or out_numel != 1):
        return "backward needs a scalar f"
    if method == "fast" and rule.fast is None:
        return "no fast form"
    return ""


def _materialized_bytes(method: str, out_numel: int, x: torch.Tensor) -> int:
    if method in ("closed_form", "fast", "backward", "probe_check"):
        return 0
    copies = 1 if method in ("jacobian", "hessian") else 3
    return out_numel * x.numel() * x.element_size() * copies


def run_bench(rules: Iterable[Rule], *, ns: Sequence[int] | None = None, device: str = "cpu",
              dtype: str = "float32", methods: Sequence[str] | None = None, budget_s: float = 5.0,
              repeats: int = 5, progress: Callable[[str], None] | None = None) -> list[BenchRow]:
    """Median times per rule x n x method; cells predicted to exceed ``budget_s`` are skipped."""
    rows: list[BenchRow] = []
    throughputs: dict[tuple[str, str], float] = {}
    for rule in rules:
        dev, dt = resolve_device(rule, device), resolve_dtype(rule, dtype)
        last: dict[str, list[tuple[int, float]]] = {}
        skipped: dict[str, str] = {}
        for n in ns or default_ns(rule, dev.type):
            inputs = draw_inputs(rule, scaled_sizes(rule.dims(), n), dev, dt, 0)
            out_numel = output_numel(rule, inputs)
            for method in methods or methods_for(rule):
                if applicable(rule, method, out_numel):
                    continue
                row = BenchRow(rule.name, method, n, dev.type, str(dt).removeprefix("torch."), None)
                reason = skipped.get(method) or _over_budget(last.get(method, []), n, budget_s)
                need = _materialized_bytes(method, out_numel, inputs[rule.wrt_names[0]])
                if not reason and need > memory_budget(dev, None):
                    reason = f"needs {need / 2**30:.1f} GiB for the Jacobian, over the memory budget"
                if reason:
                    row.skipped = reason
                    skipped[method] = reason if reason.startswith(("needs", "over budget")) else \
                        f"over budget at a smaller n ({reason})"
                    rows.append(row)
                    continue
                if progress:
                    progress(f"{rule.name} n={n} {method}")
                fn = thunk(rule, method, inputs)
                try:
                    row.median_s = median_time(fn, dev, repeats=repeats, warmup=1, budget_s=budget_s)
                except Exception as exc:  # an autograd mode that does not support this f
                    row.skipped = f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
                    skipped[method] = row.skipped
                    rows.append(row)
                    continue
                last.setdefault(method, []).append((n, row.median_s))
                if method in CLOSED_METHODS:
                    out = fn()
                    row.bytes_moved = _bytes_moved(inputs, out)
                    # Copy bandwidth at this working-set size: in-cache data moves faster
                    # than DRAM, and the floor must be the one this size can reach.
                    bandwidth = copy_bandwidth(dev, dt, max(row.bytes_moved // 2, 2**20)) \
                        if row.bytes_moved else None
                    model = FLOP_MODELS.get(rule.name)
                    throughput = None
                    if model is not None:
                        key = (str(dev), str(dt))
                        if key not in throughputs:
                            throughputs[key] = matmul_throughput(dev, dt)
                        throughput = throughputs[key]
                    floors(row, bandwidth, model(inputs) if model else None, throughput)
                rows.append(row)
            best_closed = min((r.median_s for r in rows if r.rule == rule.name and r.n == n
                               and r.method in CLOSED_METHODS and r.median_s), default=None)
            for r in rows:
                if r.rule == rule.name and r.n == n and r.median_s and best_closed:
                    r.speedup = r.median_s / best_closed
            del inputs
    return rows


def _over_budget(history: list[tuple[int, float]], n: int, budget_s: float) -> str:
    if not history:
        return ""
    (n1, t1) = history[-1]
    exponent = 3.0
    if len(history) >= 2:
        (n0, t0) = history[-2]
        if t0 > 0 and n1 != n0:
            exponent = min(max(math.log(t1 / t0) / math.log(n1 / n0), 1.0), 4.0)
    predicted = t1 * (n / n1) ** exponent
    return f"over budget: predicted {predicted:.3g} s > {budget_s:g} s" if predicted > budget_s else ""


def _bytes_moved(inputs: dict[str, torch.Tensor], out: Any) -> int:
    """Bytes a closed form must read and write at the least: the inputs it depends on and its output.
    An output that is one of the inputs (D(Ax) = A) moves nothing."""
    if not isinstance(out, torch.Tensor):
        return 0
    if any(out.data_ptr() == t.data_ptr() for t in inputs.values()):
        return 0
    read = sum(t.numel() * t.element_size() for t in inputs.values())
    return read + out.numel() * out.element_size()


def fastest_autograd(rows: Sequence[BenchRow], rule: str, n: int) -> BenchRow | None:
    cands = [r for r in rows if r.rule == rule and r.n == n and r.method in AUTOGRAD_METHODS and r.median_s]
    return min(cands, key=lambda r: r.median_s or math.inf, default=None)
