"""Counter-based random draws for the large CPU samplers: Philox4x32-10 bits and a Box-Muller
transform made of IEEE basic operations, so that the compiled fast path (``matcalc/_philox.c``)
and the numpy reference below give the same bits.

Example::

    >>> import numpy as np
    >>> out = np.empty(6)
    >>> normal(out, key=7, first=0)
    >>> ref = np.empty(6)
    >>> normal(ref, key=7, first=0, compiled=False)
    >>> bool((out == ref).all())
    True

Why our own generator: torch's CPU generator is a scalar Mersenne-Twister, 2.8 ns per 32-bit
word on this project's CPU, which made an 8192 x 8192 draw cost 10 to 12 passes over the matrix
however it was split (bench/results/cpu-draws.md). Philox is counter-based: output ``i`` is a
function of (key, i) alone, so any range is drawn independently, by any thread, without seeding
streams, and the values do not depend on how the work is split.

The stream, exactly (the C file follows it line by line):

- counter ``j`` (a 64-bit integer) is the Philox block (lo32(j), hi32(j), s, 0) under the key
  (lo32(key), hi32(key)), with s = 0 for normals and 1 for uniforms; it gives four words
  x0..x3;
- block ``b`` is counters 64b .. 64b + 63 and outputs 256b .. 256b + 255: first one value from
  word 0 of each of its counters, then from word 1, word 2, word 3 (so the compiled loop writes
  contiguous runs);
- normals: the pair (x0, x1) gives word 0's value (the cosine) and word 1's (the sine), the pair
  (x2, x3) words 2 and 3, by Box-Muller:
  radius sqrt(-2 log u) with u = (float32(x0) + 1/2) 2^-32 in (0, 1], angle (pi/2)(q + y) with
  q the top 2 bits of x1 >> 8 and y in [-1/2, 1/2) its other 22; log, sin and cos are float32
  polynomials (an atanh series after splitting off the exponent; Taylor series to degree 9 for
  sin and 10 for cos on [-pi/4, pi/4]), accurate to a few float32 ulps;
- uniforms: float32(x >> 8) 2^-24 for each word, in [0, 1).

The radius reaches sqrt(66 log 2) = 6.76 (u = 2^-33), against 5.77 for torch's 24-bit uniforms.
Counters are 64-bit: a stream has 2^58 blocks, and ``first`` plus the blocks drawn must stay
within them.
"""

from __future__ import annotations

import importlib
import operator
from types import ModuleType

import numpy as np

from matcalc.errors import MatcalcError


def _compiled() -> ModuleType | None:
    try:
        return importlib.import_module("matcalc._philox")
    except ImportError:  # installed without a C compiler: the numpy reference gives the same values
        return None


_philox = _compiled()

COMPILED = _philox is not None
# Counters per block, and outputs per block: the unit of the stream's layout (see above).
BLOCK = 64
BLOCK_OUTPUTS = 4 * BLOCK
# Blocks in a stream: counters are 64-bit.
STREAM_BLOCKS = 2**64 // BLOCK
# Blocks per numpy piece: about 2 MiB of uint64 intermediates.
_PIECE_BLOCKS = 2**10

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO32 = np.uint64(0xFFFFFFFF)
_F = np.float32


def _c(h: str) -> np.float32:
    return np.float32(float.fromhex(h))


LN2 = _c("0x1.62e430p-1")
INV = [_c(h) for h in ("0x1.555556p-2", "0x1.99999ap-3", "0x1.24924ap-3", "0x1.c71c72p-4")]  # 1/3..1/9
SIN = [_c(h) for h in ("0x1.921fb6p+0", "-0x1.4abbcep-1", "0x1.466bc6p-4", "-0x1.32d2ccp-8",
                       "0x1.507834p-13")]
COS = [_c(h) for h in ("0x1.0p+0", "-0x1.3bd3ccp+0", "0x1.03c1f0p-2", "-0x1.55d3c8p-6",
                       "0x1.e1f506p-11", "-0x1.a6d1f2p-16")]


def philox(first: int, count: int, key: int, stream: int) -> list[np.ndarray]:
    """Words x0..x3 (uint32 arrays) of counters first .. first + count - 1.

    The Random123 known-answer vector (counter 0, key 0):

    >>> [hex(int(w[0])) for w in philox(0, 1, key=0, stream=0)]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    j = np.arange(first, first + count, dtype=np.uint64)
    c = [j & _LO32, j >> np.uint64(32), np.full(count, stream, np.uint64), np.zeros(count, np.uint64)]
    k0, k1 = key & 0xFFFFFFFF, (key >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = _M0 * c[0], _M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & _LO32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & _LO32]
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return [w.astype(np.uint32) for w in c]


def _horner(x: np.ndarray, coefs: list[np.float32]) -> np.ndarray:
    """((c0 x + c1) x + c2) ..., one rounding per operation, as the C loop writes it."""
    t = np.full_like(x, coefs[0])
    for c in coefs[1:]:
        t = t * x + c
    return t


def box_muller(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 standard normals per pair of uint32 words, as ``_philox.c`` computes them.

    >>> z0, z1 = box_muller(np.array([0x80000000], np.uint32), np.array([0], np.uint32))
    >>> round(float(z0[0]), 4), round(float(z1[0]), 4)   # radius sqrt(2 log 2), angle -pi/4
    (0.8326, -0.8326)
    """
    u = (a.astype(np.float32) + _F(0.5)) * _F(2.0**-32)
    bits = u.view(np.uint32)
    e = (bits >> np.uint32(23)).astype(np.int32) - np.int32(127)
    mb = (bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)
    big = mb > np.uint32(0x3FB504F3)
    mb = np.where(big, mb - np.uint32(0x00800000), mb)
    e = np.where(big, e + np.int32(1), e)
    m = mb.view(np.float32)
    s = (m - _F(1)) / (m + _F(1))
    s2 = s * s
    t = _horner(s2, INV[::-1])
    logm = (s + s * (s2 * t)) * _F(2)
    logu = e.astype(np.float32) * LN2 + logm
    w = logu * _F(-2)
    r = np.sqrt(np.where(w > 0, w, _F(0)))

    k = b >> np.uint32(8)
    q = k >> np.uint32(22)
    y = ((k & np.uint32(0x3FFFFF)).astype(np.int32) - np.int32(0x200000)).astype(np.float32) * _F(2.0**-22)
    y2 = y * y
    sn = _horner(y2, SIN[::-1]) * y
    cs = _horner(y2, COS[::-1])
    odd = (q & np.uint32(1)) == 1
    c = np.where(odd, sn, cs)
    d = np.where(odd, cs, sn)
    c = np.where((q == 1) | (q == 2), -c, c)
    d = np.where(q >= 2, -d, d)
    return r * c, r * d


def _reference(out: np.ndarray, key: int, first: int, normal_draws: bool) -> None:
    n = out.shape[0]
    blocks = -(-n // BLOCK_OUTPUTS)
    for p in range(0, blocks, _PIECE_BLOCKS):
        count = min(_PIECE_BLOCKS, blocks - p)
        x = [w.reshape(count, BLOCK) for w in philox((first + p) * BLOCK, count * BLOCK, key,
                                                      0 if normal_draws else 1)]
        if normal_draws:
            z0, z1 = box_muller(x[0], x[1])
            z2, z3 = box_muller(x[2], x[3])
            words = [z0, z1, z2, z3]
        else:
            words = [(w >> np.uint32(8)).astype(np.float32) * _F(2.0**-24) for w in x]
        v = np.stack(words, axis=1).reshape(-1)       # block by block: word 0 of each counter, then 1, ...
        lo = p * BLOCK_OUTPUTS
        out[lo:lo + v.shape[0]] = v[: n - lo]


def _fill(out: np.ndarray, key: int, first: int, compiled: bool, normal_draws: bool) -> None:
    if not isinstance(out, np.ndarray) or out.ndim != 1 or out.dtype not in (np.float64, np.float32) \
            or not out.flags.c_contiguous or not out.flags.writeable:
        raise MatcalcError("out must be a writable 1-d C-contiguous float64 or float32 numpy array")
    key, first = operator.index(key), operator.index(first)
    if not 0 <= key < 2**64:
        raise MatcalcError(f"key must be in [0, 2**64), got {key}")
    blocks = -(-out.shape[0] // BLOCK_OUTPUTS)
    if first < 0 or first + blocks > STREAM_BLOCKS:
        raise MatcalcError(f"blocks {first} .. {first + blocks} are outside the stream's "
                           f"[0, 2**58): pass a first block in [0, 2**58 - {blocks}]")
    if compiled and _philox is not None:
        (_philox.normal if normal_draws else _philox.uniform)(out, key, first)
    else:
        _reference(out, key, first, normal_draws)


def normal(out: np.ndarray, key: int, first: int, *, compiled: bool = True) -> None:
    """Fill ``out`` with standard normals: the stream of ``key`` from block ``first`` on.

    >>> a, b = np.empty(600, np.float32), np.empty(100, np.float32)
    >>> normal(a, key=1, first=0); normal(b, key=1, first=2)
    >>> bool((a[512:] == b[:88]).all())
    True
    """
    _fill(out, key, first, compiled, True)


def uniform(out: np.ndarray, key: int, first: int, *, compiled: bool = True) -> None:
    """Fill ``out`` with uniforms in [0, 1): the stream of ``key`` from block ``first`` on.

    >>> u = np.empty(1000); uniform(u, key=3, first=0)
    >>> bool(u.min() >= 0 and u.max() < 1)
    True
    """
    _fill(out, key, first, compiled, False)
