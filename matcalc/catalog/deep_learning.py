"""Deep-learning layers: the closed-form backward of each layer the course builds.

Each rule states a layer's backward the way a hand-written ``backward`` computes it: the upstream
gradient ``G`` (``grad_output``) is an input, f is the scalar <G, layer(inputs)>, and the derivative
with respect to one input is the vector-Jacobian product G^T D layer, in that input's shape.
Batches run along dim 0 (``m`` rows); features along dim -1 (``n``). Attention uses ``k`` queries,
``q`` keys and values, key width ``n`` and value width ``p``, so every shape differs and a
transposed gradient cannot pass by luck. Every rule is written as text (``text_rule``), so its
statement is rendered from the formula that is checked; the shared pieces (the normalized input
x-hat, the reciprocal standard deviation r, the attention probabilities P and dS) are spelled out
below once and pasted into the texts. The hand-written ``torch.autograd.Function`` versions
(and their buggy twins) are in ``examples/layers.py``.
"""

from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix, vector

GROUP = "deep learning"
LINEAR = "linear and bias"
SOFTMAX = "softmax and cross-entropy"
NORMS = "normalization"
ACTIVATION = "activations"
ATTENTION = "attention"

COURSE = "course slides: backpropagation through layers"

# ---- the pieces the texts share (1e-05 is the normalization layers' epsilon, torch's default) ----
LINEAR_Y = "X @ W.T + b"
LN_R = "(mean((X - mean(X, 1, keepdim=True)) ** 2, 1, keepdim=True) + 1e-05) ** -0.5"  # per row
LN_HAT = f"(X - mean(X, 1, keepdim=True)) * {LN_R}"
RMS_R = "(mean(X ** 2, 1, keepdim=True) + 1e-05) ** -0.5"  # per row
BN_R = "(mean((X - mean(X, 0)) ** 2, 0) + 1e-05) ** -0.5"  # per column, biased batch variance
BN_HAT = f"(X - mean(X, 0)) * {BN_R}"
PROBS = "softmax(Q @ K.T / sqrt(Q.shape[-1]))"  # row-wise softmax
DS = f"{PROBS} * (G @ V.T - sum({PROBS} * (G @ V.T), -1, keepdim=True))"
ATTENTION_O = f"{PROBS} @ V"

LIN = {"X": matrix("m", "n"), "W": matrix("k", "n"), "b": vector("k"), "G": matrix("m", "k")}
NORM = {"X": matrix("m", "n"), "gamma": vector("n"), "beta": vector("n"), "G": matrix("m", "n")}
RMS = {"X": matrix("m", "n"), "gamma": vector("n"), "G": matrix("m", "n")}
ATTN = {"Q": matrix("k", "n"), "K": matrix("q", "n"), "V": matrix("q", "p"), "G": matrix("k", "p")}
FLASH = "Dao et al., FlashAttention (2022), app. B.2; " + COURSE
BN_PAPER = "Ioffe & Szegedy, Batch Normalization (2015), sec. 3; " + COURSE
RMS_PAPER = "Zhang & Sennrich, Root Mean Square Layer Normalization (2019), sec. 3; " + COURSE
LN_PAPER = "Ba et al., Layer Normalization (2016); " + COURSE

RULES = (
    # ---- linear: Y = X W^T + b ------------------------------------------------------------------
    text_rule(
        name="deep_linear_grad_input",
        f=f"sum(G * ({LINEAR_Y}))", derivative="G @ W",
        wrt="X", inputs=LIN, source=COURSE, section=LINEAR,
    ),
    text_rule(
        name="deep_linear_grad_weight",
        f=f"sum(G * ({LINEAR_Y}))", derivative="G.T @ X",
        wrt="W", inputs=LIN, source=COURSE, section=LINEAR,
    ),
    text_rule(
        name="deep_linear_grad_bias",
        f=f"sum(G * ({LINEAR_Y}))", derivative="sum(G, 0)",
        wrt="b", inputs=LIN, source=COURSE, section=LINEAR,
    ),
    # ---- softmax, log-softmax, cross-entropy ----------------------------------------------------
    text_rule(
        name="deep_softmax_jacobian",
        f="softmax(z)", derivative="diag(softmax(z)) - outer(softmax(z), softmax(z))",
        wrt="z", inputs={"z": vector("n")},
        source="Goodfellow et al., Deep Learning (2016), 6.2.2.3; " + COURSE, section=SOFTMAX,
    ),
    text_rule(
        name="deep_softmax_backward",
        f="g @ softmax(z)", derivative="softmax(z) * (g - g @ softmax(z))",
        wrt="z", inputs={"z": vector("n"), "g": vector("n")},
        source=COURSE, section=SOFTMAX,
    ),
    text_rule(
        name="deep_log_softmax_backward",
        f="g @ log_softmax(z)", derivative="g - softmax(z) * sum(g)",
        wrt="z", inputs={"z": vector("n"), "g": vector("n")},
        source=COURSE, section=SOFTMAX,
    ),
    text_rule(
        name="deep_cross_entropy_grad_logits",
        f="-(t / sum(t)) @ log_softmax(z)", derivative="softmax(z) - t / sum(t)",
        wrt="z", inputs={"z": vector("n"), "t": vector("n", positive=True)},
        source="Goodfellow et al., Deep Learning (2016), 6.2.2.3; " + COURSE, section=SOFTMAX,
        conditions="y is a probability vector (sums to 1)",
    ),
    # ---- layer norm: Y = xhat * gamma + beta, rows normalized --------------------------------------
    text_rule(
        name="deep_layer_norm_grad_input",
        f=f"sum(G * ({LN_HAT} * gamma + beta))",
        derivative=f"{LN_R} * (G * gamma - mean(G * gamma, 1, keepdim=True) - {LN_HAT} * mean(G * gamma * {LN_HAT}, 1, keepdim=True))",
        wrt="X", inputs=NORM, source=LN_PAPER, section=NORMS, conditions="means over dim -1",
    ),
    text_rule(
        name="deep_layer_norm_grad_gamma",
        f=f"sum(G * ({LN_HAT} * gamma + beta))", derivative=f"sum(G * {LN_HAT}, 0)",
        wrt="gamma", inputs=NORM, source=LN_PAPER, section=NORMS,
    ),
    text_rule(
        name="deep_layer_norm_grad_beta",
        f=f"sum(G * ({LN_HAT} * gamma + beta))", derivative="sum(G, 0)",
        wrt="beta", inputs=NORM, source=LN_PAPER, section=NORMS,
    ),
    # ---- RMSNorm: Y = x / rms(x) * gamma -----------------------------------------------------------
    text_rule(
        name="deep_rms_norm_grad_input",
        f=f"sum(G * (X * {RMS_R} * gamma))",
        derivative=f"{RMS_R} * (G * gamma - X * ({RMS_R}) ** 2 * mean(G * gamma * X, 1, keepdim=True))",
        wrt="X", inputs=RMS, source=RMS_PAPER, section=NORMS,
    ),
    text_rule(
        name="deep_rms_norm_grad_gamma",
        f=f"sum(G * (X * {RMS_R} * gamma))", derivative=f"sum(G * X * {RMS_R}, 0)",
        wrt="gamma", inputs=RMS, source=RMS_PAPER, section=NORMS,
    ),
    # ---- batch norm, training mode: columns normalized over the batch ------------------------------
    text_rule(
        name="deep_batch_norm_grad_input",
        f=f"sum(G * ({BN_HAT} * gamma + beta))",
        derivative=f"{BN_R} / X.shape[0] * (X.shape[0] * G * gamma - sum(G * gamma, 0) - {BN_HAT} * sum(G * gamma * {BN_HAT}, 0))",
        wrt="X", inputs=NORM, source=BN_PAPER, section=NORMS,
        conditions="training mode: batch statistics, biased variance over dim 0",
    ),
    text_rule(
        name="deep_batch_norm_grad_gamma",
        f=f"sum(G * ({BN_HAT} * gamma + beta))", derivative=f"sum(G * {BN_HAT}, 0)",
        wrt="gamma", inputs=NORM, source=BN_PAPER, section=NORMS, conditions="training mode",
    ),
    # ---- GELU (exact, erf form): Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi the normal density ---------
    text_rule(
        name="deep_gelu_backward",
        f="g @ gelu(x)",
        derivative="g * (0.5 * (1 + erf(x / sqrt(2))) + x * exp(-x * x / 2) / sqrt(2 * 3.141592653589793))",
        wrt="x", inputs={"x": vector("n"), "g": vector("n")},
        source="Hendrycks & Gimpel, GELUs (2016); " + COURSE, section=ACTIVATION,
    ),
    # ---- scaled dot-product attention: S = Q K^T / sqrt(d), P = softmax(S) by rows, O = P V ---------
    text_rule(
        name="deep_attention_grad_query",
        f=f"sum(G * ({ATTENTION_O}))", derivative=f"({DS}) @ K / sqrt(Q.shape[-1])",
        wrt="Q", inputs=ATTN, source=FLASH, section=ATTENTION,
    ),
    text_rule(
        name="deep_attention_grad_key",
        f=f"sum(G * ({ATTENTION_O}))", derivative=f"({DS}).T @ Q / sqrt(Q.shape[-1])",
        wrt="K", inputs=ATTN, source=FLASH, section=ATTENTION,
    ),
    text_rule(
        name="deep_attention_grad_value",
        f=f"sum(G * ({ATTENTION_O}))", derivative=f"{PROBS}.T @ G",
        wrt="V", inputs=ATTN, source=FLASH, section=ATTENTION,
    ),
)
