"""The fast samplers for large inputs (matcalc.draws.large): determinism at any thread count, the
domains' guarantees, independence from the global RNGs, and small draws left bit-identical. The
threshold is lowered so that moderate sizes take the fast path; speed is measured in
bench/draw_speed.py, not here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import matcalc as mc
from matcalc.draws import large as sampling
from matcalc.draws.samplers import draw

N = 80  # 6400 entries: above the lowered threshold


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "FAST_DRAW_MIN_NUMEL", 4096)
    monkeypatch.setattr(sampling, "SPAN", 500)  # 13 spans at N = 80, the last one ragged


def _draw(structure: str, seed: int, dtype: torch.dtype = torch.float64, shape: tuple[int, int] = (N, N),
          ) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return draw(mc.matrix("n", "m" if shape[0] != shape[1] else "n", structure=structure), shape, gen,
                dtype=dtype, others={})


STRUCTURES = ["general", "symmetric", "positive", "spd", "separated_eigenvalues", "invertible",
              "orthogonal"]


@pytest.mark.parametrize("structure", STRUCTURES)
def test_same_seed_same_draw_different_seed_different(low_threshold: None, structure: str) -> None:
    a, b, c = _draw(structure, 5), _draw(structure, 5), _draw(structure, 6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_fast_path_leaves_global_rngs_alone(low_threshold: None, structure: str) -> None:
    torch.manual_seed(11)
    np.random.seed(11)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(11)
    np.random.seed(11)
    x = _draw(structure, 0)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    torch.manual_seed(99)
    assert torch.equal(_draw(structure, 0), x)  # and the global seed does not change the draw


def test_fast_path_differs_from_the_original_sampler(low_threshold: None) -> None:
    fast = _draw("general", 0)
    sampling.FAST_DRAW_MIN_NUMEL = 2**40
    assert not torch.equal(_draw("general", 0), fast)


# Five whole spans and a ragged sixth at the real span length: what a draw at n = 1024 looks like.
MANY_SPANS = (5 * sampling.SPAN + 1234,)


def _fill(kind: str, seed: int, workers: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    if kind == "gaussian":
        return sampling.gaussian(MANY_SPANS, seed, dtype, workers=workers)
    return sampling.uniform(MANY_SPANS, 0.5, 2.0, seed, dtype, workers=workers)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_same_seed_same_bits_with_one_worker_or_several(kind: str, dtype: torch.dtype) -> None:
    one = _fill(kind, 4, 1, dtype).view(torch.uint8)
    for workers in (2, 3, 6):
        assert torch.equal(_fill(kind, 4, workers, dtype).view(torch.uint8), one), workers


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_different_seeds_draw_different_values(kind: str) -> None:
    a, b = _fill(kind, 4, 2), _fill(kind, 5, 2)
    assert not torch.equal(a, b)
    # not merely shifted or partly shared: no span of one equals any span of the other
    spans = sampling.SPAN
    firsts = {float(a[k * spans]) for k in range(6)} | {float(b[k * spans]) for k in range(6)}
    assert len(firsts) == 12
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 5 / math.sqrt(a.numel())


def test_span_k_is_drawn_by_child_k_of_the_seed(low_threshold: None) -> None:
    """The documented layout: entries k * SPAN .. (k + 1) * SPAN - 1 come from child k of
    SeedSequence(seed) on SFC64, so a value depends on the seed and its index alone."""
    g = sampling.gaussian((2, 1234), seed=9, workers=3).view(-1).numpy()
    u = sampling.uniform((2468,), 0.0, 1.0, seed=9, dtype=torch.float32, workers=2).numpy()
    for k in range(5):  # 2468 = 4 spans of 500 and 468
        child = np.random.Generator(np.random.SFC64(np.random.SeedSequence(9).spawn(k + 1)[k]))
        part = slice(k * 500, (k + 1) * 500)
        assert np.array_equal(g[part], child.standard_normal(500)[: g[part].shape[0]])
        child = np.random.Generator(np.random.SFC64(np.random.SeedSequence(9).spawn(k + 1)[k]))
        assert np.array_equal(u[part], child.random(500, dtype=np.float32)[: u[part].shape[0]])


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_gaussian_follows_the_standard_normal(dtype: torch.dtype) -> None:
    z = sampling.gaussian((2**20,), seed=2026, dtype=dtype)
    assert z.dtype == dtype
    x = z.double().numpy()
    assert abs(x.mean()) < 5 / math.sqrt(x.size)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / x.size)
    assert abs(float((np.abs(x) > 2).mean()) - 0.0455) < 0.002
    # Kolmogorov-Smirnov distance on a subsample across all four spans; 1.63 / sqrt(m) is the 1%
    # critical value.
    m = 2**14
    sub = np.sort(x[:: x.size // m])
    cdf = _normal_cdf(sub)
    assert max(np.max(np.arange(1, m + 1) / m - cdf), np.max(cdf - np.arange(m) / m)) < 1.63 / math.sqrt(m)
    # neighbouring entries, and entries at the same place in neighbouring spans, are uncorrelated
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 5 / math.sqrt(x.size)
    spans = x.reshape(4, -1)
    assert abs(np.corrcoef(spans[0], spans[1])[0, 1]) < 5 / math.sqrt(spans.shape[1])


def test_float16_draws_are_float32_draws_rounded() -> None:
    assert torch.equal(sampling.gaussian((3000,), 1, torch.float16),
                       sampling.gaussian((3000,), 1, torch.float32).half())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_uniforms_fill_their_interval(dtype: torch.dtype) -> None:
    u = sampling.uniform((2**18,), 0.5, 2.0, seed=3, dtype=dtype).double()
    assert u.min() >= 0.5 and u.max() <= 2.0
    assert u.min() < 0.5 + 1e-4 and u.max() > 2.0 - 1e-4
    assert abs(float(u.mean()) - 1.25) < 0.01 and abs(float(u.var()) - 1.5**2 / 12) < 0.005


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_symmetrize_in_place_by_tiles_on_threads_is_exact(dtype: torch.dtype) -> None:
    """Several tiles (300 = 2 x 128 + 44), in place, rows of tiles shared among threads."""
    a = torch.randn(300, 300, dtype=dtype)
    for workers in (1, 2, 3):
        assert torch.equal(sampling.symmetrize_(a.clone(), workers=workers), (a + a.T) / 2), workers


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("structure", ["symmetric", "spd", "separated_eigenvalues"])
def test_symmetric_structures_are_exactly_symmetric(low_threshold: None, structure: str,
                                                    dtype: torch.dtype) -> None:
    a = _draw(structure, 1, dtype)
    assert a.dtype == dtype and torch.equal(a, a.T)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_spd_eigenvalues_in_1_10(low_threshold: None, dtype: torch.dtype) -> None:
    for seed in range(3):
        ev = torch.linalg.eigvalsh(_draw("spd", seed, dtype).double())
        slack = 1e-12 if dtype == torch.float64 else 1e-5
        assert ev.min() >= 1 - slack and ev.max() <= 10 + slack


def test_separated_eigenvalues(low_threshold: None) -> None:
    ev = torch.linalg.eigvalsh(_draw("separated_eigenvalues", 2))
    assert float(torch.diff(ev).min()) >= 0.5 - 1e-12 and float(ev.abs().min()) >= 0.25 - 1e-12


@pytest.mark.parametrize("shape", [(N, N), (120, N)])
def test_singular_values_in_1_10(low_threshold: None, shape: tuple[int, int]) -> None:
    structure = "invertible" if shape[0] == shape[1] else "full_column_rank"
    a = _draw(structure, 3, shape=shape)
    sv = torch.linalg.svdvals(a)
    assert sv.min() >= 1 - 1e-12 and sv.max() <= 10 + 1e-12
    assert not torch.allclose(a, a.T) if shape[0] == shape[1] else True


def test_orthogonal(low_threshold: None) -> None:
    q = _draw("orthogonal", 4)
    assert torch.allclose(q.T @ q, torch.eye(N, dtype=torch.float64), atol=1e-13)
    assert not torch.allclose(q, q.T)


def test_positive_and_nonzero(low_threshold: None) -> None:
    p = _draw("positive", 0)
    assert p.min() >= 0.5 and p.max() <= 2.0
    gen = torch.Generator().manual_seed(0)
    v = draw(mc.vector("n", nonzero=True), (N * N,), gen, dtype=torch.float64, others={})
    assert 0.5 * N - 1e-9 <= float(torch.linalg.vector_norm(v)) <= 1.5 * N + 1e-9


def test_small_draws_are_bit_identical_to_the_original_sampler() -> None:
    # The values of seed 0 for quadratic_form at n = 5, as drawn before the fast path existed.
    gen = torch.Generator().manual_seed(0)
    a = draw(mc.matrix("n", "n"), (5, 5), gen, dtype=torch.float64, others={})
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(a, torch.randn(5, 5, generator=gen, dtype=torch.float64))


def test_check_passes_on_fast_draws(low_threshold: None) -> None:
    from matcalc.catalog import RULES

    for name in ("quadratic_form", "hessian_quadratic_form"):
        assert mc.check(RULES[name], sizes={"n": N}).passed, name



def test_large_draws_work_inside_inference_mode() -> None:
    """The draw's worker threads run in the caller's inference mode (matcalc.draws.parallel.spread):
    outside it they could not write into the buffer created inside it."""
    with torch.inference_mode():
        g = sampling.gaussian((1024, 1024), seed=1)
    assert torch.equal(g, sampling.gaussian((1024, 1024), seed=1))


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("structure", ["general", "symmetric", "spd"])
def test_the_low_precision_cast_rounds_as_before(monkeypatch: pytest.MonkeyPatch, large: bool,
                                                 dtype: torch.dtype, structure: str) -> None:
    """cast_inputs writes into pooled buffers and symmetrizes large inputs in place: the values are
    those of ``x.to(dt)`` then ``(low + low.T) / 2``, bit for bit, and exactly symmetric."""
    from matcalc.draws.inputs import cast_inputs

    if large:
        monkeypatch.setattr(sampling, "FAST_DRAW_MIN_NUMEL", 4096)
    rule = mc.Rule(name="cast", f=lambda X: X.sum(), derivative=lambda X: torch.ones_like(X), wrt="X",
                   inputs={"X": mc.matrix("n", "n", structure=structure)})
    x = _draw(structure, 3)
    x64 = x.clone()
    low = cast_inputs(rule, {"X": x}, dtype)["X"]
    expected = x64.to(dtype)
    if structure != "general":
        expected = (expected + expected.T) / 2
    bits = torch.int32 if dtype == torch.float32 else torch.int16  # bit for bit: -0.0 is not 0.0
    assert low.dtype == dtype and torch.equal(low.view(bits), expected.view(bits))
    assert torch.equal(x, x64)  # the float64 draw is left as it was
    if structure != "general":
        assert torch.equal(low, low.T)
