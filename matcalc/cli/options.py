"""Validation of command-line values, all before any work starts: each failure is a MatcalcError
whose message names the option and the fix (the CLI prints it as one line and exits 2).

Example::

    >>> seed_value("7")
    7
    >>> seed_value("-1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: --seed must be an int with 0 <= seed < 2**63 (...), got -1
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from matcalc.errors import MatcalcError
from matcalc.model.sizes import SEED_LIMIT

DTYPES = ("float64", "float32", "float16", "bfloat16")
DEFAULT_DTYPES = ("float64", "float32")
DTYPE_HELP = "float64, float32, float16, bfloat16"
DEVICES = ("cpu", "cuda")
MEMORY_ENV = "MATCALC_MEMORY_BUDGET"


def _int(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise MatcalcError(f"{option} must be an int, got {text!r}") from None


def positive_int(option: str, text: str | int) -> int:
    """``text`` as an int >= 1.

    >>> positive_int("--n", "64")
    64
    """
    value = text if isinstance(text, int) else _int(option, text)
    if value < 1:
        raise MatcalcError(f"{option} must be a positive int, got {value}")
    return value


def seed_value(text: str | int) -> int:
    """A seed that torch.manual_seed accepts: 0 <= seed < 2**63."""
    value = text if isinstance(text, int) else _int("--seed", text)
    if not 0 <= value < SEED_LIMIT:
        raise MatcalcError(f"--seed must be an int with 0 <= seed < 2**63 (torch.manual_seed's range), "
                           f"got {value}")
    return value


def positive_seconds(option: str, text: str | float) -> float:
    """A finite number of seconds > 0.

    >>> positive_seconds("--budget", "2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise MatcalcError(f"{option} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise MatcalcError(f"{option} must be a finite number of seconds > 0, got {text}")
    return value


def dtypes(value: str, *, allow_all: bool = True) -> list[str]:
    """``all`` (float64 and float32) or one dtype name.

    >>> dtypes("all"), dtypes("bfloat16")
    (['float64', 'float32'], ['bfloat16'])
    """
    if value == "all" and allow_all:
        return list(DEFAULT_DTYPES)
    if value not in DTYPES:
        also = " or all (float64 and float32)" if allow_all else ""
        raise MatcalcError(f"unknown dtype {value!r}: use {DTYPE_HELP}{also}")
    return [value]


def devices(value: str, available: list[str], *, allow_all: bool = True) -> list[str]:
    """``all`` (every available device) or one device, which must be available.

    >>> devices("all", ["cpu"]), devices("cpu", ["cpu"])
    (['cpu'], ['cpu'])
    """
    if value == "all" and allow_all:
        return list(available)
    if value not in DEVICES:
        raise MatcalcError(f"unknown device {value!r}: use cpu or cuda" + (" or all" if allow_all else ""))
    if value not in available:
        raise MatcalcError("--device cuda asked for, but this machine has no CUDA GPU: use --device cpu")
    return [value]


def output_path(option: str, path: str) -> None:
    """Check that ``path`` can be written now, so a run does not end in a failed write.

    >>> output_path("--page", "/no/such/folder/page.md")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: --page ...: the folder /no/such/folder does not exist: create it ...
    """
    p = Path(path)
    if p.is_dir():
        raise MatcalcError(f"{option} {path}: is a folder; give a file path inside it, e.g. {p / 'out'}")
    parent = p.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise MatcalcError(f"{option} {path}: the folder {parent} {what}: create it (mkdir -p {parent}) "
                           "or choose another path")
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as exc:
        raise MatcalcError(f"{option} {path}: cannot write there ({exc.strerror or exc}): "
                           "choose a writable path") from None
    if not existed:
        p.unlink(missing_ok=True)


def memory_budget_env(environ: Mapping[str, str] | None = None) -> None:
    """$MATCALC_MEMORY_BUDGET, when set, must be a positive finite number of bytes.

    >>> memory_budget_env({"MATCALC_MEMORY_BUDGET": "2e9"})
    >>> memory_budget_env({"MATCALC_MEMORY_BUDGET": "-5"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: MATCALC_MEMORY_BUDGET='-5' is not a positive number of bytes: set e.g. ...
    """
    env = os.environ if environ is None else environ
    text = env.get(MEMORY_ENV)
    if not text:
        return
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise MatcalcError(f"{MEMORY_ENV}={text!r} is not a positive number of bytes: "
                           f"set e.g. {MEMORY_ENV}=2e9, or unset it")
