"""Strategies: random functions f built from the catalog's operations, and claims about them.

A claim is data (:class:`Case`), so that a counterexample can be written to JSON, read back and
re-run. Three families:

* ``compose``: f is a random composition (products, traces, determinants and inverses on
  conditioned inputs, norms, elementwise functions, reductions, kinks) grown outward from the
  input it is differentiated with respect to, so f always depends on it. The true claim is
  ``torch.func`` applied to f *inside the claim* (jacrev / jacfwd / hessian / jvp / vjp), so it
  holds by construction at every input and size; the wrong claims are derived from it.
* ``closed``: a scalar block with a known closed-form gradient (tr(A W), det W, x^T A x, ...)
  composed by the chain rule with an outer function and a scaled input, written in the claim
  language and checked through ``mc.claim``. Its wrong claims are the slips people make (a
  transpose, det(cW) = c det W, a forgotten outer derivative), which can be wrong only at some
  sizes.
* ``catalog``: a catalog rule (errata included, which are wrong claims) with f scaled and offset,
  and the mutants of tests/mutants.py.

Example::

    >>> case = Case(family="compose", f="torch.sin(x).sum()", inputs={"x": ["vector", "n", "general"]},
    ...             wrt="x", mutation="factor:2")
    >>> case.arguments()
    'x'
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

DIMS = ("n", "m", "k")
MATRIX_STRUCTURES = ("general", "symmetric", "spd", "invertible", "orthogonal", "diagonal")
SQUARE = frozenset({"symmetric", "spd", "invertible", "orthogonal", "diagonal"})
# Structures whose matrices det and inv may take: conditioned by construction (orthogonal: cond 1).
CONDITIONED = {"spd": "spd", "invertible": "invertible", "orthogonal": "invertible"}
FORMS = ("derivative", "jvp", "vjp", "jvp_vjp", "hessian", "differential")
ORACLES = ("auto", "jacobian", "func", "probe", "taylor")
DTYPES = ("float64", "float32")


# ---- the function f: a tree, rendered as one torch expression --------------------------------


@dataclass(frozen=True)
class Node:
    """One operation of f. ``shape`` is symbolic (dim names); flags say what may follow."""

    op: str
    args: tuple[Node, ...] = ()
    shape: tuple[str, ...] = ()
    name: str = ""
    c: float = 0.0
    positive: bool = False   # entries > 0 at every input: log may follow
    bounded: bool = False    # entries of modest size: exp may follow without overflow
    square_ok: str = ""      # "invertible" or "spd": det and inv (and logdet for spd) may follow

    def py(self) -> str:
        """The node as a torch expression over the input names.

        >>> Node("sin", (Node("leaf", name="x", shape=("n",)),), ("n",)).py()
        'torch.sin(x)'
        """
        a = [arg.py() for arg in self.args]
        if self.op == "leaf":
            return self.name
        if self.op in _PY:
            return _PY[self.op].format(*a, c=self.c)
        raise ValueError(f"unknown op {self.op!r}")

    def leaves(self) -> set[str]:
        if self.op == "leaf":
            return {self.name}
        out: set[str] = set()
        for arg in self.args:
            out |= arg.leaves()
        return out

    def ops(self) -> set[str]:
        out = {self.op}
        for arg in self.args:
            out |= arg.ops()
        return out

    def size(self) -> int:
        return 1 + sum(arg.size() for arg in self.args)


_PY: dict[str, str] = {
    "sin": "torch.sin({0})", "tanh": "torch.tanh({0})", "sigmoid": "torch.sigmoid({0})",
    "exp": "torch.exp({0})", "log": "torch.log({0})", "relu": "torch.relu({0})",
    "abs": "torch.abs({0})", "square": "({0}) ** 2", "scale": "({c!r} * {0})",
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "matmul": "({0} @ {1})",
    "T": "({0}).mT", "sum": "torch.sum({0})", "mean": "torch.mean({0})",
    "norm": "torch.linalg.vector_norm({0})", "amax": "torch.amax({0})", "tr": "torch.trace({0})",
    "det": "torch.linalg.det({0})", "logdet": "torch.logdet({0})", "inv": "torch.linalg.inv({0})",
    "pos": "(torch.abs({0}) + 0.5)",
    "gram": "({0} @ ({0}).mT + torch.eye(({0}).shape[0], dtype=({0}).dtype, device=({0}).device))",
}
UNARY = ("sin", "tanh", "sigmoid", "relu", "abs", "square", "exp", "log", "pos")
KINKS = frozenset({"relu", "abs", "amax", "pos"})
REDUCTIONS = ("sum", "mean", "norm", "amax")


def drop_term_variants(node: Node) -> list[Node]:
    """f with one term of one sum dropped (either side; ``a - b`` may become ``-b``)."""
    out: list[Node] = []
    if node.op in ("add", "sub"):
        left, right = node.args
        out.append(left)
        out.append(right if node.op == "add" else Node("scale", (right,), right.shape, c=-1.0))
    for i, arg in enumerate(node.args):
        for v in drop_term_variants(arg):
            args = (*node.args[:i], v, *node.args[i + 1:])
            out.append(dataclasses.replace(node, args=args))
    return out


def swap_operand_variants(node: Node) -> list[Node]:
    """f with the operands of one matrix product (of square factors) or one difference swapped."""
    out: list[Node] = []
    if node.op == "sub" or (node.op == "matmul" and node.args[0].shape == node.args[1].shape
                             and len(node.args[0].shape) == 2):
        out.append(dataclasses.replace(node, args=node.args[::-1]))
    for i, arg in enumerate(node.args):
        for v in swap_operand_variants(arg):
            out.append(dataclasses.replace(node, args=(*node.args[:i], v, *node.args[i + 1:])))
    return out


# ---- growing f outward from the input it is differentiated with respect to ---------------------


class _Inputs:
    """The inputs a program draws, named as the Cookbook does (x, A, s), in the order made."""

    def __init__(self) -> None:
        self.specs: dict[str, list[Any]] = {}

    def add(self, shape: tuple[str, ...], structure: str, name: str = "") -> Node:
        pool = {0: "stuvryz", 1: "abcfghpq", 2: "ABCDEFGHJK"}[len(shape)]
        name = name or next(c for c in pool if c not in self.specs)
        kind = ("scalar", "vector", "matrix")[len(shape)]
        self.specs[name] = [kind, *shape, structure]
        positive = structure == "positive"
        square_ok = CONDITIONED.get(structure, "") if len(shape) == 2 else ""
        return Node("leaf", name=name, shape=shape, positive=positive, bounded=True,
                    square_ok=square_ok)


def _leaf_structure(draw: st.DrawFn, shape: tuple[str, ...], structures: tuple[str, ...]) -> str:
    if len(shape) == 2:
        if shape[0] != shape[1]:
            return "general"
        return draw(st.sampled_from(structures))
    return draw(st.sampled_from(("general", "general", "positive") + (("nonzero",) if shape else ())))


def _side(draw: st.DrawFn, ins: _Inputs, shape: tuple[str, ...], wrt: Node, structures: tuple[str, ...],
          smooth: tuple[str, ...]) -> Node:
    """A second operand of this shape: a fresh input, a function of one, or of the wrt input."""
    choices = ["fresh", "fresh_fn"] + (["wrt", "wrt_fn"] if wrt.shape == shape else [])
    pick = draw(st.sampled_from(choices))
    base = wrt if pick.startswith("wrt") else ins.add(shape, _leaf_structure(draw, shape, structures))
    if pick.endswith("_fn"):
        fn = draw(st.sampled_from(tuple(f for f in ("sin", "tanh", "square") if f in smooth) or ("square",)))
        return Node(fn, (base,), shape, bounded=fn != "square")
    return base


def _step(draw: st.DrawFn, node: Node, ins: _Inputs, wrt: Node, *, kinks: bool,
          structures: tuple[str, ...], smooth: tuple[str, ...]) -> Node:
    """One operation applied to ``node``."""
    s = node.shape
    ops = ["unary", "unary", "scale", "add", "sub", "mul", "smul"]
    if len(s) == 1:
        ops += ["lmat", "dot", "reduce", "reduce"]
    elif len(s) == 2:
        ops += ["lmat", "rmat", "T", "mv", "gram", "reduce"]
        if s[0] == s[1]:
            ops += ["tr"]
        if node.square_ok:
            ops += ["det", "inv", "det", "inv"] + (["logdet"] if node.square_ok == "spd" else [])
    else:
        ops += ["lift"]
    op = draw(st.sampled_from(ops))
    if op == "unary":
        names = list(smooth) + (["relu", "abs", "pos"] if kinks else [])
        if node.bounded:
            names.append("exp")
        if node.positive:
            names += ["log", "log"]
        fn = draw(st.sampled_from(names))
        return Node(fn, (node,), s, positive=fn in ("exp", "sigmoid", "pos"),
                    bounded=fn in ("sin", "tanh", "sigmoid") or (fn == "log" and node.bounded))
    if op == "scale":
        c = draw(st.sampled_from((2.0, -1.0, 0.5, -3.0)))
        return Node("scale", (node,), s, c=c, positive=node.positive and c > 0, bounded=node.bounded,
                    square_ok=node.square_ok if c > 0 else ("invertible" if node.square_ok else ""))
    if op in ("add", "sub", "mul"):
        other = _side(draw, ins, s, wrt, structures, smooth)
        left, right = (node, other) if draw(st.booleans()) else (other, node)
        return Node(op, (left, right), s, bounded=node.bounded and other.bounded,
                    positive=op == "mul" and node.positive and other.positive)
    if op == "smul":
        other = _side(draw, ins, (), wrt, structures, smooth)
        return Node("mul", (other, node), s, bounded=node.bounded and other.bounded)
    if op == "lift":
        shape = draw(st.sampled_from(((DIMS[0],), (DIMS[0], DIMS[1]))))
        other = ins.add(shape, "general")
        return Node("mul", (node, other), shape, bounded=node.bounded)
    if op == "reduce" or op == "dot":
        if op == "dot":
            other = _side(draw, ins, s, wrt, structures, smooth)
            return Node("matmul", (node, other), ())
        fn = draw(st.sampled_from(REDUCTIONS if kinks else ("sum", "mean", "norm")))
        return Node(fn, (node,), (), positive=fn == "norm")
    dim = draw(st.sampled_from(DIMS))
    if op == "lmat":
        A = ins.add((dim, s[0]), "general")
        return Node("matmul", (A, node), (dim, *s[1:]))
    if op == "rmat":
        B = ins.add((s[1], dim), "general")
        return Node("matmul", (node, B), (s[0], dim))
    if op == "mv":
        v = ins.add((s[1],), "general")
        return Node("matmul", (node, v), (s[0],))
    if op == "T":
        return Node("T", (node,), (s[1], s[0]), square_ok=node.square_ok)
    if op == "gram":
        return Node("gram", (node,), (s[0], s[0]), square_ok="spd")
    if op == "tr":
        return Node("tr", (node,), ())
    if op == "det":
        return Node("det", (node,), ())
    if op == "logdet":
        return Node("logdet", (node,), ())
    assert op == "inv"
    return Node("inv", (node,), s, square_ok="invertible")


@dataclass(frozen=True)
class Program:
    """f as a tree, the inputs it reads, and the input it is differentiated with respect to."""

    root: Node
    inputs: dict[str, list[Any]]
    wrt: str


@st.composite
def programs(draw: st.DrawFn, *, scalar_out: bool = False, kinks: bool = True,
             structures: tuple[str, ...] = MATRIX_STRUCTURES, max_steps: int = 4,
             smooth: tuple[str, ...] = ("sin", "tanh", "sigmoid", "square")) -> Program:
    """A random f grown from its wrt input by 1..max_steps operations (scalar f when asked)."""
    ins = _Inputs()
    kind = draw(st.sampled_from(("vector", "vector", "matrix", "matrix", "square", "scalar")))
    if kind == "vector":
        wrt = ins.add((DIMS[0],), draw(st.sampled_from(("general", "positive", "nonzero"))), "x")
    elif kind == "matrix":
        wrt = ins.add((DIMS[0], DIMS[1]), "general", "X")
    elif kind == "square":
        wrt = ins.add((DIMS[0], DIMS[0]), draw(st.sampled_from(structures)), "X")
    else:
        wrt = ins.add((), draw(st.sampled_from(("general", "positive"))), "t")
    node = wrt
    for _ in range(draw(st.integers(1, max_steps))):
        node = _step(draw, node, ins, wrt, kinks=kinks, structures=structures, smooth=smooth)
    if scalar_out and node.shape:
        fn = draw(st.sampled_from(("sum", "mean", "norm")))
        node = Node(fn, (node,), ())
    used = node.leaves()
    return Program(node, {k: v for k, v in ins.specs.items() if k in used}, wrt.name)


# ---- a claim, as data ------------------------------------------------------------------------


@dataclass
class Case:
    """One claim to check, and how to check it.

    ``f`` is a torch expression over the inputs (family compose), a claim-language text (closed),
    or a catalog rule's name (catalog). ``claim_f`` is the f whose derivative is claimed when a
    mutation changes f itself (a dropped term, swapped operands); ``claim_text`` the claimed
    closed form of the closed family. ``mutation`` is "none" for a true claim; ``bad_part`` says
    which of a matrix-free rule's callables carry it (all, derivative, jvp or vjp).
    """

    family: str
    f: str
    inputs: dict[str, list[Any]] = field(default_factory=dict)
    wrt: str | list[str] = "x"
    form: str = "derivative"
    mutation: str = "none"
    bad_part: str = "all"
    claim_f: str = ""
    claim_text: str = ""
    where: str = ""
    layout: str = "numerator"
    truth: str = "jacrev"
    scale: float = 1.0
    offset: float = 0.0
    oracle: str = "auto"
    dtype: str = "float64"
    sizes: dict[str, int] | None = None
    seed: int = 0
    tags: list[str] = field(default_factory=list)
    probes: int | None = None

    @property
    def wrong(self) -> bool:
        """Whether the claim was built wrong (mutated, or an erratum); screening may still find it
        equivalent to the truth at the inputs checked."""
        return self.mutation != "none" or "erratum" in self.tags

    def arguments(self) -> str:
        return ", ".join(self.inputs)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(**data)

    def key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


# ---- what the strategies may draw -------------------------------------------------------------


@dataclass(frozen=True)
class Regime:
    """The space the strategies draw from. LONG is everything; the test suite's default is
    narrower (see tests/test_adversary.py for what it leaves out and why)."""

    scales: tuple[float, ...] = (1.0, 1.0, 1.0, -1.0, 1e-8, 1e8, 1e-300, 1e300, 1e160, 1e-315, 1e-160)
    offsets: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0, 1e3, 1e6, 1e12, 1e16, -1e8)
    oracles: tuple[str, ...] = ORACLES
    dtypes: tuple[str, ...] = DTYPES
    forms: tuple[str, ...] = FORMS
    factors: tuple[float, ...] = (2.0, -1.0, 1.5, 1.001, 0.5)
    kinks: bool = True
    structures: tuple[str, ...] = MATRIX_STRUCTURES
    explicit_sizes: bool = True
    probes: tuple[int | None, ...] = (None, None, None, 1, 2, 8)
    # (form, oracle, bad_part) triples left out: matrix-free rules whose wrong part an oracle
    # never looks at (see tests/test_adversary.py).
    skip_parts: frozenset[tuple[str, str, str]] = frozenset()
    # False: a mutated matrix-free rule has every callable wrong (derivative, jvp and vjp).
    partial: bool = True
    # False: no transposed (wrong-shape) and no non-linear (one entry bumped) jvp / vjp claims.
    odd_matrix_free: bool = True
    # The elementwise functions compositions may use (kinks are added when ``kinks``).
    smooth: tuple[str, ...] = ("sin", "tanh", "sigmoid", "square")
    closed_slips: tuple[str, ...] = ("transpose", "factor", "homogeneity", "outer", "sign_inside")
    closed_scales: tuple[float, ...] = (1.0, -1.0, 2.0, 0.5, -0.5)
    closed_outers: tuple[str, ...] = ("id", "sin", "square", "tanh")
    catalog: bool = True
    mutants: bool = True
    max_steps: int = 4
    max_size: int = 6


LONG = Regime()


def _sizes(draw: st.DrawFn, dims: set[str], regime: Regime) -> dict[str, int] | None:
    if not regime.explicit_sizes or not dims or draw(st.integers(0, 2)):
        return None  # the defaults: two assignments, distinct dims
    return {d: draw(st.integers(1, regime.max_size)) for d in sorted(dims)}


def _dims(inputs: dict[str, list[Any]]) -> set[str]:
    return {d for spec in inputs.values() for d in spec[1:-1]}


def _common(draw: st.DrawFn, regime: Regime, form: str) -> dict[str, Any]:
    oracles = regime.oracles
    if form == "differential":
        oracles = tuple(o for o in oracles if o in ("auto", "jacobian", "taylor", "func")) or ("auto",)
    return {
        "oracle": draw(st.sampled_from(oracles)),
        "dtype": draw(st.sampled_from(regime.dtypes)),
        "seed": draw(st.integers(0, 2**20)),
        "scale": draw(st.sampled_from(regime.scales)),
        "offset": draw(st.sampled_from(regime.offsets)),
        "probes": draw(st.sampled_from(regime.probes)),
    }


def _mutation(draw: st.DrawFn, regime: Regime, program: Program, form: str) -> tuple[str, str]:
    """(mutation, claim_f): none, a factor, a transpose, the other layout, one entry, a zero claim,
    swapped inputs, or f itself changed (a dropped term, swapped operands)."""
    if draw(st.integers(0, 2)) == 0:
        return "none", ""
    options = [f"factor:{c!r}" for c in regime.factors] + ["zero"]
    if regime.odd_matrix_free or form not in ("jvp", "vjp", "jvp_vjp"):
        options += ["transpose", "entry"]
    if form == "derivative":
        options.append("layout")
    drops = drop_term_variants(program.root)
    swaps = swap_operand_variants(program.root)
    same = [(a, b) for a in program.inputs for b in program.inputs
            if a < b and program.inputs[a][:-1] == program.inputs[b][:-1]]
    if drops:
        options += ["drop_term", "drop_term"]
    if swaps:
        options.append("swap_operands")
    if same:
        options.append("swap_inputs")
    mutation = draw(st.sampled_from(options))
    if mutation == "drop_term":
        return mutation, draw(st.sampled_from(drops)).py()
    if mutation == "swap_operands":
        return mutation, draw(st.sampled_from(swaps)).py()
    if mutation == "swap_inputs":
        a, b = draw(st.sampled_from(same))
        return f"swap_inputs:{a},{b}", ""
    return mutation, ""


@st.composite
def compose_cases(draw: st.DrawFn, regime: Regime = LONG, forms: tuple[str, ...] | None = None) -> Case:
    """A claim about a random composition: true (torch.func inside the claim) or derived wrong."""
    form = draw(st.sampled_from(forms or regime.forms))
    program = draw(programs(scalar_out=form == "hessian", kinks=regime.kinks, structures=regime.structures,
                            max_steps=regime.max_steps, smooth=regime.smooth))
    common = _common(draw, regime, form)
    mutation, claim_f = _mutation(draw, regime, program, form)
    wrt: str | list[str] = program.wrt
    if form == "differential":
        others = [n for n in program.inputs if n != program.wrt]
        wrt = [program.wrt] + ([draw(st.sampled_from(others))] if others and draw(st.booleans()) else [])
    bad_part = "all"
    if form in ("jvp", "vjp", "jvp_vjp") and mutation != "none":
        parts = ["all", "derivative", *(("jvp",) if form != "vjp" else ()), *(("vjp",) if form != "jvp" else ())]
        bad_part = draw(st.sampled_from(parts)) if regime.partial else "all"
        if (form, common["oracle"], bad_part) in regime.skip_parts:
            bad_part = "all"
    layout = "numerator"
    if form in ("derivative", "hessian"):
        layout = draw(st.sampled_from(("numerator", "denominator")))
    return Case(
        family="compose", f=program.root.py(), inputs=program.inputs, wrt=wrt, form=form,
        mutation=mutation, bad_part=bad_part, claim_f=claim_f, layout=layout,
        truth=draw(st.sampled_from(("jacrev", "jacfwd"))), sizes=_sizes(draw, _dims(program.inputs), regime),
        tags=sorted(program.root.ops() & KINKS), **common,
    )


# ---- closed forms composed by the chain rule -------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A scalar g(W) with its gradient, in the claim language; ``W`` is the differentiated input.

    ``homogeneity`` is what a slip "g(cW) = c g(W)" claims for the gradient of g(cW), where
    g is not homogeneous of degree 1 (det: degree n; it then holds only where c^(n-1) = 1)."""

    f: str
    grad: str
    where: str = ""
    transpose: str = ""
    homogeneity: str = ""


BLOCKS: dict[str, Block] = {
    "trAW": Block("tr(A @ W)", "A.T", transpose="A"),
    "det": Block("det(W)", "det(W) * inv(W).T", where="W: invertible", transpose="det(W) * inv(W)",
                 homogeneity="c * det(W) * inv(W).T"),
    "logdet_gram": Block("log(det(W @ W.T))", "2 * inv(W).T", where="W: invertible",
                         transpose="2 * inv(W)"),
    "trinv": Block("tr(inv(W))", "-(inv(W) @ inv(W)).T", where="W: invertible",
                   transpose="-(inv(W) @ inv(W))"),
    "quad": Block("w @ A @ w", "(A + A.T) @ w", transpose="(A + A.T) @ w"),
    "frob": Block("sum(W * W)", "2 * W", homogeneity="2 * c * W"),
    "norm": Block("norm(w)", "w / norm(w)", where="w: n nonzero", homogeneity="c * w / norm(w)"),
    "sinsum": Block("sum(sin(W))", "cos(W)"),
    "trWAW": Block("tr(W.T @ A @ W)", "(A + A.T) @ W", transpose="(A + A.T).T @ W"),
    "lse": Block("logsumexp(w)", "softmax(w)"),
}
# The outer function phi and its derivative at g, in the claim language.
OUTER: dict[str, tuple[str, str]] = {
    "id": ("{g}", "1"), "sin": ("sin({g})", "cos({g})"), "tanh": ("tanh({g})", "(1 - tanh({g}) ** 2)"),
    "square": ("({g}) ** 2", "2 * ({g})"),
}


def _subst(text: str, name: str, by: str) -> str:
    import re

    return re.sub(rf"\b{name}\b", by, text)


def closed_claim(block: str, outer: str, c: float, slip: str) -> tuple[str, str, str] | None:
    """(f, claimed gradient, where) for phi(g(c W)); ``slip`` "none" gives the true gradient.

    >>> closed_claim("det", "id", -1.0, "homogeneity")[1]
    '-1.0 * det(W) * inv(W).T'
    """
    b = BLOCKS[block]
    wname = "w" if "w" in b.f.replace("W", "") else "W"
    scaled = f"({c!r} * {wname})"
    g = _subst(b.f, wname, scaled)
    outer_f, outer_d = OUTER[outer]
    f = outer_f.format(g=g)
    inner = f"{c!r} * ({_subst(b.grad, wname, scaled)})"
    if slip == "transpose":
        if not b.transpose:
            return None
        inner = f"{c!r} * ({_subst(b.transpose, wname, scaled)})"
    elif slip == "homogeneity":
        if not b.homogeneity:
            return None
        inner = _subst(b.homogeneity, "c", repr(c))
    elif slip == "sign_inside":
        inner = f"{-c!r} * ({_subst(b.grad, wname, scaled)})"
    d_outer = outer_d.format(g=g)
    if slip == "outer":
        if outer == "id":
            return None
        return f, inner, b.where
    if slip == "factor":
        inner = f"2 * {inner}"
    grad = inner if d_outer == "1" else f"{d_outer} * {inner}"
    return f, grad, b.where


@st.composite
def closed_cases(draw: st.DrawFn, regime: Regime = LONG) -> Case:
    """A chain-rule claim in the claim language: true, or one of the classic slips."""
    block = draw(st.sampled_from(sorted(BLOCKS)))
    outer = draw(st.sampled_from(regime.closed_outers))
    c = draw(st.sampled_from(regime.closed_scales))
    slip = draw(st.sampled_from(("none", "none", *regime.closed_slips)))
    built = closed_claim(block, outer, c, slip)
    if built is None:
        slip, built = "none", closed_claim(block, outer, c, "none")
    assert built is not None
    f, grad, where = built
    common = _common(draw, regime, "derivative")
    common["oracle"] = draw(st.sampled_from(tuple(o for o in regime.oracles)))
    wname = "w" if "w" in BLOCKS[block].f.replace("W", "") else "W"
    dims = {"n", "m"} if block in ("trAW", "trWAW") else {"n"}
    return Case(
        family="closed", f=f, claim_text=grad, where=where, wrt=wname,
        mutation="none" if slip == "none" else f"slip:{slip}",
        layout=draw(st.sampled_from(("numerator", "denominator"))),
        sizes=_sizes(draw, dims, regime), tags=[block, outer], **common,
    )


# ---- catalog rules, scaled and offset, and their mutants -------------------------------------


def _catalog_names() -> tuple[list[str], list[str]]:
    import matcalc as mc

    true = sorted(n for n, r in mc.catalog.items() if not r.refuted)
    errata = sorted(n for n, r in mc.catalog.items() if r.refuted)
    return true, errata


@st.composite
def catalog_cases(draw: st.DrawFn, regime: Regime = LONG) -> Case:
    """A catalog rule (or erratum) with f scaled and offset, true or one of its mutants."""
    true, errata = _catalog_names()
    erratum = bool(errata) and draw(st.integers(0, 5)) == 0
    name = draw(st.sampled_from(errata if erratum else true))
    mutation = "none"
    if not erratum and regime.mutants and draw(st.booleans()):
        if draw(st.booleans()):
            mutation = "mutant:" + draw(st.sampled_from(_mutant_names(name)))
        else:
            mutation = "class:" + draw(st.sampled_from(_class_names(name)))
    import matcalc as mc

    rule = mc.catalog[name]
    form = {"hessian": "hessian", "differential": "differential"}.get(rule.kind, "derivative")
    if form == "derivative" and rule.layout == "numerator" and draw(st.integers(0, 3)) == 0:
        form = draw(st.sampled_from(("jvp", "vjp", "jvp_vjp")))
    common = _common(draw, regime, form)
    bad_part = "all"
    if form in ("jvp", "vjp", "jvp_vjp") and mutation != "none":
        parts = ["all", "derivative", *(("jvp",) if form != "vjp" else ()), *(("vjp",) if form != "jvp" else ())]
        bad_part = draw(st.sampled_from(parts)) if regime.partial else "all"
        if (form, common["oracle"], bad_part) in regime.skip_parts:
            bad_part = "all"
    return Case(family="catalog", f=name, wrt=list(rule.wrt_names) if rule.kind == "differential" else rule.wrt,
                form=form, mutation=mutation, bad_part=bad_part, layout=rule.layout,
                sizes=None, tags=["erratum"] if erratum else [], **common)


_MUTANT_NAMES: dict[str, list[str]] = {}
_CLASS_NAMES: dict[str, list[str]] = {}


def _class_names(name: str) -> list[str]:
    """The mistake classes tests/mutants.py's class_mutants makes for this rule."""
    if name not in _CLASS_NAMES:
        from mutants import class_mutants

        import matcalc as mc

        _CLASS_NAMES[name] = sorted({m.rule.name.split("__", 1)[1] for m in class_mutants(mc.catalog[name])}) \
            or ["times2"]
    return _CLASS_NAMES[name]


def _mutant_names(name: str) -> list[str]:
    if name not in _MUTANT_NAMES:
        from mutants import mutants

        import matcalc as mc

        _MUTANT_NAMES[name] = sorted({m.operator for m in mutants(mc.catalog[name])}) or ["times2"]
    return _MUTANT_NAMES[name]


def cases(regime: Regime = LONG, families: tuple[str, ...] = ("compose", "closed", "catalog"),
          forms: tuple[str, ...] | None = None) -> st.SearchStrategy[Case]:
    """Claims of every family the regime allows (compose is drawn most)."""
    parts: list[st.SearchStrategy[Case]] = []
    if "compose" in families:
        parts += [compose_cases(regime, forms)] * 3
    if "closed" in families and (forms is None or "derivative" in forms):
        parts.append(closed_cases(regime))
    if "catalog" in families and regime.catalog:
        parts.append(catalog_cases(regime))
    return st.one_of(*parts)

