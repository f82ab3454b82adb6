"""The `matcalc` commands list, check, report, large and sweep (bench lives in matcalc.cli.bench).

Each validates all of its options before it starts work, and returns the exit code that
matcalc.cli.exit.exit_status gives for its checks.

Example::

    >>> from matcalc.cli.parser import build_parser
    >>> cmd_list(build_parser().parse_args(["list"]), width=200)  # doctest: +ELLIPSIS
    <BLANKLINE>
    seed (...
    0
"""

from __future__ import annotations

import argparse
import shutil
import textwrap

from matcalc.cli import flags, options, rules
from matcalc.cli.exit import exit_status
from matcalc.cli.progress import Progress
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 80."""
    return shutil.get_terminal_size().columns


def wrap(text: str, width: int) -> str:
    """Each line of ``text`` wrapped to ``width``, continuation lines indented under it.

    >>> print(wrap("  hint: one two three four five", 20))
      hint: one two
        three four five
    """
    out = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        out.append(textwrap.fill(line, width=max(width, 20), subsequent_indent=indent + "  ",
                                 break_long_words=True, break_on_hyphens=False) if line.strip() else line)
    return "\n".join(out)


def cmd_list(args: argparse.Namespace, width: int | None = None) -> int:
    from matcalc.catalog import RULES, group_of
    from matcalc.report.terminal_width import cut, fit_table

    width = width or terminal_width()
    groups: dict[str, list[Rule]] = {}
    for rule in RULES.values():
        groups.setdefault(group_of(rule), []).append(rule)
    for group, members in groups.items():
        print(f"\n{group} ({len(members)})")
        note = max(20, width // 4)  # the statement gets the room that is left
        table = [[r.name, r.latex, cut((r.flaw if r.refuted else r.conditions) or "-", note)]
                 for r in members]
        print(fit_table(("rule", "statement", "conditions / flaw"), table, width=width, tablefmt="simple",
                        flexible=[1, 2, 0], keep=[0, 1]))
    verified = sum(not r.refuted for r in RULES.values())
    print(f"\n{len(RULES)} rules: {verified} verified identities, {len(RULES) - verified} errata")
    return exit_status([])


def explain(rule: Rule) -> str:
    """What a rule claims, on which inputs, and where it comes from.

    >>> from matcalc.catalog import linear_map
    >>> print(explain(linear_map).splitlines()[4])
      source:     seed (d2l lecture: derivatives and gradients)
    """
    layout = "" if rule.kind != "jacobian" else f", {rule.layout} layout"
    lines = [
        f"{rule.name}" + (" (an erratum: a published claim that is wrong, expected to fail)"
                          if rule.refuted else ""),
        f"  statement:  {rule.latex or '-'}",
        f"  claim:      the {rule.kind} of f with respect to {', '.join(rule.wrt_names)}{layout}",
        f"  conditions: {rule.conditions or '-'}",
        f"  source:     {rule.source or '-'}",
        f"  inputs:     {rule.describe_inputs()}",
    ]
    if rule.refuted:
        lines.append(f"  flaw:       {rule.flaw}")
        if rule.correct:
            lines.append(f"  correct:    {rule.correct}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from matcalc.report.status_words import verdict_of

    settings = flags.read_settings(args)
    rule = rules.one(args.name)
    flags.check_plot_target(args.plot)  # fails before any work

    from matcalc.engine.check import check
    from matcalc.model.sizes import scaled_sizes

    width = terminal_width()
    print(wrap(explain(rule), width))
    verdicts, lines = [], []
    for dev in settings.devices:
        for dt in settings.dtypes:
            sizes = scaled_sizes(rule.dims(), settings.n) if settings.n is not None else None
            res = check(rule, device=dev, dtype=dt, sizes=sizes, seed=settings.seed, oracle=args.oracle)
            verdict = verdict_of(res.outcome, rule.refuted)
            verdicts.append(verdict)
            print()
            print(wrap(str(res), width))
            if res.inconclusive and res.inconclusive not in str(res):
                print(wrap(f"  inconclusive: {res.inconclusive}", width))
            if res.why_oracle:
                print(wrap(f"  oracle {res.oracle}: {res.why_oracle}", width))
            note = {"expected": "as expected", "unexpected": "NOT as expected",
                    "inconclusive": "undecided"}[verdict]
            lines.append(f"  {dev}/{dt}: {res.outcome} ({note})")
    print("\nverdicts:")
    print("\n".join(lines))
    if args.plot:
        from matcalc.report.plot import plot_check

        print(f"plot: {plot_check(rule, res, args.plot)}")
    return exit_status(verdicts)


def cmd_report(args: argparse.Namespace) -> int:
    from matcalc.report.table import TERMINAL_FORMATS, render, run_report, summary

    settings = flags.read_settings(args)
    if args.page:
        if args.rules:
            raise MatcalcError("--page writes the catalog's page; drop --page when reporting --rules MODULE")
        options.output_path("--page", args.page)
    if args.rules:
        selected = rules.pick(args.rule, rules.from_modules(args.rules), where=" ".join(args.rules))
    else:
        selected = rules.pick(args.rule)

    with Progress(len(selected) * len(settings.devices) * len(settings.dtypes), label="report",
                  enabled=not args.quiet) as progress:
        rows = run_report(selected, devices=settings.devices, dtypes=settings.dtypes, n=settings.n,
                          seed=settings.seed, timing=not args.no_timing, progress=progress)
    shown = [r for r in rows if r.verdict != "expected"] if args.failures_only else rows
    width = terminal_width() if args.format in TERMINAL_FORMATS else None
    print(render(shown, args.format, timing=not args.no_timing, width=width))
    if args.format != "json":
        print(f"\n{summary(rows)}")
        for r in rows:
            if r.verdict != "expected":
                text = r.detail or f"{r.rule}: erratum passed"
                print(f"\n{wrap(text, width) if width else text}")
    if args.page:
        from matcalc.report.catalog_page import render_page

        with open(args.page, "w") as fh:
            fh.write(render_page(rows))
    return exit_status(r.verdict for r in rows)


def cmd_large(args: argparse.Namespace) -> int:
    from matcalc.perf.probe_breakdown import LARGE_RULES, probe_breakdown
    from matcalc.report.status_words import status_of, verdict_of
    from matcalc.report.table import FORMATS

    settings = flags.read_settings(args, every=False)
    n, device, dtype = settings.n, settings.devices[0], settings.dtypes[0]
    assert n is not None  # large's --n has a default
    repeats = options.positive_int("--repeats", args.repeats)
    selected = rules.pick(args.rule or list(LARGE_RULES))

    rows = []
    with Progress(len(selected), label="large", enabled=not args.quiet) as progress:
        for rule in selected:
            progress(f"{rule.name} n={n}")
            rows.append(probe_breakdown(rule, n, device=device, dtype=dtype, repeats=repeats,
                                        seed=settings.seed))
    if args.format == "json":
        from matcalc.report.strictjson import dumps

        print(dumps(rows, indent=2))
    else:
        from tabulate import tabulate

        cols = ("rule", "n", "device", "dtype", "status", "draw_s", "f_s", "claim_s", "oracle_s",
                "one_pass_s", "passes")
        table = [[status_of(r["outcome"], r["refuted"]) if c == "status" else
                  f"{r[c]:.4g}" if isinstance(r[c], float) else r[c] for c in cols] for r in rows]
        print(tabulate(table, headers=[*cols[:5], "draw (s)", "f (s)", "claim (s)", "oracle (s)",
                                       "one pass (s)", "passes beyond draw"],
                       tablefmt=FORMATS[args.format], disable_numparse=True))
    return exit_status(verdict_of(r["outcome"], r["refuted"]) for r in rows)


def cmd_sweep(args: argparse.Namespace) -> int:
    from matcalc.report.sweep import render_sweep, sweep

    seeds = options.positive_int("--seeds", args.seeds)
    options.memory_budget_env()
    selected = [r for r in rules.pick(args.rule) if not r.refuted]
    if not selected:
        raise MatcalcError("sweep checks true rules only, and every --rule named is an erratum: "
                           "name a true rule")
    oracles = args.oracle or ["jacobian", "func", "probe", "taylor"]
    dtypes = [d for value in (args.dtype or ["all"]) for d in options.dtypes(value)]
    with Progress(len(oracles) * len(dtypes) * len(selected) * seeds, label="sweep",
                  enabled=not args.quiet) as progress:
        counts = sweep(selected, seeds=range(seeds), oracles=oracles, dtypes=dtypes, progress=progress)
    print(render_sweep(counts))
    return exit_status("unexpected" if c.failures else "inconclusive" if c.inconclusive else "expected"
                       for c in counts)
