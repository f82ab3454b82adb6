"""The guards around a rule's functions (matcalc/core/guards.py): every way a function can change
its input is named, at small sizes (every entry fingerprinted), at sampled sizes (n = 300: A has
90 000 entries, over FINGERPRINT_ENTRIES) and on the engine's large path (no determinism re-run,
f's one forward kept with its graph), and clean functions raise nothing."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pytest
import torch

import matcalc as mc
from matcalc.core import guards
from matcalc.core.calls import Context
from matcalc.core.guards import FINGERPRINT_ENTRIES, InputChanged, fingerprint, isolated_call

# Imported here, not inside a fixture: matcalc imports its engine lazily, and a module imported
# while guards.SMALL_BYTES is patched would keep the patched value after the test.
CHECK = importlib.import_module("matcalc.engine.check")

QUAD_INPUTS = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}
SAMPLED_N = 300
assert SAMPLED_N**2 > FINGERPRINT_ENTRIES


def _no_grad_add(A: torch.Tensor) -> None:
    with torch.no_grad():
        A.add_(1)


def _numpy_scale(A: torch.Tensor) -> None:
    view = A.numpy()
    view *= 2


def _change_and_restore(A: torch.Tensor) -> None:
    A.add_(1)
    A.sub_(1)


# Each changes A (or x) in a way that a user's f or claim might. Name -> mutation of (x, A).
MUTATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], object]] = {
    "in-place op": lambda x, A: A.mul_(2),
    "in-place op on x": lambda x, A: x.zero_(),
    "in-place op under no_grad": lambda x, A: _no_grad_add(A),
    "in-place op on a detached alias": lambda x, A: A.detach().neg_(),
    "changed and restored": lambda x, A: _change_and_restore(A),
    "out=": lambda x, A: torch.mul(A, 2, out=A),
    "index assignment of a row": lambda x, A: A.__setitem__(0, 0.0),
    "index assignment of one entry": lambda x, A: A.__setitem__((1, 2), 7.0),
    ".data scaled": lambda x, A: A.data.mul_(3),
    ".data of x scaled": lambda x, A: x.data.mul_(3),
    ".data row": lambda x, A: A.data.__setitem__(3, 0.0),
    ".data column": lambda x, A: A.data.__setitem__((slice(None), 4), 0.0),
    ".data diagonal": lambda x, A: A.data.diagonal().fill_(9.0),
    ".data last entry": lambda x, A: A.data.__setitem__((-1, -1), 9.0),
    "numpy view scaled": lambda x, A: _numpy_scale(A),
    "numpy view column": lambda x, A: A.numpy().__setitem__((slice(None), 1), 0.0),
    "numpy view of x": lambda x, A: x.numpy().__setitem__(0, 5.0),
}
# Writes that go around the version counter and touch one entry: seen where every entry is
# fingerprinted, not promised where the fingerprint samples (see matcalc/core/guards.py).
SCATTERED = {
    ".data one entry": lambda x, A: A.data.__setitem__((1, 2), 7.0),
    "numpy view one entry": lambda x, A: A.numpy().__setitem__((2, 1), 7.0),
}


def _quad(f: Callable[..., torch.Tensor], derivative: Callable[..., torch.Tensor]) -> mc.Rule:
    return mc.Rule(name="quad", f=f, derivative=derivative, wrt="x", inputs=QUAD_INPUTS)


def _in_f(mutate: Callable[..., object]) -> mc.Rule:
    return _quad(lambda x, A: (mutate(x, A), x @ A @ x)[1], lambda x, A: x @ (A.T + A))


def _in_claim(mutate: Callable[..., object]) -> mc.Rule:
    return _quad(lambda x, A: x @ A @ x, lambda x, A: (mutate(x, A), x @ (A.T + A))[1])


@pytest.fixture(params=["small", "sampled", "large path"])
def size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, int] | None:
    """The sizes to check at: the rule's defaults (n = 5, every entry fingerprinted), n = 300
    (sampled fingerprints), or n = 300 on the engine's large path."""
    if request.param == "large path":
        monkeypatch.setattr(CHECK, "SMALL_BYTES", 0)
    return None if request.param == "small" else {"n": SAMPLED_N}


@pytest.mark.parametrize("name", list(MUTATIONS))
@pytest.mark.parametrize("where,make,who", [("f", _in_f, "f"), ("claim", _in_claim, "the derivative")])
def test_every_change_is_named(size: dict[str, int] | None, name: str, where: str,
                               make: Callable[..., mc.Rule], who: str) -> None:
    rule = make(MUTATIONS[name])
    with pytest.raises(mc.MatcalcError, match=rf"{who} changed its input '[xA]' in place") as info:
        mc.check(rule, sizes=size, oracle="jacobian")
    assert "out-of-place" in str(info.value)


@pytest.mark.parametrize("name", list(SCATTERED))
def test_one_entry_written_around_the_counter_is_seen_at_small_sizes(name: str) -> None:
    with pytest.raises(mc.MatcalcError, match=r"f changed its input 'A' in place"):
        mc.check(_in_f(SCATTERED[name]))


@pytest.mark.parametrize("oracle", ["auto", "probe", "taylor"])
def test_changes_are_named_under_every_oracle(size: dict[str, int] | None, oracle: str) -> None:
    with pytest.raises(mc.MatcalcError, match=r"changed its input 'A' in place"):
        mc.check(_in_claim(MUTATIONS[".data column"]), sizes=size, oracle=oracle)


def test_a_captured_alias_changed_later_is_named(size: dict[str, int] | None) -> None:
    """f keeps the A it was given; the claim, called later, changes that captured tensor. The
    functions get aliases of the check's inputs, not copies, so the change reaches A and is seen
    while the claim runs."""
    seen: list[torch.Tensor] = []

    def f(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        seen.append(A)
        return x @ A @ x

    def claim(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        seen[-1].data.mul_(2)  # around the version counter
        return x @ (A.T + A)

    with pytest.raises(mc.MatcalcError, match=r"the derivative changed its input 'A' in place"):
        mc.check(_quad(f, claim), sizes=size, oracle="jacobian")


def test_a_captured_state_changed_by_f_is_non_determinism() -> None:
    state = torch.zeros((), dtype=torch.float64)

    def f(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        state.add_(1.0)
        return x @ A @ x + state

    with pytest.raises(mc.MatcalcError, match="different values on the same inputs"):
        mc.check(_quad(f, lambda x, A: x @ (A.T + A)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_clean_functions_pass(size: dict[str, int] | None, dtype: torch.dtype) -> None:
    """No false alarm: a function that reads its inputs, returns one of them, or a view of one."""
    assert mc.check(_quad(lambda x, A: x @ A @ x, lambda x, A: x @ (A.T + A)), sizes=size,
                    dtype=dtype).passed
    identity = mc.Rule(name="identity", f=lambda x: x, derivative=lambda x: torch.eye(x.shape[0], dtype=x.dtype),
                       wrt="x", inputs={"x": mc.vector("n")})
    assert mc.check(identity, sizes=size, dtype=dtype).passed
    transpose = mc.Rule(name="transpose", f=lambda X: X.T, derivative=lambda X: _transposition(X),
                        wrt="X", inputs={"X": mc.matrix("n", "n")})
    assert mc.check(transpose, sizes=None if size is None else {"n": 12}, dtype=dtype).passed


def _transposition(X: torch.Tensor) -> torch.Tensor:
    n = X.shape[0]
    eye = torch.eye(n, dtype=X.dtype)
    return torch.einsum("il,jk->ijkl", eye, eye)


# ---- isolated_call on its own ------------------------------------------------------------------

CTX = Context(_in_f(lambda x, A: None), {"n": 3}, torch.device("cpu"), torch.float64)


@pytest.mark.parametrize("n", [5, SAMPLED_N])
def test_the_function_gets_aliases_not_copies(n: int) -> None:
    A = torch.randn(n, n, dtype=torch.float64)
    got: dict[str, torch.Tensor] = {}

    def fn(A: torch.Tensor) -> torch.Tensor:
        got["A"] = A
        A.requires_grad_(True)  # metadata of the alias: stays with the call
        return A.sum()

    isolated_call(CTX, "f", fn, {"A": A})
    assert got["A"].data_ptr() == A.data_ptr() and got["A"] is not A
    assert not A.requires_grad


@pytest.mark.parametrize("shape", [(5, 5), (SAMPLED_N, SAMPLED_N), (SAMPLED_N, 7), (), (0,)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.complex128, torch.bool])
def test_reading_is_not_a_change(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Including NaN entries (compared bit for bit: NaN equals itself) and a transposed layout."""
    t = torch.randn(shape, dtype=torch.float64)
    if t.numel():
        t.view(-1)[0] = float("nan")
    t = t.to(dtype)
    for given in (t, t.mT if t.ndim == 2 else t):
        assert isolated_call(CTX, "f", lambda A: (A * 1).sum(), {"A": given}) is not None


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("part", ["row", "column", "diagonal", "first", "last", "all"])
def test_sampled_fingerprints_see_bulk_writes_around_the_counter(transposed: bool, part: str) -> None:
    A = torch.randn(SAMPLED_N, SAMPLED_N, dtype=torch.float64)
    if transposed:
        A = A.T  # a transposed layout is sampled in its own memory order, without a copy
    index = {"row": (SAMPLED_N // 2,), "column": (slice(None), SAMPLED_N // 3), "first": (0, 0),
             "last": (-1, -1), "all": (slice(None),)}

    def fn(A: torch.Tensor) -> torch.Tensor:
        data = A.data
        if part == "diagonal":
            data.diagonal().add_(1.0)
        else:
            data[index[part]] = 42.0
        return A.sum()

    with pytest.raises(InputChanged, match="f changed its input 'A' in place"):
        isolated_call(CTX, "f", fn, {"A": A})


def test_fingerprint_is_every_entry_up_to_the_limit_and_a_sample_beyond() -> None:
    small = torch.randn(FINGERPRINT_ENTRIES, dtype=torch.float64)
    assert torch.equal(fingerprint(small), small) and fingerprint(small).data_ptr() != small.data_ptr()
    large = torch.randn(SAMPLED_N, SAMPLED_N, dtype=torch.float64)
    sample = fingerprint(large)
    assert FINGERPRINT_ENTRIES // 2 < sample.numel() <= FINGERPRINT_ENTRIES + 1
    assert sample[0] == large[0, 0] and sample[-1] == large[-1, -1]


def test_numpy_writes_bypass_the_counter() -> None:
    """Why the fingerprint is there: the writes it exists for leave the version counter alone."""
    A = torch.zeros(4, 4)
    version = A._version
    A.numpy()[0, 0] = 1.0
    A.data[1, 1] = 1.0
    assert A._version == version
    assert np.shares_memory(A.numpy(), A.data.numpy())


def test_the_limits_are_public() -> None:
    assert guards.SMALL_BYTES > 0 and guards.COPY_BYTES > 0 and guards.FINGERPRINT_ENTRIES > 0
