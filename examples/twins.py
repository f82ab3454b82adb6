"""Buggy twins of examples/layers.py: the same forward, a backward with one planted bug.

Like the catalog's errata, each twin is kept so that it is seen to fail: ``TWINS`` lists its
layer, its flaw and the bug class check_backward's diagnosis should name (``BUG_CLASSES`` maps a
class to the phrase the message must contain). tests/test_backward_twins.py requires every twin
to fail in float64, float32 and bfloat16, and the diagnosis to name the class in >= 80% of them;
bench/backward_vs_gradcheck.py measures both against torch.autograd.gradcheck.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from examples import layers as L
from examples.layers import EPS, Phi, phi, raw

Ctx = Any

# bug class -> the phrase a diagnosis naming it contains
BUG_CLASSES: dict[str, str] = {
    "transposed": "transposed",
    "factor": "off by a factor",
    "sign": "sign flipped",
    "swapped": "swapped",
    "reduction": "missing reduction over dim",
    "dropped term": "dropped term",
    "ignores grad_output": "ignores grad_output",
    "non-contiguous": "wrong only for non-contiguous inputs",
    "second call": "second backward call",
    "jvp": "jvp (forward-mode) is wrong",
    "cuda": "wrong only on cuda",
}


# ---- linear ---------------------------------------------------------------------------------------
class LinearWeightGradTransposed(L.Linear):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, W = ctx.saved_tensors
        return G @ W, X.T @ G, G.sum(0)


class LinearBiasGradAveraged(L.Linear):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, W = ctx.saved_tensors
        return G @ W, G.T @ X, G.mean(0)


class LinearIgnoresGradOutput(L.Linear):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, W = ctx.saved_tensors
        ones = torch.ones_like(G)
        return ones @ W, ones.T @ X, ones.sum(0)


class LinearStridesIgnored(L.Linear):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, W = ctx.saved_tensors
        return G @ raw(W), G.T @ raw(X), G.sum(0)


# ---- softmax --------------------------------------------------------------------------------------
class SoftmaxDropsSumTerm(L.Softmax):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return s * g


class SoftmaxSignFlipped(L.Softmax):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return s * ((g * s).sum(-1, keepdim=True) - g)


class SoftmaxInPlaceOnCtx(torch.autograd.Function):
    """Saves s as a ctx attribute (not save_for_backward) and computes the gradient into it."""

    @staticmethod
    def forward(ctx: Ctx, Z: torch.Tensor) -> torch.Tensor:
        s = torch.softmax(Z, dim=-1)
        ctx.s = s.clone()
        return s

    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        s = ctx.s
        return s.mul_(g - (g * s).sum(-1, keepdim=True))


# ---- cross-entropy --------------------------------------------------------------------------------
class CrossEntropyNoBatchMean(L.CrossEntropy):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        logp, Y = ctx.saved_tensors
        return g * (logp.exp() - Y), None


class CrossEntropySignFlipped(L.CrossEntropy):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        logp, Y = ctx.saved_tensors
        return g * (Y - logp.exp()) / Y.shape[0], None


class CrossEntropyIgnoresGradOutput(L.CrossEntropy):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        logp, Y = ctx.saved_tensors
        return (logp.exp() - Y) / Y.shape[0], None


# ---- layer norm -----------------------------------------------------------------------------------
class LayerNormDropsMeanTerm(L.LayerNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        _, xhat, rstd, gamma = ctx.saved_tensors
        gh = G * gamma
        return rstd * (gh - xhat * (gh * xhat).mean(-1, keepdim=True)), (G * xhat).sum(0), G.sum(0)


class LayerNormGammaBetaSwapped(L.LayerNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dX, dgamma, dbeta = L.LayerNorm.backward(ctx, G)
        return dX, dbeta, dgamma


class LayerNormGammaGradAveraged(L.LayerNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dX, _, dbeta = L.LayerNorm.backward(ctx, G)
        _, xhat, _, _ = ctx.saved_tensors
        return dX, (G * xhat).mean(0), dbeta


class LayerNormStridesIgnored(L.LayerNorm):
    """Recomputes the statistics from X in backward, reading X's storage as if contiguous."""

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, _, _, gamma = ctx.saved_tensors
        Xr = raw(X)
        rstd = torch.rsqrt(Xr.var(-1, unbiased=False, keepdim=True) + EPS)
        xhat = (Xr - Xr.mean(-1, keepdim=True)) * rstd
        gh = G * gamma
        dX = rstd * (gh - gh.mean(-1, keepdim=True) - xhat * (gh * xhat).mean(-1, keepdim=True))
        return dX, (G * xhat).sum(0), G.sum(0)


# ---- RMSNorm --------------------------------------------------------------------------------------
class RMSNormDropsProjection(L.RMSNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, rstd, gamma = ctx.saved_tensors
        return rstd * G * gamma, (G * X * rstd).sum(0)


class RMSNormGammaGradAveraged(L.RMSNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dX, _ = L.RMSNorm.backward(ctx, G)
        X, rstd, _ = ctx.saved_tensors
        return dX, (G * X * rstd).mean(0)


class RMSNormIgnoresGradOutput(L.RMSNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return L.RMSNorm.backward(ctx, torch.ones_like(G))


class RMSNormWrongOnCuda(L.RMSNorm):
    """A CUDA-only fast path that forgets gamma: right on cpu, wrong on cuda."""

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, rstd, _ = ctx.saved_tensors
        if not G.is_cuda:
            return L.RMSNorm.backward(ctx, G)
        xhat = X * rstd
        return rstd * (G - xhat * (G * xhat).mean(-1, keepdim=True)), (G * xhat).sum(0)


# ---- GELU -----------------------------------------------------------------------------------------
class GELUSignFlipped(L.GELU):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return -g * (Phi(X) + X * phi(X))


class GELUIgnoresGradOutput(L.GELU):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return Phi(X) + X * phi(X)


class GELUDropsDensityTerm(L.GELU):
    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return g * Phi(X)


class GELUWrongJvp(L.GELU):
    """Right backward, forward-mode jvp that forgets the x phi(x) term."""

    @staticmethod
    def jvp(ctx: Ctx, dX: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return dX * Phi(X)


# ---- attention ------------------------------------------------------------------------------------
class AttentionNoScaleInBackward(L.Attention):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        Q, K, V, P = ctx.saved_tensors
        dP = G @ V.T
        dS = P * (dP - (dP * P).sum(-1, keepdim=True))
        return dS @ K, dS.T @ Q, P.T @ G


class AttentionQKSwapped(L.Attention):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dQ, dK, dV = L.Attention.backward(ctx, G)
        return dK, dQ, dV


class AttentionValueGradTransposed(L.Attention):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dQ, dK, dV = L.Attention.backward(ctx, G)
        return dQ, dK, dV.T


class AttentionScalesSavedP(L.Attention):
    """Folds the 1/sqrt(d) into the saved P in place: right once, wrong when called again."""

    @staticmethod
    def forward(ctx: Ctx, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        P = torch.softmax(Q @ K.T / math.sqrt(Q.shape[-1]), dim=-1)
        ctx.save_for_backward(Q, K, V)
        ctx.P = P.clone()
        return P @ V

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        Q, K, V = ctx.saved_tensors
        P = ctx.P
        dV = P.T @ G
        dP = G @ V.T
        dS = P * (dP - (dP * P).sum(-1, keepdim=True))
        P.mul_(1.0)  # the "scratch" reuse below is the bug
        dS.mul_(1 / math.sqrt(Q.shape[-1]))
        ctx.P = P * math.sqrt(Q.shape[-1])
        return dS @ K, dS.T @ Q, dV


# ---- batch norm -----------------------------------------------------------------------------------
class BatchNormDropsMeanTerm(L.BatchNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        xhat, rstd, gamma = ctx.saved_tensors
        m, gh = G.shape[0], G * gamma
        return rstd / m * (m * gh - xhat * (gh * xhat).sum(0)), (G * xhat).sum(0), G.sum(0)


class BatchNormBetaGradAveraged(L.BatchNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dX, dgamma, _ = L.BatchNorm.backward(ctx, G)
        return dX, dgamma, G.mean(0)


class BatchNormIgnoresGradOutput(L.BatchNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return L.BatchNorm.backward(ctx, torch.ones_like(G))


class BatchNormGammaGradSignFlipped(L.BatchNorm):
    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dX, dgamma, dbeta = L.BatchNorm.backward(ctx, G)
        return dX, -dgamma, dbeta


@dataclass(frozen=True)
class Twin:
    """A buggy twin: the layer it copies, its planted flaw and the bug class to name."""

    name: str
    layer: str
    fn: Callable[..., Any]
    flaw: str
    bug: str
    cuda_only: bool = False


TWINS: tuple[Twin, ...] = (
    Twin("linear_weight_grad_transposed", "linear", LinearWeightGradTransposed.apply,
         "dW = X^T G, the transpose of G^T X", "transposed"),
    Twin("linear_bias_grad_averaged", "linear", LinearBiasGradAveraged.apply,
         "db = mean of G over the batch, not the sum", "reduction"),
    Twin("linear_ignores_grad_output", "linear", LinearIgnoresGradOutput.apply,
         "backward uses ones in place of grad_output", "ignores grad_output"),
    Twin("linear_strides_ignored", "linear", LinearStridesIgnored.apply,
         "backward reads X and W as if contiguous", "non-contiguous"),
    Twin("softmax_drops_sum_term", "softmax", SoftmaxDropsSumTerm.apply,
         "dZ = s * g, without the - (g . s) term", "dropped term"),
    Twin("softmax_sign_flipped", "softmax", SoftmaxSignFlipped.apply,
         "dZ = s * ((g . s) - g)", "sign"),
    Twin("softmax_in_place_on_ctx", "softmax", SoftmaxInPlaceOnCtx.apply,
         "writes the gradient into the s it saved on ctx", "second call"),
    Twin("cross_entropy_no_batch_mean", "cross_entropy", CrossEntropyNoBatchMean.apply,
         "forgets the 1/b of the batch mean", "factor"),
    Twin("cross_entropy_sign_flipped", "cross_entropy", CrossEntropySignFlipped.apply,
         "dZ = y - softmax(z)", "sign"),
    Twin("cross_entropy_ignores_grad_output", "cross_entropy", CrossEntropyIgnoresGradOutput.apply,
         "drops the upstream scalar (a loss scale is lost)", "ignores grad_output"),
    Twin("layer_norm_drops_mean_term", "layer_norm", LayerNormDropsMeanTerm.apply,
         "dX without the - mean(g_hat) term", "dropped term"),
    Twin("layer_norm_gamma_beta_swapped", "layer_norm", LayerNormGammaBetaSwapped.apply,
         "returns d(beta) for gamma and d(gamma) for beta", "swapped"),
    Twin("layer_norm_gamma_grad_averaged", "layer_norm", LayerNormGammaGradAveraged.apply,
         "d(gamma) averaged over the batch, not summed", "reduction"),
    Twin("layer_norm_strides_ignored", "layer_norm", LayerNormStridesIgnored.apply,
         "recomputes statistics from X's storage read as if contiguous", "non-contiguous"),
    Twin("rms_norm_drops_projection", "rms_norm", RMSNormDropsProjection.apply,
         "dX = r g_hat, without the - x_hat mean(g_hat x_hat) term", "dropped term"),
    Twin("rms_norm_gamma_grad_averaged", "rms_norm", RMSNormGammaGradAveraged.apply,
         "d(gamma) averaged over the batch, not summed", "reduction"),
    Twin("rms_norm_ignores_grad_output", "rms_norm", RMSNormIgnoresGradOutput.apply,
         "backward runs with ones in place of grad_output", "ignores grad_output"),
    Twin("rms_norm_wrong_on_cuda", "rms_norm", RMSNormWrongOnCuda.apply,
         "a CUDA-only path forgets gamma", "cuda", cuda_only=True),
    Twin("gelu_sign_flipped", "gelu", GELUSignFlipped.apply, "dX = -g GELU'(x)", "sign"),
    Twin("gelu_ignores_grad_output", "gelu", GELUIgnoresGradOutput.apply,
         "returns GELU'(x), not g GELU'(x)", "ignores grad_output"),
    Twin("gelu_drops_density_term", "gelu", GELUDropsDensityTerm.apply,
         "GELU'(x) = Phi(x), without x phi(x)", "dropped term"),
    Twin("gelu_wrong_jvp", "gelu", GELUWrongJvp.apply,
         "right backward, jvp without x phi(x)", "jvp"),
    Twin("attention_no_scale_in_backward", "attention", AttentionNoScaleInBackward.apply,
         "dQ, dK without the 1/sqrt(d)", "factor"),
    Twin("attention_qk_swapped", "attention", AttentionQKSwapped.apply,
         "returns dK for Q and dQ for K", "swapped"),
    Twin("attention_value_grad_transposed", "attention", AttentionValueGradTransposed.apply,
         "dV = (P^T G)^T", "transposed"),
    Twin("attention_scales_saved_p", "attention", AttentionScalesSavedP.apply,
         "rescales the P it saved on ctx, so a second backward differs", "second call"),
    Twin("batch_norm_drops_mean_term", "batch_norm", BatchNormDropsMeanTerm.apply,
         "dX without the - sum(g_hat) term", "dropped term"),
    Twin("batch_norm_beta_grad_averaged", "batch_norm", BatchNormBetaGradAveraged.apply,
         "d(beta) averaged over the batch, not summed", "reduction"),
    Twin("batch_norm_ignores_grad_output", "batch_norm", BatchNormIgnoresGradOutput.apply,
         "backward runs with ones in place of grad_output", "ignores grad_output"),
    Twin("batch_norm_gamma_grad_sign_flipped", "batch_norm", BatchNormGammaGradSignFlipped.apply,
         "d(gamma) with its sign flipped", "sign"),
)
