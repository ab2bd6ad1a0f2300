"""The basic layers (linear, flatten, activations, dropout, embedding, losses) through the
layer harness, plus their default initialisation and Dropout's train / eval behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qilin
import qilin.nn as qnn

from .layer_harness import (
    Grad,
    LayerSpec,
    check_forward_backward,
    check_repr,
    check_state_dict,
)


def _classes(count: int, shape):
    return lambda rng: rng.integers(0, count, shape)


def _signs(shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape)


def _probabilities(shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


SPECS = [
    LayerSpec("Identity", lambda nn: nn.Identity(3, unused=True)),
    LayerSpec("Linear", lambda nn: nn.Linear(4, 5), [(2, 3, 4)]),
    LayerSpec("Linear_nobias", lambda nn: nn.Linear(4, 2, bias=False)),
    LayerSpec("Bilinear", lambda nn: nn.Bilinear(4, 3, 2), [(5, 4), (5, 3)]),
    LayerSpec("Bilinear_nobias", lambda nn: nn.Bilinear(4, 3, 2, bias=False), [(4,), (3,)]),
    LayerSpec("Flatten", lambda nn: nn.Flatten(), [(2, 3, 4, 2)]),
    LayerSpec("Flatten_range", lambda nn: nn.Flatten(0, 1), [(2, 3, 4)]),
    LayerSpec("Unflatten", lambda nn: nn.Unflatten(1, (2, -1)), [(3, 6)]),
    LayerSpec("ReLU", lambda nn: nn.ReLU()),
    LayerSpec("ReLU_inplace", lambda nn: nn.ReLU(inplace=True)),
    LayerSpec("ReLU6", lambda nn: nn.ReLU6(), [Grad(lambda rng: rng.uniform(-3, 9, (4, 5)))]),
    LayerSpec("LeakyReLU", lambda nn: nn.LeakyReLU(0.2, inplace=True)),
    LayerSpec("PReLU", lambda nn: nn.PReLU()),
    LayerSpec("PReLU_channels", lambda nn: nn.PReLU(4, init=0.1), [(2, 4, 3)]),
    LayerSpec("ELU", lambda nn: nn.ELU(alpha=0.5)),
    LayerSpec("SELU", lambda nn: nn.SELU()),
    LayerSpec("CELU", lambda nn: nn.CELU(alpha=2.0)),
    LayerSpec("GELU", lambda nn: nn.GELU()),
    LayerSpec("GELU_tanh", lambda nn: nn.GELU(approximate="tanh")),
    LayerSpec("SiLU", lambda nn: nn.SiLU()),
    LayerSpec("Mish", lambda nn: nn.Mish()),
    LayerSpec("Hardswish", lambda nn: nn.Hardswish()),
    LayerSpec("Hardsigmoid", lambda nn: nn.Hardsigmoid()),
    LayerSpec("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.75)),
    LayerSpec("Softplus", lambda nn: nn.Softplus(beta=2.0, threshold=1.0)),
    LayerSpec("Softsign", lambda nn: nn.Softsign()),
    LayerSpec("Tanh", lambda nn: nn.Tanh()),
    LayerSpec("Sigmoid", lambda nn: nn.Sigmoid()),
    LayerSpec("LogSigmoid", lambda nn: nn.LogSigmoid()),
    LayerSpec("Softmax", lambda nn: nn.Softmax(dim=1), [(2, 3, 4)]),
    LayerSpec("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1)),
    LayerSpec("Softmin", lambda nn: nn.Softmin(dim=0)),
    LayerSpec("GLU", lambda nn: nn.GLU(dim=1), [(3, 4, 2)]),
    LayerSpec("Threshold", lambda nn: nn.Threshold(0.1, 20.0, inplace=True)),
    LayerSpec("Dropout", lambda nn: nn.Dropout(0.3), random=True),
    LayerSpec("Dropout1d", lambda nn: nn.Dropout1d(), [(2, 3, 4)], random=True),
    LayerSpec("Dropout2d", lambda nn: nn.Dropout2d(0.2), [(2, 3, 4, 2)], random=True),
    LayerSpec("Embedding", lambda nn: nn.Embedding(6, 3), [_classes(6, (2, 5))]),
    LayerSpec(
        "Embedding_padding",
        lambda nn: nn.Embedding(6, 3, padding_idx=-2, max_norm=None, norm_type=1.0),
        [lambda rng: np.array([[4, 1, 4], [0, 4, 5]])],
    ),
    LayerSpec("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(), [(4, 3), _classes(3, 4)]),
    LayerSpec(
        "CrossEntropyLoss_options",
        lambda nn: nn.CrossEntropyLoss(
            weight=_weight(nn, [0.2, 1.0, 3.0]), ignore_index=1, label_smoothing=0.1
        ),
        [(4, 3, 2), _classes(3, (4, 2))],
    ),
    LayerSpec(
        "NLLLoss",
        lambda nn: nn.NLLLoss(weight=_weight(nn, [1.0, 2.0, 0.5]), reduction="sum"),
        [(5, 3), _classes(3, 5)],
    ),
    LayerSpec(
        "BCELoss", lambda nn: nn.BCELoss(), [Grad(_probabilities((3, 4))), _probabilities((3, 4))]
    ),
    LayerSpec(
        "BCEWithLogitsLoss",
        lambda nn: nn.BCEWithLogitsLoss(pos_weight=_weight(nn, [1.0, 2.0, 0.5, 3.0])),
        [(3, 4), _probabilities((3, 4))],
    ),
    LayerSpec("MSELoss", lambda nn: nn.MSELoss(), [(3, 4), (3, 4)]),
    LayerSpec("L1Loss", lambda nn: nn.L1Loss(reduction="none"), [(3, 4), (3, 4)]),
    LayerSpec("SmoothL1Loss", lambda nn: nn.SmoothL1Loss(beta=0.5), [(3, 4), (3, 4)]),
    LayerSpec("HuberLoss", lambda nn: nn.HuberLoss(delta=0.7), [(3, 4), (3, 4)]),
    LayerSpec(
        "KLDivLoss",
        lambda nn: nn.KLDivLoss(reduction="batchmean"),
        [(3, 4), _probabilities((3, 4))],
    ),
    LayerSpec(
        "CosineEmbeddingLoss",
        lambda nn: nn.CosineEmbeddingLoss(margin=0.2),
        [(4, 3), (4, 3), _signs(4)],
    ),
    LayerSpec(
        "MarginRankingLoss",
        lambda nn: nn.MarginRankingLoss(margin=0.1),
        [(5,), (5,), _signs(5)],
    ),
    LayerSpec(
        "TripletMarginLoss",
        lambda nn: nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True),
        [(4, 3), (4, 3), (4, 3)],
    ),
]


def _weight(nn, values):
    """A class-weight tensor from whichever library `nn` belongs to."""
    library = torch if nn is torch.nn else qilin
    return library.tensor(values)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward_match_torch(spec):
    check_forward_backward(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_state_dict_matches_torch_and_round_trips(spec):
    check_state_dict(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr_matches_torch(spec):
    check_repr(spec)


# ----- default initialisation: the distributions torch's reset_parameters draws from ---------
def _uniform_bound_check(values: np.ndarray, bound: float) -> None:
    """Inside [-bound, bound], reaching near both ends, with a uniform's std bound / sqrt(3)."""
    assert np.abs(values).max() <= bound
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_linear_default_init():
    qilin.manual_seed(0)
    layer = qnn.Linear(100, 300)
    bound = 1 / math.sqrt(100)
    _uniform_bound_check(layer.weight.detach().numpy(), bound)
    _uniform_bound_check(layer.bias.detach().numpy(), bound)
    assert layer.weight.dtype == qilin.float32 and layer.weight.requires_grad
    assert qnn.Linear(3, 2, dtype=qilin.float64).weight.dtype == qilin.float64


def test_bilinear_default_init():
    qilin.manual_seed(0)
    layer = qnn.Bilinear(25, 10, 40)
    bound = 1 / math.sqrt(25)
    _uniform_bound_check(layer.weight.detach().numpy(), bound)
    _uniform_bound_check(layer.bias.detach().numpy(), bound)


def test_embedding_default_init_and_padding():
    qilin.manual_seed(0)
    weight = qnn.Embedding(200, 50, padding_idx=3).weight.detach().numpy()
    assert np.all(weight[3] == 0)
    rest = np.delete(weight, 3, axis=0)
    assert abs(rest.mean()) < 0.05 and abs(rest.std() - 1) < 0.05


def test_prelu_default_init():
    np.testing.assert_array_equal(
        qnn.PReLU(3, init=0.1).weight.detach().numpy(), np.float32([0.1] * 3)
    )
    np.testing.assert_array_equal(qnn.PReLU().weight.detach().numpy(), np.float32([0.25]))


def test_embedding_padding_row_gets_no_gradient():
    layer = qnn.Embedding(4, 2, padding_idx=1)
    layer(qilin.tensor([[1, 2], [1, 1]])).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [[0, 0], [0, 0], [1, 1], [0, 0]])


def test_embedding_from_pretrained():
    table = np.arange(12.0).reshape(4, 3)
    frozen = qnn.Embedding.from_pretrained(qilin.tensor(table))
    assert not frozen.weight.requires_grad and repr(frozen) == "Embedding(4, 3)"
    np.testing.assert_array_equal(frozen(qilin.tensor([2, 0])).numpy(), table[[2, 0]])
    trainable = qnn.Embedding.from_pretrained(qilin.tensor(table), freeze=False, padding_idx=0)
    assert trainable.weight.requires_grad and trainable.padding_idx == 0
    with pytest.raises(ValueError, match="2-dimensional"):
        qnn.Embedding.from_pretrained(qilin.zeros(3))


# ----- Dropout: random in training, the identity in eval ------------------------------------
@pytest.mark.parametrize(
    ("layer", "shape", "channel_axes"),
    [
        (qnn.Dropout(0.3), (200, 50), ()),
        (qnn.Dropout1d(0.3), (20, 30, 8), (2,)),
        (qnn.Dropout2d(0.3), (20, 30, 4, 2), (2, 3)),
    ],
    ids=["Dropout", "Dropout1d", "Dropout2d"],
)
def test_dropout_train_and_eval(layer, shape, channel_axes):
    qilin.manual_seed(0)
    x = qilin.ones(shape)
    kept = layer(x).numpy()
    # zeros, or 1 / (1 - p); whole channels share one decision
    np.testing.assert_allclose(np.unique(kept), [0.0, 1 / 0.7], rtol=1e-6)
    if channel_axes:
        assert np.all(kept.min(axis=channel_axes) == kept.max(axis=channel_axes))
    assert abs((kept == 0).mean() - 0.3) < 0.05
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()


def test_dropout_rejects_bad_probability():
    for layer in (qnn.Dropout, qnn.Dropout1d, qnn.Dropout2d):
        with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
            layer(1.5)


# nn.functional's inplace=True writes over an input that the composite's backward reads (clamp
# inside elu / hardtanh, the input inside silu...): gradients must still match torch's.
@pytest.mark.parametrize(
    "build",
    [
        lambda nn: nn.ReLU6(inplace=True),
        lambda nn: nn.Hardtanh(inplace=True),
        lambda nn: nn.ELU(inplace=True),
        lambda nn: nn.SELU(inplace=True),
        lambda nn: nn.CELU(inplace=True),
        lambda nn: nn.SiLU(inplace=True),
        lambda nn: nn.Mish(inplace=True),
        lambda nn: nn.Hardswish(inplace=True),
    ],
    ids=["ReLU6", "Hardtanh", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardswish"],
)
def test_inplace_activation_backward(build):
    check_forward_backward(LayerSpec("inplace", build))
