"""Large CPU buffers on transparent huge pages.

Example::

    >>> import torch
    >>> empty((2, 3), torch.float32, torch.device("cpu")).shape
    torch.Size([2, 3])

torch's CPU allocator faults a fresh buffer in 4 KiB pages; on this project's machine that costs
more than writing the buffer (filling a fresh 8192 x 8192 float64 tensor took 10 passes over it,
against 2.4 for the same buffer from numpy, which ``madvise``s huge pages for large arrays). The
samplers and the CPU fast forms write their large outputs into these buffers.
"""

from __future__ import annotations

import numpy as np
import torch

_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16}


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialized tensor; on CPU allocated by numpy (huge pages), elsewhere by torch.

    >>> empty((4,), torch.float64, torch.device("cpu")).dtype
    torch.float64
    """
    if device.type == "cpu" and dtype in _NUMPY_DTYPES:
        return torch.from_numpy(np.empty(shape, dtype=_NUMPY_DTYPES[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)
