"""Gradients of gradients (create_graph=True), compared with torch."""

import pytest

from .oracle import parity, random


def _derivatives(lib, f, x, order):
    """[f(x), f'(x), f''(x), ...] elementwise, by repeated autograd.grad of the sum."""
    results = [f(x)]
    current = results[0]
    for _ in range(order):
        (current,) = lib.autograd.grad(current.sum(), x, create_graph=True)
        results.append(current)
    return results


FUNCTIONS = {
    "cube": lambda x: x**3,
    "sin": lambda x: x.sin(),
    "tanh_chain": lambda x: (x.tanh() * 2).tanh().sin(),
    "exp_log": lambda x: (x.exp() + 1).log() * x,
    "sigmoid_div": lambda x: x.sigmoid() / (1 + x * x),
    "sqrt_pow": lambda x: (x * x + 1).sqrt() ** 1.5,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_first_second_third_derivatives(name):
    parity(lambda lib: _derivatives(lib, FUNCTIONS[name], random(lib, (5,)), 3), rtol=1e-6)


def test_second_derivative_graph_reaches_leaf_grad():
    def run(lib):
        x = random(lib, (4,))
        (dx,) = lib.autograd.grad((x**3).sum(), x, create_graph=True)
        dx.sum().backward()  # accumulates d/dx sum(3x^2) = 6x into x.grad
        return dx, x.grad, dx.requires_grad, dx.grad_fn is not None

    parity(run)


def test_mixed_partials_of_product_of_several_inputs():
    def run(lib):
        a, b, c = random(lib, (3,), 0), random(lib, (3,), 1), random(lib, (3,), 2)
        f = (a * b * c + a.sin() * b * b).sum()
        da, db, dc = lib.autograd.grad(f, (a, b, c), create_graph=True)
        dab, dbb, dcb = lib.autograd.grad(db.sum(), (a, b, c), create_graph=True)
        (dabc,) = lib.autograd.grad((dab * c).sum(), c)
        return da, db, dc, dab, dbb, dcb, dabc

    parity(run)


def test_matmul_and_reduction_second_order():
    def run(lib):
        w = random(lib, (3, 4), 0)
        x = random(lib, (5, 3), 1)
        loss = ((x @ w).tanh() ** 2).mean()
        (gw,) = lib.autograd.grad(loss, w, create_graph=True)
        (gx,) = lib.autograd.grad((gw * gw).sum(), x)
        return gw, gx

    parity(run, rtol=1e-6)


def test_gradient_penalty_training_step():
    """The WGAN-GP pattern: penalise the norm of d critic / d input, then step the weights."""

    def run(lib):
        w1, w2 = random(lib, (4, 6), 0), random(lib, (6, 1), 1)
        real = random(lib, (8, 4), 2, requires_grad=False)
        fake = random(lib, (8, 4), 3, requires_grad=False)
        history = []
        for _ in range(2):
            alpha = lib.tensor([[0.3]] * 8, dtype=lib.float64)
            mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            critic = (mixed @ w1).tanh() @ w2
            (grads,) = lib.autograd.grad(critic.sum(), mixed, create_graph=True)
            penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
            loss = critic.mean() + 10 * penalty
            loss.backward()
            history.append((loss.detach(), w1.grad.clone(), w2.grad.clone()))
            with lib.no_grad():
                w1 -= 0.01 * w1.grad
                w2 -= 0.01 * w2.grad
            w1.grad = None
            w2.grad = None
        return history

    parity(run, rtol=1e-6)


def test_hessian_vector_product_by_double_backward():
    def run(lib):
        x = random(lib, (4,))
        v = random(lib, (4,), 5, requires_grad=False)
        f = (x.sin() * x.prod() + (x**4).sum()).sum()
        (g,) = lib.autograd.grad(f, x, create_graph=True)
        (hv,) = lib.autograd.grad(g, x, grad_outputs=v, retain_graph=True)
        (hv_dot,) = lib.autograd.grad(f, x, create_graph=True)
        (hv_again,) = lib.autograd.grad((hv_dot * v).sum(), x)
        return hv, hv_again

    parity(run)


def test_backward_with_create_graph_then_grad_of_grad():
    def run(lib):
        x = random(lib, (3,))
        with pytest.warns(UserWarning, match="create_graph=True will create a reference cycle"):
            (x**3).sum().backward(create_graph=True)
        first = x.grad
        (gg,) = lib.autograd.grad(first.sum(), x)
        return first, gg, first.requires_grad

    parity(run)


def test_second_order_through_broadcasting_and_indexing():
    def run(lib):
        a, b = random(lib, (2, 3), 0), random(lib, (3,), 1)
        y = ((a * b) ** 2)[:, 1:].sum(dim=0)
        (gb,) = lib.autograd.grad(y.sum(), b, create_graph=True)
        (gab,) = lib.autograd.grad(gb.sum(), a)
        return gb, gab

    parity(run)


def test_grad_of_grad_without_create_graph_raises():
    import qilin

    from .oracle import torch

    for lib in (torch, qilin):
        x = random(lib, (3,))
        (g,) = lib.autograd.grad((x**3).sum(), x)
        assert not g.requires_grad
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(g.sum(), x)
