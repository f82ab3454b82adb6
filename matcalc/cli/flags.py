"""The options that several `matcalc` commands share, each declared once (name, default, help),
and the settings they give, read back validated in one place.

Example::

    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_settings(p, every=True)
    >>> args = p.parse_args(["--device", "cpu", "--seed", "7"])
    >>> read_settings(args, available=["cpu"])
    Settings(devices=['cpu'], dtypes=['float64', 'float32'], n=None, seed=7)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from matcalc.cli import options
from matcalc.cli.exit import EPILOG

FORMATS = ("github", "plain", "markdown", "json")
# matcalc.oracles.NAMES, spelt out here so that parsing the command line imports no torch.
ORACLES = ("auto", "jacobian", "func", "probe", "taylor")
FORMAT_HELP = ("github or plain: a table fitted to the terminal's width ($COLUMNS); markdown: every "
               "column in full; json: strict JSON (non-finite numbers are null, spelt out in <key>_text)")
SEED_HELP = "seed of the input draws, 0 <= seed < 2**63 (default: 0)"
N_HELP = "scale every dim to about n, keeping dims distinct (default: small sizes)"


def command(sub: Any, name: str, summary: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand of ``sub``, its help ending with the exit codes every command shares."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, epilog=EPILOG, **kwargs)
    return parser


def add_device(p: argparse.ArgumentParser, *, every: bool = False, default: str | None = "cpu") -> None:
    """``--device``: one of cpu and cuda (default cpu), or with ``every`` also "all" (the default)."""
    if every:
        p.add_argument("--device", default="all", help="cpu, cuda or all (default: all available)")
    else:
        p.add_argument("--device", default=default, help="cpu or cuda (default: cpu)")


def add_dtype(p: argparse.ArgumentParser, *, default: str | None = "float64", shown: str = "",
              note: str = "") -> None:
    """``--dtype``: one dtype name, or "all" too when that is the default; ``shown`` is the default
    the help names when ``default`` is None (the command picks it)."""
    if default == "all":
        also, shown = " or all", "all = float64 and float32"
    else:
        also, shown = "", shown or str(default)
    p.add_argument("--dtype", default=default, help=f"{options.DTYPE_HELP}{also} (default: {shown}){note}")


def add_seed(p: argparse.ArgumentParser) -> None:
    """``--seed``, read as text so that a bad one gets :func:`options.seed_value`'s message."""
    p.add_argument("--seed", default="0", help=SEED_HELP)


def add_n(p: argparse.ArgumentParser) -> None:
    """``--n``: scale every dim to about n (read with :func:`options.positive_int`)."""
    p.add_argument("--n", default=None, help=N_HELP)


def add_settings(p: argparse.ArgumentParser, *, every: bool = False) -> None:
    """The device, dtype, n and seed of a command that checks rules; with ``every``, device and
    dtype default to "all"."""
    add_device(p, every=every)
    add_dtype(p, default="all" if every else "float64")
    add_n(p)
    add_seed(p)


def add_rule(p: argparse.ArgumentParser, default: str = "") -> None:
    """``--rule NAME``, repeatable; ``default`` says what runs without one."""
    more = f"; default: {default}" if default else ""
    p.add_argument("--rule", action="append", default=None, metavar="NAME",
                   help=f"only this rule (repeatable{more})")


def add_oracle(p: argparse.ArgumentParser) -> None:
    """``--oracle``: how the true derivative is computed."""
    p.add_argument("--oracle", default="auto", choices=ORACLES,
                   help="how the true derivative is computed (default: auto, the reference Jacobian "
                        "when it fits the memory budget, else probes)")


def add_check_plot(p: argparse.ArgumentParser) -> None:
    """``--plot PATH`` of a check: claim, truth and difference."""
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="write a PNG of the last check: claim, truth and difference heat maps (and the "
                        "Taylor remainder against h); needs matplotlib (pip install 'matcalc[plot]')")


def add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="github", choices=FORMATS, help=FORMAT_HELP)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


@dataclass
class Settings:
    """What a checking command runs on, validated."""

    devices: list[str]
    dtypes: list[str]
    n: int | None
    seed: int


def read_settings(args: argparse.Namespace, *, every: bool = True,
                  available: list[str] | None = None) -> Settings:
    """The options of :func:`add_settings`, each validated (MatcalcError naming the option and the
    fix), and $MATCALC_MEMORY_BUDGET, before any work starts. ``available`` are the devices of this
    machine (default: asked of torch)."""
    if available is None:
        from matcalc.report.table import available_devices

        available = available_devices()
    devices = options.devices(args.device, available, allow_all=every)
    dtypes = options.dtypes(args.dtype, allow_all=every)
    n = None if args.n is None else options.positive_int("--n", args.n)
    seed = options.seed_value(args.seed)
    options.memory_budget_env()
    return Settings(devices, dtypes, n, seed)


def check_plot_target(path: str | None) -> None:
    """A check's ``--plot``: matplotlib importable and the path a writable PNG, before any work."""
    if path:
        from matcalc.report.plot import check_plot_path, require_plotting

        require_plotting()
        check_plot_path(path)
