"""matcalc.philox: the counter-based stream behind large CPU draws. The compiled path and the
numpy reference must give the same bits; the stream must be Philox4x32-10; the transform must
give standard normals and uniforms."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from matcalc.draws import philox
from matcalc.errors import MatcalcError

needs_compiled = pytest.mark.skipif(not philox.COMPILED, reason="matcalc._philox was not built")


def test_known_answer_vectors() -> None:
    # Random123's kat_vectors for philox4x32_10: counter 0, key 0.
    assert [int(w[0]) for w in philox.philox(0, 1, key=0, stream=0)] == [
        0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


@needs_compiled
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fill", [philox.normal, philox.uniform])
@pytest.mark.parametrize(("n", "first", "key"), [(1, 0, 0), (255, 3, 1), (256, 0, 2**63 - 1),
                                                 (1000, 2**33, 12345), (70_001, 7, 2**40 + 3)])
def test_compiled_and_reference_agree_bit_for_bit(dtype: type, fill: object, n: int, first: int,
                                                  key: int) -> None:
    a, b = np.empty(n, dtype), np.empty(n, dtype)
    fill(a, key, first)  # type: ignore[operator]
    fill(b, key, first, compiled=False)  # type: ignore[operator]
    assert a.view(np.uint8).tobytes() == b.view(np.uint8).tobytes()


@pytest.mark.parametrize("compiled", [True, False])
def test_any_split_gives_the_same_stream(compiled: bool) -> None:
    whole = np.empty(5 * 256)
    philox.normal(whole, 4, 0, compiled=compiled)
    for first in range(5):
        part = np.empty(300)
        philox.normal(part, 4, first, compiled=compiled)
        end = min(300, whole.shape[0] - 256 * first)
        assert np.array_equal(part[:end], whole[256 * first:256 * first + end])


def test_keys_give_different_streams() -> None:
    a, b = np.empty(512), np.empty(512)
    philox.normal(a, 1, 0)
    philox.normal(b, 2, 0)
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.2


@pytest.mark.parametrize("compiled", [True, False])
def test_outputs_follow_the_documented_layout(compiled: bool) -> None:
    """Block b: word 0 of its 64 counters, then words 1, 2, 3; normals from stream word 0 by
    Box-Muller of (x0, x1) and (x2, x3), uniforms from stream word 1 as (x >> 8) 2^-24."""
    key, first, blocks = 77, 5, 3
    x = [w.reshape(blocks, philox.BLOCK) for w in philox.philox(first * philox.BLOCK, blocks * philox.BLOCK,
                                                              key, stream=0)]
    z = [*philox.box_muller(x[0], x[1]), *philox.box_muller(x[2], x[3])]
    normals = np.empty(blocks * philox.BLOCK_OUTPUTS, np.float32)
    philox.normal(normals, key, first, compiled=compiled)
    assert np.array_equal(normals.reshape(blocks, 4, philox.BLOCK), np.stack(z, axis=1))
    w = [v.reshape(blocks, philox.BLOCK) for v in philox.philox(first * philox.BLOCK, blocks * philox.BLOCK,
                                                              key, stream=1)]
    uniforms = np.empty(blocks * philox.BLOCK_OUTPUTS, np.float32)
    philox.uniform(uniforms, key, first, compiled=compiled)
    expected = np.stack([(v >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24) for v in w], axis=1)
    assert np.array_equal(uniforms.reshape(blocks, 4, philox.BLOCK), expected)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def test_normals_follow_the_standard_normal() -> None:
    z = np.empty(2**20)
    philox.normal(z, 2026, 0)
    assert abs(z.mean()) < 5 / math.sqrt(z.size)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / z.size)
    # Kolmogorov-Smirnov distance on a sorted subsample; 1.63 / sqrt(m) is the 1% critical value.
    m = 2**14
    sub = np.sort(z[:: z.size // m])
    ecdf_hi, ecdf_lo = np.arange(1, m + 1) / m, np.arange(m) / m
    cdf = _normal_cdf(sub)
    assert max(np.max(ecdf_hi - cdf), np.max(cdf - ecdf_lo)) < 1.63 / math.sqrt(m)
    # Each pair is independent: cosine and sine halves of a block are uncorrelated.
    blocks = z.reshape(-1, 4, 64)
    assert abs(np.corrcoef(blocks[:, 0].ravel(), blocks[:, 1].ravel())[0, 1]) < 5 / math.sqrt(z.size / 4)
    # The tails reach where a 2^-33 uniform puts them, and no further.
    assert np.abs(z).max() <= math.sqrt(2 * 33 * math.log(2)) + 1e-6


def test_transform_is_accurate_to_a_few_float32_ulps() -> None:
    x = philox.philox(0, 2**16, key=5, stream=0)
    z0, z1 = philox.box_muller(x[0], x[1])
    u = ((x[0].astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-32)).astype(np.float64)
    k = (x[1] >> np.uint32(8)).astype(np.int64)
    theta = (math.pi / 2) * ((k >> 22) + ((k & 0x3FFFFF) - 0x200000) * 2.0**-22)
    r = np.sqrt(-2 * np.log(u))
    for z, exact in ((z0, r * np.cos(theta)), (z1, r * np.sin(theta))):
        ulp = np.spacing(np.maximum(np.abs(exact), r / 8).astype(np.float32)).astype(np.float64)
        assert np.max(np.abs(z - exact) / ulp) < 8


def test_uniforms_cover_zero_to_one() -> None:
    u = np.empty(2**18, np.float32)
    philox.uniform(u, 3, 0)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert np.all(u * 2**24 == np.floor(u * 2**24))  # 24-bit grid, exact in float32


def _read_only() -> np.ndarray:
    a = np.empty(4)
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("bad", [lambda: np.empty(4, np.int64), lambda: np.empty((2, 4)),
                                 lambda: np.empty(8)[::2], _read_only, lambda: [0.0] * 4],
                         ids=["int64", "2-d", "strided", "read-only", "list"])
def test_bad_buffers_are_refused(bad: Callable[[], np.ndarray], compiled: bool) -> None:
    with pytest.raises(MatcalcError, match="writable 1-d C-contiguous float64 or float32"):
        philox.normal(bad(), 1, 0, compiled=compiled)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(("key", "first"), [(-1, 0), (2**64, 0), (1, -1), (1, 2**58), (1, 2**58 - 1)])
def test_keys_and_blocks_outside_the_stream_are_refused(key: int, first: int, compiled: bool) -> None:
    # 300 outputs need 2 blocks: the last valid first block is 2**58 - 2
    with pytest.raises(MatcalcError, match=r"must be in|outside the stream"):
        philox.normal(np.empty(300), key, first, compiled=compiled)


@pytest.mark.parametrize("compiled", [True, False])
def test_numpy_integers_are_accepted_the_same_way(compiled: bool) -> None:
    a, b = np.empty(10), np.empty(10)
    philox.normal(a, np.uint64(7), np.int64(2), compiled=compiled)
    philox.normal(b, 7, 2, compiled=not compiled)
    assert np.array_equal(a, b)


def test_the_compiled_parts_are_built_where_a_compiler_is() -> None:
    """A packaging regression (setup.py, a compile error) would otherwise pass every other test
    on the slow numpy reference and torch loops."""
    import os
    import shutil
    import sysconfig
    from pathlib import Path

    from matcalc.fast import forms as fast

    compiler = shutil.which(os.environ.get("CC", "cc"))
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if compiler is None or os.path.basename(compiler) == "false" or not header.exists():
        pytest.skip("no C compiler or no Python headers here: the numpy/torch fallbacks are expected")
    assert philox.COMPILED, "matcalc._philox was not built: reinstall (pip install -e .) and read its output"
    assert fast._fastcpu is not None, "matcalc._fastcpu was not built: reinstall (pip install -e .)"
