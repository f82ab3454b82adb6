"""`matcalc bench --verify` and matcalc.verify_time: the time-to-a-verdict table. Sizes are shrunk to
n = 64 so each run takes a few seconds; no test asserts a speed."""

import json
import math
import runpy
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

import matcalc.perf.engine_cost as ec
import matcalc.perf.verify_time as vt
from matcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEADERS = ["check", "n", "one pass", "draw", "auto", "jacobian", "probe", "jacrev + assert_close",
           "gradcheck fast", "auto chose", "auto / fastest own oracle (median seconds)"]


@pytest.fixture
def no_jax(monkeypatch: pytest.MonkeyPatch) -> None:
    """jax is not importable, whatever this machine has (only the lookup of "jax" is answered)."""
    monkeypatch.setattr(vt, "find_spec", lambda name, *a: None if name == "jax" else find_spec(name, *a))


@pytest.fixture
def small64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vt, "SMALL_N", 64)


def table_headers(out: str) -> list[str]:
    header = next(line for line in out.splitlines() if line.startswith("| check"))
    return [cell.strip() for cell in header.strip("|").split("|")]


def data_rows(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| check")]


def test_bench_verify_small_prints_the_table(no_jax: None, small64: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--verify", "--small", "--repeats", "1", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("time to a verdict, in passes over the inputs"), out
    assert table_headers(out) == HEADERS
    assert "JAX" not in out
    rows = data_rows(out)
    assert [(r[0], r[1]) for r in rows] == [("quadratic_form", "64"), ("linear_map", "64"), ("log_abs_det", "64")]
    assert all(r[-2] in ("jacobian", "probe") for r in rows)  # auto chose
    assert "Traceback" not in err


def test_bench_verify_json_rows(no_jax: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--verify", "--n", "64", "--repeats", "1", "--oracles", "probe", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out, parse_constant=lambda token: pytest.fail(f"non-standard JSON {token}"))
    assert [(r["check"], r["n"]) for r in rows] == [("quadratic_form", 64), ("linear_map", 64), ("log_abs_det", 64)]
    for r in rows:
        assert list(r["passes"]) == ["draw", "auto", "probe", "jacrev + assert_close", "gradcheck fast"]
        assert r["one_pass_s"] > 0 and r["auto_chose"] in ("jacobian", "probe")
    assert err.startswith("bench --verify 1/3"), err


def test_json_file_beside_the_table(no_jax: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "verify.json"
    assert main(["bench", "--verify", "--n", "16", "--repeats", "1", "--oracles", "auto", "--quiet",
                 "--json", str(path)]) == 0
    assert table_headers(capsys.readouterr().out)[4:6] == ["auto", "jacrev + assert_close"]
    assert len(json.loads(path.read_text())) == 3


def test_jax_column_follows_find_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vt, "find_spec", lambda name, *a: None)
    assert vt.jax_available() is False
    monkeypatch.setattr(vt, "find_spec", lambda name, *a: object())
    assert vt.jax_available() is True
    # The column is wired in when jax is there; building it imports nothing (jax loads when it runs).
    sizes = vt.sizes_for(vt.LOGDET, 8)
    assert [label for label, _ in vt.baselines(vt.LOGDET, sizes, jax=True)][-1] == "JAX check_grads"
    assert [label for label, _ in vt.baselines(vt.LOGDET, sizes, jax=False)] == ["jacrev + assert_close",
                                                                                 "gradcheck fast"]
    assert set(vt.JAX_F) == {rule.name for rule, _ in vt.CASES}


@pytest.mark.parametrize("args,needle", [
    (["--repeats", "0"], "--repeats must be a positive int, got 0"),
    (["--repeats", "-3"], "--repeats must be a positive int, got -3"),
    (["--n", "0"], "--n must be a positive int"),
    (["--oracles", "func"], "invalid choice: 'func'"),
    (["--small", "--n", "64"], "give one of them"),
    (["--dtype", "float32"], "--dtype does not go with --verify"),
    (["--rule", "linear_map"], "--rule does not go with --verify"),
    (["--json", "/no/such/folder/v.json"], "mkdir -p /no/such/folder"),
    (["--engine-cost", "--oracles", "probe"], "--oracles does not go with --engine-cost"),
    (["--engine-cost", "--dtype", "float32"], "--dtype does not go with --verify"),
    (["--engine-cost", "--n", "0"], "--n must be a positive int"),
    (["--engine-cost", "--small", "--n", "64"], "give one of them"),
    (["--engine-cost", "--json", "/no/such/folder/v.json"], "mkdir -p /no/such/folder"),
    (["--cpu-time"], "--cpu-time goes with --engine-cost"),
])
def test_verify_misuse_is_one_line_exit_2(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--verify", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matcalc: error:"), err
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize("flag", [["--small"], ["--oracles", "probe"], ["--engine-cost"], ["--cpu-time"]])
def test_verify_flags_need_verify(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *flag]) == 2
    assert "goes with --verify" in capsys.readouterr().err


def test_script_is_a_thin_wrapper(no_jax: None, small64: None, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["verify_time.py", "--small", "--repeats", "1", "--oracles", "auto", "probe"])
    runpy.run_path(str(ROOT / "bench" / "verify_time.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert table_headers(out) == [h for h in HEADERS if h != "jacobian"]
    assert [r[1] for r in data_rows(out)] == ["64", "64", "64"]


ENGINE_HEADERS = ["n", "matcalc float64", "of which draw", "jacrev + assert_close", "matcalc / hand",
                  "matcalc float32", "float32 / float64", "one pass", "draw (passes)", "own cost (passes)",
                  "randn + jacrev + assert_close", "that / matcalc"]


def test_engine_cost_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--verify", "--engine-cost", "--n", "8", "--n", "16", "--repeats", "1", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("the engine's own cost: check() of x @ A @ x"), out
    header, _, *lines = [line for line in out.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in header.strip("|").split("|")] == ENGINE_HEADERS
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert [r[0] for r in rows] == ["8", "16"]
    for r in rows:
        seconds = [float(cell.removesuffix(" ms")) for cell in (r[1], r[2], r[3], r[5], r[7], r[10])]
        assert all(s > 0 for s in seconds), r
        assert float(r[4]) == pytest.approx(seconds[0] / seconds[2], rel=0.02)  # the ratio of the medians
        assert float(r[6]) == pytest.approx(seconds[3] / seconds[0], rel=0.02)
        assert float(r[8]) == pytest.approx(seconds[1] / seconds[4], rel=0.1, abs=1)  # draw in passes
        assert float(r[11]) == pytest.approx(seconds[5] / seconds[0], rel=0.02, abs=0.005)  # 2 decimals
    assert "matcalc / hand <= 2:" in out and "float32 / float64 <= 1.6:" in out
    assert "issue 18's targets (draw, own cost, randn + jacrev + assert_close): not measured (needs n = 8192)" in out
    assert "Traceback" not in err and "did not pass" not in err


def test_engine_cost_json_and_default_sizes(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[int] = []
    real = ec.engine_row
    monkeypatch.setattr(ec, "engine_row", lambda n, repeats, **kw: (seen.append(n), real(4, repeats, **kw))[1])
    assert main(["bench", "--verify", "--engine-cost", "--repeats", "1", "--json", "-"]) == 0
    assert seen == list(ec.ENGINE_NS) == [64, 256, 1024, 4096, 8192]
    rows = json.loads(capsys.readouterr().out)
    assert list(rows[0]) == ["n", "matcalc_s", "draw_s", "hand_s", "float32_s", "ratio", "float32_over_float64",
                             "one_pass_s", "draw_passes", "own_passes", "drawn_hand_s", "drawn_hand_over_matcalc"]
    seen.clear()
    assert main(["bench", "--verify", "--engine-cost", "--small", "--repeats", "1", "--quiet"]) == 0
    assert seen == list(ec.ENGINE_SMALL_NS)


def test_engine_cost_notes_a_check_that_does_not_pass() -> None:
    wrong = ec.Rule(name="wrong", f=ec.ENGINE_RULE.f, derivative=lambda x, A: 2 * A @ x, wrt="x",
                    inputs=ec.ENGINE_RULE.inputs)
    notes: list[str] = []
    row = ec.engine_row(6, 1, rule=wrong, note=notes.append)
    assert all(math.isnan(v) for v in (row.matcalc_s, row.hand_s, row.float32_s, row.ratio, row.own_passes,
                                       row.drawn_hand_s))
    assert sorted(note.split(":")[0] for note in notes) == [
        "engine cost n=6 float32", "engine cost n=6 float64", "engine cost n=6 jacrev + assert_close",
        "engine cost n=6 randn + jacrev + assert_close"]
    assert "MISSED at n = 6 (nan)" in ec.engine_verdicts([row])


def test_own_cost_leaves_out_one_f_one_claim_and_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subtraction uses the calls the check made: a claim made 50 ms slower moves the float64
    time by at least twice that (the claim runs twice: the determinism re-run), and matcalc's own
    cost by about one of them, not two."""
    def slow_claim(x: ec.torch.Tensor, A: ec.torch.Tensor) -> ec.torch.Tensor:
        time.sleep(0.05)
        return x @ (A.T + A)

    slow = ec.Rule(name="slow", f=ec.ENGINE_RULE.f, derivative=slow_claim, wrt="x", inputs=ec.ENGINE_RULE.inputs)
    row = ec.engine_row(8, 1, rule=slow)
    assert row.matcalc_s > 0.1
    own_s = row.own_passes * row.one_pass_s
    assert 0.045 < own_s < row.matcalc_s - 0.045


def test_engine_cost_in_cpu_time(capsys: pytest.CaptureFixture[str]) -> None:
    """A process sleeping inside f costs wall time, not CPU time: the two clocks are told apart."""
    def sleepy_f(x: ec.torch.Tensor, A: ec.torch.Tensor) -> ec.torch.Tensor:
        time.sleep(0.02)
        return x @ A @ x

    sleepy = ec.Rule(name="sleepy", f=sleepy_f, derivative=ec.ENGINE_RULE.derivative, wrt="x",
                     inputs=ec.ENGINE_RULE.inputs)
    wall, cpu = ec.engine_row(6, 1, rule=sleepy), ec.engine_row(6, 1, rule=sleepy, cpu_time=True)
    assert wall.matcalc_s > 0.1 > 0.05 > cpu.matcalc_s  # f runs at least 5 times in a check
    assert main(["bench", "--verify", "--engine-cost", "--cpu-time", "--n", "6", "--repeats", "1", "--quiet"]) == 0
    assert "CPU time of this process (all threads), not wall time" in capsys.readouterr().out


def test_issue18_targets_are_judged_at_8192() -> None:
    def row(n: int, draw: float, own: float, drawn: float) -> ec.EngineRow:
        return ec.EngineRow(n, 1.0, 0.1, 0.6, 1.5, 1.67, 1.5, 0.01, draw, own, drawn, drawn)

    text = ec.engine_verdicts([row(4096, 99, 99, 0.1), row(8192, 15, 46, 3.2)])
    assert "draw <= 20 passes at n = 8192: met (15.0)" in text
    assert "own cost <= 20 passes at n = 8192: MISSED (46.0)" in text
    assert "randn + jacrev + assert_close / matcalc >= 3 at n = 8192: met (3.20)" in text
