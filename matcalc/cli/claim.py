"""`matcalc claim`: check a formula as you would write it.

    matcalc claim "x @ A @ x" --wrt x --is "x @ (A.T + A)"
    matcalc claim "A @ x" --wrt x --is "A.T" --layout denominator --plot claim.png

Exit codes: 0 the claim holds, 1 it fails, 3 inconclusive, 2 misuse.
"""

from __future__ import annotations

import argparse
from typing import Any

from matcalc.cli import flags
from matcalc.cli.exit import INCONCLUSIVE, OK, UNEXPECTED

EXIT = {"pass": OK, "fail": UNEXPECTED, "inconclusive": INCONCLUSIVE}


def add_claim_parser(sub: Any) -> None:
    """Add the ``claim`` subcommand to an argparse subparsers object."""
    p = flags.command(sub, "claim", "check a derivative written in PyTorch syntax",
                      description="Check 'the derivative of F with respect to WRT is DERIVATIVE', "
                                  "both written in PyTorch expression syntax.")
    p.add_argument("f", metavar="F", help="the function, e.g. 'x @ A @ x'")
    p.add_argument("--wrt", required=True, help="the input to differentiate with respect to")
    p.add_argument("--is", dest="derivative", required=True, metavar="DERIVATIVE",
                   help="the claimed derivative, e.g. '(A + A.T) @ x'")
    p.add_argument("--where", default=None,
                   help="declarations, e.g. 'A: n x n symmetric; s: scalar; X: invertible'")
    p.add_argument("--layout", default="numerator", choices=("numerator", "denominator"),
                   help="numerator (Jacobian, f.shape + wrt.shape; default) or denominator (gradient)")
    p.add_argument("--hessian", action="store_true", help="the claim is the Hessian of a scalar f")
    flags.add_device(p)
    flags.add_dtype(p, note="; the formula is decided in float64 and the dtype's accuracy reported beside")
    flags.add_n(p)
    flags.add_seed(p)
    flags.add_oracle(p)
    flags.add_check_plot(p)


def cmd_claim(args: argparse.Namespace) -> int:
    """Run ``matcalc claim``; return the exit code."""
    from matcalc.claims import claim, claim_of
    from matcalc.engine.check import check
    from matcalc.model.sizes import scaled_sizes

    settings = flags.read_settings(args, every=False)
    flags.check_plot_target(args.plot)  # fails before any work
    args.seed, args.device, args.dtype = settings.seed, settings.devices[0], settings.dtypes[0]
    kind = "hessian" if args.hessian else "jacobian"
    rule = claim(args.f, wrt=args.wrt, derivative=args.derivative, where=args.where,
                 layout=args.layout, kind=kind)
    parsed = claim_of(rule)
    assert parsed is not None
    sizes = scaled_sizes(rule.dims(), settings.n) if settings.n is not None else None
    res = check(rule, device=args.device, dtype=args.dtype, sizes=sizes, seed=args.seed,
                oracle=args.oracle)
    what = "Hessian" if args.hessian else f"derivative ({args.layout} layout)"
    print(f"claim:     the {what} of {parsed.f} with respect to {parsed.wrt} is {parsed.derivative}")
    print(f"statement: {rule.latex}")
    print(f"inputs:    {rule.describe_inputs()}")
    print(res)
    if not args.hessian:
        print(layout_note(args, parsed.f_shape, res.outcome, sizes))
    if args.plot:
        from matcalc.report.plot import plot_check
        print(f"plot:      {plot_check(rule, res, args.plot)}")
    return EXIT[res.outcome]


def layout_note(args: argparse.Namespace, f_shape: tuple[Any, ...], outcome: str,
                sizes: dict[str, int] | None) -> str:
    """Which layout the claim matches: for a scalar f both agree; otherwise the other layout is
    tried when the claim fails."""
    from matcalc.claims import claim
    from matcalc.engine.check import check

    if not f_shape:
        return "layout:    f is a scalar, so numerator and denominator layouts agree"
    if outcome == "pass":
        return f"layout:    the claim matches {args.layout} layout"
    other = "denominator" if args.layout == "numerator" else "numerator"
    flipped = claim(args.f, wrt=args.wrt, derivative=args.derivative, where=args.where, layout=other)
    res = check(flipped, device=args.device, dtype=args.dtype, sizes=sizes, seed=args.seed,
                oracle=args.oracle, diagnose_structure=False)
    if res.passed:
        return f"layout:    the claim matches {other} layout, not {args.layout}: pass --layout {other}"
    return "layout:    the claim matches neither layout"
