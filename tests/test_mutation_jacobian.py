"""The reference oracle (matcalc/oracles/jacobian.py), pinned where mutation testing found it loose.

The reference is what every other oracle is measured against, so its Jacobian is checked here
against closed forms entry by entry, for each way it is computed (from f, from a graph f already
built, the Hessian), and its measurement is checked part by part. bench/results/mutation.md maps
the module's mutants to these tests.
"""

from __future__ import annotations

import pytest
import torch

import matcalc as mc
from matcalc.core.calls import Context
from matcalc.engine.verdict import judge
from matcalc.oracles.base import Problem
from matcalc.oracles.forms import resolution_factor
from matcalc.oracles.jacobian import (
    JacobianOracle,
    jacobian_of_graph,
    loop_forms,
    reference_hessian,
    reference_jacobian,
)
from matcalc.oracles.probe import LOOP_ABOVE_NUMEL

F64 = torch.float64


def _x() -> torch.Tensor:
    return torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]], dtype=F64)


def test_the_reference_jacobian_is_numerator_layout_entry_by_entry() -> None:
    """Defect: the reference Jacobian transposed, flattened, or of another function."""
    x = _x()
    J = reference_jacobian(lambda w: w.sum(0) * w[0], x)
    assert J.shape == (3, 2, 3)
    expected = torch.zeros(3, 2, 3, dtype=F64)
    for i in range(3):
        expected[i, 0, i] = x[0, i] + x.sum(0)[i]
        expected[i, 1, i] = x[0, i]
    torch.testing.assert_close(J, expected, rtol=0, atol=0)


def test_the_jacobian_of_a_built_graph_equals_the_reference() -> None:
    """Defect: the Jacobian from an already built graph differs from the reference (rows in the
    wrong order, a row dropped, the graph freed before the last row)."""
    x = _x().requires_grad_()
    out = (x.sin() @ x.T).tanh()
    J = jacobian_of_graph(out, x)
    ref = reference_jacobian(lambda w: (w.sin() @ w.T).tanh(), _x())
    assert J.shape == (2, 2, 2, 3)
    torch.testing.assert_close(J, ref, rtol=1e-14, atol=1e-15)


def test_the_jacobian_of_an_output_that_ignores_the_leaf_is_zero() -> None:
    """Defect: an output that does not depend on the leaf (no graph at all, or a graph through
    another leaf) crashes the reference or gets a nonzero truth."""
    x = _x().requires_grad_()
    const = torch.ones(4, dtype=F64)
    J = jacobian_of_graph(const, x)
    assert J.shape == (4, 2, 3) and J.dtype == F64 and not J.any()
    y = torch.ones(2, dtype=F64, requires_grad=True)
    J = jacobian_of_graph(y * 2, x)
    assert J.shape == (2, 2, 3) and not J.any()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_the_jacobian_of_an_empty_output_has_the_declared_shape(dtype: torch.dtype, device: str) -> None:
    """Defect: an empty output stacks no rows (a crash) or gets the wrong shape, dtype or device
    (the device only shows on a GPU run)."""
    x = torch.ones(3, dtype=dtype, device=device, requires_grad=True)
    J = jacobian_of_graph((x * 2)[:0].reshape(0, 1), x)
    assert J.shape == (0, 1, 3) and J.dtype == dtype and J.device == x.device


def test_the_reference_hessian_is_symmetric_and_exact() -> None:
    """Defect: the Hessian of the wrong function, or only its upper half."""
    A = torch.tensor([[1.0, 2.0], [0.0, 3.0]], dtype=F64)
    H = reference_hessian(lambda w: w @ A @ w, torch.tensor([0.3, -0.7], dtype=F64))
    torch.testing.assert_close(H, A + A.T, rtol=0, atol=0)


def _problem(kind: str = "jacobian", **kw) -> Problem:  # type: ignore[no-untyped-def]
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0]], dtype=F64)
    if kind == "hessian":
        rule = mc.Rule(name="q", f=lambda x: x @ x * 0.5, derivative=lambda x: torch.eye(3), wrt="x",
                       inputs={"x": mc.vector(3)}, kind="hessian")
    else:
        rule = mc.Rule(name="lin", f=lambda x: A @ x, derivative=lambda x: A, wrt="x", inputs={"x": mc.vector(3)})
    x = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    fields = {"claim": A if kind != "hessian" else torch.eye(3, dtype=F64), "claim_jvp": None,
              "claim_vjp": None, "tolerance": 1e-9, "scale": 0.0, "forward": None, **kw}
    ctx = Context(rule, {}, torch.device("cpu"), F64)
    return Problem(rule=rule, ctx=ctx, inputs={"x": x}, out=rule.f(x=x), out_shape=() if kind == "hessian" else (2,),
                   gen=torch.Generator().manual_seed(3), probes=2, **fields)


def test_the_whole_jacobian_is_compared_with_the_tolerance_as_resolution() -> None:
    """Defect: the whole-J comparison given another tolerance, resolution or floor, or its claim
    and truth swapped or not detached."""
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0]], dtype=F64)
    m = JacobianOracle().measure(_problem(scale=0.5, tolerance=1e-10))
    (whole,) = m.parts
    torch.testing.assert_close(whole.true, A, rtol=0, atol=0)
    assert whole.claimed is not None and torch.equal(whole.claimed, A) and whole.materialized
    assert (whole.tolerance, whole.resolution, whole.floor) == (1e-10, 1e-10, 0.5)
    assert whole.what == "the whole Jacobian" and judge(m).passed
    wrong = JacobianOracle().measure(_problem(claim=A.T.reshape(2, 3)))
    assert not judge(wrong).passed


def test_a_jacobian_from_the_forward_graph_is_the_same_truth() -> None:
    """Defect: the forward graph, when the check has one, ignored or read wrongly."""
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0]], dtype=F64)
    leaf = torch.tensor([0.5, -1.0, 2.0], dtype=F64, requires_grad=True)
    m = JacobianOracle().measure(_problem(forward=((2 * A) @ leaf, leaf)))
    torch.testing.assert_close(m.true, 2 * A, rtol=0, atol=0)  # the graph's, not f's: it was used
    assert not m.true.requires_grad


def test_a_hessian_rule_gets_the_hessian() -> None:
    """Defect: a Hessian rule measured against the gradient's Jacobian of another function."""
    m = JacobianOracle().measure(_problem("hessian"))
    torch.testing.assert_close(m.true, torch.eye(3, dtype=F64), rtol=0, atol=0)
    assert judge(m).passed


def test_the_matrix_free_forms_are_compared_against_the_same_jacobian() -> None:
    """Defect: the claimed jvp or vjp not compared (a wrong form passes beside a right
    derivative), or compared with another tolerance or resolution, or a rule without a
    materialized claim compared against nothing."""
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0]], dtype=F64)
    m = JacobianOracle().measure(_problem(claim_jvp=lambda v: A @ v, claim_vjp=lambda u: u @ (A + 1)))
    assert len(m.parts) == 3 and not judge(m).passed
    for p in m.parts[1:]:
        assert p.tolerance == 1e-9
        assert p.resolution == pytest.approx(resolution_factor(2) * 1e-9, rel=1e-15)
    free = JacobianOracle().measure(_problem(claim=None, claim_jvp=lambda v: (2 * A) @ v))
    (only,) = free.parts
    assert "jvp" in only.what and not judge(free).passed


def test_closed_forms_loop_only_past_the_size_where_vmap_copies() -> None:
    """Defect: the loop/vmap choice for the closed forms inverted or its bound moved: the wrt
    input past LOOP_ABOVE_NUMEL, or a large captured input with few probes, loops; else vmap."""
    small = _problem()
    assert not loop_forms(small)
    big_captured = _problem()
    big_captured.inputs = {"x": small.inputs["x"], "A": torch.zeros(LOOP_ABOVE_NUMEL + 1)}
    assert loop_forms(big_captured)
    at_limit = _problem()
    at_limit.inputs = {"x": small.inputs["x"], "A": torch.zeros(LOOP_ABOVE_NUMEL - 3)}
    assert not loop_forms(at_limit)
    many = _problem()
    many.inputs = big_captured.inputs
    many.probes = 17
    assert not loop_forms(many)
    many.probes = 16
    assert loop_forms(many)
    big_x = _problem()
    big_x.inputs = {"x": torch.zeros(LOOP_ABOVE_NUMEL + 1)}
    big_x.probes = 64
    assert loop_forms(big_x)
    big_x.inputs = {"x": torch.zeros(LOOP_ABOVE_NUMEL)}
    assert not loop_forms(big_x)


class _ItemBackward(torch.autograd.Function):
    """y = 2x whose backward reads a Python number (as hand-written backwards do): vmap cannot
    batch it."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def,override]
        return 2 * x

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def,override]
        if float(grad.abs().max().item()) > 1e300:  # a check on the incoming gradient's values
            raise OverflowError("gradient too large")
        return 2 * grad


def test_the_reference_runs_backwards_that_vmap_cannot_batch() -> None:
    """Defect: the reference Jacobian vectorized (vmap over the backward pass): a custom autograd
    Function whose backward calls .item() then fails, and the check of any rule through it with
    it."""
    x = torch.ones(3, dtype=F64)
    J = reference_jacobian(_ItemBackward.apply, x)
    torch.testing.assert_close(J, 2 * torch.eye(3, dtype=F64), rtol=0, atol=0)


def test_the_forms_are_drawn_from_the_problems_generator_and_floored_by_its_scale() -> None:
    """Defect: the jvp/vjp directions drawn from the global RNG (a check that is not reproducible
    from its seed), or the forms' floors not scaled by the problem's scale."""
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 3.0, -1.0]], dtype=F64)
    m = JacobianOracle().measure(_problem(claim_jvp=lambda v: A @ v, scale=0.5))
    V = torch.randn((2, 3), generator=torch.Generator().manual_seed(3), dtype=F64)
    jvp_part = m.parts[1]
    torch.testing.assert_close(jvp_part.true, V @ A.T, rtol=1e-14, atol=0)
    assert jvp_part.floor == pytest.approx(0.5 * 2**0.5, rel=1e-15)
