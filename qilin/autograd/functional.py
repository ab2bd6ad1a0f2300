"""Function transforms on top of grad(), as torch.autograd.functional: vjp, jvp, jacobian,
hessian, vhp, hvp.

Inputs are detached copies that require grad, so `func` sees fresh leaves. A Tensor argument
gives Tensor results, a tuple gives tuples. Results are detached unless create_graph=True.
Forward-mode products (jvp, hvp) use the double-vjp trick: J v = d/du <u, J^T ... > — the vjp
of the vjp, which needs only reverse-mode rules.
"""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(value, argument: str, function: str) -> tuple[bool, tuple]:
    """(was it a single Tensor, the values as a tuple), with torch's type error."""
    if isinstance(value, Tensor):
        return True, (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, Tensor) for v in value):
        return False, tuple(value)
    raise TypeError(
        f"The {argument} given to {function} must be either a Tensor or a tuple of Tensors but "
        f"the value given has type {type(value).__name__}."
    )


def _unpack(single: bool, values: tuple):
    return values[0] if single else values


def _leaves(inputs: tuple) -> tuple:
    return tuple(t.detach().requires_grad_(True) for t in inputs)


def _call(func, inputs: tuple, function: str) -> tuple[bool, tuple]:
    outputs = func(*inputs)
    return _as_tuple(outputs, "outputs of the user-provided function", function)


def _grad(
    outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool, strict: bool = False
) -> tuple:
    """Like autograd.grad, but outputs and inputs that are not connected contribute zeros;
    with `strict`, either is an error instead (torch's strict mode)."""
    from ..ops.creation import zeros_like
    from . import grad

    if strict:
        for index, output in enumerate(outputs):
            if not output.requires_grad:
                raise RuntimeError(
                    f"Output {index} of the user-provided function does not require gradients. "
                    "The outputs must be computed in a differentiable manner from the input "
                    "when running in strict mode."
                )
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return tuple(zeros_like(i) for i in inputs)
    grads = grad(
        [o for o, _ in pairs],
        inputs,
        [g for _, g in pairs],
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
        materialize_grads=not strict,
    )
    for index, value in enumerate(grads):
        if value is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {index}. "
                "This is not allowed in strict mode."
            )
    return grads


def _check_vectors(vectors: tuple, against: tuple, what: str) -> None:
    if len(vectors) != len(against):
        raise RuntimeError(
            f"v is a tuple of invalid length: should be {len(against)} but got {len(vectors)}."
        )
    for index, (v, ref) in enumerate(zip(vectors, against)):
        if tuple(v.shape) != tuple(ref.shape):
            raise RuntimeError(
                f"Mismatch in shape: v[{index}] has a shape of {list(v.shape)} and {what}[{index}]"
                f" has a shape of {list(ref.shape)}."
            )


def _ones_for(values: tuple, message: str) -> tuple:
    if len(values) != 1 or values[0].numel() != 1:
        raise RuntimeError(message)
    from ..ops.creation import ones_like

    return (ones_like(values[0]),)


def _finish(values: tuple, create_graph: bool) -> tuple:
    return values if create_graph else tuple(v.detach() for v in values)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`."""
    single_in, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _leaves(inputs)
    single_out, outputs = _call(func, inputs, "vjp")
    if v is None:
        vectors = _ones_for(
            outputs,
            "The vector v can only be None if the user-provided function "
            "returns a single Tensor with a single element.",
        )
    else:
        vectors = _as_tuple(v, "v", "vjp")[1]
        _check_vectors(vectors, outputs, "outputs")
    grads = _grad(outputs, inputs, vectors, create_graph, strict)
    return (
        _unpack(single_out, _finish(outputs, create_graph)),
        _unpack(single_in, _finish(grads, create_graph)),
    )


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, as the vjp of a vjp."""
    from ..ops.creation import zeros_like

    single_in, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _leaves(inputs)
    if v is None:
        tangents = _ones_for(
            inputs,
            "The vector v can only be None if the input to the "
            "user-provided function is a single Tensor with a single "
            "element.",
        )
    else:
        tangents = _as_tuple(v, "v", "jvp")[1]
        _check_vectors(tangents, inputs, "inputs")
    single_out, outputs = _call(func, inputs, "jvp")
    # u^T J as a function of the dummy cotangents u; its vjp with the tangents is J v.
    dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
    grads = _grad(outputs, inputs, dummies, True, strict)
    products = _grad(grads, dummies, tangents, create_graph)
    return (
        _unpack(single_out, _finish(outputs, create_graph)),
        _unpack(single_out, _finish(products, create_graph)),
    )


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """d func / d inputs: for each output and input, a tensor of shape output.shape +
    input.shape (nested tuples when either is a tuple). One vjp per output element;
    `vectorize` and `strategy` are accepted for torch compatibility and give the same result."""
    from ..ops.creation import zeros
    from ..ops.movement import stack

    single_in, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _leaves(inputs)
    single_out, outputs = _call(func, inputs, "jacobian")
    blocks = []
    for output in outputs:
        flat = output.reshape(-1)
        rows = [[] for _ in inputs]
        for k in range(flat.numel()):
            grads = (
                _grad((flat[k],), inputs, (None,), create_graph, strict)
                if output.requires_grad or strict
                else _grad((), inputs, (), create_graph)
            )
            for i, g in enumerate(grads):
                rows[i].append(g)
        per_input = []
        for i, source in enumerate(inputs):
            shape = tuple(output.shape) + tuple(source.shape)
            block = (
                stack(rows[i]).reshape(shape)
                if rows[i]
                else zeros(shape, dtype=source.dtype, device=source.device)
            )
            per_input.append(block if create_graph else block.detach())
        blocks.append(_unpack(single_in, tuple(per_input)))
    return _unpack(single_out, tuple(blocks))


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    """The second derivatives of a scalar function: the Jacobian of its gradient."""
    single_in, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*args):
        single_out, outputs = _call(func, args, "hessian")
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The function given to hessian should return a single Tensor with "
                f"a single element, but it returned shape "
                f"{list(outputs[0].shape)}."
            )
        return _unpack(single_in, _grad(outputs, args, (None,), True, strict))

    return jacobian(gradient, _unpack(single_in, inputs), create_graph, strict)


def _second_order(func, inputs, v, create_graph: bool, strict: bool, function: str, transpose):
    single_in, inputs = _as_tuple(inputs, "inputs", function)
    inputs = _leaves(inputs)
    single_out, outputs = _call(func, inputs, function)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(
            f"The function given to {function} should return a single Tensor "
            f"with a single element, but it returned shape "
            f"{list(outputs[0].shape)}."
        )
    if v is None:
        vectors = _ones_for(
            inputs,
            "The vector v can only be None if the input to the "
            "user-provided function is a single Tensor with a single "
            "element.",
        )
    else:
        vectors = _as_tuple(v, "v", function)[1]
        _check_vectors(vectors, inputs, "inputs")
    grads = _grad(outputs, inputs, (None,), True, strict)
    if transpose:  # v^T H: the vjp of the gradient
        result = _grad(grads, inputs, vectors, create_graph)
    else:  # H v: the jvp of the gradient, as the vjp of a vjp (equal for a symmetric H)
        from ..ops.creation import zeros_like

        dummies = tuple(zeros_like(i).requires_grad_(True) for i in inputs)
        inner = _grad(grads, inputs, dummies, True)
        result = _grad(inner, dummies, vectors, create_graph)
    return (_finish(outputs, create_graph)[0], _unpack(single_in, _finish(result, create_graph)))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    return _second_order(func, inputs, v, create_graph, strict, "vhp", transpose=True)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp", transpose=False)
