"""The defect classes of check_backward found from outside (issue 17), one group per class; each
test stands for its class with more than one variant where the class has them."""

from __future__ import annotations

import pytest
import torch

import matcalc as mc
from matcalc.backward import checker

X = {"x": mc.matrix("b", "n")}
XW = {"x": mc.matrix("b", "n"), "w": mc.vector("n")}


def _function(forward, backward, *, jvp=None):  # type: ignore[no-untyped-def]
    """An autograd.Function from plain functions: forward(*inputs), backward(saved, g)."""
    attrs = {
        "forward": staticmethod(lambda ctx, *xs: (ctx.save_for_backward(*xs), forward(*xs))[1]),
        "backward": staticmethod(lambda ctx, g: backward(ctx, *ctx.saved_tensors, g)),
    }
    if jvp is not None:
        attrs["jvp"] = staticmethod(jvp)
    return type("Planted", (torch.autograd.Function,), attrs)


# ---- 1. the error's scale comes from the values, in units of the largest entry ----------------
@pytest.mark.parametrize("scale", [1e-200, 1e-30, 1.0, 1e30, 1e200])
def test_a_doubled_gradient_fails_at_every_scale(scale: float) -> None:
    F = _function(lambda x: scale * x * x, lambda ctx, x, g: 4 * scale * x * g)  # truth: 2 scale x g
    res = mc.check_backward(F.apply, inputs=X, reference=lambda x: scale * x * x)
    assert res.outcome == "fail", str(res)


@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e200])
def test_a_right_gradient_passes_at_every_scale(scale: float) -> None:
    F = _function(lambda x: scale * x * x, lambda ctx, x, g: 2 * scale * x * g)
    assert mc.check_backward(F.apply, inputs=X, reference=lambda x: scale * x * x).passed


# ---- zero truths are floored at the scale of the pass ------------------------------------------
def test_a_bias_before_batch_norm_has_a_zero_gradient_and_passes() -> None:
    def bn(x, b):  # type: ignore[no-untyped-def]
        y = x + b
        return (y - y.mean(0)) / y.std(0)

    res = mc.check_backward(bn, inputs={"x": mc.matrix("b", "n"), "b": mc.vector("n")},
                            reference=lambda x, b: ((x + b) - (x + b).mean(0)) / (x + b).std(0))
    assert res.passed, str(res)


def test_a_nonzero_gradient_where_the_truth_is_zero_fails() -> None:
    F = _function(lambda x, b: x - x.mean(0) + 0 * b, lambda ctx, x, b, g: (g - g.mean(0), g.sum(0)))
    res = mc.check_backward(F.apply, inputs=XW, reference=lambda x, b: x - x.mean(0) + 0 * b)
    assert res.outcome == "fail" and res.grad_errors["w"] > res.grad_tolerances["w"], str(res)


# ---- the memory guard runs before any draw ----------------------------------------------------
def test_an_oversized_check_is_refused_before_anything_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_draw(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("drew before refusing")

    monkeypatch.setattr(checker, "draw_domains", no_draw)
    for sizes in ({"b": 10**6, "n": 10**6}, {"b": 2**39, "n": 3}):
        with pytest.raises(mc.MatcalcError, match="memory budget"):
            mc.check_backward(torch.sin, inputs=X, sizes=sizes)
    with pytest.raises(mc.MatcalcError, match="memory budget"):
        mc.check_backward(torch.sin, inputs=X, sizes={"b": 64, "n": 64}, memory_budget=1000)


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1, 0, "2e9"])
def test_bad_memory_budgets_are_misuse(bad: object) -> None:
    with pytest.raises(mc.MatcalcError, match="memory_budget"):
        mc.check_backward(torch.sin, inputs=X, memory_budget=bad)  # type: ignore[arg-type]


# ---- fn and the reference are guarded like a rule's f ------------------------------------------
@pytest.mark.parametrize("who", ["fn", "reference"])
def test_changing_an_input_in_place_is_misuse(who: str) -> None:
    def sneaky(x, w):  # type: ignore[no-untyped-def]
        w.mul_(2)  # w does not require grad, so autograd does not object
        return x * w

    honest = lambda x, w: x * w
    fn, ref = (sneaky, honest) if who == "fn" else (honest, sneaky)
    with pytest.raises(mc.MatcalcError, match="in place"):
        mc.check_backward(fn, inputs=XW, reference=ref, wrt="x")


@pytest.mark.parametrize("who", ["fn", "reference"])
def test_a_function_that_is_not_a_function_of_its_inputs_is_misuse(who: str) -> None:
    noisy = lambda x: x * torch.rand(()).to(x.dtype)
    fn, ref = (noisy, torch.sin) if who == "fn" else (torch.sin, noisy)
    with pytest.raises(mc.MatcalcError, match="different values"):
        mc.check_backward(fn, inputs=X, reference=ref)


@pytest.mark.parametrize(("fn", "hide"), [
    (lambda x: x / x.norm(), lambda x: x / x.norm().item()),
    (lambda x: x * x.sum(), lambda x: x * x.detach().sum()),
    (lambda x: x.exp(), lambda x: torch.from_numpy(x.detach().numpy()).exp() + 0 * x),
])
def test_a_reference_that_hides_computation_from_autograd_is_misuse(fn, hide) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(mc.MatcalcError, match="hides part of its computation"):
        mc.check_backward(fn, inputs={"x": mc.vector("n")}, reference=hide)


# ---- 5. fn does not decide what is checked ----------------------------------------------------
def test_an_output_fn_marks_non_differentiable_is_checked_against_the_reference() -> None:
    class Split(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            y, s = x * 2, x.sum(1)
            ctx.mark_non_differentiable(s)
            return y, s

        @staticmethod
        def backward(ctx, gy, gs):  # type: ignore[no-untyped-def]
            return 2 * gy

    res = mc.check_backward(Split.apply, inputs=X, reference=lambda x: (x * 2, x.sum(1)))
    assert res.outcome == "fail", str(res)
    assert any("dropped gradient path" in h for h in res.hints), str(res)
    detached = mc.check_backward(Split.apply, inputs=X, reference=lambda x: (x * 2, x.sum(1).detach()))
    assert detached.passed, str(detached)


@pytest.mark.parametrize("misread", [
    lambda g: torch.as_strided(g, g.shape, (g.shape[1], 1)),   # g's memory read as row-major
    lambda g: g.reshape(-1).view(g.shape) if g.is_contiguous() else g.T.reshape(g.shape),
])
def test_a_backward_that_assumes_a_contiguous_grad_output_fails(misread) -> None:  # type: ignore[no-untyped-def]
    F = _function(lambda x: 3 * x, lambda ctx, x, g: 3 * misread(g))
    res = mc.check_backward(F.apply, inputs=X, reference=lambda x: 3 * x, sizes={"b": 3, "n": 4})
    assert res.outcome == "fail" and "non-contiguous grad_output" in str(res), str(res)


def test_reference_fn_itself_is_misuse() -> None:
    F = _function(lambda x: 3 * x, lambda ctx, x, g: 3 * g)
    for fn, ref in ((F.apply, F.apply), (torch.sin, torch.sin)):
        with pytest.raises(mc.MatcalcError, match="reference is fn itself"):
            mc.check_backward(fn, inputs=X, reference=ref)


def _needs_input_grad_swapped():  # type: ignore[no-untyped-def]
    class Swapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            x, w = ctx.saved_tensors
            gx = g * w if ctx.needs_input_grad[1] else None  # the wrong index
            gw = (g * x).sum(0) if ctx.needs_input_grad[0] else None
            return gx, gw

    return Swapped


@pytest.mark.parametrize("reference", [lambda x, w: x * w, None])
def test_a_backward_that_indexes_needs_input_grad_wrongly_fails(reference) -> None:  # type: ignore[no-untyped-def]
    fn = _needs_input_grad_swapped().apply
    res = mc.check_backward(fn, inputs=XW, reference=reference)
    assert res.outcome == "fail", str(res)
    assert res.probes_run["one input requiring grad at a time"].startswith("fail"), str(res)
    only_w = mc.check_backward(fn, inputs=XW, reference=reference, wrt="w")
    assert only_w.outcome == "fail", str(only_w)


# ---- 6. capabilities are asked of torch, not read from error text -----------------------------
def _custom_op(name: str, grad_w_factor: float):  # type: ignore[no-untyped-def]
    @torch.library.custom_op(f"matcalc_test::{name}", mutates_args=())
    def scale(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * w

    @scale.register_fake
    def _(x, w):  # type: ignore[no-untyped-def]
        return torch.empty_like(x)

    def setup(ctx, inputs, output):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(*inputs)

    def backward(ctx, g):  # type: ignore[no-untyped-def]
        x, w = ctx.saved_tensors
        return g * w, grad_w_factor * (g * x).sum(0)

    scale.register_autograd(backward, setup_context=setup)
    return scale


def test_a_correct_custom_op_with_register_autograd_passes() -> None:
    op = _custom_op("scale_right", 1.0)
    for reference in (lambda x, w: x * w, None):
        res = mc.check_backward(op, inputs=XW, reference=reference)
        assert res.passed, str(res)
        assert res.probes_run["jvp"].startswith("skipped"), str(res)


def test_a_wrong_custom_op_fails() -> None:
    op = _custom_op("scale_wrong", 2.0)
    assert mc.check_backward(op, inputs=XW, reference=lambda x, w: x * w).outcome == "fail"


@pytest.mark.parametrize("error", [NotImplementedError, RuntimeError])
def test_a_declared_jvp_that_raises_is_a_failure(error: type[Exception]) -> None:
    def jvp(ctx, t):  # type: ignore[no-untyped-def]
        raise error("jvp not implemented for this layout")

    F = _function(lambda x: 3 * x, lambda ctx, x, g: 3 * g, jvp=jvp)
    res = mc.check_backward(F.apply, inputs=X, reference=lambda x: 3 * x)
    assert res.outcome == "fail" and res.probes_run["jvp"].startswith("fail"), str(res)


def test_a_function_without_jvp_is_skipped_not_failed() -> None:
    F = _function(lambda x: 3 * x, lambda ctx, x, g: 3 * g)
    res = mc.check_backward(F.apply, inputs=X, reference=lambda x: 3 * x)
    assert res.passed and res.probes_run["jvp"].startswith("skipped"), str(res)


# ---- 9. probes do not manufacture failures ----------------------------------------------------
@pytest.mark.parametrize("reduce", ["max_abs_scale", "max_abs_rows"])
def test_a_correct_max_backward_passes_the_broadcast_probe(reduce: str) -> None:
    """A stride-0 view repeats one value, so a max over it has ties; autograd splits the gradient
    among them, a hand-written argmax picks one: both are right."""
    def f(x, w):  # type: ignore[no-untyped-def]
        return x * w.abs().amax() if reduce == "max_abs_scale" else (x * w).abs().amax(1)

    def backward(ctx, x, w, g):  # type: ignore[no-untyped-def]
        if reduce == "max_abs_scale":
            i = w.abs().argmax()
            gw = torch.zeros_like(w)
            gw[i] = w[i].sign() * (g * x).sum()
            return g * w.abs().amax(), gw
        y = x * w
        pick = torch.zeros_like(y).scatter_(1, y.abs().argmax(1, keepdim=True), 1.0) * y.sign() * g[:, None]
        return pick * w, (pick * x).sum(0)

    F = _function(f, backward)
    res = mc.check_backward(F.apply, inputs=XW, reference=f)
    assert res.passed, str(res)


# ---- 10. misuse raises MatcalcError, never a raw exception ------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"wrt": 123}, {"wrt": ["x", 5]}, {"wrt": []}, {"seed": 3.0}, {"seed": [1, 2]}, {"probes": 0},
    {"sizes": {"b": 2**70, "n": 3}}, {"sizes": 3}, {"name": 5},
])
def test_misuse_raises_matcalc_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(mc.MatcalcError):
        mc.check_backward(torch.sin, inputs=X, **kwargs)  # type: ignore[arg-type]


def test_the_function_class_instead_of_apply_names_apply() -> None:
    F = _function(lambda x: 3 * x, lambda ctx, x, g: 3 * g)
    with pytest.raises(mc.MatcalcError, match=r"Planted\.apply"):
        mc.check_backward(F, inputs=X)


def test_a_reference_with_another_number_of_outputs_fails() -> None:
    res = mc.check_backward(lambda x: (x * 2, x.sum()), inputs=X, reference=lambda x: x * 2)
    assert res.outcome == "fail" and "outputs" in res.message, str(res)


def test_a_double_backward_wrapper_is_checked_without_a_reference() -> None:
    def grad_of_cube(x):  # type: ignore[no-untyped-def]
        x = x if x.requires_grad else x.detach().requires_grad_()
        (g,) = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)
        return g  # 3 x^2, whose derivative is 6 x

    res = mc.check_backward(grad_of_cube, inputs=X)
    assert res.passed, str(res)


@pytest.mark.parametrize("seeds", [3, [], "ab", [1.5], [True]])
def test_bad_seeds_of_the_assert_helpers_are_misuse(seeds: object) -> None:
    import matcalc.testing as mt
    from matcalc.catalog import quadratic_form

    with pytest.raises(mc.MatcalcError, match="seed"):
        mt.assert_rule(quadratic_form, seeds=seeds)  # type: ignore[arg-type]
    with pytest.raises(mc.MatcalcError, match="seed"):
        mt.assert_backward(torch.sin, inputs=X, reference=torch.sin, seeds=seeds)  # type: ignore[arg-type]


# ---- a float32 backward against a float64 truth: its conditioning is measured, not assumed -----
def _sin_squared(c: float, bug: float = 1.0, only_float32: bool = False):  # type: ignore[no-untyped-def]
    """f(X, s) = sin(c tr(sin(s) X))^2 and its backward, times ``bug`` (in float32 alone when
    ``only_float32``); tr X ~ 25 for spd X, so 2a sits anywhere in its period and sin(2a), the
    backward's factor, can be ill-conditioned where f itself is not."""
    def backward(ctx, X, s, g):  # type: ignore[no-untyped-def]
        a = c * torch.trace(torch.sin(s) * X)
        h = g * 2 * torch.sin(a) * torch.cos(a) * c * (bug if g.dtype == torch.float32 or not only_float32 else 1.0)
        return h * torch.sin(s) * torch.eye(X.shape[0], dtype=X.dtype), h * torch.cos(s) * torch.trace(X)

    return _function(lambda X, s: torch.sin(c * torch.trace(torch.sin(s) * X)) ** 2, backward)


SIN_INPUTS = {"X": mc.matrix("n", "n", structure="spd"), "s": mc.scalar(positive=True)}


@pytest.mark.parametrize("c", [1.0, 10.0])
def test_a_right_float32_backward_of_an_ill_conditioned_f_never_fails(c: float) -> None:
    """Without a reference the tolerance took only fn's forward error in float32 (1.7e-7), while
    the backward's factor sin(2a) rounds 100 times more (2.2e-5 against 1.8e-5 at c = 1, seed 0;
    9.8e-5 against 9.4e-5 at c = 10, seed 6). The truth's movement at inputs nudged by a few
    float32 ulps measures it; a wrong backward still fails at the same samples."""
    F, wrong = _sin_squared(c), _sin_squared(c, bug=0.5)
    for seed in range(8):
        res = mc.check_backward(F.apply, inputs=SIN_INPUTS, dtype=torch.float32, seed=seed)
        assert res.outcome in ("pass", "inconclusive") and (res.passed or res.inconclusive), str(res)
        bad = mc.check_backward(wrong.apply, inputs=SIN_INPUTS, dtype=torch.float32, seed=seed)
        assert bad.outcome == "fail", str(bad)


@pytest.mark.parametrize("bug", [1.001, 0.999])
def test_a_float32_only_error_of_a_backward_is_not_taken_for_rounding(bug: float) -> None:
    """The rounding is measured on the truth (fn's forward), never on the backward: a backward
    off by 1e-3 in float32 alone (right in float64, which a float32-versus-float64 comparison of
    the backward would excuse) fails on a well-conditioned f, as float32 must reject 1e-3."""
    F = _sin_squared(0.01, bug=bug, only_float32=True)
    for seed in range(3):
        res = mc.check_backward(F.apply, inputs=SIN_INPUTS, dtype=torch.float32, seed=seed)
        assert res.outcome == "fail", str(res)


# ---- f under a large constant: the advice says what helps -------------------------------------
def _offset_square(offset: float, factor: float = 1.0):  # type: ignore[no-untyped-def]
    return _function(lambda x: (x * x).sum() + offset, lambda ctx, x, g: factor * 2 * x * g)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("offset", [1e8, 1e12, 1e16])
def test_a_backward_under_a_large_constant_names_the_constant_not_float64(offset: float,
                                                                          dtype: torch.dtype) -> None:
    """fn's values do not move beyond the rounding of their constant part, so its finite
    differences cannot decide; the reason said "use float64" even in float64. It names the
    constant and what helps (reference=, or fn without the constant), and reference= does."""
    F = _offset_square(offset)
    res = mc.check_backward(F.apply, inputs={"x": mc.vector("n")}, dtype=dtype)
    assert res.outcome == "inconclusive", str(res)
    assert "float64" not in res.inconclusive and "reference=" in res.inconclusive, res.inconclusive
    assert f"about {offset:.3g}" in res.inconclusive and "without the constant" in res.inconclusive
    assert mc.check_backward(F.apply, inputs={"x": mc.vector("n")}, dtype=dtype,
                             reference=lambda x: (x * x).sum() + offset).passed


def test_a_wrong_backward_under_a_large_constant_still_fails_or_names_the_constant() -> None:
    """The note replaces an undecided reason only: a doubled gradient under 1e8 still fails."""
    res = mc.check_backward(_offset_square(1e8, factor=2.0).apply, inputs={"x": mc.vector("n")})
    assert res.outcome == "fail", str(res)


def test_a_subnormal_f_is_not_said_to_have_a_large_constant() -> None:
    """Values near 1e-315 round for another reason (few significant bits): no constant named."""
    F = _function(lambda x: 1e-315 * (x * x).sum(), lambda ctx, x, g: 2e-315 * x * g)
    res = mc.check_backward(F.apply, inputs={"x": mc.vector("n")})
    assert "constant" not in res.inconclusive, str(res)
