"""Text claims (`mc.claim`, `matcalc claim`): the language, shapes, layouts, hostile input, plots."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

import matcalc as mc
from matcalc.claims import claim_of
from matcalc.claims.parse import FUNCTIONS, ClaimError
from matcalc.cli import main

T, F = True, False

GELU_GRAD = "g * (0.5 * (1 + erf(x / sqrt(2))) + x * exp(-x * x / 2) / sqrt(2 * 3.141592653589793))"

# (f, wrt, derivative, where, layout, holds)
CLAIMS = [
    # the seed's four identities and their wrong variants, with no declarations
    ("A @ x", "x", "A", None, "numerator", T),
    ("A @ x", "x", "A.T", None, "numerator", F),
    ("A @ x", "x", "A.T", None, "denominator", T),
    ("A @ x", "x", "A", None, "denominator", F),
    ("x @ A @ x", "x", "x @ (A.T + A)", None, "numerator", T),
    ("x @ A @ x", "x", "(A + A.T) @ x", None, "denominator", T),
    ("x @ A @ x", "x", "2*A@x", None, "numerator", F),
    ("x @ A @ x", "x", "2 * x @ A", None, "numerator", F),
    ("x @ x", "x", "2*x", None, "denominator", T),
    ("norm(x)**2", "x", "2*x", None, "numerator", T),
    ("norm(x)**2", "x", "x", None, "numerator", F),
    ("norm(x)", "x", "x / norm(x)", None, "numerator", T),
    ("norm(x)", "x", "x / norm(x)**2", None, "numerator", F),
    # elementwise functions
    ("sin(x)", "x", "diag(cos(x))", None, "numerator", T),
    ("sin(x)", "x", "cos(x)", None, "numerator", F),
    ("sum(cos(x))", "x", "-sin(x)", None, "numerator", T),
    ("sum(cos(x))", "x", "sin(x)", None, "numerator", F),
    ("sum(tan(x))", "x", "1 / cos(x)**2", None, "numerator", T),
    ("sum(tanh(x))", "x", "1 - tanh(x)**2", None, "numerator", T),
    ("sum(tanh(x))", "x", "1 - tanh(x)", None, "numerator", F),
    ("sum(sinh(x))", "x", "cosh(x)", None, "numerator", T),
    ("sum(cosh(x))", "x", "sinh(x)", None, "numerator", T),
    ("sum(cosh(x))", "x", "-sinh(x)", None, "numerator", F),
    ("sum(sigmoid(x))", "x", "sigmoid(x) * (1 - sigmoid(x))", None, "numerator", T),
    ("sum(sigmoid(x))", "x", "sigmoid(x)", None, "numerator", F),
    ("sum(sqrt(x))", "x", "1 / (2 * sqrt(x))", "x: n positive", "numerator", T),
    ("sum(sqrt(x))", "x", "1 / sqrt(x)", "x: n positive", "numerator", F),
    ("sum(abs(x))", "x", "x / abs(x)", None, "numerator", T),
    ("sum(log(x))", "x", "1 / x", "x: positive", "numerator", T),
    ("sum(log(x))", "x", "log(x)", "x: positive", "numerator", F),
    ("exp(x)", "x", "diag(exp(x))", None, "numerator", T),
    ("exp(x)", "x", "exp(x)", None, "numerator", F),
    ("sum(relu(x))", "x", "relu(x) / x", None, "numerator", T),
    ("sum(softplus(x))", "x", "sigmoid(x)", None, "numerator", T),
    ("sum(log1p(x))", "x", "1 / (1 + x)", "x: positive", "numerator", T),
    ("sum(expm1(x))", "x", "exp(x)", None, "numerator", T),
    ("sum(expm1(x))", "x", "expm1(x)", None, "numerator", F),
    ("sum(square(x))", "x", "2 * x", None, "numerator", T),
    ("sum(abs(x))", "x", "sign(x)", None, "numerator", T),
    ("sum(x)", "x", "ones_like(x)", None, "numerator", T),
    ("sum(x)", "x", "zeros_like(x)", None, "numerator", F),
    ("s", "x", "zeros_like(x)", "s: scalar; x: n", "numerator", T),
    ("x ** 3", "x", "diag(3 * x ** 2)", None, "numerator", T),
    ("sum(x ** 0.5)", "x", "0.5 * x ** -0.5", "x: n positive", "numerator", T),
    ("sum(x ** -1)", "x", "-x ** -2", "x: positive", "numerator", T),
    ("sum(x ** (1/2))", "x", "x ** (-1/2)", "x: positive", "numerator", F),
    # traces, determinants, inverses, matrix functions
    ("tr(X)", "X", "I", None, "numerator", T),
    ("tr(X)", "X", "eye(n)", "X: n x n", "numerator", T),
    ("trace(X @ A)", "X", "A.T", None, "numerator", T),
    ("trace(X @ A)", "X", "A", None, "numerator", F),
    ("tr(A @ X @ B)", "X", "A.T @ B.T", None, "numerator", T),
    ("tr(A @ X @ B)", "X", "B @ A", None, "numerator", F),
    ("det(X)", "X", "det(X) * inv(X).T", "X: invertible", "numerator", T),
    ("det(X)", "X", "det(X) * inv(X)", "X: invertible", "numerator", F),
    ("log(abs(det(X)))", "X", "inv(X).T", "X: invertible", "numerator", T),
    ("log(abs(det(X)))", "X", "inv(X)", "X: invertible", "numerator", F),
    ("logdet(X)", "X", "inv(X)", "X: spd", "numerator", T),
    ("logdet(X)", "X", "X", "X: spd", "numerator", F),
    ("tr(inv(X))", "X", "-(inv(X) @ inv(X)).T", "X: invertible", "numerator", T),
    ("tr(inv(X))", "X", "-inv(X) @ inv(X)", "X: invertible", "numerator", F),
    ("tr(pinv(X))", "X", "-(inv(X) @ inv(X)).T", "X: invertible", "numerator", T),
    ("tr(expm(X))", "X", "expm(X).T", None, "numerator", T),
    ("tr(expm(X))", "X", "expm(X)", None, "numerator", F),
    ("tr(matrix_power(X, 3))", "X", "3 * matrix_power(X, 2).T", None, "numerator", T),
    ("tr(matrix_power(X, 3))", "X", "3 * matrix_power(X, 2)", None, "numerator", F),
    # reductions and vector functions
    ("sum(x * y)", "x", "y", None, "numerator", T),
    ("mean(x * y)", "x", "y / sum(y / y)", None, "numerator", T),
    ("mean(x * y)", "x", "y", None, "numerator", F),
    ("norm(X)", "X", "X / norm(X)", None, "numerator", T),
    ("x @ diag(y) @ x", "x", "2 * y * x", None, "numerator", T),
    ("sum(diag(X) * y)", "X", "diag(y)", None, "numerator", T),
    ("sum(diag(X) * y)", "X", "outer(y, y)", None, "numerator", F),
    ("softmax(x)", "x", "diag(softmax(x)) - outer(softmax(x), softmax(x))", None, "numerator", T),
    ("softmax(x)", "x", "diag(softmax(x))", None, "numerator", F),
    ("logsumexp(x)", "x", "softmax(x)", None, "numerator", T),
    ("y @ log_softmax(x)", "x", "y - sum(y) * softmax(x)", None, "numerator", T),
    ("y @ log_softmax(x)", "x", "y", None, "numerator", F),
    ("x @ outer(a, b) @ y", "a", "x * (b @ y)", None, "numerator", T),
    ("dot(a, x)", "x", "a", None, "numerator", T),
    ("dot(a, x)", "x", "x", None, "numerator", F),
    # identities, unary minus, scalars, division by scalars
    ("(A + 2 * I) @ x", "x", "A + 2 * I", None, "numerator", T),
    ("(A + 2 * I) @ x", "x", "A", None, "numerator", F),
    ("-x", "x", "-I", None, "numerator", T),
    ("x / s", "x", "I / s", "s: scalar", "numerator", T),
    ("x / s", "x", "I * s", "s: scalar", "numerator", F),
    ("s * x", "s", "x", "s: scalar", "numerator", T),
    ("(x @ w - y) ** 2", "w", "2 * (x @ w - y) * x", "y: scalar", "numerator", T),
    ("sum((X @ w - y) ** 2)", "w", "2 * (X @ w - y) @ X", None, "numerator", T),
    ("sum((X @ w - y) ** 2)", "w", "(X @ w - y) @ X", None, "numerator", F),
    # declared structures change the verdict
    ("x @ A @ x", "x", "2 * A @ x", "A: n x n symmetric", "numerator", T),
    ("x @ Q.T @ Q @ x", "x", "2 * x", "Q: orthogonal", "numerator", T),
    ("x @ Q.T @ Q @ x", "x", "2 * x", None, "numerator", F),
    ("tr(D @ X)", "X", "D", "D: n x n diagonal", "numerator", T),
    ("tr(D @ X)", "X", "D", "D: n x n", "numerator", F),
    ("log(x @ x)", "x", "2 * x / (x @ x)", {"x": mc.vector("n", nonzero=True)}, "numerator", T),
    ("norm(x - a)", "x", "(x - a) / norm(x - a)", "x: n != a", "numerator", T),
    ("norm(x - a)", "x", "(x - a) / norm(x - a) ** 2", "x: n != a", "numerator", F),
    # erf and GELU
    ("sum(erf(x))", "x", "2 / sqrt(3.141592653589793) * exp(-x * x)", None, "numerator", T),
    ("sum(erf(x))", "x", "exp(-x * x)", None, "numerator", F),
    ("g @ gelu(x)", "x", GELU_GRAD, None, "numerator", T),
    ("g @ gelu(x)", "x", "g * 0.5 * (1 + erf(x / sqrt(2)))", None, "numerator", F),
    # reductions along an axis, keepdim, broadcasting, sizes, row-wise softmax (deep learning)
    ("sum(G * (X @ W.T + b))", "b", "sum(G, 0)", None, "numerator", T),
    ("sum(G * (X @ W.T + b))", "b", "sum(G, 1)", None, "numerator", F),
    ("sum(G * (X @ W.T + b))", "W", "G.T @ X", None, "numerator", T),
    ("sum(X * b)", "b", "sum(X, -2)", None, "numerator", T),
    ("sum(X / b)", "b", "-sum(X, 0) / b ** 2", None, "numerator", T),
    ("sum(X / b)", "b", "sum(X, 0) / b ** 2", None, "numerator", F),
    ("x ** 2 @ A", "x", "2 * A.T * x", None, "numerator", T),
    ("x ** 2 @ A", "x", "2 * A * x", "A: n x n", "numerator", F),
    ("sum(Y * (X - mean(X, 1, keepdim=True)))", "X", "Y - mean(Y, 1, keepdim=True)", None, "numerator", T),
    ("sum(Y * (X - mean(X, 1, keepdim=True)))", "X", "Y - mean(Y, 0, keepdim=True)", None, "numerator", F),
    ("sum(Y * (X - mean(X, 0)))", "X", "Y - mean(Y, 0)", None, "numerator", T),
    ("sum(Y * (X - mean(X, 0)))", "X", "Y - mean(Y, 1, keepdim=True)", None, "numerator", F),
    ("sum(X, 1, keepdim=False) @ y", "X", "outer(y, ones_like(sum(X, 0)))", None, "numerator", T),
    ("sum(X) / X.shape[0]", "X", "ones_like(X) / X.shape[0]", None, "numerator", T),
    ("sum(X) / X.shape[0]", "X", "ones_like(X) / X.shape[-1]", None, "numerator", F),
    ("sum(Y * softmax(X))", "X", "softmax(X) * (Y - sum(Y * softmax(X), 1, keepdim=True))", None, "numerator", T),
    ("sum(Y * softmax(X))", "X", "softmax(X) * (Y - sum(Y * softmax(X), 0, keepdim=True))", None, "numerator", F),
    ("sum(logsumexp(X))", "X", "softmax(X)", None, "numerator", T),
    ("sum(logsumexp(X))", "X", "softmax(X.T).T", "X: n x n", "numerator", F),
    ("sum(G * (softmax(Q @ K.T / sqrt(Q.shape[1])) @ V))", "V", "softmax(Q @ K.T / sqrt(Q.shape[1])).T @ G",
     None, "numerator", T),
    ("sum(G * (softmax(Q @ K.T / sqrt(Q.shape[1])) @ V))", "V", "softmax(Q @ K.T).T @ G", None, "numerator", F),
    # Kronecker products and the conjugate transpose (.mH is .T on real inputs)
    ("tr(kron(A, X))", "X", "tr(A) * I", None, "numerator", T),
    ("tr(kron(A, X))", "X", "tr(A) * X", None, "numerator", F),
    ("tr(kron(X, X))", "X", "2 * tr(X) * I", None, "numerator", T),
    ("tr(kron(X, X))", "X", "tr(X) * I", None, "numerator", F),
    ("kron(a, x) @ kron(b, y)", "x", "(a @ b) * y", None, "numerator", T),
    ("kron(a, x) @ kron(b, y)", "x", "(a @ a) * y", None, "numerator", F),
    ("sum(kron(A, X) * kron(B, Y))", "X", "Y * sum(A * B)", None, "numerator", T),
    ("sum(kron(A, X) * kron(B, Y))", "X", "Y * sum(A * B.T)", "A: n x n; B: n x n", "numerator", F),
    ("tr(X @ X.mH)", "X", "2 * X", None, "numerator", T),
    ("tr(X @ X.mH)", "X", "X", None, "numerator", F),
    ("tr(A @ X.mH)", "X", "A", None, "numerator", T),
    ("tr(A @ X.mH)", "X", "A.T", "A: n x n", "numerator", F),
    # entries x[i], X[i, j] (of inputs of fixed size) and stack([...]) of scalars
    ("3 * x[0] ** 2 + 5 * exp(x[1])", "x", "stack([6 * x[0], 5 * exp(x[1])])", "x: 2", "denominator", T),
    ("3 * x[0] ** 2 + 5 * exp(x[1])", "x", "stack([6 * x[1], 5 * exp(x[0])])", "x: 2", "denominator", F),
    ("x[0] ** 2 + 2 * x[1] ** 2", "x", "stack([2 * x[0], 4 * x[1]])", "x: 2", "numerator", T),
    ("x[0] ** 2 + 2 * x[1] ** 2", "x", "stack([2 * x[0], 2 * x[1]])", "x: 2", "numerator", F),
    ("X[0, 1] * X[1, 0]", "X", "X.T * (1 - I)", "X: 2 x 2", "numerator", T),
    ("X[0, 1] * X[1, 0]", "X", "X * (1 - I)", "X: 2 x 2", "numerator", F),
    ("stack([x[2], x[0]]) @ a", "x", "stack([a[1], 0, a[0]])", "x: 3; a: 2", "numerator", T),
    ("stack([x[2], x[0]]) @ a", "x", "stack([a[0], 0, a[1]])", "x: 3; a: 2", "numerator", F),
]


@pytest.mark.parametrize(("f", "wrt", "derivative", "where", "layout", "holds"), CLAIMS,
                         ids=[f"{c[0]} -> {c[2]} [{c[4][:3]}]" for c in CLAIMS])
def test_text_claim(f: str, wrt: str, derivative: str, where: object, layout: str, holds: bool) -> None:
    rule = mc.claim(f, wrt=wrt, derivative=derivative, where=where, layout=layout)  # type: ignore[arg-type]
    res = mc.check(rule, seed=0, diagnose_structure=False)
    assert res.passed is holds, str(res)
    assert mc.check(rule, dtype=torch.float32, seed=1, diagnose_structure=False).passed is holds


def test_the_table_covers_every_function() -> None:
    used = " ".join(f"{c[0]} {c[2]}" for c in CLAIMS)
    missing = [fn for fn in [*FUNCTIONS, "eye"] if f"{fn}(" not in used]
    assert not missing
    assert sum(c[5] for c in CLAIMS) >= 30 and sum(not c[5] for c in CLAIMS) >= 30


def test_hessian_claims() -> None:
    good = mc.claim("x @ A @ x", wrt="x", derivative="A + A.T", kind="hessian")
    bad = mc.claim("x @ A @ x", wrt="x", derivative="2 * A", kind="hessian")
    assert mc.check(good, seed=0).passed
    assert not mc.check(bad, seed=0).passed
    assert good.latex.startswith(r"\frac{\partial^2")


# --- shapes --------------------------------------------------------------------------------------

def test_shapes_are_inferred_with_distinct_free_dims() -> None:
    rule = mc.claim("tr(A @ X @ B)", wrt="X", derivative="A.T @ B.T")
    assert {k: d.shape for k, d in rule.inputs.items()} == {
        "A": ("k", "n"), "X": ("n", "m"), "B": ("m", "k")}
    assert rule.inputs["A"].structure == "general"


def test_declarations_override_and_keep_domains() -> None:
    rule = mc.claim("x @ A @ x", wrt="x", derivative="2 * A @ x",
                    where="A: n x n symmetric; x: n positive")
    assert rule.inputs["A"].describe() == "matrix n x n, symmetric"
    assert rule.inputs["x"].describe() == "vector n, positive"
    dom = mc.matrix("p", "q", structure="full_column_rank")
    assert mc.claim("tr(X)", wrt="X", derivative="I", where={"Y": dom}).inputs["Y"] is not dom
    assert mc.claim("tr(Y.T @ X)", wrt="X", derivative="Y", where={"Y": dom}).inputs["Y"] == dom


SHAPE_ERRORS = [
    ("x @ A @ y", "x", "A @ y", "A: n x m; y: k", "  x @ A @ y\n  ^^^^^^^^^"),
    ("A + x", "x", "I", "A: n x m; x: n", "  A + x\n  ^^^^^"),
    ("x + A", "x", "I", "A: n x m; x: n", "broadcast"),
    ("sum(X, 2)", "X", "ones_like(X)", None, "out of range"),
    ("sum(X, -3)", "X", "ones_like(X)", None, "out of range"),
    ("sum(x, 1)", "x", "ones_like(x)", None, "along axis 1"),
    ("mean(x, 0, keepdim=True)", "x", "x", None, "needs a matrix"),
    ("x.shape[1] * sum(x)", "x", "x", None, "no axis 1"),
    ("softmax(s)", "s", "s", "s: scalar", "a vector or a matrix"),
    ("sum(X, 0) @ y", "X", "X", "X: n x m; y: n", "(m vs n)"),
    ("kron(A, x)", "A", "A", None, "two matrices or two vectors"),
    ("tr(kron(A, X) + B)", "X", "I", None, "d1*d3 vs"),
    ("sum(kron(A, X) @ y)", "X", "I", None, "d2*d4 vs"),
    ("tr(kron(A, X))", "X", "I", "A: n x m", "(n*d3 vs m*d4)"),
    ("x.mH @ x", "x", "x", None, ".T transposes a matrix"),
    ("x[0]", "x", "x", None, "declare it, e.g. where='x: 2'"),
    ("x[2]", "x", "x", "x: 2", "index 2 is out of range for x, of size 2"),
    ("X[0, 3] + x[0]", "x", "x", "X: 2 x 3; x: 1", "index 3 is out of range for X, of size 3"),
    ("X[0]", "X", "X", "X: 2 x 2", "index a vector as X[i] and a matrix as X[i, j]"),
    ("x[0, 1]", "x", "x", "x: 2", "index a vector"),
    ("stack([x])", "x", "x", "x: 2", "stacks scalars"),
    ("x @ x", "x", "stack([x[0], x[1]])", "x: n", "declare it"),
    ("tr(X)", "X", "I", "X: n x m", "square"),
    ("x.T @ A @ x", "x", "x", None, "  x.T @ A @ x\n  ^^^\n"[:-1]),
    ("x @ s", "x", "s", "s: scalar", "is a scalar"),
    ("alpha * x", "x", "alpha * I", None, "declare"),
    ("A @ x", "x", "(A + A.T) @ x", None, "  (A + A.T) @ x\n   ^^^^^^^"),
    ("outer(x, A)", "x", "x", None, "two vectors"),
    ("x @ x + tr(I)", "x", "2 * x", None, "size of this identity"),
    ("x @ x * tr(eye(q))", "x", "2 * x", "x: n", "no input has the dim"),
    ("x @ x", "x", "2 * x @ eye(q)", "x: n", "(n vs q)"),
    ("tr(A @ X)", "X", "A.T", "A: n x m fancy", "cannot read 'fancy'"),
    ("tr(X)", "X", "I", "X: n x m symmetric", "square"),
    ("A @ x", "y", "A", None, "does not appear in f"),
    ("outer(x, y)", "x", "y", None, "3-tensor"),
    ("x @ A @ x", "x", "A @ x", "A: n x n; A: n x m", "declared twice"),
    ("x @ A @ x", "x", "A @ x", "A n x n", "needs a colon"),
]


@pytest.mark.parametrize(("f", "wrt", "derivative", "where", "expect"), SHAPE_ERRORS,
                         ids=[e[0] + " / " + e[2] for e in SHAPE_ERRORS])
def test_shape_errors_point_at_the_subexpression(f: str, wrt: str, derivative: str, where: str | None,
                                                 expect: str) -> None:
    with pytest.raises(mc.MatcalcError) as info:
        mc.claim(f, wrt=wrt, derivative=derivative, where=where)
    assert expect in str(info.value)
    if isinstance(info.value, ClaimError):
        assert str(info.value).splitlines()[-1].strip(" ^") == ""


# --- hostile input -------------------------------------------------------------------------------

HOSTILE = [
    "x.__class__",
    "x.__class__.__mro__[1].__subclasses__()",
    "().__class__",
    "__import__('os').system('touch /tmp/matcalc-pwned')",
    "_x",
    "lambda: x",
    "[x for x in y]",
    "{x: 1}",
    "import os",
    "exec('x')",
    "eval('x')",
    "open('/etc/passwd')",
    "getattr(x, 'T')",
    "torch.eye(3)",
    "x[0]",
    "x if x else x",
    "'text'",
    "f'{x}'",
    "x; x",
    "x ** 10**100",
    "2**99999",
    "x ** y",
    "1e999 * x",
    "sum(x, dim=0)",
    "sum(*x)",
    "x < y",
    "(x := 1)",
    "x\n+ x",
    "x @ A  # comment é",
    "(" * 10_000 + "x" + ")" * 10_000,
    "-" * 10_000 + "x",
    "sin(" * 500 + "x" + ")" * 500,
    "x" + " + x" * 300,
    "x" * 100_000,
    "-" * 1990 + "x",
    "(" * 990 + "x" + ")" * 990,
    "+".join(["x"] * 999),
    "x" + ".T" * 900,
    "9" * 5000,
    "",
    "tr",
    "eye(10**9)",
    # sizes and axes: integer constants in range, never computed, never a subscript of anything else
    "X[0, 1]",
    "X.shape",
    "X.shape[10**100]",
    "X.shape[99]",
    "X.shape[-3]",
    "X.shape[n]",
    "X.shape[0:1]",
    "X.shape[1.0]",
    "X.shape[True]",
    "X.shape[0 + 1]",
    "X.shape[0]()",
    "X.shape.T",
    "x.__class__.shape[0]",
    "().shape[0]",
    "tr.shape[0]",
    "I.shape[0]",
    "_X.shape[0]",
    "getattr(X, 'shape')[0]",
    "eye(X.shape[0])",
    "sum(X, 10**100)",
    "sum(X, n)",
    "sum(X, 1 + 0)",
    "sum(X, 0.0)",
    "sum(X, True)",
    "sum(X, axis=0)",
    "sum(X, 0, keepdim=1)",
    "sum(X, 0, keepdim=__import__('os'))",
    "sum(X, 0, keepdim=True, out=X)",
    "sum(X, 0, **k)",
    "sum(X, 0, 1)",
    "mean(X, keepdim=True)",
    "tr(X, keepdim=True)",
    "x[-1]",
    "x[10**100]",
    "x[4096]",
    "x[i]",
    "x[0:1]",
    "x[:]",
    "x[...]",
    "x[0.0]",
    "x[True]",
    "x[0 + 1]",
    "x[0][0]",
    "X[0, 1, 2]",
    "x[x]",
    "(x @ x)[0]",
    "tr[0]",
    "I[0, 0]",
    "_x[0]",
    "stack(x)",
    "stack((x, x))",
    "stack([*x])",
    "stack([])",
    "stack([0] * 10**9)",
    "stack([x[0]], 0)",
    "stack(" + ", ".join(["1"] * 5000) + ")",
    "x.H",
    "x.mT",
    "kron(x)",
    "kron(x, y, z)",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(h[:30]) for h in HOSTILE])
def test_hostile_input_is_refused_cleanly(text: str) -> None:
    with pytest.raises(mc.MatcalcError) as info:
        mc.claim(text, wrt="x", derivative="x")
    assert len(str(info.value)) < 600
    assert not os.path.exists("/tmp/matcalc-pwned")


def test_hostile_input_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "(" * 10_000 + "x" + ")" * 10_000, "--wrt", "x", "--is", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("matcalc: error:") and "Traceback" not in err and "RecursionError" not in err


# --- statements ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("f", "wrt", "derivative", "layout", "latex"), [
    ("x @ A @ x", "x", "x @ (A.T + A)", "numerator",
     r"\frac{\partial x^\top A x}{\partial x} = x^\top (A^\top + A)"),
    ("A @ x", "x", "A", "numerator", r"D_{x}(A x) = A"),
    ("A @ x", "x", "A.T", "denominator", r"\nabla_{x} (A x) = A^\top"),
    ("norm(x)", "x", "x / norm(x)", "numerator",
     r"\frac{\partial \Vert x \Vert_2}{\partial x} = \frac{x}{\Vert x \Vert_2}"),
    ("x * y", "x", "diag(y)", "numerator", r"D_{x}(x \odot y) = \mathrm{diag}(y)"),
    ("(B @ x) @ y", "x", "y @ B", "numerator", r"\frac{\partial (B x)^\top y}{\partial x} = y^\top B"),
    ("sum((X @ w - y) ** 2)", "w", "2 * (X @ w - y) @ X", "numerator",
     r"\frac{\partial \mathrm{sum}((X w - y)^{\circ 2})}{\partial w} = 2 (X w - y)^\top X"),
    ("A @ (x * x)", "x", "2 * A @ diag(x)", "numerator", r"D_{x}(A (x \odot x)) = 2 A \mathrm{diag}(x)"),
    # a vector broadcast along a matrix's rows is the matrix 1 b^T; reductions carry their axis
    ("sum(G * (X @ W.T + b))", "b", "sum(G, 0)", "numerator",
     r"\frac{\partial \mathrm{sum}(G \odot (X W^\top + \mathbf{1} b^\top))}{\partial b} = \mathrm{sum}_{0}(G)"),
    ("sum(X / b)", "b", "-sum(X, 0) / b ** 2", "numerator",
     r"\frac{\partial \mathrm{sum}(X \oslash \mathbf{1} b^\top)}{\partial b} = -\mathrm{sum}_{0}(X) \oslash b^{\circ 2}"),
    ("sum(Y * (X - mean(X, 1, keepdim=True)))", "X", "Y - mean(Y, 1, keepdim=True)", "numerator",
     r"\frac{\partial \mathrm{sum}(Y \odot (X - \mathrm{mean}_{1}(X)))}{\partial X} = Y - \mathrm{mean}_{1}(Y)"),
    # a size is the dim's name; 1e-05 is 10^{-5}; the float pi is pi; a power is wrapped before ^T
    ("sum(X) / X.shape[0]", "X", "ones_like(X) / X.shape[0]", "numerator",
     r"\frac{\partial \frac{\mathrm{sum}(X)}{n}}{\partial X} = \frac{\mathbf{1}}{n}"),
    ("sum(erf(x)) + 1e-05", "x", "2 / sqrt(3.141592653589793) * exp(-x * x)", "numerator",
     r"\frac{\partial (\mathrm{sum}(\mathrm{erf}(x)) + 10^{-5})}{\partial x} = \frac{2}{\sqrt{\pi}} \exp(-x \odot x)"),
    ("x ** 2 @ A", "x", "2 * A.T * x", "numerator",
     r"D_{x}((x^{\circ 2})^\top A) = 2 A^\top \odot \mathbf{1} x^\top"),
    ("tr(kron(A, X))", "X", "tr(A) * I", "numerator",
     r"\frac{\partial \mathrm{Tr}(A \otimes X)}{\partial X} = \mathrm{Tr}(A) I"),
    ("kron(a, x) @ kron(b, y)", "x", "(a @ b) * y", "numerator",
     r"\frac{\partial (a \otimes x)^\top (b \otimes y)}{\partial x} = (a^\top b) y"),
    ("tr(X @ X.mH)", "X", "2 * X", "numerator", r"\frac{\partial \mathrm{Tr}(X X^H)}{\partial X} = 2 X"),
    ("3 * x[0] ** 2 + 5 * exp(x[1])", "x", "stack([6 * x[0], 5 * exp(x[1])])", "denominator",
     r"\nabla_{x} (3 x_{1}^{2} + 5 \exp(x_{2})) = [6 x_{1}, 5 \exp(x_{2})]"),
    ("g @ gelu(x)", "x", "g * 0.5 * (1 + erf(x / sqrt(2)))", "numerator",
     r"\frac{\partial g^\top \mathrm{GELU}(x)}{\partial x} = 0.5 g \odot (1 + \mathrm{erf}(\frac{x}{\sqrt{2}}))"),
])
def test_latex_is_rendered_from_the_text(f: str, wrt: str, derivative: str, layout: str, latex: str) -> None:
    rule = mc.claim(f, wrt=wrt, derivative=derivative, layout=layout)
    assert rule.latex == latex
    parsed = claim_of(rule)
    assert parsed is not None and parsed.f == f and parsed.derivative == derivative


def test_names_and_fields() -> None:
    rule = mc.claim("x @ A @ x", wrt="x", derivative="2 * A @ x", source="my notes",
                    conditions="A symmetric")
    assert rule.name.isidentifier() and rule.source == "my notes"
    assert mc.claim("A @ x", wrt="x", derivative="A", name="mine").name == "mine"
    with pytest.raises(mc.MatcalcError, match="rendered"):
        mc.claim("A @ x", wrt="x", derivative="A", latex="x")
    with pytest.raises(mc.MatcalcError, match="layout"):
        mc.claim("A @ x", wrt="x", derivative="A", layout="row")


# --- the command line ----------------------------------------------------------------------------

def test_cli_seed_identity_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "x @ A @ x", "--wrt", "x", "--is", "x @ (A.T + A)"]) == 0
    out = capsys.readouterr().out
    assert r"x^\top (A^\top + A)" in out and "PASS" in out and "layouts agree" in out


def test_cli_wrong_claim_fails_with_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "x @ A @ x", "--wrt", "x", "--is", "2*A@x", "--device", "cpu",
                 "--dtype", "float32", "--seed", "3", "--n", "6"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "holds when A is symmetric" in out


def test_cli_layout_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A"]) == 0
    assert "matches numerator layout" in capsys.readouterr().out
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A.T"]) == 1
    assert "pass --layout denominator" in capsys.readouterr().out
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A.T", "--layout", "denominator"]) == 0
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A", "--layout", "denominator"]) == 1
    assert "pass --layout numerator" in capsys.readouterr().out


def test_cli_misuse_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "A @ x", "--wrt", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("matcalc: error:")
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A", "--device", "tpu"]) == 2


def test_cli_inconclusive_exit_code(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module("matcalc.engine.check")
    real = module.check

    def undecided(*args: object, **kwargs: object) -> mc.Result:
        res = real(*args, **kwargs)  # type: ignore[arg-type]
        res.inconclusive = "overflow at this dtype"
        return res

    monkeypatch.setattr(module, "check", undecided)
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A"]) == 3
    assert "INCONCLUSIVE" in capsys.readouterr().out


# --- plots ---------------------------------------------------------------------------------------

def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "claim.png"
    assert main(["claim", "log(det(X))", "--wrt", "X", "--is", "inv(X)", "--where", "X: invertible",
                 "--oracle", "taylor", "--plot", str(path)]) == 1
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_taylor_remainders_separate_right_from_wrong() -> None:
    from matcalc.report.plot import derivative_pair, taylor_remainders

    for derivative, slope in (("x @ (A.T + A)", 2.0), ("2 * A @ x", 1.0)):
        rule = mc.claim("x @ A @ x", wrt="x", derivative=derivative)
        res = mc.check(rule, seed=0)
        claim, _, inputs = derivative_pair(rule, res)
        steps, rems = taylor_remainders(rule, claim, inputs)
        fitted = (torch.tensor(rems[3]).log() - torch.tensor(rems[6]).log()) / \
            (torch.tensor(steps[3]).log() - torch.tensor(steps[6]).log())
        assert abs(float(fitted) - slope) < 0.2


def test_plot_path_is_checked_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("checked before validating --plot")

    monkeypatch.setattr(importlib.import_module("matcalc.engine.check"), "check", no_work)
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A", "--plot", str(tmp_path / "no" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["claim", "A @ x", "--wrt", "x", "--is", "A", "--plot", str(tmp_path / "x.png")]) == 2
    assert "pip install 'matcalc[plot]'" in capsys.readouterr().err


# --- the catalog's rendered statements -----------------------------------------------------------

def test_catalog_statements_are_rendered_from_the_checked_text() -> None:
    from matcalc.catalog._text import RENDERED
    from matcalc.draws.inputs import draw_inputs
    from matcalc.engine.settings import resolve_sizes

    rendered = [r for r in mc.catalog.values() if claim_of(r) is not None]
    assert {r.name for r in rendered} == RENDERED & set(mc.catalog)
    assert len(rendered) >= 0.7 * len(mc.catalog)
    for rule in rendered:
        parsed = claim_of(rule)
        assert parsed is not None
        again = mc.claim(parsed.f, wrt=parsed.wrt, derivative=parsed.derivative, where=dict(rule.inputs),
                         layout=rule.layout, kind=rule.kind)
        assert again.latex == rule.latex and dict(again.inputs) == dict(rule.inputs), rule.name
        inputs = draw_inputs(rule, resolve_sizes(rule, None), torch.device("cpu"), torch.float64, 0)
        if rule.kind == "differential":
            inputs |= {f"d{w}": torch.randn_like(inputs[w]) for w in rule.wrt_names}
        torch.testing.assert_close(again.derivative(**inputs), rule.derivative(**inputs), msg=rule.name)


# --- differentials ------------------------------------------------------------------------------

# (f, wrt, differential, where, holds): the differential uses the direction dX of each X in wrt
DIFFERENTIALS = [
    ("X @ Y", ("X", "Y"), "dX @ Y + X @ dY", None, T),
    ("X @ Y", ("X", "Y"), "dX @ Y", None, F),
    ("X @ Y", ("X", "Y"), "Y @ dX + dY @ X", "X: n x n; Y: n x n", F),
    ("X @ Y", "X", "dX @ Y", None, T),
    ("X @ Y", "X", "dX", None, F),  # the shape of dX, not of f: fails, does not raise
    ("inv(X)", ("X",), "-inv(X) @ dX @ inv(X)", "X: invertible", T),
    ("inv(X)", ("X",), "-inv(X) @ inv(X) @ dX", "X: invertible", F),
    ("det(X)", ("X",), "det(X) * tr(inv(X) @ dX)", "X: invertible", T),
    ("det(X)", ("X",), "det(X) * tr(dX)", "X: invertible", F),
    ("kron(X, Y)", ("X", "Y"), "kron(dX, Y) + kron(X, dY)", None, T),
    ("kron(X, Y)", ("X", "Y"), "kron(dX, dY)", None, F),
    ("alpha * X", ("X", "alpha"), "alpha * dX + dalpha * X", "alpha: scalar", T),
    ("alpha * X", ("X", "alpha"), "alpha * dX", "alpha: scalar", F),
    ("logdet(X)", ("X",), "sum(inv(X) * dX)", "X: spd", T),
    ("logdet(X)", ("X",), "sum((2 * inv(X) - inv(X) * I) * dX)", "X: spd", F),
    ("x @ A @ x", ("x",), "dx @ (A + A.T) @ x", None, T),
    ("x @ A @ x", ("x",), "2 * dx @ A @ x", None, F),
]


@pytest.mark.parametrize(("f", "wrt", "derivative", "where", "holds"), DIFFERENTIALS,
                         ids=[f"{c[0]} -> {c[2]}" for c in DIFFERENTIALS])
def test_differential_claim(f: str, wrt: str | tuple[str, ...], derivative: str, where: str | None,
                            holds: bool) -> None:
    rule = mc.claim(f, wrt=wrt, derivative=derivative, where=where, kind="differential")
    assert rule.kind == "differential" and rule.wrt == wrt
    assert not any(name.startswith("d") for name in rule.inputs)  # directions are not inputs
    assert mc.check(rule, seed=0, diagnose_structure=False).passed is holds
    assert mc.check(rule, dtype=torch.float32, seed=1, diagnose_structure=False).passed is holds


@pytest.mark.parametrize(("f", "wrt", "derivative", "latex"), [
    ("X @ Y", ("X", "Y"), "dX @ Y + X @ dY", r"\partial (X Y) = (\partial X) Y + X (\partial Y)"),
    ("inv(X)", ("X",), "-inv(X) @ dX @ inv(X)", r"\partial X^{-1} = -X^{-1} (\partial X) X^{-1}"),
    ("X.T", ("X",), "dX.T", r"\partial X^\top = (\partial X)^\top"),
    ("tr(X)", ("X",), "tr(dX)", r"\partial \mathrm{Tr}(X) = \mathrm{Tr}(\partial X)"),
    ("X + Y", ("X", "Y"), "dX + dY", r"\partial (X + Y) = \partial X + \partial Y"),
])
def test_differential_latex(f: str, wrt: tuple[str, ...], derivative: str, latex: str) -> None:
    assert mc.claim(f, wrt=wrt, derivative=derivative, kind="differential").latex == latex


@pytest.mark.parametrize(("f", "wrt", "derivative", "where", "expect"), [
    ("X @ dX", ("X",), "dX", "dX: n x n", "direction of X"),
    ("X @ Y", ("X", "X"), "dX @ Y", None, "twice"),
    ("X @ Y", ("X", 3), "dX @ Y", None, "wrt must name"),
    ("X @ Y", ("X", "Z"), "dX @ Y", None, "does not appear"),
    ("X @ Y", ("X",), "Y @ dX", "X: n x m; Y: m x k", "(k vs n)"),
])
def test_differential_misuse(f: str, wrt: tuple[object, ...], derivative: str, where: str | None,
                             expect: str) -> None:
    with pytest.raises(mc.MatcalcError, match=None) as info:
        mc.claim(f, wrt=wrt, derivative=derivative, where=where, kind="differential")  # type: ignore[arg-type]
    assert expect in str(info.value)
    with pytest.raises(mc.MatcalcError, match="wrt must name"):
        mc.claim("X @ Y", wrt=("X", "Y"), derivative="dX @ Y")  # a tuple needs kind="differential"


def test_text_rule_refuses_inputs_the_text_does_not_fit() -> None:
    from matcalc.catalog._text import text_rule

    with pytest.raises(mc.MatcalcError, match="imply inputs"):
        text_rule("bad_rule", f="tr(X @ A)", derivative="A.T", wrt="X", inputs={"X": mc.matrix("n", "m")})


def test_plans_take_fs_shape_from_the_text() -> None:
    """Every text rule's inferred output shape is the shape f returns (so the planner needs no
    meta-device evaluation for it)."""
    from matcalc.claims import claim_of
    from matcalc.engine.check_plan import output_shape

    checked = 0
    for rule in mc.catalog.values():
        if claim_of(rule) is None or rule.kind == "hessian":
            continue
        sizes = {d: 3 + i for i, d in enumerate(rule.dims())}
        res = mc.check(rule, sizes=sizes, diagnose_structure=False)
        assert res.true_shape is not None
        got = output_shape(rule, sizes)
        assert got is not None and res.true_shape[:len(got)] == got, rule.name
        checked += 1
    assert checked > 100


def test_a_first_text_check_does_not_import_dynamo() -> None:
    """The first meta-device evaluation of a process imports torch._dynamo (about 0.8 s); a text
    rule's check plans from its text instead."""
    import subprocess
    import sys

    code = ("import sys, matcalc as mc; from matcalc.catalog import RULES; "
            "assert mc.check(RULES['quadratic_form']).passed; print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
