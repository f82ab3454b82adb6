"""The diagnosis review (matcalc/diagnosis/review.py), pinned where mutation testing found it loose.

The review gives a hint only on a clear margin: the claim's error at least FAR tolerances, the
corrected rule within the check's own tolerance and FAR times closer, at the check's seed and the
next one. These tests drive the review with a scripted re-check, so each margin is tested at its
boundary; bench/results/mutation.md maps the module's mutants to them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
import torch

import matcalc as mc
from matcalc.core.result import Result
from matcalc.diagnosis.hint import Hint
from matcalc.diagnosis.review import Review, review
from matcalc.diagnosis.values import FAR
from matcalc.errors import MatcalcError
from matcalc.model.sizes import SEED_LIMIT

X_A = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}


def _rule(**kw) -> mc.Rule:  # type: ignore[no-untyped-def]
    base = dict(name="claim", f=lambda x, A: A @ x, derivative=lambda x, A: A, wrt="x", inputs=X_A)
    return mc.Rule(**{**base, **kw})


def _result(error: float, tolerance: float, *, passed: bool = False, seed: int = 3, **kw) -> Result:
    # `kw` fills the optional fields (hints, shapes, counterexample, ...)
    return Result(rule="claim", passed=passed, error=error, tolerance=tolerance, oracle=kw.pop("oracle", "jacobian"),
                  device="cpu", dtype="float64", sizes={"n": 3}, seed=seed, **kw)


class Script:
    """A re-check that answers from a function of (rule, seed) and records its calls."""

    def __init__(self, answer: Callable[[mc.Rule, int], Result]) -> None:
        self.answer = answer
        self.calls: list[tuple[mc.Rule, int]] = []

    def __call__(self, rule: mc.Rule, seed: int) -> Result:
        self.calls.append((rule, seed))
        return self.answer(rule, seed)


def _passes(error: float, tolerance: float = 1.0) -> Script:
    return Script(lambda rule, seed: _result(error, tolerance, passed=True, seed=seed))


# ---- far: the claim's error must be FAR tolerances or more ----------------------------------


def test_far_is_at_least_far_tolerances_and_never_inf_or_nan() -> None:
    """Defect: a hint resting on an error that is within FAR tolerances (rounding), or on an error
    that is not a number at all."""
    rule = _rule()
    assert FAR == 100.0
    assert Review(rule, _result(100.0, 1.0), _passes(0.0)).far
    assert not Review(rule, _result(99.0, 1.0), _passes(0.0)).far
    assert not Review(rule, _result(math.inf, 1.0), _passes(0.0)).far
    assert not Review(rule, _result(math.nan, 1.0), _passes(0.0)).far


# ---- holds: the corrected rule within the same tolerance, FAR times closer, at two seeds ---------


def test_a_correction_must_be_far_closer_than_the_claim() -> None:
    """Defect: the re-check's "far closer" margin dropped or loosened (it survived a mutation run
    from outside): a correction that passes but is not FAR times closer than the claim proves
    nothing. The boundary (exactly FAR times closer) holds."""
    rule = _rule()
    res = _result(25.0, 1.0)
    assert Review(rule, res, _passes(0.25)).holds(rule)          # 0.25 * 100 == 25: holds
    assert not Review(rule, res, _passes(0.5)).holds(rule)       # passes, but only 50x closer
    assert not Review(rule, res, _passes(0.5)).holds(rule, strict=False)


def test_a_correction_must_be_within_the_checks_own_tolerance() -> None:
    """Defect: the correction judged by the looser tolerance its own re-check got (a conditioned
    draw), so a near miss is called a fix. The boundary (exactly the tolerance) holds."""
    rule = _rule()
    res = _result(1e6, 1.0)
    assert Review(rule, res, _passes(1.0, tolerance=100.0)).holds(rule)
    assert not Review(rule, res, _passes(2.0, tolerance=100.0)).holds(rule)
    # a shape slip's correction needs only to pass its own check
    assert Review(rule, res, _passes(2.0, tolerance=100.0)).holds(rule, strict=False)
    assert not Review(rule, res, _passes(200.0, tolerance=100.0)).holds(rule, strict=False)


def test_a_failed_check_with_tolerance_zero_uses_the_rechecks_tolerance() -> None:
    """Defect: a check that failed before any comparison (tolerance 0, e.g. a wrong shape) makes
    every correction fail the strict bound."""
    rule = _rule()
    res = _result(math.inf, 0.0)
    assert Review(rule, res, _passes(1e-9, tolerance=1e-8)).holds(rule)
    assert not Review(rule, res, _passes(2e-8, tolerance=1e-8)).holds(rule)


def test_a_correction_must_pass_its_recheck() -> None:
    """Defect: a correction whose re-check failed (or was inconclusive) is taken for a fix
    because its error happens to be small."""
    rule = _rule()
    failing = Script(lambda r, seed: _result(0.0, 1.0, passed=False, seed=seed))
    assert not Review(rule, _result(1e6, 1.0), failing).holds(rule)


def test_a_correction_is_rechecked_at_the_checks_seed_and_the_next() -> None:
    """Defect: the second draw skipped or taken at the wrong seed (a correction that holds at one
    draw by chance is given), including the wrap-around at SEED_LIMIT."""
    rule = _rule()
    for seed, second in ((3, 4), (SEED_LIMIT - 1, 0)):
        script = _passes(0.0)
        assert Review(rule, _result(1e6, 1.0, seed=seed), script).holds(rule)
        assert [s for _, s in script.calls] == [seed, second]
        assert all(r is rule for r, _ in script.calls)
    only_first = Script(lambda r, seed: _result(0.0, 1.0, passed=seed == 3, seed=seed))
    assert not Review(rule, _result(1e6, 1.0, seed=3), only_first).holds(rule)
    only_second = Script(lambda r, seed: _result(0.0, 1.0, passed=seed == 4, seed=seed))
    assert not Review(rule, _result(1e6, 1.0, seed=3), only_second).holds(rule)


@pytest.mark.parametrize("error", [MatcalcError, RuntimeError, TypeError, ValueError, IndexError])
def test_a_correction_that_cannot_be_rechecked_does_not_hold(error: type[Exception]) -> None:
    """Defect: a correction whose re-check raises (its shapes do not fit, f refuses it) is given
    as a hint, or the error escapes the diagnosis and turns a failed check into a crash."""
    def boom(rule: mc.Rule, seed: int) -> Result:
        raise error("no")

    rule = _rule()
    assert not Review(rule, _result(1e6, 1.0), Script(boom)).holds(rule)


# ---- review: which hints are kept, and when the exploration stops ------------------------------


def _fix_hint(value: float | None = None) -> Hint:
    return Hint("off by a factor of 2", {"factor"}, fix=lambda r: r, value=value)


def test_a_plain_hint_is_kept_and_a_passed_check_is_not_explored() -> None:
    """Defect: the review explores (re-checks structures, swaps) a check that did not fail, or
    drops a hint that proposes nothing to verify."""
    script = _passes(0.0)
    res = _result(0.0, 1.0, passed=True, hints=["a plain hint"])
    assert review(_rule(), res, script) == ["a plain hint"]
    assert script.calls == []


def test_a_correction_is_given_only_when_far_and_holding() -> None:
    """Defect: a correcting hint given without its re-check, or given for a near miss."""
    holding, failing = _passes(0.0), Script(lambda r, s: _result(5.0, 1.0, seed=s))
    far = _result(1e6, 1.0, hints=[_fix_hint()], mismatch=object())
    near = _result(50.0, 1.0, hints=[_fix_hint()], mismatch=object())
    assert review(_rule(), far, holding, structures=False) == ["off by a factor of 2"]
    assert review(_rule(), near, holding, structures=False) == []
    assert review(_rule(), far, failing, structures=False) == []


def test_a_verified_correction_ends_the_review() -> None:
    """Defect: after a verified correction the review still explores structures and swaps (extra
    re-checks, and a second hint that contradicts the first)."""
    script = _passes(0.0)
    res = _result(1e6, 1.0, hints=[_fix_hint()], true_shape=(3, 3), claim_shape=(3, 3),
                  counterexample={"x": torch.ones(3), "A": torch.eye(3)})
    assert review(_rule(), res, script) == ["off by a factor of 2"]
    assert len(script.calls) == 2


def test_a_factor_that_changes_with_the_draw_is_named_as_a_wrong_normalization() -> None:
    """Defect: a factor hint that did not hold is dropped although the factor itself varies with
    the draw (the class "scale"), or is given although it repeats, or for a single-number truth
    (a single number is a multiple of any other), or when the second draw passes."""
    def second(factor: float, passed: bool = False) -> Script:
        return Script(lambda r, s: _result(1e6, 1.0, passed=passed, seed=s,
                                           hints=[Hint("f", {"factor"}, value=factor)]))

    def res(shape: tuple[int, ...]) -> Result:
        return _result(1e6, 1.0, hints=[Hint("off by 2", {"factor"}, fix=lambda r: r, value=2.0)],
                       true_shape=shape, mismatch=object())

    # the fix's re-check fails (the second seed's error is not small), so the factor is examined
    found = review(_rule(), res((3, 3)), second(3.0), structures=False)
    assert found == ["off by a factor of 2 at this draw and 3 at another: a multiple of the truth by a "
                     "factor that depends on the inputs (a wrong normalization?)"]
    assert found[0].kinds == {"scale"}
    rule, s3 = _rule(), second(3.0)
    review(rule, res((3, 3)), s3, structures=False)
    assert s3.calls[-1] == (rule, 4)  # the claim itself, at the next seed
    assert review(_rule(), res((3, 3)), second(2.0 * (1 + 1e-7)), structures=False) == []
    assert review(_rule(), res((3, 3)), second(2.0 * (1 + 1e-5)), structures=False) != []
    assert review(_rule(), res((1,)), second(3.0), structures=False) == []
    assert review(_rule(), res((2,)), second(3.0), structures=False) != []
    assert review(_rule(), res((3, 3)), second(3.0, passed=True), structures=False) == []
    # "repeats" is within 1e-6 relative, boundary included: 1e6 and 1e6 + 1 are the same factor
    big = _result(1e6, 1.0, hints=[Hint("off", {"factor"}, fix=lambda r: r, value=1e6)], true_shape=(3, 3),
                  mismatch=object())
    assert review(_rule(), big, second(1e6 + 1), structures=False) == []
    assert review(_rule(), big, second(1e6 + 2), structures=False) != []
    # the second draw's first factor hint counts, whatever hints without a factor come before it
    mixed = Script(lambda r, s: _result(1e6, 1.0, seed=s, hints=["plain", Hint("no value", {"sign"}),
                                                                 Hint("f", {"factor"}, value=3.0)]))
    assert len(review(_rule(), res((3, 3)), mixed, structures=False)) == 1


def test_a_factor_without_a_value_is_not_examined() -> None:
    """Defect: a correcting hint without a factor value sent to the factor check."""
    script = Script(lambda r, s: _result(1e6, 1.0, seed=s, hints=[Hint("f", {"factor"}, value=3.0)]))
    res = _result(1e6, 1.0, hints=[_fix_hint(None)], true_shape=(3, 3), mismatch=object())
    assert review(_rule(), res, script, structures=False) == []


def test_a_matrix_free_claim_is_not_explored() -> None:
    """Defect: a claim checked through its jvp/vjp by probe or Taylor is re-checked as a
    materialized claim (which proves nothing about the jvp)."""
    rule = _rule(jvp=lambda x, A, dx: A @ dx)
    for oracle, explored in (("probe", False), ("taylor", False), ("jacobian", True)):
        script = _passes(0.0)
        res = _result(1e6, 1.0, oracle=oracle, true_shape=(3, 3), claim_shape=(3, 3),
                      counterexample={"x": torch.ones(3), "A": torch.eye(3)})
        review(rule, res, script)
        assert bool(script.calls) is explored, oracle


def test_a_near_miss_is_not_explored() -> None:
    """Defect: structures and swaps explored for an error within FAR tolerances."""
    script = _passes(0.0)
    res = _result(50.0, 1.0, true_shape=(3, 3), claim_shape=(3, 3),
                  counterexample={"x": torch.ones(3), "A": torch.eye(3)})
    assert review(_rule(), res, script) == []
    assert script.calls == []


def test_the_exploration_is_skipped_when_asked_or_when_the_inputs_are_huge() -> None:
    """Defect: ``structures=False`` ignored, or a check over more than EXPLORE_MAX_NUMEL input
    elements re-run for every structure."""
    from matcalc.diagnosis.review import EXPLORE_MAX_NUMEL
    holding = _passes(0.0)
    res = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                  counterexample={"x": torch.ones(3), "A": torch.eye(3)})
    assert review(_rule(), res, holding, structures=False) == []
    assert holding.calls == []
    hint = review(_rule(), res, holding)
    assert hint and hint[0].kinds == {"symmetric:A"}
    big = {"x": torch.zeros(EXPLORE_MAX_NUMEL - 9), "A": torch.zeros(3, 3)}  # exactly the limit
    at_limit = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(), counterexample=big)
    assert review(_rule(), at_limit, _passes(0.0))
    over = {"x": torch.zeros(EXPLORE_MAX_NUMEL - 8), "A": torch.zeros(3, 3)}  # one past it
    past = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(), counterexample=over)
    assert review(_rule(), past, _passes(0.0)) == []


def test_stricter_structures_are_tried_in_order_and_named() -> None:
    """Defect: the stricter structures tried in the wrong order (diagonal before symmetric names
    a narrower need than the claim has), or the hint names the wrong structure or input."""
    tried: list[str] = []

    def answer(rule: mc.Rule, seed: int) -> Result:
        s = rule.inputs["A"].structure
        tried.append(s)
        return _result(0.0, 1.0, passed=s == "diagonal", seed=seed)

    res = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                  counterexample={"x": torch.ones(3), "A": torch.eye(3)})
    hint = review(_rule(), res, Script(answer))
    assert hint == ["holds when A is diagonal, fails for general A"] and hint[0].kinds == {"diagonal:A"}
    assert list(dict.fromkeys(tried)) == ["symmetric", "spd", "diagonal"]
    inv = _rule(inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n", structure="invertible")})
    tried.clear()
    hint = review(inv, res, Script(answer))
    assert list(dict.fromkeys(tried)) == ["spd", "diagonal"]
    assert hint == ["holds when A is diagonal, fails for invertible A"]


def test_swapped_inputs_are_named_only_for_inputs_of_one_shape() -> None:
    """Defect: inputs of different shapes swapped (a crash or a meaningless hint), a pair of one
    shape skipped because a pair of different shapes came first, the swap applied to the wrong
    arguments, or the swapped rule keeping the claim's jvp/vjp/fast forms (which still carry the
    mistake, so the swapped rule's re-check judges them too)."""
    inputs = {"A": mc.matrix("n", "n"), "x": mc.vector("n"), "B": mc.matrix("n", "n")}
    rule = _rule(f=lambda A, B, x: A @ B @ x, derivative=lambda A, B, x: A @ B, inputs=inputs,
                 jvp=lambda A, B, x, dx: A @ B @ dx, vjp=lambda A, B, x, u: u @ A @ B)
    A, B, x = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64), torch.ones(3)

    def answer(r: mc.Rule, seed: int) -> Result:
        if any(r.inputs[n].structure != "general" for n in ("A", "B")):
            return _result(1.0, 1e-9, seed=seed)
        forms_gone = r.jvp is None and r.vjp is None and r.fast is None
        ok = forms_gone and torch.equal(r.derivative(A=A, B=B, x=x), B @ A)
        return _result(0.0, 1.0, passed=ok, seed=seed)

    res = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                  counterexample={"A": A, "B": B, "x": x})
    hint = review(rule, res, Script(answer))
    assert hint == ["matches with A and B swapped in the claim"] and hint[0].kinds == {"swap"}
    fast = dataclasses.replace(rule, jvp=None, vjp=None, fast=lambda A, B, x: A @ B)
    assert review(fast, res, Script(answer)) == ["matches with A and B swapped in the claim"]
    # the pair of one shape next to each other
    adjacent = dataclasses.replace(rule, inputs={"x": inputs["x"], "A": inputs["A"], "B": inputs["B"]})
    assert review(adjacent, res, Script(answer)) == ["matches with A and B swapped in the claim"]


def test_only_square_general_or_invertible_matrices_are_given_stricter_structures() -> None:
    """Defect: a rectangular matrix re-drawn as symmetric (no such matrix), or an input whose
    structure has nothing stricter to try (spd, diagonal) sent to the stricter structures."""
    rect = {"x": mc.vector("n"), "A": mc.matrix("m", "n")}
    for A_dom in (mc.matrix("m", "n"), mc.matrix("n", "n", structure="spd"),
                  mc.matrix("n", "n", structure="diagonal")):
        rule = _rule(inputs={**rect, "A": A_dom})
        script = _passes_when(lambda r: True)
        res = _result(1e6, 1.0, true_shape=(2, 3), claim_shape=(2, 3), mismatch=object(), counterexample=CEX)
        assert review(rule, res, script) == [], A_dom
        assert script.calls == []


def test_the_swap_closure_swaps_even_inputs_named_a_and_b() -> None:
    """Defect: the swap bound through default arguments named like the rule's inputs."""
    from matcalc.diagnosis.review import _swapped
    d = _swapped(lambda a, b: a - b, "a", "b")
    assert d(a=torch.tensor(1.0), b=torch.tensor(3.0)) == 2.0


# ---- a claim of the wrong shape: the fixes a shape slip suggests, re-checked ------------------

XA_RECT = {"x": mc.vector("n"), "A": mc.matrix("m", "n")}
CEX = {"x": torch.ones(3, dtype=torch.float64), "A": torch.ones(2, 3, dtype=torch.float64)}


def _shape_result(claim: tuple[int, ...], true: tuple[int, ...], **kw) -> Result:  # type: ignore[no-untyped-def]
    return _result(math.inf, 0.0, claim_shape=claim, true_shape=true, counterexample=kw.pop("cex", CEX), **kw)


def _passes_when(ok: Callable[[mc.Rule], bool]) -> Script:
    return Script(lambda r, s: _result(0.0, 1.0, passed=ok(r), seed=s))


def _shaped(declared: tuple[int, ...]) -> Callable[[mc.Rule], bool]:
    return lambda r: tuple(r.derivative(**CEX).shape) == declared


def test_a_claim_in_the_other_layout_is_told_to_declare_it() -> None:
    """Defect: the other layout not proposed (or proposed for the wrong shapes) when the claim has
    wrt.shape + f.shape where the declared layout wants f.shape + wrt.shape, or the reverse."""
    num = _rule(derivative=lambda x, A: A.T, inputs=XA_RECT)
    hint = review(num, _shape_result((3, 2), (2, 3)), _passes_when(lambda r: r.layout == "denominator"))
    assert len(hint) == 1 and hint[0].kinds == {"transpose", "layout"} and "denominator" in hint[0]
    den = _rule(derivative=lambda x, A: A, inputs=XA_RECT, layout="denominator")
    hint = review(den, _shape_result((2, 3), (3, 2)), _passes_when(lambda r: r.layout == "numerator"))
    assert len(hint) == 1 and "layout" in hint[0].kinds and "numerator" in hint[0]


def test_a_transposed_diagonal_or_flat_claim_gets_its_fix() -> None:
    """Defect: a shape slip's fix (transpose, torch.diag, reshape) not proposed, proposed for the
    wrong shapes, or given without its re-check passing."""
    square = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    cex = {"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}

    def shaped(declared: tuple[int, ...], c: dict[str, torch.Tensor] = CEX) -> Callable[[mc.Rule], bool]:
        return lambda r: tuple(r.derivative(**c).shape) == declared

    # a transpose of a matrix-valued claim whose declared shape is not a layout swap
    mat = {"X": mc.matrix("m", "n")}
    cx = {"X": torch.ones(2, 3, dtype=torch.float64)}
    rule = mc.Rule(name="c", f=lambda X: X.sum(), derivative=lambda X: X.T, wrt="X", inputs=mat)
    hint = review(rule, _shape_result((3, 2), (2, 3), cex=cx), _passes_when(shaped((2, 3), cx)))
    assert hint == ["matches the transpose: the claim is transposed"] and hint[0].kinds == {"transpose"}
    # a vector where a diagonal Jacobian belongs
    rule = _rule(f=lambda x, A: x * 2, derivative=lambda x, A: 2 * torch.ones_like(x), inputs=square)
    hint = review(rule, _shape_result((3,), (3, 3), cex=cex), _passes_when(shaped((3, 3), cex)))
    assert len(hint) == 1 and hint[0].kinds == {"diag_vector"}
    fixed_value = None

    def diag_ok(r: mc.Rule) -> bool:
        nonlocal fixed_value
        fixed_value = r.derivative(**cex)
        return True

    review(rule, _shape_result((3,), (3, 3), cex=cex), _passes_when(diag_ok))
    assert fixed_value is not None and torch.equal(fixed_value, 2 * torch.eye(3, dtype=torch.float64))
    # the right values, flat
    rule = _rule(derivative=lambda x, A: A.reshape(-1), inputs=XA_RECT)
    hint = review(rule, _shape_result((6,), (2, 3)), _passes_when(_shaped((2, 3))))
    assert hint == ["right values in the wrong shape: reshape to (2, 3)"] and hint[0].kinds == {"reshape"}
    # no fix that passes: no hint
    assert review(rule, _shape_result((6,), (2, 3)), _passes_when(lambda r: False)) == []
    # sizes that no fix can reconcile: no re-check at all
    never = _passes_when(lambda r: True)
    assert review(rule, _shape_result((5,), (2, 3)), never) == [] and never.calls == []


def test_a_differential_shape_slip_is_fixed_by_a_reshape_of_df() -> None:
    """Defect: a differential claim's shape read as a Jacobian's (out + wrt), so its fixes are
    proposed for the wrong sizes."""
    rule = _rule(kind="differential", f=lambda x, A: A @ x, derivative=lambda x, A, dx: (A @ dx).reshape(2, 1),
                 inputs=XA_RECT)
    hint = review(rule, _shape_result((2, 1), (2,)), _passes_when(lambda r: True))
    assert hint == ["right values in the wrong shape: reshape to (2,)"]


def test_a_shape_slip_already_named_is_not_rechecked() -> None:
    """Defect: a shape slip the oracle already named (a whole-Jacobian oracle sees the truth) is
    re-checked and named twice, or the re-check runs without a sample."""
    rule = _rule(derivative=lambda x, A: A.reshape(-1), inputs=XA_RECT)
    named = Hint("matches the transpose", {"transpose"})
    script = _passes_when(lambda r: True)
    assert review(rule, _shape_result((6,), (2, 3), hints=[named]), script) == [named]
    assert script.calls == []
    res = _result(math.inf, 0.0, claim_shape=(6,), true_shape=(2, 3))
    assert review(rule, res, script) == [] and script.calls == []


def test_a_corrected_rule_drops_the_claims_matrix_free_forms() -> None:
    """Defect: a corrected rule keeps the claim's jvp/vjp/fast forms, which still carry the
    mistake, so the re-check of the correction fails (or checks the wrong thing)."""
    from matcalc.diagnosis.review import _with
    rule = _rule(jvp=lambda x, A, dx: A @ dx, vjp=lambda x, A, u: u @ A, fast=lambda x, A: A)
    fixed = _with(rule, lambda t: 3 * t)
    assert fixed.jvp is None and fixed.vjp is None and fixed.fast is None
    assert torch.equal(fixed.derivative(**CEX), 3 * torch.ones(2, 3, dtype=torch.float64))


# ---- transposes the oracle could not see (probe, Taylor: no entry statistics) -----------------


def _unseen(rule_inputs: dict[str, torch.Tensor], shape: tuple[int, ...], **kw) -> Result:  # type: ignore[no-untyped-def]
    return _result(1e6, 1.0, claim_shape=shape, true_shape=shape, counterexample=rule_inputs, oracle="probe", **kw)


def test_a_transposed_square_jacobian_is_told_its_layout() -> None:
    """Defect: without entry statistics (mismatch None) the transposes are not re-checked, or
    are re-checked for a result without a sample (a crash), or with the wrong split of the true
    shape into f's shape and the input's."""
    square = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    cex = {"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    rule = _rule(inputs=square)
    hint = review(rule, _unseen(cex, (3, 3)), _passes_when(lambda r: r.layout == "denominator"))
    assert hint == ["matches the transpose: is this denominator layout? (declare layout='denominator')"]
    assert hint[0].kinds == {"transpose", "layout"}
    # no sample: nothing to re-check the transposes at
    script = _passes_when(lambda r: r.layout == "denominator")
    assert review(rule, _result(1e6, 1.0, claim_shape=(3, 3), true_shape=(3, 3), oracle="probe"), script) == []
    # with entry statistics the oracle has named what it saw: no transposes re-checked
    script = _passes_when(lambda r: r.layout == "denominator")
    assert review(rule, _unseen(cex, (3, 3), mismatch=object()), script) == []


def test_a_true_shape_that_does_not_end_with_the_input_is_not_transposed() -> None:
    """Defect: a truth whose shape does not end with the input's (denominator layout: wrt + out)
    split as if it did, which proposes a transpose of the wrong axes."""
    mat = {"X": mc.matrix(2, 2)}
    cex = {"X": torch.eye(2, dtype=torch.float64)}
    rule = mc.Rule(name="c", f=lambda X: X.sum(0).repeat(2)[:3], derivative=lambda X: torch.ones(2, 2, 3),
                   wrt="X", inputs=mat, layout="denominator")
    hint = review(rule, _unseen(cex, (2, 2, 3)), _passes_when(lambda r: True))
    assert hint == ["holds when X is symmetric, fails for general X"]


def test_a_transposed_square_differential_is_named() -> None:
    """Defect: a differential claim's transpose not re-checked, or re-checked for a df that is not
    square (or a single entry, which is its own transpose)."""
    square = {"X": mc.matrix("n", "n")}
    cex = {"X": torch.eye(3, dtype=torch.float64)}
    rule = mc.Rule(name="d", f=lambda X: X @ X, derivative=lambda X, dX: (X @ dX + dX @ X).mT, wrt="X",
                   inputs=square, kind="differential")
    g = torch.Generator().manual_seed(5)
    X0, E0 = torch.randn(3, 3, generator=g, dtype=torch.float64), torch.randn(3, 3, generator=g, dtype=torch.float64)

    def right(r: mc.Rule) -> bool:  # the corrected claim is the true df at a nonsymmetric sample
        return torch.allclose(r.derivative(X=X0, dX=E0), X0 @ E0 + E0 @ X0, rtol=1e-14, atol=0)

    for shape in ((3, 3), (2, 2)):
        hint = review(rule, _unseen(cex, shape), _passes_when(right), structures=False)
        assert hint == ["matches the transpose: the claimed df is transposed"] and hint[0].kinds == {"transpose"}
    for shape in ((1, 1), (3,), (2, 3)):
        script = _passes_when(lambda r: True)
        assert review(rule, _unseen(cex, shape), script, structures=False) == [], shape


# ---- a kink at the sample, and results the review cannot read --------------------------------


def test_a_kink_at_the_sample_is_named_instead_of_a_structure() -> None:
    """Defect: a claim failing at a kink of f (relu at 0) is sent to the structure and swap
    re-checks, which name a structure it does not need, instead of being told f is not
    differentiable there; or a kink is looked for in the wrong input or with no sample."""
    square = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    rule = _rule(f=lambda x, A: A @ torch.relu(x), derivative=lambda x, A: A, inputs=square)
    at_kink = {"x": torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    script = _passes_when(lambda r: True)
    hint = review(rule, _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                                counterexample=at_kink, hints=["kept"]), script)
    assert hint[0] == "kept" and len(hint) == 2 and hint[1].kinds == {"kink"}
    assert hint[1] == ("f is not differentiable at the sample: one-sided differences of f along a direction "
                       "disagree (a kink, e.g. relu or abs at 0): any claim there is one choice of "
                       "subgradient; check at another seed")
    assert script.calls == []
    smooth = {"x": torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    hint = review(rule, _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                                counterexample=smooth), _passes_when(lambda r: True))
    assert hint and hint[0].kinds == {"symmetric:A"}


def test_a_hessian_rule_is_not_blamed_on_a_kink() -> None:
    """Defect: a Hessian rule (whose f is a scalar with its own second-order checks) told that f
    has a kink."""
    rule = mc.Rule(name="h", f=lambda x: torch.relu(x).sum(), derivative=lambda x: torch.eye(3), wrt="x",
                   inputs={"x": mc.vector("n")}, kind="hessian")
    at_kink = {"x": torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)}
    res = _result(1e6, 1.0, true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(), counterexample=at_kink)
    assert review(rule, res, _passes_when(lambda r: True)) == []


def test_a_result_without_a_true_shape_is_not_a_shape_slip() -> None:
    """Defect: a result whose truth has no shape (the truth was never computed) read as a shape
    slip, which crashes the review."""
    res = _result(1e6, 1.0, claim_shape=(3, 3), mismatch=object())
    assert review(_rule(), res, _passes_when(lambda r: False)) == []


def test_a_rule_without_matrix_free_forms_is_explored_under_every_oracle() -> None:
    """Defect: a rule with a materialized claim only is taken for a matrix-free one under probe or
    Taylor, so its failure is never re-checked."""
    square = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    cex = {"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    for rule in (_rule(inputs=square), _rule(inputs=square, vjp=lambda x, A, u: u @ A)):
        res = _result(1e6, 1.0, oracle="taylor", true_shape=(3, 3), claim_shape=(3, 3), mismatch=object(),
                      counterexample=cex)
        script = _passes_when(lambda r: True)
        review(rule, res, script)
        assert bool(script.calls) is (rule.vjp is None)


def test_a_transposed_gradient_of_a_scalar_is_named() -> None:
    """Defect: for a scalar f of a matrix (true shape = the input's shape, no output axes) the
    transpose is not re-checked, or f's shape is split off wrongly."""
    mat = {"X": mc.matrix("n", "n"), "A": mc.matrix("n", "n")}
    g = torch.Generator().manual_seed(4)
    X0, A0 = torch.randn(3, 3, generator=g, dtype=torch.float64), torch.randn(3, 3, generator=g, dtype=torch.float64)
    rule = mc.Rule(name="tr", f=lambda X, A: torch.trace(A @ X), derivative=lambda X, A: A, wrt="X", inputs=mat)

    def right(r: mc.Rule) -> bool:
        return torch.equal(r.derivative(X=X0, A=A0), A0.T)

    hint = review(rule, _unseen({"X": X0, "A": A0}, (3, 3)), _passes_when(right), structures=False)
    assert hint == ["matches the transpose: the claim is transposed"]


def test_a_probe_result_without_a_true_shape_is_not_transposed() -> None:
    """Defect: a result whose truth has no shape sent to the transpose re-checks (a crash)."""
    cex = {"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    res = _result(1e6, 1.0, counterexample=cex, oracle="probe")  # neither shape known
    assert review(_rule(inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")}), res,
                  _passes_when(lambda r: False)) == []


def test_the_correction_rechecked_is_the_hints_fix_of_the_rule() -> None:
    """Defect: the hint's correction re-checked as another rule than ``fix(rule)`` (the claim
    itself, or nothing), so a hint is given for a correction nobody checked."""
    def fix(r: mc.Rule) -> mc.Rule:
        return dataclasses.replace(r, name="fixed")

    hint = Hint("off by a factor of 2", {"factor"}, fix=fix)
    res = _result(1e6, 1.0, hints=[hint], mismatch=object())
    seen: list[str] = []

    def answer(r: mc.Rule, seed: int) -> Result:
        seen.append(r.name)
        return _result(0.0, 1.0, passed=r.name == "fixed", seed=seed)

    assert review(_rule(), res, Script(answer), structures=False) == ["off by a factor of 2"]
    assert seen == ["fixed", "fixed"]


def test_a_factor_that_varies_ends_the_review() -> None:
    """Defect: after naming a factor that varies with the draw, the review still explores
    structures and swaps, and adds a hint that contradicts it."""
    rule = _rule(inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")})

    def answer(r: mc.Rule, seed: int) -> Result:
        if r is rule:  # the claim itself fails again, by another factor
            return _result(1e6, 1.0, seed=seed, hints=[Hint("f", {"factor"}, value=3.0)])
        return _result(0.0, 1.0, passed=True, seed=seed)  # any structure or swap would "hold"

    res = _result(1e6, 1.0, hints=[Hint("off by 2", {"factor"}, fix=lambda r: r, value=2.0)], true_shape=(3, 3),
                  claim_shape=(3, 3), mismatch=object(),
                  counterexample={"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)})
    found = review(rule, res, Script(answer))
    assert len(found) == 1 and found[0].kinds == {"scale"}


def test_a_transpose_of_the_last_two_axes_of_a_many_axis_claim_is_named_first() -> None:
    """Defect: the transpose candidate compares the wrong axes of a claim with more than two (the
    leading axes dropped or the last one misread), so the vaguer reshape hint is given instead."""
    mat = {"X": mc.matrix(2, 3)}
    cx = {"X": torch.ones(2, 3, dtype=torch.float64)}
    rule = mc.Rule(name="c", f=lambda X: 2 * X, derivative=lambda X: torch.zeros(2, 3, 3, 2), wrt="X", inputs=mat)

    def shaped(r: mc.Rule) -> bool:
        return tuple(r.derivative(**cx).shape) == (2, 3, 2, 3)

    hint = review(rule, _shape_result((2, 3, 3, 2), (2, 3, 2, 3), cex=cx), _passes_when(shaped))
    assert hint == ["matches the transpose: the claim is transposed"]


def test_the_diag_hint_says_how_to_fix_it() -> None:
    """Defect: the torch.diag hint's text garbled."""
    square = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
    cex = {"x": torch.ones(3, dtype=torch.float64), "A": torch.eye(3, dtype=torch.float64)}
    rule = _rule(f=lambda x, A: x * 2, derivative=lambda x, A: 2 * torch.ones_like(x), inputs=square)
    hint = review(rule, _shape_result((3,), (3, 3), cex=cex), _passes_when(lambda r: True))
    assert hint == ["a vector where a diagonal Jacobian belongs: wrap it in torch.diag(...)"]


def test_a_shape_fix_needs_only_to_pass_its_own_check() -> None:
    """Defect: a shape slip's fix held to the failed check's tolerance (a shape failure has a
    tolerance, but its error is no near miss: there was no comparison), so a fix that passes
    its own, conditioned, check is not given."""
    rule = _rule(derivative=lambda x, A: A.reshape(-1), inputs=XA_RECT)
    res = _result(math.inf, 1e-9, claim_shape=(6,), true_shape=(2, 3), counterexample=CEX)
    hint = review(rule, res, Script(lambda r, s: _result(5e-9, 1e-7, passed=True, seed=s)))
    assert hint == ["right values in the wrong shape: reshape to (2, 3)"]


def test_a_batch_of_square_differentials_is_transposed_on_its_last_two_axes() -> None:
    """Defect: the squareness of a df with leading axes read from the wrong axis."""
    rule = mc.Rule(name="d", f=lambda X: X, derivative=lambda X, dX: dX, wrt="X", inputs={"X": mc.matrix("n", "n")},
                   kind="differential")
    cex = {"X": torch.eye(3, dtype=torch.float64)}
    script = _passes_when(lambda r: r.derivative is not rule.derivative)
    hint = review(rule, _unseen(cex, (1, 2, 3, 3)), script, structures=False)
    assert hint == ["matches the transpose: the claimed df is transposed"]
