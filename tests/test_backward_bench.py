"""bench/backward_vs_gradcheck.py in its small mode: it runs, and its detection record holds the
issue's targets (matcalc catches every twin gradcheck catches in float64, in float32 and bfloat16
too; no false failure on a correct layer)."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "backward_vs_gradcheck.py"


def _load():
    spec = importlib.util.spec_from_file_location("backward_vs_gradcheck", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_mode_meets_the_targets(tmp_path: Path) -> None:
    bench = _load()
    record_path = tmp_path / "record.json"
    assert bench.main(["--small", "--n", "128", "--json", str(record_path)]) == 0
    record = json.loads(record_path.read_text())
    rows = record["detection"]
    twins = [r for r in rows if r["bug"] != "correct"]
    for r in twins:
        if r["gradcheck f64"] == "fail":
            assert all(r[c] == "fail" for c in ("matcalc f64", "matcalc f32", "matcalc bf16")), r
    for r in rows:
        if r["bug"] == "correct":
            assert all(r[c] == "pass" for c in ("matcalc f64", "matcalc f32", "matcalc bf16", "matcalc f64 no ref")), r
    hits, total = record["named"]
    assert hits / total >= 0.8
    assert record["timing"]["matcalc, reference="]["outcome"] == "pass"
