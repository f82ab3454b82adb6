"""The CPU fast forms: they keep autograd working (their huge-page out= paths have no backward, so
they step aside when a gradient is needed). Their values against the statements are checked in
tests/test_catalog.py; the Triton kernels in tests/test_fast_triton.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
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
    from matcalc.fast import forms as fast

    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: fast.norm_hessian(x), (x,))
    a = torch.randn(300, 300, dtype=torch.float64, requires_grad=True)
    fast.symmetric_sum(a).sum().backward()
    assert torch.equal(a.grad, torch.full_like(a, 2.0))


def test_symmetric_sum_is_exact_at_any_thread_count_and_ragged_sizes() -> None:
    from matcalc.fast import forms as fast

    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 300, 517):
                a = torch.randn(n, n, dtype=torch.float64)
                assert torch.equal(fast.symmetric_sum(a, tile=64), a + a.T), (threads, n)


def test_symmetric_sum_under_autograd_and_torch_func_with_threads() -> None:
    """Grad mode and torch.func transforms are per thread: the threaded tile loop must step aside
    whenever either is active."""
    from matcalc.fast import forms as fast

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
    from matcalc.fast import forms as fast

    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 700, 1030):
                a = torch.randn(n, n, dtype=torch.float64)
                x = torch.randn(n, dtype=torch.float64)
                torch.testing.assert_close(fast.quadratic_gradient(x, a), a @ x + x @ a,
                                           rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_symmetric_sum_gives_a_plus_a_transpose_exactly(dtype: torch.dtype) -> None:
    """Each entry is the one addition A[i, j] + A[j, i], for any thread count, ragged sizes,
    strided input and the lazy neg bit."""
    from matcalc.fast import forms as fast

    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 200, 517, 1000):
                a = torch.randn(n, n, dtype=dtype)
                assert torch.equal(fast.symmetric_sum(a), a + a.T), (threads, n)
                b = torch.randn(n, n + 3, dtype=dtype)[:, 1:n + 1]  # not contiguous
                assert torch.equal(fast.symmetric_sum(b), b + b.T), (threads, n)
                c = torch._neg_view(a)
                assert torch.equal(fast.symmetric_sum(c), c + c.T), (threads, n)


@pytest.mark.parametrize("form", ["symmetric_sum", "quadratic_gradient"])
def test_cpu_loops_use_torchs_threads(monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    """Each tile or block op is too small for a thread team of its own: the loop itself must be
    shared, or one core does all the work."""
    from matcalc.draws import parallel
    from matcalc.fast import forms as fast

    workers: list[int] = []
    real = parallel.spread

    def spy(work: object, n: int) -> None:
        workers.append(n)
        real(work, n)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "spread", spy)
    monkeypatch.setattr(fast, "spread", spy)
    n = 600  # quadratic_gradient gives each thread at least 8 blocks of 32 rows
    a = torch.randn(n, n, dtype=torch.float64)
    x = torch.randn(n, dtype=torch.float64)
    with torch_threads(2):
        if form == "symmetric_sum":
            assert torch.equal(fast.symmetric_sum(a), a + a.T)
        else:
            torch.testing.assert_close(fast.quadratic_gradient(x, a), a @ x + x @ a, rtol=1e-12, atol=1e-12)
    assert workers == [2]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_quadratic_gradient_at_ragged_sizes(dtype: torch.dtype) -> None:
    """The torch block loop: A x + A^T x to rounding, for sizes that leave partial blocks, at any
    thread count."""
    from matcalc.fast import forms as fast

    tol = {torch.float64: 1e-12, torch.float32: 1e-4}[dtype]
    for threads in (1, 2, 3):
        with torch_threads(threads):
            for n in (129, 263, 517, 1030):
                a = torch.randn(n, n, dtype=dtype)
                x = torch.randn(n, dtype=dtype)
                expected = (a.double() @ x.double() + x.double() @ a.double()).to(dtype)
                torch.testing.assert_close(fast.quadratic_gradient(x, a), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["quadratic_form", "hessian_quadratic_form", "hessian_norm",
                                  "hessian_logsumexp"])
def test_every_fast_form_keeps_forward_mode_tangents(name: str) -> None:
    """torch.autograd.forward_ad (check_backward's jvp probe) carries tangents on the tensors
    themselves: a worker thread or an out= write would drop them silently."""
    from torch.autograd import forward_ad

    from matcalc.catalog import RULES
    from matcalc.draws.inputs import draw_inputs
    from matcalc.perf.verify_time import sizes_for

    rule = RULES[name]
    assert rule.fast is not None
    inputs = draw_inputs(rule, sizes_for(rule, 300), torch.device("cpu"), torch.float64, 0)
    tangents = {k: torch.randn_like(v) for k, v in inputs.items()}

    def tangent_of(form: object) -> torch.Tensor:
        with forward_ad.dual_level():
            duals = {k: forward_ad.make_dual(v, tangents[k]) for k, v in inputs.items()}
            t = forward_ad.unpack_dual(form(**duals)).tangent  # type: ignore[operator]
        assert t is not None, f"{name}: the tangent was dropped"
        return t

    torch.testing.assert_close(tangent_of(rule.fast), tangent_of(rule.derivative), rtol=1e-10, atol=1e-10)
