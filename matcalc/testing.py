"""Assertions for your own pytest suites.

Example::

    >>> import torch
    >>> import matcalc as mc
    >>> from matcalc.testing import assert_derivative
    >>> results = assert_derivative(
    ...     lambda x, A: x @ A @ x,
    ...     lambda x, A: (A + A.T) @ x,
    ...     wrt="x",
    ...     inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")},
    ... )
    >>> len(results), all(r.passed for r in results)
    (3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch

from matcalc.check import check
from matcalc.domains import Domain
from matcalc.result import Result
from matcalc.rule import Rule


def assert_rule(
    rule: Rule,
    *,
    device: str = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seeds: Iterable[int] = range(3),
    oracle: str = "auto",
) -> list[Result]:
    """Assert that ``rule`` holds on every seed (or, for an erratum, fails on every seed).

    Raises AssertionError with the full diagnosis of the first seed that disagrees.
    """
    results = []
    for seed in seeds:
        res = check(rule, device=device, dtype=dtype, sizes=sizes, seed=seed, oracle=oracle)
        if not res.as_expected:
            expectation = "fail (it is marked refuted)" if rule.refuted else "hold"
            raise AssertionError(f"rule {rule.name!r} was expected to {expectation}:\n{res}")
        results.append(res)
    return results


def assert_derivative(
    f: Callable[..., torch.Tensor],
    derivative: Callable[..., torch.Tensor],
    *,
    wrt: str,
    inputs: Mapping[str, Domain],
    layout: str = "numerator",
    kind: str = "jacobian",
    name: str = "claim",
    device: str = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seeds: Iterable[int] = range(3),
    oracle: str = "auto",
) -> list[Result]:
    """Assert that ``derivative`` is the derivative of ``f`` with respect to ``wrt``."""
    rule = Rule(name=name, f=f, derivative=derivative, wrt=wrt, inputs=inputs,
                layout=layout, kind=kind)  # type: ignore[arg-type]
    return assert_rule(rule, device=device, dtype=dtype, sizes=sizes, seeds=seeds, oracle=oracle)


def assert_backward(
    fn: Callable[..., object],
    *,
    inputs: Mapping[str, Domain],
    reference: Callable[..., object] | None = None,
    wrt: str | Iterable[str] | None = None,
    device: str = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seeds: Iterable[int] = range(3),
) -> list[Result]:
    """Assert that the backward autograd runs through ``fn`` is right on every seed.

    >>> import torch, matcalc as mc
    >>> from matcalc.testing import assert_backward
    >>> class Square(torch.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> len(assert_backward(Square.apply, inputs={"x": mc.matrix("b", "n")}, reference=lambda x: x * x))
    3

    Raises AssertionError with the full diagnosis of the first seed that does not pass (a failed
    or an inconclusive check); see :func:`matcalc.check_backward` for the arguments.
    """
    from matcalc.backward import check_backward

    names = None if wrt is None else ((wrt,) if isinstance(wrt, str) else tuple(wrt))
    results: list[Result] = []
    for seed in seeds:
        res = check_backward(fn, inputs=inputs, reference=reference, wrt=names, device=device,
                             dtype=dtype, sizes=sizes, seed=seed)
        if not res.passed:
            raise AssertionError(f"the backward of {res.rule!r} is not verified:\n{res}")
        results.append(res)
    return results
