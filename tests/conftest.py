"""Shared parametrization: every device test runs on CPU and, when a GPU is present, CUDA."""

import pytest
import torch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="CUDA tests need a GPU (torch.cuda.is_available() is False)"),
    ),
]
DTYPES = [torch.float64, torch.float32]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=DTYPES, ids=["float64", "float32"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param
