"""The fast samplers for large inputs (matcalc.sampling): determinism, the domains' guarantees,
independence from the global RNGs, and small draws left bit-identical. The threshold is lowered so
that moderate sizes take the fast path; speed is measured in bench/draw_speed.py, not here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import matcalc as mc
from matcalc.draws import large as sampling
from matcalc.draws import philox
from matcalc.draws.samplers import draw

N = 80  # 6400 entries: above the lowered threshold


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "FAST_DRAW_MIN_NUMEL", 4096)
    monkeypatch.setattr(sampling, "_SPAN_BLOCKS", 2)  # spans of 512 entries: several per worker


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


def test_gaussian_does_not_depend_on_the_number_of_workers(low_threshold: None) -> None:
    one = sampling.gaussian((3000,), seed=4, workers=1)
    assert torch.equal(one, sampling.gaussian((3000,), seed=4, workers=2))
    assert torch.equal(one, sampling.gaussian((3000,), seed=4, workers=3))


def test_gaussian_moments() -> None:
    x = sampling.gaussian((2**18,), seed=0)
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01
    assert abs(float((x.abs() > 2).double().mean()) - 0.0455) < 0.002
    y = sampling.gaussian((2**18,), seed=0, dtype=torch.float32)
    assert torch.equal(y.double(), x)  # float32 Box-Muller, widened


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_large_draws_are_the_same_without_the_compiled_path(low_threshold: None, kind: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that installed matcalc without a C compiler draws the same inputs for a seed."""
    def one() -> torch.Tensor:
        if kind == "gaussian":
            return sampling.gaussian((77, 61), seed=9, workers=3)
        return sampling.uniform((77, 61), 0.5, 2.0, seed=9, workers=3)

    compiled = one()
    monkeypatch.setattr(philox, "_philox", None)
    with pytest.warns(RuntimeWarning, match="not built .* about 40x slower"):
        assert torch.equal(one(), compiled)


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
