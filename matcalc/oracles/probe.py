"""The probe oracle: the claim and autograd applied to random directions, never a full Jacobian.

The k left probes u_i go through the pullback of f (one vjp per probe), and the claim is compared
twice: its rows u_i^T D against u_i^T J, and its action on right probes v_j through the bilinear
forms u_i^T (D v_j) against (u_i^T J) v_j ("u^T J v both ways"), which costs autograd no further
pass. Each form the rule gives is compared: the materialized derivative both ways, the claimed
vjp by its rows, the claimed jvp through the bilinear forms; the verdict is the worst comparison.
When f has at most k outputs, the standard basis replaces the random u: the k vjp rows are J
exactly, the derivative is compared whole, and the jvp and vjp against J on random directions.

Why k random probes decide. Let E = D - J be the error of a wrong claim, with relative size
delta = ||E||_F / ||J||_F. For a Gaussian direction u, ||u^T E||^2 = sum_i s_i^2 z_i^2 with
z_i ~ N(0, 1) and s_i the singular values of E; the hardest case is rank 1, where
||u^T E|| = ||E||_F |z|. Stacking k probes, ||U E||_F^2 >= ||E||_F^2 chi2_k while ||U J||_F^2
concentrates at k ||J||_F^2. The comparison misses only if chi2_k <= k (tol / delta)^2 =: s, which
has probability at most s^(k/2) / (2^(k/2) Gamma(k/2 + 1)). ``resolution_factor`` solves this for a
miss probability of MISS_PROBABILITY: with k = 4 a claim wrong by 38 tolerances or more is caught
with probability 1 - 1e-6.

Example::

    >>> round(resolution_factor(4), 1)
    37.6
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from matcalc.oracles.base import Fn, Measurement, Problem, combined
from matcalc.oracles.forms import against_whole, apply, resolution_factor, wrong_shape
from matcalc.oracles.forms import batched as _batched  # a module name: tests spy on it

# Above this many input elements, counting every input of f and not only the one differentiated,
# one autograd vjp per probe in a loop beats one vmapped vjp for a few probes: vmap turns the
# pullback of A @ x into a transposed matrix product (168 ms against 17 ms for 4 probes, x of 4096
# entries and A of 10M), whose cost hardly grows with k while the loop's grows k-fold (the two
# meet near 16 probes at n = 2048 and 4096). The claim's own closed forms stay vmapped unless the
# differentiated input itself is that large: vmapped, u @ A is one matrix product (7 ms against
# 15 ms for the loop), and only a large differentiated input makes k batched copies of an
# intermediate costly.
LOOP_ABOVE_NUMEL = 2**20
PULLBACK_LOOP_MAX_PROBES = 16


def directions(shape: tuple[int, ...], k: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn((k, *shape), generator=gen, device=like.device, dtype=torch.float64).to(like.dtype)


def hvp(fn: Fn, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hessian-vector product, forward over reverse."""
    return torch.func.jvp(torch.func.grad(fn), (x,), (v,))[1]


def _vjp_of(jvp: Fn, x: torch.Tensor, out_shape: tuple[int, ...]) -> Fn | Measurement:
    """Without a closed-form vjp, u^T D is the transpose of the (linear) claimed jvp map; a jvp
    that does not return f's output shape has no such transpose: its FAIL instead."""
    out, pullback = torch.func.vjp(jvp, torch.zeros_like(x))[:2]
    if tuple(out.shape) != tuple(out_shape):
        return wrong_shape("jvp", tuple(out.shape), out_shape)
    return lambda u: pullback(u)[0]


class ProbeOracle:
    """Matrix-free: u^T D against u^T J along k random probes, and u^T D v against u^T J v; each
    form the rule gives (the derivative, its jvp, its vjp) is compared."""

    name = "probe"
    description = "k random probes through f's pullback (vjp); never materializes J"

    def measure(self, problem: Problem) -> Measurement:
        x, k = problem.x, problem.probes
        out_numel = math.prod(problem.out_shape)
        loop = x.numel() > LOOP_ABOVE_NUMEL
        captured = sum(t.numel() for t in problem.inputs.values())
        loop_pullback = loop or (captured > LOOP_ABOVE_NUMEL and k <= PULLBACK_LOOP_MAX_PROBES)
        basis = out_numel <= k
        if basis:
            U = torch.eye(out_numel, dtype=x.dtype, device=x.device).reshape(out_numel, *problem.out_shape)
        else:
            U = directions(problem.out_shape, k, problem.gen, x)
        V = None if basis else directions(problem.wrt_shape, k, problem.gen, x)
        if problem.hessian:
            true_rows = _batched(lambda u: hvp(problem.fn, x, u), U, loop_pullback)  # H is symmetric
        else:
            _, vjp_fn = torch.func.vjp(problem.fn, x)[:2]
            true_rows = _batched(lambda u: vjp_fn(u)[0], U, loop_pullback)
        true_rows = true_rows.detach()
        jvp = problem.claim_jvp
        vjp = problem.claim_vjp
        if vjp is None and jvp is not None and problem.claim is None:
            derived = _vjp_of(jvp, x, problem.out_shape)
            if isinstance(derived, Measurement):
                return derived
            vjp = derived
        if basis:
            # The rows are J itself: whole-Jacobian comparisons.
            J = true_rows.reshape(problem.out_shape + problem.wrt_shape)
            parts = []
            if problem.claim is not None:
                parts.append(Measurement(claimed=problem.claim, true=J, tolerance=problem.tolerance,
                                         resolution=problem.tolerance, floor=problem.scale,
                                         what=f"all {out_numel} rows of J (standard basis)"))
            parts += against_whole(J, problem.out_shape, problem.wrt_shape, jvp, vjp, k, problem.gen,
                                   problem.tolerance, loop_pullback, scale=problem.scale)
            return combined(parts)
        assert V is not None
        resolution = resolution_factor(k) * problem.tolerance
        flat_u, flat_v = U.reshape(k, -1), V.reshape(k, -1)
        flat_true = true_rows.reshape(k, -1).to(U.dtype)
        true_uv = flat_true @ flat_v.T

        def part(claimed: torch.Tensor, true: torch.Tensor, floor: float, what: str) -> Measurement:
            return Measurement(claimed=claimed, true=true, tolerance=problem.tolerance,
                               resolution=resolution, floor=floor, materialized=False, what=what)

        parts = []
        if problem.claim is not None:
            rows = flat_u @ problem.claim.reshape(out_numel, x.numel()).to(U.dtype)
            parts += [part(rows, flat_true, problem.scale * math.sqrt(k),
                           f"u^T D against u^T J along {k} probes"),
                      part(rows @ flat_v.T, true_uv, problem.scale * k,
                           f"u^T D v against u^T J v, {k} x {k} probes")]
        # the module's _batched looked up at the call, as for the pullbacks (tests spy on it)
        if vjp is not None:
            out = apply("vjp", vjp, U, problem.wrt_shape, loop, run=lambda *a: _batched(*a))
            parts.append(out if isinstance(out, Measurement) else part(
                out.detach().reshape(k, -1).to(U.dtype), flat_true, problem.scale * math.sqrt(k),
                f"the claimed vjp: u^T D against u^T J along {k} probes"))
        if jvp is not None:
            out = apply("jvp", jvp, V, problem.out_shape, loop, run=lambda *a: _batched(*a))
            parts.append(out if isinstance(out, Measurement) else part(
                flat_u @ out.detach().reshape(k, -1).to(U.dtype).T, true_uv, problem.scale * k,
                f"the claimed jvp: u^T (D v) against (u^T J) v, {k} x {k} probes"))
        return combined(parts)


@dataclass
class ProbeInputs:
    """The parts of a Problem the probe oracle reads, for callers without a Rule (benchmarks)."""

    fn: Fn
    x: torch.Tensor
    out_shape: tuple[int, ...]
    claim: torch.Tensor | None
    claim_jvp: Fn | None
    claim_vjp: Fn | None
    hessian: bool
    probes: int
    gen: torch.Generator
    tolerance: float = 0.0
    scale: float = 0.0
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # every input of f, x among them

    @property
    def wrt_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape)


def probe_pairs(*, fn: Fn, x: torch.Tensor, out_shape: tuple[int, ...], claim: torch.Tensor | None,
                claim_jvp: Fn | None, claim_vjp: Fn | None, hessian: bool, k: int,
                gen: torch.Generator, inputs: dict[str, torch.Tensor] | None = None) -> Measurement:
    """One probe measurement of a bare function (what ``matcalc bench`` times); ``inputs`` are all
    of f's inputs (x and those fn closes over), which decide how the pullbacks are batched."""
    scalar = (lambda w: fn(w).reshape(())) if hessian else fn
    problem = ProbeInputs(scalar, x, out_shape, claim, claim_jvp, claim_vjp, hessian, k, gen,
                          inputs=dict(inputs) if inputs is not None else {"x": x})
    return ProbeOracle().measure(problem)  # type: ignore[arg-type]
