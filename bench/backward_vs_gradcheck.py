"""check_backward against torch.autograd.gradcheck, side by side, in one run.

    python bench/backward_vs_gradcheck.py                 # detection, diagnosis, time to verdict (n=4096)
    python bench/backward_vs_gradcheck.py --small         # the same at small sizes (tests run this)
    python bench/backward_vs_gradcheck.py --seeds 100     # also: every correct layer over 100 seeds
    python bench/backward_vs_gradcheck.py --json PATH     # keep the record
    python bench/backward_vs_gradcheck.py --device cuda   # on a GPU (adds the CUDA-only twin)

Detection: every correct layer of examples/layers.py and every buggy twin of examples/twins.py,
checked by matcalc (with reference= in float64, float32 and bfloat16; without a reference in
float64) and by gradcheck (float64 slow, float64 fast_mode, float32 slow), at the layers' default
sizes, seed 0. Time to verdict: layer norm on an n x n float32 input, in fn passes (check time /
median time of one fn forward + backward, measured in the same run); gradcheck's slow mode is
estimated from its per-element cost rather than run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tabulate import tabulate

from matcalc.perf.timing import median_time

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matcalc as mc  # noqa: E402
from examples.layers import LAYERS, Layer  # noqa: E402
from examples.twins import BUG_CLASSES, TWINS  # noqa: E402
from matcalc.draws.inputs import draw_inputs  # noqa: E402
from matcalc.engine.settings import resolve_sizes  # noqa: E402
from matcalc.model.rule import Rule  # noqa: E402

MATCALC = (("matcalc f64", torch.float64), ("matcalc f32", torch.float32), ("matcalc bf16", torch.bfloat16))
GRADCHECK = (("gradcheck f64", torch.float64, False), ("gradcheck f64 fast", torch.float64, True),
             ("gradcheck f32", torch.float32, False))


def _inputs(layer: Layer, dtype: torch.dtype, seed: int = 0, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    rule = Rule(name="x", f=layer.fn, derivative=layer.fn, wrt=next(iter(layer.inputs)), inputs=layer.inputs)
    x = draw_inputs(rule, resolve_sizes(rule, layer.sizes or None), torch.device(device), dtype, seed)
    wrt = layer.wrt or tuple(layer.inputs)
    return tuple(v.requires_grad_(k in wrt) for k, v in x.items())


def gradcheck_verdict(layer: Layer, fn: Callable[..., Any], dtype: torch.dtype, fast: bool,
                      device: str = "cpu") -> bool:
    """True when gradcheck accepts fn's backward (its own tolerances, default options)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(torch.autograd.gradcheck(fn, _inputs(layer, dtype, device=device), fast_mode=fast,
                                                 raise_exception=False))
        except Exception:  # gradcheck raises on some bugs even with raise_exception=False
            return False


def detection(seed: int = 0, device: str = "cpu") -> list[dict[str, Any]]:
    rows = []
    cases = [(name, layer.fn, layer, "correct", "-") for name, layer in LAYERS.items()]
    cases += [(t.name, t.fn, LAYERS[t.layer], t.bug, t.flaw) for t in TWINS
              if device == "cuda" or not t.cuda_only]
    for name, fn, layer, bug, flaw in cases:
        row: dict[str, Any] = {"case": name, "bug": bug, "flaw": flaw}
        named = []
        for label, dtype in MATCALC:
            res = layer.check(fn, dtype=dtype, seed=seed, device=device)
            row[label] = res.outcome
            if bug != "correct":
                named.append(BUG_CLASSES[bug] in str(res))
        res = mc.check_backward(fn, inputs=layer.inputs, wrt=layer.wrt, seed=seed, device=device)
        row["matcalc f64 no ref"] = res.outcome
        if bug != "correct":
            named.append(BUG_CLASSES[bug] in str(res))
        row["named"] = f"{sum(named)}/{len(named)}" if named else "-"
        for label, dtype, fast in GRADCHECK:
            row[label] = "pass" if gradcheck_verdict(layer, fn, dtype, fast, device) else "fail"
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[list[str]]:
    cols = [m[0] for m in MATCALC] + ["matcalc f64 no ref"] + [g[0] for g in GRADCHECK]
    twins = [r for r in rows if r["bug"] != "correct"]
    correct = [r for r in rows if r["bug"] == "correct"]
    out = [[c, f"{sum(r[c] == 'fail' for r in twins)}/{len(twins)}",
            f"{sum(r[c] != 'pass' for r in correct)}/{len(correct)}"] for c in cols]
    return out


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    return median_time(fn, torch.device("cpu"), repeats=repeats, warmup=1)


def _synced(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    def run() -> Any:
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return run


def time_to_verdict(n: int, repeats: int = 5, device: str = "cpu") -> dict[str, Any]:
    """Layer norm on an n x n float32 input: check_backward's time in fn passes, and gradcheck's."""
    layer = LAYERS["layer_norm"]
    sizes = {"b": n, "n": n}
    X, gamma, beta = _inputs(Layer(layer.name, layer.fn, layer.reference, layer.inputs, sizes=sizes),
                             torch.float32, device=device)
    G = torch.randn(n, n, device=device)

    def one_pass() -> None:
        torch.autograd.grad(layer.fn(X, gamma, beta), (X, gamma, beta), G)

    t_pass = _median_time(_synced(one_pass, device), repeats)
    out: dict[str, Any] = {"n": n, "fn_pass_s": t_pass}
    for label, kw in (("matcalc, reference=", {"reference": layer.reference}), ("matcalc, no reference", {})):
        t0 = time.perf_counter()
        res = mc.check_backward(layer.fn, inputs=layer.inputs, sizes=sizes, dtype=torch.float32,
                                device=device, **kw)
        t = time.perf_counter() - t0
        out[label] = {"s": t, "passes": t / t_pass, "outcome": res.outcome}
    X64, g64, b64 = (v.detach().double().requires_grad_() for v in (X, gamma, beta))
    t_fwd64 = _median_time(_synced(lambda: layer.fn(X64, g64, b64), device), repeats)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = torch.autograd.gradcheck(layer.fn, (X64, g64, b64), fast_mode=True, raise_exception=False)
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter() - t0
    out["gradcheck fast_mode f64"] = {"s": t, "passes": t / t_pass, "outcome": "pass" if ok else "fail"}
    # Slow mode: a numerical Jacobian column per input element (2 forwards each), an analytical
    # row per output element (one backward each); estimated, not run.
    numel_in = X64.numel() + g64.numel() + b64.numel()
    t_bwd64 = _median_time(_synced(lambda: torch.autograd.grad(layer.fn(X64, g64, b64), (X64, g64, b64),
                                                               G.double()), device), repeats) - t_fwd64
    est = numel_in * 2 * t_fwd64 + X64.numel() * max(t_bwd64, 0.0)
    out["gradcheck slow f64 (estimated)"] = {"s": est, "passes": est / t_pass, "outcome": "not run"}
    return out


def sweep(seeds: int, device: str = "cpu") -> list[list[str]]:
    """Every correct layer over ``seeds`` seeds in float64, float32, bfloat16: passes, and the
    largest error / tolerance and error / autograd-error ratios seen."""
    table = []
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        for name, layer in LAYERS.items():
            passed, worst, worst_vs_autograd = 0, 0.0, 0.0
            for seed in range(seeds):
                res = layer.check(dtype=dtype, seed=seed, device=device)
                passed += res.passed
                worst = max(worst, max(e / t for e, t in zip(res.grad_errors.values(),
                                                              res.grad_tolerances.values(), strict=True)))
                if res.low_precision:
                    worst_vs_autograd = max(worst_vs_autograd, res.error / max(res.low_precision["autograd"], 1e-300))
            table.append([str(dtype).removeprefix("torch."), name, f"{passed}/{seeds}", f"{worst:.3g}",
                          f"{worst_vs_autograd:.3g}" if dtype != torch.float64 else "-"])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="n=256 for the timing (a test runs this)")
    parser.add_argument("--n", type=int, default=None, help="timing size (default 4096, 256 with --small)")
    parser.add_argument("--seeds", type=int, default=0, help="also sweep the correct layers over this many seeds")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the CUDA-only twin joins on cuda)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a GPU")
    torch.set_num_threads(1)
    record: dict[str, Any] = {"torch": torch.__version__, "threads": 1, "device": args.device}
    rows = detection(device=args.device)
    record["detection"] = rows
    cols = ["case", "bug", *[m[0] for m in MATCALC], "matcalc f64 no ref", *[g[0] for g in GRADCHECK], "named"]
    print(tabulate([[r[c] for c in cols] for r in rows], headers=cols, tablefmt="github"))
    print()
    print(tabulate(summarize(rows), headers=["checker", "twins caught", "false failures (correct layers)"],
                   tablefmt="github"))
    named = [r["named"] for r in rows if r["named"] != "-"]
    hits = sum(int(s.split("/")[0]) for s in named)
    total = sum(int(s.split("/")[1]) for s in named)
    print(f"\ndiagnosis names the planted bug class in {hits}/{total} checks ({100 * hits / total:.0f}%)")
    record["named"] = [hits, total]
    n = args.n or (256 if args.small else 4096)
    timing = time_to_verdict(n, device=args.device)
    record["timing"] = timing
    print(f"\nlayer norm, {n} x {n} float32 on {args.device}, one fn forward+backward: "
          f"{timing['fn_pass_s'] * 1e3:.1f} ms")
    print(tabulate([[k, v["outcome"], f"{v['s']:.3g} s", f"{v['passes']:.1f}"] for k, v in timing.items()
                    if isinstance(v, dict)], headers=["method", "verdict", "time", "fn passes"], tablefmt="github"))
    if args.seeds:
        table = sweep(args.seeds, args.device)
        record["sweep"] = table
        print()
        print(tabulate(table, headers=["dtype", "layer", "passed", "max error / tolerance",
                                       "max error / autograd's error"], tablefmt="github"))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=str))
    caught = all(r[m[0]] == "fail" for r in rows if r["bug"] != "correct" for m in MATCALC)
    clean = all(r[m[0]] == "pass" for r in rows if r["bug"] == "correct" for m in MATCALC)
    return 0 if caught and clean else 1


if __name__ == "__main__":
    sys.exit(main())
