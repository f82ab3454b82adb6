"""Shape inference for claims: symbolic dims unified across ``@``, ``+``, ``*`` and functions.

Example::

    >>> from matcalc.claims.parse import parse
    >>> table = Shapes("x @ A @ x", {})
    >>> table.infer(parse("x @ A @ x"))
    ()
    >>> table.name_free_dims(["x"])
    >>> table.domains()["A"].describe()
    'matrix n x n'

A single lowercase letter (optionally followed by digits or ``_``) is a vector, an uppercase one a
matrix, as in the Matrix Cookbook; anything else, scalars included, is declared in ``where``. Each
dim is a node of a union-find; declared dim names and integer sizes label its classes, and two
classes with different labels never merge. Free dims get distinct names (n, m, k, ...) so that a
transposed claim cannot pass on a square matrix by luck.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from matcalc.claims.parse import ELEMENTWISE, ClaimError, Node
from matcalc.errors import MatcalcError
from matcalc.model.domains import (
    DEFAULT_SIZES,
    MATRIX_STRUCTURES,
    SCALAR_STRUCTURES,
    SQUARE_STRUCTURES,
    VECTOR_STRUCTURES,
    Domain,
)

Shape = tuple[int, ...]
_VECTOR_NAME = re.compile(r"[a-z][0-9_]*")
_MATRIX_NAME = re.compile(r"[A-Z][0-9_]*")
_NAME_POOL = (*DEFAULT_SIZES, "s", "t", "u", "v", "w")
STRUCTURES = frozenset({*MATRIX_STRUCTURES, *VECTOR_STRUCTURES, *SCALAR_STRUCTURES})


@dataclass
class Decl:
    """A declaration from ``where``: rank (None: from the name), dims and structure."""

    rank: int | None = None
    dims: tuple[str | int, ...] | None = None
    structure: str = "general"
    distinct_from: str | None = None


def parse_where(where: str | Mapping[str, object] | None) -> dict[str, Decl]:
    """Declarations from ``"A: n x n symmetric; x: n positive; s: scalar"`` or a dict whose values
    are such specs or matcalc domains.

    >>> parse_where("A: n x n symmetric; s: scalar")["A"]
    Decl(rank=2, dims=('n', 'n'), structure='symmetric', distinct_from=None)
    """
    if where is None:
        return {}
    if isinstance(where, str):
        items: list[tuple[str, object]] = []
        for part in re.split(r"[;\n]", where):
            if not part.strip():
                continue
            name, sep, spec = part.partition(":")
            if not sep:
                raise MatcalcError(f"declaration {part.strip()!r} needs a colon: write e.g. "
                                   "'A: n x n symmetric'")
            items.append((name.strip(), spec))
    elif isinstance(where, Mapping):
        items = list(where.items())
    else:
        raise MatcalcError(f"where must be a dict or a string like 'A: n x n', got {type(where).__name__}")
    out: dict[str, Decl] = {}
    for name, spec in items:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name == "I":
            raise MatcalcError(f"cannot declare {name!r}: declare an input name such as 'A' or 'x'")
        if name in out:
            raise MatcalcError(f"{name!r} is declared twice in where")
        out[name] = _decl(name, spec)
    return out


def _decl(name: str, spec: object) -> Decl:
    if isinstance(spec, Domain):
        return Decl(len(spec.shape), tuple(spec.shape), spec.structure, spec.distinct_from)
    if not isinstance(spec, str):
        raise MatcalcError(f"declaration of {name!r} must be a string like 'n x n symmetric' or a "
                           f"domain such as mc.matrix('n', 'n'), got {type(spec).__name__}")
    decl = Decl()
    words = spec.replace("!=", " != ").replace("×", " x ").split()
    dims: list[str | int] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "!=" and i + 1 < len(words):
            decl.distinct_from = words[i + 1]
            i += 2
            continue
        if word == "scalar":
            decl.rank = 0
        elif word in ("vector", "matrix"):
            decl.rank = 1 if word == "vector" else 2
        elif word in STRUCTURES:
            decl.structure = word
        elif word == "x" and dims:
            pass
        elif word.isdigit() and int(word) > 0:
            dims.append(int(word))
        elif word.isidentifier() and word != "x" and len(word) <= 3:
            dims.append(word)
        else:
            raise MatcalcError(f"cannot read {word!r} in the declaration {name}: {spec!r}; write "
                               f"e.g. '{name}: n x n symmetric', 'x: n positive' or 's: scalar' "
                               f"(structures: {', '.join(sorted(STRUCTURES))})")
        i += 1
    if dims:
        if len(dims) > 2:
            raise MatcalcError(f"{name}: {spec!r} has {len(dims)} dims; a claim input is a scalar, "
                               "vector or matrix")
        if decl.rank is not None and decl.rank != len(dims):
            raise MatcalcError(f"{name}: {spec!r} names {len(dims)} dim(s) for a rank-{decl.rank} input")
        decl.rank, decl.dims = len(dims), tuple(dims)
    if decl.structure in SQUARE_STRUCTURES and decl.rank is None:
        decl.rank = 2
    return decl


def _require_structure(name: str, rank: int, structure: str) -> None:
    """A declared structure must be one its input's rank has ("s: scalar symmetric" is misuse).

    >>> _require_structure("s", 0, "symmetric")
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: s is a scalar, which cannot be 'symmetric': use one of general, positive
    """
    allowed = (SCALAR_STRUCTURES, VECTOR_STRUCTURES, MATRIX_STRUCTURES)[rank]
    if structure not in allowed:
        kind = ("scalar", "vector", "matrix")[rank]
        raise MatcalcError(f"{name} is a {kind}, which cannot be {structure!r}: use one of "
                           f"{', '.join(allowed)}")


@dataclass
class Dims:
    """Union-find over symbolic dims; a class may carry a label (a dim name or an int size)."""

    parent: list[int] = field(default_factory=list)
    label: dict[int, str | int] = field(default_factory=dict)
    frozen: set[int] = field(default_factory=set)
    # a Kronecker product's dim -> its two factors: it merges only with a product of merged factors
    factors: dict[int, tuple[int, int]] = field(default_factory=dict)

    def new(self, label: str | int | None = None) -> int:
        """A new dim; a labelled one joins the class that already has its label."""
        if label is not None:
            for root, other in self.label.items():
                if other == label and self.find(root) == root:
                    return root
        self.parent.append(len(self.parent))
        if label is not None:
            self.label[len(self.parent) - 1] = label
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        """Merge two classes; False (nothing merged) when their labels differ or both are frozen."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if ra in self.factors or rb in self.factors:
            if ra not in self.factors or rb not in self.factors:
                return False
            (a1, a2), (b1, b2) = self.factors[ra], self.factors[rb]
            trial = self.copy()
            if not (trial.union(a1, b1) and trial.union(a2, b2)):
                return False
            self.parent, self.label, self.frozen, self.factors = (
                trial.parent, trial.label, trial.frozen, trial.factors)
            ra, rb = self.find(ra), self.find(rb)
            if ra == rb:
                return True
            self.parent[rb] = ra
            if rb in self.frozen:
                self.frozen.add(ra)
            return True
        la, lb = self.label.get(ra), self.label.get(rb)
        if la is not None and lb is not None and la != lb:
            return False
        if ra in self.frozen and rb in self.frozen:
            return False
        self.parent[rb] = ra
        if la is None and lb is not None:
            self.label[ra] = lb
        if rb in self.frozen:
            self.frozen.add(ra)
        return True

    def copy(self) -> Dims:
        return Dims(list(self.parent), dict(self.label), set(self.frozen), dict(self.factors))

    def product(self, a: int, b: int) -> int:
        """A new dim whose size is the product of dims a and b (a Kronecker product's)."""
        self.parent.append(len(self.parent))
        self.factors[len(self.parent) - 1] = (a, b)
        return len(self.parent) - 1

    def show(self, i: int) -> str:
        r = self.find(i)
        if r in self.factors:
            return "*".join(self.show(f) for f in self.factors[r])
        return str(self.label.get(r, f"d{r + 1}"))


class Shapes:
    """The symbol table of one claim (f and its derivative share it) and the inference over it."""

    def __init__(self, source: str, decls: Mapping[str, Decl]) -> None:
        self.source = source
        self.dims = Dims()
        self.decls = dict(decls)
        self.symbols: dict[str, Shape] = {}
        self.order: list[str] = []
        self.eyes: list[tuple[Node, int]] = []
        self.node_shapes: dict[int, Shape] = {}
        self.indexed: list[tuple[Node, Shape, str]] = []  # x[i], its text: checked at the end

    # --- symbols -------------------------------------------------------------------------------
    def symbol(self, node: Node) -> Shape:
        name = str(node.value)
        if name in self.symbols:
            return self.symbols[name]
        decl = self.decls.get(name)
        rank = decl.rank if decl is not None else None
        if rank is None:
            if _VECTOR_NAME.fullmatch(name):
                rank = 1
            elif _MATRIX_NAME.fullmatch(name):
                rank = 2
            else:
                raise self.error(f"cannot tell what {name!r} is: a lowercase letter is a vector and "
                                 f"an uppercase one a matrix; declare others, e.g. where='{name}: "
                                 "scalar'", node)
        if decl is not None:
            _require_structure(name, rank, decl.structure)
        dims = decl.dims if decl is not None and decl.dims is not None else (None,) * rank
        shape = tuple(self.dims.new(d) for d in dims)
        if decl is not None and decl.structure in SQUARE_STRUCTURES and not self.dims.union(*shape):
            raise self.error(f"{name} is declared {decl.structure}, which needs a square matrix", node)
        self.symbols[name] = shape
        self.order.append(name)
        return shape

    def symbol_shape(self, name: str) -> Shape:
        """The shape of a symbol, declared or seen in an expression."""
        if name not in self.symbols:
            self.symbol(Node("sym", (), name, 0, 0))
        return self.symbols[name]

    # --- inference -----------------------------------------------------------------------------
    def error(self, message: str, node: Node) -> ClaimError:
        return ClaimError(message, self.source, node.start, node.end)

    def show(self, shape: Shape) -> str:
        if not shape:
            return "a scalar"
        if len(shape) == 1:
            return f"a vector of length {self.dims.show(shape[0])}"
        return f"a {self.dims.show(shape[0])} x {self.dims.show(shape[1])} matrix"

    def text(self, node: Node) -> str:
        return self.source[node.start:node.end]

    def unify(self, a: int, b: int, node: Node, why: str) -> None:
        if not self.dims.union(a, b):
            raise self.error(f"shape conflict: {why} ({self.dims.show(a)} vs {self.dims.show(b)})", node)

    def infer(self, node: Node) -> Shape:
        """The shape of ``node``, unifying dims as it goes; a conflict raises with a caret."""
        shape = self._infer(node)
        self.node_shapes[id(node)] = shape
        return shape

    def _infer(self, node: Node) -> Shape:
        kind = node.kind
        if kind == "sym":
            return self.symbol(node)
        if kind == "num":
            return ()
        if kind == "I":
            d = self.dims.new()
            self.eyes.append((node, d))
            return (d, d)
        if kind == "eye":
            label = node.value if isinstance(node.value, int) else str(node.value)
            d = self.dims.new(label)
            self.eyes.append((node, d))
            return (d, d)
        if kind == "neg":
            return self.infer(node.args[0])
        if kind in ("T", "H"):
            inner = self.infer(node.args[0])
            if len(inner) != 2:
                raise self.error(f"{self.text(node.args[0])} is {self.show(inner)}; .T transposes a "
                                 "matrix (for a vector, x @ A already means x^T A)", node)
            return (inner[1], inner[0])
        if kind == "pow":
            return self.infer(node.args[0])
        if kind == "index":
            shape = self.infer(node.args[0])
            name = self.text(node.args[0])
            if len(shape) != len(node.value):  # type: ignore[arg-type]
                raise self.error(f"{name} is {self.show(shape)}: index a vector as {name}[i] and a "
                                 f"matrix as {name}[i, j]", node)
            self.indexed.append((node, shape, self.source))
            return ()
        if kind == "size":
            shape = self.infer(node.args[0])
            if not -len(shape) <= int(node.value) < len(shape):  # type: ignore[call-overload]
                raise self.error(f"{self.text(node.args[0])} is {self.show(shape)}, which has no "
                                 f"axis {node.value}", node)
            return ()
        if kind == "call":
            return self.call(node)
        left, right = (self.infer(a) for a in node.args)
        if kind == "@":
            return self.matmul(node, left, right)
        if kind == "/" and not right:
            return left
        return self.elementwise(node, left, right)

    def matmul(self, node: Node, left: Shape, right: Shape) -> Shape:
        a, b = node.args
        if not left or not right:
            side = a if not left else b
            raise self.error(f"@ needs vectors or matrices, but {self.text(side)} is a scalar: "
                             "use * to scale", node)
        why = (f"@ needs the columns of {self.text(a)} ({self.show(left)}) to match the rows of "
               f"{self.text(b)} ({self.show(right)})")
        self.unify(left[-1], right[0], node, why)
        return left[:-1] + right[1:]

    def is_one(self, d: int) -> bool:
        """Whether dim ``d`` is the size 1 that a keepdim reduction leaves (it broadcasts)."""
        return self.dims.label.get(self.dims.find(d)) == 1

    def elementwise(self, node: Node, left: Shape, right: Shape) -> Shape:
        """Equal shapes, or shapes that broadcast as in PyTorch: a scalar against anything, a
        vector along the rows of a matrix (its length is the matrix's columns), and a size-1 axis
        (from a keepdim reduction) against any size."""
        if not left:
            return right
        if not right:
            return left
        a, b = node.args
        why = (f"{node.kind} needs shapes that broadcast, but {self.text(a)} is {self.show(left)} "
               f"and {self.text(b)} is {self.show(right)}")
        width = max(len(left), len(right))
        lpad = (None,) * (width - len(left)) + tuple(left)
        rpad = (None,) * (width - len(right)) + tuple(right)
        out: list[int] = []
        for i, j in zip(lpad, rpad, strict=True):
            if i is None or j is None:
                out.append(j if i is None else i)  # type: ignore[arg-type]
            elif self.is_one(i) != self.is_one(j):
                out.append(j if self.is_one(i) else i)
            else:
                self.unify(i, j, node, why)
                out.append(i)
        return tuple(out)

    def call(self, node: Node) -> Shape:
        fn = str(node.value)
        shapes = [self.infer(a) for a in node.args]
        x = shapes[0]
        arg = node.args[0]
        if fn in ELEMENTWISE:
            return x

        def need(rank: int, what: str) -> None:
            if len(x) != rank:
                raise self.error(f"{fn}() needs {what}, but {self.text(arg)} is {self.show(x)}", node)

        if fn in ("tr", "trace", "det", "logdet", "inv", "expm", "matrix_power"):
            need(2, "a square matrix")
            self.unify(x[0], x[1], node, f"{fn}() needs a square matrix, and {self.text(arg)} is "
                                         f"{self.show(x)}")
            return () if fn in ("tr", "trace", "det", "logdet") else x
        if fn == "pinv":
            need(2, "a matrix")
            return (x[1], x[0])
        if fn in ("sum", "mean") and len(node.args) > 1:
            return self.reduction(node, x)
        if fn in ("sum", "mean", "norm"):
            if not x and fn != "norm":
                raise self.error(f"{fn}() needs a vector or matrix, but {self.text(arg)} is a scalar",
                                 node)
            return ()
        if fn in ("softmax", "log_softmax", "logsumexp"):  # a matrix: along each row (dim -1)
            if len(x) not in (1, 2):
                raise self.error(f"{fn}() needs a vector or a matrix (taken row by row), but "
                                 f"{self.text(arg)} is {self.show(x)}", node)
            return x[:-1] if fn == "logsumexp" else x
        if fn == "diag":
            if len(x) == 1:
                return (x[0], x[0])
            need(2, "a vector or a square matrix")
            self.unify(x[0], x[1], node, f"diag() of a matrix needs it square; {self.text(arg)} is "
                                         f"{self.show(x)}")
            return (x[0],)
        if fn == "stack":
            for item, shape in zip(node.args, shapes, strict=True):
                if shape:
                    raise self.error(f"stack() stacks scalars, but {self.text(item)} is "
                                     f"{self.show(shape)}", node)
            return (self.dims.new(len(node.args)),)
        if fn == "kron":
            y = shapes[1]
            if len(x) != len(y) or not x:
                raise self.error(f"kron() needs two matrices or two vectors, got {self.show(x)} and "
                                 f"{self.show(y)}", node)
            return tuple(self.dims.product(i, j) for i, j in zip(x, y, strict=True))
        if fn in ("outer", "dot"):
            y = shapes[1]
            if len(x) != 1 or len(y) != 1:
                raise self.error(f"{fn}() needs two vectors, got {self.show(x)} and {self.show(y)}",
                                 node)
            if fn == "dot":
                self.unify(x[0], y[0], node, "dot() needs vectors of the same length")
                return ()
            return (x[0], y[0])
        raise self.error(f"{fn}() has no shape rule", node)  # pragma: no cover - FUNCTIONS is closed

    def reduction(self, node: Node, x: Shape) -> Shape:
        """sum(X, axis) / mean(X, axis): the axis dropped, or kept as size 1 with keepdim."""
        fn, arg, axis = str(node.value), node.args[0], int(node.args[1].value)  # type: ignore[call-overload]
        if not -len(x) <= axis < len(x):
            raise self.error(f"{fn}() along axis {axis}, but {self.text(arg)} is {self.show(x)}",
                             node)
        axis %= len(x)
        if len(node.args) > 2:  # keepdim=True
            if len(x) != 2:
                raise self.error(f"{fn}(..., keepdim=True) needs a matrix, but {self.text(arg)} "
                                 f"is {self.show(x)}", node)
            return tuple(self.dims.new(1) if i == axis else d for i, d in enumerate(x))
        return x[:axis] + x[axis + 1:]

    # --- after inference -----------------------------------------------------------------------
    def freeze(self) -> None:
        """Keep the dims seen so far apart: the derivative may not merge two of them."""
        self.dims.frozen |= {self.dims.find(i) for i in range(len(self.dims.parent))}

    def try_match(self, got: Shape, expected: Shape) -> bool:
        """Unify ``got`` with ``expected`` if they fit; leave everything unchanged if not."""
        if len(got) != len(expected):
            return False
        trial = self.dims.copy()
        for a, b in zip(got, expected, strict=True):
            if not trial.union(a, b):
                return False
        self.dims = trial
        return True

    def name_free_dims(self, first: Iterable[str]) -> None:
        """Give every unlabelled dim class a distinct name, the ``first`` symbols' dims first."""
        used = {v for v in self.dims.label.values() if isinstance(v, str)}
        pool = (n for n in (*_NAME_POOL, *(f"d{i}" for i in range(1, 1000))) if n not in used)
        for name in [*first, *self.order]:
            for d in self.symbols.get(name, ()):
                root = self.dims.find(d)
                if root not in self.dims.label:
                    self.dims.label[root] = next(pool)
        for node, d in self.eyes:
            if self.dims.find(d) not in self.dims.label:
                raise self.error("cannot tell the size of this identity from the inputs: write eye(n) "
                                 "with a dim n that an input has", node)

    def check_indices(self) -> None:
        """Every x[i] within x's length, which must be a fixed number (declared, e.g. 'x: 2')."""
        for node, shape, source in self.indexed:
            name = str(node.args[0].value)
            for d, i in zip(shape, node.value, strict=True):  # type: ignore[call-overload]
                size = self.dims.label.get(self.dims.find(d))
                if not isinstance(size, int):
                    raise ClaimError(f"{name} is indexed, so its size must be fixed: declare it, "
                                     f"e.g. where='{name}: 2'", source, node.start, node.end)
                if i >= size:
                    raise ClaimError(f"index {i} is out of range for {name}, of size {size}",
                                     source, node.start, node.end)

    def dim_name(self, d: int) -> str | int:
        root = self.dims.find(d)
        if root in self.dims.factors:
            return "*".join(str(self.dim_name(f)) for f in self.dims.factors[root])
        return self.dims.label[root]

    def resolved(self, shape: Shape) -> tuple[str | int, ...]:
        return tuple(self.dim_name(d) for d in shape)

    def domains(self) -> dict[str, Domain]:
        """One matcalc domain per symbol, in order of first appearance."""
        out: dict[str, Domain] = {}
        for name in self.order:
            decl = self.decls.get(name, Decl())
            shape = self.resolved(self.symbols[name])
            structure = decl.structure
            _require_structure(name, len(shape), structure)
            if structure in SQUARE_STRUCTURES and shape[0] != shape[1]:
                raise MatcalcError(f"{name} is declared {structure} but is {shape[0]} x {shape[1]}")
            out[name] = Domain(shape, structure, decl.distinct_from)
        return out
