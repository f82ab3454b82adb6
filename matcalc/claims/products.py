"""Matrix-vector products of a claim, evaluated without building the matrices they multiply.

Example::

    >>> import torch
    >>> from matcalc.claims.evaluate import compile_tree
    >>> from matcalc.claims.parse import parse
    >>> fn = compile_tree(parse("x @ (A.T + A)"), {})     # two matrix-vector products, no A.T + A
    >>> fn(x=torch.ones(3), A=torch.eye(3)).tolist()
    [2.0, 2.0, 2.0]

Why: claims are written as on the board, ``x^T (A^T + A)``, and evaluated literally they build the
n x n matrix ``A^T + A`` (a transposed, strided read of A, and a write of a second matrix) only to
multiply it by a vector. At n = 8192 that sum alone cost 28 passes over A, twenty times the two
matrix-vector products it stands for. A vector times a linear combination of matrices is pushed
through the combination instead: ``v @ (M1 + M2) = v @ M1 + v @ M2``, ``v @ M.T = M @ v``,
``v @ (c * M) = c * (v @ M)``, ``v @ (M1 @ M2) = (v @ M1) @ M2`` and ``v @ I = v``, on either
side. It is exact algebra: only rounding changes, and in float16 or bfloat16 where an
intermediate overflows (those dtypes only feed the low-precision report; verdicts are float64's).
The symmetrized matrix of every quadratic form, ``(M + M^T) v`` in any of its four spellings,
reads M once (:func:`matcalc.fast.forms.quadratic_gradient`: blocks of rows used for both M v and M^T v
while in cache), not twice.

A term is pushed through only when its shape is known without evaluating it (symbols, transposes,
identities, sums of equal shapes, products, scalar multiples): a sum that broadcasts (``A + b``)
is not linear in that way, and is evaluated as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from matcalc.claims.parse import Node
from matcalc.fast.forms import quadratic_gradient

Tensor = torch.Tensor
Run = Callable[[Node], Tensor]
ShapeOf = Callable[[Node], "tuple[int, ...] | None"]

# Kinds a vector can be pushed through without evaluating the node itself.
# Not "H": pushed through, M^H v would need M's conjugate, which only evaluating M tells.
LINEAR = frozenset({"+", "-", "neg", "T", "@", "*", "I", "eye"})


def evaluate_product(node: Node, run: Run, shape_of: ShapeOf) -> Tensor:
    """``node`` (an ``@``) evaluated with any vector factor pushed through the other factor.

    >>> from matcalc.claims.parse import parse
    >>> inputs = {"x": torch.tensor([1.0, 2.0]), "A": torch.tensor([[1.0, 2.0], [3.0, 4.0]])}
    >>> tree = parse("(A + A.T) @ x")
    >>> run = lambda n: {"sym": lambda: inputs[n.value]}[n.kind]()
    >>> evaluate_product(tree, run, lambda n: static_shape(n, inputs, lambda e: 0)).tolist()
    [12.0, 21.0]
    """
    left, right = node.args
    pusher = _Pusher(run, shape_of)
    if _deferrable(right, shape_of) and not _deferrable(left, shape_of):
        v = run(left)
        if v.ndim == 1:
            return pusher.right_of(v, right)
        return torch.matmul(v, run(right))
    if _deferrable(left, shape_of) and not _deferrable(right, shape_of):
        v = run(right)
        if v.ndim == 1:
            return pusher.left_of(left, v)
        return torch.matmul(run(left), v)
    return torch.matmul(run(left), run(right))


def _deferrable(node: Node, shape_of: ShapeOf) -> bool:
    """A matrix-valued linear combination whose shape is known: worth not building."""
    if node.kind not in LINEAR:
        return False
    shape = shape_of(node)
    return shape is not None and len(shape) == 2


def _scalar_factor(node: Node) -> tuple[float, Node] | None:
    """``c * M`` or ``M * c`` with a number c: (c, M)."""
    if node.kind != "*":
        return None
    a, b = node.args
    if a.kind == "num":
        return float(a.value), b  # type: ignore[arg-type]
    if b.kind == "num":
        return float(b.value), a  # type: ignore[arg-type]
    return None


class _Pusher:
    def __init__(self, run: Run, shape_of: ShapeOf) -> None:
        self.run, self.shape_of = run, shape_of

    def _matrix(self, node: Node) -> bool:
        shape = self.shape_of(node)
        return shape is not None and len(shape) == 2

    def _same_shape_sum(self, node: Node) -> bool:
        a, b = node.args
        sa, sb = self.shape_of(a), self.shape_of(b)
        return sa is not None and sa == sb and len(sa) == 2

    def _symmetrized(self, node: Node) -> Node | None:
        """M for ``M + M.T`` or ``M.T + M`` with M a square matrix symbol."""
        if node.kind != "+":
            return None
        a, b = node.args
        for plain, transposed in ((a, b), (b, a)):
            if plain.kind == "sym" and transposed.kind == "T" and transposed.args[0].kind == "sym" \
                    and transposed.args[0].value == plain.value:
                shape = self.shape_of(plain)
                if shape is not None and len(shape) == 2 and shape[0] == shape[1]:
                    return plain
        return None

    def right_of(self, v: Tensor, node: Node) -> Tensor:
        """``v @ node`` for a vector v."""
        return self.push(v, node, transposed=False)

    def left_of(self, node: Node, v: Tensor) -> Tensor:
        """``node @ v`` for a vector v: ``v @ node^T``."""
        return self.push(v, node, transposed=True)

    def push(self, v: Tensor, node: Node, transposed: bool) -> Tensor:
        """``v @ node`` (``v @ node^T`` when ``transposed``) for a vector v."""
        kind, args = node.kind, node.args
        if (m := self._symmetrized(node)) is not None:
            return quadratic_gradient(v, self.run(m))
        if kind in ("+", "-") and self._same_shape_sum(node):
            left, right = self.push(v, args[0], transposed), self.push(v, args[1], transposed)
            return left + right if kind == "+" else left - right
        if kind == "neg" and self._matrix(args[0]):
            return -self.push(v, args[0], transposed)
        if kind == "T" and self._matrix(args[0]):
            return self.push(v, args[0], not transposed)
        if kind == "@" and self._matrix(args[0]) and self._matrix(args[1]):
            # v (M1 M2) = (v M1) M2;  v (M1 M2)^T = (v M2^T) M1^T
            first, second = (args[1], args[0]) if transposed else (args[0], args[1])
            return self.push(self.push(v, first, transposed), second, transposed)
        if kind in ("I", "eye") and self.shape_of(node) == (v.shape[0], v.shape[0]):
            return v.clone()  # the claim's value must not be the input itself
        scaled = _scalar_factor(node)
        if scaled is not None and self._matrix(scaled[1]):
            return scaled[0] * self.push(v, scaled[1], transposed)
        return torch.matmul(self.run(node), v) if transposed else torch.matmul(v, self.run(node))


def static_shape(node: Node, inputs: Mapping[str, Tensor],
                 eye_size: Callable[[Node], int]) -> tuple[int, ...] | None:
    """The shape of a linear-combination node from the inputs' shapes alone; None when it would
    need evaluating (anything else, or a sum that broadcasts).

    >>> from matcalc.claims.parse import parse
    >>> static_shape(parse("A.T @ B + 2 * A"), {"A": torch.zeros(3, 4), "B": torch.zeros(3, 4)},
    ...              lambda n: 0) is None
    True
    >>> static_shape(parse("A.T @ B"), {"A": torch.zeros(3, 4), "B": torch.zeros(3, 5)}, lambda n: 0)
    (4, 5)
    """
    kind = node.kind
    if kind == "sym":
        return tuple(inputs[str(node.value)].shape)
    if kind in ("I", "eye"):
        n = eye_size(node)
        return (n, n)
    if kind == "num":
        return ()
    sub = [static_shape(a, inputs, eye_size) for a in node.args] if kind in LINEAR else []
    if any(s is None for s in sub):
        return None
    if kind == "neg":
        return sub[0]
    if kind == "T":
        s = sub[0]
        assert s is not None
        return s[::-1] if len(s) == 2 else (s if len(s) < 2 else None)
    if kind in ("+", "-"):
        return sub[0] if sub[0] == sub[1] else None
    if kind == "*":
        a, b = sub
        return b if a == () else (a if b == () else None)
    if kind == "@":
        a, b = sub
        assert a is not None and b is not None
        if len(a) == 2 and len(b) == 2 and a[1] == b[0]:
            return (a[0], b[1])
        if len(a) == 2 and len(b) == 1 and a[1] == b[0]:
            return (a[0],)
        if len(a) == 1 and len(b) == 2 and a[0] == b[0]:
            return (b[1],)
        return None
    return None

