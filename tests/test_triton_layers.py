"""The Triton layer norm: its kernels' backward passes check_backward, its twin fails.

Runs on CUDA where Triton and a GPU are present. On CPU the kernels run under Triton's interpreter,
which must be chosen before Triton is imported and stay chosen while kernels run (TRITON_INTERPRET=1
for the whole process): with it set, the tests run here; without it, one test reruns this file in
a child pytest with it set, so that no other test of this process runs under the interpreter.
Without Triton the file skips.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import matcalc as mc

triton = pytest.importorskip("triton")

from examples.triton_layers import NORM, TritonLayerNorm, TritonLayerNormDropsMeanTerm, layer_norm_ref  # noqa: E402

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu" if INTERPRETED else None
here = pytest.mark.skipif(DEVICE is None, reason="on CPU these run in a child pytest under TRITON_INTERPRET=1 "
                                                 "(test_cpu_under_the_interpreter)")


def test_cpu_under_the_interpreter() -> None:
    if DEVICE is not None:
        pytest.skip(f"the tests run in this process, on {DEVICE}")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", __file__,
                           "-k", "not test_cpu_under_the_interpreter"],
                          cwd=root, env={**os.environ, "TRITON_INTERPRET": "1"}, capture_output=True,
                          text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    # every test must have run and passed there: a skip would hide a kernel that never ran
    assert proc.returncode == 0 and " passed" in summary and "skipped" not in summary, (
        proc.stdout[-4000:] + proc.stderr[-2000:])


@here
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_triton_layer_norm_backward_passes(dtype: torch.dtype) -> None:
    for seed in range(3):
        res = mc.check_backward(TritonLayerNorm.apply, inputs=NORM, reference=layer_norm_ref,
                                device=DEVICE, dtype=dtype, seed=seed)
        assert res.outcome == "pass", str(res)


@here
def test_triton_layer_norm_without_reference_states_its_resolution() -> None:
    res = mc.check_backward(TritonLayerNorm.apply, inputs=NORM, device=DEVICE, dtype=torch.float32)
    assert res.outcome == "pass", str(res)
    assert "finite differences (float32" in res.oracle and res.resolution is not None


@here
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_triton_twin_fails_with_its_bug_class(dtype: torch.dtype) -> None:
    res = mc.check_backward(TritonLayerNormDropsMeanTerm.apply, inputs=NORM, reference=layer_norm_ref,
                            device=DEVICE, dtype=dtype)
    assert res.outcome == "fail" and "dropped term" in str(res), str(res)
