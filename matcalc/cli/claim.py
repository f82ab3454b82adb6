"""`matcalc claim`: check a formula as you would write it.

    matcalc claim "x @ A @ x" --wrt x --is "x @ (A.T + A)"
    matcalc claim "A @ x" --wrt x --is "A.T" --layout denominator --plot claim.png

Exit codes: 0 the claim holds, 1 it fails, 3 inconclusive, 2 misuse.
"""

from __future__ import annotations

import argparse
from typing import Any

EXIT = {"pass": 0, "fail": 1, "inconclusive": 3}


def add_claim_parser(sub: Any) -> None:
    """Add the ``claim`` subcommand to an argparse subparsers object."""
    p = sub.add_parser("claim", help="check a derivative written in PyTorch syntax",
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
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--dtype", default="float64",
                   help="float64 (default), float32, float16 or bfloat16; the formula is decided in "
                        "float64 and the dtype's accuracy reported beside")
    p.add_argument("--n", default=None, help="scale every dim to about n")
    p.add_argument("--seed", default="0", help="seed of the input draws, 0 <= seed < 2**63 (default: 0)")
    p.add_argument("--oracle", default="auto", choices=("auto", "jacobian", "func", "probe", "taylor"),
                   help="how the truth is computed (default: auto)")
    p.add_argument("--plot", metavar="PATH",
                   help="write a PNG: claim, truth and difference (and the Taylor remainder)")


def cmd_claim(args: argparse.Namespace) -> int:
    """Run ``matcalc claim``; return the exit code."""
    from matcalc.claims import claim, claim_of
    from matcalc.cli import options
    from matcalc.engine.check import check
    from matcalc.model.sizes import scaled_sizes

    if args.plot:  # fail before any work
        from matcalc.report.plot import check_plot_path, require_plotting
        require_plotting()
        check_plot_path(args.plot)
    args.seed = options.seed_value(args.seed)
    args.n = None if args.n is None else options.positive_int("--n", args.n)
    options.dtypes(args.dtype, allow_all=False)
    kind = "hessian" if args.hessian else "jacobian"
    rule = claim(args.f, wrt=args.wrt, derivative=args.derivative, where=args.where,
                 layout=args.layout, kind=kind)
    parsed = claim_of(rule)
    assert parsed is not None
    sizes = scaled_sizes(rule.dims(), args.n) if args.n is not None else None
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
