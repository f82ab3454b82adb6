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
