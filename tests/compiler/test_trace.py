"""The tracer, the graph IR and the graph executor: text form, verifier, errors at the user's
line, captured tensors, autograd inside a trace, and eager left untouched."""

import threading

import numpy as np
import pytest

import qilin
from qilin import dispatch
from qilin.compiler import TraceError, eval_graph, trace
from qilin.compiler.trace import is_traced


def _mlp(x, w):
    return qilin.relu(x @ w)


def test_graph_text():
    graph = trace(_mlp, qilin.ones(4, 3), qilin.ones(3, 2))
    assert str(graph) == (
        "graph(x: f32[4, 3], w: f32[3, 2]):\n"
        "  %0: f32[4, 2] = matmul(x, w)\n"
        "  %1: f32[4, 2] = relu(%0)\n"
        "  return (%1,)"
    )


def test_graph_text_with_captured_attrs_and_several_outputs():
    bias = qilin.ones(2, dtype=qilin.float64)

    def f(x):
        y = (x + bias).sum(1, keepdim=True)
        return {"y": y, "n": 3}

    graph = trace(f, qilin.ones(4, 2, dtype=qilin.float64))
    assert str(graph) == (
        "graph(x: f64[4, 2]):\n"
        "  captured c0: f64[2]\n"
        "  %0: f64[4, 2] = add(x, c0)\n"
        "  %1: f64[4, 1] = sum(%0, dim=(1,), keepdim=True)\n"
        "  return (%1,)"
    )
    result = eval_graph(graph, qilin.zeros(4, 2, dtype=qilin.float64))
    assert set(result) == {"y", "n"} and result["n"] == 3
    np.testing.assert_array_equal(result["y"].numpy(), np.full((4, 1), 2.0))


def test_verify_names_the_node():
    graph = trace(_mlp, qilin.ones(4, 3), qilin.ones(3, 2))
    graph.verify()
    graph.nodes[1].outputs[0].shape = (4, 3)  # a pass that got a shape wrong
    with pytest.raises(AssertionError, match=r"relu\(%0\).*f32\[4, 2\]"):
        graph.verify()


def test_no_kernel_runs_while_tracing(monkeypatch):
    op = qilin.ops.OPS["matmul"]

    def fail(*args, **kwargs):
        raise AssertionError("a kernel ran during the trace")

    monkeypatch.setattr(op, "kernel", fail)
    graph = trace(_mlp, qilin.ones(4, 3), qilin.ones(3, 2))
    assert [node.op.name for node in graph.nodes] == ["matmul", "relu"]


def test_captured_tensors_are_read_when_the_graph_runs():
    weight = qilin.ones(3, 2)
    graph = trace(lambda x: x @ weight, qilin.ones(1, 3))
    weight.mul_(2.0)  # e.g. an optimizer step after the trace
    np.testing.assert_array_equal(eval_graph(graph, qilin.ones(1, 3)).numpy(), [[6.0, 6.0]])


def test_eval_graph_checks_its_inputs():
    graph = trace(_mlp, qilin.ones(4, 3), qilin.ones(3, 2))
    with pytest.raises(TypeError, match=r"x was traced as f32\[4, 3\], got f32\[5, 3\]"):
        eval_graph(graph, qilin.ones(5, 3), qilin.ones(3, 2))


def test_shape_and_metadata_are_known_while_tracing():
    seen = {}

    def f(x):
        seen.update(shape=tuple(x.shape), len=len(x), dtype=x.dtype, ndim=x.dim(), n=x.numel())
        return x.reshape(-1, 2).t().contiguous()

    x = qilin.arange(12.0).reshape(3, 4)
    graph = trace(f, x)
    assert seen == {"shape": (3, 4), "len": 3, "dtype": qilin.float32, "ndim": 2, "n": 12}
    np.testing.assert_array_equal(eval_graph(graph, x).numpy(), f(x).numpy())


# ----- what cannot be traced: errors at the user's line ------------------------------------
_LINE = {}


def _branch(x):
    if x.sum() > 0:  # branch-line
        return x
    return -x


def _read(x):
    return x.sum().item()  # item-line


def _print(x):
    print(x)  # print-line
    return x


def _line_of(marker: str) -> int:
    with open(__file__) as source:
        return next(n for n, line in enumerate(source, 1) if line.rstrip().endswith(marker))


@pytest.mark.parametrize(
    "fn,marker,what",
    [
        (_branch, "# branch-line", "bool(tensor)"),
        (_read, "# item-line", "tensor.item()"),
        (_print, "# print-line", "printing a tensor"),
        (lambda x: x.tolist(), None, "tensor.tolist()"),
        (lambda x: float(x.sum()), None, "float(tensor)"),
        (lambda x: x.numpy(), None, "tensor.numpy()"),
        (lambda x: np.asarray(x), None, "converting a tensor to a NumPy array"),
    ],
)
def test_value_reads_name_the_user_line(fn, marker, what):
    with pytest.raises(TraceError) as caught:
        trace(fn, qilin.ones(2, 2))
    message = str(caught.value)
    assert what in message and "qilin.where" in message and "eager" in message
    line = _line_of(marker) if marker else None
    if line is None:  # the lambdas sit on the lines of the parametrize list
        assert f"{__file__}:" in message
    else:
        assert f"{__file__}:{line}: " in message
    assert dispatch._tracer is None


def test_inplace_out_and_other_random_draws_are_not_traced_yet():
    line = _line_of("# add_-line")

    def inplace(x):
        x.add_(1)  # add_-line
        return x

    with pytest.raises(NotImplementedError, match=rf"in-place.*{__file__}:{line}"):
        trace(inplace, qilin.ones(2))
    with pytest.raises(NotImplementedError, match="in-place"):
        trace(lambda x: qilin.add(x, 1, out=qilin.empty(2)), qilin.ones(2))
    # rand, randn and bernoulli are ops (tests/compiler/test_random_trace.py); the rest refuse.
    with pytest.raises(NotImplementedError, match="random numbers"):
        trace(lambda x: x + qilin.randint(0, 5, (2,)), qilin.ones(2))
    with pytest.raises(NotImplementedError, match="random numbers"):
        trace(lambda x: x + qilin.normal(0.0, 1.0, (2,)), qilin.ones(2))
    with pytest.raises(NotImplementedError, match="depends on the input values"):
        trace(lambda x: x.nonzero(), qilin.ones(2))
    assert dispatch._tracer is None
    # eager is back: the same calls run
    assert qilin.ones(2).add_(1).tolist() == [2.0, 2.0]


def test_tracer_is_removed_on_an_exception():
    def broken(x):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        trace(broken, qilin.ones(2))
    assert dispatch._tracer is None
    assert (qilin.ones(2) * 2).tolist() == [2.0, 2.0]


def test_other_threads_stay_eager_while_tracing():
    results = []

    def other_thread():
        results.append((qilin.ones(2) + 1).tolist())

    def f(x):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        return x + 1

    graph = trace(f, qilin.ones(2))
    assert results == [[2.0, 2.0]]
    assert [node.op.name for node in graph.nodes] == ["add"]


# ----- autograd inside a trace ---------------------------------------------------------------
def _loss(x, target, w1, b1, w2):
    hidden = qilin.tanh(x @ w1 + b1)
    log_probs = qilin.log_softmax(hidden @ w2, 1)
    return -log_probs.gather(1, target[:, None]).mean()


def _mlp_state(dtype):
    generator = np.random.default_rng(0)

    def make(*shape, grad=True):
        values = generator.standard_normal(shape).astype(dtype)
        return qilin.tensor(values, requires_grad=grad)

    return (
        make(8, 3, grad=False),
        qilin.tensor([0, 1, 2, 1, 0, 2, 1, 0]),
        make(3, 5),
        make(5),
        make(5, 3),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_traced_gradient_equals_eager(dtype):
    def step(x, target, w1, b1, w2):
        loss = _loss(x, target, w1, b1, w2)
        return loss, qilin.autograd.grad(loss, [w1, b1, w2])

    args = _mlp_state(dtype)
    graph = trace(step, *args)
    graph.verify()
    assert {"matmul", "tanh", "log_softmax", "gather"} <= {n.op.name for n in graph.nodes}
    loss, grads = eval_graph(graph, *args)
    eager_loss, eager_grads = step(*args)
    np.testing.assert_array_equal(loss.numpy(), eager_loss.detach().numpy())
    assert len(grads) == len(eager_grads) == 3
    for got, want in zip(grads, eager_grads):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_traced_gradient_of_module_parameters():
    qilin.manual_seed(0)
    model = qilin.nn.Sequential(qilin.nn.Linear(3, 4), qilin.nn.ReLU(), qilin.nn.Linear(4, 2))
    x = qilin.randn(5, 3)

    def step(x):
        loss = (model(x) ** 2).mean()
        return loss, qilin.autograd.grad(loss, list(model.parameters()))

    graph = trace(step, x)
    assert len(graph.captured) >= 4  # the parameters are lifted as inputs
    loss, grads = eval_graph(graph, x)
    eager_loss, eager_grads = step(x)
    np.testing.assert_array_equal(loss.numpy(), eager_loss.detach().numpy())
    for got, want in zip(grads, eager_grads):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_backward_into_parameters_is_refused_and_leaves_no_traced_grad():
    qilin.manual_seed(0)
    model = qilin.nn.Linear(3, 2)

    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss

    with pytest.raises(NotImplementedError, match="autograd.grad"):
        trace(step, qilin.ones(2, 3))
    assert all(p.grad is None for p in model.parameters())


def test_backward_into_traced_arguments():
    def step(x):
        (x * x).sum().backward()
        return x.grad

    x = qilin.tensor([1.0, -2.0, 3.0], requires_grad=True)
    graph = trace(step, x)
    assert x.grad is None and not is_traced(x)
    np.testing.assert_array_equal(eval_graph(graph, x).numpy(), [2.0, -4.0, 6.0])


def test_eager_dispatch_is_unchanged_when_not_tracing():
    assert dispatch._tracer is None
    x = qilin.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_cross_entropy_traces_and_replays():
    """The target bounds check reads values, which a trace does not have: traced, it is
    skipped, and the replayed loss and gradients equal eager's."""
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    model = qilin.nn.Linear(4, 4).double()

    def loss_and_grads(x, y):
        loss = qilin.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        return (loss, *qilin.autograd.grad(loss, list(model.parameters())))

    graph = trace(loss_and_grads, qilin.tensor(logits), qilin.tensor(labels))
    graph.verify()
    replayed = eval_graph(graph, qilin.tensor(logits), qilin.tensor(labels))
    expected = loss_and_grads(qilin.tensor(logits), qilin.tensor(labels))
    for mine, theirs in zip(replayed, expected):
        np.testing.assert_array_equal(mine.numpy(), theirs.detach().numpy())


# ----- what a function returns, leaks, nesting, threads --------------------------------------
def test_returned_arguments_and_captured_tensors_are_the_same_objects():
    weight = qilin.ones(3)

    def f(x):
        y = x * 2
        return x, weight, y, y, 7

    x = qilin.arange(3.0)
    graph = trace(f, x)
    graph.verify()
    got = eval_graph(graph, x)
    want = f(x)
    assert got[0] is x and got[1] is weight and got[2] is got[3] and got[4] == 7
    assert (want[0] is x, want[2] is want[3]) == (True, True)  # eager's aliasing, replayed
    np.testing.assert_array_equal(got[2].numpy(), want[2].numpy())


def test_a_leaked_traced_tensor_used_eagerly_raises_a_clear_error():
    kept = []

    def f(x):
        kept.append(x.exp())
        return x + 1

    trace(f, qilin.ones(2))
    leaked = kept[0]
    for use in (
        lambda: leaked + 1,
        lambda: qilin.ones(2) * leaked,
        lambda: leaked.sum(),
        lambda: leaked @ qilin.ones(2),
        lambda: leaked.tolist(),
        lambda: repr(leaked),
        lambda: qilin.ones(2).add_(leaked),
        lambda: trace(lambda y: y + leaked, qilin.ones(2)),
    ):
        with pytest.raises(TraceError, match="a trace that has ended"):
            use()


def test_a_trace_inside_a_traced_function():
    inner_graphs = []

    def outer(x):
        inner_graphs.append(trace(lambda y: y.exp(), x))
        return x + 1

    graph = trace(outer, qilin.ones(2))
    assert [n.op.name for n in graph.nodes] == ["add"]
    assert [n.op.name for n in inner_graphs[0].nodes] == ["exp"]
    assert dispatch._tracer is None
    with pytest.raises(NotImplementedError, match="nested trace.*pass it in"):
        trace(lambda x: trace(lambda y: y + x, qilin.ones(2)), qilin.ones(2))
    assert dispatch._tracer is None


def test_traces_on_several_threads_do_not_mix():
    failures = []

    def chain(x):
        for _ in range(40):
            x = x + 1
            threading.Event().wait(0)  # invites a thread switch mid-trace
        return x

    def worker():
        try:
            for _ in range(10):
                assert len(trace(chain, qilin.ones(2)).nodes) == 40
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert failures == [] and dispatch._tracer is None


def test_integer_bool_and_0d_values_replay():
    def f(i, m, s):
        return (i * 2 + 1, m & (i < 4), i.sum(), i.float().mean(), m.any(), s * s, s.exp())

    args = (qilin.arange(6).reshape(2, 3), qilin.arange(6).reshape(2, 3) > 2, qilin.tensor(2.0))
    graph = trace(f, *args)
    graph.verify()
    for got, want in zip(eval_graph(graph, *args), f(*args)):
        assert got.dtype is want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want.numpy())
