"""Specs for qilin.nn.functional: every function against torch (forward, backward, double
backward) and finite differences in float64, plus NumPy references for the activations. The
cases a spec cannot state (dropout's randomness, errors, warnings) are plain tests at the end."""

import math

import numpy as np
import pytest

import qilin
import qilin.nn.functional as F

from ..ops.harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
B = (2, 3, 4)


def functional(name, **kwargs):
    """A spec call: lib.nn.functional.<name>(*tensors, **kwargs) for lib = qilin or torch."""
    return lambda lib, *args: getattr(lib.nn.functional, name)(*args, **kwargs)


def activation(name, ops, ref=None, samples=None, double=True, **kwargs):
    samples = samples or [(Arg(A),), (Arg(B, low=-4, high=4),), (Arg(()),)]
    label = name + ("-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else "")
    return OpSpec(ops, functional(name, **kwargs), samples, ref=ref, name=label, double=double)


WITH_DIM = [(Arg(A),), (Arg(B, low=-4, high=4),)]


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.log1p(np.exp(x))


def np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


ACTIVATIONS = [
    activation("relu", "relu", lambda x: np.maximum(x, 0)),
    activation("relu6", "clamp", lambda x: np.clip(x, 0, 6), [(Arg(A, low=-3, high=9),)]),
    activation("leaky_relu", "where", lambda x: np.where(x > 0, x, 0.01 * x)),
    activation("leaky_relu", "where", lambda x: np.where(x > 0, x, 0.2 * x), negative_slope=0.2),
    activation("elu", "expm1", lambda x: np.where(x > 0, x, np.expm1(x))),
    activation("elu", "expm1", lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), alpha=0.5),
    activation("selu", "expm1"),
    activation("celu", "expm1", lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2)), alpha=2.0),
    activation("gelu", "erf", lambda x: x * (1 + np_erf(x / np.sqrt(2))) / 2),
    activation("gelu", "tanh", approximate="tanh"),
    activation("silu", "sigmoid", lambda x: x * np_sigmoid(x)),
    activation("mish", "tanh", lambda x: x * np.tanh(np_softplus(x))),
    activation("hardswish", "clamp", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    # torch has no double backward for hardsigmoid
    activation("hardsigmoid", "clamp", lambda x: np.clip(x + 3, 0, 6) / 6, double=False),
    activation("hardtanh", "clamp", lambda x: np.clip(x, -1, 1)),
    activation("hardtanh", "clamp", min_val=-0.5, max_val=1.5),
    activation("hardshrink", "where", lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    activation("softshrink", "where", lambd=0.3),
    activation("tanhshrink", "tanh", lambda x: x - np.tanh(x)),
    activation("softplus", "log1p", np_softplus),
    activation("softplus", "log1p", beta=2.0, threshold=1.0),
    activation("softsign", "abs", lambda x: x / (1 + np.abs(x))),
    activation("tanh", "tanh", np.tanh),
    activation("sigmoid", "sigmoid", np_sigmoid),
    activation("logsigmoid", "log1p", lambda x: -np.log1p(np.exp(-x))),
    activation("logsigmoid", "log1p", samples=[(Arg(A, low=-40, high=40),)]),
    activation("threshold", "where", threshold=0.5, value=-1.0),
    activation("softmax", "softmax", samples=WITH_DIM, dim=1),
    activation("log_softmax", "log_softmax", samples=WITH_DIM, dim=-1),
    activation("softmin", "softmax", samples=WITH_DIM, dim=0),
    OpSpec("sigmoid", functional("glu"), [(Arg((3, 4)),)], name="glu"),
    OpSpec("sigmoid", functional("glu", dim=0), [(Arg((4, 3, 2)),)], name="glu-dim0"),
    OpSpec("where", functional("prelu"), [(Arg(B), Arg((3,))), (Arg(A), Arg((1,)))], name="prelu"),
]

MISC = [
    OpSpec(
        "matmul",
        functional("linear"),
        [
            (Arg((4, 3)), Arg((5, 3)), Arg((5,))),
            (Arg((2, 4, 3)), Arg((5, 3))),
            (Arg((4, 3)), Arg((3,))),
        ],
        ref=lambda x, w, b=None: x @ w.T + (0 if b is None else b),
        name="linear",
    ),
    OpSpec(
        "einsum",
        functional("bilinear"),
        [
            (Arg((4, 3)), Arg((4, 5)), Arg((2, 3, 5)), Arg((2,))),
            (Arg((2, 3)), Arg((2, 2)), Arg((3, 3, 2))),
        ],
        name="bilinear",
    ),
    OpSpec("eq", functional("one_hot"), [(Arg((2, 3), "index:5"),)], grad=False, name="one_hot"),
    OpSpec(
        "eq",
        functional("one_hot", num_classes=7),
        [(Arg((4,), "index:5"),)],
        grad=False,
        name="one_hot-7",
    ),
    OpSpec("sqrt", functional("normalize"), [(Arg(A),), (Arg(B),)], name="normalize"),
    OpSpec("pow", functional("normalize", p=3.0, dim=-1), [(Arg(B),)], name="normalize-p3"),
    OpSpec(
        "sqrt",
        functional("cosine_similarity"),
        [(Arg(A), Arg(A)), (Arg(B), Arg((3, 1)))],
        name="cosine_similarity",
    ),
    OpSpec(
        "sqrt",
        functional("pairwise_distance"),
        [(Arg(A), Arg(A)), (Arg(B), Arg((4,)))],
        name="pairwise_distance",
    ),
    OpSpec(
        "pow",
        functional("pairwise_distance", p=3.0, keepdim=True),
        [(Arg(A), Arg(A))],
        name="pairwise_distance-p3",
    ),
    OpSpec(
        "abs",
        functional("pairwise_distance", p=1.0),
        [(Arg(A), Arg(A))],
        name="pairwise_distance-p1",
    ),
    OpSpec(
        "cat",
        lambda lib, x: lib.nn.functional.pad(x, (1, 2, 0, 3), value=1.5),
        [(Arg(A),), (Arg(B),)],
        ref=lambda x: np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, 3), (1, 2)], constant_values=1.5),
        name="pad-constant",
    ),
    OpSpec(
        "slice",
        lambda lib, x: lib.nn.functional.pad(x, (-1, 2, 1, -2)),
        [(Arg(B),)],
        name="pad-constant-negative",
    ),
    OpSpec(
        "index",
        lambda lib, x: lib.nn.functional.pad(x, (2, 3), mode="reflect"),
        [(Arg((2, 5)),), (Arg((1, 2, 5)),)],
        ref=lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(2, 3)], mode="reflect"),
        name="pad-reflect",
    ),
    OpSpec(
        "index",
        lambda lib, x: lib.nn.functional.pad(x, (1, 2, 2, 1), mode="replicate"),
        [(Arg((2, 3, 4)),), (Arg((1, 2, 3, 4)),)],
        ref=lambda x: np.pad(x, [(0, 0)] * (x.ndim - 2) + [(2, 1), (1, 2)], mode="edge"),
        name="pad-replicate",
    ),
    OpSpec(
        "index",
        lambda lib, x: lib.nn.functional.pad(x, (1, 1, 1, 0, 2, 1), mode="circular"),
        [(Arg((1, 2, 3, 3, 3)),)],
        ref=lambda x: np.pad(x, [(0, 0), (0, 0), (2, 1), (1, 0), (1, 1)], mode="wrap"),
        name="pad-circular",
    ),
    OpSpec(
        "index",
        lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"),
        [(Arg((2, 3, 4)),)],
        name="pad-reflect-2d",
    ),
    OpSpec(
        "index",
        functional("embedding"),
        [(Arg((2, 3), "index:6"), Arg((6, 4))), (Arg((5,), "index:3"), Arg((3, 2)))],
        ref=lambda index, weight: weight[index],
        name="embedding",
    ),
]


def target(values):
    """A fixed target tensor built by the spec's own library."""
    return lambda lib: lib.tensor(values)


INDICES = [1, 0, -100, 3, 2]  # one entry is the default ignore_index
LOSSES = [
    OpSpec(
        "log_softmax",
        lambda lib, x, t, r: lib.nn.functional.cross_entropy(x, t, reduction=r),
        [(Arg((5, 4)), Arg((5,), "index:4"), r) for r in ("mean", "sum", "none")],
        name="cross_entropy",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, w, r: lib.nn.functional.cross_entropy(
            x, target(INDICES)(lib), weight=w, reduction=r
        ),
        [(Arg((5, 4)), Arg((4,), "positive", grad=False), r) for r in ("mean", "sum", "none")],
        name="cross_entropy-weight-ignore",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, ignore_index=2),
        [(Arg((2, 3, 4, 2)), Arg((2, 4, 2), "index:3"))],
        name="cross_entropy-spatial",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor(2)),
        [(Arg((4,)),)],
        name="cross_entropy-unbatched",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, w, r: lib.nn.functional.cross_entropy(
            x, target(INDICES)(lib), weight=w, reduction=r, label_smoothing=0.2
        ),
        [(Arg((5, 4)), Arg((4,), "positive", grad=False), r) for r in ("mean", "sum", "none")]
        + [(Arg((5, 4)), None, "mean")],
        name="cross_entropy-label_smoothing",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, t, r, s: lib.nn.functional.cross_entropy(
            x, t.softmax(1), reduction=r, label_smoothing=s
        ),
        [(Arg((3, 4)), Arg((3, 4)), r, s) for r in ("mean", "sum", "none") for s in (0.0, 0.3)]
        + [(Arg((2, 3, 2)), Arg((2, 3, 2)), "mean", 0.0)],
        name="cross_entropy-probabilities",
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, t, w: lib.nn.functional.cross_entropy(x, t.softmax(1), weight=w),
        [(Arg((3, 4)), Arg((3, 4)), Arg((4,), "positive", grad=False))],
        name="cross_entropy-probabilities-weight",
    ),
    OpSpec(
        "gather",
        lambda lib, x, w, r: lib.nn.functional.nll_loss(
            x, target(INDICES)(lib), weight=w, reduction=r
        ),
        [(Arg((5, 4)), None, r) for r in ("mean", "sum", "none")]
        + [(Arg((5, 4)), Arg((4,), "positive", grad=False), "mean")],
        name="nll_loss",
    ),
    OpSpec(
        "gather",
        lambda lib, x, t: lib.nn.functional.nll_loss(x, t, ignore_index=0),
        [(Arg((2, 3, 4)), Arg((2, 4), "index:3"))],
        name="nll_loss-spatial",
    ),
    OpSpec(
        "log",
        lambda lib, x, t, w, r: lib.nn.functional.binary_cross_entropy(x, t, w, reduction=r),
        [
            (Arg(A, low=0.05, high=0.95), Arg(A, low=0, high=1), None, r)
            for r in ("mean", "sum", "none")
        ]
        + [
            (
                Arg(A, low=0.05, high=0.95),
                Arg(A, low=0, high=1),
                Arg((4,), "positive", grad=False),
                "mean",
            )
        ],
        name="binary_cross_entropy",
    ),
    OpSpec(
        "log1p",
        lambda lib, x, t, w, p, r: lib.nn.functional.binary_cross_entropy_with_logits(
            x, t, w, reduction=r, pos_weight=p
        ),
        [
            (Arg(A, low=-5, high=5), Arg(A, low=0, high=1), None, None, r)
            for r in ("mean", "sum", "none")
        ]
        + [
            (
                Arg(A, low=-5, high=5),
                Arg(A, low=0, high=1),
                Arg(A, "positive", grad=False),
                Arg((4,), "positive", grad=False),
                "mean",
            )
        ],
        name="binary_cross_entropy_with_logits",
    ),
    OpSpec(
        "mul",
        lambda lib, x, y, w, r: lib.nn.functional.mse_loss(x, y, reduction=r, weight=w),
        [(Arg(A), Arg(A), None, r) for r in ("mean", "sum", "none")]
        + [(Arg(A), Arg(A), Arg(A, "positive"), "mean")],
        ref=lambda x, y, w, r: (
            {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[r]((x - y) ** 2)
            if w is None
            else np.sum(w * (x - y) ** 2) / np.sum(w)
        ),
        name="mse_loss",
    ),
    OpSpec(
        "abs",
        lambda lib, x, y, w, r: lib.nn.functional.l1_loss(x, y, reduction=r, weight=w),
        [(Arg(A), Arg(A), None, r) for r in ("mean", "sum", "none")]
        + [(Arg(A), Arg(A), Arg(A, "positive"), "sum")],
        name="l1_loss",
    ),
    OpSpec(
        "where",
        lambda lib, x, y, r, b: lib.nn.functional.smooth_l1_loss(x, y, reduction=r, beta=b),
        [(Arg(A), Arg(A), r, b) for r in ("mean", "none") for b in (1.0, 0.5, 0.0)],
        name="smooth_l1_loss",
    ),
    OpSpec(
        "where",
        lambda lib, x, y, w, r, d: lib.nn.functional.huber_loss(
            x, y, reduction=r, delta=d, weight=w
        ),
        [(Arg(A), Arg(A), None, r, d) for r in ("mean", "sum") for d in (1.0, 0.3)]
        + [(Arg(A), Arg(A), Arg(A, "positive"), "mean", 0.5)],
        name="huber_loss",
    ),
    OpSpec(
        "xlogy",
        lambda lib, x, t, r: lib.nn.functional.kl_div(x, t, reduction=r),
        [(Arg(A), Arg(A, "positive"), r) for r in ("batchmean", "sum", "none")],
        name="kl_div",
    ),
    OpSpec(
        "exp",
        lambda lib, x, t, r: lib.nn.functional.kl_div(x, t, reduction=r, log_target=True),
        [(Arg(A), Arg(A), r) for r in ("batchmean", "sum")],
        name="kl_div-log_target",
    ),
    OpSpec(
        "sqrt",
        lambda lib, a, b, m, r: lib.nn.functional.cosine_embedding_loss(
            a, b, target([1, -1, -1, 1])(lib), margin=m, reduction=r
        ),
        [(Arg((4, 3)), Arg((4, 3)), m, r) for m in (0.0, -0.3) for r in ("mean", "none")],
        name="cosine_embedding_loss",
    ),
    OpSpec(
        "clamp",
        lambda lib, a, b, m, r: lib.nn.functional.margin_ranking_loss(
            a, b, target([1.0, -1.0, 1.0, -1.0, 1.0])(lib), margin=m, reduction=r
        ),
        [(Arg((5,)), Arg((5,)), m, r) for m in (0.0, 0.5) for r in ("mean", "sum", "none")],
        name="margin_ranking_loss",
    ),
    OpSpec(
        "clamp",
        lambda lib, a, p, n, s, q, r: lib.nn.functional.triplet_margin_loss(
            a, p, n, margin=2.0, p=q, swap=s, reduction=r
        ),
        [(Arg((4, 3)), Arg((4, 3)), Arg((4, 3)), s, 2, "mean") for s in (False, True)]
        + [(Arg((4, 3)), Arg((4, 3)), Arg((4, 3)), False, 1, "none")],
        name="triplet_margin_loss",
    ),
]

make_tests(ACTIVATIONS + MISC + LOSSES, globals())


# ----- dropout -------------------------------------------------------------------------------
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    x = qilin.ones(200, 100)
    y = F.dropout(x, p=0.3).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_dropout_follows_manual_seed_and_its_gradient_is_the_mask():
    x = qilin.randn(50, 20, requires_grad=True)
    qilin.manual_seed(7)
    first = F.dropout(x, p=0.5)
    qilin.manual_seed(7)
    second = F.dropout(x, p=0.5)
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    first.sum().backward()
    mask = (first.detach().numpy() != 0) / 0.5
    np.testing.assert_allclose(x.grad.numpy(), mask)


def test_dropout_outside_training_and_edge_probabilities():
    x = qilin.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_inplace_writes_into_the_input():
    x = qilin.ones(10, 10)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x
    assert (x.numpy() == 0).any()


def test_dropout2d_zeroes_whole_channels():
    x = qilin.ones(8, 16, 5, 5)
    y = F.dropout2d(x, p=0.5).numpy()
    per_channel = y.reshape(8, 16, 25)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    y3 = F.dropout1d(qilin.ones(4, 6, 9), p=0.5).numpy()
    assert ((y3 == 0).all(-1) | (y3 == 2).all(-1)).all()
    with pytest.raises(RuntimeError, match="Expected 3D or 4D input"):
        F.dropout2d(qilin.ones(2, 3, 4, 5, 6))


# ----- misc behaviour ------------------------------------------------------------------------
def test_softmax_without_dim_warns_and_picks_torch_dim():
    x = qilin.randn(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy().sum(1), 1, rtol=1e-6)


def test_inplace_activations_return_the_input():
    x = qilin.randn(3, 4)
    expected = np.maximum(x.numpy(), 0)
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    y = qilin.randn(5)
    expected = np.where(y.numpy() > 0, y.numpy(), 0.1 * y.numpy())
    F.leaky_relu(y, 0.1, inplace=True)
    np.testing.assert_allclose(y.numpy(), expected)


def test_embedding_max_norm_renormalises_used_rows_in_place():
    weight = qilin.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = F.embedding(qilin.tensor([0, 1]), weight, max_norm=1.0)
    norms = np.linalg.norm(weight.numpy(), axis=1)
    np.testing.assert_allclose(norms[:2], [1.0, 0.5], rtol=1e-5)
    assert norms[2] == pytest.approx(10.0)  # not looked up: left alone
    np.testing.assert_allclose(out.numpy(), weight.numpy()[:2])


def _grads_match_torch(call, *arrays):
    """Forward and gradients of call(lib, *tensors).sum() against torch (for functions whose
    torch gradient differs from the mathematical one on purpose, so finite differences can't
    be the reference)."""
    torch_ = pytest.importorskip("torch")
    results = []
    for lib in (qilin, torch_):
        tensors = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = call(lib, *tensors)
        out.sum().backward()
        grads = [t.grad.numpy() for t in tensors if t.requires_grad]
        results.append([out.detach().numpy(), *grads])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_cosine_similarity_clamps_small_norms_but_not_their_gradient():
    rng = np.random.default_rng(0)
    x1 = rng.uniform(-0.2, 0.2, (3, 4))
    x2 = rng.standard_normal((3, 4))
    _grads_match_torch(lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b, 0, 0.5), x1, x2)


def test_embedding_padding_row_gets_no_gradient():
    rng = np.random.default_rng(0)
    index = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    weight = rng.standard_normal((3, 5))
    _grads_match_torch(
        lambda lib, i, w: lib.nn.functional.embedding(i, w, padding_idx=1) * 1.5, index, weight
    )
    _grads_match_torch(
        lambda lib, i, w: lib.nn.functional.embedding(i, w, padding_idx=-1), index, weight
    )


def test_cross_entropy_with_every_target_ignored_is_nan_like_torch():
    loss = F.cross_entropy(qilin.randn(2, 3), qilin.tensor([-100, -100]))
    assert math.isnan(loss.item())


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_target_ignored_gives_a_zero_gradient_like_torch(smoothing, weighted):
    # an all-padding batch: the loss is NaN but must not put NaN into the gradient
    rng = np.random.default_rng(0)
    weight = rng.uniform(0.5, 1.5, 4)

    def call(lib, x, t):
        w = lib.tensor(weight) if weighted else None
        return lib.nn.functional.cross_entropy(
            x, t, weight=w, ignore_index=2, label_smoothing=smoothing
        )

    _grads_match_torch(call, rng.standard_normal((3, 4)), np.array([2, 2, 2]))
    _grads_match_torch(call, rng.standard_normal((3, 4)), np.array([2, 1, 2]))


# ----- errors --------------------------------------------------------------------------------
ERRORS = [
    (lambda lib: lib.nn.functional.glu(lib.ones(3, 5)), "Halving dimension must be even"),
    (lambda lib: lib.nn.functional.one_hot(lib.tensor([1, -1])), "non-negative"),
    (lambda lib: lib.nn.functional.one_hot(lib.tensor([1, 5]), 3), "smaller than num_classes"),
    (
        lambda lib: lib.nn.functional.cross_entropy(lib.ones(2, 3), lib.tensor([0, 3])),
        "out of bounds",
    ),
    (lambda lib: lib.nn.functional.nll_loss(lib.ones(2, 3), lib.tensor([0, 1, 2])), "target"),
    (
        lambda lib: lib.nn.functional.mse_loss(lib.ones(2), lib.ones(2), reduction="avg"),
        "not a valid value",
    ),
    (
        lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) * 2, lib.ones(3)),
        "between 0 and 1",
    ),
    (
        lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2, lib.ones(3) * 2),
        "elements of target should be between 0 and 1",
    ),
    (lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2, lib.ones(3, 1)), "size"),
    (
        lambda lib: lib.nn.functional.pad(lib.ones(1, 3), (3, 0), mode="reflect"),
        "Padding size should be less",
    ),
    (lambda lib: lib.nn.functional.pad(lib.ones(1, 3), (1,)), "divisible by 2"),
    (lambda lib: lib.nn.functional.linear(lib.ones(2, 3), lib.ones(4, 5)), "cannot be multiplied"),
    (lambda lib: lib.nn.functional.prelu(lib.ones(2, 3), lib.ones(4)), "channel size"),
    (lambda lib: lib.nn.functional.embedding(lib.tensor([3]), lib.ones(3, 2)), "out of range"),
]


@pytest.mark.parametrize("call,message", ERRORS, ids=[m for _, m in ERRORS])
def test_errors_match_torch(call, message):
    """qilin raises the same exception type as torch, with a message naming the problem."""
    expected = Exception
    if torch is not None:
        with pytest.raises(Exception) as caught:
            call(torch)
        expected = type(caught.value)
    with pytest.raises(Exception, match=message) as ours:
        call(qilin)
    assert isinstance(ours.value, expected) or issubclass(expected, type(ours.value)), (
        f"qilin raised {type(ours.value).__name__}, torch {expected.__name__}"
    )


def test_embedding_scale_grad_by_freq_matches_torch():
    indices = np.array([[1, 1, 2, 0], [3, 1, 2, 2]])
    table = np.random.default_rng(0).standard_normal((5, 3))
    grads = []
    for lib in (torch, qilin):
        weight = lib.tensor(table, requires_grad=True)
        out = lib.nn.functional.embedding(lib.tensor(indices), weight, scale_grad_by_freq=True)
        (out * lib.tensor(np.arange(24.0).reshape(2, 4, 3))).sum().backward()
        grads.append(weight.grad.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_where_backward_blocks_infinite_gradients():
    grads = []
    for lib in (torch, qilin):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.where(lib.tensor([True, False, True]), lib.zeros(3), x)
        y.backward(lib.tensor([float("inf"), 1.0, -float("inf")]))
        grads.append(x.grad.detach().numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
