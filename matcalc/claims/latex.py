r"""Expression tree -> LaTeX, in the Matrix Cookbook's notation.

Example::

    >>> from matcalc.claims.parse import parse
    >>> print(to_latex(parse("x @ (A.T + A)"), lambda node: 1))
    x^\top (A^\top + A)

``rank`` tells the renderer whether a sub-expression is a scalar (0), vector (1) or matrix (2):
``x @ A`` is x^T A, ``s * x`` is juxtaposition while ``x * y`` is the Hadamard product x ⊙ y.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

from matcalc.claims.parse import Node

SUM, HADAMARD, PRODUCT, UNARY, POWER, ATOM = 1.0, 1.5, 2.0, 3.0, 4.0, 5.0
GREEK = frozenset({
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
})
FUNCTION_NAMES = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh", "sinh": r"\sinh",
    "cosh": r"\cosh", "log": r"\log", "exp": r"\exp", "sigmoid": r"\sigma",
    "relu": r"\mathrm{relu}", "softplus": r"\mathrm{softplus}", "log1p": r"\mathrm{log1p}",
    "expm1": r"\mathrm{expm1}", "softmax": r"\mathrm{softmax}", "log_softmax": r"\log\mathrm{softmax}",
    "logsumexp": r"\mathrm{logsumexp}", "diag": r"\mathrm{diag}", "sum": r"\mathrm{sum}",
    "mean": r"\mathrm{mean}", "sign": r"\mathrm{sign}", "det": r"\det", "tr": r"\mathrm{Tr}",
    "trace": r"\mathrm{Tr}", "gelu": r"\mathrm{GELU}", "erf": r"\mathrm{erf}",
}

Rank = Callable[[Node], int]
DimName = Callable[[Node], str]


def symbol(name: str) -> str:
    """A symbol in LaTeX: Greek names become letters, digits become subscripts.

    >>> symbol("alpha"), symbol("x1"), symbol("A_t")
    ('\\\\alpha', 'x_{1}', 'A_{t}')
    """
    if name in GREEK:
        return "\\" + name
    head, sep, tail = name.partition("_")
    if sep and tail:
        return f"{symbol(head)}_{{{tail}}}"
    stem = head.rstrip("0123456789")
    if stem and stem != head:
        return f"{symbol(stem)}_{{{head[len(stem):]}}}"
    return head if len(head) == 1 else rf"\mathrm{{{head}}}"


def number(value: object, fraction: bool = False) -> str:
    """A constant: integers as integers; with ``fraction`` (exponents) simple fractions as p/q;
    powers of ten in scientific notation and the float nearest pi as pi.

    >>> number(2.0), number(0.5, fraction=True), number(0.1), number(-1)
    ('2', '1/2', '0.1', '-1')
    >>> number(1e-05), number(2.5e-08), number(3.141592653589793)
    ('10^{-5}', '2.5 \\\\cdot 10^{-8}', '\\\\pi')
    """
    assert isinstance(value, int | float)
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    if value == math.pi:
        return r"\pi"
    if not fraction:
        text = repr(value)
        if "e" in text:
            mantissa, _, exponent = text.partition("e")
            power = f"10^{{{int(exponent)}}}"
            return power if mantissa == "1" else (f"-{power}" if mantissa == "-1"
                                                   else rf"{mantissa} \cdot {power}")
        return text
    frac = Fraction(value).limit_denominator(64)
    if float(frac) == value:
        return f"{frac.numerator}/{frac.denominator}"
    return repr(value)


def to_latex(node: Node, rank: Rank, dim: DimName | None = None) -> str:
    """LaTeX for ``node``; ``rank(node)`` is 0, 1 or 2; ``dim(node)`` names the dim that a size
    node ``X.shape[k]`` reads (without it, the size is written out)."""
    return _Renderer(rank, dim).render(node)[0]


class _Renderer:
    def __init__(self, rank: Rank, dim: DimName | None = None,
                 directions: Mapping[str, str] | None = None) -> None:
        self.rank = rank
        self.dim = dim
        self.directions = directions or {}  # a differential's dX -> X, written \partial X

    def wrap(self, node: Node, level: float) -> str:
        text, prec = self.render(node)
        return f"({text})" if prec < level else text

    def render(self, node: Node) -> tuple[str, float]:
        kind, args = node.kind, node.args
        if kind == "sym":
            if node.value in self.directions:  # binds like a Hadamard product: (\partial X) Y
                return rf"\partial {symbol(self.directions[str(node.value)])}", HADAMARD
            return symbol(str(node.value)), ATOM
        if kind == "num":
            text = number(node.value)
            return text, ATOM if not text.startswith("-") else UNARY
        if kind == "I":
            return "I", ATOM
        if kind == "eye":
            return f"I_{{{node.value}}}", ATOM
        if kind == "index":  # x[0] is x_1, X[0, 1] is X_{12}, as in mathematics
            sub = ",".join(str(int(i) + 1) for i in node.value)  # type: ignore[attr-defined]
            return f"{symbol(str(args[0].value))}_{{{sub}}}", ATOM
        if kind == "size":
            if self.dim is not None:
                return symbol(self.dim(node)), ATOM
            return rf"\mathrm{{size}}_{{{node.value}}}({symbol(str(args[0].value))})", ATOM
        if kind == "neg":
            return "-" + self.wrap(args[0], PRODUCT), UNARY
        if kind == "T":
            inner = args[0]
            if inner.kind == "call" and inner.value == "inv":
                return self.wrap(inner.args[0], ATOM) + r"^{-\top}", POWER
            return self.wrap(inner, ATOM) + r"^\top", POWER
        if kind == "H":
            return self.wrap(args[0], ATOM) + "^H", POWER
        if kind == "pow":
            base = args[0]
            exp = number(node.value, fraction=True)
            circ = r"\circ " if self.rank(base) else ""
            if base.kind == "call" and base.value == "norm":
                return self.render(base)[0] + f"^{{{circ}{exp}}}", POWER
            return self.wrap(base, ATOM) + f"^{{{circ}{exp}}}", POWER
        if kind == "call":
            return self.call(node)
        if kind == "@":
            return self.matmul(node), PRODUCT
        if kind in ("+", "-"):
            right = self.spread(args[1], args[0]) or self.wrap(args[1], PRODUCT if kind == "-" else SUM)
            left = self.spread(args[0], args[1]) or self.wrap(args[0], SUM)
            return f"{left} {kind} {right}", SUM
        if kind == "*":
            both = self.rank(args[0]) and self.rank(args[1])
            return self.times(node), HADAMARD if both else PRODUCT
        # division
        a, b = args
        if self.rank(b) == 0:
            return rf"\frac{{{self.render(a)[0]}}}{{{self.render(b)[0]}}}", PRODUCT
        left = self.spread(a, b) or self.wrap(a, PRODUCT)
        return rf"{left} \oslash {self.spread(b, a) or self.wrap(b, POWER)}", PRODUCT

    def spread(self, node: Node, other: Node) -> str | None:
        """A vector broadcast along the rows of a matrix, as the matrix 1 b^T; None otherwise."""
        if self.rank(node) == 1 and self.rank(other) == 2:
            return rf"\mathbf{{1}} {self.wrap(node, ATOM)}^\top"
        return None

    def matmul(self, node: Node) -> str:
        operands: list[Node] = []

        def leftmost(n: Node) -> Node:
            while n.kind == "@":
                n = n.args[0]
            return n

        def flatten(n: Node, root: bool) -> None:
            # A product flattens into the chain when reading it left to right keeps its meaning:
            # x @ A @ x is x^T A x, but (B @ x) @ y is (Bx)^T y and A @ (x @ B) is A (x^T B)^T.
            if n.kind == "@" and (root or self.rank(n) == 2 or self.rank(leftmost(n)) == 1):
                flatten(n.args[0], False)
                right = n.args[1]
                if right.kind == "@" and self.rank(leftmost(right)) == 2:
                    flatten(right, False)
                else:
                    operands.append(right)
            else:
                operands.append(n)

        flatten(node, True)
        parts = []
        for i, op in enumerate(operands):
            if i == 0 and self.rank(op) == 1:
                text = self.row(op)
            elif op.kind == "@" and self.rank(op) == 1:  # a row vector u^T B as a right operand
                text = f"({self.render(op)[0]})^\\top"
            else:
                text = self.wrap(op, PRODUCT)
            parts.append(text)
        return " ".join(parts)

    def row(self, node: Node) -> str:
        """A vector read as a row (the left operand of @): x^T, 2 x^T, -x^T, (Bx)^T."""
        if node.kind == "*":
            a, b = node.args
            if self.rank(a) == 0 or self.rank(b) == 0:
                scalar, vector = (a, b) if self.rank(a) == 0 else (b, a)
                return f"{self.factor(scalar)} {self.row(vector)}"
        if node.kind == "neg":
            return "-" + self.row(node.args[0])
        return self.wrap(node, ATOM) + r"^\top"  # x^{2} is wrapped: (x^{2})^T, not x^{2}^T

    def factor(self, node: Node) -> str:
        """An operand of a juxtaposed product; an inner product c^T x gets parentheses."""
        if node.kind == "@" and self.rank(node) == 0:
            return f"({self.render(node)[0]})"
        return self.wrap(node, PRODUCT)

    def times(self, node: Node) -> str:
        a, b = node.args
        ra, rb = self.rank(a), self.rank(b)
        if ra and rb:
            left = self.spread(a, b) or self.wrap(a, PRODUCT)
            return rf"{left} \odot {self.spread(b, a) or self.wrap(b, PRODUCT)}"
        if rb == 0 and ra:
            a, b = b, a  # the scalar first: x * 2 is 2x
        left, right = self.factor(a), self.factor(b)
        if right.startswith("-"):
            return f"{left} ({right})"
        if right[0].isdigit():
            return rf"{left} \cdot {right}"
        return f"{left} {right}"

    def call(self, node: Node) -> tuple[str, float]:
        fn, args = str(node.value), node.args
        arg = args[0]
        inner = self.render(arg)[0]
        if fn in ("sum", "mean") and len(args) > 1:  # along an axis: sum_0(G), mean_1(X)
            return rf"{FUNCTION_NAMES[fn]}_{{{number(args[1].value)}}}({inner})", ATOM
        if fn == "stack":
            return "[" + ", ".join(self.render(a)[0] for a in args) + "]", ATOM
        if fn in ("ones_like", "zeros_like"):
            return (r"\mathbf{1}" if fn == "ones_like" else "0"), ATOM
        if fn == "inv":
            return self.wrap(arg, ATOM) + "^{-1}", POWER
        if fn == "pinv":
            return self.wrap(arg, ATOM) + "^{+}", POWER
        if fn == "matrix_power":
            return self.wrap(arg, ATOM) + f"^{{{number(args[1].value, fraction=True)}}}", POWER
        if fn == "expm":
            return f"e^{{{inner}}}", POWER
        if fn == "sqrt":
            return rf"\sqrt{{{inner}}}", ATOM
        if fn == "abs":
            return rf"\lvert {inner} \rvert", ATOM
        if fn == "square":
            return self.wrap(arg, ATOM) + ("^{\\circ 2}" if self.rank(arg) else "^{2}"), POWER
        if fn == "norm":
            if self.rank(arg) == 0:
                return rf"\lvert {inner} \rvert", ATOM
            return rf"\Vert {inner} \Vert_{'2' if self.rank(arg) == 1 else 'F'}", ATOM
        if fn == "kron":
            # binds like the Hadamard product, so that a product of krons gets its parentheses
            return rf"{self.wrap(arg, PRODUCT)} \otimes {self.wrap(args[1], PRODUCT)}", HADAMARD
        if fn == "outer":
            return f"{self.wrap(arg, PRODUCT)} {self.wrap(args[1], ATOM)}^\\top", PRODUCT
        if fn == "dot":
            return f"{self.wrap(arg, ATOM)}^\\top {self.wrap(args[1], PRODUCT)}", PRODUCT
        if fn == "logdet":
            return rf"\log\det({inner})", ATOM
        if fn == "log" and arg.kind == "call" and arg.value in ("det",):
            return rf"\log {self.render(arg)[0]}", ATOM
        if fn == "log" and arg.kind == "call" and arg.value == "abs" and \
                arg.args[0].kind == "call" and arg.args[0].value == "det":
            return rf"\log \lvert {self.render(arg.args[0])[0]} \rvert", ATOM
        return rf"{FUNCTION_NAMES[fn]}({inner})", ATOM
