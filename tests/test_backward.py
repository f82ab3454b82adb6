"""check_backward: every correct layer passes, every buggy twin fails with its bug class named."""

import math

import pytest
import torch

import matcalc as mc
from examples.layers import LAYERS, Layer
from examples.twins import BUG_CLASSES, TWINS
from matcalc.core.tolerance import MAX_RESOLUTION
from matcalc.testing import assert_backward

LOW = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
LOW_IDS = ["float64", "float32", "float16", "bfloat16"]
CPU_TWINS = [t for t in TWINS if not t.cuda_only]


@pytest.mark.parametrize("dtype", LOW, ids=LOW_IDS)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_correct_layer_passes(name: str, dtype: torch.dtype, device: str) -> None:
    # 5 seeds here; bench/backward_vs_gradcheck.py --seeds 100 runs the 100-seed sweep.
    for seed in range(5):
        res = LAYERS[name].check(dtype=dtype, device=device, seed=seed)
        assert res.outcome == "pass", str(res)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_correct_layer_passes_without_reference(name: str, dtype: torch.dtype) -> None:
    layer = LAYERS[name]
    for seed in range(3):
        res = mc.check_backward(layer.fn, inputs=layer.inputs, wrt=layer.wrt, dtype=dtype, seed=seed)
        assert res.outcome == "pass", str(res)
        assert res.resolution is not None and res.resolution < 1e-8
        assert "finite differences (float64" in res.oracle


@pytest.mark.parametrize("dtype", LOW, ids=LOW_IDS)
@pytest.mark.parametrize("twin", CPU_TWINS, ids=[t.name for t in CPU_TWINS])
def test_buggy_twin_fails(twin, dtype: torch.dtype, device: str) -> None:
    res = LAYERS[twin.layer].check(twin.fn, dtype=dtype, device=device, seed=0)
    assert res.outcome == "fail", str(res)
    assert res.counterexample is not None and set(res.counterexample) == set(LAYERS[twin.layer].inputs)


@pytest.mark.parametrize("twin", CPU_TWINS, ids=[t.name for t in CPU_TWINS])
def test_buggy_twin_fails_without_reference(twin) -> None:
    layer = LAYERS[twin.layer]
    res = mc.check_backward(twin.fn, inputs=layer.inputs, wrt=layer.wrt, seed=0)
    assert res.outcome == "fail", str(res)


def test_diagnosis_names_the_bug_class() -> None:
    named, missed = 0, []
    for dtype in LOW:
        for twin in CPU_TWINS:
            res = LAYERS[twin.layer].check(twin.fn, dtype=dtype, seed=1)
            if BUG_CLASSES[twin.bug] in str(res):
                named += 1
            else:
                missed.append(f"{twin.name}/{dtype}")
    total = len(LOW) * len(CPU_TWINS)
    assert named / total >= 0.8, f"named {named}/{total}; missed {missed}"


def test_every_layer_has_three_twins_and_every_class_is_planted() -> None:
    for name in LAYERS:
        assert sum(t.layer == name for t in TWINS) >= 3, name
    assert {t.bug for t in TWINS} == set(BUG_CLASSES)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA tests need a GPU")
def test_wrong_only_on_cuda_is_named() -> None:
    twin = next(t for t in TWINS if t.cuda_only)
    res = LAYERS[twin.layer].check(twin.fn, device="cuda")
    assert res.outcome == "fail" and BUG_CLASSES["cuda"] in str(res), str(res)
    assert LAYERS[twin.layer].check(twin.fn, device="cpu").passed


def test_forward_must_match_the_reference() -> None:
    layer = LAYERS["gelu"]
    res = mc.check_backward(layer.fn, inputs=layer.inputs, reference=torch.tanh)
    assert res.outcome == "fail" and "forward does not match the reference" in res.message, str(res)


class _NaNBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * math.nan


@pytest.mark.parametrize("reference", [lambda x: x * 2, None], ids=["reference", "fd"])
def test_nan_never_passes(reference) -> None:
    res = mc.check_backward(_NaNBackward.apply, inputs={"x": mc.vector("n")}, reference=reference)
    assert res.outcome == "fail" and math.isinf(res.error), str(res)


class _SinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x), torch.cos(x)

    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * torch.cos(x) - gc * torch.sin(x)


class _SinCosWrongSecond(_SinCos):
    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * torch.cos(x) + gc * torch.sin(x)


def test_tuple_outputs_say_which_output_is_wrong() -> None:
    ref = lambda x: (torch.sin(x), torch.cos(x))
    inputs = {"x": mc.matrix("b", "n")}
    assert mc.check_backward(_SinCos.apply, inputs=inputs, reference=ref).passed
    res = mc.check_backward(_SinCosWrongSecond.apply, inputs=inputs, reference=ref)
    assert res.outcome == "fail"
    assert "the gradient of 'x' is wrong through output 1 of 2" in str(res), str(res)


def test_no_reference_uses_the_dtype_of_an_fn_that_rejects_float64() -> None:
    def fp32_only(x):
        if x.dtype == torch.float64:
            raise TypeError("this kernel has no float64 path")
        return torch.tanh(x)

    res = mc.check_backward(fp32_only, inputs={"x": mc.matrix("b", "n")}, dtype=torch.float32)
    assert res.outcome == "pass", str(res)
    assert "finite differences (float32" in res.oracle and res.resolution is not None
    # measured in every direction (1.1e-3 at seed 0): fine enough for the verdict to decide
    assert res.resolution < MAX_RESOLUTION
    wrong = mc.check_backward(lambda x: fp32_only(x) * 1.0 + 0.05 * (x - x.detach()),
                              inputs={"x": mc.matrix("b", "n")}, dtype=torch.float32)
    assert wrong.outcome == "fail", str(wrong)


def test_overflow_is_inconclusive_not_a_pass() -> None:
    res = mc.check_backward(lambda x: torch.exp(1000 * x), inputs={"x": mc.vector("n")},
                            reference=lambda x: torch.exp(1000 * x), dtype=torch.float16)
    assert res.outcome == "inconclusive" and not res.passed and res.inconclusive


def test_same_seed_same_result_and_seeds_differ() -> None:
    layer = LAYERS["layer_norm"]
    a, b, c = (layer.check(dtype=torch.float32, seed=s) for s in (3, 3, 4))
    assert a.error == b.error and a.grad_errors == b.grad_errors
    assert a.grad_errors != c.grad_errors


def test_misuse_raises_matcalc_error() -> None:
    layer: Layer = LAYERS["linear"]
    with pytest.raises(mc.MatcalcError, match="wrt='y' is not among the inputs"):
        mc.check_backward(layer.fn, inputs=layer.inputs, wrt="y")
    with pytest.raises(mc.MatcalcError, match="forward raised"):
        mc.check_backward(layer.fn, inputs={"X": mc.matrix("b", "n")})
    with pytest.raises(mc.MatcalcError, match="not a real floating dtype"):
        layer.check(dtype=torch.int32)
    with pytest.raises(mc.MatcalcError, match="reference must be a callable"):
        mc.check_backward(layer.fn, inputs=layer.inputs, reference="x @ W.T")
    with pytest.raises(mc.MatcalcError, match="memory budget"):
        layer.check(memory_budget=16)
    with pytest.raises(mc.MatcalcError, match="has no dim"):
        layer.check(sizes={"z": 3})
    if not torch.cuda.is_available():
        with pytest.raises(mc.MatcalcError, match="no CUDA GPU"):
            layer.check(device="cuda")


def test_assert_backward_raises_with_the_diagnosis() -> None:
    twin = next(t for t in TWINS if t.name == "linear_bias_grad_averaged")
    layer = LAYERS["linear"]
    assert len(assert_backward(layer.fn, inputs=layer.inputs, reference=layer.reference, seeds=range(2))) == 2
    with pytest.raises(AssertionError, match="missing reduction over dim 0"):
        assert_backward(twin.fn, inputs=layer.inputs, reference=layer.reference)
