"""`matcalc bench --verify` and matcalc.verify_time: the time-to-a-verdict table. Sizes are shrunk to
n = 64 so each run takes a few seconds; no test asserts a speed."""

import json
import runpy
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

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
])
def test_verify_misuse_is_one_line_exit_2(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--verify", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matcalc: error:"), err
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize("flag", [["--small"], ["--oracles", "probe"]])
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
