"""The Taylor-remainder oracle applied to a rule: no autograd, in float64."""

from __future__ import annotations

import torch

from matcalc import oracles
from matcalc.context import Context
from matcalc.errors import MatcalcError
from matcalc.result import Result
from matcalc.rule import Rule, to_numerator
from matcalc.tolerance import relative_error, tolerance


def run_taylor(rule: Rule, ctx: Context, inputs: dict[str, torch.Tensor],
               out_shape: tuple[int, ...], x: torch.Tensor, claim: torch.Tensor | None,
               gen: torch.Generator, probes: int, res: Result) -> None:
    """Remainder test in float64: finite differences in float32 cannot resolve a 1e-3 error."""
    name = rule.wrt_names[0]
    inputs64 = {k: v.to(torch.float64) for k, v in inputs.items()}
    hessian = rule.kind == "hessian"
    if claim is not None:
        claim64 = to_numerator(rule, ctx.call("the derivative", rule.derivative, **inputs64),
                               out_shape, tuple(x.shape))
    x64 = inputs64[name]
    if hessian and claim is not None:
        # Finite differences of f see only the symmetric part of a claimed Hessian, so its
        # symmetry (true of every C^2 function) is checked directly.
        square = claim64.reshape(x.numel(), x.numel())
        asym = relative_error(square.T, square) / 2
        symmetric_tol = tolerance(torch.float64, x.numel())
        if asym > symmetric_tol:
            res.passed, res.error, res.rates, res.tolerance = False, asym, [], symmetric_tol
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


def differential_rate(rule: Rule, ctx: Context, inputs: dict[str, torch.Tensor],
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
