"""Wrong variants of every catalog rule, for mutation-testing the verifier.

Run ``python tests/mutants.py`` for the kill-rate table; tests/test_mutants.py asserts 100%.

Operators: transpose, x2, x1/2, sign flip, drop one term of a sum (on the derivative's syntax
tree), swap two inputs of equal shape, and a relative perturbation of 1e-3. A mutant counts only
if it really differs from the rule's own (verified) derivative at the seed-0 inputs in float64;
the others are equivalent mutants (e.g. swapping X and Y in dX + dY) and are reported apart.

``class_mutants(rule)`` makes one mutant of each mistake class the diagnosis names (transposed,
x2 and x1/2, sign, a dropped term, swapped inputs, symmetric-only, diagonal-only, wrong at one
entry, the other layout, a vector for a diagonal Jacobian); ``near_miss(rule)`` is the true claim
x (1 + 2e-13), which must get no hint. bench/diagnosis.py scores the hints on them.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

import matcalc as mc
from matcalc.claims import claim_of
from matcalc.claims.parse import Node
from matcalc.draws.inputs import draw_inputs
from matcalc.engine.settings import resolve_sizes

Fn = Callable[..., torch.Tensor]
PERTURBATION = 1e-3
MAX_DROPS = 6


@dataclass(frozen=True)
class Mutant:
    rule: mc.Rule
    operator: str


def _wrap(rule: mc.Rule, name: str, derivative: Fn) -> Mutant:
    mutated = dataclasses.replace(rule, name=f"{rule.name}__{name}", derivative=derivative, jvp=None,
                                  vjp=None, fast=None)
    return Mutant(mutated, name)


def _perturbed(orig: Fn) -> Fn:
    def derivative(**kw: torch.Tensor) -> torch.Tensor:
        d = orig(**kw)
        g = torch.randn(d.shape, generator=torch.Generator().manual_seed(12345), dtype=torch.float64)
        scale = float(torch.linalg.vector_norm(d.to(torch.float64))) or 1.0
        return d + (PERTURBATION * scale * g / torch.linalg.vector_norm(g)).to(d.dtype).to(d.device)

    return derivative


def _find_node(fn: Fn) -> tuple[ast.AST, str] | None:
    """The syntax node of a lambda or def, identified by compiling candidates and comparing bytecode."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_freevars:
        return None
    try:
        source = Path(inspect.getsourcefile(fn) or "").read_text()
    except OSError:
        return None
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Lambda | ast.FunctionDef) and node.lineno == code.co_firstlineno
                and _compiled(node, fn.__globals__) == code.co_code):
            return node, source
    return None


def _compiled(node: ast.AST, namespace: dict) -> bytes | None:
    try:
        return _build(node, namespace).__code__.co_code
    except Exception:
        return None


def _build(node: ast.AST, namespace: dict) -> Fn:
    if isinstance(node, ast.Lambda):
        expr = ast.fix_missing_locations(ast.Expression(body=node))
        return eval(compile(expr, "<mutant>", "eval"), namespace)
    module = ast.fix_missing_locations(ast.Module(body=[node], type_ignores=[]))
    scope: dict = {}
    exec(compile(module, "<mutant>", "exec"), namespace, scope)
    return scope[node.name]  # type: ignore[attr-defined]


class _DropTerm(ast.NodeTransformer):
    def __init__(self, target: int, keep: str) -> None:
        self.target, self.keep, self.seen = target, keep, -1

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if isinstance(node.op, ast.Add | ast.Sub):
            self.seen += 1
            if self.seen == self.target:
                if self.keep == "left":
                    return node.left
                return node.right if isinstance(node.op, ast.Add) else ast.UnaryOp(ast.USub(), node.right)
        return self.generic_visit(node)


def drop_term_variants(fn: Fn) -> Iterator[tuple[str, Fn]]:
    found = _find_node(fn)
    if found is None:
        return
    node, _ = found
    sums = sum(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub) for n in ast.walk(node))
    made = 0
    for i in range(sums):
        for keep in ("left", "right"):
            if made >= MAX_DROPS:
                return
            tree = _DropTerm(i, keep).visit(ast.parse(textwrap.dedent(ast.unparse(node))).body[0])
            body = tree.value if isinstance(tree, ast.Expr) else tree
            try:
                yield f"drop_term{i}_{keep}", _build(body, fn.__globals__)
                made += 1
            except Exception:
                continue


def _replace(node: Node, target: Node, new: Node) -> Node:
    if node is target:
        return new
    args = tuple(_replace(a, target, new) for a in node.args)
    return node if all(a is b for a, b in zip(args, node.args, strict=True)) else dataclasses.replace(node, args=args)


def text_drop_term_variants(rule: mc.Rule) -> Iterator[tuple[str, Fn]]:
    """Drop-term mutants of a rule written as text (mc.claim), edited on its parsed tree."""
    parsed = claim_of(rule)
    if parsed is None:
        return
    order, queue = [], [parsed.derivative_tree]
    while queue:  # breadth first, as ast.walk
        node = queue.pop(0)
        order.append(node)
        queue.extend(node.args)
    sums = [n for n in order if n.kind in ("+", "-")]
    made = 0
    for i, target in enumerate(sums):
        for keep in ("left", "right"):
            if made >= MAX_DROPS:
                return
            left, right = target.args
            kept = left if keep == "left" else right if target.kind == "+" else \
                Node("neg", (right,), None, target.start, target.end)
            yield f"drop_term{i}_{keep}", parsed.function(_replace(parsed.derivative_tree, target, kept))
            made += 1


def swapped(d: Fn, a: str, b: str) -> Fn:
    """d with inputs a and b exchanged (a closure, not default arguments: inputs may be named a, b)."""
    return lambda **kw: d(**{**kw, a: kw[b], b: kw[a]})


def _on_input(d: Fn, name: str, op: Callable[[torch.Tensor], torch.Tensor]) -> Fn:
    return lambda **kw: d(**{**kw, name: op(kw[name])})


def mutants(rule: mc.Rule) -> Iterator[Mutant]:
    d = rule.derivative
    yield _wrap(rule, "transpose", lambda **kw: d(**kw).mT if d(**kw).ndim >= 2 else d(**kw))
    yield _wrap(rule, "times2", lambda **kw: 2 * d(**kw))
    yield _wrap(rule, "half", lambda **kw: 0.5 * d(**kw))
    yield _wrap(rule, "sign", lambda **kw: -d(**kw))
    yield _wrap(rule, "perturb_1e3", _perturbed(d))
    names = list(rule.inputs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rule.inputs[a].shape == rule.inputs[b].shape:
                yield _wrap(rule, f"swap_{a}_{b}",
                            swapped(d, a, b))
    for name, fn in (*drop_term_variants(d), *text_drop_term_variants(rule)):
        yield _wrap(rule, name, fn)


# The classes of class_mutants, in the order of the diagnosis table.
MUTANT_CLASSES = ("transpose", "factor", "sign", "drop_term", "swap", "symmetric", "diagonal",
                  "entries", "layout", "diag_vector")
NEAR_MISS = 2e-13


@dataclass(frozen=True)
class ClassMutant:
    """A wrong claim built as one mistake class; ``target`` is the input it acts on, if any."""

    rule: mc.Rule
    cls: str
    target: str = ""


def _square_inputs(rule: mc.Rule) -> list[str]:
    """Square matrix inputs drawn general or invertible: where a structure-only claim can differ."""
    return [n for n, dom in rule.inputs.items() if dom.kind == "matrix" and dom.shape[0] == dom.shape[1]
            and dom.structure in ("general", "invertible")]


def _out_ndim(rule: mc.Rule) -> int | None:
    value = _evaluate(rule, rule.f)
    return None if value is None else value.ndim


def _transposed(value: torch.Tensor) -> torch.Tensor:
    return value.mT if value.ndim >= 2 else value


def _one_entry(d: Fn, index: int) -> Fn:
    def derivative(**kw: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(d(**kw)).clone()
        flat = value.reshape(-1)
        flat[index] = flat[index] + float(value.abs().max()) + 1.0
        return flat.reshape(value.shape)

    return derivative


def _layout_slip(d: Fn, first: int) -> Fn:
    def derivative(**kw: torch.Tensor) -> torch.Tensor:
        value = d(**kw)
        return value.permute(list(range(first, value.ndim)) + list(range(first)))

    return derivative


def class_mutants(rule: mc.Rule) -> Iterator[ClassMutant]:
    """One mutant of each class that really differs from the rule's claim (x2 and x1/2 both)."""
    d = rule.derivative
    candidates: list[ClassMutant] = [
        ClassMutant(_wrap(rule, "transpose", lambda **kw: _transposed(d(**kw))).rule, "transpose"),
        ClassMutant(_wrap(rule, "times2", lambda **kw: 2 * d(**kw)).rule, "factor"),
        ClassMutant(_wrap(rule, "half", lambda **kw: 0.5 * d(**kw)).rule, "factor"),
        ClassMutant(_wrap(rule, "sign", lambda **kw: -d(**kw)).rule, "sign"),
    ]
    for m in candidates:
        if really_differs(rule, Mutant(m.rule, m.cls)):
            yield m
    drops = (*drop_term_variants(d), *text_drop_term_variants(rule))
    for name, fn in drops:
        m = ClassMutant(_wrap(rule, name, fn).rule, "drop_term")
        if really_differs(rule, Mutant(m.rule, m.cls)):
            yield m
            break
    names = list(rule.inputs)
    swaps = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
             if rule.inputs[a].shape == rule.inputs[b].shape]
    for a, b in swaps:
        m = ClassMutant(_wrap(rule, f"swap_{a}_{b}", swapped(d, a, b)).rule,
                        "swap", f"{a},{b}")
        if really_differs(rule, Mutant(m.rule, m.cls)):
            yield m
            break
    for cls, op in (("symmetric", lambda t: t.mT), ("diagonal", lambda t: torch.diag(torch.diagonal(t)))):
        for name in _square_inputs(rule):
            m = ClassMutant(_wrap(rule, f"{cls}_only_{name}",
                                  _on_input(d, name, op)).rule, cls, name)
            if really_differs(rule, Mutant(m.rule, m.cls)):
                yield m
                break
    truth = _evaluate(rule, d)
    if truth is not None and truth.numel() > 1:
        index = int(torch.argmax(truth.abs().reshape(-1)))
        m = ClassMutant(_wrap(rule, "one_entry", _one_entry(d, index)).rule, "entries")
        if really_differs(rule, Mutant(m.rule, m.cls)):
            yield m
    out_ndim = _out_ndim(rule) if rule.kind == "jacobian" else None
    if truth is not None and out_ndim:
        first = out_ndim if rule.layout == "numerator" else truth.ndim - out_ndim
        m = ClassMutant(_wrap(rule, "layout", _layout_slip(d, first)).rule, "layout")
        if really_differs(rule, Mutant(m.rule, m.cls)):
            yield m
    if truth is not None and rule.kind == "jacobian" and truth.ndim == 2 and truth.shape[0] == truth.shape[1] \
            and bool((truth == torch.diag(torch.diagonal(truth))).all()):
        yield ClassMutant(_wrap(rule, "diag_vector", lambda **kw: torch.diagonal(d(**kw))).rule, "diag_vector")


def near_miss(rule: mc.Rule) -> mc.Rule:
    """The true claim x (1 + 2e-13): within a few roundings of the truth; it must get no hint."""
    d = rule.derivative
    return _wrap(rule, "near_miss", lambda **kw: (1 + NEAR_MISS) * d(**kw)).rule


def _evaluate(rule: mc.Rule, fn: Fn) -> torch.Tensor | None:
    sizes = resolve_sizes(rule, None)
    inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0)
    if rule.kind == "differential":
        gen = torch.Generator().manual_seed(7)
        inputs |= {f"d{w}": torch.randn(inputs[w].shape, generator=gen, dtype=torch.float64)
                   for w in rule.wrt_names}
    try:
        with torch.no_grad():
            return fn(**inputs)
    except Exception:
        return None


def really_differs(rule: mc.Rule, mutant: Mutant) -> bool:
    """Whether the mutant's value differs from the rule's verified derivative at the seed-0 inputs."""
    truth = _evaluate(rule, rule.derivative)
    value = _evaluate(rule, mutant.rule.derivative)
    if value is None or truth is None or value.shape != truth.shape:
        return value is not None
    diff = float(torch.linalg.vector_norm(value - truth))
    return diff > 1e-10 * max(float(torch.linalg.vector_norm(truth)), 1e-300)


@dataclass
class KillCount:
    oracle: str
    dtype: str
    mutants: int = 0
    killed: int = 0
    survivors: list[str] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.killed / self.mutants if self.mutants else 1.0


def all_mutants() -> tuple[list[Mutant], int]:
    live, equivalent = [], 0
    for rule in mc.catalog.values():
        if rule.refuted:
            continue
        for m in mutants(rule):
            if really_differs(rule, m):
                live.append(m)
            else:
                equivalent += 1
    return live, equivalent


def kill_rates(live: list[Mutant], oracles: tuple[str, ...] = ("jacobian", "func", "probe", "taylor"),
               dtypes: tuple[torch.dtype, ...] = (torch.float64, torch.float32)) -> list[KillCount]:
    counts = []
    for oracle in oracles:
        for dtype in dtypes:
            c = KillCount(oracle, str(dtype).removeprefix("torch."))
            for m in live:
                res = mc.check(m.rule, dtype=dtype, oracle=oracle, seed=0, diagnose_structure=False)
                c.mutants += 1
                if res.passed:
                    c.survivors.append(m.rule.name)
                else:
                    c.killed += 1
            counts.append(c)
    return counts


def main() -> int:
    from tabulate import tabulate

    live, equivalent = all_mutants()
    by_op: dict[str, int] = {}
    for m in live:
        key = m.operator.split("_")[0] if m.operator.startswith(("swap", "drop")) else m.operator
        by_op[key] = by_op.get(key, 0) + 1
    print(f"{len(live)} mutants that really differ ({equivalent} equivalent ones left out); by operator: {by_op}")
    counts = kill_rates(live)
    print(tabulate([[c.oracle, c.dtype, c.mutants, c.killed, f"{100 * c.rate:.2f}%", ", ".join(c.survivors[:4])]
                    for c in counts], headers=["oracle", "dtype", "mutants", "killed", "kill rate", "survivors"],
                   tablefmt="github"))
    return 0 if all(c.rate == 1.0 for c in counts) else 1


if __name__ == "__main__":
    sys.exit(main())
