"""Every misuse DESIGN.md lists raises MatcalcError naming the rule and the fix."""

import pytest
import torch

import matcalc as mc
from matcalc.model.domains import Domain

INPUTS = {"x": mc.vector("n"), "A": mc.matrix("n", "n")}


def make(**kw) -> mc.Rule:
    base = dict(name="quad", f=lambda x, A: x @ A @ x, derivative=lambda x, A: x @ (A.T + A), wrt="x",
                inputs=INPUTS)
    return mc.Rule(**{**base, **kw})


def test_error_is_a_value_error() -> None:
    assert issubclass(mc.MatcalcError, ValueError)


def test_wrt_not_among_inputs() -> None:
    with pytest.raises(mc.MatcalcError, match=r"rule 'quad': wrt='y' is not among the inputs"):
        make(wrt="y")


def test_unknown_device() -> None:
    with pytest.raises(mc.MatcalcError, match=r"unknown device 'gpu0'.*use 'cpu' or 'cuda'"):
        mc.check(make(), device="gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu() -> None:
    with pytest.raises(mc.MatcalcError, match=r"no CUDA GPU.*use device='cpu'"):
        mc.check(make(), device="cuda")


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex128, "int32", None])
def test_non_floating_dtype(dtype) -> None:
    with pytest.raises(mc.MatcalcError, match="not a real floating dtype"):
        mc.check(make(), dtype=dtype)


def test_unknown_structure() -> None:
    with pytest.raises(mc.MatcalcError, match="unknown structure 'hermitian'"):
        mc.matrix("n", "n", structure="hermitian")


def test_square_structure_needs_square_shape() -> None:
    with pytest.raises(mc.MatcalcError, match="needs a square matrix"):
        mc.matrix("n", "m", structure="spd")


def test_size_for_unknown_dim() -> None:
    with pytest.raises(mc.MatcalcError, match=r"rule 'quad' has no dim 'm'; its dims are \['n'\]"):
        mc.check(make(), sizes={"m": 3})


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_size_not_positive_int(bad) -> None:
    with pytest.raises(mc.MatcalcError, match="must be a positive int"):
        mc.check(make(), sizes={"n": bad})


def test_f_raising_is_chained_with_context() -> None:
    rule = make(f=lambda x, A: A @ x @ x[:2])
    with pytest.raises(mc.MatcalcError, match=r"f raised RuntimeError.*while checking rule 'quad' at n=5 on cpu/float64") as info:
        mc.check(rule)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_derivative_raising_is_chained() -> None:
    rule = make(derivative=lambda x, A: A @ torch.ones(7, dtype=x.dtype))
    with pytest.raises(mc.MatcalcError, match="the derivative raised RuntimeError") as info:
        mc.check(rule)
    assert info.value.__cause__ is not None


def test_derivative_returning_none() -> None:
    with pytest.raises(mc.MatcalcError, match="returned NoneType, not a tensor"):
        mc.check(make(derivative=lambda x, A: None))


def test_unknown_oracle() -> None:
    with pytest.raises(mc.MatcalcError, match="unknown oracle 'magic'"):
        mc.check(make(), oracle="magic")


def test_bad_layout_and_name() -> None:
    with pytest.raises(mc.MatcalcError, match="layout 'row'"):
        make(layout="row")
    with pytest.raises(mc.MatcalcError, match="non-empty string"):
        make(name="  ")
    with pytest.raises(mc.MatcalcError, match="non-empty string"):
        make(name=3)


def test_users_name_rules_in_words() -> None:
    rule = make(name="d tr(AXB)/dX = AᵀBᵀ")
    assert mc.check(rule).rule == "d tr(AXB)/dX = AᵀBᵀ"


def test_catalog_names_must_be_identifiers() -> None:
    from matcalc.catalog import RULES, check_catalog_name

    assert all(name.isidentifier() for name in RULES)
    with pytest.raises(mc.MatcalcError, match="Python identifier"):
        check_catalog_name("d tr(X)/dX", "matcalc.catalog.seed")
    with pytest.raises(mc.MatcalcError, match="Python identifier"):
        check_catalog_name("lambda", "matcalc.catalog.seed")


def test_full_column_rank_needs_tall_sizes() -> None:
    rule = mc.Rule(name="tall", f=lambda X: (X * X).sum(), derivative=lambda X: 2 * X, wrt="X",
                   inputs={"X": mc.matrix("n", "m", structure="full_column_rank")})
    with pytest.raises(mc.MatcalcError, match="rows >= cols"):
        mc.check(rule, sizes={"n": 2, "m": 4})


def test_erratum_needs_a_flaw() -> None:
    with pytest.raises(mc.MatcalcError, match="must say its flaw"):
        make(refuted=True)


def test_hessian_of_non_scalar() -> None:
    rule = mc.Rule(name="hv", f=lambda x: x * x, derivative=lambda x: torch.eye(5), wrt="x",
                   inputs={"x": mc.vector("n")}, kind="hessian")
    with pytest.raises(mc.MatcalcError, match="needs a scalar f"):
        mc.check(rule)


# --- raw exceptions that were misuse (issue 17, class 10): refused where they are declared ------

@pytest.mark.parametrize(("where", "kind", "allowed"), [
    ("s: scalar symmetric", "scalar", "general, positive"),
    ("s: scalar spd", "scalar", "general, positive"),
    ("x: n symmetric", "vector", "general, nonzero, positive"),
])
def test_a_structure_its_rank_cannot_have_is_misuse(where: str, kind: str, allowed: str) -> None:
    with pytest.raises(mc.MatcalcError, match=rf"is a {kind}, which cannot be '\w+': use one of {allowed}$"):
        mc.claim("s * x", wrt="x", derivative="s * I", where=where)


def test_a_structure_its_rank_has_still_checks() -> None:
    rule = mc.claim("s * x", wrt="x", derivative="s * I", where="s: scalar positive")
    assert mc.check(rule).passed


@pytest.mark.parametrize("make", [
    lambda: mc.vector(2**70), lambda: mc.vector(2**40 + 1), lambda: mc.matrix("n", 2**41),
    lambda: mc.matrix(2**63, 3), lambda: Domain((4, 2**62)),
])
def test_a_dim_past_any_machine_is_refused_when_declared(make) -> None:
    with pytest.raises(mc.MatcalcError, match=r"beyond any device's memory \(at most 2\*\*40\); use a smaller size"):
        make()


def test_a_declared_dim_past_any_machine_in_a_claim_is_refused() -> None:
    with pytest.raises(mc.MatcalcError, match="beyond any device's memory"):
        mc.claim("x @ x", wrt="x", derivative="2 * x", where="x: 2000000000000000")


def test_the_largest_declared_dim_is_accepted() -> None:
    assert mc.vector(2**40).resolve({}) == (2**40,)
    assert mc.matrix("n", 2**40).dims() == {"n"}


def _distinct(inputs: dict[str, Domain]) -> mc.Rule:
    return mc.Rule(name="distinct", f=lambda **kw: kw["x"].sum(), derivative=lambda **kw: torch.ones_like(kw["x"]),
                   wrt="x", inputs=inputs)


@pytest.mark.parametrize("inputs", [
    {"x": mc.vector("n"), "a": mc.vector("m", distinct_from="x")},
    {"A": mc.matrix("n", "m"), "x": mc.vector("n", distinct_from="A")},
    {"A": mc.matrix("n", "n"), "x": mc.vector("n", distinct_from="A")},
    {"a": mc.vector(5), "x": mc.vector("n", distinct_from="a")},
])
def test_distinct_from_an_input_of_another_shape_is_refused_by_the_rule(inputs) -> None:
    with pytest.raises(mc.MatcalcError, match=r"rule 'distinct': input '\w+' .* distinct_from needs an "
                                              r"input of the same shape, with the same dims"):
        _distinct(inputs)


def test_distinct_from_itself_or_a_chain_is_refused_by_the_rule() -> None:
    with pytest.raises(mc.MatcalcError, match="distinct_from itself; name another input"):
        _distinct({"x": mc.vector("n", distinct_from="x")})
    with pytest.raises(mc.MatcalcError, match=r"which is itself distinct_from='a': make both distinct_from='a'"):
        _distinct({"a": mc.vector("n"), "x": mc.vector("n", distinct_from="b"),
                   "b": mc.vector("n", distinct_from="a")})
    with pytest.raises(mc.MatcalcError, match=r"which is not an input; name one of \['a'\]"):
        _distinct({"a": mc.vector("n"), "x": mc.vector("n", distinct_from="y")})


def test_distinct_from_an_input_of_the_same_shape_checks() -> None:
    assert mc.check(_distinct({"a": mc.vector("n"), "x": mc.vector("n", distinct_from="a")})).passed
