"""The `matcalc` command: exit codes, one-line errors, formats and filters."""

import json
import subprocess
import sys

import pytest

from matcalc.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=600)


def test_report_rule_passes_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("github", "plain", "markdown"):
        assert main(["report", "--rule", "quadratic_form", "--device", "cpu", "--format", fmt]) == 0
        out = capsys.readouterr().out
        for column in ("statement", "tolerance", "closed form", "autograd", "speedup"):
            assert column in out
        assert "2 checks: 2 pass" in out


def test_report_json_rows() -> None:
    proc = run("report", "--rule", "linear_map", "--rule", "norm_gradient", "--dtype", "float32", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["rule"] for r in rows} == {"linear_map", "norm_gradient"}
    assert all(r["dtype"] == "float32" and r["status"] == "pass" and r["speedup"] > 0 for r in rows)


def test_erratum_counts_as_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--rule", "slip_trace_AX_is_A", "--device", "cpu", "--no-timing"]) == 0
    assert "refuted" in capsys.readouterr().out


def test_check_command_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "slip_quadratic_form_2Ax", "--dtype", "float64", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "FAIL slip_quadratic_form_2Ax" in out and "holds when A is symmetric" in out
    assert main(["check", "quadratic_form", "--n", "32", "--oracle", "probe", "--device", "cpu"]) == 0


@pytest.mark.parametrize("args", [
    ["check", "no_such_rule"],
    ["report", "--rule", "no_such_rule"],
    ["report", "--dtype", "int8"],
    ["report", "--device", "tpu"],
    ["report", "--format", "yaml"],
    ["check", "quadratic_form", "--n", "0"],
    ["frobnicate"],
])
def test_misuse_is_one_line_exit_2(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matcalc: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cuda_without_gpu_is_misuse() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = run("report", "--device", "cuda")
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr


def test_failing_claim_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import matcalc as mc
    from matcalc import cli

    wrong = mc.Rule(name="wrong", f=lambda x: x @ x, derivative=lambda x: x, wrt="x", inputs={"x": mc.vector("n")},
                    latex="wrong", source="test")
    monkeypatch.setitem(cli.RULES, "wrong", wrong)
    assert main(["report", "--rule", "wrong", "--no-timing"]) == 1
    assert "off by a factor of 1/2" in capsys.readouterr().out


def test_list_groups_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Matrix Cookbook / 2.1 determinant (" in out
    assert "\nerrata (" in out
    assert "verified identities" in out


def test_bench_json_rows_and_progress(tmp_path) -> None:
    plot = tmp_path / "bench.png"
    proc = run("bench", "--rule", "quadratic_form", "--rule", "hessian_norm", "--n", "64", "--n", "128",
               "--repeats", "2", "--json", "-", "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    for key in ("rule", "method", "n", "device", "dtype", "median_s"):
        assert all(key in r for r in rows)
    methods = {r["method"] for r in rows if r["rule"] == "quadratic_form"}
    assert {"closed_form", "fast", "jacobian", "jacrev", "jacfwd", "backward", "probe_check"} <= methods
    assert {r["method"] for r in rows if r["rule"] == "hessian_norm"} >= {"hessian", "hessian_vectorized", "func_hessian"}
    closed = [r for r in rows if r["method"] in ("closed_form", "fast") and r["median_s"]]
    assert closed and all(r["x_floor"] and r["x_floor"] > 0 for r in closed)
    assert "bench: quadratic_form n=64" in proc.stderr
    assert plot.stat().st_size > 10_000


def test_bench_table_has_speedups_and_floor() -> None:
    proc = run("bench", "--rule", "squared_norm_gradient", "--n", "4096", "--repeats", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "vs closed form" in proc.stdout and "x floor" in proc.stdout
    assert "squared_norm_gradient n=4096" in proc.stdout
    assert proc.stderr == ""


def test_bench_misuse() -> None:
    for args in (["bench", "--method", "nope"], ["bench", "--n", "0"], ["bench", "--rule", "missing"]):
        proc = run(*args)
        assert proc.returncode == 2 and proc.stderr.startswith("matcalc: error:"), args
