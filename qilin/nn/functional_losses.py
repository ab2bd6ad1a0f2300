"""The loss functions of qilin.nn.functional (re-exported there; import them from there).

Each is a composite of qilin ops. `reduction` is 'mean' | 'sum' | 'none'; the legacy
`size_average` / `reduce` arguments map onto it as in torch.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..compiler.trace import is_traced
from ..errors import located, user_stacklevel
from ..ops import creation, elementwise
from ..ops.ctc import CTC_LOSS
from ..ops.softmax import log_softmax

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "cosine_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "ctc_loss",
]

where, clamp = elementwise.where, elementwise.clamp


# ----- reductions ----------------------------------------------------------------------------
def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's mapping of the deprecated size_average / reduce flags onto `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
        "instead.",
        stacklevel=user_stacklevel(),
    )
    return reduction


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise located(
            ValueError(
                f"{reduction} is not a valid value for reduction (use 'mean', 'sum' or 'none')"
            )
        )


def _reduce(loss, reduction: str):
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted_reduce(loss, weight, reduction: str):
    """mse/l1 with an elementwise weight: 'mean' divides by the sum of the weights."""
    _check_reduction(reduction)
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise located(
            ValueError(
                f"Weights and input must have the same size: weight {tuple(weight.shape)}, "
                f"input {tuple(loss.shape)}"
            )
        )
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return loss.sum() if reduction == "sum" else loss


def _warn_if_broadcast(input, target) -> None:
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=user_stacklevel(),
        )


# ----- classification ------------------------------------------------------------------------
def _check_class_target(name: str, input, target) -> None:
    """nll_loss's shape rules: input (C,) with target (), (N, C) with (N,), (N, C, d...) with
    (N, d...); target holds integer class indices."""
    if target.dtype.is_floating_point or target.dtype.name == "bool":
        raise located(
            RuntimeError(
                f"{name}: expected target of class indices with an integer dtype (int64), got "
                f"{target.dtype.name}; pass class probabilities with the input's shape instead"
            )
        )
    if input.ndim == 0:
        raise located(RuntimeError(f"{name}: input tensor should be 1D or more, got 0D"))
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if input.ndim > 1 and target.ndim and target.shape[0] != input.shape[0]:
        raise located(
            ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({target.shape[0]})."
            )
        )
    if tuple(target.shape) != expected:
        raise located(
            RuntimeError(
                f"{name}: expected target of shape {expected} for input of shape "
                f"{tuple(input.shape)} (classes in dim {0 if input.ndim == 1 else 1}), got "
                f"target of shape {tuple(target.shape)}"
            )
        )


def _safe_target(target, ignore_index: int, classes: int):
    """(target with ignored entries replaced by class 0, the float mask of kept entries).
    Kept targets outside [0, classes) raise torch's error."""
    ignored = target == ignore_index
    if is_traced(target):  # no values while tracing: a compiled graph cannot check them here
        return where(ignored, 0, target), ignored
    values = target.detach()._host()[~ignored.detach()._host()]
    if values.size and (values.min() < 0 or values.max() >= classes):
        bad = int(values.min() if values.min() < 0 else values.max())
        raise located(IndexError(f"Target {bad} is out of bounds (there are {classes} classes)."))
    return where(ignored, 0, target), ignored


def _class_weights(weight, classes: int, name: str):
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise located(
            RuntimeError(
                f"{name}: weight tensor should be defined either for all {classes} classes or "
                f"no classes but got weight tensor of shape: {tuple(weight.shape)}"
            )
        )
    return weight


def _mean_over(total, denominator):
    """total / denominator, NaN when every sample is ignored (denominator 0) as in torch, but
    with a zero gradient then rather than 0 * inf = NaN, so an all-padding batch does not
    poison the parameters."""
    empty = denominator == 0
    return total / where(empty, 1, denominator) + where(empty, float("nan"), 0).to(total.dtype)


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    """-weight[t] * input[t] per sample; 'mean' divides by the sum of the kept samples' weights."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_class_target("nll_loss", input, target)
    class_dim = 0 if input.ndim == 1 else 1
    classes = input.shape[class_dim]
    weight = _class_weights(weight, classes, "nll_loss")
    safe, ignored = _safe_target(target, ignore_index, classes)
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    kept = (~ignored).to(input.dtype)
    sample_weight = kept if weight is None else weight[safe] * kept
    loss = -picked * sample_weight
    if reduction == "mean":
        return _mean_over(loss.sum(), sample_weight.sum())
    return loss.sum() if reduction == "sum" else loss


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """nll_loss(log_softmax(input, class dim)); target holds class indices, or class
    probabilities when it has the input's shape. label_smoothing mixes in the uniform target."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise located(
            RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        )
    class_dim = 0 if input.ndim == 1 else 1
    if input.ndim == 0:
        raise located(RuntimeError("cross_entropy: input tensor should be 1D or more, got 0D"))
    classes = input.shape[class_dim]
    weight = _class_weights(weight, classes, "cross_entropy")
    log_probs = log_softmax(input, class_dim)
    if tuple(input.shape) == tuple(target.shape):
        return _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing, class_dim)
    loss = nll_loss(log_probs, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0:
        return loss
    smooth = _smoothing_term(log_probs, target, weight, reduction, ignore_index, class_dim)
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)


def _class_shape(weight, ndim: int, class_dim: int):
    """weight (C,) viewed so it broadcasts along the class dim of an ndim-D input."""
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.reshape(shape)


def _smoothing_term(log_probs, target, weight, reduction, ignore_index, class_dim):
    """The uniform-target part of label smoothing, normalised as torch does (by the kept
    samples' class weights for a weighted mean)."""
    if weight is not None:
        log_probs = log_probs * _class_shape(weight, log_probs.ndim, class_dim)
    safe, ignored = _safe_target(target, ignore_index, log_probs.shape[class_dim])
    smooth = where(ignored, 0, -log_probs.sum(class_dim))
    if reduction == "none":
        return smooth
    if reduction == "sum":
        return smooth.sum()
    kept = (~ignored).to(log_probs.dtype)
    denominator = kept.sum() if weight is None else (weight[safe] * kept).sum()
    return _mean_over(smooth.sum(), denominator)


def _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing, class_dim):
    if not target.dtype.is_floating_point:
        raise located(
            RuntimeError(
                f"cross_entropy: Expected floating point type for target with class "
                f"probabilities, got {target.dtype.name}"
            )
        )
    classes = log_probs.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    product = log_probs * target
    if weight is not None:
        product = product * _class_shape(weight, log_probs.ndim, class_dim)
    if reduction == "none":
        return -product.sum(class_dim)
    if reduction == "sum":
        return -product.sum()
    samples = log_probs.numel() // classes if classes else 0
    # An empty batch gives nan, as torch (0 / 0).
    return -product.sum() / samples if samples else product.sum() * float("nan")


def _check_unit_interval(tensor, name: str) -> None:
    values = tensor.detach()._host()
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise located(RuntimeError(f"all elements of {name} should be between 0 and 1"))


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """-weight * (t log x + (1 - t) log(1 - x)), with each log clamped to >= -100 (torch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise located(
            ValueError(
                f"Using a target size ({target.shape}) that is different to the input size "
                f"({input.shape}) is deprecated. Please ensure they have the same size."
            )
        )
    _check_unit_interval(input, "input")
    _check_unit_interval(target, "target")
    log_x = clamp(elementwise.LOG(input), min=-100)
    log_1mx = clamp(elementwise.LOG(1 - input), min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    """binary_cross_entropy(sigmoid(x), t) computed stably:
    (1 - t) x - (1 + (pos_weight - 1) t) log sigmoid(x)."""
    from .functional import logsigmoid

    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise located(
            ValueError(
                f"Target size ({target.shape}) must be the same as input size ({input.shape})"
            )
        )
    log_sigmoid = logsigmoid(input)
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sigmoid
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ----- regression ----------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(x - y)^2."""
    _warn_if_broadcast(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    difference = input - target
    return _weighted_reduce(difference * difference, weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|x - y|."""
    _warn_if_broadcast(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _weighted_reduce(elementwise.ABS(input - target), weight, reduction)


def _huber(difference, delta: float):
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere."""
    size = elementwise.ABS(difference)
    return where(size < delta, difference * difference * 0.5, (size - 0.5 * delta) * delta)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """huber(x - y, beta) / beta; plain |x - y| when beta is 0."""
    _warn_if_broadcast(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise located(
            RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
        )
    difference = input - target
    if beta == 0:
        return _reduce(elementwise.ABS(difference), reduction)
    return _reduce(_huber(difference, beta) * (1 / beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 (x - y)^2 where |x - y| < delta, delta (|x - y| - 0.5 delta) elsewhere."""
    _warn_if_broadcast(input, target)
    if delta <= 0:
        raise located(
            RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
        )
    loss = _huber(input - target, delta)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise located(ValueError("Weights and input must have the same size."))
        loss = loss * weight  # torch's weighted huber 'mean' is a plain mean
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log target - input), input given as log-probabilities; 'batchmean' divides
    the sum by the batch size (the KL divergence), 'mean' by the number of elements."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size. 'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition. 'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=user_stacklevel(),
        )
    if log_target:
        loss = elementwise.EXP(target) * (target - input)
    else:
        loss = elementwise.XLOGY(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


# ----- embeddings and ranking ----------------------------------------------------------------
def cosine_embedding_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise located(
            RuntimeError(
                f"cosine_embedding_loss: expected 1D or 2D inputs of equal shapes, got "
                f"{tuple(input1.shape)} and {tuple(input2.shape)}"
            )
        )
    dim = input1.ndim - 1
    epsilon = 1e-12  # torch's: keeps zero vectors finite
    dot = (input1 * input2).sum(dim)
    squares = ((input1 * input1).sum(dim) + epsilon) * ((input2 * input2).sum(dim) + epsilon)
    cosine = dot / elementwise.SQRT(squares)
    positive = where(target == 1, 1 - cosine, 0)
    negative = where(target == -1, clamp(cosine - margin, min=0), 0)
    return _reduce(positive + negative, reduction)


def margin_ranking_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise located(
            RuntimeError(
                f"margin_ranking_loss : All input tensors should have same dimension but got "
                f"sizes: input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
            )
        )
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """max(0, d(a, p) - d(a, n) + margin) with d the pairwise p-norm distance; swap uses
    min(d(a, n), d(p, n)) as the negative distance."""
    from .functional import pairwise_distance

    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise located(
            RuntimeError(
                f"The anchor, positive, and negative tensors are expected to have the same "
                f"number of dimensions, but got: anchor {anchor.ndim}D, positive "
                f"{positive.ndim}D, and negative {negative.ndim}D inputs"
            )
        )
    positive_distance = pairwise_distance(anchor, positive, p, eps)
    negative_distance = pairwise_distance(anchor, negative, p, eps)
    if swap:
        negative_distance = elementwise.minimum(
            negative_distance, pairwise_distance(positive, negative, p, eps)
        )
    return _reduce(clamp(positive_distance - negative_distance + margin, min=0), reduction)


# ----- ctc -----------------------------------------------------------------------------------
def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
):
    """-log p(target | input) summed over every alignment (CTC), for log_probs (T, N, C) or
    (T, C). targets are padded (N, S) or concatenated (sum(target_lengths),); the lengths are
    tensors or sequences of ints. 'mean' divides each loss by its target length, then averages;
    zero_infinity turns the infinite loss of an impossible alignment (and its gradient) into 0.
    The gradient is torch's, meant for log_probs that come from log_softmax (qilin/ops/ctc.py)."""
    _check_reduction(reduction)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise located(
            RuntimeError(
                f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {tuple(log_probs.shape)}"
            )
        )
    steps, batch, classes = log_probs.shape
    inputs = _ctc_lengths(input_lengths, "input_lengths", batch, 0, steps)
    lengths = _ctc_lengths(target_lengths, "target_lengths", batch, 0, None)
    padded = _padded_targets(targets, lengths, unbatched, classes)
    device = log_probs.device
    nll, _ = CTC_LOSS(
        log_probs,
        creation.tensor(padded, device=device),
        creation.tensor(inputs, device=device),
        creation.tensor(lengths, device=device),
        blank=blank,
        zero_infinity=zero_infinity,
    )
    if zero_infinity:
        nll = where(nll == float("inf"), 0.0, nll)
    if reduction == "mean":
        divisor = creation.tensor(np.maximum(lengths, 1), dtype=nll.dtype, device=device)
        return (nll / divisor).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.squeeze(0) if unbatched else nll


def _host_integers(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()._host()
    return np.asarray(value).astype(np.int64, copy=False)


def _ctc_lengths(value, name: str, batch: int, low: int, high) -> np.ndarray:
    """Lengths as an int64 array (batch,), with torch's checks of their count and range."""
    lengths = _host_integers(value).reshape(-1)
    if lengths.shape != (batch,):
        raise located(RuntimeError(f"{name} must be of size batch_size"))
    if lengths.size and lengths.min() < low:
        raise located(
            RuntimeError(
                f"Expected {name} to have value at least {low}, but got value {lengths.min()}"
            )
        )
    if high is not None and lengths.size and lengths.max() > high:
        raise located(
            RuntimeError(
                f"Expected {name} to have value at most {high}, but got value {lengths.max()}"
            )
        )
    return lengths


def _padded_targets(targets, lengths: np.ndarray, unbatched: bool, classes: int) -> np.ndarray:
    """(N, max target length) int64 from padded or concatenated targets."""
    values = _host_integers(targets)
    width = int(lengths.max()) if lengths.size else 0
    if unbatched:
        values = values.reshape(1, -1)
    if values.ndim == 1:  # concatenated: cut at the cumulative lengths
        if values.size != lengths.sum():
            raise located(
                RuntimeError(
                    f"Expected tensor to have size {lengths.sum()} at dimension 0, but got size "
                    f"{values.size} for argument #2 'targets'"
                )
            )
        padded = np.zeros((lengths.size, width), dtype=np.int64)
        padded[np.arange(width)[None, :] < lengths[:, None]] = values
        return padded
    if values.ndim != 2 or values.shape[1] < width:
        raise located(
            RuntimeError(
                f"Expected tensor to have size at least {width} at dimension 1, but got size "
                f"{values.shape[-1] if values.ndim else 0} for argument #2 'targets'"
            )
        )
    padded = np.ascontiguousarray(values[:, :width])
    used = padded[np.arange(width)[None, :] < lengths[:, None]]
    if used.size and (used.min() < 0 or used.max() >= classes):
        bad = used.min() if used.min() < 0 else used.max()
        raise located(IndexError(f"ctc_loss: target {bad} is out of range for {classes} classes"))
    return padded
