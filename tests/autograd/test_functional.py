"""qilin.autograd.functional against torch.autograd.functional on the same functions."""

import pytest

from .oracle import parity, random


def _scalar_single(x):
    return (x.sin() * x.exp()).sum() + (x**3).prod()


def _scalar_tuple(x, y):
    return (x.tanh() @ y).sum() + (x * x).sum() * y.sum()


def _vector_single(x):
    return x.sin() * x.sum() + x**2


def _vector_tuple_out(x):
    return x.exp(), (x * x).sum(), x[:2] * 3


def _tuple_in_tuple_out(x, y):
    return x * y.sum(), (x.unsqueeze(1) * y).tanh()


def _inputs(lib, shapes):
    tensors = tuple(
        random(lib, shape, seed, requires_grad=False) for seed, shape in enumerate(shapes)
    )
    return tensors[0] if len(tensors) == 1 and not isinstance(shapes, list) else tensors


CASES = {
    "scalar_single": (_scalar_single, (3,)),
    "scalar_tuple": (_scalar_tuple, [(2, 3), (3,)]),
    "vector_single": (_vector_single, (4,)),
    "vector_tuple_out": (_vector_tuple_out, (3,)),
    "tuple_in_tuple_out": (_tuple_in_tuple_out, [(2,), (3,)]),
}


def _make(lib, shapes):
    if isinstance(shapes, list):
        return tuple(
            random(lib, shape, seed, requires_grad=False) for seed, shape in enumerate(shapes)
        )
    return random(lib, shapes, 0, requires_grad=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_jacobian(case):
    func, shapes = CASES[case]
    parity(lambda lib: lib.autograd.functional.jacobian(func, _make(lib, shapes)), rtol=1e-6)


@pytest.mark.parametrize("case", ["scalar_single", "scalar_tuple"])
def test_hessian(case):
    func, shapes = CASES[case]
    parity(lambda lib: lib.autograd.functional.hessian(func, _make(lib, shapes)), rtol=1e-6)


def _cotangent(lib, func, inputs):
    outputs = func(*inputs) if isinstance(inputs, tuple) else func(inputs)
    if isinstance(outputs, tuple):
        return tuple(
            random(lib, tuple(o.shape), 10 + i, requires_grad=False) for i, o in enumerate(outputs)
        )
    return random(lib, tuple(outputs.shape), 10, requires_grad=False)


def _tangent(lib, inputs):
    if isinstance(inputs, tuple):
        return tuple(
            random(lib, tuple(i.shape), 20 + n, requires_grad=False) for n, i in enumerate(inputs)
        )
    return random(lib, tuple(inputs.shape), 20, requires_grad=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_vjp(case):
    func, shapes = CASES[case]

    def run(lib):
        inputs = _make(lib, shapes)
        return lib.autograd.functional.vjp(func, inputs, _cotangent(lib, func, inputs))

    parity(run, rtol=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_jvp(case):
    func, shapes = CASES[case]

    def run(lib):
        inputs = _make(lib, shapes)
        return lib.autograd.functional.jvp(func, inputs, _tangent(lib, inputs))

    parity(run, rtol=1e-6)


@pytest.mark.parametrize("which", ["hvp", "vhp"])
@pytest.mark.parametrize("case", ["scalar_single", "scalar_tuple"])
def test_hvp_and_vhp(case, which):
    func, shapes = CASES[case]

    def run(lib):
        inputs = _make(lib, shapes)
        return getattr(lib.autograd.functional, which)(func, inputs, _tangent(lib, inputs))

    parity(run, rtol=1e-6)


def test_vjp_without_v_for_scalar_output_and_jvp_without_v_for_single_element_input():
    def run(lib):
        x = random(lib, (3,), requires_grad=False)
        scalar = random(lib, (1,), 1, requires_grad=False)
        return (
            lib.autograd.functional.vjp(_scalar_single, x),
            lib.autograd.functional.jvp(lambda s: s.exp() * 2, scalar),
        )

    parity(run)


def test_single_element_tuple_inputs_give_tuples():
    def run(lib):
        x = random(lib, (3,), requires_grad=False)
        return (
            lib.autograd.functional.jacobian(_vector_single, (x,)),
            lib.autograd.functional.jacobian(lambda t: (t * 2,), x),
            lib.autograd.functional.hessian(_scalar_single, (x,)),
            lib.autograd.functional.vjp(lambda t: (t * 2,), (x,), (x,)),
            lib.autograd.functional.jvp(lambda t: (t * 2,), (x,), (x,)),
        )

    parity(run)


def test_output_independent_of_an_input_gives_zeros():
    def run(lib):
        x, y = random(lib, (2,), 0, requires_grad=False), random(lib, (3,), 1, requires_grad=False)
        f = lambda a, b: a * 2  # noqa: E731
        return (
            lib.autograd.functional.jacobian(f, (x, y)),
            lib.autograd.functional.vjp(f, (x, y), x),
            lib.autograd.functional.jvp(f, (x, y), (x, y)),
        )

    parity(run)


def test_results_are_detached_unless_create_graph():
    def run(lib):
        x = random(lib, (3,), requires_grad=False)
        plain = lib.autograd.functional.jacobian(_vector_single, x)
        w = random(lib, (3,), 1)
        graph = lib.autograd.functional.jacobian(lambda t: t * w, x, create_graph=True)
        graph.sum().backward()
        out, grads = lib.autograd.functional.vjp(_vector_single, x, x)
        return (
            plain.requires_grad,
            graph.requires_grad,
            w.grad,
            out.requires_grad,
            grads.requires_grad,
            x.requires_grad,
        )

    parity(run)


def test_vjp_without_v_for_non_scalar_output_raises():
    from .oracle import raises_both

    raises_both(
        lambda lib: lib.autograd.functional.vjp(
            _vector_single, random(lib, (3,), requires_grad=False)
        ),
        RuntimeError,
        "The vector v can only be None if the user-provided function returns a single Tensor "
        "with a single element",
    )


def test_vectorize_flag_gives_same_jacobian():
    parity(
        lambda lib: lib.autograd.functional.jacobian(
            _vector_single, random(lib, (4,), requires_grad=False), vectorize=True
        )
    )


@pytest.mark.parametrize("name", ["jacobian", "vjp", "hessian", "vhp"])
def test_strict_mode_rejects_independent_outputs_and_inputs(name):
    from .oracle import raises_both

    functional_of = lambda lib: getattr(lib.autograd.functional, name)  # noqa: E731
    second_order = name in ("hessian", "vhp")

    def independent_of_y(lib):
        x, y = (random(lib, (3,), seed, requires_grad=False) for seed in (0, 1))
        if second_order:
            f = lambda a, b: (a * a).sum()  # noqa: E731
            extra = ((x, y),) if name == "vhp" else ()
        else:
            f = lambda a, b: a * 2  # noqa: E731
            extra = (x,) if name == "vjp" else ()
        return functional_of(lib)(f, (x, y), *extra, strict=True)

    # torch words the second-order case differently; both say strict mode forbids it.
    raises_both(independent_of_y, RuntimeError, "input 1.*strict mode")
    if not second_order:
        raises_both(
            lambda lib: functional_of(lib)(
                lambda x: lib.ones(3, dtype=x.dtype),
                random(lib, (3,), requires_grad=False),
                *((random(lib, (3,), requires_grad=False),) if name == "vjp" else ()),
                strict=True,
            ),
            RuntimeError,
            "Output 0 of the user-provided function does not require gradients",
        )
