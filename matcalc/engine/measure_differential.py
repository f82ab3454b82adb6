"""A differential rule measured at one sample: the claimed df along ``probes`` random directions
against the true one (matcalc/oracles/differential.py), judged and refined
(matcalc/engine/refine.py).

Example::

    >>> import matcalc as mc
    >>> d = mc.claim("X @ Y", wrt=("X", "Y"), derivative="dX @ Y + X @ dY", kind="differential")
    >>> res = mc.check(d)
    >>> res.passed, res.oracle
    (True, 'func')
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from matcalc.core.calls import Context
from matcalc.core.guards import assert_unchanged
from matcalc.core.tolerance import norm
from matcalc.draws.inputs import direction
from matcalc.engine.evaluate import call_claim
from matcalc.engine.hints import failure_hints
from matcalc.engine.refine import refine
from matcalc.engine.run import Run, structures
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule
from matcalc.oracles import Measurement
from matcalc.oracles.confirm import Confirmation, confirm_differential
from matcalc.oracles.differential import measure_differential as measure_along
from matcalc.oracles.fd import own_scale


def measure_differential(run: Run, ctx: Context, out: torch.Tensor, gen: torch.Generator,
                         probes: int) -> None:
    """Set ``run``'s verdict, measurement, shapes and hints for a differential rule; f is ``out``
    at ``run.inputs``, ``gen`` draws the directions."""
    rule, inputs = run.rule, run.inputs
    names = rule.wrt_names
    oracle = run.plan.oracle if run.plan.oracle in ("jacobian", "taylor") else "func"

    # A differential of a scalar f is one number per direction, which a single direction can
    # make small by chance; every oracle therefore stacks ``probes`` directions.
    directions = []
    t0 = time.perf_counter()
    for _ in range(probes):
        directions.append(tuple(direction(rule.inputs[n], inputs[n], gen) for n in names))
    claims = _claims(ctx, rule, inputs, directions)
    run.timings["claim"] = time.perf_counter() - t0
    if any(c.is_complex() for c in claims):
        run.verdict = Verdict(False, math.inf, message="the claim is complex; a real f has a real derivative")
        return
    floor = 0.0
    if oracle == "taylor":
        # Finite differences know a zero truth only against f's own variation (never ||f||).
        size = max(sum(norm(inputs[n]) for n in names), 1e-300)
        dsize = sum(norm(d) for d in directions[0])
        floor = own_scale(lambda kw: rule.f(**kw).detach(), inputs, structures(rule), gen,
                          names) * dsize / size
    t0 = time.perf_counter()
    m = _measure(ctx, oracle, inputs, directions, claims, run.tolerance, floor)
    run.timings["oracle"] = time.perf_counter() - t0
    run.plan = dataclasses.replace(run.plan, oracle=oracle)
    run.measurement = m
    run.verdict = judge(m, out)
    run.claim_shape, run.true_shape = tuple(claims[0].shape), tuple(out.shape)

    size = max(sum(norm(inputs[n]) for n in names), 1e-300)
    dsize = sum(norm(d) for d in directions[0])

    def remeasure(moved: dict[str, torch.Tensor], scale: float) -> Measurement | None:
        again = _claims(ctx, rule, moved, directions)
        if any(a.shape != c.shape for a, c in zip(again, claims, strict=True)):
            return None
        return _measure(ctx, oracle, moved, directions, again, run.tolerance, scale)

    def natural(g: torch.Generator) -> float:
        """f's variation (matcalc/oracles/fd.py) per direction."""
        return own_scale(lambda kw: rule.f(**kw).detach(), inputs, structures(rule), g, names) * dsize / size

    def confirmation(eps: float) -> Confirmation:
        def fn(*ws: torch.Tensor) -> torch.Tensor:
            return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

        return confirm_differential(fn, tuple(inputs[n] for n in names), directions[0], m.true[0], gen,
                                    eps=eps)

    refine(run, ctx, out, remeasure, confirmation, natural)
    failure_hints(run, tuple(out.shape), tuple(out.shape))


def _claims(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor],
            directions: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
    names = rule.wrt_names
    return [call_claim(ctx, rule, inputs, {f"d{n}": d for n, d in zip(names, dirs, strict=True)})
            for dirs in directions]


def _measure(ctx: Context, oracle: str, inputs: dict[str, torch.Tensor],
             directions: list[tuple[torch.Tensor, ...]], claims: list[torch.Tensor],
             tol: float, floor: float) -> Measurement:
    rule = ctx.rule
    names = rule.wrt_names

    def fn(*ws: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

    versions = {k: v._version for k, v in inputs.items()}
    try:
        m = measure_along(oracle=oracle, fn=fn, primals=tuple(inputs[n] for n in names),
                          directions=directions, claims=claims, tolerance=tol, floor=floor)
    except Exception as exc:
        raise MatcalcError(f"the {oracle} oracle failed on f: {type(exc).__name__}: {exc} "
                           f"({ctx.where}); use oracle='taylor' if autograd cannot see through f") from exc
    assert_unchanged(ctx, "f", inputs, versions)
    return m
