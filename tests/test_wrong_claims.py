"""Wrong claims fail (never raise) and their messages say what differs and why."""

import math

import torch

import matcalc as mc

X_A = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}


def claim(name: str, f, derivative, wrt: str, inputs, **kw) -> mc.Result:
    rule = mc.Rule(name=name, f=f, derivative=derivative, wrt=wrt, inputs=inputs, **kw)
    return mc.check(rule, seed=3)


def test_2Ax_for_general_A_fails_and_names_symmetry() -> None:
    res = claim("twice_Ax", lambda x, A: x @ A @ x, lambda x, A: 2 * A @ x, "x", X_A)
    assert not res.passed and res.error > 1e-3
    assert "holds when A is symmetric, fails for general A" in str(res)
    assert set(res.counterexample) == {"x", "A"}
    assert "seed=3" in str(res)


def test_transposed_jacobian_of_Ax_fails_with_shapes_and_layout_hint() -> None:
    res = claim("AT", lambda x, A: A @ x, lambda x, A: A.T, "x", {"x": mc.vector("n"), "A": mc.matrix("m", "n")})
    assert not res.passed and math.isinf(res.error)
    text = str(res)
    assert "claim has shape (5, 3)" in text and "(3, 5)" in text
    assert "matches the transpose: is this denominator layout?" in text


def test_norm_gradient_over_squared_norm_fails_with_worst_entry() -> None:
    res = claim("bad_norm", lambda x: torch.linalg.vector_norm(x), lambda x: x / (x @ x), "x",
                {"x": mc.vector("n", nonzero=True)})
    assert not res.passed
    assert res.mismatch is not None and res.mismatch.count == 5
    assert "greatest absolute difference" in str(res) and "claim" in str(res)
    assert "off by a factor of" in str(res)


def test_wrong_shape_fails() -> None:
    res = claim("flat", lambda X: (X * X).sum(), lambda X: 2 * X.reshape(-1), "X", {"X": mc.matrix("n", "m")})
    assert not res.passed
    assert "shape mismatch" in res.message
    assert "right values in the wrong shape" in str(res)


def test_nan_never_passes() -> None:
    res = claim("nan", lambda x: x @ x, lambda x: torch.full_like(x, float("nan")), "x", {"x": mc.vector("n")})
    assert not res.passed and math.isinf(res.error)
    assert "5 NaN" in str(res)


def test_inf_never_passes() -> None:
    res = claim("inf", lambda x: x @ x, lambda x: 2 * x / 0.0 * 0 + float("inf"), "x", {"x": mc.vector("n")})
    assert not res.passed


def test_factor_of_two_is_named() -> None:
    res = claim("half", lambda x: x @ x, lambda x: x, "x", {"x": mc.vector("n")})
    assert "off by a factor of 1/2" in str(res)


def test_sign_flip_is_named() -> None:
    res = claim("neg", lambda x: x @ x, lambda x: -2 * x, "x", {"x": mc.vector("n")})
    assert "sign flipped" in str(res)


def test_square_transpose_is_named() -> None:
    res = claim("trAX", lambda X, A: torch.trace(A @ X), lambda X, A: A, "X",
                {"X": mc.matrix("n", "n"), "A": mc.matrix("n", "n")})
    assert "matches the transpose" in str(res)


def test_local_error_lists_entries() -> None:
    def wrong(x: torch.Tensor) -> torch.Tensor:
        d = 2 * x
        d[2] += 1.0
        return d

    res = claim("one_entry", lambda x: x @ x, wrong, "x", {"x": mc.vector("n")})
    assert "correct except at entries (2,)" in str(res)


def test_wrong_hessian_fails_every_oracle() -> None:
    rule = mc.Rule(name="h", f=lambda x, A: x @ A @ x, derivative=lambda x, A: 2 * A, wrt="x", inputs=X_A,
                   kind="hessian")
    for oracle in ("jacobian", "func", "probe", "taylor"):
        res = mc.check(rule, oracle=oracle)
        assert not res.passed, oracle


def test_wrong_differential_fails() -> None:
    rule = mc.Rule(name="d", f=lambda X, Y: X @ Y, derivative=lambda X, Y, dX, dY: dX @ Y, wrt=("X", "Y"),
                   kind="differential", inputs={"X": mc.matrix("n", "k"), "Y": mc.matrix("k", "m")})
    for oracle in ("jacobian", "func", "probe", "taylor"):
        assert not mc.check(rule, oracle=oracle).passed, oracle


def test_tolerance_rejects_small_relative_errors() -> None:
    # DESIGN: float64 must reject a relative error of 1e-6, float32 one of 1e-3.
    for dtype, rel in ((torch.float64, 1e-6), (torch.float32, 1e-3)):
        rule = mc.Rule(name="perturbed", f=lambda x, A: x @ A @ x,
                       derivative=lambda x, A, rel=rel: (1 + rel) * (x @ (A.T + A)), wrt="x", inputs=X_A)
        for n in (5, 64, 1024):
            assert not mc.check(rule, dtype=dtype, sizes={"n": n}).passed, (dtype, n)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(c=st.floats(min_value=-8, max_value=8).filter(lambda c: abs(c - 1) > 1e-6),
       seed=st.integers(min_value=0, max_value=10_000))
def test_any_constant_factor_is_rejected_and_named(c: float, seed: int) -> None:
    rule = mc.Rule(name="scaled", f=lambda x, A: x @ A @ x, derivative=lambda x, A: c * (x @ (A.T + A)), wrt="x",
                   inputs=X_A)
    res = mc.check(rule, seed=seed, diagnose_structure=False)
    assert not res.passed
    text = str(res)
    # Below ~1e-290 the claim c * D underflows into subnormals (5e-324 * D is a few quanta of the
    # smallest float): it is no longer a multiple of D, and naming a factor would be a wrong hint.
    assert ("sign flipped" in text) if abs(c + 1) < 1e-9 else ("off by a factor of" in text or abs(c) < 1e-290)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), n=st.integers(min_value=1, max_value=40))
def test_true_rule_passes_at_any_seed_and_size(seed: int, n: int) -> None:
    for dtype in (torch.float64, torch.float32):
        assert mc.check(mc.catalog["quadratic_form"], dtype=dtype, seed=seed, sizes={"n": n}).passed


def test_half_precision_checks_elementwise_rules() -> None:
    # float16 / bfloat16 are meaningful for elementwise and short-sum rules; their tolerance is
    # 4 eps sqrt(n): about 9e-3 (float16) and 7e-2 (bfloat16) at n = 5.
    for dtype in (torch.float16, torch.bfloat16):
        for name in ("elementwise_exp", "course_sum", "squared_norm_gradient", "quadratic_form"):
            assert mc.check(mc.catalog[name], dtype=dtype).passed, (name, dtype)
    off = mc.Rule(name="off", f=lambda x: torch.exp(x), derivative=lambda x: 1.05 * torch.diag(torch.exp(x)), wrt="x",
                  inputs={"x": mc.vector("n")})
    assert not mc.check(off, dtype=torch.float16).passed
    assert not mc.check(mc.catalog["slip_quadratic_form_2Ax"], dtype=torch.bfloat16).passed
