"""The Triton kernels of matcalc.fast.triton_kernels against their statements. They run where Triton is
installed: on CUDA directly, and on CPU in a subprocess under TRITON_INTERPRET=1 (the interpreter
has to be chosen before the kernels are defined). Without Triton these tests skip."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

pytest.importorskip("triton")

CHECKS = textwrap.dedent("""
    import torch
    from matcalc.fast import triton_kernels as ft

    device = DEVICE
    for n in (1, 5, 64, 100, 130):  # one tile, a partial tile, exact tiles, several partial tiles
        for dt in (torch.float64, torch.float32):
            g = torch.Generator().manual_seed(n)
            a, x, d, u, v = (torch.randn(*s, generator=g, dtype=dt).to(device) for s in
                             ((n, n), (n,), (n,), (n,), (n,)))
            tol = dict(rtol=1e-5, atol=1e-5) if dt == torch.float32 else dict(rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(ft.quadratic_gradient(x, a), a @ x + a.T @ x, **tol)
            s = ft.symmetric_sum(a)
            assert torch.equal(s, a + a.T) and torch.equal(s, s.T), n
            torch.testing.assert_close(ft.rank_one(d, u, v), torch.outer(u, v) + torch.diag(d), **tol)
            c = d[:1].expand(n)  # a stride-0 diagonal, as norm_hessian passes it
            torch.testing.assert_close(ft.rank_one(c, u, v), torch.outer(u, v) + torch.diag(c), **tol)
    print("ok")
""")


def _run(device: str, env: dict[str, str]) -> None:
    code = CHECKS.replace("DEVICE", repr(device))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_kernels_match_statements_under_the_interpreter() -> None:
    _run("cpu", {**os.environ, "TRITON_INTERPRET": "1"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kernels_match_statements_on_cuda() -> None:
    _run("cuda", {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fast_forms_dispatch_to_triton_on_cuda() -> None:
    from matcalc.fast import forms as fast

    a = torch.randn(300, 300, device="cuda")
    x = torch.randn(300, device="cuda")
    torch.testing.assert_close(fast.quadratic_gradient(x, a), a @ x + a.T @ x)
    assert torch.equal(fast.symmetric_sum(a), a + a.T)
