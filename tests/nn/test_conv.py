"""Convolution layers (Conv1d/2d/3d, ConvTranspose1d/2d/3d, Fold, Unfold) through the layer
harness over their options (padding modes, 'same', groups, depthwise, no bias, unbatched
inputs, output_size), their default initialisation, their argument errors, and F.unfold /
F.fold against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qilin
import qilin.nn as qnn
import qilin.nn.functional as QF

from .layer_harness import LayerSpec, check_forward_backward, check_repr, check_state_dict

SPECS = [
    LayerSpec("Conv1d", lambda nn: nn.Conv1d(3, 4, 3), [(2, 3, 8)]),
    LayerSpec(
        "Conv1d_options",
        lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False),
        [(2, 4, 9)],
    ),
    LayerSpec("Conv1d_unbatched", lambda nn: nn.Conv1d(3, 2, 2), [(3, 6)]),
    LayerSpec("Conv1d_same", lambda nn: nn.Conv1d(2, 3, 4, padding="same"), [(2, 2, 7)]),
    LayerSpec(
        "Conv1d_circular",
        lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"),
        [(2, 2, 5)],
    ),
    LayerSpec("Conv2d", lambda nn: nn.Conv2d(3, 4, 3), [(2, 3, 6, 5)]),
    LayerSpec(
        "Conv2d_options",
        lambda nn: nn.Conv2d(
            4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2
        ),
        [(2, 4, 7, 6)],
    ),
    LayerSpec(
        "Conv2d_depthwise", lambda nn: nn.Conv2d(3, 6, 3, padding=1, groups=3), [(2, 3, 5, 5)]
    ),
    LayerSpec("Conv2d_nobias", lambda nn: nn.Conv2d(2, 3, 1, bias=False), [(2, 2, 4, 3)]),
    LayerSpec("Conv2d_unbatched", lambda nn: nn.Conv2d(3, 2, 3, padding=1), [(3, 5, 4)]),
    LayerSpec("Conv2d_valid", lambda nn: nn.Conv2d(2, 3, 2, padding="valid"), [(2, 2, 4, 4)]),
    LayerSpec(
        "Conv2d_same_dilated",
        lambda nn: nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2)),
        [(2, 2, 6, 7)],
    ),
    LayerSpec(
        "Conv2d_reflect",
        lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"),
        [(2, 2, 5, 6)],
    ),
    LayerSpec(
        "Conv2d_replicate",
        lambda nn: nn.Conv2d(2, 3, 3, stride=2, padding=1, padding_mode="replicate"),
        [(2, 2, 6, 5)],
    ),
    LayerSpec(
        "Conv2d_circular",
        lambda nn: nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"),
        [(1, 2, 4, 4)],
    ),
    LayerSpec(
        "Conv2d_same_reflect",
        lambda nn: nn.Conv2d(2, 3, 4, padding="same", padding_mode="reflect"),
        [(2, 2, 6, 6)],
    ),
    LayerSpec(
        "Conv2d_reflect_unbatched",
        lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        [(2, 5, 5)],
    ),
    LayerSpec(
        "Conv3d", lambda nn: nn.Conv3d(2, 4, (2, 3, 2), padding=1, groups=2), [(2, 2, 4, 5, 4)]
    ),
    LayerSpec(
        "Conv3d_replicate",
        lambda nn: nn.Conv3d(1, 2, 2, padding=1, padding_mode="replicate"),
        [(1, 1, 3, 4, 3)],
    ),
    LayerSpec("Conv3d_unbatched", lambda nn: nn.Conv3d(2, 2, 2, stride=2), [(2, 4, 4, 5)]),
    LayerSpec(
        "ConvTranspose1d",
        lambda nn: nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1),
        [(2, 4, 5)],
    ),
    LayerSpec("ConvTranspose1d_unbatched", lambda nn: nn.ConvTranspose1d(2, 3, 2), [(2, 4)]),
    LayerSpec("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(3, 4, 3), [(2, 3, 4, 3)]),
    LayerSpec(
        "ConvTranspose2d_options",
        lambda nn: nn.ConvTranspose2d(
            4,
            6,
            (2, 3),
            stride=(2, 1),
            padding=(0, 1),
            output_padding=(1, 0),
            groups=2,
            dilation=(1, 2),
            bias=False,
        ),
        [(2, 4, 3, 4)],
    ),
    LayerSpec(
        "ConvTranspose2d_output_size",
        lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1),
        [(2, 2, 4, 4)],
        kwargs={"output_size": [8, 7]},
    ),
    LayerSpec(
        "ConvTranspose2d_output_size_full",
        lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=3),
        [(2, 3, 4)],
        kwargs={"output_size": (3, 10, 13)},
    ),
    LayerSpec(
        "ConvTranspose3d",
        lambda nn: nn.ConvTranspose3d(2, 2, 2, stride=2, groups=2),
        [(1, 2, 2, 3, 2)],
    ),
    LayerSpec(
        "Unfold",
        lambda nn: nn.Unfold((2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        [(2, 3, 5, 6)],
    ),
    LayerSpec("Unfold_unbatched", lambda nn: nn.Unfold(2), [(2, 4, 4)]),
    LayerSpec(
        "Fold", lambda nn: nn.Fold((5, 6), 2, dilation=(1, 2), padding=1, stride=2), [(2, 12, 9)]
    ),
    LayerSpec("Fold_unbatched", lambda nn: nn.Fold(4, 2, stride=2), [(8, 4)]),
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward_match_torch(spec):
    check_forward_backward(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_state_dict_matches_torch_and_round_trips(spec):
    check_state_dict(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr_matches_torch(spec):
    check_repr(spec)


# ----- default initialisation: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)) --------------
def _uniform_bound_check(values: np.ndarray, bound: float) -> None:
    """Inside [-bound, bound], reaching near both ends, with a uniform's std bound / sqrt(3)."""
    assert np.abs(values).max() <= bound
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound


@pytest.mark.parametrize(
    "build,fan_in",
    [
        (lambda: qnn.Conv2d(16, 64, 3), 16 * 9),
        (lambda: qnn.Conv1d(12, 40, 5, groups=4), 3 * 5),
        (lambda: qnn.Conv3d(4, 32, 2), 4 * 8),
        # a transposed weight is (in, out / groups, *k): fan_in is out / groups * prod(k)
        (lambda: qnn.ConvTranspose2d(64, 12, 3, groups=2), 6 * 9),
    ],
)
def test_default_init(build, fan_in):
    qilin.manual_seed(0)
    layer = build()
    bound = 1 / math.sqrt(fan_in)
    _uniform_bound_check(layer.weight.detach().numpy(), bound)
    bias = layer.bias.detach().numpy()
    assert np.abs(bias).max() <= bound and bias.std() > 0.3 * bound
    assert layer.weight.dtype == qilin.float32 and layer.weight.requires_grad


def test_dtype_and_shapes():
    layer = qnn.Conv2d(4, 6, (3, 2), groups=2, dtype=qilin.float64)
    assert layer.weight.dtype == qilin.float64 and tuple(layer.weight.shape) == (6, 2, 3, 2)
    transposed = qnn.ConvTranspose1d(4, 6, 3, groups=2, bias=False)
    assert tuple(transposed.weight.shape) == (4, 3, 3) and transposed.bias is None


# ----- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: qnn.Conv2d(4, 6, 3, groups=4), "out_channels must be divisible by groups"),
        (lambda: qnn.Conv2d(5, 6, 3, groups=2), "in_channels must be divisible by groups"),
        (lambda: qnn.Conv2d(4, 6, 3, groups=0), "groups must be a positive integer"),
        (lambda: qnn.Conv2d(4, 6, 3, padding_mode="foo"), "padding_mode must be one of"),
        (
            lambda: qnn.Conv2d(4, 6, 3, padding="same", stride=2),
            "padding='same' is not supported for strided convolutions",
        ),
        (lambda: qnn.Conv2d(4, 6, 3, padding="bar"), "Invalid padding string 'bar'"),
        (
            lambda: qnn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"),
            'Only "zeros" padding mode is supported for ConvTranspose2d',
        ),
    ],
)
def test_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_forward_errors():
    layer = qnn.Conv2d(4, 6, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 3, 5, 5\] to have 4 channels"):
        layer(qilin.zeros(2, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input"):
        layer(qilin.zeros(5, 5))
    transposed = qnn.ConvTranspose2d(4, 6, 3, stride=2)
    x = qilin.zeros(2, 4, 5, 5)
    with pytest.raises(
        ValueError,
        match=r"requested an output size of \[14, 14\], but valid sizes range from \[11, 11\] "
        r"to \[12, 12\]",
    ):
        transposed(x, output_size=(14, 14))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        transposed(x, output_size=(11,))


# ----- functional unfold / fold ---------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 2},
        {"kernel_size": (3, 2), "dilation": (2, 1), "padding": 1, "stride": (2, 3)},
        {"kernel_size": 1, "stride": 2},
    ],
)
def test_unfold_fold_match_torch(options):
    values = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    ours = QF.unfold(qilin.tensor(values), **options)
    theirs = torch.nn.functional.unfold(torch.tensor(values), **options)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    folded = QF.fold(ours, (7, 6), **options)
    expected = torch.nn.functional.fold(theirs, (7, 6), **options)
    np.testing.assert_allclose(folded.numpy(), expected.numpy())


def test_fold_of_unfold_counts_overlaps():
    """fold(unfold(x)) multiplies each pixel by the number of blocks covering it."""
    x = qilin.ones(1, 1, 4, 5)
    counts = QF.fold(QF.unfold(x, 2), (4, 5), 2).numpy()[0, 0]
    rows = np.array([1, 2, 2, 1])[:, None]
    columns = np.array([1, 2, 2, 2, 1])[None, :]
    np.testing.assert_array_equal(counts, rows * columns)


def test_conv_layer_trains_a_step():
    """The parameters of a small conv net get gradients and an SGD step lowers the loss."""
    qilin.manual_seed(0)
    model = qnn.Sequential(
        qnn.Conv2d(1, 4, 3, padding=1), qnn.ReLU(), qnn.Conv2d(4, 2, 3, stride=2), qnn.Flatten()
    )
    x = qilin.randn(8, 1, 7, 7)
    target = qilin.randn(8, 18)
    optimizer = qilin.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]
