"""The course's layers as ``torch.autograd.Function``s with hand-written backwards, each with the
plain-PyTorch forward it claims to differentiate, and the input domains it is checked on.

    python -c "import examples.layers as L, matcalc as mc; \\
        print(mc.check_backward(L.LayerNorm.apply, reference=L.layer_norm_ref, inputs=L.NORM))"

The closed forms are the catalog's ``deep learning`` group (matcalc/catalog/deep_learning.py);
their buggy twins are in examples/twins.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

import matcalc as mc
from matcalc.model.domains import Domain

EPS = 1e-5
Ctx = Any


# ---- plain-PyTorch forwards: the references ----------------------------------------------------
def linear_ref(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return X @ W.T + b


def softmax_ref(Z: torch.Tensor) -> torch.Tensor:
    return torch.softmax(Z, dim=-1)


def cross_entropy_ref(Z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    Y = T / T.sum(-1, keepdim=True)
    return -(Y * torch.log_softmax(Z, dim=-1)).sum(-1).mean()


def layer_norm_ref(X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(X, (X.shape[-1],), gamma, beta, eps=EPS)


def rms_norm_ref(X: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    return X * torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + EPS) * gamma


def gelu_ref(X: torch.Tensor) -> torch.Tensor:
    return F.gelu(X)


def attention_ref(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    return torch.softmax(Q @ K.mT / math.sqrt(Q.shape[-1]), dim=-1) @ V


def batch_norm_ref(X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(X, None, None, gamma, beta, training=True, eps=EPS)


# ---- shared pieces ------------------------------------------------------------------------------
def raw(t: torch.Tensor) -> torch.Tensor:
    """t's storage read as if t were contiguous: what a kernel that ignores strides sees."""
    return torch.as_strided(t, t.shape, torch.empty(t.shape, device="meta").stride(), t.storage_offset())


def phi(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def Phi(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


# ---- the layers ----------------------------------------------------------------------------------
class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Ctx, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X, W)
        return X @ W.T + b

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, W = ctx.saved_tensors
        return G @ W, G.T @ X, G.sum(0)


class Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Ctx, Z: torch.Tensor) -> torch.Tensor:
        s = torch.softmax(Z, dim=-1)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return s * (g - (g * s).sum(-1, keepdim=True))


class CrossEntropy(torch.autograd.Function):
    """Mean over the batch of -y^T log softmax(z), y = t / sum(t) (soft targets)."""

    @staticmethod
    def forward(ctx: Ctx, Z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        Y = T / T.sum(-1, keepdim=True)
        logp = torch.log_softmax(Z, dim=-1)
        ctx.save_for_backward(logp, Y)
        return -(Y * logp).sum(-1).mean()

    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        logp, Y = ctx.saved_tensors
        return g * (logp.exp() - Y) / Y.shape[0], None


class LayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Ctx, X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        mu = X.mean(-1, keepdim=True)
        rstd = torch.rsqrt(X.var(-1, unbiased=False, keepdim=True) + EPS)
        xhat = (X - mu) * rstd
        ctx.save_for_backward(X, xhat, rstd, gamma)
        return xhat * gamma + beta

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        _, xhat, rstd, gamma = ctx.saved_tensors
        gh = G * gamma
        dX = rstd * (gh - gh.mean(-1, keepdim=True) - xhat * (gh * xhat).mean(-1, keepdim=True))
        return dX, (G * xhat).sum(0), G.sum(0)


class RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Ctx, X: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        rstd = torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + EPS)
        ctx.save_for_backward(X, rstd, gamma)
        return X * rstd * gamma

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        X, rstd, gamma = ctx.saved_tensors
        xhat, gh = X * rstd, G * gamma
        return rstd * (gh - xhat * (gh * xhat).mean(-1, keepdim=True)), (G * xhat).sum(0)


class GELU(torch.autograd.Function):
    """Exact (erf) GELU, with a forward-mode jvp as well as the backward."""

    @staticmethod
    def forward(ctx: Ctx, X: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X)
        ctx.save_for_forward(X)
        return X * Phi(X)

    @staticmethod
    def backward(ctx: Ctx, g: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return g * (Phi(X) + X * phi(X))

    @staticmethod
    def jvp(ctx: Ctx, dX: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return dX * (Phi(X) + X * phi(X))


class Attention(torch.autograd.Function):
    """softmax(Q K^T / sqrt(d)) V for one head (2-D Q, K, V)."""

    @staticmethod
    def forward(ctx: Ctx, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        P = torch.softmax(Q @ K.T / math.sqrt(Q.shape[-1]), dim=-1)
        ctx.save_for_backward(Q, K, V, P)
        return P @ V

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        Q, K, V, P = ctx.saved_tensors
        scale = 1 / math.sqrt(Q.shape[-1])
        dP = G @ V.T
        dS = P * (dP - (dP * P).sum(-1, keepdim=True))
        return dS @ K * scale, dS.T @ Q * scale, P.T @ G


class BatchNorm(torch.autograd.Function):
    """Training mode: batch mean and biased variance over dim 0."""

    @staticmethod
    def forward(ctx: Ctx, X: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        rstd = torch.rsqrt(X.var(0, unbiased=False, keepdim=True) + EPS)
        xhat = (X - X.mean(0, keepdim=True)) * rstd
        ctx.save_for_backward(xhat, rstd, gamma)
        return xhat * gamma + beta

    @staticmethod
    def backward(ctx: Ctx, G: torch.Tensor) -> tuple[torch.Tensor, ...]:
        xhat, rstd, gamma = ctx.saved_tensors
        m, gh = G.shape[0], G * gamma
        dX = rstd / m * (m * gh - gh.sum(0) - xhat * (gh * xhat).sum(0))
        return dX, (G * xhat).sum(0), G.sum(0)


# ---- what each layer is checked on -----------------------------------------------------------------
LIN = {"X": mc.matrix("b", "n"), "W": mc.matrix("k", "n"), "b": mc.vector("k")}
ROWS = {"Z": mc.matrix("b", "n")}
CE = {"Z": mc.matrix("b", "n"), "T": mc.matrix("b", "n", structure="positive")}
NORM = {"X": mc.matrix("b", "n"), "gamma": mc.vector("n"), "beta": mc.vector("n")}
RMS = {"X": mc.matrix("b", "n"), "gamma": mc.vector("n")}
ACT = {"X": mc.matrix("b", "n")}
ATTN = {"Q": mc.matrix("s", "d"), "K": mc.matrix("s", "d"), "V": mc.matrix("s", "d")}


@dataclass(frozen=True)
class Layer:
    """A Function under test: its apply, the reference forward, its inputs and wrt."""

    name: str
    fn: Callable[..., Any]
    reference: Callable[..., torch.Tensor]
    inputs: dict[str, Domain]
    wrt: tuple[str, ...] | None = None
    sizes: dict[str, int] = field(default_factory=dict)

    def check(self, fn: Callable[..., Any] | None = None, **kw: Any) -> mc.BackwardResult:
        """check_backward of this layer (or of ``fn`` in its place, e.g. a buggy twin)."""
        kw.setdefault("sizes", self.sizes or None)
        return mc.check_backward(fn or self.fn, inputs=self.inputs, reference=self.reference,
                                 wrt=self.wrt, name=self.name, **kw)


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (
    Layer("linear", Linear.apply, linear_ref, LIN),
    Layer("softmax", Softmax.apply, softmax_ref, ROWS),
    Layer("cross_entropy", CrossEntropy.apply, cross_entropy_ref, CE, wrt=("Z",)),
    Layer("layer_norm", LayerNorm.apply, layer_norm_ref, NORM),
    Layer("rms_norm", RMSNorm.apply, rms_norm_ref, RMS),
    Layer("gelu", GELU.apply, gelu_ref, ACT),
    Layer("attention", Attention.apply, attention_ref, ATTN),
    Layer("batch_norm", BatchNorm.apply, batch_norm_ref, NORM),
)}
