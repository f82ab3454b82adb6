"""Deep-learning layers: the closed-form backward of each layer the course builds.

Each rule states a layer's backward the way a hand-written ``backward`` computes it: the upstream
gradient ``G`` (``grad_output``) is an input, f is the scalar <G, layer(inputs)>, and the derivative
with respect to one input is the vector-Jacobian product G^T D layer, in that input's shape.
Batches run along dim 0 (``m`` rows); features along dim -1 (``n``). Attention uses ``k`` queries,
``q`` keys and values, key width ``n`` and value width ``p``, so every shape differs and a
transposed gradient cannot pass by luck. The hand-written ``torch.autograd.Function`` versions
(and their buggy twins) are in ``examples/layers.py``.
"""

import math

import torch
import torch.nn.functional as F

from matcalc.domains import matrix, vector
from matcalc.rule import Rule

GROUP = "deep learning"
LINEAR = "linear and bias"
SOFTMAX = "softmax and cross-entropy"
NORMS = "normalization"
ACTIVATION = "activations"
ATTENTION = "attention"

COURSE = "course slides: backpropagation through layers"
EPS = 1e-5  # the normalization layers' epsilon (torch's default)


def inner(G, Y):
    return (G * Y).sum()


# ---- forward passes, in plain PyTorch (autograd differentiates these) --------------------------
def layer_norm(X, gamma, beta):
    return F.layer_norm(X, (X.shape[-1],), gamma, beta, eps=EPS)


def rms_norm(X, gamma):
    return X * torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + EPS) * gamma


def batch_norm(X, gamma, beta):
    return F.batch_norm(X, None, None, gamma, beta, training=True, eps=EPS)


def attention(Q, K, V):
    return torch.softmax(Q @ K.T / math.sqrt(Q.shape[-1]), dim=-1) @ V


def cross_entropy(z, t):
    return -(t / t.sum()) @ torch.log_softmax(z, 0)


# ---- pieces the closed forms share ---------------------------------------------------------------
def ln_rstd(X):
    return torch.rsqrt(X.var(-1, unbiased=False, keepdim=True) + EPS)


def ln_hat(X):
    return (X - X.mean(-1, keepdim=True)) * ln_rstd(X)


def rms_rstd(X):
    return torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + EPS)


def bn_rstd(X):
    return torch.rsqrt(X.var(0, unbiased=False, keepdim=True) + EPS)


def bn_hat(X):
    return (X - X.mean(0, keepdim=True)) * bn_rstd(X)


def attn_probs(Q, K):
    return torch.softmax(Q @ K.T / math.sqrt(Q.shape[-1]), dim=-1)


def attn_dS(Q, K, V, G):
    P, dP = attn_probs(Q, K), G @ V.T
    return P * (dP - (dP * P).sum(-1, keepdim=True))


def phi(x):
    return torch.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def Phi(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


LIN = {"X": matrix("m", "n"), "W": matrix("k", "n"), "b": vector("k"), "G": matrix("m", "k")}
NORM = {"X": matrix("m", "n"), "gamma": vector("n"), "beta": vector("n"), "G": matrix("m", "n")}
RMS = {"X": matrix("m", "n"), "gamma": vector("n"), "G": matrix("m", "n")}
ATTN = {"Q": matrix("k", "n"), "K": matrix("q", "n"), "V": matrix("q", "p"), "G": matrix("k", "p")}
SDPA = r"S = QK^\top/\sqrt{d},\ P = \mathrm{softmax}(S),\ O = PV"
FLASH = "Dao et al., FlashAttention (2022), app. B.2; " + COURSE
BN_PAPER = "Ioffe & Szegedy, Batch Normalization (2015), sec. 3; " + COURSE
RMS_PAPER = "Zhang & Sennrich, Root Mean Square Layer Normalization (2019), sec. 3; " + COURSE
LN_PAPER = "Ba et al., Layer Normalization (2016); " + COURSE

RULES = (
    # ---- linear: Y = X W^T + b ------------------------------------------------------------------
    Rule(
        name="deep_linear_grad_input",
        f=lambda X, W, b, G: inner(G, X @ W.T + b), derivative=lambda X, W, b, G: G @ W,
        wrt="X", inputs=LIN,
        latex=r"Y = XW^\top + b:\ \partial L/\partial X = G W", source=COURSE, section=LINEAR,
    ),
    Rule(
        name="deep_linear_grad_weight",
        f=lambda X, W, b, G: inner(G, X @ W.T + b), derivative=lambda X, W, b, G: G.T @ X,
        wrt="W", inputs=LIN,
        latex=r"Y = XW^\top + b:\ \partial L/\partial W = G^\top X", source=COURSE, section=LINEAR,
    ),
    Rule(
        name="deep_linear_grad_bias",
        f=lambda X, W, b, G: inner(G, X @ W.T + b), derivative=lambda X, W, b, G: G.sum(0),
        wrt="b", inputs=LIN,
        latex=r"Y = XW^\top + 1 b^\top:\ \partial L/\partial b = G^\top 1 \text{ (summed over the batch)}",
        source=COURSE, section=LINEAR,
    ),
    # ---- softmax, log-softmax, cross-entropy ----------------------------------------------------
    Rule(
        name="deep_softmax_jacobian",
        f=lambda z: torch.softmax(z, 0),
        derivative=lambda z: torch.diag(torch.softmax(z, 0)) - torch.outer(torch.softmax(z, 0), torch.softmax(z, 0)),
        wrt="z", inputs={"z": vector("n")},
        latex=r"s = \mathrm{softmax}(z):\ \partial s/\partial z = \mathrm{diag}(s) - s s^\top",
        source="Goodfellow et al., Deep Learning (2016), 6.2.2.3; " + COURSE, section=SOFTMAX,
    ),
    Rule(
        name="deep_softmax_backward",
        f=lambda z, g: g @ torch.softmax(z, 0),
        derivative=lambda z, g: torch.softmax(z, 0) * (g - g @ torch.softmax(z, 0)),
        wrt="z", inputs={"z": vector("n"), "g": vector("n")},
        latex=r"s = \mathrm{softmax}(z):\ \partial L/\partial z = s \odot (g - (g^\top s) 1)",
        source=COURSE, section=SOFTMAX,
    ),
    Rule(
        name="deep_log_softmax_backward",
        f=lambda z, g: g @ torch.log_softmax(z, 0),
        derivative=lambda z, g: g - torch.softmax(z, 0) * g.sum(),
        wrt="z", inputs={"z": vector("n"), "g": vector("n")},
        latex=r"\ell = \log\mathrm{softmax}(z):\ \partial L/\partial z = g - \mathrm{softmax}(z)\, (1^\top g)",
        source=COURSE, section=SOFTMAX,
    ),
    Rule(
        name="deep_cross_entropy_grad_logits",
        f=cross_entropy, derivative=lambda z, t: torch.softmax(z, 0) - t / t.sum(),
        wrt="z", inputs={"z": vector("n"), "t": vector("n", positive=True)},
        latex=r"L = -y^\top \log\mathrm{softmax}(z),\ y = t / 1^\top t:\ \partial L/\partial z = \mathrm{softmax}(z) - y",
        source="Goodfellow et al., Deep Learning (2016), 6.2.2.3; " + COURSE, section=SOFTMAX,
        conditions="y is a probability vector (sums to 1)",
    ),
    # ---- layer norm: Y = xhat * gamma + beta, rows normalized --------------------------------------
    Rule(
        name="deep_layer_norm_grad_input",
        f=lambda X, gamma, beta, G: inner(G, layer_norm(X, gamma, beta)),
        derivative=lambda X, gamma, beta, G: ln_rstd(X) * (G * gamma - (G * gamma).mean(-1, keepdim=True) - ln_hat(X) * (G * gamma * ln_hat(X)).mean(-1, keepdim=True)),
        wrt="X", inputs=NORM,
        latex=r"\partial L/\partial X = r \odot (\hat g - \mathrm{mean}(\hat g) - \hat x \odot \mathrm{mean}(\hat g \odot \hat x)),\ \hat g = G\gamma,\ r = (\sigma^2 + \epsilon)^{-1/2}",
        source=LN_PAPER, section=NORMS, conditions="means over dim -1",
    ),
    Rule(
        name="deep_layer_norm_grad_gamma",
        f=lambda X, gamma, beta, G: inner(G, layer_norm(X, gamma, beta)),
        derivative=lambda X, gamma, beta, G: (G * ln_hat(X)).sum(0),
        wrt="gamma", inputs=NORM,
        latex=r"\partial L/\partial \gamma = \textstyle\sum_{\text{rows}} G \odot \hat x", source=LN_PAPER, section=NORMS,
    ),
    Rule(
        name="deep_layer_norm_grad_beta",
        f=lambda X, gamma, beta, G: inner(G, layer_norm(X, gamma, beta)),
        derivative=lambda X, gamma, beta, G: G.sum(0),
        wrt="beta", inputs=NORM,
        latex=r"\partial L/\partial \beta = \textstyle\sum_{\text{rows}} G", source=LN_PAPER, section=NORMS,
    ),
    # ---- RMSNorm: Y = x / rms(x) * gamma -----------------------------------------------------------
    Rule(
        name="deep_rms_norm_grad_input",
        f=lambda X, gamma, G: inner(G, rms_norm(X, gamma)),
        derivative=lambda X, gamma, G: rms_rstd(X) * (G * gamma - X * rms_rstd(X) ** 2 * (G * gamma * X).mean(-1, keepdim=True)),
        wrt="X", inputs=RMS,
        latex=r"\partial L/\partial X = r \odot (\hat g - \hat x \odot \mathrm{mean}(\hat g \odot \hat x)),\ \hat x = r x,\ r = (\mathrm{mean}(x^2) + \epsilon)^{-1/2}",
        source=RMS_PAPER, section=NORMS,
    ),
    Rule(
        name="deep_rms_norm_grad_gamma",
        f=lambda X, gamma, G: inner(G, rms_norm(X, gamma)),
        derivative=lambda X, gamma, G: (G * X * rms_rstd(X)).sum(0),
        wrt="gamma", inputs=RMS,
        latex=r"\partial L/\partial \gamma = \textstyle\sum_{\text{rows}} G \odot \hat x", source=RMS_PAPER, section=NORMS,
    ),
    # ---- batch norm, training mode: columns normalized over the batch ------------------------------
    Rule(
        name="deep_batch_norm_grad_input",
        f=lambda X, gamma, beta, G: inner(G, batch_norm(X, gamma, beta)),
        derivative=lambda X, gamma, beta, G: bn_rstd(X) / X.shape[0] * (X.shape[0] * G * gamma - (G * gamma).sum(0) - bn_hat(X) * (G * gamma * bn_hat(X)).sum(0)),
        wrt="X", inputs=NORM,
        latex=r"\partial L/\partial X = \tfrac{r}{m} \odot (m \hat g - \textstyle\sum_0 \hat g - \hat x \odot \sum_0 \hat g \odot \hat x),\ \hat g = G\gamma",
        source=BN_PAPER, section=NORMS, conditions="training mode: batch statistics, biased variance over dim 0",
    ),
    Rule(
        name="deep_batch_norm_grad_gamma",
        f=lambda X, gamma, beta, G: inner(G, batch_norm(X, gamma, beta)),
        derivative=lambda X, gamma, beta, G: (G * bn_hat(X)).sum(0),
        wrt="gamma", inputs=NORM,
        latex=r"\partial L/\partial \gamma = \textstyle\sum_0 G \odot \hat x", source=BN_PAPER, section=NORMS,
        conditions="training mode",
    ),
    # ---- GELU (exact, erf form) ----------------------------------------------------------------------
    Rule(
        name="deep_gelu_backward",
        f=lambda x, g: g @ F.gelu(x), derivative=lambda x, g: g * (Phi(x) + x * phi(x)),
        wrt="x", inputs={"x": vector("n"), "g": vector("n")},
        latex=r"\mathrm{GELU}(x) = x\Phi(x):\ \partial L/\partial x = g \odot (\Phi(x) + x \varphi(x))",
        source="Hendrycks & Gimpel, GELUs (2016); " + COURSE, section=ACTIVATION,
    ),
    # ---- scaled dot-product attention ----------------------------------------------------------------
    Rule(
        name="deep_attention_grad_query",
        f=lambda Q, K, V, G: inner(G, attention(Q, K, V)),
        derivative=lambda Q, K, V, G: attn_dS(Q, K, V, G) @ K / math.sqrt(Q.shape[-1]),
        wrt="Q", inputs=ATTN,
        latex=SDPA + r":\ \partial L/\partial Q = dS\, K / \sqrt{d},\ dS = P \odot (G V^\top - \mathrm{rowsum}(P \odot G V^\top))",
        source=FLASH, section=ATTENTION,
    ),
    Rule(
        name="deep_attention_grad_key",
        f=lambda Q, K, V, G: inner(G, attention(Q, K, V)),
        derivative=lambda Q, K, V, G: attn_dS(Q, K, V, G).T @ Q / math.sqrt(Q.shape[-1]),
        wrt="K", inputs=ATTN,
        latex=SDPA + r":\ \partial L/\partial K = dS^\top Q / \sqrt{d}",
        source=FLASH, section=ATTENTION,
    ),
    Rule(
        name="deep_attention_grad_value",
        f=lambda Q, K, V, G: inner(G, attention(Q, K, V)),
        derivative=lambda Q, K, V, G: attn_probs(Q, K).T @ G,
        wrt="V", inputs=ATTN,
        latex=SDPA + r":\ \partial L/\partial V = P^\top G",
        source=FLASH, section=ATTENTION,
    ),
)
