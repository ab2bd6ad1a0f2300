"""Parameter: a Tensor that a Module registers as a learnable weight; Buffer: one it registers as
state (BatchNorm's running mean) that is saved but not learned.

    layer.weight = nn.Parameter(qilin.randn(3, 2))   # appears in layer.parameters()
    layer.steps = nn.Buffer(qilin.zeros(()))          # appears in layer.buffers()
"""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf tensor sharing `data`'s storage (and version counter), with requires_grad set.

    Grad mode does not matter: a Parameter made under `no_grad` still requires grad, as in torch.
    Math on a Parameter returns plain Tensors (the dispatcher builds plain outputs).
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..ops.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(data) expects a Tensor, got {type(data).__name__}; wrap it with "
                "qilin.tensor(...) first"
            )
        param = object.__new__(cls)
        param._data = data._data
        param._device = data._device
        param._requires_grad = False
        param._node = None
        param._out_index = 0
        param._base = None
        param._version_counter = data._shared_version_counter()
        param.requires_grad = requires_grad  # the setter refuses integer tensors, as torch does
        return param

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        # torch copies the values and requires_grad of a Parameter, not its .grad.
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        # The values travel as a plain Tensor (see Tensor.__reduce_ex__); pickle's memo keeps a
        # Parameter shared by two modules shared after loading.
        return (_rebuild_parameter, (type(self), self.detach(), self._requires_grad))


def _rebuild_parameter(cls, data: Tensor, requires_grad: bool) -> Parameter:
    return cls(data, requires_grad)


class _BufferMeta(type):
    """`isinstance(t, Buffer)` is true for the plain tensors that `Buffer(...)` returns."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor as a module buffer when assigned as an attribute (torch.nn.Buffer).

    `Buffer(data, persistent=True)` returns a detached plain Tensor sharing `data`'s storage, with
    a `persistent` flag that says whether `state_dict()` includes it.
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from ..ops.creation import empty

            data = empty(0)
        tensor = data.detach()
        tensor._requires_grad = data.requires_grad
        tensor.persistent = persistent
        tensor._is_buffer = True
        return tensor
