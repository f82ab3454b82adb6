"""The CPU buffer pool (matcalc/draws/buffers.py): a buffer is handed out again only once nothing refers
to it, never while a tensor, a view, a numpy array or a storage over it lives; and a check leaves
nothing holding its inputs once it returns."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable

import pytest
import torch

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.draws import buffers
from matcalc.draws.large import gaussian
from matcalc.errors import MatcalcError

CPU = torch.device("cpu")
SHAPE = (1024, 1024, 2)  # 16 MiB in float64: pooled


@pytest.fixture(autouse=True)
def empty_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.collect()  # buffers of earlier tests go back to the pool ...
    monkeypatch.setenv("MATCALC_BUFFER_POOL_MIB", "0")
    buffers.empty(SHAPE, torch.float64, CPU)  # ... and a limit of 0 forgets them all
    monkeypatch.delenv("MATCALC_BUFFER_POOL_MIB")
    assert buffers.pooled_bytes() == 0


def test_a_freed_buffer_is_reused() -> None:
    a = buffers.empty(SHAPE, torch.float64, CPU)
    ptr = a.data_ptr()
    del a
    assert buffers.empty(SHAPE, torch.float64, CPU).data_ptr() == ptr


HOLDERS: dict[str, Callable[[torch.Tensor], object]] = {
    "the tensor": lambda t: t,
    "a view": lambda t: t.transpose(0, 1)[3:],
    "a numpy array": lambda t: t.numpy(),
    "a slice of a numpy array": lambda t: t.numpy()[::2, 5:],
    "a memoryview": lambda t: memoryview(t.numpy()),
    "its storage": lambda t: t.untyped_storage(),
    "a reshaped copy-free alias": lambda t: t.view(-1),
    "a DLPack capsule": lambda t: torch.utils.dlpack.to_dlpack(t),
}


@pytest.mark.parametrize("holder", list(HOLDERS), ids=list(HOLDERS))
def test_a_buffer_in_use_is_never_handed_out(holder: str) -> None:
    a = buffers.empty(SHAPE, torch.float64, CPU)
    a.fill_(7.0)
    kept = HOLDERS[holder](a)
    ptr = a.data_ptr()
    del a
    b = buffers.empty(SHAPE, torch.float64, CPU)
    assert b.data_ptr() != ptr
    b.fill_(-1.0)
    assert kept is not None
    del kept, b
    assert buffers.empty(SHAPE, torch.float64, CPU).data_ptr() == ptr


def test_a_buffer_freed_by_another_thread_comes_back() -> None:
    import threading

    a = buffers.empty(SHAPE, torch.float64, CPU)
    ptr = a.data_ptr()
    box = [a]
    del a
    worker = threading.Thread(target=box.clear)
    worker.start()
    worker.join()
    assert buffers.empty(SHAPE, torch.float64, CPU).data_ptr() == ptr


def test_draws_reuse_memory_and_stay_correct() -> None:
    first = gaussian((2048, 1024), seed=5)
    expected = first.clone()
    del first
    again = gaussian((2048, 1024), seed=5)
    other = gaussian((2048, 1024), seed=6)  # drawn while `again` lives: its own memory
    assert again.data_ptr() != other.data_ptr()
    assert torch.equal(again, expected)
    assert not torch.equal(other, expected)


def test_the_limit_bounds_what_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCALC_BUFFER_POOL_MIB", "20")
    a = buffers.empty(SHAPE, torch.float64, CPU)            # 16 MiB: kept
    b = buffers.empty(SHAPE, torch.float64, CPU)            # would exceed 20 MiB: not kept
    assert buffers.pooled_bytes() == 16 * 2**20
    del a, b
    monkeypatch.setenv("MATCALC_BUFFER_POOL_MIB", "0")
    buffers.empty(SHAPE, torch.float64, CPU)                 # makes room: the free one is forgotten
    assert buffers.pooled_bytes() == 0


@pytest.mark.parametrize("value", ["lots", "-5"])
def test_a_bad_limit_names_the_fix(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MATCALC_BUFFER_POOL_MIB", value)
    with pytest.raises(MatcalcError, match="MATCALC_BUFFER_POOL_MIB"):
        buffers.empty(SHAPE, torch.float64, CPU)


def test_small_buffers_are_not_pooled() -> None:
    buffers.empty((100, 100), torch.float64, CPU)
    assert buffers.pooled_bytes() == 0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_buffers_have_the_shape_and_dtype_asked_for(dtype: torch.dtype) -> None:
    t = buffers.empty(SHAPE, dtype, CPU)
    assert t.shape == SHAPE and t.dtype == dtype and t.is_contiguous()


# A check must leave nothing holding its inputs: a reference cycle would keep them (512 MiB each at
# n = 8192) until the garbage collector's next full pass, and the pool could not reuse them.
FREED = [("quadratic_form", "jacobian"), ("quadratic_form", "probe"), ("linear_map", "func"),
         ("linear_map", "taylor"), ("squared_norm_gradient", "auto")]


@pytest.fixture(scope="module")
def warmed_up() -> None:
    # An oracle's first check in a process triggers torch's lazy imports (torch.func imports
    # torch._dynamo), whose frames outlive the call and hold that check's inputs until collected.
    for oracle in ("jacobian", "func", "probe", "taylor"):
        mc.check(RULES["quadratic_form"], sizes={"n": 3}, oracle=oracle)


@pytest.mark.parametrize(("name", "oracle"), FREED)
def test_a_check_frees_its_inputs_when_it_returns(warmed_up: None, monkeypatch: pytest.MonkeyPatch,
                                                  name: str, oracle: str) -> None:
    check_module = sys.modules["matcalc.engine.check"]
    drawn: list[weakref.ref[torch.Tensor]] = []
    original = check_module.draw_inputs

    def recording(*args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        inputs = original(*args, **kwargs)
        drawn.extend(weakref.ref(t) for t in inputs.values())
        return inputs

    monkeypatch.setattr(check_module, "draw_inputs", recording)
    gc.collect()
    gc.disable()
    try:
        assert mc.check(RULES[name], oracle=oracle).passed
        assert drawn and all(ref() is None for ref in drawn)
    finally:
        gc.enable()
