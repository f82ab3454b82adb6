"""The oracle interface: what every oracle is given (a Problem) and what it returns (a Measurement).

An oracle is a small unit with a ``name`` and a ``measure(problem)`` method. It computes the true
derivative its own way, applies the claim the same way, and returns both sides of the comparison
together with the threshold and the resolution of that comparison. ``check()`` turns the
measurement into a verdict and builds the Result once (matcalc/engine/verdict.py).

Example::

    >>> import torch
    >>> m = Measurement(claimed=torch.ones(3), true=torch.ones(3), tolerance=1e-13,
    ...                 resolution=1e-13, floor=0.0)
    >>> m.materialized
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from matcalc.core.calls import Context
from matcalc.model.rule import Rule

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Problem:
    """One derivative question, at one sample, in the dtype it is decided in.

    ``inputs`` are the decision inputs (float64 whenever memory allows), ``out`` is f at them,
    ``claim`` the materialized claim in numerator layout (None when it is too big to materialize:
    the rule is then checked through ``claim_jvp``/``claim_vjp`` alone). Every form the rule gives
    (claim, claim_jvp, claim_vjp) is compared. ``scale`` floors ||J|| per unit of J: 0 for an
    autograd truth, whose zero is recognized by measuring its rounding instead
    (matcalc/core/tolerance.py); the Taylor oracle measures its own floor from f's variation.
    """

    rule: Rule
    ctx: Context
    inputs: dict[str, torch.Tensor]
    out: torch.Tensor
    out_shape: tuple[int, ...]
    claim: torch.Tensor | None
    claim_jvp: Fn | None
    claim_vjp: Fn | None
    gen: torch.Generator
    probes: int
    tolerance: float
    scale: float
    # f's output with its autograd graph, and the leaf it was taken at, when the check already
    # evaluated f that way: the reference Jacobian then needs only the backward passes.
    forward: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def name(self) -> str:
        return self.rule.wrt_names[0]

    @property
    def x(self) -> torch.Tensor:
        return self.inputs[self.name]

    @property
    def wrt_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape)

    @property
    def hessian(self) -> bool:
        return self.rule.kind == "hessian"

    def fn(self, w: torch.Tensor) -> torch.Tensor:
        """f as a function of the wrt input alone, the other inputs held at the sample."""
        value = self.rule.f(**{**self.inputs, self.name: w})
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"f returned {type(value).__name__}, not a tensor")
        return value.reshape(()) if self.hessian else value


@dataclass
class Measurement:
    """Both sides of one comparison, in the same units.

    ``materialized`` is True when ``claimed``/``true`` are whole Jacobians (entry-level hints then
    mean something); probe and Taylor oracles compare projections instead. ``floor`` is the
    smallest ||true|| the relative error divides by (Problem.scale in these units).
    ``resolution`` is the smallest relative error this comparison reliably detects.
    ``inconclusive`` is set when the oracle itself could not decide (finite differences that do
    not converge, say). ``truth_error`` bounds ||true - exact derivative|| (absolute, measured: a
    finite difference's error, kinks included); 0 for an autograd truth. A pass needs it below the
    tolerance (relative to ||true||); it never widens the tolerance. ``others`` are further
    comparisons of the same claim (each matrix-free form, each kind of probe): the verdict is the
    worst of them all.
    """

    claimed: torch.Tensor
    true: torch.Tensor
    tolerance: float
    resolution: float
    floor: float
    materialized: bool = True
    what: str = ""
    inconclusive: str = ""
    rates: list[float | None] | None = None
    remainders: list[tuple[float, float]] = field(default_factory=list)
    truth_error: float = 0.0
    others: list[Measurement] = field(default_factory=list)

    @property
    def parts(self) -> list[Measurement]:
        """This comparison and the others, in order."""
        return [self, *self.others]


def combined(parts: list[Measurement]) -> Measurement:
    """One measurement holding every comparison in ``parts`` (the first leads).

    >>> one = Measurement(claimed=torch.ones(2), true=torch.ones(2), tolerance=1e-13,
    ...                   resolution=1e-13, floor=0.0)
    >>> len(combined([one, one]).parts)
    2
    """
    head, *rest = parts
    head.others = [*head.others, *(q for p in rest for q in p.parts)]
    return head


def whole(problem: Problem, true: torch.Tensor, what: str) -> Measurement:
    """The measurement of an oracle that materializes the whole derivative: resolution = tolerance."""
    assert problem.claim is not None
    return Measurement(claimed=problem.claim, true=true.detach(), tolerance=problem.tolerance,
                       resolution=problem.tolerance, floor=problem.scale, what=what)


class Oracle(Protocol):
    """A way to get the true derivative. Adding one means one module in matcalc/oracles/."""

    name: str
    description: str

    def measure(self, problem: Problem) -> Measurement: ...
