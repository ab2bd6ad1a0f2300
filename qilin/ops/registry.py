"""The op record and the registry that every interpreter walks.

An `Op` is one primitive: its name, a meta rule (output shapes and dtypes from input shapes and
dtypes; raises the user-facing error), an eager kernel written against `xp` (NumPy or CuPy), a
vjp rule written in qilin ops (or `differentiable=False`), and compiler lowerings. Eager
execution, autograd, tracing and export all read these same records.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import NamedTuple

__all__ = ["Op", "Spec", "OPS", "register", "get"]


class Spec(NamedTuple):
    """What the meta rule sees of a tensor: its shape and dtype (a qilin DType)."""

    shape: tuple
    dtype: object

    @property
    def ndim(self) -> int:
        return len(self.shape)


OPS: dict[str, Op] = {}


class Op:
    """One primitive. Calling it runs it through the dispatcher: ``EXP(x)``."""

    __slots__ = (
        "name",
        "meta",
        "kernel",
        "vjp",
        "lowering",
        "family",
        "save_inputs",
        "save_outputs",
        "num_outputs",
        "nondiff_outputs",
        "view",
        "eager_check",
        "differentiable",
        "backward_name",
        "doc",
    )

    def __init__(
        self,
        name: str,
        *,
        meta: Callable,
        kernel: Callable,
        vjp: Callable | None,
        family: str,
        lowering: dict | None = None,
        save_inputs: bool = True,
        save_outputs: bool = False,
        num_outputs: int = 1,
        nondiff_outputs: frozenset = frozenset(),
        view: bool = False,
        eager_check: bool = False,
        differentiable: bool = True,
        doc: str = "",
    ):
        if differentiable and vjp is None:
            raise ValueError(f"op '{name}': a differentiable op needs a vjp rule")
        self.name = name
        self.meta = meta  # (*Spec-or-scalar, **attrs) -> Spec | tuple[Spec, ...]
        self.kernel = kernel  # (xp, *arrays-or-scalars, **attrs) -> array | tuple[array, ...]
        self.vjp = vjp if differentiable else None  # (node, grad) -> tuple of input grads
        self.family = family
        self.lowering = dict(lowering or {})  # {"c": ..., "cuda": ...}: filled by the compiler
        self.save_inputs = save_inputs
        self.save_outputs = save_outputs
        self.num_outputs = num_outputs  # -1: a tuple whose length depends on the attributes
        self.nondiff_outputs = nondiff_outputs
        self.view = view  # outputs share memory and version counter with input 0
        self.eager_check = eager_check  # run meta before the kernel (NumPy is more permissive)
        self.differentiable = differentiable
        self.backward_name = "".join(part.title() for part in name.split("_")) + "Backward0"
        self.doc = doc

    def __call__(self, *args, **attrs):
        return apply(self, args, attrs)

    def __get__(self, tensor, owner=None):
        # Bound as a Tensor method (`t.exp()`), the tensor is the first argument.
        return self if tensor is None else MethodType(self, tensor)

    def __repr__(self) -> str:
        return f"<op {self.name} ({self.family})>"


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op '{op.name}' is registered twice")
    OPS[op.name] = op
    return op


def get(name: str) -> Op:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op named '{name}'") from None


from ..dispatch import apply  # noqa: E402  (the dispatcher needs Op defined first)
