"""Claims that multiply a vector by a combination of matrices never build the matrix
(matcalc/claims/products.py): the value is the literal one, and no intermediate has n^2 entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.overrides import TorchFunctionMode

from matcalc.claims.evaluate import compile_tree
from matcalc.claims.parse import Node, parse

N = 40
T = torch.Tensor


class _Largest(TorchFunctionMode):
    """Records the largest tensor any torch function returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.largest = max(self.largest, out.numel())
        return out


def _inputs() -> dict[str, T]:
    g = torch.Generator().manual_seed(0)
    return {name: torch.randn(shape, generator=g, dtype=torch.float64)
            for name, shape in (("x", (N,)), ("y", (N,)), ("A", (N, N)), ("B", (N, N)))}


# text, the literal evaluation
PUSHED: list[tuple[str, Callable[..., T]]] = [
    ("x @ (A.T + A)", lambda x, A, **_: x @ (A.T + A)),
    ("(A + A.T) @ x", lambda x, A, **_: (A + A.T) @ x),
    ("(A - B.T) @ x", lambda x, A, B, **_: (A - B.T) @ x),
    ("x @ (A + I)", lambda x, A, **_: x @ (A + torch.eye(N, dtype=A.dtype))),
    ("2 * A @ x", lambda x, A, **_: 2 * A @ x),
    ("x @ (A @ B) @ y", lambda x, y, A, B, **_: x @ (A @ B) @ y),
    ("A @ B @ x", lambda x, A, B, **_: A @ B @ x),
    ("-(A.T @ B.T) @ x", lambda x, A, B, **_: -(A.T @ B.T) @ x),
    ("(A.T + A) @ (x + y)", lambda x, y, A, **_: (A.T + A) @ (x + y)),
    ("x @ (A.T + 3 * B - A) @ y", lambda x, y, A, B, **_: x @ (A.T + 3 * B - A) @ y),
]


@pytest.mark.parametrize(("text", "literal"), PUSHED, ids=[t for t, _ in PUSHED])
def test_a_vector_is_pushed_through_the_matrices(text: str, literal: Callable[..., T]) -> None:
    inputs = _inputs()
    tree = parse(text)
    fn = compile_tree(tree, _eye_sizes(tree))
    with _Largest() as mode:
        got = fn(**inputs)
    torch.testing.assert_close(got, literal(**inputs), rtol=1e-12, atol=1e-12)
    # A @ B @ x and friends: left to right would build A @ B (N^2 entries)
    assert mode.largest < N * N, f"{text} built an intermediate of {mode.largest} entries"


# Not linear combinations of equal shapes: evaluated as written (broadcasting stays PyTorch's).
LITERAL: list[tuple[str, Callable[..., T]]] = [
    ("(A + x) @ y", lambda x, y, A, **_: (A + x) @ y),
    ("x @ (A + 1)", lambda x, A, **_: x @ (A + 1)),
    ("(A * B) @ x", lambda x, A, B, **_: (A * B) @ x),
    ("x @ (A + y)", lambda x, y, A, **_: x @ (A + y)),
    ("(A + B) @ (A - B)", lambda A, B, **_: (A + B) @ (A - B)),
]


@pytest.mark.parametrize(("text", "literal"), LITERAL, ids=[t for t, _ in LITERAL])
def test_broadcasting_sums_are_evaluated_as_written(text: str, literal: Callable[..., T]) -> None:
    inputs = _inputs()
    got = compile_tree(parse(text), {})(**inputs)
    torch.testing.assert_close(got, literal(**inputs), rtol=1e-12, atol=1e-12)


def _eye_sizes(tree: Node) -> dict[int, tuple[str, int]]:
    """Every identity in ``tree`` takes A's size (what claims/shapes.py works out for these)."""
    sizes: dict[int, tuple[str, int]] = {}

    def walk(node: Node) -> None:
        if node.kind in ("I", "eye"):
            sizes[id(node)] = ("A", 0)
        for a in node.args:
            walk(a)

    walk(tree)
    return sizes


def test_pushed_forms_stay_differentiable_at_large_n() -> None:
    """f is compiled from text too: (A + A.T) @ x inside f must keep autograd and torch.func
    working past the sizes where the CPU fast form switches to its out= loop."""
    import matcalc as mc

    rule = mc.claim("x @ (A + A.T) @ x", wrt="x", derivative="x @ (A + A.T) + x @ (A.T + A)")
    for oracle in ("jacobian", "func", "probe"):
        assert mc.check(rule, sizes={"n": 300}, oracle=oracle).passed, oracle
    fn = compile_tree(parse("(A.T + A) @ x"), {})
    x = torch.randn(300, dtype=torch.float64)
    a = torch.randn(300, 300, dtype=torch.float64)
    jac = torch.func.jacrev(lambda v: fn(x=v, A=a))(x)
    torch.testing.assert_close(jac, a + a.T)


def test_conjugate_transposes_are_evaluated_as_written() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, generator=g, dtype=torch.complex128)
    a = torch.randn(5, 5, generator=g, dtype=torch.complex128)
    for text, literal in (("x @ A.mH", x @ a.mH), ("A.mH @ x", a.mH @ x)):
        torch.testing.assert_close(compile_tree(parse(text), {})(x=x, A=a), literal)


def test_an_identity_factor_returns_a_new_tensor_and_checks_its_size() -> None:
    tree = parse("x @ I")
    fn = compile_tree(tree, {id(tree.args[1]): ("A", 0)})
    x, a = torch.randn(4, dtype=torch.float64), torch.zeros(4, 4, dtype=torch.float64)
    out = fn(x=x, A=a)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    with pytest.raises(RuntimeError):
        fn(x=x, A=torch.zeros(3, 3, dtype=torch.float64))
