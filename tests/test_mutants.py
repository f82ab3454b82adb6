"""Mutation testing of the verifier: every oracle rejects every mutant that really differs."""

import pytest
import torch
from mutants import all_mutants, kill_rates, mutants

import matcalc as mc


@pytest.fixture(scope="module")
def live() -> list:
    found, equivalent = all_mutants()
    assert equivalent < len(found) / 5
    return found


def test_generator_covers_every_operator(live: list) -> None:
    operators = {m.operator.split("_")[0] if m.operator.startswith(("swap", "drop")) else m.operator for m in live}
    assert operators == {"transpose", "times2", "half", "sign", "perturb_1e3", "swap", "drop"}
    assert len({m.rule.name.split("__")[0] for m in live}) == sum(not r.refuted for r in mc.catalog.values())


def test_drop_term_edits_the_sum() -> None:
    names = {m.operator for m in mutants(mc.catalog["quadratic_form"])}
    assert {"drop_term0_left", "drop_term0_right"} <= names


@pytest.mark.parametrize("oracle", ["jacobian", "func", "probe", "taylor"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_kill_rate_is_100_percent(live: list, oracle: str, dtype: torch.dtype) -> None:
    (count,) = kill_rates(live, oracles=(oracle,), dtypes=(dtype,))
    assert count.survivors == [], f"{oracle}/{dtype}: {len(count.survivors)} survivors, e.g. {count.survivors[:5]}"
    assert count.killed == count.mutants == len(live)
