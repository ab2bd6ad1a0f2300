"""Matrix products: matmul (the library primitive, lowered to BLAS) and the torch functions
built on it (mm, bmm, mv, dot, outer, addmm, baddbmm, tensordot, einsum), plus the top-level
torch spellings of the linear-algebra functions (inverse, det, svd returning V, ...), which call
the primitives in decompositions.py and the composites in qilin.linalg."""

from __future__ import annotations

import math

from .. import dtypes
from ..dispatch import write_out
from ..errors import located
from ..tensor import Tensor
from .elementwise import where
from .families import broadcast_shapes, define, unbroadcast
from .registry import Spec

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "inner",
    "outer",
    "ger",
    "addmm",
    "addmv",
    "addbmm",
    "baddbmm",
    "tensordot",
    "einsum",
    "kron",
    "chain_matmul",
    "trace",
    "inverse",
    "det",
    "logdet",
    "slogdet",
    "cholesky",
    "cholesky_solve",
    "cholesky_inverse",
    "qr",
    "svd",
    "pinverse",
    "matrix_power",
    "cross",
]


def _matmul_meta(a, b):
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise RuntimeError("matmul primitive expects inputs with at least 2 dimensions")
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {a.dtype.name} != {b.dtype.name}"
        )
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied: the inner "
            f"sizes {a.shape[-1]} and {b.shape[-2]} differ"
        )
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
    except RuntimeError:
        raise RuntimeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied: the batch "
            f"dimensions {tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} cannot be broadcast "
            "(sizes must match or be 1)"
        ) from None
    return Spec(batch + (a.shape[-2], b.shape[-1]), a.dtype)


def _matmul_kernel(xp, a, b):
    # NumPy's matmul takes a slow non-BLAS loop for some 2-D layouts (an outer product, as in
    # the weight gradient at batch 1, runs 5x slower); dot always calls BLAS gemm.
    if a.ndim == 2 and b.ndim == 2:
        return xp.dot(a, b)
    if b.ndim == 2 and a.ndim > 2 and a.size:
        # A batch of rows times one matrix (every Linear on a sequence): one gemm over all
        # rows runs twice as fast as matmul's loop over the batch.
        rows = xp.dot(a.reshape(-1, a.shape[-1]), b)
        return rows.reshape(a.shape[:-1] + (b.shape[-1],))
    return xp.matmul(a, b)


def _matmul_vjp(node, g):
    a, b = node.inputs
    grad_a = grad_b = None
    if node.needs_grad[0]:
        grad_a = unbroadcast(MATMUL(g, b.mT), tuple(a.shape))
    if node.needs_grad[1]:
        if b.ndim == 2 and a.ndim > 2:
            # A weight shared across a batch (Linear on a sequence): one 2-D gemm over all rows
            # instead of a batched matmul and a sum, 4-6x less work for the same numbers.
            grad_b = MATMUL(a.reshape(-1, a.shape[-1]).mT, g.reshape(-1, g.shape[-1]))
        else:
            grad_b = unbroadcast(MATMUL(a.mT, g), tuple(b.shape))
    return grad_a, grad_b


MATMUL = define(
    "matmul",
    meta=_matmul_meta,
    kernel=_matmul_kernel,
    vjp=_matmul_vjp,
    family="library",
    lowering={"library": "gemm"},
)


def _linear_meta(x, weight, bias):
    if len(weight.shape) != 2 or not x.shape or x.shape[-1] != weight.shape[1]:
        rows = math.prod(x.shape[:-1]) if x.shape else 1
        features = x.shape[-1] if x.shape else 1
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{features} and "
            f"{weight.shape[-1]}x{weight.shape[0]}): input of shape {tuple(x.shape)} has "
            f"{features} features, weight of shape {tuple(weight.shape)} expects {weight.shape[-1]}"
        )
    dtypes_given = [x.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
    if any(dtype is not x.dtype for dtype in dtypes_given):
        names = ", ".join(dtype.name for dtype in dtypes_given)
        raise RuntimeError(f"linear: expected input, weight and bias of one dtype, got {names}")
    if bias is not None and tuple(bias.shape) not in ((), (weight.shape[0],)):
        raise RuntimeError(
            f"linear: bias of shape {tuple(bias.shape)} does not match {weight.shape[0]} outputs"
        )
    return Spec(tuple(x.shape[:-1]) + (weight.shape[0],), x.dtype)


def _rows(x):
    """(*, n) -> (prod(*), n): every leading dim is a batch of rows."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _linear_kernel(xp, x, weight, bias):
    out = xp.dot(_rows(x), weight.T)  # one gemm over all rows, a fresh C-ordered result
    if bias is not None:
        out += bias
    return out.reshape(x.shape[:-1] + (weight.shape[0],))


def _linear_vjp(node, g):
    x, weight, bias = node.inputs
    need_x, need_weight, need_bias = node.needs_grad
    rows = _rows(g)
    grad_x = MATMUL(rows, weight).reshape(tuple(x.shape)) if need_x else None
    # g^T x is (out, in) in C order, the layout of the weight: accumulating it needs no copy
    grad_weight = MATMUL(rows.mT, _rows(x)) if need_weight else None
    grad_bias = None
    if bias is not None and need_bias:
        grad_bias = rows.sum(0) if bias.ndim else rows.sum()
    return grad_x, grad_weight, grad_bias


LINEAR = define(
    "linear",
    meta=_linear_meta,
    kernel=_linear_kernel,
    vjp=_linear_vjp,
    family="library",
    eager_check=True,
    lowering={"library": "gemm"},
    doc="x @ weight.T + bias over the rows of x: (*, in) x (out, in) -> (*, out).",
)


def matmul(input, other, *, out=None):
    """torch.matmul for every rank combination: 1-D operands are promoted and squeezed back."""
    if (
        out is None
        and isinstance(input, Tensor)
        and isinstance(other, Tensor)
        and input._data.ndim >= 2
        and other._data.ndim >= 2
        and input._data.dtype == other._data.dtype
    ):
        return MATMUL(input, other)  # the common case: nothing to promote or check here
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise located(
                TypeError(f"matmul(): argument '{name}' must be Tensor, not {type(value).__name__}")
            )
        if value.ndim == 0:
            raise located(
                RuntimeError(
                    f"both arguments to matmul need to be at least 1D, but they are "
                    f"{input.ndim}D and {other.ndim}D"
                )
            )
    if input.ndim == 1 and other.ndim == 1:
        if input.shape[0] != other.shape[0]:
            raise located(
                RuntimeError(
                    f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                    f"[{other.shape[0]}] to have the same number of elements, but got "
                    f"{input.shape[0]} and {other.shape[0]} elements respectively"
                )
            )
    _check_inner_sizes("matmul", input, other)
    a = input.unsqueeze(0) if input.ndim == 1 else input
    b = other.unsqueeze(-1) if other.ndim == 1 else other
    if a.dtype is not b.dtype:
        raise located(
            RuntimeError(
                "expected m1 and m2 to have the same dtype, but got: "
                f"{a.dtype.name} != {b.dtype.name}"
            )
        )
    result = MATMUL(a, b)
    if input.ndim == 1:
        result = result.squeeze(-2)
    if other.ndim == 1:
        result = result.squeeze(-1)
    return write_out(result, out)


def _require_dims(name, value, ndim, argument):
    if value.ndim != ndim:
        raise located(
            RuntimeError(
                f"{name}: {argument} must be a {ndim}D tensor, got a {value.ndim}D "
                f"tensor of shape {list(value.shape)}"
            )
        )


def _check_inner_sizes(name, input, other):
    """The user's own shapes in the message (matmul's primitive sees 1-D operands as 2-D)."""
    inner = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if input.shape[-1] != inner:
        raise located(
            RuntimeError(
                f"{name}: shapes {tuple(input.shape)} and {tuple(other.shape)} cannot be "
                f"multiplied: the inner sizes {input.shape[-1]} and {inner} differ"
            )
        )


def mm(input, mat2):
    _require_dims("mm", input, 2, "self")
    _require_dims("mm", mat2, 2, "mat2")
    _check_inner_sizes("mm", input, mat2)
    return matmul(input, mat2)


def bmm(input, mat2):
    _require_dims("bmm", input, 3, "batch1")
    _require_dims("bmm", mat2, 3, "batch2")
    if input.shape[0] != mat2.shape[0]:
        raise located(
            RuntimeError(
                f"bmm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} cannot be multiplied: "
                f"the batch sizes {input.shape[0]} and {mat2.shape[0]} differ"
            )
        )
    _check_inner_sizes("bmm", input, mat2)
    return matmul(input, mat2)


def mv(input, vec):
    _require_dims("mv", input, 2, "input")
    _require_dims("mv", vec, 1, "vec")
    _check_inner_sizes("mv", input, vec)
    return matmul(input, vec)


def dot(input, other):
    _require_dims("dot", input, 1, "input")
    _require_dims("dot", other, 1, "other")
    if input.dtype is not other.dtype:
        raise located(
            RuntimeError(
                f"dot : expected both vectors to have same dtype, but found "
                f"{input.dtype.name} and {other.dtype.name}"
            )
        )
    return matmul(input, other)


vdot = dot


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, dims=([-1], [-1]))


def outer(input, vec2):
    for name, value in (("self", input), ("vec2", vec2)):
        if value.ndim != 1:
            raise located(
                RuntimeError(f"outer: Expected 1-D argument {name}, but got {value.ndim}-D")
            )
    return input.unsqueeze(-1) * vec2.unsqueeze(0)


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def _scaled_sum(input, product, beta, alpha):
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        # torch never reads `input` when beta is 0 (its nan and inf do not leak in), but still
        # broadcasts against it and gives it a zero gradient: a where() that never picks it.
        return product + where(False, input, 0)
    return (input * beta if beta != 1 else input) + product


def tensordot(a, b, dims=2):
    """Contract `dims` trailing axes of `a` with leading axes of `b` (or the listed axes)."""
    if isinstance(dims, int):
        axes_a = list(range(a.ndim - dims, a.ndim))
        axes_b = list(range(dims))
    else:
        axes_a, axes_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    axes_a = [d % a.ndim for d in axes_a]
    axes_b = [d % b.ndim for d in axes_b]
    for da, db in zip(axes_a, axes_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"tensordot: contracted dimensions need to match, but first has "
                f"size {a.shape[da]} in dim {da} and second has size "
                f"{b.shape[db]} in dim {db}"
            )
    free_a = [d for d in range(a.ndim) if d not in axes_a]
    free_b = [d for d in range(b.ndim) if d not in axes_b]
    size = 1
    for d in axes_a:
        size *= a.shape[d]
    left = a.permute(free_a + axes_a).reshape(-1, size)
    right = b.permute(axes_b + free_b).reshape(size, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return matmul(left, right).reshape(shape)


def _einsum_meta(*operands, equation):
    inputs, output = _parse_einsum(equation, [len(o.shape) for o in operands])
    sizes = {}
    for spec, operand in zip(inputs, operands):
        if len(spec) != len(operand.shape):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(spec)}) "
                f"does not match the number of dimensions ({len(operand.shape)}) "
                "for an operand"
            )
        for letter, size in zip(spec, operand.shape):
            if sizes.setdefault(letter, size) != size and size != 1 and sizes[letter] != 1:
                raise RuntimeError(
                    f"einsum(): operands do not broadcast with remapped shapes: "
                    f"subscript '{letter}' has sizes {sizes[letter]} and {size}"
                )
            sizes[letter] = size if sizes[letter] == 1 else sizes[letter]
    return Spec(tuple(sizes[letter] for letter in output), dtypes.result_type(*operands))


def _parse_einsum(equation: str, ranks: list) -> tuple:
    """Expand '...' and an implicit output: returns ([input subscripts], output subscripts)."""
    equation = equation.replace(" ", "")
    left, arrow, right = equation.partition("->")
    inputs = left.split(",")
    used = set(equation) - set(",.->")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    ellipsis_rank = max(
        (rank - len(spec.replace("...", "")) for spec, rank in zip(inputs, ranks) if "..." in spec),
        default=0,
    )
    broadcast = "".join(spare[:ellipsis_rank])
    expanded = []
    for spec, rank in zip(inputs, ranks):
        if "..." in spec:
            count = rank - len(spec.replace("...", ""))
            spec = spec.replace("...", broadcast[ellipsis_rank - count :])
        expanded.append(spec)
    if arrow:
        output = right.replace("...", broadcast)
    else:
        letters = "".join(expanded)
        output = broadcast + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in broadcast)
        )
    return expanded, output


def _einsum_kernel(xp, *operands, equation):
    inputs, output = _parse_einsum(equation, [o.ndim for o in operands])
    dtype = dtypes.result_type(*operands).numpy
    operands = [o.astype(dtype, copy=False) for o in operands]
    return xp.einsum(",".join(inputs) + "->" + output, *operands, optimize=len(operands) > 2)


def _einsum_vjp(node, g):
    """The gradient of operand i contracts g with the other operands onto i's subscripts."""
    operands = node.inputs
    inputs, output = _parse_einsum(node.attrs["equation"], [o.ndim for o in operands])
    grads = []
    for i, spec in enumerate(inputs):
        if not node.needs_grad[i]:
            grads.append(None)
            continue
        if len(set(spec)) != len(spec):
            raise RuntimeError(
                f"einsum backward: repeated subscripts within one operand "
                f"('{spec}') are not differentiable yet; take the diagonal "
                "explicitly"
            )
        others = [(s, o) for j, (s, o) in enumerate(zip(inputs, operands)) if j != i]
        available = set(output).union(*(set(s) for s, _ in others))
        kept = "".join(c for c in spec if c in available)
        equation = ",".join([output] + [s for s, _ in others]) + "->" + kept
        grad = EINSUM(g, *(o for _, o in others), equation=equation)
        if kept != spec:  # letters only in this operand were summed: broadcast them back
            sizes = [operands[i].shape[spec.index(c)] for c in spec]
            shape = [size if c not in kept else 1 for c, size in zip(spec, sizes)]
            grad = grad.reshape([size if c in kept else 1 for c, size in zip(spec, sizes)])
            grad = grad.expand([max(a, b) for a, b in zip(shape, grad.shape)])
        grads.append(unbroadcast(grad, tuple(operands[i].shape)))
    return tuple(grads)


EINSUM = define(
    "einsum",
    meta=_einsum_meta,
    kernel=_einsum_kernel,
    vjp=_einsum_vjp,
    family="library",
    eager_check=True,
    lowering={"library": "einsum"},
)


def einsum(*args):
    """`einsum('ij,jk->ik', a, b)`, or torch's sublist form `einsum(a, [0, 1], b, [1, 2], [0, 2])`
    (subscripts 0-51 and Ellipsis), which is translated to the equation string."""
    if args and not isinstance(args[0], str):
        equation, operands = _sublist_equation(args)
    else:
        equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return EINSUM(*operands, equation=equation)


_SUBSCRIPT_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # torch's 0..51


def _sublist_equation(args: tuple) -> tuple:
    """(op1, sub1, op2, sub2, ..., [out]) -> ('AB,BC->AC', (op1, op2))."""
    operands = args[0::2][: len(args) // 2]
    sublists = args[1::2]
    output = args[-1] if len(args) % 2 else None
    for index, operand in enumerate(operands):
        if not hasattr(operand, "shape"):
            raise TypeError(
                f"einsum(): expected a tensor as argument {2 * index} in the sublist format "
                f"(operand, subscripts, ...), but got {type(operand).__name__}"
            )
    inputs = ",".join(_sublist_letters(sublist) for sublist in sublists)
    if output is None:
        return inputs, operands
    return inputs + "->" + _sublist_letters(output), operands


def _sublist_letters(sublist) -> str:
    if not isinstance(sublist, (list, tuple)):
        raise TypeError(
            "einsum(): expected a list of subscripts (ints in [0, 52) or Ellipsis) after each "
            f"operand in the sublist format, but got {type(sublist).__name__}"
        )
    letters = []
    for subscript in sublist:
        if subscript is Ellipsis:
            letters.append("...")
        elif isinstance(subscript, int) and 0 <= subscript < 52:
            letters.append(_SUBSCRIPT_LETTERS[subscript])
        else:
            raise ValueError(
                "einsum(): subscript in subscript list is not within the valid range [0, 52) "
                f"(got {subscript!r})"
            )
    return "".join(letters)


def kron(input, other):
    # the operand with fewer dims gets leading size-1 dims, as torch and numpy do
    ndim = max(input.dim(), other.dim())
    input = input.reshape([1] * (ndim - input.dim()) + list(input.shape))
    other = other.reshape([1] * (ndim - other.dim()) + list(other.shape))
    a = input.reshape([s for d in input.shape for s in (d, 1)])
    b = other.reshape([s for d in other.shape for s in (1, d)])
    return (a * b).reshape([x * y for x, y in zip(input.shape, other.shape)])


def chain_matmul(*matrices):
    result = matrices[0]
    for matrix in matrices[1:]:
        result = matmul(result, matrix)
    return result


def trace(input):
    _require_dims("trace", input, 2, "input")
    return input.diagonal().sum()


# ----- the top-level torch spellings of torch.linalg functions ---------------------------------
def inverse(input, *, out=None):
    return decompositions.inv(input, out=out)


def det(input):
    return decompositions.det(input)


def slogdet(input):
    sign, logabsdet = decompositions.SLOGDET(input)
    from .indexing import ReturnTypes

    return ReturnTypes("slogdet", sign=sign, logabsdet=logabsdet)


def logdet(input):
    """log(det(A)): nan where the determinant is negative, -inf where it is zero."""
    from .creation import full_like
    from .elementwise import where

    sign, logabsdet = decompositions.SLOGDET(input)
    return where(sign < 0, full_like(logabsdet, float("nan")), logabsdet)


def cholesky(input, upper=False, *, out=None):
    return decompositions.cholesky(input, upper=upper, out=out)


def _gram(factor, upper):
    """A = L L^T from its Cholesky factor (U^T U when upper)."""
    return factor.mT @ factor if upper else factor @ factor.mT


def cholesky_solve(input, input2, upper=False):
    """X with A X = B, where B = input and A is given by its Cholesky factor input2."""
    return decompositions.solve(_gram(input2, upper), input)


def cholesky_inverse(input, upper=False):
    return decompositions.inv(_gram(input, upper))


def qr(input, some=True):
    Q, R = decompositions.QR(input, mode="reduced" if some else "complete")
    from .indexing import ReturnTypes

    return ReturnTypes("qr", Q=Q, R=R)


def svd(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V (not V^T); zero U and V when compute_uv=False."""
    from .creation import zeros
    from .indexing import ReturnTypes

    if not compute_uv:
        S = decompositions.svdvals(input)
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        return ReturnTypes(
            "svd",
            U=zeros(batch + (m, m), dtype=input.dtype, device=input.device),
            S=S,
            V=zeros(batch + (n, n), dtype=input.dtype, device=input.device),
        )
    U, S, Vh = decompositions.SVD(input, full_matrices=not some)
    return ReturnTypes("svd", U=U, S=S, V=Vh.mT)


def pinverse(input, rcond=1e-15):
    from ..linalg import pinv

    return pinv(input, rtol=rcond)


def matrix_power(input, n):
    from ..linalg import matrix_power as power

    return power(input, n)


def cross(input, other, dim=None):
    """torch.cross: without `dim`, the first dimension of size 3 (torch's deprecated default)."""
    from ..linalg import cross as linalg_cross

    if dim is None:
        from .families import broadcast_shapes

        shape = broadcast_shapes(tuple(input.shape), tuple(other.shape), op="cross")
        dim = next((axis for axis, size in enumerate(shape) if size == 3), None)
        if dim is None:
            raise RuntimeError(
                f"no dimension of size 3 in input (shapes {tuple(input.shape)} and "
                f"{tuple(other.shape)})"
            )
    return linalg_cross(input, other, dim=dim)


from . import decompositions  # noqa: E402  (it builds on matmul, defined above)
