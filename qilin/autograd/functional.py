"""Function transforms on top of grad(): vjp, jvp, jacobian, hessian, hvp, vhp."""

from __future__ import annotations

from ..tensor import Tensor


def _tuple(value):
    return (value,) if isinstance(value, Tensor) else tuple(value)


def _prepare(inputs, create_graph):
    return tuple(t.detach().requires_grad_(True) for t in _tuple(inputs))


def _grad(outputs, inputs, grad_outputs, create_graph):
    from . import grad

    return grad(outputs, inputs, grad_outputs, create_graph=create_graph, retain_graph=True,
                allow_unused=True, materialize_grads=True)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    single = isinstance(inputs, Tensor)
    inputs = _prepare(inputs, create_graph)
    outputs = func(*inputs)
    grads = _grad(_tuple(outputs), inputs, None if v is None else _tuple(v), create_graph)
    detach = (lambda t: t) if create_graph else (lambda t: t.detach())
    out = detach(outputs) if isinstance(outputs, Tensor) else tuple(detach(o) for o in outputs)
    grads = tuple(detach(g) for g in grads)
    return out, grads[0] if single else grads


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), through the double-vjp trick: J v = d/du (u^T J)^T v."""
    from ..ops.creation import zeros_like

    single = isinstance(inputs, Tensor)
    inputs = _prepare(inputs, True)
    outputs = _tuple(func(*inputs))
    dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
    grads = _grad(outputs, inputs, dummies, True)
    tangents = _tuple(v) if v is not None else tuple(
        zeros_like(i) + 1 for i in inputs)
    result = _grad(grads, dummies, tangents, create_graph)
    detach = (lambda t: t) if create_graph else (lambda t: t.detach())
    out = tuple(detach(o) for o in outputs)
    result = tuple(detach(r) for r in result)
    single_out = len(out) == 1
    del single
    return (out[0] if single_out else out), (result[0] if single_out else result)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func / d inputs, shaped output.shape + input.shape (tuples for several of either)."""
    from ..ops.creation import zeros_like
    from ..ops.movement import stack

    single_input = isinstance(inputs, Tensor)
    inputs = _prepare(inputs, create_graph)
    outputs = func(*inputs)
    single_output = isinstance(outputs, Tensor)
    outputs = _tuple(outputs)
    result = []
    for output in outputs:
        rows = [[] for _ in inputs]
        flat = output.reshape(-1)
        for k in range(flat.numel()):
            grads = _grad((flat[k],), inputs, None, create_graph)
            for i, g in enumerate(grads):
                rows[i].append(g if create_graph else g.detach())
        per_input = []
        for i, inp in enumerate(inputs):
            if rows[i]:
                block = stack(rows[i]).reshape(tuple(output.shape) + tuple(inp.shape))
            else:
                block = zeros_like(inp).reshape((0,) + tuple(inp.shape)).reshape(
                    tuple(output.shape) + tuple(inp.shape))
            per_input.append(block)
        result.append(per_input[0] if single_input else tuple(per_input))
    return result[0] if single_output else tuple(result)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The matrix of second derivatives of a scalar function."""
    single = isinstance(inputs, Tensor)

    def gradient(*args):
        args = tuple(a if a.requires_grad else a.requires_grad_(True) for a in args)
        output = func(*args)
        grads = _grad((output,), args, None, True)
        return grads[0] if single else grads

    return jacobian(gradient, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H)."""
    single = isinstance(inputs, Tensor)
    inputs = _prepare(inputs, True)
    output = func(*inputs)
    grads = _grad((output,), inputs, None, True)
    result = _grad(grads, inputs, _tuple(v), create_graph)
    result = tuple(r if create_graph else r.detach() for r in result)
    return output.detach(), result[0] if single else result


hvp = vhp  # the Hessian is symmetric for twice-differentiable functions
