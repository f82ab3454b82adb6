"""Independent ways to get the true derivative.

``jacobian``  torch.autograd.functional.jacobian / hessian: the reference.
``func``      torch.func.jacrev or jacfwd (whichever suits the shape) / torch.func.hessian.
``probe``     matrix-free: the claim applied to k random directions against torch.func.jvp and vjp.
``taylor``    no autograd: the first-order remainder must shrink at rate 2 (a wrong Df gives 1).

The probe's probability argument. Let E = D - J be the error of a wrong claim, with relative size
delta = ||E||_F / ||J||_F. For a Gaussian direction u, ||u^T E||^2 = sum_i s_i^2 z_i^2 with
z_i ~ N(0, 1) and s_i the singular values of E; the hardest case is rank 1, where
||u^T E|| = ||E||_F |z|. Stacking k probes, ||U E||_F^2 >= ||E||_F^2 chi2_k while ||U J||_F^2
concentrates at k ||J||_F^2. The rows comparison misses only if ||U E||_F <= tol ||U J||_F, i.e.
chi2_k <= k (tol / delta)^2 =: s, which has probability at most s^(k/2) / (2^(k/2) Gamma(k/2 + 1)).
With k = 4 and a claim wrong by delta >= 100 tol (every mutant we test is; tol is ~1e-13 in
float64 and ~1e-5 in float32), s <= 4e-4 and a miss has probability < 2e-8. The second
comparison, u_i^T D v_j against (u_i^T J) v_j, checks a claimed jvp that is given apart from the
claimed vjp (rule.jvp), with its own random v_j.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.autograd.functional import hessian as autograd_hessian
from torch.autograd.functional import jacobian as autograd_jacobian

from matcalc.errors import MatcalcError

ORACLES: tuple[str, ...] = ("auto", "jacobian", "func", "probe", "taylor")
DEFAULT_PROBES = 4
MEMORY_FRACTION = 0.25
# Each Jacobian row is one backward pass with vectorize=False; past this many rows the reference
# spends more time than a probe check would at the same size, so "auto" switches to probes.
AUTO_MAX_ROWS = 4096


def reference_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    # vectorize=False (reverse mode, one backward pass per output element) is the fast choice here:
    # a scalar f needs exactly one backward pass, and vectorize=True runs the backward graph under
    # vmap, which was measured at 28 s for D(Ax) at n=2048 against 0.24 s for the loop at n=1024.
    return autograd_jacobian(fn, x, vectorize=False, strategy="reverse-mode")


def func_jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, out_numel: int
) -> torch.Tensor:
    # Reverse mode costs one pass per output, forward mode one per input: pick the smaller side.
    if out_numel <= x.numel():
        return torch.func.jacrev(fn)(x)
    return torch.func.jacfwd(fn)(x)


def reference_hessian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return autograd_hessian(fn, x)


def func_hessian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return torch.func.hessian(fn)(x)


def true_jvp(fn: Callable[..., torch.Tensor], primals: tuple[torch.Tensor, ...],
             tangents: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.func.jvp(fn, primals, tangents)[1]


def hvp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hessian-vector product, forward over reverse."""
    return torch.func.jvp(torch.func.grad(fn), (x,), (v,))[1]


def contract_right(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """D v for numerator-layout D (shape f.shape + v.shape)."""
    return torch.tensordot(d, v, dims=v.ndim)


# --- the Taylor-remainder oracle ------------------------------------------------------------

TAYLOR_STEPS = tuple(2.0**-i for i in range(3, 34))
TAYLOR_NOISE = 1e3  # remainders below this many eps of the values are rounding, not signal
TAYLOR_NOISE_STEPS = (1e-13, 2e-13, 3e-13)  # steps whose remainder is rounding alone
TAYLOR_MEASURED = 100.0  # remainders below this many times the measured rounding are noise


@dataclass
class TaylorOutcome:
    """Observed convergence rates of the remainder as h halves, one per direction."""

    rates: list[float | None] = field(default_factory=list)
    expected: float = 2.0

    @property
    def worst(self) -> float | None:
        known = [r for r in self.rates if r is not None]
        return min(known) if known else None

    @property
    def passed(self) -> bool:
        # None means every remainder sat at rounding level: the model is exact, e.g. f linear.
        worst = self.worst
        return worst is None or worst >= self.expected - 0.5


def taylor_rate(remainder: Callable[[float], tuple[float, float]]) -> float | None:
    """Median rate over the three smallest usable step pairs; None when the model is exact.

    ``remainder(h)`` returns (remainder norm, noise scale). A pair (h, h/2) is usable when both
    remainders are finite and above the noise floor; non-finite values at large h (leaving the
    domain) are skipped. When the remainder falls from above the floor to far below it in one
    halving (by more than 16x, which no power law of rate <= 4 does), f is exactly modelled for
    small h, as a piecewise-linear f is once h no longer crosses a kink: that counts as exact.
    """
    # The modelled noise (eps times the values) misses cancellation inside f, e.g. tr(X kron X)
    # summing large terms to a small value; the remainder at steps far below any signal measures
    # the rounding actually present.
    measured = max((r for r, _ in (remainder(h) for h in TAYLOR_NOISE_STEPS) if math.isfinite(r)),
                   default=0.0)
    values = [(r, max(s, TAYLOR_MEASURED / TAYLOR_NOISE * measured)) for r, s in
              (remainder(h) for h in TAYLOR_STEPS)]
    above = [math.isfinite(r) and r > TAYLOR_NOISE * s for r, s in values]
    if not any(above):
        return None
    last = max(i for i, a in enumerate(above) if a)
    if last + 1 < len(values):
        r_next, s_next = values[last + 1]
        if math.isfinite(r_next) and r_next < TAYLOR_NOISE * s_next / 16 and r_next < values[last][0] / 16:
            return None
    usable = [
        math.log2(values[i][0] / values[i + 1][0])
        for i in range(last) if above[i] and above[i + 1]
    ]
    if not usable:
        return None
    tail = sorted(usable[-3:])
    return tail[len(tail) // 2]


# --- the memory guard -------------------------------------------------------------------------


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def memory_budget(device: torch.device, budget: int | None) -> int:
    """The byte budget for a materialized Jacobian: explicit, then $MATCALC_MEMORY_BUDGET, then
    a quarter of what is available."""
    if budget is not None:
        return budget
    env = os.environ.get("MATCALC_MEMORY_BUDGET")
    if env:
        try:
            return int(float(env))
        except ValueError as exc:
            raise MatcalcError(
                f"MATCALC_MEMORY_BUDGET={env!r} is not a number of bytes: set e.g. 2e9"
            ) from exc
    return int(available_memory(device) * MEMORY_FRACTION)


def jacobian_bytes(out_numel: int, in_numel: int, dtype: torch.dtype, oracle: str) -> int:
    """Bytes a materialized Jacobian check needs: the oracle's J, the claim D, and for torch.func
    the vmapped intermediates (about one more J)."""
    copies = 3 if oracle == "func" else 2
    return out_numel * in_numel * torch.empty((), dtype=dtype).element_size() * copies
