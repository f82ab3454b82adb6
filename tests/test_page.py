"""docs/catalog.md is generated from the code; this test fails when it is stale."""

from pathlib import Path

from matcalc.catalog import RULES
from matcalc.report.catalog_page import render_page
from matcalc.report.table import run_report

PAGE = Path(__file__).resolve().parents[1] / "docs" / "catalog.md"
REGENERATE = "matcalc report --device cpu --no-timing --format markdown --page docs/catalog.md"


def test_catalog_page_is_current() -> None:
    rows = run_report(RULES.values(), devices=["cpu"], dtypes=["float64", "float32"], timing=False)
    assert PAGE.read_text() == render_page(rows), f"docs/catalog.md is stale: run `{REGENERATE}`"


def test_page_lists_every_rule() -> None:
    text = PAGE.read_text()
    for name in RULES:
        assert f"`{name}`" in text


def test_ci_runs_the_readme_test_command() -> None:
    root = PAGE.parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    command = next(line for line in readme.splitlines() if "python -m pytest" in line)
    assert command.strip() in ci


