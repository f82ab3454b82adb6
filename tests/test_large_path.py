"""The large-input path of a check (inputs over guards.SMALL_BYTES: no private copies, version
counters instead, f evaluated once and, under the jacobian oracle, its one evaluation reused for
the reference Jacobian), forced here at small sizes by lowering the threshold."""

from __future__ import annotations

import importlib

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES

QUAD_INPUTS = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}


def _force_large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # the engine first: importing it after guards is patched would copy the patched 0, and
    # monkeypatch would then "restore" 0 for the tests that follow
    monkeypatch.setattr(importlib.import_module("matcalc.engine.check"), "SMALL_BYTES", 0)
    monkeypatch.setattr(importlib.import_module("matcalc.core.guards"), "SMALL_BYTES", 0)
    monkeypatch.setattr(importlib.import_module("matcalc.core.guards"), "COPY_BYTES", 0)


@pytest.fixture
def large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    _force_large_path(monkeypatch)


def _quad(f, derivative) -> mc.Rule:  # type: ignore[no-untyped-def]
    return mc.Rule(name="quad", f=f, derivative=derivative, wrt="x", inputs=QUAD_INPUTS)


SAMPLE = ["linear_map", "quadratic_form", "squared_norm_gradient", "norm_gradient",
          "elementwise_exp", "course_row_vector_times_matrix"]


@pytest.mark.parametrize("name", SAMPLE)
@pytest.mark.parametrize("oracle", ["jacobian", "auto"])
def test_catalog_rules_pass_on_the_large_path(large_path: None, name: str, oracle: str) -> None:
    res = mc.check(RULES[name], oracle=oracle)
    assert res.passed, res.message


@pytest.mark.parametrize("name", [n for n, r in RULES.items() if r.refuted][:6])
def test_errata_fail_on_the_large_path(large_path: None, name: str) -> None:
    res = mc.check(RULES[name], oracle="jacobian")
    assert not res.passed


def test_one_forward_gives_the_same_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    rule = _quad(lambda x, A: x @ A @ x, lambda x, A: 2 * A @ x)   # wrong for non-symmetric A
    small = mc.check(rule, oracle="jacobian", sizes={"n": 6}, seed=3)
    _force_large_path(monkeypatch)
    large = mc.check(rule, oracle="jacobian", sizes={"n": 6}, seed=3)
    assert not small.passed and not large.passed
    assert large.error == pytest.approx(small.error, rel=1e-12)


def test_the_reference_jacobian_reuses_f(large_path: None) -> None:
    """f's one evaluation with a graph serves both its value and the reference Jacobian (the
    finite-difference confirmation of the truth evaluates f without a graph, on purpose)."""
    calls = []

    def f(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        # the planner's shape-only evaluation is not a pass over x
        if x.device.type != "meta" and x.requires_grad and torch.is_grad_enabled():
            calls.append(1)
        return x @ A @ x

    assert mc.check(_quad(f, lambda x, A: (A + A.T) @ x), oracle="jacobian", sizes={"n": 5}).passed
    assert len(calls) == 1


@pytest.mark.parametrize("mutate", [
    lambda x, A: x.mul_(2), lambda x, A: A.add_(1), lambda x, A: x.data.mul_(3),
    lambda x, A: A.data.mul_(3), lambda x, A: torch.mul(A, 2, out=A),
    lambda x, A: A.numpy().__imul__(2), lambda x, A: A.data.__setitem__((slice(None), 0), 0.0),
])
def test_in_place_changes_are_still_named(large_path: None, mutate) -> None:  # type: ignore[no-untyped-def]
    rule = _quad(lambda x, A: (mutate(x, A), x @ A @ x)[1], lambda x, A: (A + A.T) @ x)
    with pytest.raises(mc.MatcalcError, match=r"f changed its input '[xA]' in place"):
        mc.check(rule, oracle="jacobian")


def test_f_that_ignores_x_has_a_zero_jacobian(large_path: None) -> None:
    rule = _quad(lambda x, A: A.sum() + 0 * x.detach().sum(), lambda x, A: torch.zeros_like(x))
    assert mc.check(rule, oracle="jacobian").passed
    wrong = _quad(lambda x, A: A.sum() + 0 * x.detach().sum(), lambda x, A: torch.ones_like(x))
    assert not mc.check(wrong, oracle="jacobian").passed


def test_f_hiding_from_autograd_is_still_caught(large_path: None) -> None:
    rule = _quad(lambda x, A: x.detach() @ A @ x, lambda x, A: (A + A.T) @ x)
    with pytest.raises(mc.MatcalcError, match="finite differences"):
        mc.check(rule, oracle="jacobian")


def test_f_that_cannot_run_under_autograd_gets_the_oracles_hint(large_path: None) -> None:
    rule = _quad(lambda x, A: torch.as_tensor(x.numpy() @ A.numpy() @ x.numpy()),
                 lambda x, A: (A + A.T) @ x)
    with pytest.raises(mc.MatcalcError, match="oracle='taylor'"):
        mc.check(rule, oracle="jacobian")
    assert mc.check(rule, oracle="taylor").passed


def test_fingerprints_see_every_column() -> None:
    """A strided sample whose stride shares a factor with the row length skips whole columns."""
    from matcalc.core.guards import fingerprint

    t = torch.zeros(3000, 3000, dtype=torch.float64)
    before = fingerprint(t)
    for column in (0, 1, 2, 1499, 2999):
        t.zero_()
        t[:, column] = 1.0
        assert not torch.equal(fingerprint(t), before), column
