"""Is f differentiable at the sample? One-sided difference quotients of f that disagree by an
amount that does not shrink with the step mean a kink (relu, abs, max at a tie) at the sample.
Central differences cannot see it: they average the two sides.

Example::

    >>> import torch
    >>> x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    >>> kink(lambda w: torch.relu(w).sum(), x, torch.Generator().manual_seed(0))
    True
    >>> kink(lambda w: (w * w).sum(), x, torch.Generator().manual_seed(0))
    False
"""

from __future__ import annotations

from collections.abc import Callable

import torch

STEPS = (1e-4, 1e-6)  # relative to the sample's size
DIRECTIONS = 3
# One-sided quotients differing by this much (relative to their size), at both steps, at a ratio
# that does not shrink with the step, are a kink; smooth f gives a gap that shrinks like the step.
GAP = 1e-3


def _norm(t: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(t.to(torch.float64)))


def kink(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, gen: torch.Generator) -> bool:
    """Whether f has a kink at x along one of a few random directions."""
    x = x.to(torch.float64)
    size = max(_norm(x), 1.0)
    with torch.no_grad():
        fx = f(x).to(torch.float64)
        for _ in range(DIRECTIONS):
            v = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.device)
            v = v / max(_norm(v), 1e-300)
            gaps = []
            for step in STEPS:
                h = step * size
                fwd = (f(x + h * v).to(torch.float64) - fx) / h
                bwd = (fx - f(x - h * v).to(torch.float64)) / h
                # Floored at the size a derivative of f naturally has (||f|| / ||x||): a
                # direction f barely moves along has quotients that are rounding, not a kink.
                scale = max(_norm(fwd), _norm(bwd), _norm(fx) / size, 1e-300)
                gaps.append(_norm(fwd - bwd) / scale)
            if all(g > GAP for g in gaps) and gaps[1] > 0.5 * gaps[0]:
                return True
    return False
