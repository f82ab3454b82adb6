"""Layer norm whose forward and backward are Triton kernels, and a buggy twin of its backward.

Needs Triton and a GPU, or Triton under its interpreter on CPU (set ``TRITON_INTERPRET=1``
before Triton is imported). One program per row; the kernels read rows of contiguous tensors
(the wrapper makes them contiguous, which check_backward's non-contiguous probe verifies) and
accumulate in float32, so they take float32, float16 and bfloat16 inputs and refuse float64:
check_backward's truth then comes from ``reference=`` (or, without one, finite differences in
the kernel's own dtype, with their resolution stated).

    TRITON_INTERPRET=1 python -c "import examples.triton_layers as T, matcalc as mc, torch; \\
        print(mc.check_backward(T.TritonLayerNorm.apply, inputs=T.NORM, reference=T.layer_norm_ref, \\
        dtype=torch.float32))"
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from examples.layers import EPS, NORM, layer_norm_ref

__all__ = ["NORM", "TritonLayerNorm", "TritonLayerNormDropsMeanTerm", "layer_norm_ref"]


@triton.jit
def _layer_norm_fwd(X, Y, W, B, Mean, Rstd, stride, N, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / N
    xc = tl.where(mask, x - mean, 0.0)
    var = tl.sum(xc * xc, axis=0) / N
    rstd = 1.0 / tl.sqrt(var + eps)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
    y = xc * rstd * w + b
    tl.store(Y + row * stride + cols, y.to(Y.dtype.element_ty), mask=mask)
    tl.store(Mean + row, mean)
    tl.store(Rstd + row, rstd)


@triton.jit
def _layer_norm_bwd(DY, X, W, Mean, Rstd, DX, DW, DB, stride, N, BLOCK: tl.constexpr,
                    DROP_MEAN: tl.constexpr):
    """dX for one row, and that row's contributions to dW and dB (summed over rows on the host)."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
    dy = tl.load(DY + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.load(Mean + row)
    rstd = tl.load(Rstd + row)
    xhat = tl.where(mask, (x - mean) * rstd, 0.0)
    g = tl.where(mask, w * dy, 0.0)
    c1 = tl.sum(xhat * g, axis=0) / N
    c2 = tl.sum(g, axis=0) / N
    if DROP_MEAN:  # noqa: SIM108 (a constexpr branch: compiled away, kept readable)
        dx = (g - xhat * c1) * rstd
    else:
        dx = (g - xhat * c1 - c2) * rstd
    tl.store(DX + row * stride + cols, dx.to(DX.dtype.element_ty), mask=mask)
    tl.store(DW + row * N + cols, dy * xhat, mask=mask)
    tl.store(DB + row * N + cols, dy, mask=mask)


class TritonLayerNorm(torch.autograd.Function):
    DROP_MEAN = False

    @staticmethod
    def forward(ctx: Any, X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        if X.dtype == torch.float64:
            raise TypeError("the Triton layer norm kernels take float32, float16 or bfloat16")
        X, gamma, beta = X.contiguous(), gamma.contiguous(), beta.contiguous()
        M, N = X.shape
        Y = torch.empty_like(X)
        mean = torch.empty(M, dtype=torch.float32, device=X.device)
        rstd = torch.empty(M, dtype=torch.float32, device=X.device)
        block = triton.next_power_of_2(N)
        _layer_norm_fwd[(M,)](X, Y, gamma, beta, mean, rstd, X.stride(0), N, EPS, BLOCK=block)
        ctx.save_for_backward(X, gamma, mean, rstd)
        return Y

    @classmethod
    def _backward(cls, ctx: Any, dY: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, gamma, mean, rstd = ctx.saved_tensors
        dY = dY.contiguous()
        M, N = X.shape
        dX = torch.empty_like(X)
        dW = torch.empty((M, N), dtype=torch.float32, device=X.device)
        dB = torch.empty((M, N), dtype=torch.float32, device=X.device)
        _layer_norm_bwd[(M,)](dY, X, gamma, mean, rstd, dX, dW, dB, X.stride(0), N,
                              BLOCK=triton.next_power_of_2(N), DROP_MEAN=cls.DROP_MEAN)
        return dX, dW.sum(0).to(gamma.dtype), dB.sum(0).to(gamma.dtype)

    @staticmethod
    def backward(ctx: Any, dY: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return TritonLayerNorm._backward(ctx, dY)


class TritonLayerNormDropsMeanTerm(TritonLayerNorm):
    """The twin: the backward kernel drops the - mean(w * dy) term of dX."""

    DROP_MEAN = True

    @staticmethod
    def backward(ctx: Any, dY: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return TritonLayerNormDropsMeanTerm._backward(ctx, dY)
