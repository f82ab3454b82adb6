"""Rule: one claim about a derivative, with its domain, layout, statement and source.

Example::

    >>> import matcalc as mc
    >>> rule = mc.Rule(
    ...     name="linear_map",
    ...     f=lambda x, A: A @ x,
    ...     derivative=lambda x, A: A,
    ...     wrt="x",
    ...     inputs={"x": mc.vector("n"), "A": mc.matrix("m", "n")},
    ...     latex=r"D(Ax) = A",
    ...     source="seed",
    ... )
    >>> rule.dims()
    ['m', 'n']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import torch

from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain

Layout = Literal["numerator", "denominator"]
Kind = Literal["jacobian", "hessian", "differential"]
LAYOUTS: tuple[str, ...] = ("numerator", "denominator")
KINDS: tuple[str, ...] = ("jacobian", "hessian", "differential")
TensorFn = Callable[..., torch.Tensor]


@dataclass(frozen=True, eq=False)
class Rule:
    """A claim: the derivative of ``f`` with respect to input ``wrt`` is ``derivative``.

    >>> import matcalc as mc
    >>> rule = mc.Rule(
    ...     name="quadratic_form",
    ...     f=lambda x, A: x @ A @ x,
    ...     derivative=lambda x, A: x @ (A.T + A),
    ...     wrt="x",
    ...     inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")},
    ...     latex=r"D(x^\\top A x) = x^\\top (A^\\top + A)",
    ... )
    >>> rule.dims(), mc.check(rule, seed=0).passed
    (['n'], True)

    Kinds:
      * ``"jacobian"`` (default): ``derivative`` returns the Jacobian in ``layout``.
        Numerator layout has shape ``f.shape + wrt.shape`` (torch's ``jacobian``); denominator
        layout has shape ``wrt.shape + f.shape`` (the gradient, nabla f = Df^T).
      * ``"hessian"``: f is scalar and ``derivative`` returns the Hessian, shape
        ``wrt.shape + wrt.shape``.
      * ``"differential"``: ``wrt`` may be a tuple of inputs; ``derivative`` also receives a
        direction ``d<name>`` for each of them and returns the directional derivative ``df``,
        shape ``f.shape`` (Cookbook differentials such as d(XY) = dX Y + X dY).

    An erratum has ``refuted=True``: a published claim that is wrong, kept so that it is seen to
    fail. A rule is frozen: its fields are read, never changed.

    Args:
        name: what the rule is called; in words for a user's rule, an identifier for a catalog
            rule (so that ``from matcalc.catalog import NAME`` works).
        f: the function, called with the inputs as keyword arguments; returns a tensor.
        derivative: the closed form, called with the same keywords (and, for a differential, a
            direction ``d<name>`` per input in ``wrt``); returns a tensor of the shape its kind
            and layout say.
        wrt: the input differentiated with respect to; a tuple of inputs for a differential.
        inputs: each input's name mapped to its domain (:func:`~matcalc.vector`,
            :func:`~matcalc.matrix`, :func:`~matcalc.scalar`); their order is the draw order.
        layout: ``"numerator"`` (default) or ``"denominator"``; for a scalar f they agree.
        latex: the statement as LaTeX, shown in listings and reports.
        source: where the claim was published (a book and equation, a paper).
        conditions: when the claim holds, in words (e.g. "A symmetric").
        kind: ``"jacobian"`` (default), ``"hessian"`` or ``"differential"`` (see Kinds).
        refuted: True for an erratum, a published claim that is wrong and must fail.
        flaw: what is wrong with an erratum; required when ``refuted`` is True.
        correct: the name of the catalog rule that corrects an erratum.
        jvp: optional matrix-free form ``jvp(v, **inputs) = D v`` (numerator layout), used by
            the probe oracle at large n.
        vjp: optional matrix-free form ``vjp(u, **inputs) = u^T D``, likewise.
        fast: optional faster implementation of ``derivative`` (same signature and value);
            benchmarks time it, and the tests verify it against ``derivative``.
        section: the section of its source, used to group listings.

    Raises:
        MatcalcError: the name is empty; ``f`` or ``derivative`` is not callable; ``inputs`` does
            not map names to domains; the layout or kind is unknown; ``wrt`` is not among the
            inputs (or is a tuple outside a differential); a ``distinct_from`` names no input,
            the input itself, an input of another shape, or one that is itself distinct_from
            another; or an erratum does not say its flaw.
    """

    name: str
    f: TensorFn
    derivative: TensorFn
    wrt: str | tuple[str, ...]
    inputs: Mapping[str, Domain]
    layout: Layout = "numerator"
    latex: str = ""
    source: str = ""
    conditions: str = ""
    kind: Kind = "jacobian"
    refuted: bool = False
    flaw: str = ""
    correct: str = ""
    jvp: TensorFn | None = None
    vjp: TensorFn | None = None
    fast: TensorFn | None = None
    section: str = field(default="")

    def __post_init__(self) -> None:
        where = f"rule {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise MatcalcError(
                f"rule name {self.name!r} must be a non-empty string, e.g. 'd tr(AXB)/dX = AᵀBᵀ'"
            )
        if not callable(self.f) or not callable(self.derivative):
            raise MatcalcError(f"{where}: f and derivative must be callables")
        if not isinstance(self.inputs, Mapping) or not all(
            isinstance(d, Domain) for d in self.inputs.values()
        ):
            raise MatcalcError(
                f"{where}: inputs must map names to domains, e.g. {{'x': mc.vector('n')}}"
            )
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        if self.layout not in LAYOUTS:
            raise MatcalcError(f"{where}: layout {self.layout!r} is not one of {LAYOUTS}")
        if self.kind not in KINDS:
            raise MatcalcError(f"{where}: kind {self.kind!r} is not one of {KINDS}")
        wrts = self.wrt_names
        if self.kind != "differential" and not isinstance(self.wrt, str):
            raise MatcalcError(f"{where}: wrt must be one input name (a tuple needs kind='differential')")
        for w in wrts:
            if w not in self.inputs:
                raise MatcalcError(
                    f"{where}: wrt={w!r} is not among the inputs {sorted(self.inputs)}; "
                    "name one of them"
                )
        for name, dom in self.inputs.items():
            _check_distinct(where, name, dom, self.inputs)
        if self.refuted and not self.flaw:
            raise MatcalcError(f"{where}: an erratum (refuted=True) must say its flaw")

    @property
    def wrt_names(self) -> tuple[str, ...]:
        """``wrt`` as a tuple of input names (one name unless the rule is a differential)."""
        return (self.wrt,) if isinstance(self.wrt, str) else tuple(self.wrt)

    def dims(self) -> list[str]:
        """The symbolic dims the rule's inputs use, sorted.

        >>> import matcalc as mc
        >>> mc.Rule(name="Ax", f=lambda x, A: A @ x, derivative=lambda x, A: A, wrt="x",
        ...         inputs={"x": mc.vector("n"), "A": mc.matrix("m", "n")}).dims()
        ['m', 'n']

        Returns:
            The dim names, sorted; fixed int dims are left out.
        """
        out: set[str] = set()
        for dom in self.inputs.values():
            out |= dom.dims()
        return sorted(out)

    def describe_inputs(self) -> str:
        """Each input's domain in words, e.g. ``'x: vector n; A: matrix n x n'``."""
        return "; ".join(f"{k}: {d.describe()}" for k, d in self.inputs.items())


def _check_distinct(where: str, name: str, dom: Domain, inputs: Mapping[str, Domain]) -> None:
    """``distinct_from`` names another input of the same declared shape, drawn first: the input is
    drawn as that one plus a vector bounded away from 0, which needs both shapes equal at every
    size (so the same dims), and that one drawn without such a condition of its own."""
    other = dom.distinct_from
    if other is None:
        return
    if other not in inputs:
        raise MatcalcError(f"{where}: input {name!r} is distinct_from={other!r}, which is not an "
                           f"input; name one of {sorted(set(inputs) - {name})}")
    if other == name:
        raise MatcalcError(f"{where}: input {name!r} is distinct_from itself; name another input "
                           "of the same shape")
    theirs = inputs[other]
    if theirs.shape != dom.shape:
        raise MatcalcError(
            f"{where}: input {name!r} ({dom.describe()}) is distinct_from={other!r} "
            f"({theirs.describe()}): distinct_from needs an input of the same shape, with the same "
            "dims; declare both with the same dims or drop distinct_from")
    if theirs.distinct_from is not None:
        raise MatcalcError(
            f"{where}: input {name!r} is distinct_from={other!r}, which is itself "
            f"distinct_from={theirs.distinct_from!r}: make both distinct_from={theirs.distinct_from!r}, "
            "an input drawn without such a condition")


def layout_swap(claim: torch.Tensor, out_shape: tuple[int, ...],
                wrt_shape: tuple[int, ...]) -> torch.Tensor | None:
    """Read a claim of shape wrt.shape + f.shape as numerator layout (f.shape + wrt.shape)."""
    if tuple(claim.shape) != tuple(wrt_shape) + tuple(out_shape):
        return None
    nw = len(wrt_shape)
    perm = list(range(nw, claim.ndim)) + list(range(nw))
    return claim.permute(perm)


def to_numerator(rule: Rule, claim: torch.Tensor, out_shape: tuple[int, ...],
               wrt_shape: tuple[int, ...]) -> torch.Tensor:
    """The claim in numerator layout, or unchanged when its shape does not fit the layout."""
    if rule.layout == "denominator" and rule.kind == "jacobian":
        swapped = layout_swap(claim, out_shape, wrt_shape)
        if swapped is not None:
            return swapped
    return claim
