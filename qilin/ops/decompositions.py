"""Matrix inverses, solvers and decompositions: the library primitives behind torch.linalg.

Each record calls the array library's LAPACK wrapper through `xp.linalg` and has a vjp written
in qilin ops (matmul, solve, tril, ...), so second derivatives come from differentiating the
vjp itself. All of them work on batches of matrices `(*, m, n)`.

The functions here use the torch.linalg spellings and are re-exported by `qilin.linalg`; the
older top-level spellings (`qilin.inverse`, `qilin.svd` returning V, ...) live in ops/linalg.py.
Do not star-import this module into `qilin`: `svd` and `qr` here differ from `qilin.svd`.

Gradient formulas (real matrices; E_ij = s_j - s_i style denominators are 1 on the diagonal):
    inv:      gA = -X^T g X^T                        X = A^-1
    solve:    gB = A^-T g,  gA = -gB X^T             X = A^-1 B
    det:      gA = g det(A) A^-T;   slogdet: gA = g_logabsdet A^-T
    cholesky: gA = sym(L^-T phi(L^T gL) L^-1)        phi: lower triangle, diagonal halved
    qr:       gA = (gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T   (m >= n; wide A is split)
    eigh:     gA = V (diag(gL) + skew(V^T gV) / 2E) V^T,    E_ij = l_j - l_i
    svd:      gA = U ((skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)) V^T + projections
              E_ij = s_j^2 - s_i^2
"""

from __future__ import annotations

import numpy as np

from ..dispatch import write_out
from ..errors import located
from .families import broadcast_shapes, define, unbroadcast
from .registry import Spec

__all__ = [
    "LinAlgError",
    "inv",
    "solve",
    "det",
    "slogdet",
    "cholesky",
    "qr",
    "svd",
    "svdvals",
    "eigh",
    "eigvalsh",
]


class LinAlgError(RuntimeError):
    """A matrix that has no inverse or factorization (torch.linalg.LinAlgError)."""


# ----- checks shared by the meta rules -------------------------------------------------------
def check_matrix(name: str, A, square: bool = False) -> None:
    """Raise torch's error for inputs that are not (batches of) float (square) matrices."""
    if len(A.shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if not A.dtype.is_floating_point:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {A.dtype.name}"
        )
    if A.dtype.itemsize < 4:
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {A.dtype.name}")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"{name}: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )


def _same_dtype(name: str, A, B) -> None:
    if A.dtype is not B.dtype:
        raise RuntimeError(
            f"{name}: Expected A and B to have the same dtype, but found A of type "
            f"{A.dtype.name} and B of type {B.dtype.name} instead"
        )


def _linalg_error(name: str, message: str, batch_index: int | None) -> LinAlgError:
    where = f"(Batch element {batch_index}): " if batch_index is not None else ""
    return located(LinAlgError(f"{name}: {where}{message}"))


def _failing_element(probe, A) -> int | None:
    """The flat batch index of the first matrix that `probe` rejects (None for one matrix)."""
    if A.ndim == 2:
        return None
    for index, matrix in enumerate(A.reshape((-1,) + A.shape[-2:])):
        try:
            probe(matrix)
        except np.linalg.LinAlgError:
            return index
    return None


def _singular_error(name: str, message: str, xp, A) -> LinAlgError:
    return _linalg_error(name, message, _failing_element(xp.linalg.inv, A))


# ----- small helpers in qilin ops (used by the vjps) -----------------------------------------
def _identity_like(S):
    """An identity matrix (k, k) with the dtype and device of the (*, k) tensor S."""
    from .creation import eye

    return eye(S.shape[-1], dtype=S.dtype, device=S.device)


def _diag(values):
    from .movement import diag_embed

    return diag_embed(values)


def _diagonal(matrix):
    from .movement import diagonal

    return diagonal(matrix, 0, -2, -1)


def _tril(matrix, diagonal=0):
    from .movement import tril

    return tril(matrix, diagonal)


def _skew(matrix):
    return matrix - matrix.mT


def _solve_right(B, A):
    """X with X A = B (that is, B A^-1)."""
    return SOLVE(A.mT, B.mT).mT


# ----- inv -----------------------------------------------------------------------------------
def _inv_meta(A):
    check_matrix("linalg.inv", A, square=True)
    return Spec(A.shape, A.dtype)


def _inv_kernel(xp, A):
    try:
        return xp.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise _singular_error(
            "linalg.inv",
            "The inversion could not be completed because the input matrix is singular.",
            xp,
            A,
        ) from None


def _inv_vjp(node, g):
    inverse = node.out
    return (-(inverse.mT @ g @ inverse.mT),)


INV = define(
    "linalg_inv",
    meta=_inv_meta,
    kernel=_inv_kernel,
    vjp=_inv_vjp,
    family="library",
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    lowering={"library": "getrf+getri"},
    doc="Inverse of each square matrix.",
)


# ----- solve ---------------------------------------------------------------------------------
def _solve_meta(A, B):
    check_matrix("linalg.solve", A, square=True)
    _same_dtype("linalg.solve", A, B)
    if len(B.shape) < 2 or B.shape[-2] != A.shape[-1]:
        rows, cols = (B.shape[-1], 1) if len(B.shape) < 2 else B.shape[-2:]
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})"
        )
    batch = broadcast_shapes(A.shape[:-2], B.shape[:-2], op="linalg.solve")
    return Spec(batch + tuple(B.shape[-2:]), A.dtype)


def _solve_kernel(xp, A, B):
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = xp.broadcast_to(A, batch + A.shape[-2:])
    B = xp.broadcast_to(B, batch + B.shape[-2:])
    try:
        return xp.linalg.solve(A, B)
    except np.linalg.LinAlgError:
        raise _singular_error(
            "linalg.solve", "The solver failed because the input matrix is singular.", xp, A
        ) from None


def _solve_vjp(node, g):
    A, B = node.inputs
    grad_B = SOLVE(A.mT, g)
    grad_A = -(grad_B @ node.out.mT) if node.needs_grad[0] else None
    return (unbroadcast(grad_A, tuple(A.shape)), unbroadcast(grad_B, tuple(B.shape)))


SOLVE = define(
    "linalg_solve",
    meta=_solve_meta,
    kernel=_solve_kernel,
    vjp=_solve_vjp,
    family="library",
    save_outputs=True,
    eager_check=True,
    lowering={"library": "gesv"},
    doc="X with A X = B, B a batch of matrices.",
)


# ----- det and slogdet -----------------------------------------------------------------------
def _det_meta(A):
    check_matrix("linalg.det", A, square=True)
    return Spec(A.shape[:-2], A.dtype)


def _det_vjp(node, g):
    (A,) = node.inputs
    scale = (g * node.out).unsqueeze(-1).unsqueeze(-1)
    return (scale * INV(A).mT,)


DET = define(
    "linalg_det",
    meta=_det_meta,
    kernel=lambda xp, A: xp.linalg.det(A),
    vjp=_det_vjp,
    family="library",
    save_outputs=True,
    eager_check=True,
    lowering={"library": "getrf"},
    doc="Determinant (through an LU factorization).",
)


def _slogdet_meta(A):
    check_matrix("linalg.slogdet", A, square=True)
    return Spec(A.shape[:-2], A.dtype), Spec(A.shape[:-2], A.dtype)


def _slogdet_kernel(xp, A):
    sign, logabsdet = xp.linalg.slogdet(A)
    return sign.astype(A.dtype, copy=False), logabsdet.astype(A.dtype, copy=False)


def _slogdet_vjp(node, grads):
    (A,) = node.inputs
    _, grad_logabsdet = grads  # the sign is piecewise constant
    return (grad_logabsdet.unsqueeze(-1).unsqueeze(-1) * INV(A).mT,)


# The sign keeps requires_grad (with a zero gradient), as in torch.
SLOGDET = define(
    "linalg_slogdet",
    meta=_slogdet_meta,
    kernel=_slogdet_kernel,
    vjp=_slogdet_vjp,
    family="library",
    num_outputs=2,
    eager_check=True,
    lowering={"library": "getrf"},
    doc="(sign, log|det|) of each square matrix.",
)


# ----- cholesky ------------------------------------------------------------------------------
def _cholesky_meta(A):
    check_matrix("linalg.cholesky", A, square=True)
    return Spec(A.shape, A.dtype)


def _leading_minor(xp, matrix) -> int:
    """The order of the first leading minor that is not positive-definite (1-based)."""
    for order in range(1, matrix.shape[-1] + 1):
        try:
            xp.linalg.cholesky(matrix[:order, :order])
        except np.linalg.LinAlgError:
            return order
    return matrix.shape[-1]


def _cholesky_kernel(xp, A):
    try:
        return xp.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        index = _failing_element(xp.linalg.cholesky, A)
        matrix = A if index is None else A.reshape((-1,) + A.shape[-2:])[index]
        raise _linalg_error(
            "linalg.cholesky",
            "The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {_leading_minor(xp, matrix)} is not "
            "positive-definite).",
            index,
        ) from None


def _cholesky_vjp(node, g):
    L = node.out
    product = L.mT @ _tril(g)
    phi = _tril(product) - _diag(_diagonal(product)) * 0.5
    L_inverse = INV(L)
    grad = L_inverse.mT @ phi @ L_inverse
    return ((grad + grad.mT) * 0.5,)


CHOLESKY = define(
    "linalg_cholesky",
    meta=_cholesky_meta,
    kernel=_cholesky_kernel,
    vjp=_cholesky_vjp,
    family="library",
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    lowering={"library": "potrf"},
    doc="Lower-triangular L with A = L L^T (reads the lower triangle of A).",
)


# ----- qr ------------------------------------------------------------------------------------
_QR_MODES = ("reduced", "complete", "r")


def _qr_meta(A, mode="reduced"):
    check_matrix("linalg.qr", A)
    if mode not in _QR_MODES:
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' "
            "(default), 'r', or 'complete'"
        )
    *batch, m, n = A.shape
    batch, k = tuple(batch), min(m, n)
    if mode == "r":
        return Spec((0,), A.dtype), Spec(batch + (k, n), A.dtype)
    if mode == "complete":
        return Spec(batch + (m, m), A.dtype), Spec(batch + (m, n), A.dtype)
    return Spec(batch + (m, k), A.dtype), Spec(batch + (k, n), A.dtype)


def _qr_kernel(xp, A, mode="reduced"):
    if mode == "r":
        return xp.zeros((0,), dtype=A.dtype), xp.linalg.qr(A, mode="r")
    Q, R = xp.linalg.qr(A, mode=mode)
    return Q, R


def _qr_square_or_tall(grad_Q, grad_R, Q, R):
    """gA for A = Q R with A (m, n), m >= n: (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q."""
    M = R @ grad_R.mT - grad_Q.mT @ Q
    lower = _tril(M, -1)
    symmetric = lower + lower.mT + _diag(_diagonal(M))  # the lower triangle copied up
    return _solve_right(grad_Q + Q @ symmetric, R.mT)


def _qr_vjp(node, grads):
    from .movement import cat, narrow

    mode = node.attrs.get("mode", "reduced")
    shape = node.input_meta[0][0]
    m, n = shape[-2], shape[-1]
    if mode == "r":
        raise RuntimeError(
            "The derivative of linalg.qr depends on Q, which is not computed when "
            "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
            "differentiate through linalg.qr."
        )
    if mode == "complete" and m > n:
        raise RuntimeError(
            "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
        )
    grad_Q, grad_R = grads
    Q, R = node.outs
    if m >= n:
        return (_qr_square_or_tall(grad_Q, grad_R, Q, R),)
    # Wide A = Q [R1 | R2]: its first m columns X = Q R1 are a square QR, and Y = Q R2.
    (A,) = node.inputs
    Y = narrow(A, -1, m, n - m)
    grad_R1, grad_R2 = narrow(grad_R, -1, 0, m), narrow(grad_R, -1, m, n - m)
    grad_X = _qr_square_or_tall(grad_Q + Y @ grad_R2.mT, grad_R1, Q, narrow(R, -1, 0, m))
    return (cat([grad_X, Q @ grad_R2], -1),)


QR = define(
    "linalg_qr",
    meta=_qr_meta,
    kernel=_qr_kernel,
    vjp=_qr_vjp,
    family="library",
    num_outputs=2,
    save_outputs=True,
    eager_check=True,
    lowering={"library": "geqrf"},
    doc="A = Q R with orthonormal Q and upper-triangular R.",
)


# ----- eigh and eigvalsh ---------------------------------------------------------------------
def _check_uplo(name, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{name}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def _eigh_meta(A, UPLO="L"):
    check_matrix("linalg.eigh", A, square=True)
    _check_uplo("linalg.eigh", UPLO)
    return Spec(A.shape[:-1], A.dtype), Spec(A.shape, A.dtype)


def _eigh_kernel(xp, A, UPLO="L"):
    eigenvalues, eigenvectors = xp.linalg.eigh(A, UPLO=UPLO)
    return eigenvalues, eigenvectors


def _eigh_vjp(node, grads):
    grad_values, grad_vectors = grads
    values, vectors = node.outs
    gaps = values.unsqueeze(-2) - values.unsqueeze(-1) + _identity_like(values)  # l_j - l_i
    inner = _skew(vectors.mT @ grad_vectors) * 0.5 / gaps + _diag(grad_values)
    return (vectors @ inner @ vectors.mT,)


EIGH = define(
    "linalg_eigh",
    meta=_eigh_meta,
    kernel=_eigh_kernel,
    vjp=_eigh_vjp,
    family="library",
    num_outputs=2,
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    lowering={"library": "syevd"},
    doc="Eigenvalues (ascending) and eigenvectors of symmetric matrices.",
)


def _eigvalsh_meta(A, UPLO="L"):
    check_matrix("linalg.eigvalsh", A, square=True)
    _check_uplo("linalg.eigvalsh", UPLO)
    return Spec(A.shape[:-1], A.dtype)


def _eigvalsh_vjp(node, g):
    (A,) = node.inputs
    _, vectors = EIGH(A, UPLO=node.attrs.get("UPLO", "L"))
    return ((vectors * g.unsqueeze(-2)) @ vectors.mT,)


EIGVALSH = define(
    "linalg_eigvalsh",
    meta=_eigvalsh_meta,
    kernel=lambda xp, A, UPLO="L": xp.linalg.eigvalsh(A, UPLO=UPLO),
    vjp=_eigvalsh_vjp,
    family="library",
    eager_check=True,
    lowering={"library": "syevd"},
    doc="Eigenvalues of symmetric matrices.",
)


# ----- svd and svdvals -----------------------------------------------------------------------
def _svd_meta(A, full_matrices=True):
    check_matrix("linalg.svd", A)
    *batch, m, n = A.shape
    batch, k = tuple(batch), min(m, n)
    left, right = (m, n) if full_matrices else (k, k)
    return (
        Spec(batch + (m, left), A.dtype),
        Spec(batch + (k,), A.dtype),
        Spec(batch + (right, n), A.dtype),
    )


def _svd_kernel(xp, A, full_matrices=True):
    U, S, Vh = xp.linalg.svd(A, full_matrices=full_matrices)
    return U, S, Vh


def _svd_vjp(node, grads):
    from .movement import narrow

    grad_U, grad_S, grad_Vh = grads
    U, S, Vh = node.outs
    k = S.shape[-1]
    if node.attrs.get("full_matrices", True):
        # As torch: the columns past k are not unique, and their gradients are dropped.
        U, grad_U = narrow(U, -1, 0, k), narrow(grad_U, -1, 0, k)
        Vh, grad_Vh = narrow(Vh, -2, 0, k), narrow(grad_Vh, -2, 0, k)
    return (svd_backward(grad_U, grad_S, grad_Vh, U, S, Vh),)


def svd_backward(grad_U, grad_S, grad_Vh, U, S, Vh):
    """gA for the reduced SVD A = U diag(S) Vh (distinct, nonzero singular values)."""
    m, n = U.shape[-2], Vh.shape[-1]
    V, grad_V = Vh.mT, grad_Vh.mT
    row, column = S.unsqueeze(-2), S.unsqueeze(-1)
    gaps = (row - column) * (row + column) + _identity_like(S)  # s_j^2 - s_i^2
    inner = (_skew(U.mT @ grad_U) * row + column * _skew(V.mT @ grad_V)) / gaps + _diag(grad_S)
    if m > n:  # the part of gU outside span(U)
        scaled = grad_U / row
        return (U @ inner + scaled - U @ (U.mT @ scaled)) @ Vh
    if m < n:  # the part of gV outside span(V)
        scaled = grad_V / row
        return U @ (inner @ Vh + (scaled - V @ (V.mT @ scaled)).mT)
    return U @ inner @ Vh


SVD = define(
    "linalg_svd",
    meta=_svd_meta,
    kernel=_svd_kernel,
    vjp=_svd_vjp,
    family="library",
    num_outputs=3,
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    lowering={"library": "gesdd"},
    doc="A = U diag(S) Vh, singular values in descending order.",
)


def _svdvals_meta(A):
    check_matrix("linalg.svdvals", A)
    return Spec(tuple(A.shape[:-2]) + (min(A.shape[-2:]),), A.dtype)


def _svdvals_vjp(node, g):
    (A,) = node.inputs
    U, _, Vh = SVD(A, full_matrices=False)
    return ((U * g.unsqueeze(-2)) @ Vh,)


SVDVALS = define(
    "linalg_svdvals",
    meta=_svdvals_meta,
    kernel=lambda xp, A: xp.linalg.svd(A, compute_uv=False),
    vjp=_svdvals_vjp,
    family="library",
    eager_check=True,
    lowering={"library": "gesdd"},
    doc="Singular values in descending order.",
)


# ----- the torch.linalg functions ------------------------------------------------------------
def _return(name, **fields):
    from .indexing import ReturnTypes

    return ReturnTypes(name, **fields)


def inv(A, *, out=None):
    """The inverse of each square matrix in A (*, n, n)."""
    return write_out(INV(A), out)


def _is_vector_rhs(A, B) -> bool:
    """torch's rule: B is a (batch of) vector(s) if 1-D, or if its shape is A's minus the last."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True, out=None):
    """X with A X = B (left=True) or X A = B; B is (*, n, k), or (*, n) for vectors."""
    vector = _is_vector_rhs(A, B)
    if vector:
        B = B.unsqueeze(-1)
    if left:
        result = SOLVE(A, B)
    else:
        result = SOLVE(A.mT, B.mT).mT
    return write_out(result.squeeze(-1) if vector else result, out)


def det(A, *, out=None):
    return write_out(DET(A), out)


def slogdet(A, *, out=None):
    sign, logabsdet = SLOGDET(A)
    return _return("linalg_slogdet", sign=sign, logabsdet=logabsdet)


def cholesky(A, *, upper=False, out=None):
    """L (lower) with A = L L^T, or U = L^T when upper=True."""
    L = CHOLESKY(A)
    return write_out(L.mT if upper else L, out)


def qr(A, mode="reduced", *, out=None):
    Q, R = QR(A, mode=mode)
    return _return("linalg_qr", Q=Q, R=R)


def svd(A, full_matrices=True, *, driver=None, out=None):
    U, S, Vh = SVD(A, full_matrices=bool(full_matrices))
    return _return("linalg_svd", U=U, S=S, Vh=Vh)


def svdvals(A, *, driver=None, out=None):
    return write_out(SVDVALS(A), out)


def eigh(A, UPLO="L", *, out=None):
    eigenvalues, eigenvectors = EIGH(A, UPLO=UPLO)
    return _return("linalg_eigh", eigenvalues=eigenvalues, eigenvectors=eigenvectors)


def eigvalsh(A, UPLO="L", *, out=None):
    return write_out(EIGVALSH(A, UPLO=UPLO), out)
