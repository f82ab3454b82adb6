"""The CPU fast forms: they keep autograd working (their huge-page out= paths have no backward, so
they step aside when a gradient is needed). Their values against the statements are checked in
tests/test_catalog.py; the Triton kernels in tests/test_fast_triton.py."""

from __future__ import annotations

import torch


def test_fast_forms_keep_autograd_working() -> None:
    from matcalc import fast

    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: fast.norm_hessian(x), (x,))
    a = torch.randn(300, 300, dtype=torch.float64, requires_grad=True)
    fast.symmetric_sum(a).sum().backward()
    assert torch.equal(a.grad, torch.full_like(a, 2.0))
