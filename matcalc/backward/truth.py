"""The truth a backward is judged against; never the backward under test.

* :func:`reference_vjp`: ``reference``'s autograd (plain PyTorch) at the same input values, in
  float64 when the check runs in a lower precision.
* :func:`fd_probes`: no reference: u^T J v from ``fn``'s *forward* alone, by central differences
  with one Richardson step, along random directions v (matrix-free). Its resolution is measured
  from the Richardson correction itself.

Example::

    >>> import math, torch
    >>> x = {"x": torch.tensor([0.5, 1.0], dtype=torch.float64)}
    >>> u = (torch.ones(2, dtype=torch.float64),)
    >>> v = [{"x": torch.tensor([1.0, 0.0], dtype=torch.float64)}]
    >>> fd = fd_probes(torch.sin, x, u, v, torch.float64)
    >>> abs(fd.values[0].item() * fd.unit - math.cos(0.5)) < 1e-9
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from matcalc.backward import fn_calls as run
from matcalc.backward.fn_calls import Fn
from matcalc.errors import MatcalcError


def upcast(inputs: Mapping[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Contiguous copies in ``dtype``: the truth must not depend on the layout a probe chose (torch
    2.13's CPU batch_norm backward, for one, is wrong for a stride-0 weight)."""
    return {k: v.detach().to(dtype).contiguous() for k, v in inputs.items()}


@dataclass
class Reference:
    """reference's outputs and u^T J at one set of inputs, in one dtype."""

    outputs: tuple[torch.Tensor, ...]
    grads: dict[str, torch.Tensor]


def reference_vjp(reference: Fn, inputs: Mapping[str, torch.Tensor], wrt: Sequence[str],
                  grad_outputs: Sequence[torch.Tensor | None], dtype: torch.dtype,
                  where: str) -> Reference:
    """reference's forward and autograd vjp at ``inputs`` cast to ``dtype``."""
    cast = upcast(inputs, dtype)
    outs, leaves = run.forward(reference, cast, wrt, f"{where}, in the reference")
    gs = [None if g is None else g.to(dtype) for g in grad_outputs]
    grads = run.vjp(outs, leaves, gs, retain=False)
    if isinstance(grads, run.Broken):
        raise grads.error
    return Reference(tuple(o.detach() for o in outs), grads)


def reference_jvp(reference: Fn, inputs: Mapping[str, torch.Tensor],
                  tangents: Mapping[str, torch.Tensor], dtype: torch.dtype,
                  where: str) -> tuple[torch.Tensor | None, ...] | None:
    got = run.jvp(reference, upcast(inputs, dtype), upcast(tangents, dtype), where)
    return None if isinstance(got, run.Broken | run.NoForwardAD) else got


@dataclass
class FiniteDifferences:
    """u^T J e per probe, its estimated absolute error, the directions e it was taken along
    (float64; the realized steps when inputs round), and the dtype it was computed in."""

    values: torch.Tensor
    errors: torch.Tensor
    directions: list[dict[str, torch.Tensor]]
    dtype: torch.dtype
    # values and errors are in units of fn's largest output entry at x, so that neither
    # overflows nor underflows at any scale of fn
    unit: float = 1.0

    def project(self, grads: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The claim's side of u^T J e for each direction e, in the units of ``values``."""
        return along(grads, self.directions) / self.unit

    @property
    def resolution(self) -> float:
        """The smallest relative error these values resolve (normwise, like the check's error)."""
        scale = max(float(torch.linalg.vector_norm(self.values)), torch.finfo(torch.float64).tiny)
        return float(torch.linalg.vector_norm(self.errors)) / scale


# Rounding of g in units of eps * sum |u| |fn(x)| / t: a few ulps per output entry (a chain of ops),
# times 3 for the Richardson combination (4 D(h/2) - D(h)) / 3 of two quotients.
ROUNDING = 16.0


def step(dtype: torch.dtype) -> float:
    """Central differences with one Richardson step: truncation ~ h^4 and rounding ~ eps / h
    balance at h ~ eps^(1/5) (7e-4 in float64, 4e-2 in float32, 0.4 in bfloat16)."""
    return float(torch.finfo(dtype).eps) ** 0.2


def fd_probes(fn: Fn, inputs: Mapping[str, torch.Tensor], grad_outputs: Sequence[torch.Tensor | None],
              directions: Sequence[Mapping[str, torch.Tensor]], dtype: torch.dtype,
              where: str = "fn", at_x: Sequence[torch.Tensor] | None = None) -> FiniteDifferences:
    """u^T J v for each direction v, from fn's forward in ``dtype`` (float64 when fn accepts it).

    g(t) = <u, fn(x + t v)>; D(t) = (g(t) - g(-t)) / 2t; the value is the Richardson step
    R = (4 D(h/2) - D(h)) / 3. Below float64, x + t v rounds to ``dtype``; the realized steps
    d(t) = round(x + t v) - x are known exactly, so the quotient is taken along
    e = (4 e(h/2) - e(h)) / 3 with e(t) = (d(t) - d(-t)) / 2t, and rounding the step costs nothing
    (``directions`` returns e).

    The error is measured in every direction, never assumed: each direction also runs at h/4 (six
    forwards in all), and |R(h/2, h/4) - R(h, h/2)| bounds the error of R(h, h/2) there. A
    direction that crosses a kink shows it in its own error, which makes the resolution coarse and
    the check inconclusive. The rounding of g, ROUNDING * eps * sum |u| |fn| / t, is added to each.
    """
    x64 = upcast(inputs, torch.float64)
    u = [None if g is None else g.to(torch.float64).reshape(-1) for g in grad_outputs]
    eps = float(torch.finfo(dtype).eps)
    h = step(dtype)
    exact = dtype == torch.float64  # x + t v rounds at eps / t ~ 1e-13 relative: below resolution
    values, errors, realized = [], [], []
    outs = at_x if at_x is not None else forward_values(fn, [x.to(dtype) for x in x64.values()], where)
    unit = _largest(outs)
    # the rounding scale sum |u| |fn(x)|, in units
    scale = sum(float((o.reshape(-1).to(torch.float64) / unit).abs() @ w.abs())
                for o, w in zip(outs, u, strict=True) if w is not None)
    for v in directions:
        def g(t: float, v: Mapping[str, torch.Tensor] = v) -> tuple[float, dict[str, torch.Tensor]]:
            moved = {k: (x64[k] + t * v[k].to(torch.float64)).to(dtype) if k in v
                     else x64[k].to(dtype) for k in x64}
            outs = forward_values(fn, list(moved.values()), where)
            total = sum(float((o.reshape(-1).to(torch.float64) / unit) @ w)
                        for o, w in zip(outs, u, strict=True) if w is not None)
            steps = {} if exact else {k: moved[k].to(torch.float64) - x64[k] for k in v}
            return total, steps

        d, e = [], []
        for t in (h, h / 2, h / 4):
            (gp, dp), (gm, dm) = g(t), g(-t)
            d.append((gp - gm) / (2 * t))
            e.append({k: (dp[k] - dm[k]) / (2 * t) for k in dp})
        noise = ROUNDING * eps * 2 * scale / (h / 2)  # the rounding of the value R(h, h/2)
        value = (4 * d[1] - d[0]) / 3
        finer = (4 * d[2] - d[1]) / 3
        errors.append(abs(finer - value) + noise)
        values.append(value)
        realized.append({k: v[k].to(torch.float64) for k in v} if exact
                        else {k: (4 * e[1][k] - e[0][k]) / 3 for k in e[0]})
    return FiniteDifferences(torch.tensor(values, dtype=torch.float64),
                             torch.tensor(errors, dtype=torch.float64), realized, dtype, unit)


def _largest(outs: Sequence[torch.Tensor]) -> float:
    """The largest finite |entry| of fn's floating outputs (1 when there is none)."""
    big = 0.0
    for o in outs:
        if o.is_floating_point() and o.numel():
            a = o.detach().to(torch.float64).abs()
            a = a[torch.isfinite(a)]
            if a.numel():
                big = max(big, float(a.max()))
    return big if 0 < big < float("inf") else 1.0


def along(grads: Mapping[str, torch.Tensor], directions: Sequence[Mapping[str, torch.Tensor]]
          ) -> torch.Tensor:
    """sum over inputs of <grad, e>, for each direction e: the claim's side of u^T J e."""
    return torch.tensor([sum(float((grads[k].to(torch.float64) * e[k]).sum()) for k in e)
                         for e in directions], dtype=torch.float64)


def accepts(fn: Fn, inputs: Mapping[str, torch.Tensor],
            dtype: torch.dtype) -> tuple[torch.Tensor, ...] | None:
    """fn's outputs in ``dtype`` when it runs in ``dtype`` and returns finite floating outputs of
    that dtype, else None."""
    try:
        outs = forward_values(fn, list(upcast(inputs, dtype).values()), "fn")
    except MatcalcError:
        return None
    ok = all(o.dtype == dtype and bool(torch.isfinite(o).all()) for o in outs if o.is_floating_point())
    return outs if ok else None


def forward_values(fn: Fn, args: Sequence[torch.Tensor], where: str) -> tuple[torch.Tensor, ...]:
    """fn's outputs, detached: computed without autograd, unless fn's forward needs autograd
    itself (a double-backward wrapper calls torch.autograd.grad inside): then with it."""
    try:
        with torch.no_grad():
            return run.as_outputs(fn(*args), where)
    except MatcalcError:
        raise
    except Exception:
        pass
    try:
        return tuple(o.detach() for o in run.as_outputs(fn(*args), where))
    except MatcalcError:
        raise
    except Exception as exc:
        raise MatcalcError(f"fn's forward raised {type(exc).__name__}: {exc} ({where}) at inputs "
                           "moved by a small step for finite differences; fix fn, or pass "
                           "reference= to take the truth from a reference's autograd instead") from exc
