"""Specs for the CTC loss primitive and its backward: forward against a brute-force NumPy sum
over every alignment, forward and gradient against torch, finite differences. The input goes
through log_softmax, the use CTC's gradient convention is made for (qilin/ops/ctc.py); torch
has no double backward for CTC, so neither is checked."""

import itertools

import numpy as np

from .harness import Arg, OpSpec, make_tests


def _collapse(path, blank: int) -> tuple:
    merged = [label for index, label in enumerate(path) if index == 0 or label != path[index - 1]]
    return tuple(label for label in merged if label != blank)


def _brute_force_nll(x, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
    """-log of the summed probability of every path over C^T that collapses to the target."""
    shifted = x - x.max(axis=2, keepdims=True)
    probs = np.exp(shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True)))
    losses = []
    for n, (steps, length) in enumerate(zip(input_lengths, target_lengths)):
        target = tuple(np.asarray(targets[n])[:length])
        total = sum(
            np.prod([probs[t, n, c] for t, c in enumerate(path)])
            for path in itertools.product(range(x.shape[2]), repeat=steps)
            if _collapse(path, blank) == target
        )
        loss = -np.log(total) if total > 0 else np.inf
        losses.append(0.0 if zero_infinity and np.isinf(loss) else loss)
    return np.array(losses, dtype=x.dtype)


def _concatenated(targets, lengths):
    return np.concatenate([row[:length] for row, length in zip(targets, lengths)])


PADDED = np.array([[1, 1, 2], [2, 0, 0], [2, 1, 0]])
BLANK_TWO = np.array([[0, 1, 0], [1, 1, 0], [3, 3, 3]])  # blank is 2; repeats need a blank

SPECS = [
    OpSpec(
        ("ctc_loss", "ctc_loss_backward"),
        lambda lib, x, t, il, tl: lib.nn.functional.ctc_loss(
            x.log_softmax(2), lib.tensor(t), il, tl, reduction="none"
        ),
        [(Arg((5, 3, 3)), PADDED, (5, 4, 3), (3, 1, 2))],
        ref=lambda x, t, il, tl: _brute_force_nll(x, t, il, tl),
        name="ctc_loss_padded",
        double=False,
    ),
    OpSpec(
        ("ctc_loss", "ctc_loss_backward"),
        lambda lib, x, t, il, tl: lib.nn.functional.ctc_loss(
            x.log_softmax(2),
            lib.tensor(_concatenated(t, tl)),
            lib.tensor(il),
            lib.tensor(tl),
            blank=2,
            reduction="none",
            zero_infinity=True,
        ),
        # sample 1 cannot align ("1 1" needs 3 steps, it has 2): zero loss, zero gradient
        [(Arg((4, 3, 4)), BLANK_TWO, np.array([4, 2, 4]), np.array([2, 2, 1]))],
        ref=lambda x, t, il, tl: _brute_force_nll(x, t, il, tl, blank=2, zero_infinity=True),
        name="ctc_loss_concatenated_blank_2",
        double=False,
    ),
]

make_tests(SPECS, globals())
