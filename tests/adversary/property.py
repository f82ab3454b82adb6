"""The property: a true claim passes or is inconclusive for a reason that holds; a wrong claim fails
or is inconclusive, and never passes. ``run_case`` builds the rule a :class:`Case` describes, labels
it true or wrong independently of matcalc's oracles, checks it, and classifies the verdict.

Labels. A case built without a mutation from a true source (torch.func inside the claim, a
chain-rule closed form verified here, a true catalog rule) is true. A mutated case (or an erratum) is
screened: its claim is compared with ``torch.func`` of f at the inputs the check will draw (the
same seed, at every size assignment the check runs), and at those sizes + 1 (a claim that holds
only at odd n, say). It is "wrong" when it differs at a checked assignment by more than a relative
WRONG_AT[dtype], "wrong elsewhere" when it differs only at the shifted sizes, and it is dropped when
it differs nowhere (an equivalent mutant, e.g. the transpose of a symmetric Jacobian).

Example::

    >>> from adversary.compose import Case
    >>> case = Case(family="compose", f="torch.sin(x).sum()", inputs={"x": ["vector", "n", "general"]},
    ...             wrt="x", mutation="factor:2.0")
    >>> run_case(case).finding
    ''
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

import matcalc as mc
from adversary.compose import Case
from matcalc.draws.inputs import draw_inputs
from matcalc.engine.settings import resolve_sizes
from matcalc.model.rule import to_numerator
from matcalc.model.sizes import second_sizes

Fn = Callable[..., torch.Tensor]
# A mutated claim counts as wrong when it differs from the truth by more than this (relative): the
# design asks float64 to reject 1e-6 and float32 1e-3 on well-conditioned inputs.
WRONG_AT = {"float64": 1e-6, "float32": 2e-3}
# Below this the mutant is equivalent to the truth at the inputs checked: not a claim to judge.
EQUIVALENT_BELOW = 1e-9
FINDINGS = ("wrong PASS", "wrong PASS (size-dependent)", "false FAIL", "raise", "crash", "reason")


# ---- building the rule ----------------------------------------------------------------------


def domain(spec: list[Any]) -> Any:
    """An mc domain from its JSON spec: ["vector", "n", "positive"], ["matrix", "n", "m", "spd"], ...

    >>> domain(["matrix", "n", "n", "spd"]).describe()
    'matrix n x n, spd'
    """
    kind, *dims, structure = spec
    if kind == "scalar":
        return mc.scalar(positive=structure == "positive")
    if kind == "vector":
        return mc.vector(dims[0], nonzero=structure == "nonzero", positive=structure == "positive")
    return mc.matrix(dims[0], dims[1], structure=structure)


def _lambda(args: str, expr: str) -> Fn:
    return eval(f"lambda {args}: {expr}", {"torch": torch})


def _scaled(expr: str, case: Case) -> str:
    if case.scale == 1.0 and case.offset == 0.0:
        return expr
    return f"{case.scale!r} * ({expr}) + {case.offset!r}"


def _names(case: Case) -> list[str]:
    return [case.wrt] if isinstance(case.wrt, str) else list(case.wrt)


def _partial(F: Fn, kw: Mapping[str, torch.Tensor], names: list[str]) -> Fn:
    base = {k: v for k, v in kw.items() if not (k.startswith("d") and k[1:] in names)}
    return lambda *ws: F(**{**base, **dict(zip(names, ws, strict=True))})


def _jac(F: Fn, wrt: str, how: str) -> Fn:
    transform = torch.func.jacfwd if how == "jacfwd" else torch.func.jacrev
    return lambda **kw: transform(_partial(F, kw, [wrt]))(kw[wrt])


def _hess(F: Fn, wrt: str) -> Fn:
    return lambda **kw: torch.func.hessian(lambda w: _partial(F, kw, [wrt])(w).reshape(()))(kw[wrt])


def _jvp(F: Fn, wrt: str) -> Fn:
    # The direction is positional-only: an input may be named v or u.
    def jvp(v: torch.Tensor, /, **kw: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(_partial(F, kw, [wrt]), (kw[wrt],), (v,))[1]
    return jvp


def _vjp(F: Fn, wrt: str) -> Fn:
    def vjp(u: torch.Tensor, /, **kw: torch.Tensor) -> torch.Tensor:
        return torch.func.vjp(_partial(F, kw, [wrt]), kw[wrt])[1](u)[0]
    return vjp


def _differential(F: Fn, names: list[str]) -> Fn:
    def d(**kw: torch.Tensor) -> torch.Tensor:
        primals = tuple(kw[n] for n in names)
        tangents = tuple(kw["d" + n] for n in names)
        return torch.func.jvp(_partial(F, kw, names), primals, tangents)[1]
    return d


def _other_layout(value: torch.Tensor, wrt_ndim: int, declared: str) -> torch.Tensor:
    """A claim in ``declared`` layout rewritten in the other one (a layout slip)."""
    out_ndim = value.ndim - wrt_ndim
    first = out_ndim if declared == "numerator" else wrt_ndim
    return value.permute(list(range(first, value.ndim)) + list(range(first)))


def _value_mutation(mutation: str, wrt_ndim: int, layout: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if mutation.startswith("factor:"):
        c = float(mutation.split(":", 1)[1])
        return lambda v: c * v
    if mutation == "transpose":
        return lambda v: v.mT if v.ndim >= 2 else v
    if mutation == "zero":
        return torch.zeros_like
    if mutation == "layout":
        return lambda v: _other_layout(v, wrt_ndim, layout)
    if mutation == "entry":
        def entry(v: torch.Tensor) -> torch.Tensor:
            # out of place: a claimed jvp without a vjp is differentiated (transposed) by autograd
            flat = v.reshape(-1)
            bump = torch.zeros_like(flat)
            bump[int(torch.argmax(flat.abs()))] = 1.0
            return (flat + bump * (flat.abs().max().detach() + 1.0)).reshape(v.shape)
        return entry
    return lambda v: v


def _mutated(fn: Fn, case: Case, wrt_ndim: int, *, positional: bool) -> Fn:
    """``fn`` carrying the case's value mutation (and swapped inputs)."""
    op = _value_mutation(case.mutation, wrt_ndim, case.layout)
    swap = case.mutation.split(":", 1)[1].split(",") if case.mutation.startswith("swap_inputs:") else None

    def args(kw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if swap is None:
            return kw
        a, b = swap
        return {**kw, a: kw[b], b: kw[a]}

    if positional:
        def matrix_free(v: torch.Tensor, /, **kw: torch.Tensor) -> torch.Tensor:
            return op(fn(v, **args(kw)))
        return matrix_free
    return lambda **kw: op(fn(**args(kw)))


def _parts(case: Case, F: Fn, G: Fn, wrt_ndim: int) -> dict[str, Fn | None]:
    """derivative, jvp and vjp of the case's form: from F (true) or from G with the mutation
    (wrong), per ``bad_part``."""
    names = _names(case)
    wrt = names[0]

    def bad(part: str) -> bool:
        return case.mutation != "none" and case.bad_part in ("all", part)

    def pick(part: str, make: Callable[[Fn], Fn], positional: bool = False) -> Fn:
        return _mutated(make(G), case, wrt_ndim, positional=positional) if bad(part) else make(F)

    if case.form == "hessian":
        return {"derivative": pick("derivative", lambda h: _hess(h, wrt))}
    if case.form == "differential":
        return {"derivative": pick("derivative", lambda h: _differential(h, names))}

    def jacobian(h: Fn) -> Fn:
        jac = _jac(h, wrt, case.truth)
        if case.layout == "denominator":
            return lambda **kw: _other_layout(jac(**kw), wrt_ndim, "numerator")
        return jac

    parts: dict[str, Fn | None] = {"derivative": pick("derivative", jacobian)}
    if case.form in ("jvp", "jvp_vjp"):
        parts["jvp"] = pick("jvp", lambda h: _jvp(h, wrt), positional=True)
    if case.form in ("vjp", "jvp_vjp"):
        parts["vjp"] = pick("vjp", lambda h: _vjp(h, wrt), positional=True)
    return parts


def build(case: Case) -> mc.Rule:
    """The rule the case describes.

    >>> rule = build(Case(family="compose", f="x @ x", inputs={"x": ["vector", "n", "general"]}))
    >>> mc.check(rule).outcome
    'pass'
    """
    if case.family == "closed":
        return _build_closed(case)
    if case.family == "catalog":
        return _build_catalog(case)
    args = case.arguments()
    F = _lambda(args, _scaled(case.f, case))
    G = _lambda(args, _scaled(case.claim_f, case)) if case.claim_f else F
    wrt_ndim = len(case.inputs[_names(case)[0]]) - 2
    parts = _parts(case, F, G, wrt_ndim)
    kind = {"hessian": "hessian", "differential": "differential"}.get(case.form, "jacobian")
    wrt: str | tuple[str, ...] = tuple(_names(case)) if kind == "differential" else _names(case)[0]
    return mc.Rule(name="adversary", f=F, derivative=parts["derivative"],  # type: ignore[arg-type]
                   wrt=wrt, inputs={k: domain(v) for k, v in case.inputs.items()},
                   layout=case.layout, kind=kind,  # type: ignore[arg-type]
                   jvp=parts.get("jvp"), vjp=parts.get("vjp"))


def _build_closed(case: Case) -> mc.Rule:
    f = _scaled(case.f, case)
    grad = case.claim_text if case.scale == 1.0 else f"{case.scale!r} * ({case.claim_text})"
    rule = mc.claim(f, wrt=case.wrt, derivative=grad, where=case.where or None, layout=case.layout,
                    name="adversary")
    case.inputs = {k: _spec(d) for k, d in rule.inputs.items()}
    return rule


def _spec(dom: Any) -> list[Any]:
    kind = ("scalar", "vector", "matrix")[len(dom.shape)]
    return [kind, *dom.shape, dom.structure]


def _build_catalog(case: Case) -> mc.Rule:
    from mutants import mutants

    base = mc.catalog[case.f]
    bad = base
    if case.mutation.startswith("mutant:"):
        op = case.mutation.split(":", 1)[1]
        bad = next(m.rule for m in mutants(base) if m.operator == op)
    elif case.mutation.startswith("class:"):
        from mutants import class_mutants

        op = case.mutation.split(":", 1)[1]
        bad = next(m.rule for m in class_mutants(base) if m.rule.name.split("__", 1)[1] == op)
    case.inputs = {k: _spec(d) for k, d in base.inputs.items()}
    s, o = case.scale, case.offset
    f0 = base.f

    def F(**kw: torch.Tensor) -> torch.Tensor:
        return s * f0(**kw) + o if (s, o) != (1.0, 0.0) else f0(**kw)

    def scaled(d: Fn) -> Fn:
        return (lambda **kw: s * d(**kw)) if s != 1.0 else d

    good_d, bad_d = scaled(base.derivative), scaled(bad.derivative)

    def use(part: str) -> Fn:
        return bad_d if case.mutation != "none" and case.bad_part in ("all", part) else good_d

    dj, dv = use("jvp"), use("vjp")

    def jvp(v: torch.Tensor, /, **kw: torch.Tensor) -> torch.Tensor:
        return torch.tensordot(dj(**kw), v, dims=v.ndim)

    def vjp(u: torch.Tensor, /, **kw: torch.Tensor) -> torch.Tensor:
        return torch.tensordot(u, dv(**kw), dims=u.ndim)
    return dataclasses.replace(base, name="adversary", f=F, derivative=use("derivative"),
                               jvp=jvp if case.form in ("jvp", "jvp_vjp") else None,
                               vjp=vjp if case.form in ("vjp", "jvp_vjp") else None, fast=None)


# ---- the label: true, wrong, wrong only at other sizes, or equivalent -----------------------


def _rel(claim: torch.Tensor, true: torch.Tensor, floor: float = 0.0) -> float:
    """||claim - true|| / max(||true||, floor): ``floor`` is the size the derivative naturally has
    (:func:`_natural`), so that a truth that is 0 up to rounding is not a scale to be relative to."""
    if claim.shape != true.shape or claim.is_complex():
        return math.inf
    c, t = claim.detach().to(torch.float64), true.detach().to(torch.float64)
    if not bool(torch.isfinite(c).all()) or not bool(torch.isfinite(t).all()):
        return math.nan
    unit = max(float(c.abs().max()) if c.numel() else 0.0, float(t.abs().max()) if t.numel() else 0.0)
    if unit == 0.0:
        return 0.0
    return float(torch.linalg.vector_norm((c - t) / unit)) / max(
        float(torch.linalg.vector_norm(t / unit)), floor / unit, 1e-300)


# The relative step of the secants that give a derivative's natural size.
SECANT = 1e-3


def _natural(F: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, gen: torch.Generator) -> float:
    """The size a derivative of F has at x, from F's values alone: the secant slope
    ||F(x + h) - F(x - h)|| / (2 ||h||) over a step of SECANT of ||x||. A constant term of F
    cancels out of it; a derivative that is 0 up to rounding is judged against it (DESIGN: a
    small absolute floor for J ~ 0), not against its own rounding noise."""
    with torch.no_grad():
        r = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        size = max(float(torch.linalg.vector_norm(x)), 1.0)
        h = r * (SECANT * size / max(float(torch.linalg.vector_norm(r)), 1e-300))
        diff = (F(x + h).to(torch.float64) - F(x - h).to(torch.float64)) / 2
        # in units of the largest entry: a subnormal or huge f must not underflow or overflow here
        unit = float(diff.abs().max()) if diff.numel() else 0.0
        if unit == 0.0 or not math.isfinite(unit):
            return 0.0
        return unit * float(torch.linalg.vector_norm(diff / unit)) / float(torch.linalg.vector_norm(h))


def _along(f: Fn, kw: Mapping[str, torch.Tensor], names: list[str],
           dirs: Mapping[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """s -> f with its wrt inputs moved by s times their directions (df's natural size is this
    function's secant slope at 0)."""
    moved = _partial(f, kw, names)
    return lambda s: moved(*(kw[n] + s * dirs["d" + n] for n in names))


def _tangent(x: torch.Tensor, structure: str, gen: torch.Generator) -> torch.Tensor:
    """A random direction inside a structured input's space: a derivative on symmetric (or
    diagonal) matrices is defined along symmetric (diagonal) directions only."""
    v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    if v.ndim == 2 and structure in ("symmetric", "spd", "separated_eigenvalues"):
        return (v + v.T) / 2
    if v.ndim == 2 and structure == "diagonal":
        return torch.diag(torch.diagonal(v))
    return v


def _truth(rule: mc.Rule, kw: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, float]:
    """Relative difference between each of the rule's callables and torch.func of its f (and,
    under "size", the norm of the true derivative)."""
    names = list(rule.wrt_names)
    wrt = names[0]
    out: dict[str, float] = {}
    structures = {n: rule.inputs[n].structure for n in names}
    with torch.no_grad():
        if rule.kind == "differential":
            diffs = []
            for _ in range(2):
                dirs = {"d" + n: _tangent(kw[n], structures[n], gen) for n in names}
                true = _differential(rule.f, names)(**kw, **dirs)
                along = _natural(_along(rule.f, kw, names, dirs), torch.zeros((), dtype=torch.float64), gen)
                diffs.append(_rel(rule.derivative(**kw, **dirs), true, along))
            return {"derivative": _worst(diffs), "size": float(torch.linalg.vector_norm(true))}
        F = _partial(rule.f, kw, [wrt])
        natural = _natural(F, kw[wrt], gen)
        if rule.kind == "hessian":
            H = _hess(rule.f, wrt)(**kw)
            # a Hessian's natural size: the gradient's secant slope, or the gradient over ||x||
            grad = lambda w: torch.func.grad(lambda z: F(z).reshape(()))(w)
            size = max(float(torch.linalg.vector_norm(kw[wrt])), 1.0)
            floor = max(_natural(grad, kw[wrt], gen), natural / size)
            return {"derivative": _rel(rule.derivative(**kw), H, floor),
                    "size": float(torch.linalg.vector_norm(H))}
        J = _jac(rule.f, wrt, "jacrev")(**kw)
        out["size"] = float(torch.linalg.vector_norm(J))
        raw = rule.derivative(**kw)
        wrt_shape = tuple(kw[wrt].shape)
        out_shape = tuple(J.shape[: J.ndim - len(wrt_shape)])
        out["derivative"] = _rel(to_numerator(rule, raw, out_shape, wrt_shape), J, natural)
        if rule.jvp is not None:
            v = torch.randn(wrt_shape, generator=gen, dtype=torch.float64)
            out["jvp"] = _rel(rule.jvp(v, **kw), _jvp(rule.f, wrt)(v, **kw),
                              natural * float(torch.linalg.vector_norm(v)))
        if rule.vjp is not None:
            u = torch.randn(out_shape, generator=gen, dtype=torch.float64)
            out["vjp"] = _rel(rule.vjp(u, **kw), _vjp(rule.f, wrt)(u, **kw),
                              natural * float(torch.linalg.vector_norm(u)))
    return out


def _worst(diffs: list[float]) -> float:
    return math.nan if any(math.isnan(d) for d in diffs) else max(diffs, default=0.0)


def label(case: Case, rule: mc.Rule) -> tuple[str, list[str]]:
    """("true" | "wrong" | "wrong elsewhere" | "equivalent" | "ambiguous", the wrong parts).

    "wrong elsewhere": right at every size assignment a default check runs, wrong at those + 1;
    "ambiguous": differs, but by less than the dtype must resolve, or the truth is not finite."""
    if not case.wrong and case.family != "closed":
        return "true", []
    first = resolve_sizes(rule, case.sizes)
    checked = [first] if case.sizes is not None or not first else [first, second_sizes(first)]
    # Explicit sizes are checked as given (one assignment); only the defaults promise more.
    shifted = [{d: s + 1 for d, s in first.items()}] if first and case.sizes is None else []
    gen = torch.Generator().manual_seed(case.seed + 17)

    sizes: list[float] = []

    def worst(assignments: list[dict[str, int]]) -> dict[str, float]:
        diffs: dict[str, list[float]] = {}
        for sz in assignments:
            kw = draw_inputs(rule, sz, torch.device("cpu"), torch.float64, case.seed)
            found = _truth(rule, kw, gen)
            sizes.append(found.pop("size"))
            for part, d in found.items():
                diffs.setdefault(part, []).append(d)
        return {part: _worst(d) for part, d in diffs.items()}

    at_checked = worst(checked)
    overall = _worst(list(at_checked.values()))
    if not case.wrong:  # a closed form of ours: verified, or our chain rule is wrong
        if not overall <= 1e-6:
            raise AssertionError(f"the adversary's own closed form is wrong ({overall:.3g}): {case}")
        return "true", []
    if math.isnan(overall):
        return "ambiguous", []  # the truth is not finite at the sample: no label
    bad = [p for p, d in at_checked.items() if d > WRONG_AT[case.dtype]]
    if bad:
        return "wrong", bad
    if overall > EQUIVALENT_BELOW:
        return "ambiguous", []
    at_shifted = worst(shifted) if shifted else {}
    bad = [p for p, d in at_shifted.items() if d > WRONG_AT[case.dtype]]
    # A truth that vanishes at the checked sizes (tanh saturated to +-1) hides every claim there:
    # that is the sample, not the sizes.
    if bad and min(sizes[: len(sizes) - 1], default=0.0) > 1e-6 * sizes[-1]:
        return "wrong elsewhere", bad
    return "equivalent", []


# ---- the verdict and its classification -----------------------------------------------------


@dataclass
class Outcome:
    """What the check said about a case, against its label; ``finding`` is empty when sound."""

    case: Case
    label: str
    got: str = ""
    finding: str = ""
    detail: str = ""
    wrong_parts: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""  # the check's inconclusive reason, when it gave one

    @property
    def counted(self) -> bool:
        return self.label in ("true", "wrong", "wrong elsewhere")


def _classify(label: str, got: str) -> str:
    if got in ("raise", "crash"):
        return got
    if label == "true" and got == "fail":
        return "false FAIL"
    if label == "wrong" and got == "pass":
        return "wrong PASS"
    if label == "wrong elsewhere" and got == "pass":
        return "wrong PASS (size-dependent)"
    return ""


def check_kwargs(case: Case) -> dict[str, Any]:
    kw = {"oracle": case.oracle, "dtype": getattr(torch, case.dtype), "sizes": case.sizes,
          "seed": case.seed, "diagnose_structure": False}
    return kw if case.probes is None else kw | {"probes": case.probes}


def run_case(case: Case) -> Outcome:
    """Build, label, check and classify one case."""
    rule = build(case)
    try:
        lab, parts = label(case, rule)
    except mc.MatcalcError:
        raise
    except Exception as exc:  # torch.func cannot differentiate f here: no label
        return Outcome(case, "ambiguous", detail=f"no truth: {type(exc).__name__}: {exc}")
    if lab not in ("true", "wrong", "wrong elsewhere"):
        return Outcome(case, lab)
    try:
        res = mc.check(rule, **check_kwargs(case))
    except mc.MatcalcError as exc:
        return Outcome(case, lab, "raise", "raise", f"MatcalcError: {exc}", parts)
    except Exception as exc:
        return Outcome(case, lab, "crash", "crash", f"{type(exc).__name__}: {exc}", parts)
    got = res.outcome
    finding = _classify(lab, got)
    if not finding and got == "inconclusive" and not _reason_holds(case, rule, res):
        finding = "reason"
    return Outcome(case, lab, got, finding, str(res), parts, res.inconclusive)


# The operations of f that can have a kink at a sample (relu or abs at 0, a tie in amax, the norm
# of a zero vector); an f built without them is smooth wherever it is finite.
KINK_OPS = ("relu", "abs", "amax", "vector_norm")


def claims_a_kink(reason: str) -> bool:
    """Whether an inconclusive reason says f is not differentiable at the sample.

    >>> claims_a_kink("fn's one-sided slopes differ at these inputs: fn is not differentiable here")
    True
    """
    return "not differentiable" in reason or "a kink" in reason


def smooth(case: Case) -> bool:
    """Whether f (as the case writes it, scale and offset aside) is built without a kink op: the
    closed family's f are smooth wherever they are finite (no kinks, norm of a nonzero vector).

    >>> smooth(Case(family="compose", f="torch.sin(x).sum()")), smooth(Case(family="compose", f="torch.relu(x)"))
    (True, False)
    """
    if case.family == "closed":
        return True
    if case.family == "catalog":
        return False  # a catalog rule's f is code: not read here
    return not any(op in case.f for op in KINK_OPS)


def _reason_holds(case: Case, rule: mc.Rule, res: mc.Result) -> bool:
    """Reasons that can be verified from the case or the counterexample; the others are taken as
    stated. "Not differentiable" never holds for an f built without a kink op (:func:`smooth`)."""
    reason = res.inconclusive
    if not reason.strip():
        return False
    if claims_a_kink(reason) and smooth(case):
        return False
    inputs = res.counterexample
    if inputs is None:
        return True
    if reason.startswith(("f is Inf", "f is not finite")):
        with torch.no_grad():
            return not bool(torch.isfinite(rule.f(**inputs)).all())
    if reason.startswith("the true derivative is not finite") and rule.kind == "jacobian":
        try:
            with torch.no_grad():
                true = _jac(rule.f, rule.wrt_names[0], "jacrev")(**inputs)
        except Exception:
            return True
        return not bool(torch.isfinite(true).all())
    match = re.match(r"ill-conditioned sample: cond\((\w+)\) = ([\d.e+-]+)", reason)
    if match:
        x = inputs[match.group(1)].to(torch.float64)
        s = torch.linalg.svdvals(x)
        return float(s.max() / s.min()) > 10.0 if float(s.min()) > 0 else True
    return True


# ---- grouping counterexamples into suspected classes ------------------------------------------

MATRIX_FREE = ("jvp", "vjp", "jvp_vjp")


def _given(form: str) -> tuple[str, ...]:
    return ("derivative", *(("jvp",) if form in ("jvp", "jvp_vjp") else ()),
            *(("vjp",) if form in ("vjp", "jvp_vjp") else ()))


def suspected_class(o: Outcome) -> str:
    """A first guess at the class of defect a finding belongs to, from what set the case apart
    (the rules are checked in order; the regression tests pin the classes down).

    >>> from adversary.compose import Case
    >>> suspected_class(Outcome(Case(family="compose", f="x", scale=1e160), "wrong", "pass", "wrong PASS"))
    'wrong PASS: f scaled by >= 1e100 (overflow)'
    """
    c = o.case
    head = o.finding
    oracle = c.oracle if c.oracle != "auto" else "auto"
    if o.finding in ("raise", "crash"):
        first = o.detail.splitlines()[0] if o.detail else ""
        return f"{head}: {re.sub(r'[0-9.e+-]{3,}', '#', first)[:90]}"
    if o.finding == "reason" and claims_a_kink(o.reason):
        where = "subnormal f (scale <= 1e-100)" if 0 < abs(c.scale) <= 1e-100 else \
            "large offset" if abs(c.offset) > 1e3 * abs(c.scale) else f"oracle {oracle}"
        return f"{head}: a kink claimed for a smooth f ({c.family}, {where})"
    if c.family == "backward" and o.finding.startswith("wrong PASS") and c.dtype == "float32" \
            and c.oracle == "reference":
        return f"{head}: check_backward in float32, tolerance from the reference's own float32 error"
    if c.family == "backward" and o.finding == "false FAIL" and c.oracle == "fd":
        return f"{head}: check_backward by finite differences, f scaled by {c.scale:g}"
    if o.finding == "false FAIL" and ("tanh" in c.tags or "tanh" in c.f):
        return f"{head}: a true claim through a saturated tanh (1 - tanh^2 cancels)"
    if abs(c.offset) > 1e3 * abs(c.scale):
        return f"{head}: large constant offset in f"
    if abs(c.scale) >= 1e100:
        return f"{head}: f scaled by >= 1e100 (overflow)"
    if 0 < abs(c.scale) <= 1e-100:
        return f"{head}: f scaled by <= 1e-100 (subnormal)"
    parts = set(o.wrong_parts)
    if c.form in MATRIX_FREE and parts and parts != {"derivative", "jvp", "vjp"} & set(_given(c.form)):
        group = oracle if oracle in ("probe", "taylor") else "jacobian/func/auto"
        return f"{head}: {c.form} rule, only its {'+'.join(sorted(parts))} wrong, oracle {group}"
    if o.finding == "wrong PASS (size-dependent)":
        return f"{head}: {c.family} {c.mutation} holds at the checked sizes only"
    kinks = [t for t in c.tags if t in ("relu", "abs", "amax", "pos")]
    return f"{head}: {c.family} {c.form} {c.mutation.split(':')[0]} oracle {oracle}" + (
        f" kinks {','.join(kinks)}" if kinks else "")
