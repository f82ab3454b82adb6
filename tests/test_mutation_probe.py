"""The probe oracle (matcalc/oracles/probe.py), pinned where mutation testing found it loose.

The oracle's measurement is replayed here: the probes come from the problem's generator in a fixed
order (left probes U, then right probes V), so each comparison the oracle makes can be recomputed
independently and compared entry by entry. A comparison dropped, merged into a more lenient one,
or given the wrong floor, tolerance or resolution shows as a difference here, whatever the verdict
would have made of it at one draw. bench/results/mutation.md maps the module's mutants to these
tests.
"""

from __future__ import annotations

import math

import pytest
import torch

import matcalc as mc
from matcalc.engine.verdict import judge
from matcalc.oracles.forms import resolution_factor
from matcalc.oracles.probe import (
    ProbeInputs,
    ProbeOracle,
    _batched,
    _vjp_of,
    directions,
    hvp,
    probe_pairs,
)

F64 = torch.float64
SEED = 7


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


def _linear(m: int = 5, n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(m, n, generator=g, dtype=F64), torch.randn(n, generator=g, dtype=F64)


def _problem(A: torch.Tensor, x: torch.Tensor, k: int, **kw) -> ProbeInputs:  # type: ignore[no-untyped-def]
    """The probe problem of f(w) = A @ w; ``kw`` sets claim, claim_jvp, claim_vjp, tolerance, scale."""
    fields = {"claim": None, "claim_jvp": None, "claim_vjp": None, "tolerance": 1e-9, "scale": 0.0, **kw}
    return ProbeInputs(fn=lambda w: A @ w, x=x, out_shape=(A.shape[0],), hessian=False, probes=k, gen=_gen(),
                       **fields)


def _replayed(m: int, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen()
    return torch.randn((k, m), generator=g, dtype=F64), torch.randn((k, n), generator=g, dtype=F64)


def test_a_materialized_claim_is_compared_by_rows_and_by_bilinear_forms() -> None:
    """Defect: one of the two comparisons of a materialized claim dropped (the u^T D v one
    survived a mutation run from outside), or computed against the wrong side: both must be there,
    in order, with the rows u^T D against u^T J and the forms u^T D v against u^T J v."""
    A, x = _linear()
    D = A + 0.5
    k = 2
    m = ProbeOracle().measure(_problem(A, x, k, claim=D, tolerance=1e-9, scale=0.0))  # type: ignore[arg-type]
    U, V = _replayed(5, 3, k)
    rows, bilinear = m.parts
    torch.testing.assert_close(rows.claimed, U @ D, rtol=1e-14, atol=0)
    torch.testing.assert_close(rows.true, U @ A, rtol=1e-14, atol=0)
    torch.testing.assert_close(bilinear.claimed, U @ D @ V.T, rtol=1e-14, atol=0)
    torch.testing.assert_close(bilinear.true, U @ A @ V.T, rtol=1e-14, atol=0)
    assert "u^T D against u^T J" in rows.what and "u^T D v against u^T J v" in bilinear.what
    assert not rows.materialized and not bilinear.materialized
    assert not judge(m).passed


def test_each_probe_comparison_has_the_problems_tolerance_and_the_probe_resolution() -> None:
    """Defect: a comparison judged against another tolerance, or claiming a resolution finer than
    k probes give (resolution_factor(k) tolerances), so a miss is reported as a pass."""
    A, x = _linear()
    k, tol = 3, 1e-9
    jvp, vjp = (lambda v: A @ v), (lambda u: u @ A)
    m = ProbeOracle().measure(_problem(A, x, k, claim=A, claim_jvp=jvp, claim_vjp=vjp, tolerance=tol))  # type: ignore[arg-type]
    assert len(m.parts) == 4
    for p in m.parts:
        assert p.tolerance == tol
        assert p.resolution == pytest.approx(resolution_factor(k) * tol, rel=1e-15)
    assert judge(m).passed


def test_the_floors_scale_with_the_number_of_probes() -> None:
    """Defect: a zero truth's floor not scaled to the comparison's units: rows of k probes have
    sqrt(k) times the norm of one, bilinear forms k times."""
    A, x = _linear()
    k, scale = 4, 0.25
    jvp, vjp = (lambda v: A @ v), (lambda u: u @ A)
    m = ProbeOracle().measure(_problem(A, x, k, claim=A, claim_jvp=jvp, claim_vjp=vjp, scale=scale))  # type: ignore[arg-type]
    floors = [p.floor for p in m.parts]
    assert floors == pytest.approx([scale * 2, scale * 4, scale * 2, scale * 4], rel=1e-15)


def test_the_claimed_vjp_and_jvp_are_compared_on_the_same_probes() -> None:
    """Defect: the claimed vjp compared against another side than u^T J, or the claimed jvp not
    through u^T (D v) against (u^T J) v, or either form skipped."""
    A, x = _linear()
    k = 2
    wrong = A.clone()
    wrong[0, 0] += 1.0
    U, V = _replayed(5, 3, k)
    m = ProbeOracle().measure(_problem(A, x, k, claim_vjp=lambda u: u @ wrong))  # type: ignore[arg-type]
    (only,) = m.parts
    torch.testing.assert_close(only.claimed, U @ wrong, rtol=1e-14, atol=0)
    torch.testing.assert_close(only.true, U @ A, rtol=1e-14, atol=0)
    assert "claimed vjp" in only.what and not judge(m).passed
    m = ProbeOracle().measure(_problem(A, x, k, claim_jvp=lambda v: wrong @ v,  # type: ignore[arg-type]
                                       claim_vjp=lambda u: u @ A))
    vjp_part, jvp_part = m.parts
    assert "claimed vjp" in vjp_part.what
    torch.testing.assert_close(vjp_part.claimed, vjp_part.true, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(jvp_part.claimed, U @ (wrong @ V.T), rtol=1e-14, atol=0)
    torch.testing.assert_close(jvp_part.true, U @ A @ V.T, rtol=1e-14, atol=0)
    assert "claimed jvp" in jvp_part.what and not judge(m).passed


def test_a_jvp_alone_is_also_compared_by_its_transpose() -> None:
    """Defect: a rule with only a jvp gets no row comparison (its transpose, u^T D, is the vjp the
    oracle builds), so a wrong jvp is judged by one comparison only."""
    A, x = _linear()
    k = 2
    U, _ = _replayed(5, 3, k)
    m = ProbeOracle().measure(_problem(A, x, k, claim_jvp=lambda v: (2 * A) @ v))  # type: ignore[arg-type]
    rows, forms = m.parts
    torch.testing.assert_close(rows.claimed, U @ (2 * A), rtol=1e-14, atol=0)
    assert "claimed vjp" in rows.what and "claimed jvp" in forms.what
    # with a materialized claim beside it, the claim's rows are compared and no vjp is built
    m = ProbeOracle().measure(_problem(A, x, k, claim=A, claim_jvp=lambda v: A @ v))  # type: ignore[arg-type]
    assert [("vjp" in p.what, "jvp" in p.what) for p in m.parts] == [(False, False), (False, False),
                                                                     (False, True)]


def test_the_vjp_of_a_jvp_is_its_transpose() -> None:
    """Defect: the transposed jvp taken at the wrong point or returning the wrong output."""
    A, x = _linear()
    u = torch.arange(5, dtype=F64)
    vjp = _vjp_of(lambda v: A @ v, x, (5,))
    assert callable(vjp)
    torch.testing.assert_close(vjp(u), u @ A, rtol=1e-14, atol=0)


@pytest.mark.parametrize("m_out", [2, 3])
def test_few_outputs_compare_the_whole_jacobian_through_the_standard_basis(m_out: int) -> None:
    """Defect: with no more outputs than probes the rows are not J itself (random probes where the
    standard basis is exact), or the whole-J comparison gets the probes' coarse resolution instead
    of the tolerance, or its floor is scaled as if it were probes."""
    A, x = _linear(m_out, 4)
    k, tol, scale = 3, 1e-9, 0.5
    D = A.clone()
    D[-1, -1] += 1e-3
    m = ProbeOracle().measure(_problem(A, x, k, claim=D, tolerance=tol, scale=scale))  # type: ignore[arg-type]
    (whole,) = m.parts
    torch.testing.assert_close(whole.true, A, rtol=1e-14, atol=0)
    assert whole.claimed is D and whole.materialized
    assert whole.resolution == tol and whole.tolerance == tol and whole.floor == scale
    assert f"all {m_out} rows of J (standard basis)" == whole.what
    assert not judge(m).passed


def test_the_standard_basis_also_checks_the_matrix_free_forms() -> None:
    """Defect: with the standard basis the claimed jvp/vjp are no longer compared."""
    A, x = _linear(2, 4)
    m = ProbeOracle().measure(_problem(A, x, 3, claim=A, claim_jvp=lambda v: (A + 1) @ v,  # type: ignore[arg-type]
                                       claim_vjp=lambda u: u @ A))
    assert len(m.parts) == 3 and not judge(m).passed


def test_a_hessian_is_probed_through_hessian_vector_products() -> None:
    """Defect: the Hessian's rows taken as the gradient's vjp (a Jacobian of the wrong function),
    or the hvp not forward-over-reverse of the scalar f."""
    A, _ = _linear(3, 3)
    x = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    H = A + A.T
    v = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    torch.testing.assert_close(hvp(lambda w: w @ A @ w, x, v), H @ v, rtol=1e-14, atol=1e-14)
    # f as the benchmark gives it may return a one-entry tensor: the Hessian's f is made a scalar
    m = probe_pairs(fn=lambda w: (w @ A @ w).reshape(1), x=x, out_shape=(3,), claim=H, claim_jvp=None,
                    claim_vjp=None, hessian=True, k=2, gen=_gen())
    U, _ = _replayed(3, 3, 2)
    rows, _ = m.parts
    torch.testing.assert_close(rows.true, U @ H, rtol=1e-13, atol=1e-13)
    assert judge(m).error < 1e-12  # probe_pairs has tolerance 0: only the error means something


def test_probes_are_drawn_in_float64_and_cast() -> None:
    """Defect: probes drawn in the tensor's own dtype (another stream of numbers per dtype, so a
    float32 check and a float64 one probe different directions), or not cast to it."""
    like = torch.zeros(1, dtype=torch.float32)
    d = directions((3,), 2, _gen(), like)
    assert d.dtype == torch.float32 and d.shape == (2, 3)
    torch.testing.assert_close(d, torch.randn((2, 3), generator=_gen(), dtype=F64).float(), rtol=0, atol=0)


@pytest.mark.parametrize("loop", [False, True])
def test_batching_gives_the_same_values_with_and_without_vmap(loop: bool) -> None:
    """Defect: a function without a batching rule (here one that calls .item()) fails the check
    instead of running one probe at a time, or the loop computes other values."""
    batch = torch.arange(6, dtype=F64).reshape(3, 2)
    torch.testing.assert_close(_batched(lambda b: b * float(b.sum().item()), batch, loop),
                               batch * batch.sum(1, keepdim=True), rtol=0, atol=0)
    torch.testing.assert_close(_batched(lambda b: 2 * b, batch, loop), 2 * batch, rtol=0, atol=0)


def test_probe_pairs_measures_a_bare_function() -> None:
    """Defect: the benchmark entry point measures another problem than the check would (another
    input set, a non-scalar Hessian f, the wrong probe count)."""
    A, x = _linear()
    m = probe_pairs(fn=lambda w: A @ w, x=x, out_shape=(5,), claim=A, claim_jvp=None, claim_vjp=None,
                    hessian=False, k=2, gen=_gen())
    assert [p.claimed.shape for p in m.parts] == [(2, 3), (2, 2)]
    assert judge(m).error < 1e-12
    # f's other inputs may be passed, as the benchmark does
    m = probe_pairs(fn=lambda w: A @ w, x=x, out_shape=(5,), claim=A, claim_jvp=None, claim_vjp=None,
                    hessian=False, k=2, gen=_gen(), inputs={"x": x, "A": A})
    assert judge(m).error < 1e-12
    # the benchmark's matrix-free forms are measured too
    wrong = A + 1
    for forms in ({"claim_jvp": lambda v: wrong @ v}, {"claim_vjp": lambda u: u @ wrong}):
        m = probe_pairs(fn=lambda w: A @ w, x=x, out_shape=(5,), claim=A, hessian=False, k=2, gen=_gen(),
                        **{"claim_jvp": None, "claim_vjp": None, **forms})
        assert len(m.parts) == 3 and judge(m).error > 1e-3
    assert ProbeInputs(fn=lambda w: w, x=x, out_shape=(3,), claim=None, claim_jvp=None, claim_vjp=None,
                       hessian=False, probes=1, gen=_gen()).wrt_shape == (3,)


def test_a_wrong_claim_fails_through_check_with_the_probe_oracle() -> None:
    """Defect: end to end, a materialized claim off by a transpose passes the probe oracle."""
    rule = mc.Rule(name="xtAx", f=lambda x, A: x @ A @ x, derivative=lambda x, A: x @ (A + A.T),
                   wrt="x", inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")})
    assert mc.check(rule, oracle="probe", sizes={"n": 6}).passed
    wrong = mc.Rule(name="xtAx", f=rule.f, derivative=lambda x, A: 2 * x @ A, wrt="x", inputs=rule.inputs)
    res = mc.check(wrong, oracle="probe", sizes={"n": 6})
    assert res.outcome == "fail" and math.isfinite(res.error)


def test_the_standard_basis_draws_only_the_forms_directions() -> None:
    """Defect: right probes drawn even when the standard basis replaces them, which shifts every
    later draw of the generator (the forms' directions no longer follow from the seed as they
    do for the other oracles)."""
    A, x = _linear(2, 4)
    k = 3
    m = ProbeOracle().measure(_problem(A, x, k, claim=A, claim_jvp=lambda v: A @ v))  # type: ignore[arg-type]
    V = torch.randn((k, 4), generator=_gen(), dtype=F64)
    torch.testing.assert_close(m.parts[1].true, V @ A.T, rtol=1e-14, atol=0)


def test_a_hessian_with_few_entries_is_probed_through_the_standard_basis() -> None:
    """Defect: the basis built in another dtype than the input (a float32 basis in a float64
    Hessian-vector product)."""
    A, _ = _linear(3, 3)
    x = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    m = probe_pairs(fn=lambda w: w @ A @ w, x=x, out_shape=(3,), claim=A + A.T, claim_jvp=None, claim_vjp=None,
                    hessian=True, k=3, gen=_gen())
    torch.testing.assert_close(m.parts[0].true, A + A.T, rtol=1e-14, atol=1e-14)
    assert m.parts[0].true.dtype == F64


def test_probes_are_drawn_on_the_inputs_device(device: str) -> None:
    """Defect: probes drawn on another device than the input (only a GPU run shows it)."""
    like = torch.zeros(1, dtype=F64, device=device)
    gen = torch.Generator(device=device).manual_seed(SEED)
    assert directions((3,), 2, gen, like).device == like.device


def test_the_standard_basis_forms_get_the_problems_tolerance_and_scale() -> None:
    """Defect: with the standard basis the jvp/vjp comparisons get another tolerance (0: a right
    form fails) or lose the problem's scale (their zero-truth floor)."""
    A, x = _linear(2, 4)
    k, tol, scale = 3, 1e-9, 0.5
    m = ProbeOracle().measure(_problem(A, x, k, claim=A, claim_jvp=lambda v: A @ v,  # type: ignore[arg-type]
                                       claim_vjp=lambda u: u @ A, tolerance=tol, scale=scale))
    assert judge(m).passed
    for p in m.parts[1:]:
        assert p.tolerance == tol and p.floor == pytest.approx(scale * math.sqrt(k), rel=1e-15)
