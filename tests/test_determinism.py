"""Same rule, sizes, dtype, device and seed: same inputs, same result; a private generator."""

import torch

import matcalc as mc
from matcalc.catalog import RULES


def test_same_seed_same_result(device: str) -> None:
    rule = RULES["slip_quadratic_form_2Ax"]
    a = mc.check(rule, device=device, seed=7)
    b = mc.check(rule, device=device, seed=7)
    assert a.error == b.error
    for k in a.counterexample:
        assert torch.equal(a.counterexample[k], b.counterexample[k])


def test_different_seeds_draw_different_inputs() -> None:
    rule = RULES["slip_quadratic_form_2Ax"]
    a, b = mc.check(rule, seed=1), mc.check(rule, seed=2)
    assert not torch.equal(a.counterexample["A"], b.counterexample["A"])
    assert a.error != b.error


def test_global_rng_is_untouched() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    mc.check(RULES["quadratic_form"], seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_default_sizes_are_distinct() -> None:
    res = mc.check(RULES["linear_map"])
    assert res.sizes["m"] != res.sizes["n"]
    res = mc.check(RULES["cookbook_119_trace_affine_square"])
    assert len(set(res.sizes.values())) == len(res.sizes)


def test_given_size_keeps_defaults_distinct() -> None:
    res = mc.check(RULES["linear_map"], sizes={"n": 3})
    assert res.sizes["n"] == 3 and res.sizes["m"] != 3


def test_report_leaves_the_global_rng_alone() -> None:
    from matcalc.report.table import run_report

    torch.manual_seed(321)
    expected = torch.rand(3)
    torch.manual_seed(321)
    rows = run_report([RULES["cookbook_37_product"], RULES["quadratic_form"]], devices=["cpu"],
                      dtypes=["float64"], timing=True)
    assert all(r.status == "pass" for r in rows)
    assert torch.equal(torch.rand(3), expected)
