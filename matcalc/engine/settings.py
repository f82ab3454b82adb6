"""The settings of a check, resolved and validated once: device, dtype and sizes.

Example::

    >>> from matcalc.catalog import RULES
    >>> resolve_sizes(RULES["linear_map"], None)
    {'m': 3, 'n': 5}
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from matcalc.errors import MatcalcError
from matcalc.model.domains import default_sizes
from matcalc.model.rule import Rule

DTYPE_NAMES: dict[str, torch.dtype] = {
    "float64": torch.float64, "double": torch.float64,
    "float32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(rule: Rule, device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise MatcalcError(
            f"rule {rule.name!r}: unknown device {device!r}: use 'cpu' or 'cuda'"
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise MatcalcError(f"rule {rule.name!r}: unsupported device {device!r}: use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MatcalcError(
            f"rule {rule.name!r}: device {device!r} asked for, but this machine has no CUDA GPU "
            "(torch.cuda.is_available() is False): use device='cpu'"
        )
    return dev


def resolve_dtype(rule: Rule, dtype: torch.dtype | str) -> torch.dtype:
    dt = DTYPE_NAMES.get(dtype) if isinstance(dtype, str) else dtype
    if not isinstance(dt, torch.dtype) or dt not in oracles_dtypes():
        raise MatcalcError(
            f"rule {rule.name!r}: dtype {dtype!r} is not a real floating dtype: use torch.float64 "
            "or torch.float32 (float16/bfloat16 for elementwise rules)"
        )
    return dt


def oracles_dtypes() -> tuple[torch.dtype, ...]:
    return (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def resolve_sizes(rule: Rule, sizes: Mapping[str, int] | None) -> dict[str, int]:
    dims = set(rule.dims())
    given = dict(sizes or {})
    for name, value in given.items():
        if name not in dims:
            raise MatcalcError(
                f"rule {rule.name!r} has no dim {name!r}; its dims are {sorted(dims)}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MatcalcError(
                f"rule {rule.name!r}: size {name}={value!r} must be a positive int"
            )
    rest = default_sizes(dims - given.keys())
    taken = set(given.values())
    for d in sorted(rest):
        while rest[d] in taken:
            rest[d] += 1
        taken.add(rest[d])
    return {d: (given | rest)[d] for d in sorted(dims)}
