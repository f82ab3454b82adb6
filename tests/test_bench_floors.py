"""The benchmark's two floors: memory (bytes at copy bandwidth) and compute (flops at the matmul
throughput measured in the same run); the larger binds and the table says which."""

from __future__ import annotations

import pytest
import torch

from matcalc.catalog import RULES
from matcalc.cli.bench_command import render_bench, verdicts
from matcalc.perf.scaling import FLOP_MODELS, BenchRow, floors, run_bench


@pytest.fixture(scope="module")
def rows() -> list[BenchRow]:
    rules = [RULES["hessian_least_squares"], RULES["hessian_logistic_loss"], RULES["quadratic_form"]]
    return run_bench(rules, ns=[96], methods=["closed_form", "fast", "hessian"], repeats=2)


def test_flop_models_are_gemm_counts() -> None:
    x = {"w": torch.ones(5), "X": torch.ones(3, 5), "y": torch.ones(3)}
    assert FLOP_MODELS["hessian_least_squares"](x) == 2 * 3 * 5**2
    assert FLOP_MODELS["hessian_logistic_loss"](x) == 2 * 3 * 5**2 + 3 * 3 * 5


def test_gemm_rules_get_both_floors_and_the_larger_binds(rows: list[BenchRow]) -> None:
    closed = [r for r in rows if r.method == "closed_form" and r.rule in FLOP_MODELS]
    assert len(closed) == 2
    for r in closed:
        assert r.flops and r.compute_floor_s and r.bandwidth_floor_s and r.median_s
        assert r.floor_s == max(r.compute_floor_s, r.bandwidth_floor_s)
        assert r.bound == ("compute" if r.compute_floor_s >= r.bandwidth_floor_s else "memory")
        assert r.x_floor == pytest.approx(r.median_s / r.floor_s)


def test_rules_without_a_flop_model_are_memory_bound(rows: list[BenchRow]) -> None:
    for r in rows:
        if r.rule == "quadratic_form" and r.method in ("closed_form", "fast"):
            assert r.flops is None and r.compute_floor_s is None
            assert r.bound == "memory" and r.floor_s == r.bandwidth_floor_s
        if r.method == "hessian":
            assert r.bound is None and r.x_floor is None


def test_compute_bound_row() -> None:
    r = BenchRow("r", "closed_form", 8, "cpu", "float32", median_s=3.0, bytes_moved=100)
    floors(r, bandwidth=100.0, flops=2000.0, throughput=1000.0)
    assert (r.bound, r.floor_s, r.bandwidth_floor_s, r.compute_floor_s, r.x_floor) == ("compute", 2.0, 1.0, 2.0, 1.5)


def test_table_and_verdicts_name_the_bound(rows: list[BenchRow]) -> None:
    table = render_bench(rows)
    for column in ("bandwidth floor", "compute floor", "flops", "bound", "x floor"):
        assert column in table
    r = BenchRow("hessian_least_squares", "closed_form", 8, "cpu", "float32", median_s=3.0, bytes_moved=100)
    floors(r, bandwidth=100.0, flops=2000.0, throughput=1000.0)
    auto = BenchRow("hessian_least_squares", "hessian", 8, "cpu", "float32", median_s=30.0)
    assert "1.50x the compute floor" in verdicts([r, auto])
