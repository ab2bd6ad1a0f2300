"""Custom autograd Functions, written once against the torch surface and run in both."""

import pytest

import qilin

from .oracle import parity, random, torch


def _functions(lib):
    """The same Function subclasses, built on `lib`."""
    Function = lib.autograd.Function

    class Cube(Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            ctx.log = [ctx.needs_input_grad]
            return x**3 * scale

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x * ctx.scale, None  # written in lib ops: twice differentiable

    class ExpSaved(Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved_tensors
            return grad * out

    class SplitSum(Function):  # several outputs, one integer, one non-differentiable
        @staticmethod
        def forward(ctx, a, b):
            total, product = a + b, a * b
            count = (a > 0).sum()
            ctx.mark_non_differentiable(count)
            ctx.save_for_backward(a, b)
            return total, product, count

        @staticmethod
        def backward(ctx, grad_total, grad_product, grad_count):
            a, b = ctx.saved_tensors
            ctx.seen = (grad_total, grad_product, grad_count)
            return grad_total + grad_product * b, grad_total + grad_product * a

    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    class NoMaterialize(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, grad_a, grad_b):
            ctx.received = (grad_a is None, grad_b is None)
            total = None
            for grad, factor in ((grad_a, 2), (grad_b, 3)):
                if grad is not None:
                    total = grad * factor if total is None else total + grad * factor
            return total

    class Materialize(NoMaterialize):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 5

    class Keywords(Function):
        @staticmethod
        def forward(ctx, x, power=2, *, shift=0.0):
            ctx.power = power
            ctx.save_for_backward(x)
            return x**power + shift

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * ctx.power * x ** (ctx.power - 1), None

    class SetupContext(Function):
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y, grad * x

    class Once(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            ctx.grad_mode = lib.is_grad_enabled()
            return grad * x.cos()

    return dict(
        Cube=Cube,
        ExpSaved=ExpSaved,
        SplitSum=SplitSum,
        AddOneInPlace=AddOneInPlace,
        NoMaterialize=NoMaterialize,
        Materialize=Materialize,
        Identity=Identity,
        Keywords=Keywords,
        SetupContext=SetupContext,
        Once=Once,
    )


def test_save_for_backward_and_non_tensor_argument():
    def run(lib):
        F = _functions(lib)["Cube"]
        x = random(lib, (4,))
        y = F.apply(x, 2.5)
        y.sum().backward()
        return y, x.grad, y.requires_grad, y.grad_fn.name()

    parity(run)


def test_needs_input_grad():
    def run(lib):
        F = _functions(lib)["SetupContext"]
        Cube = _functions(lib)["Cube"]
        a, b = random(lib, (2,)), random(lib, (2,), 1, requires_grad=False)
        flags = []
        for x in (a, b):
            out = Cube.apply(x, 1.0)
            flags.append((out.requires_grad, out.grad_fn is None))
        with lib.no_grad():
            out = Cube.apply(a, 1.0)
            flags.append((out.requires_grad,))
        y = F.apply(a, b)
        y.sum().backward()
        return flags, a.grad, b.grad

    parity(run)


def test_needs_input_grad_values_seen_in_forward():
    def run(lib):
        Cube = _functions(lib)["Cube"]
        seen = []
        original = Cube.forward

        def spy(ctx, x, scale):
            out = original(ctx, x, scale)
            seen.append(ctx.needs_input_grad)
            return out

        Cube.forward = staticmethod(spy)
        Cube.apply(random(lib, (2,)), 1.0)
        Cube.apply(random(lib, (2,), requires_grad=False), 1.0)
        with lib.no_grad():
            Cube.apply(random(lib, (2,)), 1.0)
        return seen

    parity(run)


def test_saved_output_and_double_backward():
    def run(lib):
        F = _functions(lib)["ExpSaved"]
        x = random(lib, (3,))
        y = F.apply(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return y, g, gg

    parity(run)


def test_double_and_triple_backward_through_function_using_lib_ops():
    def run(lib):
        F = _functions(lib)["Cube"]
        x = random(lib, (3,))
        y = F.apply(x, 2.0)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x, create_graph=True)
        (ggg,) = lib.autograd.grad(gg.sum(), x)
        return g, gg, ggg

    parity(run)


def test_multiple_outputs_non_differentiable_and_materialized_grads():
    def run(lib):
        F = _functions(lib)["SplitSum"]
        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        total, product, count = F.apply(a, b)
        flags = (total.requires_grad, count.requires_grad, count.dtype)
        total.sum().backward()  # product and count get no grad: zeros are passed in
        return flags, a.grad, b.grad, count

    parity(run)


def test_non_differentiable_float_output():
    def run(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                sign = x.sign()
                ctx.mark_non_differentiable(sign)
                return x * 2, sign

            @staticmethod
            def backward(ctx, grad, grad_sign):
                return grad * 2 + grad_sign

        x = random(lib, (3,))
        out, sign = F.apply(x)
        (out * sign).sum().backward()
        return sign.requires_grad, sign.grad_fn is None, x.grad

    parity(run)


def test_set_materialize_grads_false_passes_none():
    def run(lib):
        fns = _functions(lib)
        results = []
        for name in ("NoMaterialize", "Materialize"):
            x = random(lib, (2,))
            first, _ = fns[name].apply(x)
            first.sum().backward()
            results.append(x.grad)
        return results

    parity(run)


def test_mark_dirty_on_non_leaf():
    def run(lib):
        F = _functions(lib)["AddOneInPlace"]
        x = random(lib, (3,))
        a = x * 1
        before = a._version
        b = F.apply(a)
        b.sum().backward()
        return b is a, a._version - before, a, x.grad, b.grad_fn is a.grad_fn

    parity(run)


def test_mark_dirty_on_leaf_requiring_grad_raises():
    for lib in (torch, qilin):
        F = _functions(lib)["AddOneInPlace"]
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used"):
            F.apply(random(lib, (3,)))


def test_mark_dirty_through_a_view():
    def run(lib):
        F = _functions(lib)["AddOneInPlace"]
        x = random(lib, (2, 3))
        a = x * 1
        F.apply(a[1])
        (a * a).sum().backward()
        return a, x.grad

    parity(run)


def test_returning_an_input_gives_a_new_tensor():
    def run(lib):
        F = _functions(lib)["Identity"]
        x = random(lib, (3,))
        y = F.apply(x)
        (y * 2).sum().backward()
        return y is x, y.grad_fn is not None, x.grad

    parity(run)


def test_keyword_arguments_are_passed_to_forward():
    def run(lib):
        F = _functions(lib)["Keywords"]
        x = random(lib, (3,))
        y = F.apply(x, 3)
        y.sum().backward()
        return y, x.grad

    parity(run)


def test_setup_context_style():
    def run(lib):
        F = _functions(lib)["SetupContext"]
        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        F.apply(a, b).sum().backward()
        return a.grad, b.grad

    parity(run)


def test_once_differentiable_runs_without_graph_and_refuses_double_backward():
    def run(lib):
        F = _functions(lib)["Once"]
        x = random(lib, (3,))
        y = F.apply(x)
        # the incoming grad requires grad (it depends on x), so the result is marked
        (g,) = lib.autograd.grad((y * x).sum(), x, create_graph=True)
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g.sum().backward()  # reaches the error node (autograd.grad(g, x) would prune it)
        x.grad = None
        F.apply(x).sum().backward()
        return g, g.requires_grad, x.grad

    parity(run)


def test_none_grad_for_tensor_input():
    def run(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * b

            @staticmethod
            def backward(ctx, grad):
                return grad * 2, None

        a, b = random(lib, (3,), 0), random(lib, (3,), 1)
        F.apply(a, b).sum().backward()
        return a.grad, b.grad

    parity(run)


def test_extra_none_grads_are_allowed():
    def run(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad * 2, None, None

        x = random(lib, (3,))
        F.apply(x).sum().backward()
        return x.grad

    parity(run)


@pytest.mark.parametrize(
    "returned, message",
    [
        ("one", "returned an incorrect number of gradients \\(expected 2, got 1\\)"),
        ("three", "returned an incorrect number of gradients \\(expected 2, got 3\\)"),
        ("non_tensor_input", "returned a gradient different than None at position 2"),
        (
            "bad_shape",
            "returned an invalid gradient at index 0 - got \\[2\\] but expected shape "
            "compatible with \\[3\\]",
        ),
    ],
)
def test_wrong_grads_from_backward_raise(returned, message):
    for lib in (torch, qilin):

        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, grad):
                return {
                    "one": (grad,),
                    "three": (grad, None, grad),
                    "non_tensor_input": (grad, grad),
                    "bad_shape": (grad[:2], None),
                }[returned]

        with pytest.raises(RuntimeError, match=message):
            F.apply(random(lib, (3,)), 2.0).sum().backward()


def test_broadcast_grad_is_reduced_to_the_input_shape():
    def run(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad.expand(4, 3)

        x = random(lib, (3,))
        F.apply(x).sum().backward()
        return x.grad

    parity(run)


def test_saved_tensors_freed_after_backward():
    for lib in (torch, qilin):
        F = _functions(lib)["Cube"]
        x = random(lib, (3,))
        y = F.apply(x, 1.0).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


def test_function_saving_nothing_can_backward_twice():
    def run(lib):
        F = _functions(lib)["Identity"]
        x = random(lib, (3,))
        y = F.apply(x).sum()
        y.backward()
        y.backward()
        return x.grad

    parity(run)


def test_saved_input_modified_in_place_raises():
    for lib in (torch, qilin):
        F = _functions(lib)["Cube"]
        a = random(lib, (3,)) * 1
        y = F.apply(a, 1.0)
        a.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_forward_runs_without_grad_and_backward_only_with_create_graph():
    def run(lib):
        modes = []

        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                modes.append(("forward", lib.is_grad_enabled()))
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                modes.append(("backward", lib.is_grad_enabled()))
                return grad * 2

        x = random(lib, (2,))
        F.apply(x).sum().backward()
        lib.autograd.grad(F.apply(x).sum(), x, create_graph=True)
        return modes

    parity(run)


def test_function_node_does_not_keep_a_reference_cycle():
    import gc
    import weakref

    class F(qilin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, grad):
            x, out = ctx.saved_tensors
            return grad * out

    gc.collect()
    gc.disable()
    try:
        x = random(qilin, (3,))
        y = F.apply(x)
        node_ref, out_ref = weakref.ref(y.grad_fn), weakref.ref(y)
        del y
        assert out_ref() is None and node_ref() is None, "Function node and output keep each other"
    finally:
        gc.enable()
