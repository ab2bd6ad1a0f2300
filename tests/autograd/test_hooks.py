"""Hooks: Tensor.register_hook, grad_fn hooks and prehooks, AccumulateGrad and post-accumulate
hooks, with their order and removal, compared with torch."""

import pytest

import qilin

from .oracle import parity, random, torch, values


def test_leaf_hook_replaces_grad_before_accumulation():
    def run(lib):
        x = random(lib, (3,))
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()) or g * 10)
        (x * x).sum().backward()
        return seen, x.grad

    parity(run)


def test_non_leaf_hook_changes_what_flows_upstream():
    def run(lib):
        x = random(lib, (3,))
        y = x.exp()
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        (y * y).sum().backward()
        return seen, x.grad

    parity(run)


def test_several_hooks_run_in_registration_order_and_chain():
    def run(lib):
        x = random(lib, (2,))
        y = x * 3
        log = []
        y.register_hook(lambda g: log.append(("first", g.clone())) or g * 2)
        y.register_hook(lambda g: log.append(("second", g.clone())) or None)
        y.register_hook(lambda g: log.append(("third", g.clone())) or g - 1)
        y.sum().backward()
        return log, x.grad

    parity(run)


def test_hook_removal_through_handle():
    def run(lib):
        x = random(lib, (2,))
        handle = x.register_hook(lambda g: g * 100)
        (x * 2).sum().backward()
        first = x.grad.clone()
        handle.remove()
        handle.remove()  # removing twice is harmless
        x.grad = None
        (x * 2).sum().backward()
        return first, x.grad

    parity(run)


def test_hook_handle_as_context_manager():
    def run(lib):
        x = random(lib, (2,))
        with x.register_hook(lambda g: g * 0):
            pass
        (x * 2).sum().backward()
        return x.grad

    parity(run)


def test_hook_on_tensor_without_grad_raises():
    for lib in (torch, qilin):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            values(lib, [1.0]).register_hook(lambda g: g)


def test_hook_returning_wrong_shape_raises():
    for lib in (torch, qilin):
        x = random(lib, (3,))
        y = x * 2
        y.register_hook(lambda g: g[:2])
        with pytest.raises(RuntimeError, match="hook"):
            y.sum().backward()


def test_hooks_see_grads_for_autograd_grad_too():
    def run(lib):
        x = random(lib, (3,))
        h = x.sin()
        h.register_hook(lambda g: g * 2)
        x.register_hook(lambda g: g + 1)
        return lib.autograd.grad((h * h).sum(), x)

    parity(run)


def test_retain_grad_sees_the_hooked_grad_whatever_the_order():
    def run(lib):
        x = random(lib, (3,))
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 5)
        z = x * 3
        z.register_hook(lambda g: g * 7)
        z.retain_grad()
        (y + z).sum().backward()
        return y.grad, z.grad, x.grad

    parity(run)


def test_hook_on_leaf_used_twice_runs_once_with_the_sum():
    def run(lib):
        x = random(lib, (3,))
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        (x * x.exp()).sum().backward()
        return seen

    parity(run)


def test_grad_fn_post_hook_and_prehook():
    def run(lib):
        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        y = a * b
        log = []

        def pre(grad_outputs):
            log.append(("pre", grad_outputs))
            return (grad_outputs[0] * 2,)

        def post(grad_inputs, grad_outputs):
            log.append(("post", grad_inputs, grad_outputs))
            return (grad_inputs[0], grad_inputs[1] + 1)

        y.grad_fn.register_prehook(pre)
        y.grad_fn.register_hook(post)
        y.sum().backward()
        return (
            [
                tuple(
                    t.clone() if t is not None and not isinstance(t, str) else t
                    for t in _flatten(entry)
                )
                for entry in log
            ],
            a.grad,
            b.grad,
        )

    parity(run)


def _flatten(entry):
    out = []
    for item in entry:
        out.extend(item if isinstance(item, tuple) else (item,))
    return out


def test_grad_fn_post_hook_sees_none_for_inputs_without_grad():
    def run(lib):
        a, b = random(lib, (3,), 0), random(lib, (3,), 1, requires_grad=False)
        y = a * b
        log = []
        y.grad_fn.register_hook(lambda gi, go: log.append((gi, go)))
        y.sum().backward()
        return log

    parity(run)


def test_grad_fn_hook_removal():
    def run(lib):
        a = random(lib, (3,))
        y = a.exp()
        handle = y.grad_fn.register_prehook(lambda go: (go[0] * 0,))
        handle.remove()
        y.sum().backward()
        return a.grad

    parity(run)


def test_accumulate_grad_node_hooks_and_order():
    def run(lib):
        x = random(lib, (3,))
        y = x * 2
        accumulator = y.grad_fn.next_functions[0][0]
        log = []
        x.register_hook(lambda g: log.append("tensor hook") or g * 3)
        accumulator.register_prehook(lambda go: log.append(("node prehook", go)))
        x.register_post_accumulate_grad_hook(
            lambda t: log.append(("post accumulate", t.grad.clone()))
        )
        accumulator.register_hook(lambda gi, go: log.append(("node hook", gi, go)))
        y.sum().backward()
        return log, x.grad, type(accumulator).__name__, accumulator.next_functions

    parity(run)


def test_accumulate_grad_node_is_shared_and_exposes_variable():
    for lib in (torch, qilin):
        x = random(lib, (3,))
        first = (x * 2).grad_fn.next_functions[0][0]
        second = (x.exp()).grad_fn.next_functions[0][0]
        assert first is second
        assert first.variable is x


def test_next_functions_match_torch_shape():
    def run(lib):
        a, b = random(lib, (3,), 0), random(lib, (3,), 1, requires_grad=False)
        y = (a * b).exp()
        names = [f.name() if f is not None else None for f, _ in y.grad_fn.next_functions]
        # torch names it 'torch::autograd::AccumulateGrad'; qilin just 'AccumulateGrad'
        inner = [
            (f.name().split("::")[-1] if f is not None else None, i)
            for f, i in y.grad_fn.next_functions[0][0].next_functions
        ]
        return y.grad_fn.name(), names, inner, repr(y.grad_fn).split(" object")[0]

    parity(run)


def test_post_accumulate_grad_hook_runs_after_each_accumulation():
    def run(lib):
        w = random(lib, (3,))
        seen = []
        handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
        (w * w).sum().backward()
        (w * 3).sum().backward()
        handle.remove()
        (w * 3).sum().backward()
        return seen, w.grad

    parity(run)


def test_post_accumulate_grad_hook_can_update_the_parameter():
    def run(lib):
        w = random(lib, (3,))

        def sgd_in_hook(tensor):
            with lib.no_grad():
                tensor -= 0.1 * tensor.grad
            tensor.grad = None

        w.register_post_accumulate_grad_hook(sgd_in_hook)
        for _ in range(3):
            (w * w).sum().backward()
        return w, w.grad

    parity(run)


def test_post_accumulate_grad_hook_on_non_leaf_raises():
    for lib in (torch, qilin):
        y = random(lib, (3,)) * 2
        with pytest.raises(RuntimeError, match="non-leaf"):
            y.register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_grad_hook_not_run_by_autograd_grad():
    def run(lib):
        w = random(lib, (3,))
        seen = []
        w.register_post_accumulate_grad_hook(lambda t: seen.append(1))
        lib.autograd.grad((w * w).sum(), w)
        return seen

    parity(run)


def test_only_the_part_of_the_graph_leading_to_the_inputs_runs():
    def run(lib):
        x = random(lib, (3,))
        h = x.exp()
        log = []
        x.register_hook(lambda g: log.append("x hook"))
        h.register_hook(lambda g: log.append("h hook"))
        (g,) = lib.autograd.grad((h * h).sum(), h, retain_graph=True)
        y = random(lib, (3,), 1)
        y.register_hook(lambda g: log.append("y hook"))
        (h * y).sum().backward(inputs=[y])
        return log, g, x.grad, y.grad

    parity(run)


def test_grad_through_a_captured_intermediate_to_a_leaf():
    def run(lib):
        x = random(lib, (3,))
        h = x.sin()
        return lib.autograd.grad((h * x).sum(), [h, x])

    parity(run)
