"""The workflow files validate against the GitHub workflow schema (offline, check-jsonschema)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_both_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "gpu-bench.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_lints_clean(path: Path) -> None:
    # check-jsonschema (in the test extra) is pure Python and ships the schema: no network needed.
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gpu_workflow_never_runs_for_pull_requests() -> None:
    text = (ROOT / ".github" / "workflows" / "gpu-bench.yml").read_text()
    assert "pull_request" not in text
    assert "runs-on: [self-hosted, gpu]" in text
    for trigger in ("push:", "schedule:", "workflow_dispatch:"):
        assert trigger in text


def test_gpu_check_script_dry_run_on_cpu(tmp_path: Path) -> None:
    # The GPU script itself, run on CPU at small sizes: every step must succeed.
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu-check.sh"), str(tmp_path)], capture_output=True,
                          text=True, timeout=900,
                          env={**os.environ, "MATCALC_GPU_CHECK_DEVICE": "cpu", "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    steps = (tmp_path / "steps.txt").read_text()
    assert steps.count("rc=0") == 4, steps
    summary = (tmp_path / "summary.md").read_text()
    assert "torch:" in summary and "## Benchmark" in summary
    assert (tmp_path / "bench.json").exists() and (tmp_path / "bench.png").exists()
