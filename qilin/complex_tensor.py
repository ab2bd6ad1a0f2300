"""Complex tensors as pairs of real numbers.

qilin's tensors hold real (and integer, bool) data only. A `ComplexTensor` wraps a real tensor
whose last dim has size 2 — (real, imaginary), torch.view_as_real's layout — and implements
complex arithmetic on it with real ops. Autograd therefore runs on the real pairs: gradients,
double backward and compilation come from the real ops, and the gradient of a real loss with
respect to the pairs is torch's complex gradient seen through view_as_real.

What the FFT and STFT code needs, and what audio front ends do with a spectrum, is here:
shape queries, indexing and reshaping, + - * /, abs (with torch's zero gradient at 0), angle,
real, imag, conj, sum/mean, numpy(), and view_as_real / view_as_complex. qilin's elementwise
ops (`qilin.abs(z)`, `qilin.exp(z)`) do not take complex input: use the methods (`z.abs()`).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .errors import located
from .ops import creation, elementwise, movement, reduction
from .tensor import Size, Tensor

__all__ = ["ComplexTensor", "view_as_real", "view_as_complex", "complex", "polar"]

_COMPLEX_OF = {dtypes.float32: dtypes.complex64, dtypes.float64: dtypes.complex128}


def _pair_dim(dim: int, ndim: int) -> int:
    """A complex dim as a dim of the pairs (negative dims skip the trailing pair dim)."""
    return dim - 1 if dim < 0 else dim


class ComplexTensor:
    """A complex tensor held as a real tensor of shape (*shape, 2)."""

    __slots__ = ("_pairs",)
    __array_ufunc__ = None  # NumPy scalars defer to our reflected operators

    def __init__(self, pairs: Tensor):
        self._pairs = pairs

    # ----- metadata ----------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._pairs.shape[:-1])

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def ndim(self) -> int:
        return self._pairs.ndim - 1

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self._pairs.numel() // 2

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def dtype(self):
        return _COMPLEX_OF[self._pairs.dtype]

    @property
    def device(self):
        return self._pairs.device

    @property
    def requires_grad(self) -> bool:
        return self._pairs.requires_grad

    def requires_grad_(self, requires_grad: bool = True) -> ComplexTensor:
        self._pairs.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        grad = self._pairs.grad
        return None if grad is None else ComplexTensor(grad)

    def is_complex(self) -> bool:
        return True

    def is_floating_point(self) -> bool:
        return False

    # ----- parts -------------------------------------------------------------------------------
    @property
    def real(self) -> Tensor:
        return movement.select(self._pairs, -1, 0)

    @property
    def imag(self) -> Tensor:
        return movement.select(self._pairs, -1, 1)

    def conj(self) -> ComplexTensor:
        return _from_parts(self.real, elementwise.neg(self.imag))

    def resolve_conj(self) -> ComplexTensor:
        return self  # conjugation is never lazy here

    def is_conj(self) -> bool:
        return False

    def abs(self) -> Tensor:
        """|z|, with gradient 0 at z = 0 (torch's choice) instead of 0/0."""
        squared = reduction.sum(elementwise.mul(self._pairs, self._pairs), -1)
        nonzero = elementwise.gt(squared, 0)
        safe = elementwise.where(nonzero, squared, elementwise.add(squared, 1))
        return elementwise.where(nonzero, elementwise.sqrt(safe), elementwise.mul(squared, 0))

    def angle(self) -> Tensor:
        return elementwise.atan2(self.imag, self.real)

    # ----- arithmetic --------------------------------------------------------------------------
    def __neg__(self) -> ComplexTensor:
        return ComplexTensor(elementwise.neg(self._pairs))

    def __add__(self, other) -> ComplexTensor:
        re, im = _parts(other)
        return _from_parts(elementwise.add(self.real, re), elementwise.add(self.imag, im))

    __radd__ = __add__

    def __sub__(self, other) -> ComplexTensor:
        return self + (-_as_complex(other))

    def __rsub__(self, other) -> ComplexTensor:
        return _as_complex(other) + (-self)

    def __mul__(self, other) -> ComplexTensor:
        a, b = self.real, self.imag
        c, d = _parts(other)
        mul, add, sub = elementwise.mul, elementwise.add, elementwise.sub
        return _from_parts(sub(mul(a, c), mul(b, d)), add(mul(a, d), mul(b, c)))

    __rmul__ = __mul__

    def __truediv__(self, other) -> ComplexTensor:
        other = _as_complex(other)
        denominator = elementwise.add(
            elementwise.mul(other.real, other.real), elementwise.mul(other.imag, other.imag)
        )
        product = self * other.conj()
        return _from_parts(
            elementwise.div(product.real, denominator), elementwise.div(product.imag, denominator)
        )

    def __rtruediv__(self, other) -> ComplexTensor:
        return _as_complex(other) / self

    # ----- shape -------------------------------------------------------------------------------
    def __getitem__(self, key) -> ComplexTensor:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            return ComplexTensor(self._pairs[(*key, slice(None))])
        return ComplexTensor(self._pairs[key])  # trailing dims (the pair) are kept whole

    def reshape(self, *shape) -> ComplexTensor:
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return ComplexTensor(movement.reshape(self._pairs, (*shape, 2)))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> ComplexTensor:
        end = _pair_dim(end_dim, self.ndim)
        return ComplexTensor(movement.flatten(self._pairs, _pair_dim(start_dim, self.ndim), end))

    def permute(self, *dims) -> ComplexTensor:
        dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return ComplexTensor(
            movement.permute(self._pairs, *(d % self.ndim for d in dims), self.ndim)
        )

    def transpose(self, dim0: int, dim1: int) -> ComplexTensor:
        dim0, dim1 = _pair_dim(dim0, self.ndim), _pair_dim(dim1, self.ndim)
        return ComplexTensor(movement.transpose(self._pairs, dim0, dim1))

    def unsqueeze(self, dim: int) -> ComplexTensor:
        return ComplexTensor(movement.unsqueeze(self._pairs, dim % (self.ndim + 1)))

    def squeeze(self, dim: int | None = None) -> ComplexTensor:
        if dim is None:
            pairs = self._pairs
            for d in reversed([d for d, s in enumerate(self.shape) if s == 1]):
                pairs = movement.squeeze(pairs, d)
            return ComplexTensor(pairs)
        return ComplexTensor(movement.squeeze(self._pairs, _pair_dim(dim, self.ndim)))

    def sum(self, dim=None, keepdim: bool = False) -> ComplexTensor:
        return ComplexTensor(reduction.sum(self._pairs, _reduce_dims(dim, self.ndim), keepdim))

    def mean(self, dim=None, keepdim: bool = False) -> ComplexTensor:
        return ComplexTensor(reduction.mean(self._pairs, _reduce_dims(dim, self.ndim), keepdim))

    # ----- copies and conversion ---------------------------------------------------------------
    def clone(self) -> ComplexTensor:
        return ComplexTensor(self._pairs.clone())

    def detach(self) -> ComplexTensor:
        return ComplexTensor(self._pairs.detach())

    def contiguous(self) -> ComplexTensor:
        return self

    def to(self, *args, **kwargs) -> ComplexTensor:
        dtype = kwargs.pop("dtype", None)
        rest = []
        for arg in args:
            if isinstance(arg, dtypes.DType) and dtype is None:
                dtype = arg
            else:
                rest.append(arg)
        pairs = self._pairs.to(*rest, **kwargs) if rest or kwargs else self._pairs
        if dtype is not None:
            if not dtype.is_complex:
                raise located(
                    TypeError(f"a complex tensor converts to complex dtypes, got {dtype}")
                )
            pairs = pairs.to(dtype.to_real())
        return ComplexTensor(pairs)

    def numpy(self) -> np.ndarray:
        pairs = self._pairs.detach().numpy()
        return pairs[..., 0] + 1j * pairs[..., 1]

    def __repr__(self) -> str:
        values = np.array2string(self.numpy(), precision=4, separator=", ", prefix="tensor(")
        grad = ", requires_grad=True" if self.requires_grad else ""
        dtype = "" if self.dtype is dtypes.complex64 else f", dtype={self.dtype}"
        return f"tensor({values}{dtype}{grad})"


def _reduce_dims(dim, ndim: int):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(d % ndim for d in dims)


def _parts(value):
    """(real, imaginary) of a complex tensor, a real tensor or a Python number."""
    if isinstance(value, ComplexTensor):
        return value.real, value.imag
    if isinstance(value, Tensor):
        return value, 0.0
    if isinstance(value, numbers.Number):
        value = builtin_complex(value)
        return value.real, value.imag
    raise located(TypeError(f"expected a tensor or a number, got {type(value).__name__}"))


def _as_complex(value) -> ComplexTensor:
    if isinstance(value, ComplexTensor):
        return value
    re, im = _parts(value)
    if not isinstance(re, Tensor):
        re = creation.tensor(re)
    return _from_parts(re, elementwise.add(elementwise.mul(re, 0), im))


def _from_parts(real, imag) -> ComplexTensor:
    real, imag = movement.broadcast_tensors(real, imag)
    return ComplexTensor(movement.stack([real, imag], -1))


builtin_complex = complex


def view_as_real(input: ComplexTensor) -> Tensor:
    """The (..., 2) real tensor of (real, imaginary) pairs behind `input`."""
    if not isinstance(input, ComplexTensor):
        raise located(
            RuntimeError(f"view_as_real is only supported for complex tensors, got {input.dtype}")
        )
    return input._pairs


def view_as_complex(input: Tensor) -> ComplexTensor:
    """A complex tensor over a float32/float64 tensor whose last dim is (real, imaginary)."""
    if input.dtype not in _COMPLEX_OF:
        raise located(
            RuntimeError(
                f"view_as_complex is only supported for float and double tensors, but got a "
                f"tensor of scalar type: {input.dtype.name}"
            )
        )
    if input.ndim == 0 or input.shape[-1] != 2:
        raise located(
            RuntimeError(
                f"Tensor must have a last dimension of size 2, got shape {tuple(input.shape)}"
            )
        )
    return ComplexTensor(input)


def complex(real: Tensor, imag: Tensor) -> ComplexTensor:  # noqa: A001
    """real + i imag (torch.complex): both float32 or both float64."""
    if real.dtype is not imag.dtype or real.dtype not in _COMPLEX_OF:
        raise located(
            RuntimeError(
                f"complex: expected both inputs to be float32 or float64 of one dtype, got "
                f"{real.dtype.name} and {imag.dtype.name}"
            )
        )
    return _from_parts(real, imag)


def polar(abs: Tensor, angle: Tensor) -> ComplexTensor:  # noqa: A002
    """abs (cos angle + i sin angle) (torch.polar)."""
    return complex(
        elementwise.mul(abs, elementwise.cos(angle)), elementwise.mul(abs, elementwise.sin(angle))
    )
