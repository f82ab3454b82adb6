"""The truth a backward is judged against; never the backward under test.

* :func:`reference_vjp`: ``reference``'s autograd (plain PyTorch) at the same input values, in
  float64 when the check runs in a lower precision.
* :func:`fd_probes`: no reference: u^T J v from ``fn``'s *forward* alone, along random directions
  v (matrix-free), by the one finite-difference engine
  (:func:`matcalc.oracles.fd.directional_differences`: one Richardson step, its error measured in
  every direction, kinks seen by the one-sided slopes). Nothing here steps or differences.

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
from matcalc.oracles.fd import FiniteDifferences, directional_differences

__all__ = ["FiniteDifferences", "Reference", "accepts", "fd_probes", "forward_values", "reference_jvp",
           "reference_vjp", "upcast"]


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


def fd_probes(fn: Fn, inputs: Mapping[str, torch.Tensor], grad_outputs: Sequence[torch.Tensor | None],
              directions: Sequence[Mapping[str, torch.Tensor]], dtype: torch.dtype,
              where: str = "fn", at_x: Sequence[torch.Tensor] | None = None) -> FiniteDifferences:
    """u^T J v for each direction v, from fn's forward in ``dtype`` (float64 when fn accepts it),
    by :func:`matcalc.oracles.fd.directional_differences`; ``at_x`` are fn's outputs at the inputs
    in ``dtype`` when the caller has them."""
    def forward(args: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return forward_values(fn, args, where)

    return directional_differences(forward, upcast(inputs, torch.float64), grad_outputs, directions,
                                   dtype, at_x)


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
