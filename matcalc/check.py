"""check(): draw inputs, evaluate the claim and an oracle, compare, diagnose -> Result.

Example::

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import quadratic_form
    >>> res = mc.check(quadratic_form, sizes={"n": 16}, seed=0)
    >>> res.passed, res.oracle
    (True, 'jacobian')
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from matcalc import diagnose, oracles
from matcalc.domains import Domain, default_sizes, draw
from matcalc.errors import MatcalcError
from matcalc.probe import probe_pairs
from matcalc.rule import Rule
from matcalc.tolerance import CONDITIONED_STRUCTURES, relative_error, tolerance

DTYPE_NAMES: dict[str, torch.dtype] = {
    "float64": torch.float64, "double": torch.float64,
    "float32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16,
}
STRUCTURE_HINTS = ("symmetric", "spd", "diagonal")


@dataclass
class Result:
    """The outcome of one check. ``str(result)`` explains it."""

    rule: str
    passed: bool
    error: float
    tolerance: float
    oracle: str
    device: str
    dtype: str
    sizes: dict[str, int]
    seed: int
    refuted: bool = False
    counterexample: dict[str, torch.Tensor] | None = None
    message: str = ""
    hints: list[str] = field(default_factory=list)
    mismatch: diagnose.Mismatch | None = None
    claim_shape: tuple[int, ...] | None = None
    true_shape: tuple[int, ...] | None = None
    rates: list[float | None] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def as_expected(self) -> bool:
        """True rules should pass; errata (refuted=True) should fail."""
        return self.passed != self.refuted

    def context(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return f"{dims} on {self.device}/{self.dtype}, seed={self.seed}, oracle={self.oracle}"

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        head = f"{verdict} {self.rule} [{self.context()}]: "
        if self.oracle == "taylor":
            head += f"remainder rates {self._rates()} (need >= expected - 0.5)"
        else:
            head += f"relative error {self.error:.3g} {'<=' if self.passed else '>'} " \
                    f"tolerance {self.tolerance:.3g}"
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        if self.claim_shape is not None and not self.passed:
            lines.append(f"  shapes: claim {self.claim_shape}, true {self.true_shape}")
        if self.mismatch is not None and not self.passed:
            lines.append(f"  {self.mismatch.describe()}")
        lines.extend(f"  hint: {h}" for h in self.hints)
        if self.refuted:
            lines.append("  (erratum: expected to fail)" if not self.passed
                         else "  (erratum passed: the refutation did not reproduce)")
        return "\n".join(lines)

    def _rates(self) -> str:
        return "[" + ", ".join("exact" if r is None else f"{r:.2f}" for r in self.rates or []) + "]"


def resolve_device(rule: Rule, device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise MatcalcError(
            f"rule {rule.name!r}: unknown device {device!r}: use 'cpu' or 'cuda'"
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise MatcalcError(f"rule {rule.name!r}: unsupported device {device!r}: use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MatcalcError(
            f"rule {rule.name!r}: device {device!r} asked for, but this machine has no CUDA GPU "
            "(torch.cuda.is_available() is False): use device='cpu'"
        )
    return dev


def resolve_dtype(rule: Rule, dtype: torch.dtype | str) -> torch.dtype:
    dt = DTYPE_NAMES.get(dtype) if isinstance(dtype, str) else dtype
    if not isinstance(dt, torch.dtype) or dt not in oracles_dtypes():
        raise MatcalcError(
            f"rule {rule.name!r}: dtype {dtype!r} is not a real floating dtype: use torch.float64 "
            "or torch.float32 (float16/bfloat16 for elementwise rules)"
        )
    return dt


def oracles_dtypes() -> tuple[torch.dtype, ...]:
    return (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def resolve_sizes(rule: Rule, sizes: Mapping[str, int] | None) -> dict[str, int]:
    dims = set(rule.dims())
    given = dict(sizes or {})
    for name, value in given.items():
        if name not in dims:
            raise MatcalcError(
                f"rule {rule.name!r} has no dim {name!r}; its dims are {sorted(dims)}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MatcalcError(
                f"rule {rule.name!r}: size {name}={value!r} must be a positive int"
            )
    rest = default_sizes(dims - given.keys())
    taken = set(given.values())
    for d in sorted(rest):
        while rest[d] in taken:
            rest[d] += 1
        taken.add(rest[d])
    return {d: (given | rest)[d] for d in sorted(dims)}


def draw_inputs(rule: Rule, sizes: Mapping[str, int], device: torch.device, dtype: torch.dtype,
                seed: int) -> dict[str, torch.Tensor]:
    """The inputs a check at this seed uses, from a private generator."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    ordered = sorted(rule.inputs.items(), key=lambda kv: kv[1].distinct_from is not None)
    drawn: dict[str, torch.Tensor] = {}
    for name, dom in ordered:
        drawn[name] = draw(dom, dom.resolve(sizes), gen, dtype=dtype, others=drawn)
    return {name: drawn[name] for name in rule.inputs}


def _direction(dom: Domain, like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A float64 random tangent that stays inside a structured input's space (symmetric dA
    for eigh)."""
    v = torch.randn(like.shape, generator=gen, device=like.device, dtype=torch.float64)
    if dom.structure in ("symmetric", "spd", "separated_eigenvalues"):
        v = (v + v.T) / 2
    elif dom.structure == "diagonal":
        v = torch.diag(torch.diagonal(v))
    return v


class _Context:
    """Wraps user callables so that their errors become MatcalcError with context."""

    def __init__(self, rule: Rule, sizes: Mapping[str, int], device: torch.device,
                 dtype: torch.dtype) -> None:
        dims = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "no dims"
        self.rule = rule
        self.where = f"while checking rule {rule.name!r} at {dims} on {device.type}/" \
                     f"{str(dtype).removeprefix('torch.')}"

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._call(what, fn, args, kwargs, keep_graph=False)

    def call_keep_graph(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """Like call, but the result stays differentiable: a claimed jvp is transposed by autograd
        when the rule gives no vjp."""
        return self._call(what, fn, args, kwargs, keep_graph=True)

    def _call(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              *, keep_graph: bool) -> torch.Tensor:
        try:
            value = fn(*args, **kwargs)
        except MatcalcError:
            raise
        except Exception as exc:
            raise MatcalcError(
                f"{what} raised {type(exc).__name__}: {exc} ({self.where}); fix {what} or the "
                "rule's input domains"
            ) from exc
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = torch.tensor(float(value), dtype=torch.float64)
        if not isinstance(value, torch.Tensor):
            raise MatcalcError(
                f"{what} returned {type(value).__name__}, not a tensor ({self.where}): "
                "return a torch.Tensor"
            )
        return value if keep_graph else value.detach()


def check(
    rule: Rule,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    oracle: str = "auto",
    probes: int = oracles.DEFAULT_PROBES,
    memory_budget: int | None = None,
    diagnose_structure: bool = True,
) -> Result:
    """Check ``rule`` on inputs drawn with ``seed``; wrong claims fail, misuse raises.

    ``oracle`` is one of "auto" (the reference Jacobian when it fits ``memory_budget`` bytes,
    else "probe"), "jacobian", "func", "probe" or "taylor". ``diagnose_structure`` re-checks a
    failed claim with symmetric / spd / diagonal matrices to say which structure it needs.
    """
    if not isinstance(rule, Rule):
        raise MatcalcError(f"check() takes a matcalc.Rule, got {type(rule).__name__}")
    if oracle not in oracles.ORACLES:
        raise MatcalcError(
            f"rule {rule.name!r}: unknown oracle {oracle!r}: use one of {oracles.ORACLES}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise MatcalcError(f"rule {rule.name!r}: seed must be an int, got {seed!r}")
    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
        raise MatcalcError(f"rule {rule.name!r}: probes must be a positive int, got {probes!r}")
    dev = resolve_device(rule, device)
    dt = resolve_dtype(rule, dtype)
    sz = resolve_sizes(rule, sizes)
    result = _check_once(rule, dev, dt, sz, seed, oracle, probes, memory_budget)
    if not result.passed and diagnose_structure and math.isfinite(result.error):
        result.hints.extend(_structure_hints(rule, dev, dt, sz, seed, result.oracle, probes,
                                             memory_budget))
    return result


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_once(rule: Rule, dev: torch.device, dt: torch.dtype, sz: dict[str, int], seed: int,
                oracle: str, probes: int, memory_budget: int | None) -> Result:
    ctx = _Context(rule, sz, dev, dt)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = draw_inputs(rule, sz, dev, dt, seed)
    _sync(dev)
    timings["draw"] = time.perf_counter() - t0
    conditioned = any(d.structure in CONDITIONED_STRUCTURES for d in rule.inputs.values())
    tol = tolerance(dt, max(sz.values(), default=1), conditioned)
    res = Result(rule=rule.name, passed=False, error=math.inf, tolerance=tol, oracle=oracle,
                 device=dev.type, dtype=str(dt).removeprefix("torch."), sizes=sz, seed=seed,
                 refuted=rule.refuted, timings=timings)
    t0 = time.perf_counter()
    truth = _truth_inputs(inputs, dt)
    out, pullback = _evaluate_f(rule, ctx, truth, oracle)
    _sync(dev)
    timings["f"] = time.perf_counter() - t0
    if not out.is_floating_point():
        raise MatcalcError(f"f returned a {out.dtype} tensor ({ctx.where}): f must return floats")
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed + 1_000_003)  # directions: independent of the input stream
    if rule.kind == "differential":
        _run_differential(rule, ctx, inputs, truth, out, gen, oracle, probes, res)
    else:
        _run_derivative(rule, ctx, inputs, truth, out, gen, oracle, probes, memory_budget, res, pullback)
    if not res.passed:
        res.counterexample = {k: v.detach().cpu() for k, v in inputs.items()}
    return res


# Up to this many bytes of float64 copies, a lower-precision check computes its truth in float64.
TRUTH_UPCAST_MAX_BYTES = 64 * 2**20


def _truth_inputs(inputs: dict[str, torch.Tensor], dt: torch.dtype) -> dict[str, torch.Tensor]:
    """The inputs the oracle differentiates. A float32 check computes its truth in float64, so it
    measures the claim's rounding alone, not the claim's plus the oracle's; past
    TRUTH_UPCAST_MAX_BYTES (large-n probe checks) the copy would cost more passes over memory than
    the whole check, and the truth stays in the check's dtype."""
    if dt == torch.float64:
        return inputs
    upcast_bytes = sum(v.numel() for v in inputs.values()) * 8
    if upcast_bytes > TRUTH_UPCAST_MAX_BYTES:
        return inputs
    return {k: v.to(torch.float64) for k, v in inputs.items()}


def _evaluate_f(rule: Rule, ctx: _Context, inputs: dict[str, torch.Tensor],
                oracle: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor] | None]:
    """f at the inputs; for a probe check also its pullback, so f is evaluated only once."""
    if rule.kind == "jacobian" and oracle in ("auto", "probe"):
        name = rule.wrt_names[0]
        try:
            out, vjp_fn = torch.func.vjp(lambda w: rule.f(**{**inputs, name: w}), inputs[name])[:2]
        except Exception:  # f misbehaves under torch.func: the plain call below reports it
            pass
        else:
            if isinstance(out, torch.Tensor):
                return out.detach(), lambda u: vjp_fn(u)[0]
    return ctx.call("f", rule.f, **inputs), None


def _finish(res: Result, claim: torch.Tensor, true: torch.Tensor, out_shape: tuple[int, ...],
            wrt_shape: tuple[int, ...]) -> None:
    res.claim_shape, res.true_shape = tuple(claim.shape), tuple(true.shape)
    if claim.shape != true.shape:
        res.message = f"shape mismatch: claim has shape {tuple(claim.shape)}, " \
                      f"the true derivative has shape {tuple(true.shape)}"
        res.error = math.inf
    else:
        res.error = relative_error(claim, true)
        res.passed = res.error <= res.tolerance
        if not res.passed:
            res.mismatch = diagnose.mismatch(claim, true, res.tolerance)
            if not bool(torch.isfinite(claim).all()):
                res.message = "the claim is not finite"
            elif not bool(torch.isfinite(true).all()):
                res.message = "the true derivative is not finite at this input"
            else:
                res.message = "values differ"
    if not res.passed:
        res.hints = diagnose.hints(claim, true, tol=res.tolerance, out_shape=out_shape,
                                   wrt_shape=wrt_shape)


def _numerator(rule: Rule, claim: torch.Tensor, out_shape: tuple[int, ...],
               wrt_shape: tuple[int, ...]) -> torch.Tensor:
    """The claim in numerator layout, or unchanged when its shape does not fit the layout."""
    if rule.layout == "denominator" and rule.kind == "jacobian":
        swapped = diagnose.layout_swap(claim, out_shape, wrt_shape)
        if swapped is not None:
            return swapped
    return claim


def _run_derivative(rule: Rule, ctx: _Context, inputs: dict[str, torch.Tensor],
                    truth: dict[str, torch.Tensor], out: torch.Tensor, gen: torch.Generator,
                    oracle: str, probes: int, memory_budget: int | None, res: Result,
                    pullback: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
    name = rule.wrt_names[0]
    x = truth[name]
    dt = inputs[name].dtype
    hessian = rule.kind == "hessian"
    if hessian and out.numel() != 1:
        raise MatcalcError(f"{ctx.where}: a hessian rule needs a scalar f, got shape "
                           f"{tuple(out.shape)}; use kind='jacobian'")
    out_shape = tuple(x.shape) if hessian else tuple(out.shape)
    wrt_shape = tuple(x.shape)

    def fn(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**truth, name: w})

    chosen = _choose_oracle(rule, ctx, oracle, math.prod(out_shape), x, memory_budget)
    res.oracle = chosen
    timings = res.timings
    matrix_free = chosen in ("probe", "taylor") and rule.jvp is not None and not hessian
    claim: torch.Tensor | None = None
    if not matrix_free:
        t0 = time.perf_counter()
        raw = ctx.call("the derivative", rule.derivative, **inputs)
        claim = _numerator(rule, raw, out_shape, wrt_shape)
        _sync(x.device)
        timings["claim"] = time.perf_counter() - t0
        expected = out_shape + wrt_shape
        declared = wrt_shape + out_shape if rule.layout == "denominator" and not hessian else expected
        if tuple(raw.shape) != declared:
            # Checked before any oracle: a claim declared in one layout must have that layout's
            # shape, or a transposed gradient would pass as a numerator-layout Jacobian.
            res.error = math.inf
            res.claim_shape, res.true_shape = tuple(raw.shape), declared
            res.message = (f"shape mismatch: layout={rule.layout!r} needs shape {declared}, "
                           f"the claim has shape {tuple(raw.shape)}")
            if chosen in ("jacobian", "func") and rule.kind == "jacobian" and declared != expected:
                true = oracles.reference_jacobian(fn, x)
                if tuple(raw.shape) == expected and relative_error(raw, true) <= res.tolerance:
                    res.hints = ["matches the numerator layout: declare layout='numerator'"]
            elif chosen in ("jacobian", "func"):
                true = (oracles.reference_hessian(lambda w: fn(w).reshape(()), x) if hessian
                        else oracles.reference_jacobian(fn, x))
                res.hints = diagnose.hints(raw, true.detach(), tol=res.tolerance, out_shape=out_shape,
                                           wrt_shape=wrt_shape)
            return
    t0 = time.perf_counter()
    if chosen == "taylor":
        _run_taylor(rule, ctx, inputs, fn, x, claim, gen, probes, res)  # x: float64
        _sync(x.device)
        timings["oracle"] = time.perf_counter() - t0
        return
    if chosen in ("jacobian", "func"):
        if hessian:
            true = (oracles.reference_hessian if chosen == "jacobian" else oracles.func_hessian)(
                lambda w: fn(w).reshape(()), x)
        elif chosen == "jacobian":
            true = oracles.reference_jacobian(fn, x)
        else:
            true = oracles.func_jacobian(fn, x, out.numel())
        _sync(x.device)
        timings["oracle"] = time.perf_counter() - t0
        assert claim is not None
        _finish(res, claim, true.detach(), out_shape, wrt_shape)
        return
    jvp, vjp = rule.jvp, rule.vjp
    pairs = probe_pairs(
        fn=fn, x=x, out_shape=out_shape, claim=claim, hessian=hessian, k=probes, gen=gen,
        claim_jvp=None if jvp is None else lambda v: ctx.call_keep_graph("jvp", jvp, v.to(dt), **inputs),
        claim_vjp=None if vjp is None else lambda u: ctx.call("vjp", vjp, u.to(dt), **inputs),
        pullback=pullback,
    )
    _sync(x.device)
    timings["oracle"] = time.perf_counter() - t0
    # Judge by the worse of the two comparisons (rows, and u^T J v both ways).
    claimed, true = max(pairs, key=lambda p: relative_error(p[0], p[1]))
    _finish(res, claimed, true, (claimed.numel(),), (1,))
    res.claim_shape = None if claim is None else tuple(claim.shape)
    res.true_shape = tuple(out_shape) + tuple(x.shape)
    if not res.passed:
        res.mismatch = None
        res.message = f"values differ along {probes} random probes (u^T D, and u^T D v against u^T J v)"
    # Entry indices of stacked probe values mean nothing to the user; keep the global hints.
    res.hints = [h for h in res.hints if not h.startswith("correct except")]


def _choose_oracle(rule: Rule, ctx: _Context, oracle: str, out_numel: int, x: torch.Tensor,
                   memory_budget: int | None) -> str:
    if oracle in ("probe", "taylor"):
        return oracle
    budget = oracles.memory_budget(x.device, memory_budget)
    kind = "func" if oracle == "func" else "jacobian"
    need = oracles.jacobian_bytes(out_numel, x.numel(), x.dtype, kind)
    if oracle == "auto":
        fits = need <= budget and out_numel <= oracles.AUTO_MAX_ROWS
        return "jacobian" if fits else "probe"
    if need > budget:
        raise MatcalcError(
            f"{ctx.where}: the {oracle} oracle would materialize about {need / 2**20:.0f} MiB, "
            f"over the memory budget of {budget / 2**20:.0f} MiB: use oracle='probe' "
            "(matrix-free) or raise memory_budget"
        )
    return oracle


def _run_taylor(rule: Rule, ctx: _Context, inputs: dict[str, torch.Tensor],
                fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                claim: torch.Tensor | None, gen: torch.Generator, probes: int,
                res: Result) -> None:
    """Remainder test in float64: finite differences in float32 cannot resolve a 1e-3 error."""
    name = rule.wrt_names[0]
    inputs64 = {k: v.to(torch.float64) for k, v in inputs.items()}
    hessian = rule.kind == "hessian"
    if claim is not None:
        claim64 = _numerator(rule, ctx.call("the derivative", rule.derivative, **inputs64),
                             tuple(x.shape) if hessian else tuple(fn(x).shape), tuple(x.shape))
    x64 = inputs64[name]
    if hessian and claim is not None:
        # Finite differences of f see only the symmetric part of a claimed Hessian, so its
        # symmetry (true of every C^2 function) is checked directly.
        square = claim64.reshape(x.numel(), x.numel())
        asym = relative_error(square.T, square) / 2
        if asym > tolerance(torch.float64, x.numel()):
            res.passed, res.error, res.rates = False, asym, []
            res.tolerance = tolerance(torch.float64, x.numel())
            res.message = (f"a Hessian must be symmetric; the claim's antisymmetric part has "
                           f"relative size {asym:.3g}")
            return

    def f64(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs64, name: w}).detach().to(torch.float64)

    outcome = oracles.TaylorOutcome(expected=4.0 if hessian else 2.0)
    scale = max(float(torch.linalg.vector_norm(x64)), 1.0)
    f0 = f64(x64)
    eps64 = torch.finfo(torch.float64).eps
    for _ in range(min(probes, 2)):
        v = torch.randn(x.shape, generator=gen, device=x.device, dtype=torch.float64)
        v = v * (scale / max(float(torch.linalg.vector_norm(v)), 1e-300))
        if claim is None:
            assert rule.jvp is not None
            dv = ctx.call("jvp", rule.jvp, v, **inputs64).to(torch.float64)
        elif hessian:
            dv = v.reshape(-1) @ claim64.reshape(v.numel(), v.numel()) @ v.reshape(-1)
        else:
            dv = oracles.contract_right(claim64, v)
        if tuple(dv.shape) != tuple(f0.shape) and not hessian:
            raise MatcalcError(f"{ctx.where}: the claimed D v has shape {tuple(dv.shape)}, "
                               f"f has shape {tuple(f0.shape)}")

        def remainder(h: float, v: torch.Tensor = v, dv: torch.Tensor = dv) -> tuple[float, float]:
            if hessian:
                fp, fm = f64(x64 + h * v), f64(x64 - h * v)
                r = fp + fm - 2 * f0 - h * h * dv
                noise = eps64 * float(fp.abs() + fm.abs() + 2 * f0.abs())
            else:
                fp = f64(x64 + h * v)
                r = fp - f0 - h * dv
                noise = eps64 * float(torch.linalg.vector_norm(fp) + torch.linalg.vector_norm(f0)
                                      + h * torch.linalg.vector_norm(dv))
            return float(torch.linalg.vector_norm(r)), noise

        outcome.rates.append(oracles.taylor_rate(remainder))
    res.rates = outcome.rates
    res.passed = outcome.passed
    worst = outcome.worst
    res.error = 0.0 if worst is None else max(0.0, outcome.expected - worst)
    res.tolerance = 0.5
    if not res.passed:
        res.message = (f"the remainder shrinks at rate {worst:.2f} as h halves; a correct "
                       f"derivative gives {outcome.expected:.0f}")


def _run_differential(rule: Rule, ctx: _Context, inputs: dict[str, torch.Tensor],
                      truth: dict[str, torch.Tensor], out: torch.Tensor, gen: torch.Generator,
                      oracle: str, probes: int, res: Result) -> None:
    names = rule.wrt_names
    res.oracle = "func" if oracle == "auto" else oracle

    def fn(*ws: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**truth, **dict(zip(names, ws, strict=True))})

    # A differential of a scalar f is one number per direction, which a single direction can
    # make small by chance; every oracle therefore stacks ``probes`` directions.
    rounds = probes
    jacs: tuple[torch.Tensor, ...] | None = None
    claimed: list[torch.Tensor] = []
    true: list[torch.Tensor] = []
    t0 = time.perf_counter()
    rates: list[float | None] = []
    for _ in range(rounds):
        dirs = tuple(_direction(rule.inputs[n], inputs[n], gen) for n in names)
        kwargs = {f"d{n}": d.to(inputs[n].dtype) for n, d in zip(names, dirs, strict=True)}
        df = ctx.call("the derivative", rule.derivative, **inputs, **kwargs)
        primals = tuple(truth[n] for n in names)
        if res.oracle == "taylor":
            if df.shape != out.shape:
                claimed.append(df)
                true.append(out)
                break
            rates.append(_differential_rate(rule, ctx, inputs, names, dirs))
            continue
        claimed.append(df)
        if res.oracle == "jacobian":
            if jacs is None:
                full = torch.autograd.functional.jacobian(fn, primals)
                jacs = full if isinstance(full, tuple) else (full,)
            true.append(sum((oracles.contract_right(j, d) for j, d in zip(jacs, dirs, strict=True)),
                            torch.zeros_like(out)))
        else:
            true.append(oracles.true_jvp(fn, primals, dirs).detach())
    res.timings["oracle"] = time.perf_counter() - t0
    if res.oracle == "taylor" and not claimed:
        outcome = oracles.TaylorOutcome(rates=rates)
        res.rates, res.passed, res.tolerance = rates, outcome.passed, 0.5
        res.error = 0.0 if outcome.worst is None else max(0.0, 2.0 - outcome.worst)
        if not res.passed:
            res.message = f"the remainder shrinks at rate {outcome.worst:.2f}; expected 2"
        return
    if any(c.shape != out.shape for c in claimed):
        _finish(res, claimed[0], true[0], tuple(out.shape), tuple(out.shape))
        return
    _finish(res, torch.stack(claimed), torch.stack(true), tuple(out.shape), tuple(out.shape))


def _differential_rate(rule: Rule, ctx: _Context, inputs: dict[str, torch.Tensor],
                       names: tuple[str, ...], dirs: tuple[torch.Tensor, ...]) -> float | None:
    in64 = {k: v.to(torch.float64) for k, v in inputs.items()}
    d64 = [d.to(torch.float64) for d in dirs]
    df = ctx.call("the derivative", rule.derivative, **in64,
                  **{f"d{n}": d for n, d in zip(names, d64, strict=True)})
    scale = max(float(sum(torch.linalg.vector_norm(in64[n]) for n in names)), 1.0) / max(
        float(sum(torch.linalg.vector_norm(d) for d in d64)), 1e-300)
    f0 = rule.f(**in64).to(torch.float64)
    df64 = df.to(torch.float64) * scale
    eps64 = torch.finfo(torch.float64).eps

    def remainder(h: float) -> tuple[float, float]:
        moved = {**in64, **{n: in64[n] + h * scale * d for n, d in zip(names, d64, strict=True)}}
        fp = rule.f(**moved).to(torch.float64)
        r = fp - f0 - h * df64
        noise = eps64 * float(torch.linalg.vector_norm(fp) + torch.linalg.vector_norm(f0))
        return float(torch.linalg.vector_norm(r)), noise

    return oracles.taylor_rate(remainder)


def _structure_hints(rule: Rule, dev: torch.device, dt: torch.dtype, sz: dict[str, int],
                     seed: int, oracle: str, probes: int, memory_budget: int | None) -> list[str]:
    """Re-check a failed claim with stricter structures on its general square matrix inputs."""
    square = [n for n, d in rule.inputs.items()
              if d.kind == "matrix" and d.structure == "general" and d.shape[0] == d.shape[1]
              and n not in rule.wrt_names]
    for name in square:
        for structure in STRUCTURE_HINTS:
            stricter = dataclasses.replace(
                rule, inputs={**rule.inputs, name: rule.inputs[name].with_structure(structure)})
            try:
                again = _check_once(stricter, dev, dt, sz, seed, oracle, probes, memory_budget)
            except MatcalcError:
                continue
            if again.passed:
                return [f"holds when {name} is {structure}, fails for general {name}"]
    return []
