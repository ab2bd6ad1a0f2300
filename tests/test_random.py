"""Random numbers: seeding, generators and state, and the distributions checked statistically.

Every test seeds its generator, so results are deterministic; the statistical bounds (a few
standard errors, chi-square at z < 4.5) are loose enough that a correct sampler passes for any
seed and tight enough that a wrong mean, variance or category weight fails.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import qilin
from qilin.random import fork_rng

N = 100_000


def within_standard_errors(samples: np.ndarray, mean: float, variance: float, sigmas=5.0):
    """Sample mean and variance agree with the expected ones to `sigmas` standard errors."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    n = samples.size
    assert abs(samples.mean() - mean) < sigmas * math.sqrt(variance / n), (samples.mean(), mean)
    # The sample variance's standard error, from the fourth central moment.
    fourth = np.mean((samples - mean) ** 4)
    variance_error = math.sqrt(max(fourth - variance**2, 1e-30) / n)
    assert abs(samples.var() - variance) < sigmas * variance_error, (samples.var(), variance)


def chi_square_ok(counts: np.ndarray, probabilities: np.ndarray) -> None:
    """Pearson's chi-square test, with the Wilson-Hilferty normal approximation of its tail."""
    counts = np.asarray(counts, dtype=np.float64)
    expected = probabilities / probabilities.sum() * counts.sum()
    keep = expected > 0
    assert counts[~keep].sum() == 0, "a zero-probability category was drawn"
    statistic = float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    dof = int(keep.sum()) - 1
    z = ((statistic / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    assert z < 4.5, f"chi-square {statistic:.1f} with {dof} degrees of freedom (z={z:.2f})"


# ----- seeding and state -----------------------------------------------------------------------
SAMPLERS = {
    "rand": lambda g: qilin.rand(5, generator=g),
    "randn": lambda g: qilin.randn(2, 3, generator=g),
    "randint": lambda g: qilin.randint(0, 100, (6,), generator=g),
    "randperm": lambda g: qilin.randperm(10, generator=g),
    "normal": lambda g: qilin.normal(0.0, 1.0, (4,), generator=g),
    "multinomial": lambda g: qilin.multinomial(qilin.ones(10), 3, generator=g),
    "uniform_": lambda g: qilin.empty(5).uniform_(generator=g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_manual_seed_reproduces(name):
    draw = SAMPLERS[name]
    qilin.manual_seed(1234)
    first = [draw(None).tolist() for _ in range(2)]
    qilin.manual_seed(1234)
    second = [draw(None).tolist() for _ in range(2)]
    assert first == second
    assert first[0] != first[1], "consecutive draws must differ"
    qilin.manual_seed(4321)
    assert draw(None).tolist() != first[0]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_streams_are_independent(name):
    draw = SAMPLERS[name]
    g = qilin.Generator().manual_seed(7)
    alone = draw(g).tolist()
    g.manual_seed(7)
    qilin.manual_seed(0)
    default_before = qilin.get_rng_state()
    qilin.rand(100)  # the default generator advancing must not touch g ...
    assert draw(g).tolist() == alone
    # ... and drawing from g must not advance the default generator.
    after = qilin.get_rng_state()
    draw(g)
    assert qilin.get_rng_state().tolist() == after.tolist() != default_before.tolist()


def test_generator_api():
    g = qilin.Generator()
    assert g.device == qilin.device("cpu")
    assert g.manual_seed(5) is g
    assert g.initial_seed() == 5
    assert qilin.manual_seed(-1).initial_seed() == 2**64 - 1
    with pytest.raises(ValueError):
        qilin.manual_seed(2**64)
    fresh = qilin.Generator().seed()
    assert isinstance(fresh, int) and 0 <= fresh < 2**64
    assert qilin.initial_seed() == 2**64 - 1
    assert isinstance(qilin.default_generator, qilin.Generator)


def test_generator_state_round_trip():
    g = qilin.Generator().manual_seed(11)
    qilin.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype is qilin.uint8 and state.ndim == 1
    expected = [qilin.randn(4, generator=g).tolist(), qilin.randint(9, (3,), generator=g).tolist()]
    other = qilin.Generator().set_state(state)
    assert other.initial_seed() == 11
    assert [
        qilin.randn(4, generator=other).tolist(),
        qilin.randint(9, (3,), generator=other).tolist(),
    ] == expected
    g.set_state(state)
    assert qilin.randn(4, generator=g).tolist() == expected[0]


def test_generator_pickle_and_deepcopy():
    g = qilin.Generator().manual_seed(3)
    qilin.rand(2, generator=g)
    for clone in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
        assert clone.initial_seed() == 3
        assert (
            qilin.rand(4, generator=clone).tolist()
            == qilin.rand(4, generator=copy.deepcopy(g)).tolist()
        )


def test_rng_state_restores_exact_next_draws():
    qilin.manual_seed(99)
    qilin.randn(10)
    state = qilin.get_rng_state()
    expected = (qilin.rand(5).tolist(), qilin.randn(3).tolist(), qilin.randperm(6).tolist())
    qilin.rand(1000)
    qilin.set_rng_state(state)
    assert (qilin.rand(5).tolist(), qilin.randn(3).tolist(), qilin.randperm(6).tolist()) == expected


def test_set_rng_state_rejects_bad_states():
    with pytest.raises(TypeError, match="ByteTensor"):
        qilin.set_rng_state(qilin.zeros(3))
    with pytest.raises(RuntimeError, match="bytes"):
        qilin.set_rng_state(qilin.zeros(3, dtype=qilin.uint8))


def test_fork_rng_restores_state():
    qilin.manual_seed(5)
    expected = qilin.rand(3).tolist()
    qilin.manual_seed(5)
    with fork_rng():
        inside = qilin.rand(3).tolist()
        qilin.randn(50)
    assert inside == expected
    assert qilin.rand(3).tolist() == expected
    with fork_rng(enabled=False):
        qilin.rand(1)
    assert qilin.rand(3).tolist() != expected


def test_same_draws_with_and_without_default_generator_argument():
    qilin.manual_seed(8)
    a = qilin.rand(4).tolist()
    qilin.manual_seed(8)
    assert qilin.rand(4, generator=qilin.default_generator).tolist() == a


# ----- factories: shapes, dtypes, signatures ---------------------------------------------------
SHAPE_CASES = [
    (lambda: qilin.rand(2, 3), (2, 3), qilin.float32),
    (lambda: qilin.rand((2, 3)), (2, 3), qilin.float32),
    (lambda: qilin.rand([4]), (4,), qilin.float32),
    (lambda: qilin.rand(size=(4,)), (4,), qilin.float32),
    (lambda: qilin.rand(()), (), qilin.float32),
    (lambda: qilin.rand(2, dtype=qilin.float64), (2,), qilin.float64),
    (lambda: qilin.rand(2, dtype=qilin.float16), (2,), qilin.float16),
    (lambda: qilin.randn(qilin.Size([2, 2])), (2, 2), qilin.float32),
    (lambda: qilin.randn(3, dtype=qilin.bfloat16), (3,), qilin.bfloat16),
    (lambda: qilin.randint(10, (3,)), (3,), qilin.int64),
    (lambda: qilin.randint(3, 10, (3,)), (3,), qilin.int64),
    (lambda: qilin.randint(high=10, size=(3,)), (3,), qilin.int64),
    (lambda: qilin.randint(low=3, high=10, size=(3,)), (3,), qilin.int64),
    (lambda: qilin.randint(10, size=(3,)), (3,), qilin.int64),
    (lambda: qilin.randint(3, 10, size=[2, 2]), (2, 2), qilin.int64),
    (lambda: qilin.randint(0, 10, (2,), dtype=qilin.float32), (2,), qilin.float32),
    (lambda: qilin.randint(0, 10, (2,), dtype=qilin.int32), (2,), qilin.int32),
    (lambda: qilin.randint_like(qilin.zeros(2), 5), (2,), qilin.float32),
    (lambda: qilin.randint_like(qilin.zeros(2, 2), 3, 5), (2, 2), qilin.float32),
    (lambda: qilin.randint_like(qilin.zeros(2, dtype=qilin.int64), high=5), (2,), qilin.int64),
    (lambda: qilin.rand_like(qilin.zeros(2, dtype=qilin.float64)), (2,), qilin.float64),
    (lambda: qilin.randn_like(qilin.zeros(1, 2)), (1, 2), qilin.float32),
    (lambda: qilin.randn_like(qilin.zeros(2), dtype=qilin.float64), (2,), qilin.float64),
    (lambda: qilin.randperm(5), (5,), qilin.int64),
    (lambda: qilin.randperm(5, dtype=qilin.float32), (5,), qilin.float32),
    (lambda: qilin.randperm(0), (0,), qilin.int64),
    (lambda: qilin.normal(qilin.zeros(3), qilin.ones(1)), (3,), qilin.float32),
    (lambda: qilin.normal(qilin.zeros(3), qilin.ones(3, 1)), (3, 3), qilin.float32),
    (lambda: qilin.normal(qilin.zeros(3)), (3,), qilin.float32),
    (lambda: qilin.normal(qilin.zeros(3), 2.0), (3,), qilin.float32),
    (lambda: qilin.normal(1.0, qilin.ones(3)), (3,), qilin.float32),
    (lambda: qilin.normal(0.0, 1.0, (2,)), (2,), qilin.float32),
    (lambda: qilin.normal(0, 1, size=(2,)), (2,), qilin.float32),
    (lambda: qilin.normal(qilin.zeros(2, dtype=qilin.float64), qilin.ones(2)), (2,), qilin.float64),
    (lambda: qilin.normal(2.0, 3.0, (2,), dtype=qilin.float64), (2,), qilin.float64),
    (lambda: qilin.bernoulli(qilin.full((3,), 0.5)), (3,), qilin.float32),
    (lambda: qilin.bernoulli(qilin.zeros(3, dtype=qilin.int64), 0.5), (3,), qilin.int64),
    (lambda: qilin.poisson(qilin.tensor([1.0, 2.0], dtype=qilin.float64)), (2,), qilin.float64),
    (lambda: qilin.multinomial(qilin.tensor([1.0, 2.0, 3.0]), 2), (2,), qilin.int64),
    (lambda: qilin.multinomial(qilin.ones(4, 3), 5, True), (4, 5), qilin.int64),
]


@pytest.mark.parametrize("index", range(len(SHAPE_CASES)))
def test_factory_shapes_and_dtypes(index):
    build, shape, dtype = SHAPE_CASES[index]
    result = build()
    assert tuple(result.shape) == shape and result.dtype is dtype
    assert not result.requires_grad


def test_requires_grad_flag_and_detached_outputs():
    assert qilin.rand(2, requires_grad=True).requires_grad
    mean = qilin.zeros(2, requires_grad=True)
    assert not qilin.normal(mean, 1.0).requires_grad


ERRORS = [
    (lambda: qilin.rand(2, dtype=qilin.int64), RuntimeError, "floating point"),
    (lambda: qilin.rand_like(qilin.zeros(2, dtype=qilin.int64)), RuntimeError, "floating"),
    (lambda: qilin.rand(), TypeError, "size"),
    (lambda: qilin.randint(5, 5, (3,)), RuntimeError, "from=5 >= to=5"),
    (lambda: qilin.randint(10, 3), TypeError, "tuple of ints"),
    (lambda: qilin.randint(2.5, (3,)), TypeError, "must be int"),
    (lambda: qilin.randint(10), TypeError, "size"),
    (lambda: qilin.randint(0, 10, (2,), requires_grad=True), RuntimeError, "floating"),
    (lambda: qilin.randperm(-1), RuntimeError, "non-negative"),
    (lambda: qilin.normal(0.0, 1.0), TypeError, "size"),
    (lambda: qilin.normal(0.0, -1.0, (2,)), RuntimeError, "std >= 0.0"),
    (lambda: qilin.normal(qilin.zeros(2), -1.0), RuntimeError, "std >= 0.0"),
    (lambda: qilin.normal(qilin.zeros(2, dtype=qilin.int64), 1.0), RuntimeError, "floating"),
    (lambda: qilin.bernoulli(qilin.full((3,), 1.5)), RuntimeError, r"\[0, 1\]"),
    (lambda: qilin.bernoulli(qilin.zeros(3, dtype=qilin.int64)), RuntimeError, "floating"),
    (lambda: qilin.poisson(qilin.tensor([-1.0, 2.0])), RuntimeError, "non-negative"),
    (lambda: qilin.poisson(qilin.tensor([1, 2])), RuntimeError, "floating"),
    (
        lambda: qilin.multinomial(qilin.tensor([1.0, 2.0, 3.0]), 4),
        RuntimeError,
        "without replacement",
    ),
    (lambda: qilin.multinomial(qilin.tensor([1.0, -1.0, 0.0]), 1), RuntimeError, "element < 0"),
    (lambda: qilin.multinomial(qilin.tensor([1.0, float("nan")]), 1), RuntimeError, "nan"),
    (lambda: qilin.multinomial(qilin.tensor([0.0, 0.0]), 1), RuntimeError, "sum of prob"),
    (lambda: qilin.multinomial(qilin.tensor([1.0, 2.0]), 0), RuntimeError, "n_sample <= 0"),
    (lambda: qilin.multinomial(qilin.ones(2, 2, 2), 1), RuntimeError, "1 or 2 dim"),
    (lambda: qilin.multinomial(qilin.tensor([1, 2]), 1), RuntimeError, "floating"),
    (lambda: qilin.multinomial(qilin.tensor([1.0, 0.0, 0.0]), 2), RuntimeError, "not enough"),
    (lambda: qilin.zeros(3).uniform_(3, 2), RuntimeError, "from=3 > to=2"),
    (lambda: qilin.zeros(3).normal_(0, -1), RuntimeError, "std >= 0.0"),
    (lambda: qilin.zeros(3).exponential_(-1), RuntimeError, "lambda > 0.0"),
    (lambda: qilin.zeros(3).random_(5, 2), RuntimeError, "from=5 >= to=2"),
    (lambda: qilin.zeros(3).bernoulli_(2.0), RuntimeError, r"\[0, 1\]"),
    (lambda: qilin.zeros(3).geometric_(0.0), RuntimeError, r"\(0, 1\)"),
    (lambda: qilin.zeros(3, dtype=qilin.int64).normal_(), RuntimeError, "floating"),
    (lambda: qilin.zeros(3, dtype=qilin.int64).uniform_(), RuntimeError, "floating"),
    (lambda: qilin.zeros(3, requires_grad=True).uniform_(), RuntimeError, "leaf Variable"),
    (lambda: qilin.rand(2, generator=np.random.default_rng()), TypeError, "qilin.Generator"),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors(index):
    build, kind, pattern = ERRORS[index]
    with pytest.raises(kind, match=pattern):
        build()


# ----- distributions ---------------------------------------------------------------------------
def test_rand_is_uniform():
    values = qilin.rand(N).numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    within_standard_errors(values, 0.5, 1 / 12)
    counts = np.histogram(values, bins=20, range=(0, 1))[0]
    chi_square_ok(counts, np.ones(20))


@pytest.mark.parametrize("dtype", [qilin.float16, qilin.bfloat16, qilin.float64])
def test_rand_narrow_dtypes_stay_below_one(dtype):
    values = qilin.rand(N, dtype=dtype).float().numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    within_standard_errors(values, 0.5, 1 / 12, sigmas=8.0)  # rounding of narrow floats


def test_randn_is_standard_normal():
    values = qilin.randn(N, dtype=qilin.float64).numpy()
    within_standard_errors(values, 0.0, 1.0)
    # Normal tails: about 4.55% beyond two standard deviations.
    beyond = np.mean(np.abs(values) > 2)
    assert abs(beyond - 0.0455) < 5 * math.sqrt(0.0455 * 0.9545 / N)


def test_randint_is_uniform_chi_square():
    values = qilin.randint(-3, 7, (N,)).numpy()
    assert values.min() == -3 and values.max() == 6
    chi_square_ok(np.bincount(values + 3, minlength=10), np.ones(10))


def test_randint_large_range():
    values = qilin.randint(0, 2**40, (N,)).numpy()
    assert values.min() >= 0 and values.max() < 2**40
    within_standard_errors(values / 2**40, 0.5, 1 / 12)


def test_randperm_is_a_uniform_permutation():
    assert sorted(qilin.randperm(50).tolist()) == list(range(50))
    firsts = np.array([qilin.randperm(5)[0].item() for _ in range(5000)])
    chi_square_ok(np.bincount(firsts, minlength=5), np.ones(5))


def test_normal_tensor_forms():
    mean = qilin.tensor([-2.0, 0.0, 3.0], dtype=qilin.float64).reshape(3, 1).expand(3, N // 10)
    std = qilin.tensor([0.5, 1.0, 2.0], dtype=qilin.float64).reshape(3, 1)
    values = qilin.normal(mean, std).numpy()
    for row, (m, s) in enumerate([(-2.0, 0.5), (0.0, 1.0), (3.0, 2.0)]):
        within_standard_errors(values[row], m, s * s)
    within_standard_errors(qilin.normal(qilin.full((N,), 4.0), 3.0).numpy(), 4.0, 9.0)
    within_standard_errors(qilin.normal(-1.0, qilin.full((N,), 0.5)).numpy(), -1.0, 0.25)
    within_standard_errors(qilin.normal(2.0, 3.0, (N,)).numpy(), 2.0, 9.0)


def test_bernoulli():
    p = qilin.tensor([0.0, 0.2, 0.9, 1.0]).reshape(4, 1).expand(4, N // 4).contiguous()
    values = qilin.bernoulli(p).numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    assert values[0].sum() == 0 and values[3].sum() == N // 4
    for row, rate in ((1, 0.2), (2, 0.9)):
        within_standard_errors(values[row], rate, rate * (1 - rate))
    fixed = qilin.bernoulli(qilin.zeros(N), p=0.3).numpy()
    within_standard_errors(fixed, 0.3, 0.21)


def test_multinomial_with_replacement_chi_square():
    weights = np.array([1.0, 0.0, 2.0, 3.0, 4.0])
    draws = qilin.multinomial(qilin.tensor(weights), N, replacement=True).numpy()
    chi_square_ok(np.bincount(draws, minlength=5), weights)


def test_multinomial_2d_rows_use_their_own_weights():
    weights = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 3.0], [5.0, 1.0, 0.0, 0.0]])
    draws = qilin.multinomial(qilin.tensor(weights), N // 4, replacement=True).numpy()
    assert draws.shape == (3, N // 4)
    for row in range(3):
        chi_square_ok(np.bincount(draws[row], minlength=4), weights[row])


def test_multinomial_without_replacement():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    draws = qilin.multinomial(qilin.tensor(weights).expand(20000, 4).contiguous(), 4).numpy()
    assert all(sorted(row) == [0, 1, 2, 3] for row in draws[:100].tolist())
    # The first draw is proportional to the weights; the second is from the rest.
    chi_square_ok(np.bincount(draws[:, 0], minlength=4), weights)
    second_given_3 = draws[draws[:, 0] == 3, 1]
    chi_square_ok(np.bincount(second_given_3, minlength=4), np.array([1.0, 2.0, 3.0, 0.0]))
    zeros_last = qilin.multinomial(qilin.tensor([[0.0, 1.0, 1.0]] * 500), 2).numpy()
    assert not (zeros_last == 0).any()


def test_poisson():
    rates = qilin.tensor([0.5, 4.0, 30.0], dtype=qilin.float64).reshape(3, 1).expand(3, N // 5)
    values = qilin.poisson(rates.contiguous()).numpy()
    assert np.all(values == np.round(values)) and values.min() >= 0
    for row, rate in enumerate([0.5, 4.0, 30.0]):
        within_standard_errors(values[row], rate, rate)


# ----- in-place samplers -----------------------------------------------------------------------
def test_uniform_():
    t = qilin.empty(N, dtype=qilin.float64)
    assert t.uniform_(-2.0, 4.0) is t
    values = t.numpy()
    assert values.min() >= -2.0 and values.max() < 4.0
    within_standard_errors(values, 1.0, 36 / 12)


def test_normal_():
    values = qilin.empty(N).normal_(3.0, 0.5).numpy()
    within_standard_errors(values, 3.0, 0.25)


def test_exponential_():
    values = qilin.empty(N, dtype=qilin.float64).exponential_(2.0).numpy()
    assert values.min() >= 0
    within_standard_errors(values, 0.5, 0.25)


def test_log_normal_cauchy_geometric():
    log_values = np.log(qilin.empty(N, dtype=qilin.float64).log_normal_(1.0, 0.5).numpy())
    within_standard_errors(log_values, 1.0, 0.25)
    cauchy = qilin.empty(N, dtype=qilin.float64).cauchy_(2.0, 3.0).numpy()
    # Quartiles of Cauchy(m, s) are m -+ s.
    q1, median, q3 = np.quantile(cauchy, [0.25, 0.5, 0.75])
    assert abs(median - 2.0) < 0.1 and abs(q1 + 1.0) < 0.15 and abs(q3 - 5.0) < 0.15
    geometric = qilin.empty(N).geometric_(0.25).numpy()
    assert geometric.min() >= 1
    within_standard_errors(geometric, 4.0, 0.75 / 0.0625)


@pytest.mark.parametrize(
    "dtype,high",
    [
        (qilin.float32, 2**24 + 1),
        (qilin.float64, 2**53 + 1),
        (qilin.float16, 2**11 + 1),
        (qilin.int64, 2**63),
        (qilin.int32, 2**31),
        (qilin.uint8, 256),
        (qilin.bool, 2),
    ],
)
def test_random_default_range(dtype, high):
    values = qilin.zeros(N, dtype=dtype).random_().numpy().astype(np.float64)
    assert values.min() >= 0 and values.max() < high
    assert values.max() > 0.9 * (high - 1)


def test_random_bounds():
    values = qilin.zeros(N, dtype=qilin.int64).random_(5).numpy()
    chi_square_ok(np.bincount(values, minlength=5), np.ones(5))
    shifted = qilin.zeros(N).random_(-2, 3).numpy().astype(np.int64)
    chi_square_ok(np.bincount(shifted + 2, minlength=5), np.ones(5))


def test_bernoulli_():
    values = qilin.zeros(N).bernoulli_(0.3).numpy()
    within_standard_errors(values, 0.3, 0.21)
    p = qilin.tensor([0.0, 1.0, 1.0])
    assert qilin.zeros(3).bernoulli_(p).tolist() == [0.0, 1.0, 1.0]
    assert qilin.zeros(4, dtype=qilin.int64).bernoulli_(1.0).tolist() == [1, 1, 1, 1]


def test_in_place_samplers_write_into_views_and_bump_versions():
    base = qilin.zeros(4, 4)
    view = base[1]
    before = base._version
    view.uniform_(5.0, 6.0)
    assert base._version > before
    values = base.numpy()
    assert (values[1] >= 5.0).all() and (values[0] == 0).all() and (values[2:] == 0).all()


def test_in_place_samplers_under_no_grad_on_parameters():
    weight = qilin.zeros(3, requires_grad=True)
    with qilin.no_grad():
        weight.normal_()
        weight.uniform_(-1, 1)
    assert weight.requires_grad and weight.is_leaf
    assert (weight.detach().numpy() != 0).all()


def test_rand_like_randint_like_follow_input():
    base = qilin.zeros(3, 4, dtype=qilin.float64)
    assert qilin.rand_like(base).dtype is qilin.float64
    values = qilin.randint_like(base, 2, 6).numpy()
    assert values.min() >= 2 and values.max() <= 5 and values.dtype == np.float64


@pytest.mark.parametrize("factory", [qilin.rand, qilin.randn, qilin.zeros, qilin.ones, qilin.empty])
def test_factories_reject_unknown_keywords(factory):
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['foo'\\]"):
        factory(2, foo=3)
    assert tuple(factory(size=(2, 3)).shape) == (2, 3)
