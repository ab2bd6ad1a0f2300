"""qilin.nn.functional: the stateless twins of the layers (torch.nn.functional's surface).

Everything here is a composite of qilin ops, so gradients of any order come from the
primitives' vjps. Activations and misc functions live in this file; the losses in
`functional_losses.py` and are re-exported here, so `F.cross_entropy` works as in torch.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes
from ..autograd import is_grad_enabled, no_grad
from ..dispatch import inplace as write_in_place
from ..errors import located, user_stacklevel
from ..ops import creation, elementwise, indexing, linalg, movement
from ..ops.softmax import log_softmax as _log_softmax
from ..ops.softmax import softmax as _softmax
from ..ops.softmax import softmin as _softmin

__all__ = [
    # activations
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "hardswish",
    "hardsigmoid",
    "hardtanh",
    "hardshrink",
    "softshrink",
    "tanhshrink",
    "softplus",
    "softsign",
    "tanh",
    "sigmoid",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "softmin",
    "glu",
    "threshold",
    "prelu",
    # linear and misc
    "linear",
    "bilinear",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "one_hot",
    "normalize",
    "cosine_similarity",
    "pairwise_distance",
    "pad",
    "embedding",
    "embedding_bag",
]

where, clamp = elementwise.where, elementwise.clamp


def _result(input, function, inplace: bool):
    """`function(input)`, or with torch's `inplace=True` written into `input` and returned."""
    if not inplace:
        return function(input)
    if input.requires_grad and is_grad_enabled():
        # The backward of `function` reads its input: compute from a copy, so that writing the
        # result over `input` leaves those saved values intact (torch differentiates this too).
        return write_in_place(
            input, lambda: function(input.clone()), getattr(function, "__name__", "op")
        )
    return input.copy_(function(input))


# ----- activations ---------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(x, 0)."""
    return _result(input, lambda input: elementwise.relu(input), inplace)


def relu_(input):
    return relu(input, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise located(ValueError("min_val cannot be greater than max_val"))
    return _result(input, lambda input: clamp(input, min_val, max_val), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _result(input, lambda input: where(input > 0, input, input * negative_slope), inplace)


def _negative_part(input, alpha, scale_input=1.0):
    """alpha * (exp(x * scale_input) - 1) for x <= 0. The exponent's argument is clamped to
    <= 0 so the branch `where` discards can't overflow (inf * 0 would poison the gradient)."""
    return elementwise.expm1(clamp(input, max=0) * scale_input) * alpha


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _result(
        input, lambda input: where(input > 0, input, _negative_part(input, alpha)), inplace
    )


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _result(
        input,
        lambda input: where(input > 0, input, _negative_part(input, _SELU_ALPHA)) * _SELU_SCALE,
        inplace,
    )


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    if alpha == 0:
        raise located(ZeroDivisionError("ZeroDivisionError: alpha cannot be 0 for CELU"))
    return _result(
        input,
        lambda input: where(input > 0, input, _negative_part(input, alpha, 1.0 / alpha)),
        inplace,
    )


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none'), or its tanh approximation (approximate='tanh')."""
    if approximate == "none":
        return input * (elementwise.ERF(input * (1 / math.sqrt(2.0))) + 1) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * (elementwise.tanh(inner) + 1) * 0.5
    raise located(
        RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")
    )


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _result(input, lambda input: input * elementwise.sigmoid(input), inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _result(input, lambda input: input * elementwise.tanh(softplus(input)), inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _result(input, lambda input: input * clamp(input + 3, 0, 6) * (1 / 6), inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _result(input, lambda input: clamp(input + 3, 0, 6) * (1 / 6), inplace)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return where(elementwise.ABS(input) > lambd, input, 0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0))


def tanhshrink(input):
    return input - elementwise.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    scaled = input * beta
    # Clamped so the discarded branch stays finite (its gradient is multiplied by 0).
    smooth = elementwise.LOG1P(elementwise.EXP(clamp(scaled, max=threshold)))
    return where(scaled > threshold, input, smooth / beta if beta != 1 else smooth)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (elementwise.ABS(input) + 1)


def tanh(input):
    return elementwise.tanh(input)


def sigmoid(input):
    return elementwise.sigmoid(input)


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), stable for large |x|."""
    return clamp(input, max=0) - elementwise.LOG1P(elementwise.EXP(-elementwise.ABS(input)))


def _implicit_softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        stacklevel=user_stacklevel(),
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim)
    return _softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim)
    return _log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim)
    return _softmin(input, dim, dtype)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of `input` along `dim`."""
    if input.ndim == 0:
        raise located(
            RuntimeError("glu does not support scalars because halving size must be even")
        )
    size = input.shape[dim]
    if size % 2:
        raise located(
            RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {size}")
        )
    first, second = movement.chunk(input, 2, dim)
    return first * elementwise.sigmoid(second)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return _result(input, lambda input: where(input > threshold, input, value), inplace)


def prelu(input, weight):
    """x for x > 0, weight * x otherwise; weight has 1 element or one per channel (dim 1)."""
    count = weight.numel()
    if count != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or count != channels:
            raise located(
                RuntimeError(
                    f"prelu: Mismatch of parameter numbers and input channel size. Found "
                    f"parameter numbers = {count} and channel size = {channels} (input shape "
                    f"{tuple(input.shape)})."
                )
            )
        weight = weight.reshape((count,) + (1,) * (input.ndim - 2))
    elif weight.ndim > input.ndim:
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)


# ----- linear --------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight.T + bias: (*, in) x (out, in) -> (*, out), one primitive (one gemm over
    all rows forward, and a weight gradient already in the weight's layout)."""
    if weight.ndim != 2:  # torch also takes a 1-D weight: a dot product over the last dim
        output = input.matmul(weight)
        return output if bias is None else output + bias
    return linalg.LINEAR(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_o = x1^T W_o x2 + b_o: (*, in1) x (*, in2) x (out, in1, in2) -> (*, out)."""
    if (
        weight.ndim != 3
        or input1.shape[-1] != weight.shape[1]
        or input2.shape[-1] != weight.shape[2]
    ):
        raise located(
            RuntimeError(
                f"bilinear: expected weight of shape (out, {input1.shape[-1]}, "
                f"{input2.shape[-1]}) for inputs of shapes {tuple(input1.shape)} and "
                f"{tuple(input2.shape)}, got weight of shape {tuple(weight.shape)}"
            )
        )
    from ..ops.linalg import einsum

    output = einsum("...i,oij,...j->...o", input1, weight, input2)
    return output if bias is None else output + bias


# ----- dropout -------------------------------------------------------------------------------
def _check_probability(p) -> None:
    if p < 0.0 or p > 1.0:
        raise located(ValueError(f"dropout probability has to be between 0 and 1, but got {p}"))


def _keep_mask(input, shape: tuple, p: float):
    """1 / (1 - p) with probability 1 - p, else 0: drawn from qilin's default generator, so
    qilin.manual_seed makes it reproducible."""
    from ..random import rand

    if p == 1:
        return creation.zeros(shape, dtype=input.dtype, device=input.device)
    draws = rand(shape, dtype=input.dtype, device=input.device)
    return (draws < 1 - p).to(input.dtype) * (1 / (1 - p))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only)."""
    _check_probability(p)
    if not training or p == 0:
        return input
    return _result(input, lambda input: input * _keep_mask(input, tuple(input.shape), p), inplace)


def _feature_dropout(input, p, training, inplace, spatial: int, name: str):
    """Zero whole channels: the mask has shape (N, C, 1, ...) over `spatial` trailing dims."""
    _check_probability(p)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise located(
            RuntimeError(
                f"{name}: Expected {spatial + 1}D or {spatial + 2}D input (an optional batch "
                f"dim, channels and {spatial} spatial dims), but received a {input.ndim}D input "
                f"of shape {tuple(input.shape)}"
            )
        )
    if not training or p == 0:
        return input
    shape = tuple(input.shape[: input.ndim - spatial]) + (1,) * spatial
    return _result(input, lambda input: input * _keep_mask(input, shape, p), inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout on (N, C, H, W). A 3-D input is read as (N, C, L), as torch does."""
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L). Use "
            "dropout1d for that.",
            stacklevel=user_stacklevel(),
        )
        return _feature_dropout(input, p, training, inplace, 1, "dropout2d")
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


# ----- misc ----------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """(*) int64 class indices -> (*, num_classes) int64 one-hot rows."""
    if tensor.dtype is not dtypes.int64:
        raise located(
            RuntimeError(
                f"one_hot is only applicable to index tensor of type LongTensor (int64), got "
                f"{tensor.dtype.name}"
            )
        )
    values = tensor.detach()._host()
    if num_classes == -1:
        if values.size == 0:
            raise located(RuntimeError("Can not infer total number of classes from empty tensor."))
        num_classes = int(values.max()) + 1
    if values.size and values.min() < 0:
        raise located(RuntimeError("Class values must be non-negative."))
    if values.size and values.max() >= num_classes:
        raise located(
            RuntimeError(
                f"Class values must be smaller than num_classes ({num_classes}); got "
                f"{int(values.max())}."
            )
        )
    classes = creation.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).to(dtypes.int64)


def _norm(input, p, dim, keepdim):
    from ..ops.reduction import norm

    return norm(input, p, dim, keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along `dim`."""
    denominator = clamp(_norm(input, p, dim, True), min=eps)
    result = input / denominator
    return result if out is None else out.copy_(result)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along `dim`."""
    x1, x2 = movement.broadcast_tensors(x1, x2)

    def unit(x):
        norm = _norm(x, 2, dim, True)
        # torch clamps the norms in place under no_grad: the gradient flows through the
        # unclamped norm. Adding the clamp's change as a constant does the same.
        return x / (norm + (clamp(norm, min=eps) - norm).detach())

    return (unit(x1) * unit(x2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    dim = max(x1.ndim, x2.ndim) - 1
    return _norm(x1 - x2 + eps, p, dim if dim >= 0 else None, keepdim)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims; pad = (left_last, right_last, left_prev, ...).

    constant pads any number of dims (negative pads crop); reflect, replicate and circular pad
    the last 1-3 dims of a (batched) input through an index gather, so backward adds the
    copies' gradients back onto their sources.
    """
    pad = [int(v) for v in pad]
    if len(pad) % 2:
        raise located(RuntimeError(f"Padding length must be divisible by 2, got {len(pad)}"))
    if len(pad) // 2 > input.ndim:
        raise located(
            RuntimeError(
                f"Padding length should be less than or equal to two times the input dimension "
                f"but got padding length {len(pad)} and input of dimension {input.ndim} (shape "
                f"{tuple(input.shape)})"
            )
        )
    if mode not in _PAD_MODES:
        raise located(
            NotImplementedError(f"pad: unknown padding mode '{mode}'; use one of {_PAD_MODES}")
        )
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]  # last dim first
    if mode == "constant":
        return _constant_pad(input, pairs, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise located(RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument'))
    count = len(pairs)
    if count > 3 or input.ndim not in (count + 1, count + 2):
        raise located(
            NotImplementedError(
                f"pad: {mode} padding of the last {count} dims expects a {count + 1}D or "
                f"{count + 2}D (batched) input, got a {input.ndim}D input of shape "
                f"{tuple(input.shape)}"
            )
        )
    for offset, (left, right) in enumerate(pairs):
        dim = input.ndim - 1 - offset
        index = _pad_index(mode, input.shape[dim], left, right, dim, tuple(input.shape))
        input = indexing.index_select(input, dim, creation.tensor(index, device=input.device))
    return input


def _constant_pad(input, pairs, value):
    for offset, (left, right) in enumerate(pairs):
        dim = input.ndim - 1 - offset
        size = input.shape[dim]
        if left < 0 or right < 0:  # negative padding crops
            start, stop = max(-left, 0), size - max(-right, 0)
            if stop < start:
                raise located(
                    RuntimeError(
                        f"pad: the padding ({left}, {right}) of dim {dim} leaves a negative "
                        f"size (input shape {tuple(input.shape)})"
                    )
                )
            input = movement.narrow(input, dim, start, stop - start)
        pieces = []
        for amount in (left, right):
            shape = list(input.shape)
            shape[dim] = max(amount, 0)
            pieces.append(creation.full(shape, value, dtype=input.dtype, device=input.device))
        if left > 0 or right > 0:
            input = movement.cat([pieces[0], input, pieces[1]], dim)
    return input


def _pad_index(mode: str, size: int, left: int, right: int, dim: int, shape) -> np.ndarray:
    """For each output position along a dim, the input position it copies."""
    positions = np.arange(-left, size + right)
    if mode == "reflect":
        if left >= size or right >= size:
            raise located(
                RuntimeError(
                    f"pad: Padding size should be less than the corresponding input dimension, "
                    f"but got: padding ({left}, {right}) at dimension {dim} of input {shape}"
                )
            )
        period = 2 * (size - 1) if size > 1 else 1
        folded = np.mod(positions, period)
        return np.where(folded < size, folded, period - folded)
    if mode == "replicate":
        if size == 0:
            raise located(RuntimeError(f"pad: cannot replicate-pad an empty dim {dim} ({shape})"))
        return np.clip(positions, 0, size - 1)
    if left > size or right > size:
        raise located(
            RuntimeError(
                f"pad: Padding value causes wrapping around more than once: padding "
                f"({left}, {right}) at dimension {dim} of input {shape}"
            )
        )
    return np.mod(positions, size)


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Rows of `weight` picked by the integer `input`: (*) -> (*, embedding_dim). The row at
    padding_idx gets no gradient; with max_norm, the rows used are renormalised in place."""
    if input.dtype.is_floating_point or input.dtype is dtypes.bool:
        raise located(
            RuntimeError(
                f"embedding: Expected tensor for argument #1 'indices' to have one of the "
                f"following scalar types: Long, Int; but got {input.dtype.name} instead"
            )
        )
    count = weight.shape[0]
    if padding_idx is not None:
        if not -count <= padding_idx < count:
            raise located(
                AssertionError(
                    f"Padding_idx must be within num_embeddings ({count}), got {padding_idx}"
                )
            )
        padding_idx = padding_idx % count
    values = input.detach()._host()
    if values.size and (values.min() < 0 or values.max() >= count):
        bad = int(values.min() if values.min() < 0 else values.max())
        raise located(
            IndexError(f"embedding: index {bad} is out of range in self (num_embeddings={count})")
        )
    if max_norm is not None:
        _renormalize(weight, np.unique(values), max_norm, norm_type)
    rows = indexing.index_select(weight, 0, input.reshape(-1))
    if scale_grad_by_freq and weight.requires_grad:
        rows = _scale_grad_by_frequency(rows, values.reshape(-1), count)
    output = rows.reshape(tuple(input.shape) + tuple(weight.shape[1:]))
    if padding_idx is not None and weight.requires_grad:
        keep = (input != padding_idx).unsqueeze(-1)
        output = where(keep, output, output.detach())
    return output


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
):
    """Sums, means or maxima of bags of `weight` rows: (B, L) indices (B bags of L), or 1-D
    indices cut into bags at `offsets`, -> (B, embedding_dim). Entries equal to padding_idx
    leave their bag; an empty bag gives zeros. per_sample_weights (mode='sum') scale each row.
    Gradients are dense (`sparse` is accepted for torch compatibility)."""
    indices, bag_of, bags = _bag_layout(input, offsets, include_last_offset)
    _check_bag_arguments(input, weight, mode, per_sample_weights, scale_grad_by_freq)
    count = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        bad = int(indices.min() if indices.min() < 0 else indices.max())
        raise located(
            IndexError(
                f"embedding_bag: index {bad} is out of range in self (num_embeddings={count})"
            )
        )
    if max_norm is not None:
        _renormalize(weight, np.unique(indices), max_norm, norm_type)
    kept = np.arange(indices.size)  # positions that take part in their bag
    if padding_idx is not None:
        kept = np.flatnonzero(indices != padding_idx % count)
    rows = indexing.index_select(weight, 0, creation.tensor(indices[kept], device=weight.device))
    if scale_grad_by_freq and weight.requires_grad:
        rows = _scale_grad_by_frequency(rows, indices[kept], count)
    if per_sample_weights is not None:
        position = creation.tensor(kept, device=weight.device)
        rows = rows * indexing.index_select(per_sample_weights.reshape(-1), 0, position)[:, None]
    if input.ndim == 2 and kept.size == indices.size and input.shape[1] > 0:
        # bags of one length: a reduction over a (B, L, D) view, no scatter
        rows = rows.reshape(*input.shape, weight.shape[1])
        return rows.amax(1) if mode == "max" else rows.sum(1) if mode == "sum" else rows.mean(1)
    return _reduce_bags(rows, bag_of[kept], bags, mode)


def _reduce_bags(rows, bag_of: np.ndarray, bags: int, mode: str):
    """(n, D) rows, the bag of each -> (bags, D); empty bags are zeros."""
    device, dtype = rows.device, rows.dtype
    bag_index = creation.tensor(bag_of, device=device)
    empty = creation.zeros((bags, rows.shape[1]), dtype=dtype, device=device)
    if mode == "max":
        spread = bag_index.unsqueeze(1).expand(-1, rows.shape[1])
        return indexing.scatter_reduce(empty, 0, spread, rows, "amax", include_self=False)
    total = indexing.index_add(empty, 0, bag_index, rows)
    if mode == "sum":
        return total
    sizes = np.maximum(np.bincount(bag_of, minlength=bags), 1)
    return total / creation.tensor(sizes, dtype=dtype, device=device).unsqueeze(1)


def _bag_layout(input, offsets, include_last_offset: bool):
    """(flat indices, bag number of each, number of bags) as NumPy arrays, with torch's checks.
    With include_last_offset the last offset is dropped and the last bag runs to the end, as
    torch's CPU kernel does."""
    if input.dtype.is_floating_point or input.dtype is dtypes.bool:
        raise located(
            RuntimeError(
                "Expected tensor for argument #1 'indices' to have one of the following scalar "
                f"types: Long, Int; but got {input.dtype.name} instead (while checking arguments "
                "for embedding_bag)"
            )
        )
    indices = input.detach()._host()
    if input.ndim == 2:
        if offsets is not None:
            raise located(
                ValueError(
                    "if input is 2D, then offsets has to be None, as input is treated is a "
                    "mini-batch of fixed length sequences. However, found offsets of type "
                    f"{type(offsets).__name__}"
                )
            )
        bags, length = indices.shape
        return indices.reshape(-1), np.repeat(np.arange(bags), length), bags
    if input.ndim != 1:
        raise located(
            ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
        )
    if offsets is None or offsets.ndim != 1:
        given = "None" if offsets is None else f"a {offsets.ndim}-D tensor"
        raise located(ValueError(f"offsets has to be a 1D Tensor but got {given}"))
    starts = offsets.detach()._host().astype(np.int64)
    if include_last_offset:
        starts = starts[:-1]
    _check_offsets(starts, indices.size)
    sizes = np.diff(np.append(starts, indices.size))
    return indices, np.repeat(np.arange(starts.size), sizes), starts.size


def _check_offsets(starts: np.ndarray, length: int) -> None:
    if starts.size and starts[0] != 0:
        raise located(
            RuntimeError(
                "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                f"from position 0. However, got {int(starts[0])}"
            )
        )
    if starts.size and starts[-1] > length:
        raise located(
            RuntimeError(
                f"offsets[-1] can not be greater than input's length {length} but got "
                f"offsets[-1] of {int(starts[-1])}"
            )
        )
    if np.any(np.diff(starts) < 0):
        raise located(ValueError(f"offsets have to be non-decreasing, got {starts.tolist()}"))


def _check_bag_arguments(input, weight, mode, per_sample_weights, scale_grad_by_freq) -> None:
    if mode not in ("sum", "mean", "max"):
        raise located(ValueError(f"mode has to be one of sum, mean or max, got '{mode}'"))
    if mode == "max" and scale_grad_by_freq:
        raise located(ValueError("max mode does not support scaling the gradient by the frequency"))
    if weight.ndim != 2:
        raise located(
            ValueError(f"embedding_bag: weight has to be a 2-D tensor, got {weight.ndim}-D")
        )
    if per_sample_weights is None:
        return
    if mode != "sum":
        raise located(
            NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                "on GitHub."
            )
        )
    if tuple(per_sample_weights.shape) != tuple(input.shape):
        raise located(
            ValueError(
                f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is "
                f"not None, then it must have the same shape as the input "
                f"({tuple(input.shape)})"
            )
        )


def _scale_grad_by_frequency(rows, indices: np.ndarray, count: int):
    """The same rows, whose gradient is divided by how often each row's index occurs in the
    mini-batch (scale_grad_by_freq)."""
    frequency = np.bincount(indices, minlength=count)[indices]
    scale = creation.tensor(1.0 / frequency, dtype=rows.dtype, device=rows.device)
    return rows.detach() + (rows - rows.detach()) * scale.unsqueeze(1)


def _renormalize(weight, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale the given rows of `weight` in place so their norm is at most max_norm."""
    with no_grad():
        index = creation.tensor(rows, device=weight.device)
        picked = indexing.index_select(weight, 0, index)
        norms = _norm(picked, norm_type, 1, True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(weight.dtype)
        weight.index_copy_(0, index, picked * scale)


from .functional_losses import *  # noqa: E402, F403
from .functional_losses import __all__ as _losses_all  # noqa: E402

__all__ += _losses_all

from .functional_attention import *  # noqa: E402, F403
from .functional_attention import __all__ as _attention_all  # noqa: E402
from .functional_conv import *  # noqa: E402, F403
from .functional_conv import __all__ as _conv_all  # noqa: E402
from .functional_norm import *  # noqa: E402, F403
from .functional_norm import __all__ as _norm_all  # noqa: E402
from .functional_pool import *  # noqa: E402, F403
from .functional_pool import __all__ as _pool_all  # noqa: E402

__all__ += _attention_all + _conv_all + _norm_all + _pool_all

from ..compat import missing_attribute as _missing_attribute  # noqa: E402

__getattr__ = _missing_attribute(__name__)  # unknown names: "qilin does not provide torch.X yet"
