"""The settings of a check, resolved and validated once: inputs, wrt, device, dtype, sizes, seed,
seeds, probes and the memory budget, and the one memory guard (:func:`require_memory`, run from
shapes before anything is drawn). ``check``, ``check_backward``, ``claim`` checks, the report, the
sweep and ``matcalc.testing`` all resolve their arguments here, so every front end refuses the same
misuse with the same message.

Example::

    >>> import matcalc as mc
    >>> s = resolve_settings("rule 'quadratic_form'", {"x": mc.vector("n"), "A": mc.matrix("n", "n")},
    ...                      seed=3)
    >>> s.sizes, s.dtype, s.seed
    ({'n': 5}, torch.float64, 3)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain, default_sizes
from matcalc.model.rule import Rule
from matcalc.model.sizes import SEED_LIMIT
from matcalc.oracles.memory import human, memory_budget

# A dim past this is beyond any device's memory (2**40 float32 entries is 4 TiB); past 2**63 torch
# cannot even index it. Refused here, before any estimate or draw.
MAX_SIZE = 2**40
MAX_PROBES = 64


@dataclass(frozen=True)
class Settings:
    """One check's resolved settings; ``subject`` names what is checked ("rule 'x'"), ``where``
    the whole setting, in messages."""

    subject: str
    device: torch.device
    dtype: torch.dtype
    sizes: dict[str, int]
    seed: int
    probes: int
    memory_budget: int | None
    # the inputs differentiated, in order (a check of a rule takes them from the rule)
    wrt: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "no dims"
        return (f"while checking {self.subject} at {dims} on {self.device.type}/"
                f"{str(self.dtype).removeprefix('torch.')}")


def resolve_settings(subject: str, inputs: Mapping[str, Domain], *,
                     device: str | torch.device = "cpu", dtype: torch.dtype | str = torch.float64,
                     sizes: Mapping[str, int] | None = None, seed: int = 0, probes: int = 3,
                     memory_budget: int | float | None = None,
                     wrt: str | Sequence[str] | None = None) -> Settings:
    """Validate and resolve every setting of one check of ``subject`` (a rule's or fn's name);
    ``wrt`` None means every input."""
    domains = resolve_inputs(subject, inputs)
    dims: set[str] = set()
    for dom in domains.values():
        dims |= dom.dims()
    return Settings(
        subject=subject, device=_device(subject, device), dtype=_dtype(subject, dtype),
        sizes=_sizes(subject, dims, sizes), seed=resolve_seed(subject, seed),
        probes=resolve_probes(subject, probes), memory_budget=_budget(subject, memory_budget),
        wrt=resolve_wrt(subject, wrt, domains),
    )


def resolve_inputs(subject: str, inputs: object) -> dict[str, Domain]:
    """``inputs`` as a non-empty dict of names to domains.

    >>> import matcalc as mc
    >>> list(resolve_inputs("f", {"x": mc.vector("n")}))
    ['x']
    """
    if not isinstance(inputs, Mapping) or not inputs or not all(
            isinstance(k, str) and isinstance(v, Domain) for k, v in inputs.items()):
        raise MatcalcError(f"{subject}: inputs= must map names to domains, e.g. "
                           "{'x': mc.matrix('b', 'n'), 'w': mc.vector('n')}")
    return dict(inputs)


def resolve_wrt(subject: str, wrt: object, inputs: Mapping[str, object]) -> tuple[str, ...]:
    """The names differentiated: ``wrt`` (a name or a list of them, each among ``inputs``), or
    every input when it is None.

    >>> resolve_wrt("f", "w", {"x": 1, "w": 2}), resolve_wrt("f", None, {"x": 1, "w": 2})
    (('w',), ('x', 'w'))
    """
    if wrt is None:
        names: tuple[object, ...] = tuple(inputs)
    elif isinstance(wrt, str):
        names = (wrt,)
    elif isinstance(wrt, Sequence):
        names = tuple(wrt)
    else:
        raise MatcalcError(f"{subject}: wrt= must be an input name or a list of them, got {wrt!r}")
    if not names:
        raise MatcalcError(f"{subject}: wrt= names no input")
    for w in names:
        if not isinstance(w, str) or w not in inputs:
            raise MatcalcError(f"{subject}: wrt={w!r} is not among the inputs {sorted(inputs)}; "
                               "name one of them")
    return tuple(str(w) for w in names)


def resolve_seed(subject: str, seed: object) -> int:
    """``seed`` as an int in [0, 2**63): numpy integers are accepted, bools and floats are not."""
    if isinstance(seed, bool | float):
        raise MatcalcError(f"{subject}: seed must be an int in [0, 2**63), got {seed!r}")
    try:
        value = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise MatcalcError(f"{subject}: seed must be an int in [0, 2**63), got {seed!r}; "
                           "to check several seeds, call once per seed") from None
    if not 0 <= value < SEED_LIMIT:
        raise MatcalcError(f"{subject}: seed must be an int in [0, 2**63), got {seed!r}")
    return value


def _label(rule: Rule) -> str:
    return f"rule {rule.name!r}"


def resolve_probes(subject: str, probes: object) -> int:
    """``probes`` as an int from 1 to MAX_PROBES.

    >>> resolve_probes("f", 3)
    3
    """
    if isinstance(probes, bool) or not isinstance(probes, int) or not 1 <= probes <= MAX_PROBES:
        raise MatcalcError(f"{subject}: probes must be an int from 1 to {MAX_PROBES}, got {probes!r}")
    return probes


def _budget(subject: str, budget: object) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < math.inf:
        raise MatcalcError(f"{subject}: memory_budget={budget!r} must be a finite positive number "
                           "of bytes, e.g. 2e9 (or None: a quarter of the available memory)")
    return int(budget)


DTYPE_NAMES: dict[str, torch.dtype] = {
    "float64": torch.float64, "double": torch.float64,
    "float32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(rule: Rule, device: str | torch.device) -> torch.device:
    return _device(_label(rule), device)


def _device(subject: str, device: object) -> torch.device:
    try:
        dev = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, TypeError) as exc:
        raise MatcalcError(
            f"{subject}: unknown device {device!r}: use 'cpu' or 'cuda'"
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise MatcalcError(f"{subject}: unsupported device {device!r}: use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MatcalcError(
            f"{subject}: device {device!r} asked for, but this machine has no CUDA GPU "
            "(torch.cuda.is_available() is False): use device='cpu'"
        )
    return dev


def resolve_dtype(rule: Rule, dtype: torch.dtype | str) -> torch.dtype:
    return _dtype(_label(rule), dtype)


def _dtype(subject: str, dtype: object) -> torch.dtype:
    dt = DTYPE_NAMES.get(dtype) if isinstance(dtype, str) else dtype
    if not isinstance(dt, torch.dtype) or dt not in oracles_dtypes():
        raise MatcalcError(
            f"{subject}: dtype {dtype!r} is not a real floating dtype: use torch.float64 "
            "or torch.float32 (float16/bfloat16 for elementwise rules)"
        )
    return dt


def oracles_dtypes() -> tuple[torch.dtype, ...]:
    return (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def resolve_sizes(rule: Rule, sizes: Mapping[str, int] | None) -> dict[str, int]:
    return _sizes(_label(rule), set(rule.dims()), sizes)


def _sizes(subject: str, dims: set[str], sizes: object) -> dict[str, int]:
    if sizes is not None and not isinstance(sizes, Mapping):
        raise MatcalcError(f"{subject}: sizes must map dim names to ints, e.g. {{'n': 64}}, got "
                           f"{type(sizes).__name__}")
    given = dict(sizes or {})  # type: ignore[call-overload]
    for name, value in given.items():
        if name not in dims:
            raise MatcalcError(
                f"{subject} has no dim {name!r}; its dims are {sorted(dims)}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MatcalcError(
                f"{subject}: size {name}={value!r} must be a positive int"
            )
        if value > MAX_SIZE:
            raise MatcalcError(f"{subject}: size {name}={value} is beyond any device's memory "
                               f"(at most 2**40); use a smaller size")
    rest = default_sizes(dims - given.keys())
    taken = set(given.values())
    for d in sorted(rest):
        while rest[d] in taken:
            rest[d] += 1
        taken.add(rest[d])
    return {d: (given | rest)[d] for d in sorted(dims)}


def require_memory(settings: Settings, need: int, what: str, fix: str) -> None:
    """The one memory guard, run from shapes before anything is drawn: refuse a check whose
    estimated peak ``need`` (bytes) is over the budget (explicit, $MATCALC_MEMORY_BUDGET, or a
    quarter of what the device has free)."""
    budget = memory_budget(settings.device, settings.memory_budget)
    if need > budget:
        raise MatcalcError(f"{settings.where}: {what} would need about {human(need)}, over the memory "
                           f"budget of {human(budget)}: {fix}")


def resolve_seeds(subject: str, seeds: object) -> list[int]:
    """A non-empty list of valid seeds from an iterable (``seeds=3`` is misuse: say
    ``range(3)``)."""
    if isinstance(seeds, str | bytes) or not hasattr(seeds, "__iter__"):
        raise MatcalcError(f"{subject}: seeds must be an iterable of ints, e.g. seeds=range(3), got "
                           f"{seeds!r}")
    values = [resolve_seed(subject, s) for s in seeds]  # type: ignore[attr-defined]
    if not values:
        raise MatcalcError(f"{subject}: seeds is empty, so nothing would be checked; pass at least "
                           "one seed, e.g. seeds=range(3)")
    return values
