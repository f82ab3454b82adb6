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


def test_words_name_a_claim() -> None:
    results = assert_derivative(lambda X: torch.trace(X), lambda X: torch.eye(X.shape[0], dtype=X.dtype),
                                wrt="X", inputs={"X": mc.matrix("n", "n")}, name="d tr(X)/dX = I")
    assert [r.rule for r in results] == ["d tr(X)/dX = I"] * 3


@pytest.mark.parametrize("seeds", [[], range(0), iter(())])
def test_checking_nothing_is_misuse(seeds) -> None:
    with pytest.raises(mc.MatcalcError, match=r"seeds is empty.*seeds=range"):
        assert_derivative(lambda x: x @ x, lambda x: 3 * x, wrt="x", inputs={"x": mc.vector("n")}, seeds=seeds)
    with pytest.raises(mc.MatcalcError, match="seeds is empty"):
        assert_rule(RULES["quadratic_form"], seeds=seeds)


def test_parametrize_rules_ids_and_skips() -> None:
    import matcalc.catalog.seed as seed
    from matcalc.testing import parametrize_rules

    mark = parametrize_rules(seed, dtypes=["float64", torch.float32], devices=["cpu", "cuda"])
    ids = mark.kwargs["ids"]
    assert len(ids) == len(seed.RULES) * 2 * 2 == len(set(ids))
    assert "quadratic_form-float32-cuda" in ids and "linear_map-float64-cpu" in ids
    cuda_marks = [p.marks for p in mark.args[1] if p.values[2] == "cuda"]
    assert all(m and m[0].name == "skipif" for m in cuda_marks)
    with pytest.raises(mc.MatcalcError, match="unknown device 'tpu'"):
        parametrize_rules(seed, devices=["tpu"])
    with pytest.raises(mc.MatcalcError, match=r"holds no matcalc\.Rule"):
        parametrize_rules(pytest)


USER_SUITE = '''
import torch
import matcalc as mc
import my_rules
from matcalc.testing import assert_derivative, assert_rule, parametrize_rules


@parametrize_rules(my_rules, dtypes=["float64", "float32"], devices=["cpu"])
def test_my_rules(rule, dtype, device):
    assert_rule(rule, dtype=dtype, device=device)


def test_wrong_gradient():
    assert_derivative(lambda x, A: x @ A @ x, lambda x, A: 2 * A @ x, wrt="x",
                      inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")}, name="d(xᵀAx)/dx = 2Ax")
'''

USER_RULES = '''
import matcalc as mc

trace = mc.Rule(name="d tr(X)/dX = I", f=lambda X: X.diagonal().sum(),
                derivative=lambda X: X.new_ones(X.shape[0]).diag(), wrt="X", inputs={"X": mc.matrix("n", "n")})
square = mc.Rule(name="square", f=lambda x: x @ x, derivative=lambda x: 2 * x, wrt="x",
                 inputs={"x": mc.vector("n")})
'''


def test_users_suite_is_parametrized_and_failures_are_short(tmp_path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "my_rules.py").write_text(USER_RULES)
    (tmp_path / "test_user.py").write_text(USER_SUITE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-o", "addopts=",
                           "test_user.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out
    for test_id in ("d tr(X)/dX = I-float64-cpu", "d tr(X)/dX = I-float32-cpu", "square-float64-cpu", "square-float32-cpu"):
        assert f"test_my_rules[{test_id}] PASSED" in out, out
    assert "test_wrong_gradient FAILED" in out
    failure = out.split("_ test_wrong_gradient _")[1].split("short test summary")[0]
    assert "holds when A is symmetric, fails for general A" in failure
    assert "matcalc/testing.py" not in failure and "matcalc/engine/check.py" not in failure, failure
    assert len(failure.splitlines()) < 30, failure
