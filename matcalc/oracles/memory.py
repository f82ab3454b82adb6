"""The memory guard: the whole check's peak, estimated from shapes before anything is drawn.

Example::

    >>> import torch
    >>> jacobian_bytes(3, 5, torch.float64, "jacobian")
    120
"""

from __future__ import annotations

import math
import os

import torch

from matcalc.errors import MatcalcError

MEMORY_FRACTION = 0.25


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def memory_budget(device: torch.device, budget: int | None) -> int:
    """The byte budget of one check: explicit, then $MATCALC_MEMORY_BUDGET, then a quarter of
    what is available."""
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < math.inf:
            raise MatcalcError(f"memory_budget={budget!r} must be a finite positive number of bytes, "
                               "e.g. 2e9 (or None: a quarter of the available memory)")
        return int(budget)
    env = os.environ.get("MATCALC_MEMORY_BUDGET")
    if env:
        try:
            value = float(env)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise MatcalcError(
                f"MATCALC_MEMORY_BUDGET={env!r} is not a positive number of bytes: set e.g. 2e9"
            )
        return int(value)
    return int(available_memory(device) * MEMORY_FRACTION)


def jacobian_bytes(out_numel: int, in_numel: int, dtype: torch.dtype, oracle: str) -> int:
    """Bytes a materialized Jacobian oracle needs: its J and the vmapped intermediates of
    torch.func (about one more J)."""
    copies = 2 if oracle == "func" else 1
    return out_numel * in_numel * torch.empty((), dtype=dtype).element_size() * copies


def human(nbytes: float) -> str:
    """Bytes for people: every memory message of matcalc words its sizes here.

    >>> human(3 * 2**30), human(5 * 2**40), human(512)
    ('3.0 GiB', '5.0 TiB', '512 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{int(nbytes)} B"
