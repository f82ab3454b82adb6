"""Tests generated from the catalog: every rule holds (every erratum fails) on every seed."""

import os

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES, group_of
from matcalc.core.tolerance import relative_error, tolerance
from matcalc.draws.inputs import draw_inputs

# 20 seeds per rule, device and dtype; bench/gpu-check.sh lowers it to fit a short GPU session.
SEEDS = range(int(os.environ.get("MATCALC_SEEDS", "20")))
NAMES = sorted(RULES)


@pytest.mark.parametrize("name", NAMES)
def test_rule_on_every_seed(name: str, device: str, dtype: torch.dtype) -> None:
    rule = RULES[name]
    for seed in SEEDS:
        res = mc.check(rule, device=device, dtype=dtype, seed=seed, diagnose_structure=False)
        assert res.as_expected, str(res)


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_documented(name: str) -> None:
    rule = RULES[name]
    assert rule.latex.strip(), f"{name} has no latex statement"
    assert rule.source.strip(), f"{name} has no source"
    assert rule.section.strip(), f"{name} has no section"
    if rule.refuted:
        assert rule.flaw and rule.correct in RULES, f"erratum {name} needs a flaw and a correct rule"
        assert not RULES[rule.correct].refuted


def test_catalog_size() -> None:
    verified = [r for r in RULES.values() if not r.refuted]
    errata = [r for r in RULES.values() if r.refuted]
    assert len(verified) >= 100
    assert len(errata) >= 10


def test_every_cookbook_failure_has_an_erratum() -> None:
    published = {r.source.split(",")[0] for r in RULES.values() if r.refuted}
    for eq in ("92", "95", "127"):
        assert f"Matrix Cookbook ({eq})" in published


def test_catalog_is_a_mapping_and_a_module() -> None:
    from matcalc.catalog import quadratic_form

    assert mc.catalog["quadratic_form"] is quadratic_form
    assert "quadratic_form" in mc.catalog
    assert len(mc.catalog) == len(RULES)
    assert dict(mc.catalog.items()) == RULES
    with pytest.raises(KeyError, match="matcalc list"):
        mc.catalog["no_such_rule"]


def test_groups_name_source_and_section() -> None:
    assert group_of(RULES["cookbook_49_det"]) == "Matrix Cookbook / 2.1 determinant"
    assert group_of(RULES["slip_trace_AX_is_A"]) == "errata"


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if r.fast is not None))
@pytest.mark.parametrize("n", [37, 600])
def test_fast_implementation_matches_statement(name: str, n: int, dtype: torch.dtype) -> None:
    # 600 is past the fast forms' tile size (256) and not a multiple of it.
    rule = RULES[name]
    inputs = draw_inputs(rule, {d: n + i for i, d in enumerate(rule.dims())}, torch.device("cpu"), dtype, 0)
    # Same value up to rounding, judged by matcalc's own policy (normwise, eps * sqrt(n)).
    error = relative_error(rule.fast(**inputs), rule.derivative(**inputs))
    assert error <= tolerance(dtype, n + len(rule.dims())), error


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if r.jvp is not None))
def test_matrix_free_forms_hold(name: str, dtype: torch.dtype) -> None:
    # With oracle="probe" a rule's jvp/vjp are the claim, so this verifies them against autograd.
    for seed in range(5):
        res = mc.check(RULES[name], dtype=dtype, seed=seed, oracle="probe")
        assert res.passed, str(res)
