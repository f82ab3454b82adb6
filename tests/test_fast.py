"""The CPU fast forms: they keep autograd working (their huge-page out= paths have no backward, so
they step aside when a gradient is needed). Their values against the statements are checked in
tests/test_catalog.py; the Triton kernels in tests/test_fast_triton.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_fast_forms_keep_autograd_working() -> None:
    from matcalc import fast

    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: fast.norm_hessian(x), (x,))
    a = torch.randn(300, 300, dtype=torch.float64, requires_grad=True)
    fast.symmetric_sum(a).sum().backward()
    assert torch.equal(a.grad, torch.full_like(a, 2.0))


def test_symmetric_sum_is_exact_at_any_thread_count_and_ragged_sizes() -> None:
    from matcalc import fast

    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 300, 517):
                a = torch.randn(n, n, dtype=torch.float64)
                assert torch.equal(fast.symmetric_sum(a, tile=64), a + a.T), (threads, n)


def test_symmetric_sum_under_autograd_and_torch_func_with_threads() -> None:
    """Grad mode and torch.func transforms are per thread: the threaded tile loop must step aside
    whenever either is active."""
    from matcalc import fast

    with torch_threads(2):
        a = torch.randn(384, 384, dtype=torch.float64)
        w = torch.randn(384, 384, dtype=torch.float64)
        for _ in range(5):
            leaf = a.clone().requires_grad_(True)
            (fast.symmetric_sum(leaf) * w).sum().backward()
            assert leaf.grad is not None and torch.equal(leaf.grad, w + w.T)
        with torch.no_grad():
            assert not fast.symmetric_sum(a.clone().requires_grad_(True)).requires_grad
        with torch.inference_mode():
            assert torch.equal(fast.symmetric_sum(a), a + a.T)
        tangent = torch.func.jvp(fast.symmetric_sum, (a,), (w,))[1]
        assert torch.equal(tangent, w + w.T)


def test_quadratic_gradient_blocks_at_any_thread_count() -> None:
    from matcalc import fast

    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 700, 1030):
                a = torch.randn(n, n, dtype=torch.float64)
                x = torch.randn(n, dtype=torch.float64)
                torch.testing.assert_close(fast.quadratic_gradient(x, a), a @ x + x @ a,
                                           rtol=1e-12, atol=1e-12)
