"""EmbeddingBag / F.embedding_bag and CTCLoss / F.ctc_loss against torch: forward, gradients
(float64), the layer harness, torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qilin
import qilin.nn as qnn
import qilin.nn.functional as QF

from .layer_harness import Grad, LayerSpec, check_forward_backward, check_repr, check_state_dict


def _tensor(lib, value):
    return None if value is None else lib.tensor(value)


def _close(ours, theirs, what: str, rtol=1e-7, atol=1e-9) -> None:
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol, err_msg=what
    )


# ----- embedding_bag -------------------------------------------------------------------------
def _bag_both(indices, offsets=None, weights=None, **options):
    """F.embedding_bag in qilin and torch on the same float64 weight; forward and the grads of
    weight (and per_sample_weights) for one random cotangent are compared."""
    rng = np.random.default_rng(0)
    table = rng.standard_normal((7, 3))
    results = []
    for lib, functional in ((qilin, QF), (torch, torch.nn.functional)):
        weight = lib.tensor(table).requires_grad_(True)
        sample = None if weights is None else lib.tensor(weights).requires_grad_(True)
        output = functional.embedding_bag(
            lib.tensor(indices),
            weight,
            _tensor(lib, offsets),
            per_sample_weights=sample,
            **options,
        )
        cotangent = np.random.default_rng(1).standard_normal(tuple(output.shape))
        (output * lib.tensor(cotangent)).sum().backward()
        results.append((output, weight.grad, None if sample is None else sample.grad))
    (ours, our_grad, our_sample), (theirs, their_grad, their_sample) = results
    assert tuple(ours.shape) == tuple(theirs.shape)
    _close(ours, theirs, "forward")
    _close(our_grad, their_grad, "grad of weight")
    if weights is not None:
        _close(our_sample, their_sample, "grad of per_sample_weights")


FLAT = np.array([1, 2, 1, 3, 0, 6, 6, 4])
BAG_CASES = {
    "fixed": dict(indices=np.array([[1, 2, 4], [6, 6, 0]])),
    "offsets": dict(indices=FLAT, offsets=np.array([0, 3, 3, 5])),  # bag 1 is empty
    "last_offset": dict(indices=FLAT, offsets=np.array([0, 2, 5, 8]), include_last_offset=True),
    "padding": dict(indices=FLAT, offsets=np.array([0, 2, 5]), padding_idx=1),
    "padding_fixed": dict(indices=np.array([[1, 2, 4], [6, 6, 6], [0, 6, 3]]), padding_idx=-1),
    "int32": dict(indices=FLAT.astype(np.int32), offsets=np.array([0, 4])),
    "single_bag": dict(indices=FLAT[:3], offsets=np.array([0])),
}


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", list(BAG_CASES))
def test_embedding_bag_matches_torch(case, mode):
    _bag_both(mode=mode, **BAG_CASES[case])


@pytest.mark.parametrize("case", ["fixed", "offsets", "padding", "padding_fixed", "last_offset"])
def test_embedding_bag_per_sample_weights(case):
    indices = BAG_CASES[case]["indices"]
    weights = np.random.default_rng(2).uniform(0.5, 2.0, indices.shape)
    _bag_both(mode="sum", weights=weights, **BAG_CASES[case])


def test_embedding_bag_scale_grad_by_freq_divides_by_the_count():
    """Reference: F.embedding's scale_grad_by_freq then a sum per bag (torch's embedding_bag
    CPU kernel mis-scales rows whose index occurs once when others repeat)."""
    indices, offsets = np.array([1, 2, 1, 3, 0, 1]), np.array([0, 2, 2])
    table = np.random.default_rng(0).standard_normal((5, 2))
    weight = qilin.tensor(table).requires_grad_(True)
    QF.embedding_bag(
        qilin.tensor(indices), weight, qilin.tensor(offsets), mode="sum", scale_grad_by_freq=True
    ).sum().backward()
    reference = torch.tensor(table).requires_grad_(True)
    torch.nn.functional.embedding(
        torch.tensor(indices), reference, scale_grad_by_freq=True
    ).sum().backward()
    _close(weight.grad, reference.grad, "grad")


def test_embedding_bag_max_norm_renormalises_used_rows():
    table = np.random.default_rng(0).standard_normal((7, 3)) * 3
    ours, theirs = qilin.tensor(table), torch.tensor(table)
    indices, offsets = np.array([1, 2, 5]), np.array([0, 1])
    out = QF.embedding_bag(qilin.tensor(indices), ours, qilin.tensor(offsets), max_norm=1.0)
    expected = torch.nn.functional.embedding_bag(
        torch.tensor(indices), theirs, torch.tensor(offsets), max_norm=1.0
    )
    _close(out, expected, "forward", rtol=1e-6)
    _close(ours, theirs, "renormalised weight", rtol=1e-6)


BAG_ERRORS = [
    (dict(indices=FLAT, offsets=np.array([1, 3])), RuntimeError, "offsets\\[0\\] has to be 0"),
    (dict(indices=FLAT, offsets=None), ValueError, "offsets has to be a 1D Tensor"),
    (dict(indices=FLAT, offsets=np.array([[0, 2]])), ValueError, "offsets has to be a 1D"),
    (dict(indices=FLAT, offsets=np.array([0, 9])), RuntimeError, "can not be greater than"),
    (dict(indices=FLAT[:2].reshape(1, 2), offsets=np.array([0])), ValueError, "input is 2D"),
    (dict(indices=FLAT, offsets=np.array([0]), mode="median"), ValueError, "mode has to be"),
    (
        dict(indices=FLAT, offsets=np.array([0]), weights=np.ones(8)),
        NotImplementedError,
        "only supported for mode='sum'",
    ),
    (
        dict(indices=FLAT, offsets=np.array([0]), mode="sum", weights=np.ones(3)),
        ValueError,
        "must have the same shape as the input",
    ),
    (
        dict(indices=FLAT, offsets=np.array([0]), mode="max", scale_grad_by_freq=True),
        ValueError,
        "max mode does not support",
    ),
    (dict(indices=np.array([1.0]), offsets=np.array([0])), RuntimeError, "Long, Int"),
    (dict(indices=np.array([1, 9]), offsets=np.array([0])), IndexError, "index 9 is out of"),
]


@pytest.mark.parametrize("arguments, kind, message", BAG_ERRORS)
def test_embedding_bag_errors(arguments, kind, message):
    arguments = dict(arguments)
    indices, offsets = arguments.pop("indices"), arguments.pop("offsets")
    weights = arguments.pop("weights", None)
    weight = qilin.randn(7, 3, dtype=qilin.float64)
    with pytest.raises(kind, match=message):
        QF.embedding_bag(
            qilin.tensor(indices),
            weight,
            _tensor(qilin, offsets),
            per_sample_weights=_tensor(qilin, weights),
            **arguments,
        )
    # torch raises the same kind of error for the same call (its wording may differ)
    with pytest.raises(kind if kind is not IndexError else (IndexError, RuntimeError)):
        torch.nn.functional.embedding_bag(
            torch.tensor(indices),
            torch.tensor(weight.numpy()),
            _tensor(torch, offsets),
            per_sample_weights=_tensor(torch, weights),
            **arguments,
        )


def _indices(values):
    return lambda rng: np.array(values)


BAG_SPECS = [
    LayerSpec("EmbeddingBag", lambda nn: nn.EmbeddingBag(8, 3), [_indices([[1, 2, 7], [0, 0, 5]])]),
    LayerSpec(
        "EmbeddingBag_offsets_sum",
        lambda nn: nn.EmbeddingBag(8, 3, mode="sum"),
        [
            _indices([1, 2, 7, 0, 0, 5, 3]),
            _indices([0, 2, 2, 6]),
            Grad(lambda rng: rng.uniform(0.5, 1.5, 7)),
        ],
    ),
    LayerSpec(
        "EmbeddingBag_max_padding",
        lambda nn: nn.EmbeddingBag(
            8, 3, mode="max", padding_idx=2, include_last_offset=True, norm_type=1.0
        ),
        [_indices([1, 2, 7, 0, 2, 5, 3]), _indices([0, 2, 4, 5, 7])],
    ),
    LayerSpec(
        "EmbeddingBag_fixed_weights",
        lambda nn: nn.EmbeddingBag(8, 2, mode="sum", scale_grad_by_freq=True, max_norm=10.0),
        [_indices([[1, 2], [3, 4]])],
        kwargs={"per_sample_weights": np.array([[0.5, 1.0], [2.0, -1.0]])},
    ),
]


@pytest.mark.parametrize("spec", BAG_SPECS, ids=str)
def test_embedding_bag_layer(spec):
    check_forward_backward(spec)
    check_state_dict(spec)
    check_repr(spec)


def test_embedding_bag_init_and_from_pretrained():
    bag = qnn.EmbeddingBag(300, 40, padding_idx=3)
    weight = bag.weight.detach().numpy()
    assert weight.dtype == np.float32 and np.all(weight[3] == 0)
    rest = np.delete(weight, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    table = qilin.tensor(np.arange(12.0).reshape(4, 3))
    frozen = qnn.EmbeddingBag.from_pretrained(table, mode="sum")
    assert not frozen.weight.requires_grad and frozen.mode == "sum"
    out = frozen(qilin.tensor([[0, 1], [2, 3]]))
    np.testing.assert_array_equal(out.numpy(), [[3, 5, 7], [15, 17, 19]])
    assert qnn.EmbeddingBag.from_pretrained(table, freeze=False).weight.requires_grad
    assert repr(frozen) == repr(torch.nn.EmbeddingBag.from_pretrained(torch.ones(4, 3), mode="sum"))
    with pytest.raises(ValueError, match="2-dimensional"):
        qnn.EmbeddingBag.from_pretrained(qilin.ones(4))


# ----- ctc_loss ------------------------------------------------------------------------------
def _log_probs(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _ctc_both(log_probs, targets, input_lengths, target_lengths, as_tensors=True, **options):
    """F.ctc_loss in qilin and torch; forward and the gradient with respect to log_probs (for
    a random cotangent) are compared."""
    results = []
    for lib, functional in ((qilin, QF), (torch, torch.nn.functional)):
        inputs = lib.tensor(log_probs).requires_grad_(True)
        lengths = (
            (lib.tensor(input_lengths), lib.tensor(target_lengths))
            if as_tensors
            else (tuple(input_lengths), tuple(target_lengths))
        )
        loss = functional.ctc_loss(inputs, lib.tensor(targets), *lengths, **options)
        cotangent = np.random.default_rng(1).standard_normal(tuple(loss.shape))
        (loss * lib.tensor(cotangent)).sum().backward()
        results.append((loss, inputs.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == qilin.float64
    _close(ours, theirs, "forward")
    _close(our_grad, their_grad, "grad of log_probs")
    return ours, our_grad


PADDED_TARGETS = np.array([[1, 1, 2, 3], [2, 0, 0, 0], [4, 3, 4, 1], [3, 3, 3, 3]])
CTC_CASES = {
    "padded": dict(targets=PADDED_TARGETS, input_lengths=[9, 5, 7, 9], target_lengths=[3, 1, 4, 4]),
    "empty_target": dict(
        targets=PADDED_TARGETS, input_lengths=[9, 3, 7, 2], target_lengths=[3, 0, 4, 0]
    ),
    "concatenated": dict(
        targets=np.array([1, 1, 2, 2, 4, 3, 4, 1, 3, 3]),
        input_lengths=[9, 5, 7, 9],
        target_lengths=[3, 1, 4, 2],
    ),
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", list(CTC_CASES))
def test_ctc_loss_matches_torch(case, reduction):
    _ctc_both(_log_probs((9, 4, 5)), reduction=reduction, **CTC_CASES[case])


@pytest.mark.parametrize("blank", [2, 4])
def test_ctc_loss_other_blanks(blank):
    targets = np.array([[0, 1, 1, 3], [3, 3, 1, 0]])
    targets = np.where(targets == blank, (blank + 1) % 5, targets)
    _ctc_both(_log_probs((10, 2, 5)), targets, [10, 8], [4, 3], blank=blank, reduction="none")


def test_ctc_loss_lengths_as_tuples():
    _ctc_both(_log_probs((9, 4, 5)), as_tensors=False, **CTC_CASES["padded"])


def test_ctc_loss_impossible_alignment():
    """'3 3 3 3' needs 7 steps: with 5 the loss is inf (torch's gradient is nan on its steps); with
    zero_infinity both become 0 and the other samples are untouched."""
    case = dict(targets=PADDED_TARGETS, input_lengths=[9, 5, 7, 5], target_lengths=[3, 1, 4, 4])
    log_probs = _log_probs((9, 4, 5))
    loss, grad = _ctc_both(log_probs, reduction="none", **case)
    assert np.isinf(loss.detach().numpy()[3]) and np.all(np.isfinite(loss.detach().numpy()[:3]))
    assert np.all(np.isnan(grad.numpy()[:5, 3])) and np.all(grad.numpy()[5:, 3] == 0)
    assert np.all(np.isfinite(grad.numpy()[:, :3]))
    for reduction in ("none", "mean", "sum"):
        loss, grad = _ctc_both(log_probs, reduction=reduction, zero_infinity=True, **case)
        assert np.all(np.isfinite(loss.detach().numpy())) and np.all(grad.numpy()[:, 3] == 0)


def test_ctc_loss_unbatched_and_float32():
    log_probs = _log_probs((6, 5))
    ours = QF.ctc_loss(
        qilin.tensor(log_probs), qilin.tensor([1, 2]), qilin.tensor(6), qilin.tensor(2)
    )
    theirs = torch.nn.functional.ctc_loss(
        torch.tensor(log_probs), torch.tensor([1, 2]), torch.tensor(6), torch.tensor(2)
    )
    assert ours.shape == () and ours.dtype == qilin.float64
    _close(ours, theirs, "unbatched")
    single = np.float32(_log_probs((9, 4, 5)))
    case = CTC_CASES["padded"]
    ours = QF.ctc_loss(qilin.tensor(single), qilin.tensor(case["targets"]), *_lengths(qilin, case))
    theirs = torch.nn.functional.ctc_loss(
        torch.tensor(single), torch.tensor(case["targets"]), *_lengths(torch, case)
    )
    assert ours.dtype == qilin.float32
    _close(ours, theirs, "float32", rtol=1e-5, atol=1e-5)


def _lengths(lib, case):
    return lib.tensor(case["input_lengths"]), lib.tensor(case["target_lengths"])


def test_ctc_loss_logits_gradient_matches_finite_differences():
    """Through log_softmax, torch's gradient convention is the true gradient of the logits."""
    logits = np.random.default_rng(3).standard_normal((5, 2, 4))
    targets, lengths = np.array([[1, 3], [2, 2]]), ([5, 5], [2, 2])

    def loss(values):
        x = qilin.tensor(values)
        return QF.ctc_loss(x.log_softmax(2), qilin.tensor(targets), *lengths, reduction="sum")

    x = qilin.tensor(logits).requires_grad_(True)
    QF.ctc_loss(x.log_softmax(2), qilin.tensor(targets), *lengths, reduction="sum").backward()
    numeric = np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[index] = 1e-6
        numeric[index] = (loss(logits + step).item() - loss(logits - step).item()) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-5, atol=1e-7)


CTC_ERRORS = [
    (dict(input_lengths=[10, 5, 7, 9]), "input_lengths to have value at most 9"),
    (dict(input_lengths=[9, 5, 7]), "input_lengths must be of size batch_size"),
    (dict(target_lengths=[3, 1, 5, 4]), "size at least 5 at dimension 1"),
    (dict(target_lengths=[3, -1, 4, 4]), "target_lengths to have value at least 0"),
    (dict(targets=np.array([1, 2, 3])), "to have size 12 at dimension 0, but got size 3"),
    (dict(blank=5), "blank must be in label range"),
]


@pytest.mark.parametrize("change, message", CTC_ERRORS)
def test_ctc_loss_errors(change, message):
    arguments = {**CTC_CASES["padded"], "target_lengths": [3, 1, 4, 4], **change}
    blank = arguments.pop("blank", 0)
    log_probs = _log_probs((9, 4, 5))
    for lib, functional in ((qilin, QF), (torch, torch.nn.functional)):
        with pytest.raises(RuntimeError, match=message):
            functional.ctc_loss(
                lib.tensor(log_probs),
                lib.tensor(arguments["targets"]),
                lib.tensor(arguments["input_lengths"]),
                lib.tensor(arguments["target_lengths"]),
                blank=blank,
            )


def _log_softmax_sample(shape):
    return Grad(lambda rng: _log_probs(shape, int(rng.integers(1000))))


CTC_SPECS = [
    LayerSpec(
        "CTCLoss",
        lambda nn: nn.CTCLoss(),
        [
            _log_softmax_sample((8, 3, 5)),
            _indices([[1, 2, 2], [3, 0, 0], [4, 4, 1]]),
            _indices([8, 6, 7]),
            _indices([3, 1, 3]),
        ],
    ),
    LayerSpec(
        "CTCLoss_options",
        lambda nn: nn.CTCLoss(blank=3, reduction="sum", zero_infinity=True),
        [
            _log_softmax_sample((6, 3, 4)),
            _indices([1, 2, 2, 0, 0, 0, 0]),
            _indices([6, 4, 6]),
            _indices([3, 4, 0]),
        ],
    ),
]


@pytest.mark.parametrize("spec", CTC_SPECS, ids=str)
def test_ctc_loss_layer(spec):
    check_forward_backward(spec)
    check_state_dict(spec)
    check_repr(spec)
