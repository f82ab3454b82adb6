"""What a check runs on: the resolved device, dtype and sizes, the drawn inputs, the random
directions, and the float64 copies the truth is computed from.

Example::

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> rule = RULES["linear_map"]
    >>> sizes = resolve_sizes(rule, None)
    >>> sizes
    {'m': 3, 'n': 5}
    >>> x = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, seed=0)
    >>> tuple(x["A"].shape)
    (3, 5)
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from matcalc.domains import Domain, default_sizes, draw
from matcalc.errors import MatcalcError
from matcalc.rule import Rule

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


def draw_inputs(rule: Rule, sizes: Mapping[str, int], device: torch.device, dtype: torch.dtype,
                seed: int) -> dict[str, torch.Tensor]:
    """The inputs a check at this seed uses, from a private generator."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    ordered = sorted(rule.inputs.items(), key=lambda kv: kv[1].distinct_from is not None)
    drawn: dict[str, torch.Tensor] = {}
    for name, dom in ordered:
        drawn[name] = draw(dom, dom.resolve(sizes), gen, dtype=dtype, others=drawn)
    return {name: drawn[name] for name in rule.inputs}


def direction(dom: Domain, like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A float64 random tangent that stays inside a structured input's space (symmetric dA
    for eigh)."""
    v = torch.randn(like.shape, generator=gen, device=like.device, dtype=torch.float64)
    if dom.structure in ("symmetric", "spd", "separated_eigenvalues"):
        v = (v + v.T) / 2
    elif dom.structure == "diagonal":
        v = torch.diag(torch.diagonal(v))
    return v


SYMMETRIC_STRUCTURES = frozenset({"symmetric", "spd", "separated_eigenvalues"})


def cast_inputs(rule: Rule, inputs64: dict[str, torch.Tensor], dt: torch.dtype) -> dict[str, torch.Tensor]:
    """The float64 draw rounded to ``dt`` the way the samplers round it: symmetry re-imposed
    after the cast, so a symmetric input stays exactly symmetric."""
    if dt == torch.float64:
        return inputs64
    out = {}
    for name, x in inputs64.items():
        low = x.to(dt)
        if rule.inputs[name].structure in SYMMETRIC_STRUCTURES:
            low = (low + low.T) / 2
        out[name] = low
    return out
