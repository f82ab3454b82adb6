"""matcalc.testing: assertions for users' own suites."""

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.testing import assert_derivative, assert_rule


def test_assert_derivative_passes_on_truth() -> None:
    results = assert_derivative(lambda X: torch.trace(X @ X), lambda X: 2 * X.T, wrt="X",
                                inputs={"X": mc.matrix("n", "n")}, seeds=range(4))
    assert len(results) == 4 and all(r.passed for r in results)


def test_assert_derivative_raises_with_diagnosis() -> None:
    with pytest.raises(AssertionError, match="holds when A is symmetric, fails for general A"):
        assert_derivative(lambda x, A: x @ A @ x, lambda x, A: 2 * A @ x, wrt="x",
                          inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")})


def test_assert_rule_expects_errata_to_fail() -> None:
    assert_rule(RULES["cookbook_95_printed"])
    assert_rule(RULES["cookbook_95_corrected"], dtype="float32", oracle="probe")
    cheat = mc.Rule(name="cheat", f=lambda x: x @ x, derivative=lambda x: 2 * x, wrt="x",
                    inputs={"x": mc.vector("n")}, refuted=True, flaw="not actually wrong")
    with pytest.raises(AssertionError, match="expected to fail"):
        assert_rule(cheat)
