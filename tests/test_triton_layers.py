"""The Triton layer norm: its kernels' backward passes check_backward, its twin fails.

Runs on CUDA where Triton and a GPU are present, and on CPU under Triton's interpreter
(TRITON_INTERPRET=1 set before the run); skips cleanly otherwise.
"""

import os

import pytest
import torch

import matcalc as mc

triton = pytest.importorskip("triton")

if torch.cuda.is_available():
    DEVICE = "cuda"
elif os.environ.get("TRITON_INTERPRET") == "1":
    DEVICE = "cpu"
else:
    pytest.skip("Triton kernels need a GPU, or TRITON_INTERPRET=1 on CPU", allow_module_level=True)

from examples.triton_layers import NORM, TritonLayerNorm, TritonLayerNormDropsMeanTerm, layer_norm_ref  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_triton_layer_norm_backward_passes(dtype: torch.dtype) -> None:
    for seed in range(3):
        res = mc.check_backward(TritonLayerNorm.apply, inputs=NORM, reference=layer_norm_ref,
                                device=DEVICE, dtype=dtype, seed=seed)
        assert res.outcome == "pass", str(res)


def test_triton_layer_norm_without_reference_states_its_resolution() -> None:
    res = mc.check_backward(TritonLayerNorm.apply, inputs=NORM, device=DEVICE, dtype=torch.float32)
    assert res.outcome == "pass", str(res)
    assert "finite differences (float32" in res.oracle and res.resolution is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_triton_twin_fails_with_its_bug_class(dtype: torch.dtype) -> None:
    res = mc.check_backward(TritonLayerNormDropsMeanTerm.apply, inputs=NORM, reference=layer_norm_ref,
                            device=DEVICE, dtype=dtype)
    assert res.outcome == "fail" and "dropped term" in str(res), str(res)
