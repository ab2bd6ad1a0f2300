"""Connectionist temporal classification: the CTC loss as one primitive and its gradient.

The forward is the alpha recursion in log space over the extended label sequence
l' = (blank, l1, blank, l2, ..., blank) of length L = 2S + 1, vectorised over the batch and the
label positions, looping over time only:

    alpha[t, s] = lp[t, l'_s] + logsumexp(alpha[t-1, s], alpha[t-1, s-1], alpha[t-1, s-2]),

the s-2 term only where l'_s is not blank and differs from l'_{s-2}. The negative log
likelihood is -logsumexp(alpha[T_n-1, 2S_n], alpha[T_n-1, 2S_n-1]).

The gradient comes from the beta recursion (the same from the end) in one primitive, which is
faster than back-propagating through T steps of the recursion and gives torch's gradient:
torch returns exp(lp) - posterior, the gradient with respect to logits through a log_softmax,
rather than -posterior, the gradient with respect to free log-probabilities. The two differ by
exp(lp), which log_softmax's backward removes, so for the normalised log-probabilities CTC is
meant for the gradient reaching the logits is the same. As in torch, the backward is not itself
differentiable.
"""

from __future__ import annotations

import numpy as np

from .families import define
from .registry import Spec

__all__: list[str] = []  # called through nn.functional.ctc_loss (qilin.ctc_loss is not bound)

NEG_INF = -np.inf


def _meta(log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
    if log_probs.ndim != 3:
        raise RuntimeError(
            f"ctc_loss: log_probs must be 3-D (T, N, C), got shape {tuple(log_probs.shape)}"
        )
    if not log_probs.dtype.is_floating_point:
        raise RuntimeError(f"ctc_loss: log_probs must be floating point, got {log_probs.dtype}")
    steps, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if targets.ndim != 2 or targets.shape[0] != batch:
        raise RuntimeError(
            f"ctc_loss: targets must be (N={batch}, S) here, got {tuple(targets.shape)}"
        )
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if tuple(lengths.shape) != (batch,):
            raise RuntimeError(f"{name} must be of size batch_size")
    extended = 2 * targets.shape[1] + 1
    return Spec((batch,), log_probs.dtype), Spec((steps, batch, extended), log_probs.dtype)


def _logsumexp(xp, *terms):
    """Elementwise log(sum(exp(terms))) that gives -inf, without warnings, where all are -inf."""
    top = terms[0]
    for term in terms[1:]:
        top = xp.maximum(top, term)
    safe = xp.where(xp.isneginf(top), 0, top)
    total = sum(xp.exp(term - safe) for term in terms)
    with np.errstate(divide="ignore"):
        return safe + xp.log(total)


def _shift(xp, values, by: int):
    """values[..., s - by] at position s; -inf where that is outside (by < 0: from the right)."""
    shifted = xp.full_like(values, NEG_INF)
    if by > 0:
        shifted[..., by:] = values[..., :-by]
    else:
        shifted[..., :by] = values[..., -by:]
    return shifted


def _layout(xp, targets, target_lengths, blank: int):
    """The extended labels (N, L), whether s may be reached from s-2, and which s are valid."""
    batch, width = targets.shape
    extended = xp.full((batch, 2 * width + 1), blank, dtype=np.int64)
    extended[:, 1::2] = targets
    skip = xp.zeros(extended.shape, dtype=bool)
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    valid = xp.arange(2 * width + 1)[None, :] < (2 * target_lengths[:, None] + 1)
    return extended, skip, valid


def _alpha(xp, log_probs, extended, skip, valid):
    """log alpha (T, N, L); positions past a target's extended length stay -inf."""
    steps = log_probs.shape[0]
    emit = xp.take_along_axis(log_probs, xp.broadcast_to(extended, (steps, *extended.shape)), 2)
    alpha = xp.full(emit.shape, NEG_INF, dtype=log_probs.dtype)
    if steps == 0:
        return alpha, emit
    start = xp.full(extended.shape, NEG_INF, dtype=log_probs.dtype)
    start[:, :2] = 0
    alpha[0] = xp.where(valid, start + emit[0], NEG_INF)
    for t in range(1, steps):
        previous = alpha[t - 1]
        two_back = xp.where(skip, _shift(xp, previous, 2), NEG_INF)
        reached = _logsumexp(xp, previous, _shift(xp, previous, 1), two_back)
        alpha[t] = xp.where(valid, reached + emit[t], NEG_INF)
    return alpha, emit


def _final(xp, table, input_lengths, target_lengths):
    """-log p of each sample from the last alpha of its own input length."""
    batch = table.shape[1]
    rows = xp.arange(batch)
    last = xp.maximum(input_lengths - 1, 0)
    end = table[last, rows, 2 * target_lengths]
    before = table[last, rows, xp.maximum(2 * target_lengths - 1, 0)]
    before = xp.where(target_lengths > 0, before, NEG_INF)
    nll = -_logsumexp(xp, end, before)
    # no input at all: only the empty target is possible, with probability 1
    empty = xp.where(target_lengths == 0, 0.0, np.inf).astype(table.dtype)
    return xp.where(input_lengths == 0, empty, nll)


def _kernel(xp, log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
    extended, skip, valid = _layout(xp, targets, target_lengths, blank)
    alpha, _ = _alpha(xp, log_probs, extended, skip, valid)
    return _final(xp, alpha, input_lengths, target_lengths).astype(log_probs.dtype), alpha


def _beta(xp, emit, extended, skip, valid, input_lengths, target_lengths):
    """log beta (T, N, L), each sample started at its own last step T_n - 1."""
    steps, batch, width = emit.shape
    beta = xp.full(emit.shape, NEG_INF, dtype=emit.dtype)
    positions = xp.arange(width)[None, :]
    ends = (positions == 2 * target_lengths[:, None]) | (
        (positions == 2 * target_lengths[:, None] - 1) & (target_lengths[:, None] > 0)
    )
    # s may go on to s+2 where s+2 may be reached from s
    skip_ahead = xp.zeros(skip.shape, dtype=bool)
    skip_ahead[:, :-2] = skip[:, 2:]
    following = xp.full((batch, width), NEG_INF, dtype=emit.dtype)
    for t in range(steps - 1, -1, -1):
        two_ahead = xp.where(skip_ahead, _shift(xp, following, -2), NEG_INF)
        ahead = _logsumexp(xp, following, _shift(xp, following, -1), two_ahead)
        last = (input_lengths - 1 == t)[:, None]
        inside = (input_lengths - 1 > t)[:, None]
        here = xp.where(last & ends, 0.0, xp.where(inside, ahead, NEG_INF)) + emit[t]
        beta[t] = following = xp.where(valid, here, NEG_INF)
    return beta


def _backward_kernel(
    xp,
    grad,
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    nll,
    alpha,
    blank=0,
    zero_infinity=False,
):
    steps, batch, classes = log_probs.shape
    extended, skip, valid = _layout(xp, targets, target_lengths, blank)
    emit = xp.take_along_axis(log_probs, xp.broadcast_to(extended, (steps, *extended.shape)), 2)
    beta = _beta(xp, emit, extended, skip, valid, input_lengths, target_lengths)
    # posterior of being at s at time t: alpha * beta / (p * y), both tables hold y_t once
    with np.errstate(invalid="ignore"):
        occupancy = xp.exp(alpha + beta + nll[None, :, None] - emit)
    bins = (xp.arange(steps)[:, None, None] * batch + xp.arange(batch)[None, :, None]) * classes
    bins = bins + extended[None]
    posterior = xp.bincount(
        bins.reshape(-1), weights=occupancy.reshape(-1), minlength=steps * batch * classes
    ).reshape(steps, batch, classes)
    result = (xp.exp(log_probs) - posterior) * grad[None, :, None]
    # an impossible alignment (infinite loss) has no gradient: nan as in torch, or 0 with
    # zero_infinity; steps past a sample's input length get 0
    impossible = xp.isinf(nll)[None, :, None]
    result = xp.where(impossible, 0.0 if zero_infinity else np.nan, result)
    inside = xp.arange(steps)[:, None] < input_lengths[None, :]
    return xp.where(inside[..., None], result, 0.0).astype(log_probs.dtype)


def _backward_meta(grad, log_probs, *rest, **attrs):
    return Spec(tuple(log_probs.shape), log_probs.dtype)


CTC_LOSS_BACKWARD = define(
    "ctc_loss_backward",
    meta=_backward_meta,
    kernel=_backward_kernel,
    vjp=None,
    family="library",
    differentiable=False,
    doc="d(ctc nll)/d(log_probs) from the alpha and beta recursions (torch's convention).",
)


def _vjp(node, grads):
    grad_nll = grads[0]  # the alpha table is not differentiable
    log_probs, targets, input_lengths, target_lengths = node.inputs
    nll, alpha = node.outs
    grad = CTC_LOSS_BACKWARD(
        grad_nll, log_probs, targets, input_lengths, target_lengths, nll, alpha, **node.attrs
    )
    return grad, None, None, None


CTC_LOSS = define(
    "ctc_loss",
    meta=_meta,
    kernel=_kernel,
    vjp=_vjp,
    family="library",
    save_outputs=True,
    num_outputs=2,
    nondiff_outputs=frozenset({1}),
    eager_check=True,
    doc="CTC negative log likelihood per sample (N,) and the log alpha table (T, N, 2S+1).",
)
