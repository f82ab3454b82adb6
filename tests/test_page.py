"""docs/catalog.md is generated from the code; this test fails when it is stale."""

from pathlib import Path

from matcalc.catalog import RULES
from matcalc.page import render_page
from matcalc.report import run_report

PAGE = Path(__file__).resolve().parents[1] / "docs" / "catalog.md"
REGENERATE = "matcalc report --device cpu --no-timing --format markdown --page docs/catalog.md"


def test_catalog_page_is_current() -> None:
    rows = run_report(RULES.values(), devices=["cpu"], dtypes=["float64", "float32"], timing=False)
    assert PAGE.read_text() == render_page(rows), f"docs/catalog.md is stale: run `{REGENERATE}`"


def test_page_lists_every_rule() -> None:
    text = PAGE.read_text()
    for name in RULES:
        assert f"`{name}`" in text
