"""qilin.nn.init: the samples follow the distributions torch documents (mean, std, bounds from
the fan formulas), seeds make them repeatable, gains equal torch's, and every initialiser
works in place on a tensor that requires grad without recording history."""

import math

import numpy as np
import pytest

import qilin
import qilin.nn.init as init

try:
    import torch
except ImportError:  # torch is the oracle for the gains and fans
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")


def leaf(*shape, dtype=qilin.float32):
    return qilin.zeros(*shape, dtype=dtype).requires_grad_(True)


def values(tensor) -> np.ndarray:
    return tensor.detach().numpy().astype(np.float64)


# ----- gains and fans ------------------------------------------------------------------------
GAINS = [
    ("linear", None),
    ("conv2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 3),
    ("selu", None),
]


@needs_torch
@pytest.mark.parametrize("nonlinearity,param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_rejects_unknown_input():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@needs_torch
@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (6, 2, 5), (2, 3, 2, 2, 2)])
def test_fans_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(qilin.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(qilin.empty(5))


# ----- distributions -------------------------------------------------------------------------
def check_uniform(sample: np.ndarray, low: float, high: float) -> None:
    assert sample.min() >= low and sample.max() <= high
    width = high - low
    # Nearly filled: the extremes of many draws lie close to the bounds.
    assert sample.min() < low + 0.01 * width and sample.max() > high - 0.01 * width
    assert abs(sample.mean() - (low + high) / 2) < 0.02 * width
    assert sample.std() == pytest.approx(width / math.sqrt(12), rel=0.03)


def check_normal(sample: np.ndarray, mean: float, std: float) -> None:
    standard_error = std / math.sqrt(sample.size)
    assert abs(sample.mean() - mean) < 5 * standard_error
    assert sample.std() == pytest.approx(std, rel=0.03)


def test_uniform_and_normal():
    check_uniform(values(init.uniform_(leaf(100, 100), -3.0, 5.0)), -3.0, 5.0)
    check_normal(values(init.normal_(leaf(100, 100), 2.0, 0.5)), 2.0, 0.5)


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    tensor = leaf(300, 100)
    std = gain * math.sqrt(2.0 / (300 + 100))
    check_uniform(
        values(init.xavier_uniform_(tensor, gain)), -math.sqrt(3) * std, math.sqrt(3) * std
    )
    check_normal(values(init.xavier_normal_(tensor, gain=gain)), 0.0, std)


@pytest.mark.parametrize(
    "a,mode,nonlinearity",
    [
        (0, "fan_in", "leaky_relu"),
        (0.2, "fan_out", "leaky_relu"),
        (0, "fan_in", "relu"),
        (0, "fan_out", "tanh"),
    ],
)
def test_kaiming(a, mode, nonlinearity):
    tensor = leaf(64, 16, 3, 3)  # fan_in 144, fan_out 576
    fan = 16 * 9 if mode == "fan_in" else 64 * 9
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3) * std
    check_uniform(values(init.kaiming_uniform_(tensor, a, mode, nonlinearity)), -bound, bound)
    check_normal(values(init.kaiming_normal_(tensor, a, mode, nonlinearity)), 0.0, std)


def test_kaiming_rejects_unknown_mode_and_skips_empty_tensors():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(qilin.empty(3, 4), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(qilin.empty(0, 4))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.0, 3.0)])
def test_trunc_normal_matches_the_truncated_normal(mean, std, a, b):
    sample = values(init.trunc_normal_(leaf(200, 200), mean, std, a, b))
    assert sample.min() >= a and sample.max() <= b
    # The truncated normal's mean and variance (alpha, beta: the bounds standardised).
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    expected_mean = mean + std * (pdf(alpha) - pdf(beta)) / mass
    variance = std**2 * (
        1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - ((pdf(alpha) - pdf(beta)) / mass) ** 2
    )
    assert abs(sample.mean() - expected_mean) < 5 * math.sqrt(variance / sample.size)
    assert sample.std() == pytest.approx(math.sqrt(variance), rel=0.03)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (5, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    tensor = init.orthogonal_(leaf(*shape, dtype=qilin.float64), gain)
    matrix = values(tensor).reshape(shape[0], -1)
    rows, columns = matrix.shape
    gram = matrix @ matrix.T if rows <= columns else matrix.T @ matrix
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, columns)), atol=1e-12)


def test_orthogonal_needs_two_dims():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(qilin.empty(3))


def test_sparse_zeroes_the_fraction_per_column():
    tensor = init.sparse_(leaf(10, 50), 0.3, std=0.1)
    sample = values(tensor)
    assert ((sample == 0).sum(0) == 3).all()
    check_normal(sample[sample != 0], 0.0, 0.1)


# ----- constants -----------------------------------------------------------------------------
def test_constants_eye_and_dirac():
    np.testing.assert_array_equal(
        values(init.constant_(leaf(2, 3), 0.7)), np.full((2, 3), 0.7, np.float32)
    )
    np.testing.assert_array_equal(values(init.ones_(leaf(4))), np.ones(4))
    tensor = init.ones_(leaf(3))
    np.testing.assert_array_equal(values(init.zeros_(tensor)), np.zeros(3))
    np.testing.assert_array_equal(values(init.eye_(leaf(3, 5))), np.eye(3, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(qilin.empty(2, 2, 2))


@needs_torch
@pytest.mark.parametrize("shape,groups", [((4, 3, 3), 1), ((6, 2, 3, 3), 2), ((4, 4, 1, 3, 2), 1)])
def test_dirac_matches_torch(shape, groups):
    expected = torch.nn.init.dirac_(torch.empty(*shape), groups).numpy()
    np.testing.assert_array_equal(values(init.dirac_(leaf(*shape), groups)), expected)


# ----- in place, no history, seeds -----------------------------------------------------------
CALLS = [
    ("uniform_", lambda t: init.uniform_(t, -1, 1)),
    ("normal_", init.normal_),
    ("trunc_normal_", init.trunc_normal_),
    ("constant_", lambda t: init.constant_(t, 3.0)),
    ("ones_", init.ones_),
    ("zeros_", init.zeros_),
    ("eye_", init.eye_),
    ("xavier_uniform_", init.xavier_uniform_),
    ("xavier_normal_", init.xavier_normal_),
    ("kaiming_uniform_", init.kaiming_uniform_),
    ("kaiming_normal_", init.kaiming_normal_),
    ("orthogonal_", init.orthogonal_),
    ("sparse_", lambda t: init.sparse_(t, 0.5)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[name for name, _ in CALLS])
def test_in_place_without_history(name, call):
    tensor = leaf(4, 6)
    storage = tensor.data_ptr() if hasattr(tensor, "data_ptr") else None
    result = call(tensor)
    assert result is tensor
    assert tensor.requires_grad and tensor.is_leaf and tensor.grad_fn is None
    if storage is not None:
        assert tensor.data_ptr() == storage
    # Still a usable leaf: a gradient flows into it.
    (tensor * 2).sum().backward()
    np.testing.assert_array_equal(tensor.grad.numpy(), np.full((4, 6), 2.0))


RANDOM = [name for name, _ in CALLS if name not in ("constant_", "ones_", "zeros_", "eye_")]


@pytest.mark.parametrize("name", RANDOM)
def test_generator_and_manual_seed_make_it_repeatable(name):
    call = dict(CALLS)[name]
    qilin.manual_seed(3)
    first = values(call(qilin.empty(5, 7)))
    qilin.manual_seed(3)
    second = values(call(qilin.empty(5, 7)))
    np.testing.assert_array_equal(first, second)
    function = getattr(init, name)
    arguments = {"sparse_": (0.5,), "uniform_": (-1, 1)}.get(name, ())
    drawn = [
        values(function(qilin.empty(5, 7), *arguments, generator=qilin.Generator().manual_seed(11)))
        for _ in range(2)
    ]
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.array_equal(drawn[0], first)
