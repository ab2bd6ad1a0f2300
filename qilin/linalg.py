"""qilin.linalg: the torch.linalg namespace.

Inverses, solvers and decompositions are primitives (ops/decompositions.py); everything else
here (norms, pinv, matrix_power, matrix_rank, multi_dot, lstsq, ...) is composed from them and
from the elementwise and reduction ops, so gradients come for free.
"""

from __future__ import annotations

import math

from . import dtypes
from .autograd.grad_mode import no_grad
from .ops import movement, reduction
from .ops.decompositions import (
    SOLVE,
    LinAlgError,
    check_matrix,
    cholesky,
    det,
    eigh,
    eigvalsh,
    inv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
)
from .ops.elementwise import where
from .ops.indexing import ReturnTypes
from .ops.linalg import matmul
from .tensor import Tensor

__all__ = [
    "LinAlgError",
    "norm",
    "vector_norm",
    "matrix_norm",
    "inv",
    "inv_ex",
    "solve",
    "solve_triangular",
    "det",
    "slogdet",
    "cholesky",
    "cholesky_ex",
    "qr",
    "svd",
    "svdvals",
    "eigh",
    "eigvalsh",
    "pinv",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "cross",
    "vecdot",
    "lstsq",
    "cond",
    "diagonal",
    "matmul",
]


def _require_float(name: str, x) -> None:
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {x.dtype.name}"
        )


# ----- norms ---------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """(sum |x|^ord)^(1/ord) over `dim` (all elements by default); ord may be +-inf or 0."""
    if dtype is not None:
        x = x.to(dtype)
    _require_float("linalg.vector_norm", x)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got '{ord}'")
    dims = (dim,) if isinstance(dim, int) else (tuple(dim) if dim is not None else None)
    if ord == math.inf:
        return reduction.amax(x.abs(), dims if dims is not None else (), keepdim)
    if ord == -math.inf:
        return reduction.amin(x.abs(), dims if dims is not None else (), keepdim)
    if ord == 0:  # the number of nonzero entries: piecewise constant, no gradient
        return reduction.sum((x != 0).to(x.dtype), dims, keepdim)
    if ord == 1:
        return reduction.sum(x.abs(), dims, keepdim)
    if ord == 2:
        return reduction.sum(x * x, dims, keepdim).sqrt()
    return reduction.sum(x.abs() ** ord, dims, keepdim) ** (1.0 / ord)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """'fro', 'nuc', 2 / -2 (largest / smallest singular value), 1 / -1 (max / min column
    sum of |A|), inf / -inf (max / min row sum) over the two dimensions in `dim`."""
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
        )
    _require_float("linalg.matrix_norm", A)
    if len(tuple(dim)) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
    rows, columns = (d % A.ndim for d in dim)
    if rows == columns:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({rows}, {columns})")
    if ord == "fro":
        return vector_norm(A, 2, (rows, columns), keepdim)
    if ord in ("nuc", 2, -2):
        values = svdvals(movement.movedim(A, (rows, columns), (-2, -1)))
        if ord == "nuc":
            result = values.sum(-1)
        else:
            result = reduction.amax(values, -1) if ord == 2 else reduction.amin(values, -1)
        if keepdim:
            for axis in sorted((rows, columns)):
                result = result.unsqueeze(axis)
        return result
    if ord in (1, -1, math.inf, -math.inf):
        summed, reduced = (rows, columns) if ord in (1, -1) else (columns, rows)
        sums = reduction.sum(A.abs(), summed, True)
        extreme = reduction.amax if ord > 0 else reduction.amin
        result = extreme(sums, reduced, True)
        return result if keepdim else result.squeeze((rows, columns))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector norm over one dim (or all, when dim and ord are None), a matrix norm over two."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        if isinstance(ord, str):
            raise RuntimeError(
                f"linalg.norm: ord '{ord}' is a matrix norm, but dim {dims} names one dimension"
            )
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(
        f"linalg.norm: If dim is not specified but ord is, the input must be 1D or "
        f"2D. Got {A.ndim}D."
    )


def cond(A, p=None):
    """The condition number: the ratio of extreme singular values, or norm(A) norm(A^-1)."""
    if p is None or p in (2, -2):
        values = svdvals(A)
        ratio = values[..., 0] / values[..., -1]
        return 1 / ratio if p == -2 else ratio
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# ----- inverses and solvers ------------------------------------------------------------------
def _per_matrix(function, A, info_of):
    """After a batched failure: (results with NaN where a matrix failed, info per matrix)."""
    from .ops.creation import full_like, tensor

    flat = A.reshape((-1,) + tuple(A.shape[-2:]))
    results, info = [], []
    for matrix in movement.unbind(flat, 0):
        try:
            results.append(function(matrix))
            info.append(0)
        except LinAlgError:
            results.append(full_like(matrix, math.nan))
            info.append(info_of(matrix))
    shape = tuple(A.shape[:-2])
    return (
        movement.stack(results).reshape(tuple(A.shape)),
        tensor(info, dtype=dtypes.int32, device=A.device).reshape(shape),
    )


def _info_ok(A):
    from .ops.creation import zeros

    return zeros(tuple(A.shape[:-2]), dtype=dtypes.int32, device=A.device)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info): info is 0 where the matrix was inverted and positive where it is
    singular (that matrix's inverse is then NaN); raises only when check_errors=True."""
    try:
        return ReturnTypes("linalg_inv_ex", inverse=inv(A), info=_info_ok(A))
    except LinAlgError:
        if check_errors:
            raise
    inverse, info = _per_matrix(inv, A, lambda matrix: 1)
    return ReturnTypes("linalg_inv_ex", inverse=inverse, info=info)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): info is the order of the first leading minor that is not positive-definite
    (0 on success; that matrix's L is then NaN); raises only when check_errors=True."""
    try:
        return ReturnTypes("linalg_cholesky_ex", L=cholesky(A, upper=upper), info=_info_ok(A))
    except LinAlgError:
        if check_errors:
            raise

    def leading_minor(matrix):
        for order in range(1, matrix.shape[-1] + 1):
            try:
                cholesky(matrix[:order, :order])
            except LinAlgError:
                return order
        return matrix.shape[-1]

    factor, info = _per_matrix(lambda m: cholesky(m, upper=upper), A, leading_minor)
    return ReturnTypes("linalg_cholesky_ex", L=factor, info=info)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (or X A = B), reading only the upper or lower triangle of A."""
    triangle = movement.triu(A) if upper else movement.tril(A)
    if unitriangular:
        from .ops.creation import eye

        diagonal_part = movement.diag_embed(movement.diagonal(triangle, 0, -2, -1))
        triangle = triangle - diagonal_part + eye(A.shape[-1], dtype=A.dtype, device=A.device)
    return SOLVE(triangle, B) if left else SOLVE(triangle.mT, B.mT).mT


def _tolerance(largest, atol, rtol, size: int, dtype):
    """torch's cut-off max(atol, rtol * largest); rtol defaults to eps * max(m, n) unless a
    positive atol is given. `largest` is (*, 1); tensor atol / rtol are (*)."""
    from .ops.elementwise import maximum

    if rtol is None:
        positive_atol = atol is not None and bool(
            (atol > 0).all() if isinstance(atol, Tensor) else atol > 0
        )
        rtol = 0.0 if positive_atol else dtypes.finfo(dtype).eps * size
    tolerance = largest * (rtol.unsqueeze(-1) if isinstance(rtol, Tensor) else rtol)
    if atol is None:
        return tolerance
    atol = atol.unsqueeze(-1) if isinstance(atol, Tensor) else largest.new_full((), float(atol))
    return maximum(tolerance, atol)


def _inverse_above(values, magnitude, tolerance):
    """1 / values where |values| > tolerance, else 0 (without a NaN gradient from the 0s)."""
    keep = magnitude > tolerance
    safe = where(keep, values, values.new_ones(()).expand(tuple(values.shape)))
    return where(keep, 1 / safe, values.new_zeros(()).expand(tuple(values.shape)))


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The pseudo-inverse through the SVD (or eigh for symmetric A): singular values at or
    below max(atol, rtol * largest) count as zero."""
    check_matrix("linalg.pinv", A)
    size = max(A.shape[-2:])
    if hermitian:
        values, vectors = eigh(A)
        magnitude = values.abs()
        largest = reduction.amax(magnitude.detach(), -1, True)
        inverse = _inverse_above(values, magnitude, _tolerance(largest, atol, rtol, size, A.dtype))
        return (vectors * inverse.unsqueeze(-2)) @ vectors.mT
    U, S, Vh = svd(A, full_matrices=False)
    largest = S.detach()[..., :1]
    inverse = _inverse_above(S, S, _tolerance(largest, atol, rtol, size, A.dtype))
    return (Vh.mT * inverse.unsqueeze(-2)) @ U.mT


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    """The number of singular values above max(atol, rtol * largest), as int64."""
    check_matrix("linalg.matrix_rank", A)
    if tol is not None:  # the old spelling of atol
        atol, rtol = tol, 0.0 if rtol is None else rtol
    with no_grad():
        values = eigvalsh(A).abs() if hermitian else svdvals(A)
        largest = reduction.amax(values, -1, True)
        tolerance = _tolerance(largest, atol, rtol, max(A.shape[-2:]), A.dtype)
        return reduction.sum(values > tolerance, -1)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares (minimum-norm) solution of A X = B, through the pseudo-inverse.

    Returns (solution, residuals, rank, singular_values) as torch does: residuals only for
    drivers other than 'gelsy' when m > n and A has full rank; singular values for 'gelsd' and
    'gelss'; the rank for every driver but 'gels'.
    """
    from .ops.creation import zeros

    check_matrix("linalg.lstsq", A)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, "
            f"gelsd, gelss), got '{driver}'"
        )
    if A.dtype is not B.dtype:
        raise RuntimeError(
            f"torch.linalg.lstsq: Expected input and other to have the same dtype, "
            f"but got input's dtype {A.dtype.name} and other's dtype "
            f"{B.dtype.name}"
        )
    vector = B.ndim == A.ndim - 1
    matrix_B = B.unsqueeze(-1) if vector else B
    if matrix_B.ndim < 2 or matrix_B.shape[-2] != A.shape[-2]:
        raise RuntimeError(
            f"torch.linalg.lstsq: input.size(-2) should match other.size(-2) "
            f"(got A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)})"
        )
    m, n = A.shape[-2:]
    rtol = rcond if rcond is not None and rcond > 0 else dtypes.finfo(A.dtype).eps * max(m, n)
    solution = pinv(A, rtol=rtol) @ matrix_B
    empty = zeros((0,), dtype=A.dtype, device=A.device)
    rank = matrix_rank(A, rtol=rtol) if driver != "gels" else zeros((0,), dtype=dtypes.int64)
    residuals = empty
    if driver != "gelsy" and m > n and bool((matrix_rank(A, rtol=rtol) == n).all()):
        residuals = reduction.sum((A @ solution - matrix_B) ** 2, -2)
        residuals = residuals.squeeze(-1) if vector else residuals
    singular_values = svdvals(A) if driver in ("gelsd", "gelss") else empty
    return ReturnTypes(
        "linalg_lstsq",
        solution=solution.squeeze(-1) if vector else solution,
        residuals=residuals,
        rank=rank,
        singular_values=singular_values,
    )


# ----- products ------------------------------------------------------------------------------
def matrix_power(A, n, *, out=None):
    """A^n by repeated squaring; n < 0 inverts A first, n = 0 gives identities."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        shape = tuple(A.shape[-2:]) if A.ndim >= 2 else tuple(A.shape)
        raise RuntimeError(
            "linalg.matrix_power: A must be batches of square matrices, but they "
            f"are {' by '.join(str(s) for s in shape)} matrices"
        )
    if not isinstance(n, int):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        from .ops.creation import eye

        identity = eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return movement.expand(identity, tuple(A.shape)).clone()
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def multi_dot(tensors, *, out=None):
    """A chain of matrix products in the cheapest order; the first and last may be vectors."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for position in (0, -1):
        if tensors[position].ndim not in (1, 2):
            raise RuntimeError(
                "multi_dot(): the first and last tensors must be 1D or 2D but got "
                f"{tensors[position].ndim}D"
            )
    first_vector, last_vector = tensors[0].ndim == 1, tensors[-1].ndim == 1
    matrices = list(tensors)
    matrices[0] = matrices[0].unsqueeze(0) if first_vector else matrices[0]
    matrices[-1] = matrices[-1].unsqueeze(-1) if last_vector else matrices[-1]
    for index, matrix in enumerate(matrices[1:-1], 1):
        if matrix.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {index} must be 2D but got {matrix.ndim}D")
    for index in range(len(matrices) - 1):
        left, right = matrices[index], matrices[index + 1]
        if left.shape[1] != right.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {index} and {index + 1} with shapes "
                f"{tuple(tensors[index].shape)} and {tuple(tensors[index + 1].shape)} cannot be "
                "multiplied"
            )
    split = _chain_order([m.shape[0] for m in matrices] + [matrices[-1].shape[1]])
    result = _multiply_chain(matrices, split, 0, len(matrices) - 1)
    if first_vector:
        result = result.squeeze(0)
    if last_vector:
        result = result.squeeze(-1)
    return result


def _chain_order(sizes: list) -> dict:
    """The classic matrix-chain dynamic program: split[(i, j)] is where to cut i..j."""
    count = len(sizes) - 1
    cost, split = {(i, i): 0 for i in range(count)}, {}
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i, j], split[i, j] = min(
                (cost[i, k] + cost[k + 1, j] + sizes[i] * sizes[k + 1] * sizes[j + 1], k)
                for k in range(i, j)
            )
    return split


def _multiply_chain(matrices, split, i, j):
    if i == j:
        return matrices[i]
    k = split[i, j]
    return _multiply_chain(matrices, split, i, k) @ _multiply_chain(matrices, split, k + 1, j)


def cross(input, other, *, dim=-1, out=None):
    """The 3-vector cross product along `dim`: c_i = a_(i+1) b_(i+2) - a_(i+2) b_(i+1)."""
    if input.ndim != other.ndim:
        raise RuntimeError(
            f"linalg.cross: inputs must have the same number of dimensions (got "
            f"shapes {tuple(input.shape)} and {tuple(other.shape)})"
        )
    axis = dim % input.ndim if input.ndim else 0
    if not input.ndim or input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got "
            f"{input.shape[dim] if input.ndim else 0} and "
            f"{other.shape[dim] if other.ndim else 0}"
        )
    a, b = movement.broadcast_tensors(input, other)
    roll = movement.roll
    return roll(a, -1, axis) * roll(b, -2, axis) - roll(a, -2, axis) * roll(b, -1, axis)


def vecdot(x, y, *, dim=-1, out=None):
    """sum(x * y) along `dim`, broadcasting the other dimensions."""
    if x.dtype is not y.dtype:
        raise RuntimeError(
            f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
            f"of type {x.dtype.name} and y of type {y.dtype.name} instead."
        )
    return reduction.sum(x * y, dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return movement.diagonal(A, offset, dim1, dim2)
