"""Large CPU buffers on transparent huge pages, kept for reuse once nothing refers to them.

Example::

    >>> import torch
    >>> empty((2, 3), torch.float32, torch.device("cpu")).shape
    torch.Size([2, 3])

Why not ``torch.empty``: torch's CPU allocator faults a fresh buffer in 4 KiB pages; on this
project's machine that costs more than writing the buffer (filling a fresh 8192 x 8192 float64
tensor took 10 passes over it, against 2.4 for the same buffer from numpy, which ``madvise``s huge
pages for large arrays).

Why a pool: even on huge pages, a fresh buffer is memory the kernel must find, zero and (in a
virtual machine) the host must back: the first 512 MiB buffer of a process took 350 ms to touch
here, later ones 47 to 56 ms, against 21 ms to rewrite a buffer already mapped. glibc returns large
blocks to the kernel as soon as they are freed, so every draw paid that again. Buffers of at least
:data:`POOL_MIN_BYTES` are therefore kept after use, up to :data:`pool_limit` bytes in all
(``MATCALC_BUFFER_POOL_MIB``, default 1024; 0 turns the pool off), and handed out again only when
nothing refers to them any more: every tensor, view or numpy array over a buffer holds a reference
to it, so its reference count says when it is free. This is what torch's CUDA caching allocator
does for GPU memory.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np
import torch

from matcalc.errors import MatcalcError

_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16}
# Smaller buffers come from numpy directly: the kernel maps them quickly, and keeping them gains nothing.
POOL_MIN_BYTES = 8 * 2**20
_POOL: list[np.ndarray] = []
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
    raw = _take(nbytes)
    return torch.from_numpy(raw.view(np_dtype).reshape(shape))


def _free(buffer: np.ndarray) -> bool:
    # References: the pool's list, this function's argument, getrefcount's own argument.
    return sys.getrefcount(buffer) <= 3


def _take(nbytes: int) -> np.ndarray:
    """A free pooled buffer of exactly ``nbytes``, or a new one (kept if the pool has room)."""
    limit = pool_limit()
    with _LOCK:
        _trim(limit)  # a lowered limit (0: no pool) takes effect at once
        for i in range(len(_POOL)):
            if _POOL[i].nbytes == nbytes and _free(_POOL[i]):
                return _POOL[i]
        keep = nbytes <= limit
        _trim(limit - nbytes if keep else limit)   # before allocating: the peak stays at the limit
        fresh = np.empty(nbytes, dtype=np.uint8)
        if keep and sum(b.nbytes for b in _POOL) + nbytes <= limit:
            _POOL.append(fresh)
        return fresh


def _trim(target: int) -> None:
    """Forget free buffers, oldest first, until the pool holds at most ``target`` bytes; forgotten
    buffers go back to the kernel once numpy frees them."""
    kept = sum(b.nbytes for b in _POOL)
    i = 0
    while kept > target and i < len(_POOL):
        if _free(_POOL[i]):
            kept -= _POOL.pop(i).nbytes
        else:
            i += 1


def pooled_bytes() -> int:
    """Bytes the pool holds now, in use or free.

    >>> pooled_bytes() >= 0
    True
    """
    with _LOCK:
        return sum(b.nbytes for b in _POOL)
