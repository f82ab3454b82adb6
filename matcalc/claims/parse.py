"""Claim text -> expression tree, through Python's ``ast`` with an explicit whitelist.

Example::

    >>> tree = parse("x @ A @ x")
    >>> tree.kind, [a.kind for a in tree.args]
    ('@', ['@', 'sym'])

Nothing in a claim is ever evaluated, compiled to bytecode or looked up in a namespace: the text is
parsed to an AST (``ast.parse`` only builds the tree), every node is checked against a whitelist,
and the result is a small tree of :class:`Node` that the other modules interpret. Names are symbols,
never Python objects; the only attribute is ``.T``; calls name whitelisted functions only.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from matcalc.errors import MatcalcError

MAX_LENGTH = 2000
MAX_DEPTH = 100
MAX_EXPONENT = 16
MAX_INDEX = 4096  # an index or a stack's length; the input's declared length bounds it further
CARET_WIDTH = 100
RESERVED = frozenset({"I", "eye"})


@dataclass(frozen=True, eq=False)
class Node:
    """One node of a claim: ``kind`` is "sym", "num", "I", "eye", "neg", "T", "H" (``.mH``, the
    conjugate transpose, which is ``.T`` on real inputs), "pow", "call", "index" (``x[i]`` or
    ``X[i, j]``, its one argument the symbol, its value the tuple of indices),
    "size" (``X.shape[k]``, its one argument the symbol) or one of the binary operators "@", "+",
    "-", "*", "/". ``value`` is the symbol's name, the number, the function's name, the exponent,
    eye's dim or the size's axis; ``start``/``end`` are columns in the text. A reduction along an
    axis is a "call" of sum or mean whose second argument is the axis (a "num") and whose third,
    when present, is the number 1 for ``keepdim=True``."""

    kind: str
    args: tuple[Node, ...]
    value: object
    start: int
    end: int


# name -> arity (matrix_power's second argument is an integer constant)
FUNCTIONS: dict[str, int] = {
    **{f: 1 for f in (
        "sin", "cos", "tan", "tanh", "sinh", "cosh", "sigmoid", "sqrt", "abs", "log", "exp",
        "relu", "softplus", "log1p", "expm1", "square", "sign", "ones_like", "zeros_like",
        "tr", "trace", "det", "logdet", "inv", "pinv", "expm", "sum", "mean", "norm", "diag",
        "softmax", "log_softmax", "logsumexp", "gelu", "erf",
    )},
    "outer": 2, "dot": 2, "matrix_power": 2, "kron": 2, "stack": 1,
}
ELEMENTWISE = frozenset({
    "sin", "cos", "tan", "tanh", "sinh", "cosh", "sigmoid", "sqrt", "abs", "log", "exp", "relu",
    "softplus", "log1p", "expm1", "square", "sign", "ones_like", "zeros_like", "gelu", "erf",
})
# sum(X, axis) and mean(X, axis), optionally with keepdim=True: the axis is a constant in AXES
REDUCTIONS = frozenset({"sum", "mean"})
AXES = (-2, -1, 0, 1)

_BINOPS: dict[type, str] = {ast.MatMult: "@", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
                            ast.Div: "/"}


def caret(text: str, start: int, end: int) -> str:
    """The text with a caret line under columns ``start:end``, as a compiler prints an error.

    >>> print(caret("x @ A @ y", 0, 5))
      x @ A @ y
      ^^^^^
    """
    width = max(end - start, 1)
    if len(text) > CARET_WIDTH:  # show a window around the span
        lo = max(0, min(start - 10, len(text) - CARET_WIDTH))
        shown = text[lo:lo + CARET_WIDTH]
        start, width = start - lo, min(width, CARET_WIDTH - (start - lo))
        text = ("..." if lo else "") + shown + ("..." if lo + CARET_WIDTH < len(text) else "")
        start += 3 if lo else 0
    return f"  {text}\n  {' ' * start}{'^' * width}"


class ClaimError(MatcalcError):
    """A claim that cannot be read: the message points at the offending span."""

    def __init__(self, message: str, text: str, start: int, end: int) -> None:
        super().__init__(f"{message}\n{caret(text, start, end)}")
        self.text, self.start, self.end = text, start, end


def parse(text: str) -> Node:
    """Parse one claim expression; raise :class:`ClaimError` for anything outside the language.

    >>> parse("2 * x").args[0].value
    2
    """
    if not isinstance(text, str):
        raise MatcalcError(f"a claim must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise MatcalcError(f"the claim is {len(text)} characters long; the limit is {MAX_LENGTH}: "
                           "split it into smaller claims")
    if not text.strip():
        raise MatcalcError("the claim is empty: write an expression such as 'x @ A @ x'")
    if not text.isascii() or not text.isprintable():
        raise MatcalcError("a claim is one line of printable ASCII: write .T for a transpose and "
                           "@ for a product")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        raise ClaimError(f"cannot parse the claim: {exc.msg}", source, col, col + 1) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise MatcalcError(f"cannot parse the claim ({type(exc).__name__}): it is nested too deeply "
                           f"or too large; keep it under {MAX_DEPTH} levels") from None
    _check_depth(tree.body, source)
    return _Converter(source).convert(tree.body)


def _check_depth(root: ast.AST, source: str) -> None:
    # Iterative, so that a deep tree gives this error rather than a RecursionError.
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            start, end = _span(node, source)
            raise ClaimError(f"the claim is nested more than {MAX_DEPTH} levels deep: simplify it",
                             source, start, end)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _span(node: ast.AST, source: str) -> tuple[int, int]:
    start = getattr(node, "col_offset", 0) or 0
    end = getattr(node, "end_col_offset", None)
    return start, end if end is not None else len(source)


class _Converter:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str, node: ast.AST) -> ClaimError:
        return ClaimError(message, self.source, *_span(node, self.source))

    def convert(self, node: ast.AST) -> Node:
        start, end = _span(node, self.source)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return Node("pow", (self.convert(node.left),), self.exponent(node.right), start, end)
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(f"operator {type(node.op).__name__} is not in the claim language: "
                                "use @ + - * / **", node)
            return Node(op, (self.convert(node.left), self.convert(node.right)), None, start, end)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand)
            if isinstance(node.op, ast.USub):
                return Node("neg", (self.convert(node.operand),), None, start, end)
            raise self.fail("only unary minus is allowed here", node)
        if isinstance(node, ast.Constant):
            return Node("num", (), self.number(node), start, end)
        if isinstance(node, ast.Name):
            return self.name(node, start, end)
        if isinstance(node, ast.Attribute):
            if node.attr not in ("T", "mH"):
                raise self.fail(f"attribute .{node.attr} is not allowed: the attributes are .T and "
                                ".mH (and .shape[k])", node)
            kind = "T" if node.attr == "T" else "H"
            return Node(kind, (self.convert(node.value),), None, start, end)
        if isinstance(node, ast.Call):
            return self.call(node, start, end)
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Attribute):
                return self.size(node, start, end)
            return self.index(node, start, end)
        raise self.fail(f"{type(node).__name__} is not in the claim language: write products, "
                        "sums and calls of whitelisted functions", node)

    def name(self, node: ast.Name, start: int, end: int) -> Node:
        ident = node.id
        if ident.startswith("_"):
            raise self.fail(f"name {ident!r} is not allowed: names may not start with '_'", node)
        if ident == "I":
            return Node("I", (), None, start, end)
        if ident in FUNCTIONS or ident == "eye":
            raise self.fail(f"{ident} is a function: call it, e.g. {ident}(X)", node)
        return Node("sym", (), ident, start, end)

    def number(self, node: ast.Constant) -> int | float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"constant {value!r} is not a number", node)
        if isinstance(value, int) and abs(value) > 10**15:
            raise self.fail("integer constant too large (limit 10**15)", node)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("a constant must be finite", node)
        return value

    def exponent(self, node: ast.AST) -> int | float:
        value = self.constant(node, allow_ratio=True)
        if abs(value) > MAX_EXPONENT:
            raise self.fail(f"exponent {value} is too large: the limit is {MAX_EXPONENT}", node)
        return value

    def constant(self, node: ast.AST, allow_ratio: bool) -> int | float:
        """A numeric constant, negated or (once) a ratio of two: -1, 0.5, 1/2, -1/2."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.constant(node.operand, allow_ratio)
            return -value if isinstance(node.op, ast.USub) else value
        if allow_ratio and isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            num, den = self.constant(node.left, False), self.constant(node.right, False)
            if den == 0:
                raise self.fail("division by zero in the exponent", node)
            return num / den
        if isinstance(node, ast.Constant):
            return self.number(node)
        raise self.fail("an exponent must be a numeric constant such as 2, -1 or 1/2", node)

    def size(self, node: ast.Subscript, start: int, end: int) -> Node:
        """``X.shape[k]``: the size of an input along axis k (0, 1, -1 or -2), a scalar."""
        target = node.value
        if not (isinstance(target, ast.Attribute) and target.attr == "shape"
                and isinstance(target.value, ast.Name)):
            raise self.fail("the subscripts are an input's size X.shape[k] and its entries x[i] "
                            "and X[i, j]", node)
        sym = self.name(target.value, *_span(target.value, self.source))
        if sym.kind != "sym":
            raise self.fail("only an input has a shape, e.g. X.shape[1]", node)
        axis = self.axis(node.slice)
        return Node("size", (sym,), axis, start, end)

    def index(self, node: ast.Subscript, start: int, end: int) -> Node:
        """``x[i]`` or ``X[i, j]``: one entry of an input, with non-negative integer constants."""
        if not isinstance(node.value, ast.Name):
            raise self.fail("only an input can be indexed, e.g. x[0] or X[0, 1]", node)
        sym = self.name(node.value, *_span(node.value, self.source))
        if sym.kind != "sym":
            raise self.fail("only an input can be indexed, e.g. x[0] or X[0, 1]", node)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not 1 <= len(items) <= 2:
            raise self.fail("an index is x[i] for a vector or X[i, j] for a matrix", node)
        indices = []
        for item in items:
            if not (isinstance(item, ast.Constant) and type(item.value) is int
                    and 0 <= item.value < MAX_INDEX):
                raise self.fail(f"an index must be an integer constant from 0 to {MAX_INDEX - 1} "
                                "(no slices, names or expressions)", item)
            indices.append(item.value)
        return Node("index", (sym,), tuple(indices), start, end)

    def stack(self, node: ast.Call, start: int, end: int) -> Node:
        """``stack([a, b, ...])``: a vector of scalars, as torch.stack builds it."""
        (items,) = node.args
        if not isinstance(items, ast.List) or not 1 <= len(items.elts) <= MAX_INDEX:
            raise self.fail(f"stack() takes a list of 1 to {MAX_INDEX} scalars, e.g. "
                            "stack([x[0], 2 * x[1]])", node)
        if any(isinstance(e, ast.Starred) for e in items.elts):
            raise self.fail("stack() takes the scalars themselves, not *args", node)
        return Node("call", tuple(self.convert(e) for e in items.elts), "stack", start, end)

    def axis(self, node: ast.AST) -> int:
        """An axis: an integer constant in AXES (written as such, never computed)."""
        value = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            else node
        if not (isinstance(value, ast.Constant) and type(value.value) is int):
            raise self.fail(f"an axis must be an integer constant, one of {AXES}", node)
        axis = -value.value if value is not node else value.value
        if axis not in AXES:
            raise self.fail(f"axis {axis} is out of range: a claim's tensors have at most two "
                            f"axes, so write one of {AXES}", node)
        return axis

    def reduction(self, node: ast.Call, fn: str, start: int, end: int) -> Node:
        """sum(X, axis) or mean(X, axis, keepdim=True), as torch.sum and torch.mean read them."""
        if len(node.args) != 2:
            raise self.fail(f"{fn}() takes an input and optionally an axis, e.g. {fn}(X, 0)", node)
        keep = False
        for kw in node.keywords:
            if kw.arg != "keepdim" or not isinstance(kw.value, ast.Constant) or \
                    not isinstance(kw.value.value, bool):
                raise self.fail(f"{fn}() takes one keyword, keepdim=True or keepdim=False", kw.value
                                if kw.arg == "keepdim" else node)
            keep = kw.value.value
        if len(node.keywords) > 1:
            raise self.fail(f"{fn}() takes keepdim once", node)
        axis_node = node.args[1]
        axis = Node("num", (), self.axis(axis_node), *_span(axis_node, self.source))
        args: tuple[Node, ...] = (self.convert(node.args[0]), axis)
        if keep:
            args += (Node("num", (), 1, end, end),)
        return Node("call", args, fn, start, end)

    def call(self, node: ast.Call, start: int, end: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only whitelisted functions may be called, by name (e.g. tr(X))", node)
        fn = node.func.id
        if any(isinstance(a, ast.Starred) for a in node.args) or \
                any(kw.arg is None for kw in node.keywords):
            raise self.fail(f"{fn}() takes positional arguments only", node)
        if fn in REDUCTIONS and (len(node.args) > 1 or node.keywords):
            return self.reduction(node, fn, start, end)
        if node.keywords:
            raise self.fail(f"{fn}() takes positional arguments only", node)
        if fn == "eye":
            if len(node.args) != 1:
                raise self.fail("eye takes one dim, e.g. eye(n)", node)
            arg = node.args[0]
            if isinstance(arg, ast.Name) and not arg.id.startswith("_"):
                return Node("eye", (), arg.id, start, end)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, int) and \
                    not isinstance(arg.value, bool) and 0 < arg.value <= 4096:
                return Node("eye", (), arg.value, start, end)
            raise self.fail("eye takes a dim name or a small positive int, e.g. eye(n)", node)
        if fn not in FUNCTIONS:
            raise self.fail(f"{fn}() is not a claim function; the functions are "
                            f"{', '.join(sorted([*FUNCTIONS, 'eye']))}", node.func)
        if len(node.args) != FUNCTIONS[fn]:
            raise self.fail(f"{fn}() takes {FUNCTIONS[fn]} argument(s), got {len(node.args)}", node)
        if fn == "stack":
            return self.stack(node, start, end)
        if fn == "matrix_power":
            base, k = node.args
            power = self.exponent(k)
            if not isinstance(power, int) or power < 0:
                raise self.fail("matrix_power(X, k) needs a non-negative integer k", k)
            exp = Node("num", (), power, *_span(k, self.source))
            return Node("call", (self.convert(base), exp), "matrix_power", start, end)
        return Node("call", tuple(self.convert(a) for a in node.args), fn, start, end)


def text_of(source: str, node: Node) -> str:
    """The claim text a node came from.

    >>> text_of("2 * x", parse("2 * x").args[1])
    'x'
    """
    return source[node.start:node.end]
