"""Matrix Cookbook 2.8: structured matrices (133-144), and which convention each entry verifies.

A structured matrix A = A(theta) has fewer free parameters than entries. Here the parameters are
stored in a plain matrix input X and the structure is built from them (sym_from_upper, diag,
toeplitz, sym_toeplitz); autograd's gradient with respect to X is then exactly the vector of
per-free-parameter partials, scattered to where each parameter is stored, with zeros elsewhere.

The Cookbook's eqs. 138-144 are verified in that **per-free-parameter** convention: result[i, j]
is df/d(theta at (i, j)), perturbing A_ij and A_ji together. That is not the gradient for the
Frobenius inner product on symmetric matrices, which is sym(G) = (G + G^T)/2 and is the only
matrix D with df(E) = <D, E> for every symmetric direction E (Srinivasan & Panda, arXiv
1911.06491). Both conventions are checked: the ``sym_frobenius_*`` rules verify sym(G) as a
directional derivative, and errata.py shows the Cookbook's form failing under that reading.
"""

import torch

from matcalc.catalog._cite import cb
from matcalc.catalog._ops import (
    alpha,
    det,
    dg,
    eye_like,
    inv,
    sym_from_upper,
    sym_toeplitz,
    sym_toeplitz_params,
    toeplitz,
    toeplitz_params,
    tr,
)
from matcalc.catalog._text import text_rule
from matcalc.model.domains import matrix
from matcalc.model.rule import Rule

SECTION = "2.8 structured matrices"
FREE = "per-free-parameter partials (Cookbook convention)"



def cookbook_sym(G):
    """The Cookbook's symmetric-structure derivative G + G^T - dg(G), on the stored parameters."""
    return torch.triu(G + G.T - dg(G))


def structure_matrices(X):
    """dA/dtheta for A = sym_from_upper(X): S^ij = J^ij + J^ji - J^ij J^ij for i <= j, else 0."""
    n = X.shape[0]
    out = torch.zeros(n, n, n, n, dtype=X.dtype, device=X.device)
    for i in range(n):
        for j in range(i, n):
            out[i, j, i, j] = 1
            out[j, i, i, j] = 1
    return out


def tABA_grad(A, B):
    """The unconstrained gradient of Tr(A B A): A^T B^T + B^T A^T."""
    return A.T @ B.T + B.T @ A.T


def chain_U(X):
    """The instance of 136/137: U = X^2 + sin(X) (elementwise sin)."""
    return X @ X + torch.sin(X)


def chain_g(X):
    """g(U) = logdet(U U^T + I) + sum(U^3)."""
    U = chain_U(X)
    return torch.logdet(U @ U.T + eye_like(U)) + (U**3).sum()


def chain_dg_dU(U):
    return 2 * inv(U @ U.T + eye_like(U)) @ U + 3 * U * U


def chain_137(X):
    """Tr((dg/dU)^T dU/dX_ij) for every (i, j), with dU_kl/dX_ij written out entrywise."""
    G = chain_dg_dU(chain_U(X))
    eye = eye_like(X)
    dU = (torch.einsum("ki,jl->klij", eye, X) + torch.einsum("ki,lj->klij", X, eye)
          + torch.einsum("ki,lj,ij->klij", eye, eye, torch.cos(X)))
    return torch.einsum("kl,klij->ij", G, dU)


def chain_136(X):
    """sum_kl (dg/dU)_kl dU_kl/dX_ij, contracted in closed form: G X^T + X^T G + G * cos(X)."""
    G = chain_dg_dU(chain_U(X))
    return G @ X.T + X.T @ G + G * torch.cos(X)


GROUP = "Matrix Cookbook"

RULES = (
    Rule(
        name="cookbook_134_symmetric_structure_matrix",
        f=lambda X: sym_from_upper(X), derivative=structure_matrices,
        wrt="X", inputs={"X": matrix("n", "n")},
        latex=r"\frac{\partial A}{\partial A_{ij}} = S^{ij} = J^{ij} + J^{ji} - J^{ij} J^{ij}\ (A\ \mathrm{symmetric})",
        source=cb("134, 2.8.2"), section=SECTION, conditions="free parameters: the upper triangle, i <= j",
    ),
    Rule(
        name="cookbook_136_chain_rule",
        f=chain_g, derivative=chain_136,
        wrt="X", inputs={"X": matrix("n", "n")},
        latex=r"\frac{\partial g(U)}{\partial X_{ij}} = \sum_{kl} \frac{\partial g}{\partial U_{kl}} \frac{\partial U_{kl}}{\partial X_{ij}} = \mathrm{Tr}\left[\left(\frac{\partial g}{\partial U}\right)^\top \frac{\partial U}{\partial X_{ij}}\right]",
        source=cb(136), section=SECTION,
        conditions="instance U = X^2 + sin(X) (elementwise sin), g = logdet(U U^T + I) + sum(U^3)",
    ),
    Rule(
        name="cookbook_133_parameterised_chain_rule",
        f=lambda X, B: tr(sym_from_upper(X) @ B @ sym_from_upper(X)),
        derivative=lambda X, B: torch.einsum("kl,klij->ij", tABA_grad(sym_from_upper(X), B), structure_matrices(X)),
        wrt="X", inputs={"X": matrix("n", "n"), "B": matrix("n", "n")},
        latex=r"\frac{df}{dA_{ij}} = \sum_{kl} \frac{\partial f}{\partial A_{kl}} \frac{\partial A_{kl}}{\partial A_{ij}} = \mathrm{Tr}\left[\left(\frac{\partial f}{\partial A}\right)^\top \frac{\partial A}{\partial A_{ij}}\right]",
        source=cb(133), section=SECTION,
        conditions="A = A(theta) structured (instance: symmetric, theta = upper triangle), f = Tr(A B A); per-free-parameter partials",
    ),
    Rule(
        name="cookbook_137_chain_rule_trace_form",
        f=chain_g, derivative=chain_137,
        wrt="X", inputs={"X": matrix("n", "n")},
        latex=r"\frac{\partial g(U)}{\partial X_{ij}} = \mathrm{Tr}\left[\left(\frac{\partial g}{\partial U}\right)^\top \frac{\partial U}{\partial X_{ij}}\right]",
        source=cb(137), section=SECTION,
        conditions="same instance as 136, with dU/dX_ij written entrywise: delta(k,i) X[j,l] + X[k,i] delta(l,j) + delta(k,i) delta(l,j) cos(X[i,j])",
    ),
    Rule(
        name="cookbook_138_symmetric_general",
        f=lambda X, B: tr(sym_from_upper(X) @ B @ sym_from_upper(X)),
        derivative=lambda X, B: cookbook_sym(tABA_grad(sym_from_upper(X), B)),
        wrt="X", inputs={"X": matrix("n", "n"), "B": matrix("n", "n")},
        latex=r"\frac{df}{dA} = G + G^\top - \mathrm{dg}(G),\ G = \frac{\partial f}{\partial A}\ \mathrm{unconstrained}",
        source=cb(138), section=SECTION, conditions=f"A symmetric; instance f = Tr(A B A); {FREE}",
    ),
    Rule(
        name="cookbook_139_symmetric_trace",
        f=lambda X, A: tr(A @ sym_from_upper(X)),
        derivative=lambda X, A: torch.triu(A + A.T - A * eye_like(A)),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(AX)}{\partial X} = A + A^\top - (A \circ I)\ (X\ \mathrm{symmetric})",
        source=cb(139), section=SECTION, conditions=f"X symmetric; {FREE}",
    ),
    Rule(
        name="cookbook_140_symmetric_det",
        f=lambda X: det(sym_from_upper(X)),
        derivative=lambda X: torch.triu(det(X) * (2 * inv(X) - inv(X) * eye_like(X))),
        wrt="X", inputs={"X": matrix("n", "n", structure="spd")},
        latex=r"\frac{\partial \det X}{\partial X} = \det(X)(2X^{-1} - (X^{-1} \circ I))\ (X\ \mathrm{symmetric})",
        source=cb(140), section=SECTION, conditions=f"X symmetric invertible (instance spd); {FREE}",
    ),
    Rule(
        name="cookbook_141_symmetric_logdet",
        f=lambda X: torch.logdet(sym_from_upper(X)),
        derivative=lambda X: torch.triu(2 * inv(X) - inv(X) * eye_like(X)),
        wrt="X", inputs={"X": matrix("n", "n", structure="spd")},
        latex=r"\frac{\partial \ln \det X}{\partial X} = 2X^{-1} - (X^{-1} \circ I)\ (X\ \mathrm{symmetric})",
        source=cb(141), section=SECTION, conditions=f"X symmetric positive definite; {FREE}",
    ),
    Rule(
        name="cookbook_142_diagonal_trace",
        f=lambda X, A: tr(A @ torch.diag(torch.diagonal(X))), derivative=lambda X, A: A * eye_like(A),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(AX)}{\partial X} = A \circ I\ (X\ \mathrm{diagonal})",
        source=cb(142), section=SECTION, conditions="X diagonal; free parameters: the diagonal",
    ),
    Rule(
        name="cookbook_143_toeplitz_trace_AT",
        f=lambda X, A: tr(A @ toeplitz(X)), derivative=lambda X, A: toeplitz_params(alpha(A)),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(AT)}{\partial T} = \alpha(A)\ (T\ \mathrm{Toeplitz})",
        source=cb(143), section=SECTION,
        conditions="T Toeplitz, 2n-1 free parameters (first column and row); alpha(A)[i,j] = sum of A[q,p] over p-q = i-j (the prose definition; the printed sub-matrix labels for |i-j| = 2 do not give these sums)",
    ),
    Rule(
        name="cookbook_143_toeplitz_trace_TA",
        f=lambda X, A: tr(toeplitz(X) @ A), derivative=lambda X, A: toeplitz_params(alpha(A)),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(TA)}{\partial T} = \alpha(A)\ (T\ \mathrm{Toeplitz})",
        source=cb(143), section=SECTION, conditions="T Toeplitz; per-free-parameter partials",
    ),
    Rule(
        name="cookbook_144_symmetric_toeplitz_trace_AT",
        f=lambda X, A: tr(A @ sym_toeplitz(X)),
        derivative=lambda X, A: sym_toeplitz_params(alpha(A) + alpha(A).T - alpha(A) * eye_like(A)),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(AT)}{\partial T} = \alpha(A) + \alpha(A)^\top - \alpha(A) \circ I\ (T\ \mathrm{symmetric\ Toeplitz})",
        source=cb(144), section=SECTION, conditions="T symmetric Toeplitz, n free parameters (first row); per-free-parameter partials",
    ),
    Rule(
        name="cookbook_144_symmetric_toeplitz_trace_TA",
        f=lambda X, A: tr(sym_toeplitz(X) @ A),
        derivative=lambda X, A: sym_toeplitz_params(alpha(A) + alpha(A).T - alpha(A) * eye_like(A)),
        wrt="X", inputs={"X": matrix("n", "n"), "A": matrix("n", "n")},
        latex=r"\frac{\partial \mathrm{Tr}(TA)}{\partial T} = \alpha(A) + \alpha(A)^\top - \alpha(A) \circ I\ (T\ \mathrm{symmetric\ Toeplitz})",
        source=cb(144), section=SECTION, conditions="T symmetric Toeplitz; per-free-parameter partials",
    ),
    # ---- the Frobenius-gradient convention on Sym(n) (Srinivasan & Panda) ------------------
    text_rule(
        name="sym_frobenius_gradient_trace",
        f="tr(A @ X)",
        derivative="sum((A + A.T) / 2 * dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="symmetric"), "A": matrix("n", "n")},
        source="Srinivasan & Panda, arXiv 1911.06491 (on Cookbook 139)", section=SECTION,
        conditions="gradient on Sym(n) for the Frobenius inner product: sym(G) = (G + G^T)/2",
    ),
    text_rule(
        name="sym_frobenius_gradient_logdet",
        f="logdet(X)",
        derivative="sum(inv(X) * dX)",
        wrt=("X",), kind="differential", inputs={"X": matrix("n", "n", structure="spd")},
        source="Srinivasan & Panda, arXiv 1911.06491 (on Cookbook 141)", section=SECTION,
        conditions="gradient on Sym(n) for the Frobenius inner product: sym(G) = X^{-1}",
    ),
)
