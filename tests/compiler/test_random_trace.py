"""Random draws in traced functions: rand, randn and bernoulli are ops that take a Generator,
which the graph holds by reference, so running the graph draws the numbers eager would."""

import numpy as np
import pytest

import qilin
import qilin.nn.functional as F
from qilin.compiler import eval_graph, trace


def _same(a, b) -> bool:
    a, b = a.detach().numpy(), b.detach().numpy()
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _replays_eager(fn, *args, seed=5) -> None:
    """After the same manual_seed, two graph runs give eager's two consecutive results."""
    graph = trace(fn, *args)
    qilin.manual_seed(seed)
    eager = [fn(*args), fn(*args)]
    qilin.manual_seed(seed)
    ran = [eval_graph(graph, *args), eval_graph(graph, *args)]
    assert _same(ran[0], eager[0]) and _same(ran[1], eager[1])
    assert not _same(eager[0], eager[1])  # each call draws a new mask


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 6)])
def test_dropout_graph_replays_eager(shape):
    x = qilin.randn(*shape) + 3  # no zeros, so a dropped element shows
    _replays_eager(lambda x: F.dropout(x, 0.3), x)


def test_dropout_module_in_train_mode_replays_eager():
    layer = qilin.nn.Sequential(qilin.nn.Linear(6, 8), qilin.nn.Dropout(0.5)).train()
    x = qilin.randn(4, 6)
    _replays_eager(layer, x)


def test_feature_dropout_graph_replays_eager():
    x = qilin.randn(2, 5, 3, 3) + 3
    _replays_eager(lambda x: F.dropout2d(x, 0.4), x)


def test_rand_and_randn_graph_replays_the_stream():
    def draw(x):
        return x + qilin.rand(3, 4), qilin.randn(3, 4, dtype=qilin.float64), qilin.rand_like(x)

    x = qilin.zeros(3, 4)
    graph = trace(draw, x)
    qilin.manual_seed(11)
    eager = draw(x)
    qilin.manual_seed(11)
    ran = eval_graph(graph, x)
    assert all(_same(a, b) for a, b in zip(ran, eager))
    # The stream then continues where eager's left off.
    assert _same(eval_graph(graph, x)[1], draw(x)[1]) is False
    state = qilin.get_rng_state()
    after_graph = eval_graph(graph, x)
    qilin.set_rng_state(state)
    assert all(_same(a, b) for a, b in zip(after_graph, draw(x)))


def test_graph_holds_the_generator_by_reference():
    generator = qilin.Generator().manual_seed(3)
    graph = trace(lambda x: x * qilin.randn(2, 3, generator=generator), qilin.ones(2, 3))
    assert str(graph).splitlines()[1:3] == [
        "  state g0: Generator",
        "  %0: f32[2, 3] = randn(g0, shape=(2, 3), dtype=qilin.float32)",
    ]
    graph.verify()
    generator.manual_seed(8)  # reseeded after the trace: the graph sees the new state
    ran = eval_graph(graph, qilin.ones(2, 3))
    expected = np.random.Generator(np.random.PCG64(8)).standard_normal((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(ran.numpy(), expected)
    before = qilin.get_rng_state()
    eval_graph(graph, qilin.ones(2, 3))
    assert _same(qilin.get_rng_state(), before)  # the default generator is not touched


def test_bernoulli_graph_replays_eager_and_checks_probabilities_when_run():
    def sample(p):
        return qilin.bernoulli(p), qilin.bernoulli(qilin.ones(2, 3), p=p)

    p = qilin.rand(2, 3, dtype=qilin.float64)
    graph = trace(sample, p)
    qilin.manual_seed(4)
    eager = sample(p)
    qilin.manual_seed(4)
    ran = eval_graph(graph, p)
    assert all(_same(a, b) for a, b in zip(ran, eager))
    with pytest.raises(RuntimeError, match=r"bernoulli expects p to be in \[0, 1\]"):
        eval_graph(graph, p + 1)


def test_other_random_draws_still_refuse_while_tracing():
    for draw in (
        lambda x: x + qilin.randperm(2),
        lambda x: x + qilin.randint_like(x, 3),
        lambda x: x + qilin.empty(2).normal_(),
    ):
        with pytest.raises(NotImplementedError, match="random numbers"):
            trace(draw, qilin.ones(2))
