"""Claims written as you would write them: PyTorch expression text -> a checked :class:`Rule`.

Example::

    >>> import matcalc as mc
    >>> rule = mc.claim("x @ A @ x", wrt="x", derivative="(A + A.T) @ x")
    >>> rule.latex
    '\\\\frac{\\\\partial x^\\\\top A x}{\\\\partial x} = (A + A^\\\\top) x'
    >>> mc.check(rule, seed=0).passed
    True

The language (see :mod:`matcalc.claims.parse`) is PyTorch's: ``@``, ``+``, ``-``, ``*``, ``/``,
``**`` with a small constant exponent, ``.T`` and ``.mH``, ``I`` and ``eye(n)``, numbers, sizes
``X.shape[k]``, and the functions in :data:`matcalc.claims.parse.FUNCTIONS`, among them ``kron``
and the reductions along an axis ``sum(G, 0)`` and ``mean(X, 1, keepdim=True)``. Elementwise
operations broadcast as in PyTorch: a vector along the rows of a matrix (``X @ W.T + b``), a
keepdim result along its size-1 axis; ``softmax``, ``log_softmax`` and ``logsumexp`` of a matrix
work row by row (``dim=-1``). Shapes are inferred (:mod:`matcalc.claims.shapes`); the statement
is rendered from the parsed text (:mod:`matcalc.claims.latex`). A claim is a Jacobian, a Hessian
or a differential (``kind="differential"``, written with directions ``dX``).

Internal: not part of the public contract, except :func:`claim`, which :mod:`matcalc` exports as
``mc.claim``; the other names here serve the catalog, the diagnosis and the `matcalc` command.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from matcalc.claims.evaluate import SizeSource, compile_tree
from matcalc.claims.latex import POWER, PRODUCT, _Renderer, symbol
from matcalc.claims.parse import ClaimError, Node, parse
from matcalc.claims.shapes import Shape, Shapes, parse_where
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule

__all__ = ["Claim", "ClaimError", "claim", "claim_of", "parse", "rendered"]

_CLAIMS: weakref.WeakKeyDictionary[Rule, Claim] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Claim:
    """What a rule built by :func:`claim` was parsed from: its texts, trees and shapes."""

    f: str
    derivative: str
    wrt: str | tuple[str, ...]
    layout: str
    kind: str
    f_tree: Node
    derivative_tree: Node
    f_shape: tuple[str | int, ...]
    wrt_shape: tuple[str | int, ...]
    derivative_shape: tuple[str | int, ...]
    expected_shape: tuple[str | int, ...]
    eye_sizes: Mapping[int, SizeSource] = field(default_factory=dict)

    def function(self, tree: Node) -> Callable[..., Any]:
        """A torch function of the inputs for ``tree`` (this claim's trees or edits of them that
        keep their identity nodes), e.g. to build a mutant of the derivative."""
        return compile_tree(tree, self.eye_sizes)

    @property
    def shape_fits(self) -> bool:
        """Whether the derivative's inferred shape is the one its layout needs."""
        return self.derivative_shape == self.expected_shape


def claim(
    f: str,
    *,
    wrt: str | tuple[str, ...],
    derivative: str,
    where: str | Mapping[str, Any] | None = None,
    layout: str = "numerator",
    kind: str = "jacobian",
    name: str | None = None,
    **fields: Any,
) -> Rule:
    """A :class:`~matcalc.Rule` from text: "the derivative of ``f`` with respect to ``wrt`` is
    ``derivative``", both in PyTorch expression syntax, parsed safely (nothing is evaluated).

    >>> import matcalc as mc
    >>> rule = mc.claim("log(det(X))", wrt="X", derivative="inv(X).T", where="X: invertible")
    >>> rule.inputs["X"].describe(), rule.latex
    ('matrix n x n, invertible', '\\\\frac{\\\\partial \\\\log \\\\det(X)}{\\\\partial X} = X^{-\\\\top}')

    With ``kind="differential"`` the derivative is the differential of f: it may use the direction
    ``dX`` of each input ``X`` in ``wrt`` (a name or a tuple of names), with X's shape, and has f's
    shape, as the Cookbook writes d(XY) = dX Y + X dY:

    >>> rule = mc.claim("X @ Y", wrt=("X", "Y"), derivative="dX @ Y + X @ dY", kind="differential")
    >>> rule.latex, mc.check(rule, seed=0).passed
    ('\\\\partial (X Y) = (\\\\partial X) Y + X (\\\\partial Y)', True)

    Args:
        f: the function's text, e.g. ``"x @ A @ x"``; every name in it is an input, a declared
            scalar, or one of the functions in :data:`matcalc.claims.parse.FUNCTIONS`.
        wrt: the input differentiated with respect to; a tuple of inputs for a differential.
        derivative: the claimed derivative's text, in the same syntax (and, for a differential,
            the directions ``d<name>``).
        where: declarations of scalars, structures and dims, as a string
            (``"A: n x n symmetric; s: scalar"``) or a dict of names to domains; shapes of inputs
            left undeclared are inferred.
        layout: ``"numerator"`` (default) or ``"denominator"``, as in :class:`~matcalc.Rule`.
        kind: ``"jacobian"`` (default), ``"hessian"`` (of a scalar f) or ``"differential"``.
        name: the rule's name (default: ``claim_`` and the text of f).
        **fields: passed to :class:`~matcalc.Rule` (``source``, ``conditions``, ``section``,
            ``refuted``, ``flaw``, ``jvp``, ...); not ``latex``, which is rendered from the text.

    Returns:
        A :class:`~matcalc.Rule` whose f and derivative are the parsed texts; check it with
        :func:`~matcalc.check`. A wrong derivative gives a rule that fails its check.

    Raises:
        MatcalcError: an unknown kind or layout; ``wrt`` not an input of f; ``latex`` given; text
            that cannot be parsed; or shapes that conflict (the message points at the
            sub-expression).
    """
    if kind not in ("jacobian", "hessian", "differential"):
        raise MatcalcError(f"kind {kind!r}: a text claim is a 'jacobian', a 'hessian' or a "
                           "'differential'")
    wrts = _wrt_names(wrt, kind)
    if layout not in ("numerator", "denominator"):
        raise MatcalcError(f"layout {layout!r} is not 'numerator' or 'denominator'")
    if "latex" in fields:
        raise MatcalcError("a text claim's statement is rendered from its text: drop latex=")
    decls = parse_where(where)
    f_tree, d_tree = parse(f), parse(derivative)
    shapes = Shapes(f.strip(), decls)
    for declared in decls:  # declared inputs come first, in their order (it fixes the draws)
        shapes.symbol_shape(declared)
    f_shape = shapes.infer(f_tree)
    for w in wrts:  # declared inputs are in the table, so f may be constant in them
        if w not in shapes.symbols:
            raise MatcalcError(f"wrt={w!r} does not appear in f = {f.strip()!r}: name one of "
                               f"{', '.join(shapes.order)}")
    w_shape = shapes.symbols[wrts[0]]
    expected = _expected(f_shape, w_shape, layout, kind, f)
    directions = {f"d{w}": w for w in wrts} if kind == "differential" else {}
    for dname, w in directions.items():  # a direction has its input's shape and is no input
        if dname in shapes.symbols:
            raise MatcalcError(f"{dname!r} is the direction of {w} in a differential, so it cannot "
                               "also be an input: rename that input")
        shapes.symbols[dname] = shapes.symbols[w]
    shapes.freeze()
    shapes.source = derivative.strip()
    d_shape = shapes.infer(d_tree)
    shapes.try_match(d_shape, expected)
    shapes.name_free_dims(list(wrts))
    shapes.check_indices()
    eye_sizes = _eye_sizes(shapes)
    inputs = shapes.domains()
    f_fn, d_fn = compile_tree(f_tree, eye_sizes), compile_tree(d_tree, eye_sizes)

    def rank(node: Node) -> int:
        return len(shapes.node_shapes[id(node)])

    def dim(node: Node) -> str:  # the dim that X.shape[k] reads
        return str(shapes.dim_name(shapes.node_shapes[id(node.args[0])][int(node.value)]))  # type: ignore[call-overload]

    statement = _statement(f_tree, d_tree, wrts[0], layout, kind, _Renderer(rank, dim, directions),
                           bool(f_shape))
    rule = Rule(name=name if name is not None else _name(f), f=f_fn, derivative=d_fn, wrt=wrt,
                inputs=inputs, layout=layout, latex=statement, kind=kind,  # type: ignore[arg-type]
                **fields)
    _CLAIMS[rule] = Claim(f.strip(), derivative.strip(), wrt, layout, kind, f_tree, d_tree,
                          shapes.resolved(f_shape), shapes.resolved(w_shape),
                          shapes.resolved(d_shape), shapes.resolved(expected), eye_sizes)
    return rule


def claim_of(rule: Rule) -> Claim | None:
    """The text a rule was built from, or None for a rule written with callables.

    >>> import matcalc as mc
    >>> claim_of(mc.claim("A @ x", wrt="x", derivative="A")).derivative
    'A'
    >>> claim_of(mc.catalog["gradient_is_jacobian_transpose"]) is None or True
    True
    """
    return _CLAIMS.get(rule)


def rendered(rule: Rule) -> bool:
    """Whether the rule's statement was rendered from the text that is checked."""
    return rule in _CLAIMS


def _wrt_names(wrt: object, kind: str) -> tuple[str, ...]:
    names = wrt if kind == "differential" and isinstance(wrt, tuple) and wrt else (wrt,)
    for w in names:
        if not isinstance(w, str) or not w.isidentifier():
            raise MatcalcError(f"wrt must name one input of f, e.g. wrt='x' (a differential may "
                               f"name a tuple of inputs); got {wrt!r}")
    if len(set(names)) != len(names):
        raise MatcalcError(f"wrt names an input twice: {wrt!r}")
    return names  # type: ignore[return-value]


def _expected(f_shape: Shape, w_shape: Shape, layout: str, kind: str, f: str) -> Shape:
    if kind == "differential":
        return f_shape
    if kind == "hessian":
        if f_shape:
            raise MatcalcError(f"a Hessian needs a scalar f; {f.strip()!r} is not a scalar")
        expected = w_shape + w_shape
    else:
        expected = f_shape + w_shape if layout == "numerator" else w_shape + f_shape
    if len(expected) > 2:
        raise MatcalcError(f"the derivative of {f.strip()!r} is a {len(expected)}-tensor; a text "
                           "claim writes scalars, vectors and matrices: use mc.Rule with callables")
    return expected


def _eye_sizes(shapes: Shapes) -> dict[int, SizeSource]:
    sources: dict[int, SizeSource] = {}
    for node, d in shapes.eyes:
        label = shapes.dim_name(d)
        if isinstance(label, int):
            sources[id(node)] = label
            continue
        found = next(((name, axis) for name in shapes.order
                      for axis, e in enumerate(shapes.symbols[name])
                      if shapes.dims.find(e) == shapes.dims.find(d)), None)
        if found is None:
            raise shapes.error(f"no input has the dim {label!r} of this identity", node)
        sources[id(node)] = found
    return sources


def _name(f: str) -> str:
    return "claim_" + (re.sub(r"\W+", "_", f).strip("_")[:60] or "f")


def _statement(f_tree: Node, d_tree: Node, wrt: str, layout: str, kind: str,
               renderer: _Renderer, vector_f: bool) -> str:
    text, prec = renderer.render(f_tree)
    f_tex = text if prec >= PRODUCT and not text.startswith("-") else f"({text})"
    w = symbol(wrt)
    d_tex = renderer.render(d_tree)[0]
    if kind == "differential":  # the Cookbook's d(XY) = (dX) Y + X (dY)
        lhs = text if prec >= POWER and not text.startswith("-") else f"({text})"
        return rf"\partial {lhs} = {d_tex}"
    if kind == "hessian":
        return rf"\frac{{\partial^2 {f_tex}}}{{\partial {w}\, \partial {w}^\top}} = {d_tex}"
    if not vector_f:
        if layout == "denominator":
            return rf"\nabla_{{{w}}} {f_tex} = {d_tex}"
        return rf"\frac{{\partial {f_tex}}}{{\partial {w}}} = {d_tex}"
    if layout == "denominator":
        return rf"\nabla_{{{w}}} ({text}) = {d_tex}"
    return rf"D_{{{w}}}({text}) = {d_tex}"
