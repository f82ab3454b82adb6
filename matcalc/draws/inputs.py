"""What a check runs on: the drawn inputs, the random directions, and the inputs rounded to the
check's dtype.

Example::

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> rule = RULES["linear_map"]
    >>> sizes = {'m': 3, 'n': 5}
    >>> x = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, seed=0)
    >>> tuple(x["A"].shape)
    (3, 5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from matcalc.draws.buffers import empty
from matcalc.draws.large import is_large, symmetrize_
from matcalc.draws.samplers import draw
from matcalc.model.domains import Domain
from matcalc.model.rule import Rule


def draw_inputs(rule: Rule, sizes: Mapping[str, int], device: torch.device, dtype: torch.dtype,
                seed: int) -> dict[str, torch.Tensor]:
    """The inputs a check of ``rule`` at this seed uses, from a private generator."""
    return draw_domains(rule.inputs, sizes, device, dtype, seed)


def draw_domains(domains: Mapping[str, Domain], sizes: Mapping[str, int], device: torch.device,
                 dtype: torch.dtype, seed: int) -> dict[str, torch.Tensor]:
    """One tensor per domain, in the order of ``domains``, from a private generator seeded with
    ``seed`` (a domain ``distinct_from`` another is drawn after it)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    ordered = sorted(domains.items(), key=lambda kv: kv[1].distinct_from is not None)
    drawn: dict[str, torch.Tensor] = {}
    for name, dom in ordered:
        drawn[name] = draw(dom, dom.resolve(sizes), gen, dtype=dtype, others=drawn)
    return {name: drawn[name] for name in domains}


def input_bytes(domains: Mapping[str, Domain], sizes: Mapping[str, int], dtype: torch.dtype) -> int:
    """Bytes the drawn inputs take, from the shapes alone (nothing is drawn)."""
    item = torch.empty((), dtype=dtype).element_size()
    return item * sum(math.prod(dom.resolve(sizes)) for dom in domains.values())


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
    after the cast, so a symmetric input stays exactly symmetric.

    >>> from matcalc.catalog import RULES
    >>> low = cast_inputs(RULES["linear_map"], {"A": torch.ones(2, 3, dtype=torch.float64),
    ...                                          "x": torch.ones(3, dtype=torch.float64)}, torch.float32)
    >>> low["A"].dtype, tuple(low["A"].shape)
    (torch.float32, (2, 3))

    The rounded copies land in :func:`matcalc.draws.buffers.empty` (numpy's huge pages, pooled
    when large), not in ``x.to(dt)``'s fresh torch memory: at n = 8192 the cast of A took 3.8x
    less wall time and 3.7x less CPU that way (bench/results/cpu-engine-cost.md). Large symmetric
    inputs are symmetrized in place by the tile walk; ``(a + b) * 0.5`` and ``(a + b) / 2`` round
    alike, so the values are the same either way.
    """
    if dt == torch.float64:
        return inputs64
    out = {}
    for name, x in inputs64.items():
        low = empty(tuple(x.shape), dt, x.device).copy_(x)
        if rule.inputs[name].structure in SYMMETRIC_STRUCTURES:
            in_place = is_large(tuple(low.shape)) and low.device.type == "cpu"
            low = symmetrize_(low) if in_place else (low + low.T) / 2
        out[name] = low
    return out
