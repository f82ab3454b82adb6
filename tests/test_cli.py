"""The `matcalc` command: exit codes, one-line errors, formats, filters, pipes and progress."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
# Tiny runs of every subcommand, a few seconds each.
COMMANDS = {
    "list": ["list"],
    "check": ["check", "linear_map", "--device", "cpu", "--dtype", "float64"],
    "report": ["report", "--rule", "linear_map", "--rule", "slip_trace_AX_is_A", "--device", "cpu", "--no-timing"],
    "large": ["large", "--rule", "linear_map", "--n", "64", "--repeats", "1"],
    "sweep": ["sweep", "--seeds", "1", "--rule", "linear_map", "--oracle", "probe"],
    "bench": ["bench", "--rule", "linear_map", "--n", "64", "--repeats", "1", "--method", "closed_form"],
    "claim": ["claim", "x @ A @ x", "--wrt", "x", "--is", "(A + A.T) @ x"],
}
JSON_COMMANDS = {
    "report": ["report", "--rule", "slip_trace_AX_is_A", "--rule", "linear_map", "--device", "cpu", "--format", "json"],
    "large": ["large", "--rule", "linear_map", "--n", "64", "--repeats", "1", "--format", "json"],
    "bench": ["bench", "--rule", "linear_map", "--n", "64", "--repeats", "1", "--method", "closed_form",
              "--method", "jacobian", "--json", "-"],
}


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1", **extra}


def run(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=600,
                          env=kw.pop("env", env()), **kw)


def strict_loads(text: str):
    def reject(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def assert_misuse(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matcalc: error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- every subcommand: closed pipes, strict JSON, unwritable paths --------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_closed_pipe_is_quiet(name: str) -> None:
    quiet = [] if name in ("list", "check", "claim") else ["--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", *COMMANDS[name], *quiet],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before matcalc writes a byte
    stderr = proc.stderr.read()
    assert proc.wait(timeout=600) == 141, stderr
    assert stderr == "" and "Traceback" not in stderr


def test_head_closes_the_pipe() -> None:
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m matcalc list | head -1; echo \"status ${{PIPESTATUS[0]}}\""],
                          capture_output=True, text=True, timeout=600, env=env())
    assert proc.stdout.splitlines() == ["", "status 141"], proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_json_is_strict(name: str) -> None:
    proc = run(*JSON_COMMANDS[name], "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = strict_loads(proc.stdout)
    assert rows and all(isinstance(r, dict) for r in rows)
    if name == "report":  # an erratum's error can be infinite: null, and spelt out beside it
        for r in rows:
            assert r["error"] is None or isinstance(r["error"], float)
            if r["error"] is None:
                assert r["error_text"] in ("inf", "nan", "-inf")


def test_report_json_nonfinite_error_is_null(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import matcalc.report.table

    real = matcalc.report.table.check

    def infinite(*a, **kw):
        res = real(*a, **kw)
        res.error, res.passed = float("inf"), False
        return res

    monkeypatch.setattr(matcalc.report.table, "check", infinite)
    assert main(["report", "--rule", "slip_trace_AX_is_A", "--device", "cpu", "--dtype", "float64", "--format", "json",
                 "--no-timing", "--quiet"]) == 0
    row = strict_loads(capsys.readouterr().out)[0]
    assert row["error"] is None and row["error_text"] == "inf" and row["status"] == "refuted"


@pytest.mark.parametrize("option,path,needle", [
    ("--page", "/no/such/folder/page.md", "mkdir -p /no/such/folder"),
    ("--page", "/proc/version", "choose a writable path"),
    ("--page", "/tmp", "is a folder"),
    ("--json", "/no/such/folder/b.json", "mkdir -p /no/such/folder"),
    ("--json", "/proc/version", "choose a writable path"),
    ("--plot", "/no/such/folder/b.png", "mkdir -p /no/such/folder"),
    ("--plot", "/proc/version", "choose a writable path"),
])
def test_unwritable_paths_fail_before_the_run(option: str, path: str, needle: str) -> None:
    cmd = ["report", "--rule", "linear_map", "--device", "cpu"] if option == "--page" else \
        ["bench", "--rule", "linear_map", "--n", "64", "--repeats", "1"]
    t0 = time.perf_counter()
    proc = run(*cmd, option, path)
    assert_misuse(proc, option, needle)
    assert "Traceback" not in proc.stderr
    assert time.perf_counter() - t0 < 60


def test_plot_without_matplotlib_fails_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    proc = run("bench", "--rule", "linear_map", "--n", "64", "--plot", str(tmp_path / "b.png"),
               env=env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)])))
    assert_misuse(proc, "--plot needs matplotlib", "pip install")


# --- validation of every option --------------------------------------------------------------------------


@pytest.mark.parametrize("args,needle", [
    (["check", "no_such_rule"], "no rule named 'no_such_rule'"),
    (["check", "quadratic_from"], "did you mean 'quadratic_form'"),
    (["report", "--rule", "linear_mpa"], "did you mean 'linear_map'"),
    (["report", "--dtype", "int8"], "float64, float32, float16, bfloat16 or all"),
    (["report", "--device", "tpu"], "use cpu or cuda"),
    (["report", "--format", "yaml"], "see `matcalc report --help`"),
    (["check", "quadratic_form", "--n", "0"], "--n must be a positive int"),
    (["check", "linear_map", "--seed", "18446744073709551616"], "0 <= seed < 2**63"),
    (["report", "--seed", "-1"], "0 <= seed < 2**63"),
    (["large", "--seed", str(2**63)], "0 <= seed < 2**63"),
    (["bench", "--budget", "nan"], "--budget must be a finite number of seconds > 0"),
    (["bench", "--budget", "inf"], "--budget must be a finite number"),
    (["bench", "--budget", "-1"], "--budget must be"),
    (["bench", "--repeats", "0"], "--repeats must be a positive int"),
    (["bench", "--method", "nope"], "unknown method 'nope'"),
    (["bench", "--n", "0"], "--n must be a positive int"),
    (["bench", "--rule", "missing"], "no rule named 'missing'"),
    (["bench", "--dtype", "all"], "unknown dtype 'all'"),
    (["large", "--repeats", "0"], "--repeats must be a positive int"),
    (["large", "--n", "-3"], "--n must be a positive int"),
    (["large", "--dtype", "float8"], "float64, float32, float16, bfloat16"),
    (["sweep", "--seeds", "0"], "--seeds must be a positive int"),
    (["sweep", "--rule", "slip_trace_AX_is_A"], "name a true rule"),
    (["report", "--rules", "matcalc.catalog.seed", "--page", "x.md"], "drop --page"),
    (["check", "no_such_module_xyz:rule"], "cannot import 'no_such_module_xyz'"),
    (["report", "--rules", "no_such_module_xyz"], "PYTHONPATH"),
    (["frobnicate"], "see `matcalc --help`"),
])
def test_misuse_is_one_line_exit_2(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matcalc: error:"), err
    assert needle in lines[0], lines[0]
    assert "matcalc matcalc" not in lines[0]


def test_misuse_in_a_subprocess_has_no_traceback() -> None:
    proc = run("check", "linear_map", "--seed", "18446744073709551616")
    assert_misuse(proc, "2**63")


@pytest.mark.parametrize("value", ["-5", "0", "nan", "lots"])
def test_memory_budget_env_is_checked_up_front(value: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MATCALC_MEMORY_BUDGET", value)
    for args in (["check", "linear_map"], ["report", "--rule", "linear_map"], ["bench", "--rule", "linear_map"],
                 ["large", "--rule", "linear_map"], ["sweep", "--rule", "linear_map"]):
        assert main(args) == 2
        assert "MATCALC_MEMORY_BUDGET" in capsys.readouterr().err


def test_every_option_has_help() -> None:
    import argparse

    from matcalc.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    for name, command in sub.choices.items():
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"matcalc {name} {action.option_strings or action.dest} has no help"
    dtype_help = next(a.help for a in sub.choices["report"]._actions if a.dest == "dtype")
    assert all(d in dtype_help for d in ("float64", "float32", "float16", "bfloat16", "all"))


def test_help_text_names_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["large", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--repeats" in out and "3 no failure but some check inconclusive" in " ".join(out.split())


# --- exit codes ------------------------------------------------------------------------------------------


def test_exit_status_is_defined_once() -> None:
    from matcalc.cli.exit import exit_status

    assert exit_status([]) == 0
    assert exit_status(["expected", "expected"]) == 0
    assert exit_status(["expected", "inconclusive"]) == 3
    assert exit_status(["inconclusive", "unexpected"]) == 1
    with pytest.raises(ValueError):
        exit_status(["maybe"])


def test_erratum_counts_as_expected_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--rule", "slip_trace_AX_is_A", "--device", "cpu", "--no-timing", "--quiet"]) == 0
    assert "refuted" in capsys.readouterr().out
    assert main(["check", "slip_trace_AX_is_A", "--device", "cpu"]) == 0
    assert main(["large", "--rule", "slip_trace_AX_is_A", "--n", "16", "--repeats", "1", "--quiet"]) == 0
    assert "refuted" in capsys.readouterr().out


def test_failing_claim_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import matcalc as mc
    from matcalc.catalog import RULES

    wrong = mc.Rule(name="wrong", f=lambda x: x @ x, derivative=lambda x: x, wrt="x", inputs={"x": mc.vector("n")},
                    latex="wrong", source="test")
    monkeypatch.setitem(RULES, "wrong", wrong)
    assert main(["report", "--rule", "wrong", "--no-timing", "--quiet"]) == 1
    assert "off by a factor of 1/2" in capsys.readouterr().out
    assert main(["check", "wrong", "--device", "cpu", "--dtype", "float64"]) == 1
    assert main(["large", "--rule", "wrong", "--n", "16", "--repeats", "1", "--quiet"]) == 1
    assert main(["sweep", "--rule", "wrong", "--seeds", "1", "--oracle", "jacobian", "--quiet"]) == 1


def test_inconclusive_exits_3_and_is_counted_apart(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    import matcalc.report.table

    real = matcalc.report.table.check

    def undecided(rule, **kw):
        res = real(rule, **kw)
        if kw["dtype"] == torch.float32:
            res.passed, res.inconclusive = False, "overflow in float32"
        return res

    monkeypatch.setattr(matcalc.report.table, "check", undecided)
    assert main(["report", "--rule", "linear_map", "--device", "cpu", "--no-timing", "--quiet"]) == 3
    out = capsys.readouterr().out
    assert "2 checks: 1 pass, 0 failed, 1 inconclusive" in out
    assert "overflow in float32" in out


# --- interrupts and progress -----------------------------------------------------------------------------


def test_ctrl_c_during_import_torch_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "torch.py").write_text("raise KeyboardInterrupt\n")
    proc = run("list", env=env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)])))
    assert proc.returncode == 130
    assert proc.stderr.strip() == "matcalc: interrupted" and "Traceback" not in proc.stderr


def test_cli_imports_no_torch() -> None:
    code = "import sys, matcalc.cli; assert 'torch' not in sys.modules, sorted(sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=600)
    assert proc.returncode == 0, proc.stderr


def test_sigint_mid_run_is_one_line() -> None:
    # The interrupt is sent once the sweep reports its first check on stderr, so it lands in the
    # run and not in torch's import (which can swallow it on a slow, loaded machine).
    # A background job starts with SIGINT ignored, and Python then installs no handler for it:
    # restore the default, as a terminal's foreground job has it.
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "sweep", "--seeds", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("sweep 1/"), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert err.strip().splitlines()[-1] == "matcalc: interrupted" and "Traceback" not in err
    assert out == ""


def test_progress_counts_and_is_throttled() -> None:
    import io

    from matcalc.cli.progress import Progress

    now = [0.0]
    stream = io.StringIO()
    progress = Progress(5, label="report", stream=stream, clock=lambda: now[0])
    for k in range(5):
        progress(f"rule{k}")
        now[0] += 0.4  # five steps in 2 s: one line a second at most
    lines = stream.getvalue().splitlines()
    assert lines == ["report 1/5 rule0 (0 s)", "report 4/5 rule3 (1 s)"]

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    progress = Progress(2, label="sweep", stream=tty, clock=lambda: 0.0)
    progress("a")
    progress.done()
    assert tty.getvalue().startswith("\r\033[Ksweep 1/2 a") and tty.getvalue().endswith("\r\033[K")
    quiet = io.StringIO()
    Progress(2, label="x", stream=quiet, enabled=False)("a")
    assert quiet.getvalue() == ""


def test_progress_shows_when_piped_and_quiet_silences_it() -> None:
    proc = run("report", "--rule", "linear_map", "--rule", "quadratic_form", "--device", "cpu", "--no-timing")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("report 1/4 linear_map cpu/float64"), proc.stderr
    proc = run("report", "--rule", "linear_map", "--device", "cpu", "--no-timing", "--quiet")
    assert proc.returncode == 0 and proc.stderr == ""
    proc = run("sweep", "--rule", "linear_map", "--seeds", "2", "--oracle", "probe")
    assert proc.returncode == 0 and proc.stderr.startswith("sweep 1/4 probe/float64 linear_map seed=0")


# --- a readable report -----------------------------------------------------------------------------------

LONG = ["cookbook_144_symmetric_toeplitz_trace_AT", "slip_least_squares_gradient_untransposed", "cookbook_136_chain_rule",
        "quadratic_form", "linear_map"]


def _report(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: int, *args: str) -> str:
    from matcalc.catalog import RULES

    monkeypatch.setenv("COLUMNS", str(columns))
    names = [n for n in LONG if n in RULES]
    assert len(names) >= 4, "rename LONG's rules to the catalog's longest names"
    argv = ["report", "--device", "cpu", "--quiet", *[a for n in names for a in ("--rule", n)], *args]
    assert main(argv) == 0
    return capsys.readouterr().out


def test_report_fits_the_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    narrow = _report(monkeypatch, capsys, 80, "--no-timing")
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "statement" not in narrow and "rule" in narrow and "status" in narrow
    wide = _report(monkeypatch, capsys, 200, "--no-timing")
    assert max(len(line) for line in wide.splitlines()) <= 200
    assert "statement" in wide
    full = _report(monkeypatch, capsys, 80, "--no-timing", "--format", "markdown")
    from matcalc.catalog import RULES

    assert RULES["quadratic_form"].latex in full  # markdown keeps statements whole


def test_no_timing_drops_the_columns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _report(monkeypatch, capsys, 250, "--no-timing")
    for column in ("closed form", "autograd", "speedup"):
        assert column not in out
    timed = _report(monkeypatch, capsys, 250, "--dtype", "float64", "--format", "markdown")
    for column in ("statement", "tolerance", "closed form", "autograd", "speedup"):
        assert column in timed


def test_failures_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import matcalc as mc
    from matcalc.catalog import RULES

    wrong = mc.Rule(name="wrong", f=lambda x: x @ x, derivative=lambda x: x, wrt="x", inputs={"x": mc.vector("n")},
                    latex="wrong", source="test")
    monkeypatch.setitem(RULES, "wrong", wrong)
    assert main(["report", "--rule", "wrong", "--rule", "linear_map", "--device", "cpu", "--dtype", "float64",
                 "--no-timing", "--quiet", "--failures-only", "--format", "plain"]) == 1
    out = capsys.readouterr().out
    table = out.split("\n\n")[0]
    assert "wrong" in table and "linear_map" not in table
    assert "2 checks: 1 pass, 1 failed, 0 inconclusive" in out


def test_report_rule_passes_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("github", "plain", "markdown"):
        assert main(["report", "--rule", "quadratic_form", "--device", "cpu", "--format", fmt, "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "2 checks: 2 pass, 0 failed, 0 inconclusive" in out


def test_report_json_rows() -> None:
    proc = run("report", "--rule", "linear_map", "--rule", "norm_gradient", "--dtype", "float32", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = strict_loads(proc.stdout)
    assert {r["rule"] for r in rows} == {"linear_map", "norm_gradient"}
    assert all(r["dtype"] == "float32" and r["status"] == "pass" and r["speedup"] > 0 for r in rows)


def test_page_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.md"
    assert main(["report", "--rule", "linear_map", "--device", "cpu", "--no-timing", "--quiet", "--page", str(page)]) == 0
    assert "`linear_map`" in page.read_text()


# --- check explains; list ---------------------------------------------------------------------------------


def test_check_command_explains(capsys: pytest.CaptureFixture[str]) -> None:
    from matcalc.catalog import RULES

    assert main(["check", "slip_quadratic_form_2Ax", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    rule = RULES["slip_quadratic_form_2Ax"]
    for text in (rule.latex, rule.source, rule.flaw, "inputs:", "x: ", "FAIL slip_quadratic_form_2Ax",
                 "holds when A is symmetric", "cpu/float64: fail (as expected)", "cpu/float32: fail (as expected)"):
        assert " ".join(text.split()) in " ".join(out.split()), text
    assert main(["check", "quadratic_form", "--n", "32", "--oracle", "probe", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert RULES["quadratic_form"].conditions in " ".join(out.split())


def test_list_groups_with_counts(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Matrix Cookbook / 2.1 determinant (" in out
    assert "\nerrata (" in out
    assert "verified identities" in out
    assert max(len(line) for line in out.splitlines()) <= 100


# --- users' own rules -------------------------------------------------------------------------------------

USER_RULES = '''
import matcalc as mc

trace = mc.Rule(name="d tr(X)/dX = I", f=lambda X: X.diagonal().sum(),
                derivative=lambda X: X.new_ones(X.shape[0]).diag(), wrt="X", inputs={"X": mc.matrix("n", "n")},
                latex=r"\\partial tr(X) / \\partial X = I", source="my notes")
slip = mc.Rule(name="d(x.x)/dx = x", f=lambda x: x @ x, derivative=lambda x: x, wrt="x",
               inputs={"x": mc.vector("n")})
not_a_rule = 3
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"userrules_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(USER_RULES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield name
    sys.modules.pop(name, None)


def test_check_a_users_rule(user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{user_module}:trace", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "d tr(X)/dX = I" in out and "my notes" in out and "cpu/float32: pass (as expected)" in out
    assert main(["check", f"{user_module}:slip", "--device", "cpu", "--dtype", "float64"]) == 1
    assert main(["check", f"{user_module}:d(x.x)/dx = x", "--device", "cpu", "--dtype", "float64"]) == 1
    capsys.readouterr()
    assert main(["check", f"{user_module}:trac"]) == 2
    assert f"did you mean {user_module}:trace?" in capsys.readouterr().err
    assert main(["check", f"{user_module}:not_a_rule"]) == 2
    assert "not a matcalc.Rule" in capsys.readouterr().err


def test_report_a_users_module(user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--rules", user_module, "--device", "cpu", "--no-timing", "--quiet",
                 "--format", "json"]) == 1
    rows = strict_loads(capsys.readouterr().out)
    assert {(r["rule"], r["status"]) for r in rows} == {
        ("d tr(X)/dX = I", "pass"), ("d(x.x)/dx = x", "FAIL")}
    assert main(["report", "--rules", user_module, "--rule", "d tr(X)/dX = I", "--device", "cpu", "--no-timing",
                 "--quiet"]) == 0


# --- bench ------------------------------------------------------------------------------------------------


def test_bench_json_rows_and_progress(tmp_path: Path) -> None:
    plot = tmp_path / "bench.png"
    proc = run("bench", "--rule", "quadratic_form", "--rule", "hessian_norm", "--n", "64", "--n", "128",
               "--repeats", "2", "--json", "-", "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    rows = strict_loads(proc.stdout)
    for key in ("rule", "method", "n", "device", "dtype", "median_s"):
        assert all(key in r for r in rows)
    methods = {r["method"] for r in rows if r["rule"] == "quadratic_form"}
    assert {"closed_form", "fast", "jacobian", "jacrev", "jacfwd", "backward", "probe_check"} <= methods
    assert {r["method"] for r in rows if r["rule"] == "hessian_norm"} >= {"hessian", "hessian_vectorized", "func_hessian"}
    closed = [r for r in rows if r["method"] in ("closed_form", "fast") and r["median_s"]]
    assert closed and all(r["x_floor"] and r["x_floor"] > 0 for r in closed)
    assert proc.stderr.startswith("bench 1/"), proc.stderr
    assert plot.stat().st_size > 10_000


def test_bench_json_file_and_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = run("bench", "--rule", "squared_norm_gradient", "--n", "4096", "--repeats", "2", "--quiet", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "vs closed form" in proc.stdout and "x floor" in proc.stdout
    assert "squared_norm_gradient n=4096" in proc.stdout
    assert proc.stderr == ""
    assert strict_loads(out.read_text())


def test_check_writes_a_plot_and_checks_its_path_first(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from matcalc.cli import main

    path = tmp_path / "slip.png"
    assert main(["check", "slip_trace_AX_is_A", "--device", "cpu", "--dtype", "float64", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["check", "linear_map", "--plot", str(tmp_path / "missing" / "x.png")]) == 2
