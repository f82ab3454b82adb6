"""How much a gradient computed in a low precision must round, measured: how far the truth u^T J v
moves when the inputs move by a few ulps of the check's dtype.

Without a reference, a float32 backward is compared with float64 finite differences of fn, and
its tolerance scales with how much this computation rounds in float32. fn's forward error says
little about that: sin(a)^2 near a = k pi / 2 barely moves while its derivative sin(2a) is
ill-conditioned there, so the backward rounds 100 times more than the forward does. Whatever
computes the gradient from intermediates rounded to float32 (a itself) is off by about its
conditioning times eps(float32), and that conditioning is what the truth shows when the inputs
move by a few float32 ulps. It is measured on the truth, from fn's forward alone: the backward's
own gradients at nudged inputs cannot show it (they depend on a rounded to float32, which a nudge
of a few ulps of the inputs leaves where it was), and comparing them with the backward's float64
run would take a float32-only bug for rounding. The finite differences' own measured errors are
subtracted: only a movement beyond them counts.

Example::

    >>> import torch
    >>> x = {"x": torch.tensor([1.0, 2.0])}
    >>> gen = torch.Generator().manual_seed(0)
    >>> moved = nudged_inputs(x, {}, torch.float32, gen)["x"]
    >>> bool((moved != x["x"]).any()), float((moved / x["x"] - 1).abs().max()) < 1e-6
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from matcalc.core.tolerance import norm
from matcalc.oracles.fd import SYMMETRIC, FiniteDifferences

# Nudges, and their size in units of the dtype's eps: one nudge can leave a rounding unchanged
# (matcalc/engine/refine.py measures a rule's rounding with three, of 4 eps64, the same way).
NUDGES = 3
NUDGE_EPS = 4.0

Differences = Callable[[dict[str, torch.Tensor]], "FiniteDifferences | None"]


def nudged_inputs(inputs: Mapping[str, torch.Tensor], structures: Mapping[str, str], dtype: torch.dtype,
                  gen: torch.Generator) -> dict[str, torch.Tensor]:
    """``inputs`` times (1 + NUDGE_EPS eps(dtype) r), r uniform in [-1, 1], in ``dtype``: every
    entry moves by up to a few ulps of ``dtype`` (zeros, signs and symmetry are kept)."""
    step = NUDGE_EPS * float(torch.finfo(dtype).eps)
    out = {}
    for name, t in inputs.items():
        r = torch.rand(t.shape, generator=gen, device=t.device, dtype=torch.float64) * 2 - 1
        symmetric = structures.get(name) in SYMMETRIC and r.ndim == 2
        if symmetric:
            r = (r + r.T) / 2
        moved = (t.to(torch.float64) * (1 + step * r)).to(dtype)
        out[name] = (moved + moved.T) / 2 if symmetric else moved
    return out


def truth_spread(differences: Differences, inputs: Mapping[str, torch.Tensor],
                 structures: Mapping[str, str], dtype: torch.dtype, gen: torch.Generator,
                 at_x: FiniteDifferences) -> float:
    """The largest movement of the differences, over NUDGES nudges of the inputs by a few ulps of
    ``dtype``, beyond the two sides' measured errors, relative to ``at_x`` (the differences at the
    inputs): the rounding a gradient computed in ``dtype`` is due here. ``differences`` gives the
    same differences (same directions) at other inputs, or None where fn refuses them.

    >>> from matcalc.oracles.fd import directional_differences
    >>> u, v = [torch.ones(())], [{"x": torch.ones(2, dtype=torch.float64)}]
    >>> def diffs(kw, c):
    ...     fwd = lambda a: (torch.sin(c * a[0].sum()),)
    ...     return directional_differences(fwd, kw, u, v, torch.float64)
    >>> x = {"x": torch.tensor([0.3, 0.4])}
    >>> spreads = [truth_spread(lambda kw: diffs(kw, c), x, {}, torch.float32,
    ...                         torch.Generator().manual_seed(0), diffs(x, c)) for c in (1.0, 100.0)]
    >>> spreads[0] < 1e-6 and spreads[1] > 1e-5   # sin(100 s) is 100 times as sensitive
    True
    """
    size = norm(at_x.values)
    if not size > 0:
        return 0.0
    moved = 0.0
    for _ in range(NUDGES):
        there = differences(nudged_inputs(inputs, structures, dtype, gen))
        if there is None or not bool(torch.isfinite(there.values).all()):
            continue
        ratio = there.unit / at_x.unit  # both in at_x's units: neither overflows at any scale
        beyond = (norm(there.values * ratio - at_x.values)
                  - norm(at_x.errors) - ratio * norm(there.errors))
        moved = max(moved, beyond)
    return moved / size
