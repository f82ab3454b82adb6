"""Independent ways to get the true derivative, one module each, behind one interface
(:class:`~matcalc.oracles.base.Oracle`: ``measure(problem) -> Measurement``).

``jacobian``  torch.autograd.functional.jacobian / hessian: the reference.
``func``      torch.func.jacrev or jacfwd (whichever suits the shape) / torch.func.hessian.
``probe``     matrix-free: the claim applied to k random directions against f's pullback.
``taylor``    no autograd: Ridders-extrapolated central differences of f.
``auto``      chosen per check from the shapes (matcalc/engine/check_plan.py): the reference when J is small.

Adding an oracle: one module here with a class that has ``name``, ``description`` and
``measure``, and one line in ``REGISTRY``.

What the oracles share: ``forms`` (a rule's jvp and vjp compared against a materialized truth),
``fd`` (finite differences whose error is measured in every direction), ``confirm`` (an autograd
truth checked against f's values before it decides a verdict) and ``rounding`` (inputs nudged by
a few ulps, and the precision f really computes in).

Example::

    >>> sorted(REGISTRY)
    ['func', 'jacobian', 'probe', 'taylor']
    >>> NAMES
    ('auto', 'jacobian', 'func', 'probe', 'taylor')

Internal: not part of the public contract."""

from __future__ import annotations

from matcalc.oracles.base import Measurement, Oracle, Problem
from matcalc.oracles.func import FuncOracle, func_hessian, func_jacobian
from matcalc.oracles.jacobian import JacobianOracle, reference_hessian, reference_jacobian
from matcalc.oracles.memory import available_memory, jacobian_bytes, memory_budget
from matcalc.oracles.probe import ProbeOracle
from matcalc.oracles.taylor import TaylorOracle

REGISTRY: dict[str, Oracle] = {o.name: o for o in (JacobianOracle(), FuncOracle(), ProbeOracle(),
                                                   TaylorOracle())}
NAMES: tuple[str, ...] = ("auto", *REGISTRY)
ORACLES = NAMES  # the name earlier releases exported
DEFAULT_PROBES = 4

__all__ = [
    "DEFAULT_PROBES", "NAMES", "ORACLES", "REGISTRY", "Measurement", "Oracle", "Problem",
    "available_memory", "func_hessian", "func_jacobian", "jacobian_bytes", "memory_budget",
    "reference_hessian", "reference_jacobian",
]
