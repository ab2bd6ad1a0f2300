"""Memory: backward frees what it no longer needs, and tensors and graph nodes are freed by
reference counting alone (no cycles), so a training loop does not grow. qilin only: these are
properties of qilin's own objects (torch's Python wrappers are freed differently)."""

import contextlib
import gc
import weakref

import numpy as np
import pytest

import qilin


@contextlib.contextmanager
def refcounting_only():
    """Run with the cycle collector off: whatever is freed here is freed by refcounting."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _leaf(shape=(4, 3), seed=0):
    data = np.random.default_rng(seed).uniform(-1, 1, shape)
    return qilin.tensor(data, requires_grad=True)


def _saved_intermediates(x):
    """A graph whose nodes save inputs (mul, sin) and outputs (exp, tanh); returns the loss and
    weak references to the intermediate tensors and their arrays, with no strong one left."""
    h1 = x.exp()  # saves its output
    h2 = h1 * x  # saves both inputs
    h3 = h2.sin()  # saves its input
    h4 = h3.tanh()  # saves its output
    loss = (h4 * h4).sum()
    refs = [weakref.ref(t) for t in (h1, h2, h3, h4)]
    refs += [weakref.ref(t._data) for t in (h1, h2, h3, h4)]
    return loss, refs


def test_saved_intermediates_are_freed_by_backward():
    with refcounting_only():
        x = _leaf()
        loss, refs = _saved_intermediates(x)
        kept = [index for index, r in enumerate(refs) if r() is not None]
        assert len(kept) >= 4, f"the graph should keep what backward needs, kept only {kept}"
        loss.backward()
        alive = [index for index, r in enumerate(refs) if r() is not None]
        assert not alive, f"backward kept intermediates {alive} alive (loss is still referenced)"
        assert x.grad is not None


def test_retain_graph_keeps_them_until_the_graph_is_dropped():
    with refcounting_only():
        x = _leaf()
        loss, refs = _saved_intermediates(x)
        kept = [index for index, r in enumerate(refs) if r() is not None]
        loss.backward(retain_graph=True)
        assert [index for index, r in enumerate(refs) if r() is not None] == kept
        loss.backward()
        assert all(r() is None for r in refs)


def test_dropping_the_loss_without_backward_frees_the_graph():
    with refcounting_only():
        x = _leaf()
        loss, refs = _saved_intermediates(x)
        node = weakref.ref(loss.grad_fn)
        del loss
        assert node() is None and all(r() is None for r in refs)


def test_autograd_grad_frees_too():
    with refcounting_only():
        x = _leaf()
        loss, refs = _saved_intermediates(x)
        qilin.autograd.grad(loss, x)
        assert all(r() is None for r in refs)


def _step(w1, w2, data, target, lr=0.1):
    hidden = (data @ w1).relu()
    out = (hidden @ w2).tanh()
    loss = ((out - target) ** 2).mean()
    loss.backward()
    with qilin.no_grad():
        for w in (w1, w2):
            w -= lr * w.grad
            w.grad = None
    return weakref.ref(loss), weakref.ref(loss.grad_fn), weakref.ref(hidden), weakref.ref(out)


def test_training_loop_frees_every_step_by_refcounting():
    w1, w2 = _leaf((5, 8), 1), _leaf((8, 2), 2)
    data = qilin.tensor(np.random.default_rng(3).normal(size=(16, 5)))
    target = qilin.tensor(np.random.default_rng(4).normal(size=(16, 2)))
    with refcounting_only():
        _step(w1, w2, data, target)  # warm up lazily created objects
        baseline = len(gc.get_objects())
        for _ in range(5):
            refs = _step(w1, w2, data, target)
            assert all(r() is None for r in refs), "a step's tensors or nodes outlived it"
        grown = len(gc.get_objects()) - baseline
    assert grown < 50, f"{grown} more tracked objects after 5 steps"


def test_create_graph_and_higher_order_do_not_leave_cycles():
    with refcounting_only():
        x = _leaf()
        y = (x.sin() * x.exp()).sum()
        (g,) = qilin.autograd.grad(y, x, create_graph=True)
        refs = [weakref.ref(g), weakref.ref(g.grad_fn), weakref.ref(y.grad_fn)]
        (g * g).sum().backward()
        del y, g
        assert all(r() is None for r in refs)


def test_hooks_retain_grad_and_views_do_not_leave_cycles():
    with refcounting_only():
        x = _leaf()
        h = x * 2
        h.retain_grad()
        h.register_hook(lambda grad: grad * 1)
        view = h[1:]
        view.mul_(3)
        h.sum().backward()
        refs = [weakref.ref(h), weakref.ref(view), weakref.ref(h.grad_fn)]
        del h, view
        assert all(r() is None for r in refs)


def test_leaf_with_accumulator_and_post_hook_is_freed():
    with refcounting_only():
        w = _leaf()
        w.register_post_accumulate_grad_hook(lambda t: None)
        (w * w).sum().backward()
        ref = weakref.ref(w)
        del w
        assert ref() is None


@pytest.mark.parametrize("saves", ["input", "output"])
def test_custom_function_graph_is_freed(saves):
    class Square(qilin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x * x
            ctx.save_for_backward(x if saves == "input" else out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (saved,) = ctx.saved_tensors
            return grad * 2 * (saved if saves == "input" else saved.sqrt())

    with refcounting_only():
        x = _leaf()
        y = Square.apply(x.exp())
        refs = [weakref.ref(y), weakref.ref(y.grad_fn)]
        y.sum().backward()
        del y
        assert all(r() is None for r in refs)
