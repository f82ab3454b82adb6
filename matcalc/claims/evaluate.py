"""Expression tree -> a torch function of the inputs (keyword arguments), as a Rule calls it.

Example::

    >>> import torch
    >>> from matcalc.claims.parse import parse
    >>> fn = compile_tree(parse("x @ A @ x"), {})
    >>> float(fn(x=torch.ones(2, dtype=torch.float64), A=torch.eye(2, dtype=torch.float64)))
    2.0

The tree is interpreted node by node with a fixed table of torch functions; no Python code is
generated or run. Matrix-vector products go through :mod:`matcalc.claims.products`, which pushes
the vector through sums and transposes instead of building the matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from matcalc.claims.parse import Node
from matcalc.claims.products import evaluate_product, static_shape

Tensor = torch.Tensor

UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "tanh": torch.tanh, "sinh": torch.sinh,
    "cosh": torch.cosh, "sigmoid": torch.sigmoid, "sqrt": torch.sqrt, "abs": torch.abs,
    "log": torch.log, "exp": torch.exp, "relu": torch.relu,
    "softplus": torch.nn.functional.softplus, "log1p": torch.log1p, "expm1": torch.expm1,
    "square": torch.square, "sign": torch.sign, "ones_like": torch.ones_like,
    "zeros_like": torch.zeros_like,
    "tr": torch.trace, "trace": torch.trace, "det": torch.linalg.det, "logdet": torch.logdet,
    "inv": torch.linalg.inv, "pinv": torch.linalg.pinv, "expm": torch.linalg.matrix_exp,
    "sum": torch.sum, "mean": torch.mean, "norm": torch.linalg.vector_norm, "diag": torch.diag,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "logsumexp": lambda x: torch.logsumexp(x, dim=-1),
    "gelu": torch.nn.functional.gelu, "erf": torch.erf,
}
REDUCE: dict[str, Callable[..., Tensor]] = {"sum": torch.sum, "mean": torch.mean}
BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "@": torch.matmul, "+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div,
    "outer": torch.outer, "dot": torch.dot, "kron": torch.kron,
}

# Where an identity's size comes from: (input name, axis) or a fixed int.
SizeSource = tuple[str, int] | int


def compile_tree(tree: Node, eye_sizes: Mapping[int, SizeSource]) -> Callable[..., Tensor]:
    """A function of the inputs (keywords) that evaluates ``tree``; ``eye_sizes`` maps the id of
    each identity node to where its size comes from.

    >>> from matcalc.claims.parse import parse
    >>> tree = parse("2 * I")
    >>> fn = compile_tree(tree, {id(tree.args[1]): ("A", 0)})
    >>> fn(A=torch.zeros(2, 3)).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """

    def fn(**inputs: Tensor) -> Tensor:
        return _Evaluation(inputs, eye_sizes).run(tree)

    return fn


class _Evaluation:
    """One evaluation of a tree at one set of inputs.

    A class, not nested closures: a recursive closure refers to itself, and that reference cycle
    kept the inputs alive after the check (512 MiB each at n = 8192) until the garbage collector's
    next full pass.
    """

    def __init__(self, inputs: Mapping[str, Tensor], eye_sizes: Mapping[int, SizeSource]) -> None:
        self.inputs, self.eye_sizes = inputs, eye_sizes
        self.like = next(iter(inputs.values()), torch.zeros(()))

    def eye_size(self, node: Node) -> int:
        src = self.eye_sizes[id(node)]
        return src if isinstance(src, int) else self.inputs[src[0]].shape[src[1]]

    def shape_of(self, node: Node) -> tuple[int, ...] | None:
        return static_shape(node, self.inputs, self.eye_size)

    def run(self, node: Node) -> Tensor:
        run, like, kind = self.run, self.like, node.kind
        if kind == "sym":
            return self.inputs[str(node.value)]
        if kind == "num":
            return torch.tensor(node.value, dtype=like.dtype, device=like.device)
        if kind in ("I", "eye"):
            return torch.eye(self.eye_size(node), dtype=like.dtype, device=like.device)
        if kind == "neg":
            return -run(node.args[0])
        if kind == "T":
            return run(node.args[0]).T
        if kind == "H":
            return run(node.args[0]).mH
        if kind == "pow":
            return run(node.args[0]) ** float(node.value)  # type: ignore[arg-type]
        if kind == "index":
            return run(node.args[0])[node.value]  # type: ignore[index]
        if kind == "call" and node.value == "stack":
            return torch.stack([run(a) for a in node.args])
        if kind == "size":
            axis = int(node.value)  # type: ignore[call-overload]
            return torch.tensor(float(run(node.args[0]).shape[axis]), dtype=like.dtype,
                                device=like.device)
        if kind == "call" and node.value in REDUCE and len(node.args) > 1:
            axis = int(node.args[1].value)  # type: ignore[call-overload]
            return REDUCE[str(node.value)](run(node.args[0]), dim=axis, keepdim=len(node.args) > 2)
        if kind == "call" and node.value == "matrix_power":
            return torch.linalg.matrix_power(run(node.args[0]), int(node.args[1].value))  # type: ignore[call-overload]
        if kind == "call" and len(node.args) == 1:
            return UNARY[str(node.value)](run(node.args[0]))
        if kind == "@":
            return evaluate_product(node, run, self.shape_of)
        op = BINARY[str(node.value) if kind == "call" else kind]
        return op(run(node.args[0]), run(node.args[1]))
