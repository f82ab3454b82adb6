"""Large CPU buffers on transparent huge pages, kept for reuse once nothing refers to them.

Example::

    >>> import torch
    >>> empty((2, 3), torch.float32, torch.device("cpu")).shape
    torch.Size([2, 3])

Why not ``torch.empty``: torch's CPU allocator faults a fresh buffer in 4 KiB pages; on this
project's machine that cost more than writing the buffer (filling a fresh 8192 x 8192 float64
tensor took 10 passes over it, against 2.4 for the same buffer from numpy, which ``madvise``s huge
pages for large arrays).

Why a pool: even on huge pages, a fresh buffer is memory the kernel must find and zero, and (in a
virtual machine) the host must back; glibc returns large blocks to the kernel as soon as they are
freed, so every draw paid that again. Whole checks of x^T A x at n = 8192, one process per mode
(``python bench/draw_speed.py --pool 8192``), took 1.38x the wall time and 1.16x the CPU time
without the pool on a quiet machine, 1.01x and 1.07x under load; at n = 4096 no gain
(bench/results/cpu-draws-pure.md). Buffers of at least :data:`POOL_MIN_BYTES` are therefore kept
after use, up to :func:`pool_limit` bytes in all (``MATCALC_BUFFER_POOL_MIB``, default 1024; 0
turns the pool off), and handed out again only when nothing refers to them any more: each is
handed out as one numpy array that every tensor, view, storage and numpy array over the memory
keeps alive, and a ``weakref.finalize`` on that array returns the buffer when the last of them
goes. This is what torch's CUDA caching allocator does for GPU memory.
"""

from __future__ import annotations

import math
import os
import threading
import weakref

import numpy as np
import torch

from matcalc.errors import MatcalcError

_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16}
# Smaller buffers come from numpy directly: the kernel maps them quickly, and keeping them gains nothing.
POOL_MIN_BYTES = 8 * 2**20
# Free buffers, oldest first, and the bytes of every buffer the pool owns (free or handed out).
_FREE: list[np.ndarray] = []
_owned = 0
# Buffers whose last user went away. A finalizer may run in any thread at any moment, even inside
# _take while it holds _LOCK, so it only appends here (atomic under the GIL); _take moves them to _FREE.
_RETURNED: list[np.ndarray] = []
_LOCK = threading.Lock()


def pool_limit() -> int:
    """Bytes the pool may keep (``MATCALC_BUFFER_POOL_MIB``, default 1024 MiB).

    >>> pool_limit() >= 0
    True
    """
    raw = os.environ.get("MATCALC_BUFFER_POOL_MIB", "1024")
    try:
        mib = int(raw)
    except ValueError:
        raise MatcalcError(f"MATCALC_BUFFER_POOL_MIB={raw!r} is not a whole number of MiB; "
                           "set it to e.g. 1024, or 0 to keep no buffers") from None
    if mib < 0:
        raise MatcalcError(f"MATCALC_BUFFER_POOL_MIB={mib} is negative; set it to 0 to keep no buffers")
    return mib * 2**20


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialized tensor; on CPU allocated by numpy (huge pages, pooled when large),
    elsewhere by torch.

    >>> empty((4,), torch.float64, torch.device("cpu")).dtype
    torch.float64
    """
    if device.type != "cpu" or dtype not in _NUMPY_DTYPES:
        return torch.empty(shape, dtype=dtype, device=device)
    np_dtype = np.dtype(_NUMPY_DTYPES[dtype])
    nbytes = math.prod(shape) * np_dtype.itemsize
    if nbytes < POOL_MIN_BYTES:
        return torch.from_numpy(np.empty(shape, dtype=np_dtype))
    raw, pooled = _take(nbytes)
    handle = raw.view(np_dtype).reshape(shape)   # a new array over raw: the one torch will hold
    if pooled:
        weakref.finalize(handle, _RETURNED.append, raw).atexit = False
    return torch.from_numpy(handle)


def _take(nbytes: int) -> tuple[np.ndarray, bool]:
    """A free pooled buffer of exactly ``nbytes``, or a new one; and whether the pool owns it."""
    global _owned
    limit = pool_limit()
    with _LOCK:
        while _RETURNED:
            _FREE.append(_RETURNED.pop(0))
        _trim(limit)  # a lowered limit (0: no pool) takes effect at once
        for i, buffer in enumerate(_FREE):
            if buffer.nbytes == nbytes:
                return _FREE.pop(i), True
        keep = nbytes <= limit
        _trim(limit - nbytes if keep else limit)   # before allocating: the peak stays at the limit
        fresh = np.empty(nbytes, dtype=np.uint8)
        if keep and _owned + nbytes <= limit:
            _owned += nbytes
            return fresh, True
        return fresh, False


def _trim(target: int) -> None:
    """Forget free buffers, oldest first, until the pool owns at most ``target`` bytes; forgotten
    buffers go back to the kernel once numpy frees them."""
    global _owned
    while _owned > target and _FREE:
        _owned -= _FREE.pop(0).nbytes


def pooled_bytes() -> int:
    """Bytes the pool owns now, in use or free.

    >>> pooled_bytes() >= 0
    True
    """
    return _owned
