"""backward() and autograd.grad(): accumulation, non-scalar roots, inputs=, retain_graph."""

import warnings

import pytest

from .oracle import parity, raises_both, random, torch, values


def test_grad_accumulates_across_backward_calls():
    def run(lib):
        x = random(lib, (3,))
        grads = []
        for scale in (1.0, 2.0, 3.0):
            (x * x * scale).sum().backward()
            grads.append(x.grad.clone())
        return grads

    parity(run)


def test_tensor_used_twice_sums_both_paths():
    def run(lib):
        x = random(lib, (2, 3))
        y = x * x.exp() + x.sin() * x
        y.sum().backward()
        return x.grad

    parity(run)


def test_grad_of_leaf_is_none_before_backward():
    def run(lib):
        x = random(lib, (2,))
        return x.grad, x.is_leaf, (x * 2).is_leaf

    parity(run)


def test_non_leaf_grad_is_none_and_warns():
    for lib in (torch, __import__("qilin")):
        x = random(lib, (3,))
        y = x * 2
        y.sum().backward()
        with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
            assert y.grad is None


def test_leaf_and_detached_grad_access_does_not_warn():
    for lib in (torch, __import__("qilin")):
        x = random(lib, (3,))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert x.grad is None
            assert (x * 2).detach().grad is None


def test_retain_grad_keeps_intermediate_grad():
    def run(lib):
        x = random(lib, (3,))
        y = x.exp()
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        first = y.grad.clone()
        z.backward()
        return first, y.grad, x.grad, y.retains_grad, x.retains_grad

    parity(run)


def test_retain_grad_on_leaf_is_a_no_op():
    def run(lib):
        x = random(lib, (3,))
        x.retain_grad()
        (x * 3).sum().backward()
        return x.grad, x.retains_grad

    parity(run)


def test_grad_of_intermediate_through_autograd_grad():
    def run(lib):
        x = random(lib, (4,))
        h = x.tanh()
        out = (h * h * x).sum()
        dh, dx = lib.autograd.grad(out, (h, x))
        return dh, dx, x.grad

    parity(run)


def test_backward_with_gradient_for_non_scalar():
    def run(lib):
        x = random(lib, (2, 3))
        y = x * x
        y.backward(gradient=values(lib, [[1, 2, 3], [4, 5, 6]]))
        return x.grad

    parity(run)


def test_backward_of_non_scalar_without_gradient_raises():
    def run(lib):
        (random(lib, (2, 3)) * 2).backward()

    raises_both(run, RuntimeError, "grad can be implicitly created only for scalar outputs")


def test_backward_gradient_with_wrong_shape_raises():
    def run(lib):
        (random(lib, (2, 3)) * 2).backward(values(lib, [1.0, 2.0]))

    raises_both(run, RuntimeError, "Mismatch in shape")


def test_backward_of_tensor_without_grad_fn_raises():
    def run(lib):
        values(lib, [1.0, 2.0]).sum().backward()

    raises_both(run, RuntimeError, "does not require grad and does not have a grad_fn")


def test_backward_on_single_element_non_scalar_works():
    def run(lib):
        x = random(lib, (1, 1))
        (x * 5).backward()
        return x.grad

    parity(run)


def test_backward_inputs_only_accumulates_into_those():
    def run(lib):
        a, b, c = random(lib, (3,), 0), random(lib, (3,), 1), random(lib, (3,), 2)
        (a * b * c).sum().backward(inputs=[a, c])
        return a.grad, b.grad, c.grad

    parity(run)


def test_backward_inputs_with_a_non_leaf():
    def run(lib):
        a = random(lib, (3,))
        h = a.sin()
        (h * h).sum().backward(inputs=[h])
        return h.grad, a.grad

    parity(run)


def test_backward_inputs_single_tensor_and_function_form():
    def run(lib):
        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        lib.autograd.backward([(a * b).sum()], inputs=b)
        return a.grad, b.grad

    parity(run)


def test_backward_with_several_roots_and_grad_tensors():
    def run(lib):
        x = random(lib, (3,))
        y1, y2 = x * 2, x.exp()
        lib.autograd.backward([y1, y2], [values(lib, [1.0, 0.5, 0.0]), values(lib, [1, 1, 1])])
        return x.grad

    parity(run)


def test_autograd_grad_does_not_touch_dot_grad():
    def run(lib):
        x = random(lib, (3,))
        (g,) = lib.autograd.grad((x**3).sum(), x)
        return g, x.grad

    parity(run)


def test_autograd_grad_unused_input_raises():
    def run(lib):
        x, y = random(lib, (3,), 0), random(lib, (3,), 1)
        lib.autograd.grad((x * 2).sum(), [x, y])

    raises_both(run, RuntimeError, "appears to not have been used in the graph")


def test_autograd_grad_allow_unused_and_materialize():
    def run(lib):
        x, y = random(lib, (3,), 0), random(lib, (2,), 1)
        unused = lib.autograd.grad((x * 2).sum(), [x, y], retain_graph=True, allow_unused=True)
        zeros = lib.autograd.grad((x * 2).sum(), [x, y], materialize_grads=True)
        return unused, zeros

    parity(run)


def test_autograd_grad_with_grad_outputs_and_several_outputs():
    def run(lib):
        x = random(lib, (3,))
        a, b = x.sin(), x * x
        return lib.autograd.grad(
            [a, b], x, grad_outputs=[values(lib, [1, 2, 3]), values(lib, [0.5, 0.5, 1])]
        )

    parity(run)


def test_autograd_grad_input_not_requiring_grad_raises():
    def run(lib):
        x, y = random(lib, (3,)), random(lib, (3,), requires_grad=False)
        lib.autograd.grad((x * y).sum(), [y])

    raises_both(run, RuntimeError, "does not require grad")


def test_second_backward_raises_freed_graph_error():
    def run(lib):
        x = random(lib, (3,))
        y = (x.exp() * x).sum()
        y.backward()
        y.backward()

    raises_both(run, RuntimeError, "Trying to backward through the graph a second time")


def test_second_autograd_grad_raises_freed_graph_error():
    def run(lib):
        x = random(lib, (3,))
        y = (x.sin() * x).sum()
        lib.autograd.grad(y, x)
        lib.autograd.grad(y, x)

    raises_both(run, RuntimeError, "Trying to backward through the graph a second time")


def test_retain_graph_allows_second_backward():
    def run(lib):
        x = random(lib, (3,))
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        first = x.grad.clone()
        y.backward()
        return first, x.grad

    parity(run)


def test_ops_that_save_nothing_can_backward_twice():
    def run(lib):
        x = random(lib, (3,))
        # add, neg, reshape, slicing and sum save no tensors (only sizes), as in torch
        y = ((-x + 1).reshape(3, 1)[1:] + x[:2].reshape(2, 1)).sum()
        y.backward()
        y.backward()
        return x.grad

    parity(run)


def test_backward_twice_through_shared_subgraph_with_retain():
    def run(lib):
        x = random(lib, (3,))
        h = x.exp()
        a, b = (h * 2).sum(), (h * h).sum()
        a.backward(retain_graph=True)
        b.backward()
        return x.grad

    parity(run)


def test_grad_dtype_matches_input_dtype():
    def run(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float32, requires_grad=True)
        (x.double() * 3).sum().backward()
        return x.grad

    parity(run)


def test_zeroing_grad_between_steps():
    def run(lib):
        x = random(lib, (3,))
        (x * x).sum().backward()
        x.grad.zero_()
        (x * 4).sum().backward()
        first = x.grad.clone()
        x.grad = None
        (x * 5).sum().backward()
        return first, x.grad

    parity(run)


def test_grad_does_not_alias_the_incoming_gradient():
    def run(lib):
        x = random(lib, (3,))
        g = values(lib, [1.0, 2.0, 3.0])
        x.backward(g)  # the leaf itself is the root: torch stores its own copy
        x.grad.zero_()
        return g, x.grad

    parity(run)


def test_requires_grad_flags_of_results():
    def run(lib):
        a = random(lib, (2,))
        b = random(lib, (2,), requires_grad=False)
        c = a.detach()
        return (
            (a * b).requires_grad,
            (b * 2).requires_grad,
            c.requires_grad,
            (a * b).is_leaf,
            c.is_leaf,
            (a > 0).requires_grad,
            a.argmax().requires_grad,
        )

    parity(run)


def test_requires_grad_on_non_leaf_cannot_be_turned_off():
    def run(lib):
        (random(lib, (2,)) * 2).requires_grad_(False)

    raises_both(run, RuntimeError, "requires_grad")


def test_integer_tensor_cannot_require_grad():
    def run(lib):
        lib.tensor([1, 2]).requires_grad_()

    raises_both(run, RuntimeError, "floating point")


def test_autograd_grad_batched_grad_outputs():
    def run(lib):
        x = random(lib, (3,))
        y = x * x.sin()
        eye = lib.eye(3, dtype=lib.float64)
        return lib.autograd.grad(y, x, eye, is_grads_batched=True)

    parity(run)


def test_autograd_grad_with_dict_inputs():
    def run(lib):
        a, b = random(lib, (2,), 0), random(lib, (2,), 1)
        result = lib.autograd.grad((a * b.exp()).sum(), {"a": a, "b": b})
        return result

    parity(run)


def test_materialize_grads_with_allow_unused_false_raises():
    def run(lib):
        x = random(lib, (2,))
        lib.autograd.grad((x * 2).sum(), x, allow_unused=False, materialize_grads=True)

    raises_both(run, ValueError, "Expected allow_unused to be True or not passed")


def test_grad_signature_positional_order_matches_torch():
    import inspect

    import qilin

    for name in ("grad", "backward"):
        mine = list(inspect.signature(getattr(qilin.autograd, name)).parameters)
        theirs = list(inspect.signature(getattr(torch.autograd, name)).parameters)
        assert mine == theirs, name
