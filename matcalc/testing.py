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

The helpers hide their own frames from pytest's traceback (``__tracebackhide__``), so a failure
shows your test and the diagnosis. Public: part of the contract (``__all__``).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from matcalc.core.result import Result
from matcalc.engine.check import check
from matcalc.engine.settings import resolve_seeds
from matcalc.errors import MatcalcError
from matcalc.model.discover import rules_in
from matcalc.model.domains import Domain
from matcalc.model.rule import Rule

__all__ = ["assert_backward", "assert_derivative", "assert_rule", "parametrize_rules"]


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

    >>> from matcalc.catalog import quadratic_form, slip_trace_AX_is_A
    >>> [r.outcome for r in assert_rule(quadratic_form, seeds=[0, 1])]
    ['pass', 'pass']
    >>> [r.outcome for r in assert_rule(slip_trace_AX_is_A, seeds=[0])]  # an erratum must fail
    ['fail']

    Args:
        rule: the :class:`~matcalc.Rule` to check.
        device: ``"cpu"`` or ``"cuda"``.
        dtype: a floating torch dtype or its name.
        sizes: each dim's size; by default small distinct sizes, at two assignments.
        seeds: the seeds to check at, each drawing fresh inputs.
        oracle: how the truth is computed, as in :func:`~matcalc.check`.

    Returns:
        The results, one per seed, all as expected.

    Raises:
        AssertionError: a seed disagrees (a true rule fails, or an erratum passes), or a check is
            inconclusive (it decided nothing); the message is that seed's full diagnosis.
        MatcalcError: ``seeds`` is empty (a check of nothing must not pass), or the check is
            misused (see :func:`~matcalc.check`).
    """
    __tracebackhide__ = True
    seed_list = resolve_seeds(f"rule {rule.name!r}", seeds)
    results = []
    for seed in seed_list:
        res = check(rule, device=device, dtype=dtype, sizes=sizes, seed=seed, oracle=oracle)
        if not res.as_expected:
            if res.inconclusive:
                raise AssertionError(f"rule {rule.name!r} could not be decided: {res.inconclusive}\n{res}")
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
    """Assert that ``derivative`` is the derivative of ``f`` with respect to ``wrt``.

    >>> import torch, matcalc as mc
    >>> len(assert_derivative(lambda X: torch.trace(X), lambda X: torch.eye(X.shape[0]), wrt="X",
    ...                       inputs={"X": mc.matrix("n", "n")}, name="d tr(X)/dX = I"))
    3

    The rule is built as ``mc.Rule(name=name, f=f, derivative=derivative, wrt=wrt, inputs=inputs,
    layout=layout, kind=kind)`` and checked by :func:`assert_rule`.

    Args:
        f: the function, called with the inputs as keyword arguments.
        derivative: the claimed derivative, called with the same keywords.
        wrt: the input differentiated with respect to.
        inputs: each input's name mapped to its domain (``mc.vector``, ``mc.matrix``, ...).
        layout: ``"numerator"`` (default) or ``"denominator"``.
        kind: ``"jacobian"`` (default), ``"hessian"`` or ``"differential"``.
        name: the claim's name in messages.
        device: ``"cpu"`` or ``"cuda"``.
        dtype: a floating torch dtype or its name.
        sizes: each dim's size; by default small distinct sizes, at two assignments.
        seeds: the seeds to check at.
        oracle: how the truth is computed, as in :func:`~matcalc.check`.

    Returns:
        The results, one per seed, all passed.

    Raises:
        AssertionError: the claim fails, or is inconclusive, at some seed; the message is that
            seed's full diagnosis.
        MatcalcError: the rule or the check is misused (e.g. ``wrt`` not among the inputs), or
            ``seeds`` is empty.
    """
    __tracebackhide__ = True
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

    Args:
        fn: the function whose backward is checked, called positionally with the inputs drawn
            from ``inputs`` (in that order).
        inputs: each input's name mapped to its domain.
        reference: a plain-PyTorch forward whose autograd is the truth; without one, the truth
            comes from finite differences of ``fn``'s forward.
        wrt: the input (or inputs) whose gradients are checked; all of them by default.
        device: ``"cpu"`` or ``"cuda"``.
        dtype: a floating torch dtype or its name.
        sizes: each dim's size; by default small distinct sizes.
        seeds: the seeds to check at.

    Returns:
        The results of :func:`matcalc.check_backward`, one per seed, all passed.

    Raises:
        AssertionError: a seed does not pass (a failed or an inconclusive check); the message is
            that seed's full diagnosis.
        MatcalcError: ``seeds`` is empty, or the check is misused (see
            :func:`matcalc.check_backward`).
    """
    __tracebackhide__ = True
    from matcalc.backward import check_backward

    seeds = resolve_seeds("assert_backward", seeds)
    names = None if wrt is None else ((wrt,) if isinstance(wrt, str) else tuple(wrt))
    results: list[Result] = []
    for seed in seeds:
        res = check_backward(fn, inputs=inputs, reference=reference, wrt=names, device=device,
                             dtype=dtype, sizes=sizes, seed=seed)
        if not res.passed:
            raise AssertionError(f"the backward of {res.rule!r} is not verified:\n{res}")
        results.append(res)
    return results


def parametrize_rules(
    rules: types.ModuleType | Iterable[Rule],
    *,
    dtypes: Sequence[str | torch.dtype] = ("float64", "float32"),
    devices: Sequence[str] = ("cpu", "cuda"),
    argnames: str = "rule,dtype,device",
) -> Any:
    """A ``pytest.mark.parametrize`` over rules x dtypes x devices, one test id ``rule-dtype-device``
    each; CUDA cases skip on a machine without a GPU.

    ``rules`` is a module (its ``RULES`` tuple, or else every module-level Rule) or an iterable of
    rules. Use it as matcalc's own catalog tests do::

        import my_rules
        from matcalc.testing import assert_rule, parametrize_rules

        @parametrize_rules(my_rules)
        def test_my_rule(rule, dtype, device):
            assert_rule(rule, dtype=dtype, device=device)

    >>> import matcalc.catalog.seed as seed
    >>> mark = parametrize_rules(seed, dtypes=["float64"], devices=["cpu"])
    >>> mark.args[0], mark.kwargs["ids"][0]
    ('rule,dtype,device', 'linear_map-float64-cpu')

    Args:
        rules: a module (its ``RULES``, else its module-level rules) or an iterable of rules.
        dtypes: the dtypes, as names or torch dtypes.
        devices: ``"cpu"`` and/or ``"cuda"``; CUDA cases skip without a GPU.
        argnames: the test function's parameter names for the rule, the dtype and the device.

    Returns:
        A ``pytest.mark.parametrize`` mark, with ids ``rule-dtype-device``.

    Raises:
        MatcalcError: no rules found, no dtype or no device given, an unknown device, or a
            non-Rule among the rules.
    """
    import pytest

    found = rules_in(rules)
    if not dtypes or not devices:
        raise MatcalcError("parametrize_rules needs at least one dtype and one device, "
                           "e.g. dtypes=['float64'], devices=['cpu']")
    unknown = [d for d in devices if d not in ("cpu", "cuda")]
    if unknown:
        raise MatcalcError(f"parametrize_rules: unknown device {unknown[0]!r}: use 'cpu' or 'cuda'")
    no_gpu = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CUDA cases need a GPU (torch.cuda.is_available() is False)")
    params, ids = [], []
    for rule in found:
        for dtype in dtypes:
            dt_name = str(dtype).removeprefix("torch.")
            for device in devices:
                marks = [no_gpu] if device == "cuda" else []
                params.append(pytest.param(rule, dtype, device, marks=marks))
                ids.append(f"{rule.name}-{dt_name}-{device}")
    return pytest.mark.parametrize(argnames, params, ids=ids)
