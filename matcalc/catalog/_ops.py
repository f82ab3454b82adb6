"""Small matrix helpers the catalog's statements are written with (Cookbook notation)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable

import torch

inv = torch.linalg.inv
det = torch.linalg.det
pinv = torch.linalg.pinv


def tr(x: torch.Tensor) -> torch.Tensor:
    return torch.trace(x)


def eye_like(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
    size = x.shape[-1] if n is None else n
    return torch.eye(size, dtype=x.dtype, device=x.device)


def mpow(x: torch.Tensor, k: int) -> torch.Tensor:
    return torch.linalg.matrix_power(x, k)


def logabsdet(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.slogdet(x).logabsdet


def dg(x: torch.Tensor) -> torch.Tensor:
    """The diagonal part dg(M) = M * I."""
    return torch.diag(torch.diagonal(x))


def adjugate(x: torch.Tensor) -> torch.Tensor:
    """adj(X)[i, j] = (-1)^(i+j) det(X without row j and column i); defined for singular X too."""
    n = x.shape[0]
    cof = torch.empty_like(x)
    for i in range(n):
        for j in range(n):
            rows = [r for r in range(n) if r != i]
            cols = [c for c in range(n) if c != j]
            cof[i, j] = (-1) ** (i + j) * det(x[rows][:, cols])
    return cof.T


def sincos(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Matrix sin and cos (power series) from one real matrix exponential:
    expm([[0, X], [-X, 0]]) = [[cos X, sin X], [-sin X, cos X]]."""
    n = x.shape[0]
    z = torch.zeros_like(x)
    e = torch.linalg.matrix_exp(torch.cat([torch.cat([z, x], 1), torch.cat([-x, z], 1)], 0))
    return e[:n, n:], e[:n, :n]


def sym_from_upper(x: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix whose free parameters are the upper triangle of x."""
    return torch.triu(x) + torch.triu(x, 1).T


def toeplitz(x: torch.Tensor) -> torch.Tensor:
    """Toeplitz T with first column x[:, 0] and first row x[0, :] (2n - 1 free parameters)."""
    n = x.shape[0]
    i = torch.arange(n, device=x.device)
    d = i.unsqueeze(1) - i.unsqueeze(0)
    return torch.where(d >= 0, x[:, 0][d.clamp_min(0)], x[0, :][(-d).clamp_min(0)])


def sym_toeplitz(x: torch.Tensor) -> torch.Tensor:
    """Symmetric Toeplitz T[i, j] = x[0, |i - j|] (n free parameters)."""
    n = x.shape[0]
    i = torch.arange(n, device=x.device)
    return x[0, :][(i.unsqueeze(1) - i.unsqueeze(0)).abs()]


def alpha(a: torch.Tensor) -> torch.Tensor:
    """Cookbook 143: Toeplitz alpha(A), alpha[i, j] = sum of A[q, p] over p - q = i - j."""
    n = a.shape[0]
    sums = torch.stack([torch.diagonal(a, offset=k).sum() for k in range(-(n - 1), n)])
    i = torch.arange(n, device=a.device)
    # diagonal(A, k) holds A[q, q + k]; entry (i, j) needs p - q = i - j, i.e. offset k = i - j.
    return sums[(i.unsqueeze(1) - i.unsqueeze(0)) + (n - 1)]


def toeplitz_params(grad_t: torch.Tensor) -> torch.Tensor:
    """Place per-parameter partials of a Toeplitz T (given as the matrix alpha) where toeplitz()
    reads its parameters: first column and first row."""
    out = torch.zeros_like(grad_t)
    out[:, 0] = grad_t[:, 0]
    out[0, 1:] = grad_t[0, 1:]
    return out


def sym_toeplitz_params(grad_t: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(grad_t)
    out[0, :] = grad_t[0, :]
    return out


def pos_real_part(s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """A nonsymmetric matrix S + (K - K^T)/2 whose symmetric part S is spd, so x^T A x > 0 and
    X^T A X stays invertible for X of full column rank."""
    return s + (k - k.T) / 2


def unit_entries(shape: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """The identity on a matrix space as a 4-tensor: [k, l, i, j] = delta(k, i) delta(l, j)."""
    n = shape[0] * shape[1]
    return torch.eye(n, dtype=like.dtype, device=like.device).reshape(*shape, *shape)


def tsum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of a non-empty sequence of tensors (the Cookbook's sum_r)."""
    return functools.reduce(operator.add, terms)
