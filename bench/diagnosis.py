"""Diagnosis accuracy, measured: does the hint name the mistake, and does any hint name a wrong one?

Every true catalog rule gets one mutant of each mistake class (tests/mutants.py ``class_mutants``):
transposed; x2 and x1/2 (factor); sign; a dropped term; swapped inputs; symmetric-only;
diagonal-only; wrong at one entry; the other layout; a vector where a diagonal Jacobian belongs.
Each is checked with each oracle at seed 0, default sizes, float64, structure re-checks on.

For each mutant:

* **named** (recall): a hint names the class it was built as (a structure hint must name the
  input the mutant acts on);
* **wrong hint**: a hint names a class the mutant is not. What a mutant *is* comes from an answer
  key computed without autograd, from the rule's own verified closed form at two draws
  (``answer_key``): a swap that equals x2 of the truth is also a factor mutant, a symmetric-only
  claim also holds on diagonal inputs, and a hint saying so is right.

Recall is counted only where the class **can be told apart** (``told_apart``):

* transposed: the truth has at least two axes and is not symmetric (a symmetric one makes an
  equivalent mutant, left out);
* factor and sign: always (the truth is never 0 in the catalog);
* swapped inputs, symmetric-only, diagonal-only: always (the mutant differs by construction, and
  the rule has two inputs of one shape, or a general / invertible square input);
* wrong at one entry: whole-Jacobian oracles only (probe and Taylor compare projections, which
  have no entries), the truth has at least 4 nonzero entries (one wrong entry is then at most a
  quarter of them), and not a differential rule;
* the other layout: f is not a scalar (the layouts agree otherwise: an equivalent mutant);
* a vector for a diagonal Jacobian: always (the rule's truth is a diagonal matrix);
* a dropped term: never (no hint names a dropped term); scored for wrong hints only;
* any mutant that is also another class (per the answer key), except the pairs that one hint names
  together (a 2-d transpose is the other layout; symmetric-only also holds for diagonal inputs):
  scored for wrong hints only.

Near misses: every true rule's claim x (1 + 2e-13), which must get no hint at all.

    python bench/diagnosis.py                      # the whole catalog, four oracles (~90 s)
    python bench/diagnosis.py --rules 20 --oracles jacobian probe --full --details
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mutants import MUTANT_CLASSES, ClassMutant, class_mutants, near_miss, swapped

import matcalc as mc
from matcalc.core.mismatch import bad_entries, nonzero_entries
from matcalc.diagnosis import classes_of
from matcalc.draws.inputs import direction, draw_inputs
from matcalc.engine.settings import resolve_sizes
from matcalc.model.rule import to_numerator

ORACLES = ("jacobian", "func", "probe", "taylor")
WHOLE = ("jacobian", "func")
SEEDS = (0, 1)
SAME = 1e-9  # relative: values that differ only by rounding of the same computation
TOGETHER = {"transpose": {"layout"}, "layout": {"transpose"}}


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return False
    return float(torch.linalg.vector_norm(a - b)) <= SAME * max(float(torch.linalg.vector_norm(b)), 1e-300)


def _values(rule: mc.Rule, fns: Iterable, seed: int) -> list[torch.Tensor] | None:
    """Each of ``fns`` evaluated at ``rule``'s draw at ``seed`` (default sizes, float64)."""
    sizes = resolve_sizes(rule, None)
    inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, seed)
    if rule.kind == "differential":  # directions inside a structured input's space, as check() draws
        gen = torch.Generator().manual_seed(7 + seed)
        inputs |= {f"d{w}": direction(rule.inputs[w], inputs[w], gen) for w in rule.wrt_names}
    out = []
    try:
        with torch.no_grad():
            for fn in fns:
                out.append(torch.as_tensor(fn(**inputs), dtype=torch.float64))
    except Exception:
        return None
    return out


def _shapes(rule: mc.Rule) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    sizes = resolve_sizes(rule, None)
    inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0)
    with torch.no_grad():
        out = rule.f(**inputs)
    wrt = tuple(inputs[rule.wrt_names[0]].shape)
    return (wrt if rule.kind == "hessian" else tuple(out.shape)), wrt


def primary(cm: ClassMutant) -> str:
    """The class a mutant was built as, as hints name it (structure classes name the input)."""
    return f"{cm.cls}:{cm.target}" if cm.cls in ("symmetric", "diagonal") else cm.cls


def answer_key(rule: mc.Rule, cm: ClassMutant) -> set[str]:
    """Every class the mutant is, from the rule's verified closed form (no autograd) at two draws."""
    key = {primary(cm)}
    d, m = rule.derivative, cm.rule.derivative
    pairs = [_values(rule, (d, m), s) for s in SEEDS]
    if any(p is None for p in pairs):
        return key
    shapes = _shapes(rule) if rule.kind != "differential" else None
    factors = []
    for t, v in pairs:  # type: ignore[misc]
        tt = float((t * t).sum())
        if v.shape == t.shape and tt > 0:
            c = float((v * t).sum()) / tt
            if _close(v, c * t):
                factors.append(c)
    if len(factors) == 2 and abs(factors[0] - factors[1]) <= SAME * abs(factors[0]) and abs(factors[0] - 1) > SAME:
        key.add("sign" if abs(factors[0] + 1) <= SAME else "factor")
    elif len(factors) == 2 and pairs[0][0].numel() >= 2:  # type: ignore[index]
        key.add("scale")  # a multiple of the truth at each draw, by a factor that depends on them
    t0, v0 = pairs[0]  # type: ignore[misc]
    if shapes is not None:
        out_shape, wrt_shape = shapes
        if v0.shape == t0.shape and t0.ndim >= 2:
            nums = [(to_numerator(rule, t, out_shape, wrt_shape), to_numerator(rule, v, out_shape, wrt_shape))
                    for t, v in pairs]  # type: ignore[misc]
            if all(_close(v.mT, t) for t, v in nums):
                key.add("transpose")
        if v0.ndim >= 2 and v0.shape != t0.shape and all(_close(v.mT, t) for t, v in pairs):  # type: ignore[misc]
            key.add("transpose")
        if rule.kind == "jacobian" and out_shape:
            n_first = len(wrt_shape) if rule.layout == "denominator" else len(out_shape)
            permuted = [v.permute(list(range(v.ndim - n_first, v.ndim)) + list(range(v.ndim - n_first)))
                       if v.ndim == t.ndim else None for t, v in pairs]  # type: ignore[misc]
            if all(s is not None and _close(s, t) for s, (t, _) in zip(permuted, pairs, strict=True)):  # type: ignore[misc]
                key.add("layout")
                if t0.ndim == 2:
                    key.add("transpose")
    names = list(rule.inputs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rule.inputs[a].shape != rule.inputs[b].shape:
                continue
            swap = [_values(rule, (swapped(d, a, b), m), s) for s in SEEDS]
            if all(p is not None and _close(p[1], p[0]) for p in swap):
                key.add("swap")
    for name, dom in rule.inputs.items():
        if dom.kind != "matrix" or dom.shape[0] != dom.shape[1] or dom.structure not in ("general", "invertible"):
            continue
        for structure, label in (("symmetric", "symmetric"), ("spd", "symmetric"), ("diagonal", "diagonal")):
            stricter = mc.Rule(**{**_fields(rule), "inputs": {**rule.inputs, name: dom.with_structure(structure)}})
            held = [_values(stricter, (d, m), s) for s in SEEDS]
            if all(p is not None and _close(p[1], p[0]) for p in held):
                key.add(f"{label}:{name}")
    if v0.shape == t0.shape and v0.ndim > 0:
        bad = int(bad_entries(v0, t0, SAME).sum())
        if 0 < bad <= 0.25 * nonzero_entries(v0, t0):
            key.add("entries")
    if v0.ndim == 1 and t0.ndim == 2 and t0.shape[0] == t0.shape[1] == v0.shape[0] and _close(torch.diag(v0), t0):
        key.add("diag_vector")
    if v0.shape != t0.shape and v0.numel() == t0.numel() and _close(v0.reshape(t0.shape), t0):
        key.add("reshape")
    return key


def _fields(rule: mc.Rule) -> dict:
    return {f: getattr(rule, f) for f in ("name", "f", "derivative", "wrt", "inputs", "layout", "kind")}


def told_apart(rule: mc.Rule, cm: ClassMutant, key: set[str], oracle: str) -> bool:
    """Whether the hint can name this mutant's class with this oracle (see the module docstring)."""
    label = primary(cm)
    allowed = {label} | TOGETHER.get(cm.cls, set())
    if cm.cls == "symmetric":
        allowed.add(f"diagonal:{cm.target}")
    if key - allowed or cm.cls == "drop_term":
        return False
    pair = _values(rule, (rule.derivative, cm.rule.derivative), 0)
    if pair is None:
        return False
    t = pair[0]
    if cm.cls == "transpose":
        return t.ndim >= 2
    if cm.cls == "entries":
        return oracle in WHOLE and rule.kind != "differential" and nonzero_entries(t, t) >= 4
    return True


@dataclass
class Cell:
    """One class x oracle cell of the table."""

    mutants: int = 0
    failed: int = 0
    told_apart: int = 0
    named: int = 0
    wrong: int = 0
    misses: list[str] = field(default_factory=list)
    wrongs: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.named / self.told_apart if self.told_apart else math.nan


def score(rules: list[mc.Rule], oracles: tuple[str, ...]) -> tuple[dict[tuple[str, str], Cell], dict[str, Cell]]:
    """The table's cells, and the near-miss cells per oracle."""
    cells: dict[tuple[str, str], Cell] = {}
    near: dict[str, Cell] = {o: Cell() for o in oracles}
    for rule in rules:
        for cm in class_mutants(rule):
            key = answer_key(rule, cm)
            for oracle in oracles:
                cell = cells.setdefault((cm.cls, oracle), Cell())
                cell.mutants += 1
                res = mc.check(cm.rule, oracle=oracle, seed=0)
                if res.outcome != "fail":
                    continue
                cell.failed += 1
                named = set().union(*(classes_of(h) for h in res.hints)) if res.hints else set()
                wrong = named - key
                if wrong:
                    cell.wrong += 1
                    cell.wrongs.append(f"{cm.rule.name}: {sorted(wrong)}")
                if told_apart(rule, cm, key, oracle):
                    cell.told_apart += 1
                    if primary(cm) in named:
                        cell.named += 1
                    else:
                        cell.misses.append(cm.rule.name)
        for oracle in oracles:
            res = mc.check(near_miss(rule), oracle=oracle, seed=0)
            cell = near[oracle]
            cell.mutants += 1
            cell.failed += res.outcome == "fail"
            if any(classes_of(h) for h in res.hints):
                cell.wrong += 1
                cell.wrongs.append(f"{rule.name}: {list(res.hints)}")
    return cells, near


def table(cells: dict[tuple[str, str], Cell], near: dict[str, Cell], oracles: tuple[str, ...]) -> str:
    """The table: one row per class and oracle, then the totals and the near misses."""
    rows = []
    for cls in MUTANT_CLASSES:
        for oracle in oracles:
            c = cells.get((cls, oracle))
            if c is None:
                continue
            recall = "n/a" if not c.told_apart else f"{100 * c.recall:.1f}%"
            rows.append([cls, oracle, c.mutants, c.failed, c.told_apart, c.named, recall, c.wrong])
    total = Cell()
    for c in cells.values():
        total.mutants += c.mutants
        total.failed += c.failed
        total.told_apart += c.told_apart
        total.named += c.named
        total.wrong += c.wrong
    rows.append(["all", "all", total.mutants, total.failed, total.told_apart, total.named,
                 f"{100 * total.recall:.1f}%" if total.told_apart else "n/a",
                 f"{total.wrong} ({100 * total.wrong / max(total.failed, 1):.2f}%)"])
    for oracle, c in near.items():
        rows.append(["near miss x(1+2e-13)", oracle, c.mutants, c.failed, "", "", "", c.wrong])
    return tabulate(rows, headers=["class", "oracle", "mutants", "failed", "told apart", "named", "recall",
                                   "wrong hints"], tablefmt="github")


def compact_table(cells: dict[tuple[str, str], Cell], near: dict[str, Cell], oracles: tuple[str, ...]) -> str:
    """One row per class: per oracle "named / told apart" (recall), then the wrong hints over all
    oracles; the last rows are the totals and the near misses."""
    rows = []

    def recall(c: Cell | None) -> str:
        if c is None or not c.told_apart:
            return "n/a"
        return f"{c.named}/{c.told_apart} ({100 * c.recall:.0f}%)"

    for cls in MUTANT_CLASSES:
        row_cells = [cells.get((cls, o)) for o in oracles]
        if all(c is None for c in row_cells):
            continue
        mutants = max(c.mutants for c in row_cells if c is not None)
        wrong = sum(c.wrong for c in row_cells if c is not None)
        rows.append([cls, mutants, *(recall(c) for c in row_cells), wrong])
    totals = []
    for o in oracles:
        t = Cell()
        for (_, oracle), c in cells.items():
            if oracle == o:
                t.told_apart += c.told_apart
                t.named += c.named
        totals.append(recall(t))
    failed = sum(c.failed for c in cells.values())
    wrong = sum(c.wrong for c in cells.values())
    rows.append(["all", sum(c.mutants for (_, o), c in cells.items() if o == oracles[0]), *totals,
                 f"{wrong} of {failed} ({100 * wrong / max(failed, 1):.2f}%)"])
    rows.append(["near miss x(1+2e-13)", near[oracles[0]].mutants,
                 *(f"{near[o].failed} fail" for o in oracles), sum(c.wrong for c in near.values())])
    return tabulate(rows, headers=["class", "mutants", *oracles, "wrong hints"], tablefmt="github")


def catalog_rules(limit: int | None = None) -> list[mc.Rule]:
    """The true catalog rules, every ``len // limit``-th one when ``limit`` is given."""
    rules = [r for r in mc.catalog.values() if not r.refuted]
    if limit is None or limit >= len(rules):
        return rules
    step = len(rules) / limit
    return [rules[int(i * step)] for i in range(limit)]


def main(argv: list[str] | None = None) -> int:
    """Print the diagnosis table; exit 1 when a target is missed."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", type=int, default=None, help="check a spread subset of this many rules")
    p.add_argument("--oracles", nargs="+", default=list(ORACLES), choices=ORACLES)
    p.add_argument("--details", action="store_true", help="list the misses and the wrong hints")
    p.add_argument("--full", action="store_true", help="one row per class and oracle")
    args = p.parse_args(argv)
    oracles = tuple(args.oracles)
    t0 = time.perf_counter()
    cells, near = score(catalog_rules(args.rules), oracles)
    print((table if args.full else compact_table)(cells, near, oracles))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.details:
        for (cls, oracle), c in sorted(cells.items()):
            for name in c.misses:
                print(f"miss  {cls:12s} {oracle:9s} {name}")
            for text in c.wrongs:
                print(f"wrong {cls:12s} {oracle:9s} {text}")
        for oracle, c in near.items():
            for text in c.wrongs:
                print(f"near  {oracle:9s} {text}")
    failed = sum(c.failed for c in cells.values())
    wrong = sum(c.wrong for c in cells.values())
    ok = all(c.recall >= 0.9 for c in cells.values() if c.told_apart) and wrong < 0.01 * max(failed, 1) \
        and not any(c.wrong for c in near.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
