"""The eager Tensor: a backend array plus what autograd needs to know about it.

This module holds the data model only (storage, dtype, device, autograd identity, conversion
and printing). Math methods are bound from the op modules in `tensor_methods.py`, so that
every op is defined once, in `qilin/ops/`.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .device import CPU, Device
from .errors import located

__all__ = ["Tensor", "is_tensor"]


class Tensor:
    """A multi-dimensional array on a device, optionally tracked by autograd."""

    __slots__ = (
        "_data",  # backend array (numpy.ndarray on the CPU)
        "_device",
        "_requires_grad",
        "_node",  # the autograd Node that produced this tensor, None for leaves
        "_out_index",  # which output of `_node` this tensor is
        "_base",  # the tensor this one is a view of
        "__dict__",  # the rarely set attributes below, so that making a tensor sets only six
        "__weakref__",
    )
    # Class-level defaults, shadowed per tensor only when set (keeps the dispatcher's
    # constructor short: most tensors never get any of these).
    _grad = None
    _version_counter = None  # [int] shared with views; None until first needed
    _retains_grad = False
    _accumulator = None  # leaves: the AccumulateGrad node, created on first use
    _view = None  # views: (chain of view ops from _base, version when its history was set)

    # Make NumPy defer to Tensor's reflected operators (np.float32(2) * t -> Tensor).
    __array_ufunc__ = None

    def __new__(cls, *args, **kwargs):
        """`qilin.Tensor(data)` builds a float tensor, as torch.Tensor does."""
        if cls is Tensor:
            from .ops.creation import legacy_tensor

            return legacy_tensor(*args, **kwargs)
        return super().__new__(cls)

    # ----- identity and metadata -------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy(self._data.dtype)

    @property
    def device(self) -> Device:
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of this tensor's elements (a view counts only its own)."""
        return int(self._data.size) * self._data.itemsize

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (torch's convention)."""
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    # Dense, strided, unquantized, with real storage: the flags scripts check before acting.
    is_sparse = False
    is_quantized = False
    is_meta = False

    def is_floating_point(self) -> bool:
        return self._data.dtype in dtypes.FLOATING_NUMPY

    def is_complex(self) -> bool:
        return False

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        itemsize = self._data.itemsize
        strides = tuple(s // itemsize for s in self._data.strides)
        if self._data.size == 0:  # NumPy gives empty arrays zero strides; torch row-major ones
            import math

            shape = self._data.shape
            strides = tuple(math.prod(max(n, 1) for n in shape[i + 1 :]) for i in range(len(shape)))
        return strides if dim is None else strides[_normalize_dim(dim, self._data.ndim, "stride")]

    def data_ptr(self) -> int:
        return (
            int(self._data.__array_interface__["data"][0])
            if self._device is CPU
            else int(self._data.data.ptr)
        )

    def storage_offset(self) -> int:
        root = self._data
        while isinstance(getattr(root, "base", None), np.ndarray):
            root = root.base
        if not isinstance(root, np.ndarray):
            return 0
        return (self.data_ptr() - int(root.__array_interface__["data"][0])) // self._data.itemsize

    def untyped_storage_id(self) -> int:
        """An identity shared by a tensor and all its views (for tests and debugging)."""
        root = self._data
        while getattr(root, "base", None) is not None:
            root = root.base
        return id(root)

    def _is_view(self) -> bool:
        return self._base is not None

    @property
    def _version(self) -> int:
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    def _bump_version(self) -> None:
        counter = self._version_counter
        if counter is None:
            self._version_counter = [1]
        else:
            counter[0] += 1

    # ----- autograd identity -----------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables; to use a "
                    "non-leaf tensor without gradient, use tensor.detach()"
                )
            return
        if value and not self.is_floating_point():
            raise located(
                RuntimeError(
                    f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
                )
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def grad(self) -> Tensor | None:
        if self._node is not None and not self._retains_grad and self._requires_grad:
            import warnings

            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None, got {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: expected {list(self.shape)}, "
                    f"got {list(value.shape)}"
                )
            if value.dtype is not self.dtype:
                raise RuntimeError(
                    "assigned grad has data of a different type: expected "
                    f"{self.dtype}, got {value.dtype}"
                )
        self._grad = value

    def retain_grad(self) -> None:
        """Keep `.grad` for a non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is None or self._retains_grad:
            return
        self._retains_grad = True
        self._node.add_retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; it may return a new grad."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.graph import accumulator_of

        target = self._node if self._node is not None else accumulator_of(self)
        return target.add_tensor_hook(self._out_index, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(tensor)` after a gradient has been accumulated into this leaf's `.grad`."""
        if self._node is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.graph import accumulator_of

        return accumulator_of(self).add_post_hook(hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        from .autograd import backward

        backward(
            self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs
        )

    def detach(self) -> Tensor:
        """A tensor sharing storage (and version counter) with this one, outside autograd."""
        out = _wrap(self._data, self._device)
        out._version_counter = self._shared_version_counter()
        out._base = self._base if self._base is not None else None
        return out

    def detach_(self) -> Tensor:
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError(
                "can't detach_() a view of a tensor that requires grad; use detach()"
            )
        self._node, self._requires_grad = None, False
        return self

    def _shared_version_counter(self) -> list:
        if self._version_counter is None:
            self._version_counter = [0]
        return self._version_counter

    @property
    def data(self) -> Tensor:
        return _wrap(self._data, self._device)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}")
        self._data, self._device = value._data, value._device

    # ----- conversion ------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The tensor's memory as a NumPy array (shared, not copied, on the CPU)."""
        if self._requires_grad and not force:
            raise located(
                RuntimeError(
                    "Can't call numpy() on Tensor that requires grad. "
                    "Use tensor.detach().numpy() instead."
                )
            )
        if self._device is not CPU:
            if not force:
                raise TypeError(
                    f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return self._device.backend.to_host(self._data)
        data = self._data
        if not isinstance(data, np.ndarray):  # a traced tensor's placeholder raises (compiler)
            return np.asarray(data)
        return data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy(force=True)
        return array if dtype is None else array.astype(dtype, copy=False)

    def item(self):
        if self._data.size != 1:
            raise located(
                RuntimeError(
                    f"a Tensor with {self._data.size} elements cannot be converted to Scalar (its "
                    f"shape is {list(self._data.shape)}; item() needs exactly one element)"
                )
            )
        return self._host().reshape(()).item()

    def tolist(self):
        return self._host().tolist()

    def _host(self) -> np.ndarray:
        return self._data if self._device is CPU else self._device.backend.to_host(self._data)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise located(
                RuntimeError(
                    f"Boolean value of Tensor with {self._data.size} values is ambiguous; "
                    "use .any() or .all()"
                )
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def _scalar(self):
        if self._data.size != 1:
            raise located(
                ValueError(
                    f"only one element tensors can be converted to Python scalars (got "
                    f"a tensor of shape {list(self._data.shape)})"
                )
            )
        return self.item()

    def __index__(self) -> int:
        if self._data.dtype.kind not in "biu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol):
        # Pickling (used by DataLoader workers) carries the values, dtype and requires_grad.
        return (_rebuild, (self._host().copy(), str(self._device), self._requires_grad))

    def __deepcopy__(self, memo):
        if self._node is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment"
            )
        out = _wrap(self._data.copy(), self._device, self._requires_grad)
        if type(self) is not Tensor:
            out = type(self).__new__(type(self), out, self._requires_grad)
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out

    def __repr__(self) -> str:
        from .printing import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return repr(self)


class Size(tuple):
    """A tensor's shape: a tuple of ints with torch.Size's repr and numel()."""

    def numel(self) -> int:
        count = 1
        for size in self:
            count *= size
        return count

    def __repr__(self) -> str:
        return f"qilin.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, key):
        result = tuple.__getitem__(self, key)
        return Size(result) if isinstance(key, slice) else result

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


def _wrap(data, device: Device = CPU, requires_grad: bool = False) -> Tensor:
    """Make a Tensor around a backend array without copying (the dispatcher's constructor)."""
    t = object.__new__(Tensor)
    t._data = data
    t._device = device
    t._requires_grad = requires_grad
    t._node = None
    t._out_index = 0
    t._base = None
    return t


def _rebuild(array, device, requires_grad):
    from .ops.creation import tensor

    return tensor(array, device=device, requires_grad=requires_grad)


def _normalize_dim(dim: int, ndim: int, op: str = "") -> int:
    """Map a possibly negative dim into [0, ndim), with torch's IndexError when out of range."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise located(
            IndexError(
                f"{op + ': ' if op else ''}Dimension out of range (expected to be in range of "
                f"[{-bound}, {bound - 1}], but got {dim})"
            )
        )
    return dim % bound


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)
