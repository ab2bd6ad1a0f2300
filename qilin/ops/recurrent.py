"""Fused recurrent ops, in torch's gate order: one LSTM or GRU time step as one op (the cells),
and one layer and direction over a whole padded sequence as one op (`lstm_sequence`,
`gru_sequence`, at the end of this file: what nn.LSTM / nn.GRU run).

    lstm_cell(input_gates, hidden_gates, c) -> (h', c', activations)
        gates = input_gates + hidden_gates = (i, f, g, o) pre-activations, each (B, H)
        c' = sigmoid(f) c + sigmoid(i) tanh(g),   h' = sigmoid(o) tanh(c')

    gru_cell(input_gates, hidden_gates, h, hidden_bias) -> (h', activations)
        input_gates = x W_ih^T + b_ih, hidden_gates = h W_hh^T (+ hidden_bias = b_hh), (r, z, n)
        r, z = sigmoid(input_rz + hidden_rz),   n = tanh(input_n + r hidden_n)
        h' = (1 - z) n + z h

`activations` (B, 4H) is not differentiable: it keeps what the backward reads (LSTM: the
activated gates i, f, g, o; GRU: r, z, n and hidden_n). Packed batches, proj_size and the
Cell modules apply a matmul and one cell per step; written with separate ops a step cost ~25
autograd nodes, fused it costs one each way.

The first-order backward is a fused kernel too (`lstm_cell_backward`, `gru_cell_backward`, not
differentiable); under create_graph the vjp is the same formula in differentiable qilin ops,
with the activations recomputed from the inputs so that second derivatives see how they depend
on them.
"""

from __future__ import annotations

from ..autograd import grad_mode
from .families import define
from .movement import CAT, SLICE
from .registry import Spec

__all__: list[str] = []  # internal primitives: the layers live in nn.modules.rnn


# ----- shared pieces -------------------------------------------------------------------------
def _check(name: str, gates, gate_count: int, state, other=None, bias=None):
    """gates (B, gate_count * H) [and `other` the same], state (B, H), one floating dtype."""
    for value in (gates, other, state, bias):
        if value is not None and value.dtype is not gates.dtype:
            raise RuntimeError(
                f"{name}: expected all inputs to have dtype {gates.dtype.name}, got "
                f"{value.dtype.name}"
            )
    if not gates.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expected floating point inputs, got {gates.dtype.name}")
    if len(state.shape) != 2:
        raise RuntimeError(f"{name}: expected a 2-D state (batch, hidden), got {state.shape}")
    batch, hidden = state.shape
    expected = (batch, gate_count * hidden)
    for which, value in (("input gates", gates), ("hidden gates", other)):
        if value is not None and tuple(value.shape) != expected:
            raise RuntimeError(
                f"{name}: expected {which} of shape {expected} (batch, {gate_count} * hidden) for "
                f"a state of shape {tuple(state.shape)}, got {tuple(value.shape)}"
            )
    if bias is not None and tuple(bias.shape) != (gate_count * hidden,):
        raise RuntimeError(
            f"{name}: expected a hidden bias of shape ({gate_count * hidden},), got "
            f"{tuple(bias.shape)}"
        )
    return batch, hidden


def _wide(x):
    """float16 / bfloat16 compute in float32 (tanh and products lose too much in 16 bits)."""
    return x if x is None or x.dtype.itemsize >= 4 else x.astype("float32")


def _exp_(xp, x):
    """exp in place. Overflow to inf is wanted (1 / (1 + inf) = 0): not warned about. (NumPy's
    exp is ~3x faster than its tanh; a clamp against overflow would cost half an exp.)"""
    errstate = getattr(xp, "errstate", None)
    if errstate is None:
        xp.exp(x, out=x)
    else:
        with errstate(over="ignore"):
            xp.exp(x, out=x)


def _sigmoid_(xp, x):
    """sigmoid in place, as 1 / (1 + exp(-x))."""
    xp.negative(x, out=x)
    _exp_(xp, x)
    x += 1.0
    xp.divide(1.0, x, out=x)
    return x


def _tanh_(xp, x):
    """tanh in place, as 2 / (1 + exp(-2 x)) - 1."""
    x *= -2.0
    _exp_(xp, x)
    x += 1.0
    xp.divide(2.0, x, out=x)
    x -= 1.0
    return x


def _columns(matrix, index: int, size: int):
    return SLICE(matrix, dim=1, start=index * size, stop=(index + 1) * size, step=1)


# ----- LSTM ----------------------------------------------------------------------------------
def _lstm_meta(input_gates, hidden_gates, c):
    batch, hidden = _check("lstm_cell", input_gates, 4, c, hidden_gates)
    state = Spec((batch, hidden), c.dtype)
    return state, state, Spec((batch, 4 * hidden), c.dtype)


def _lstm_kernel(xp, input_gates, hidden_gates, c):
    gates = _wide(input_gates) + _wide(hidden_gates)  # fresh and contiguous: activated in place
    h_next, c_next = _lstm_activate(xp, gates, _wide(c))
    return tuple(value.astype(c.dtype, copy=False) for value in (h_next, c_next, gates))


def _lstm_activate(xp, gates, c):
    """Activates the pre-activations `gates` (B, 4H) in place; returns (h', c')."""
    i, f, g, o = (gates[:, k * c.shape[1] : (k + 1) * c.shape[1]] for k in range(4))
    # one exp for all four gates: sigmoid(x) for i, f, o; tanh(x) = 2 sigmoid(2 x) - 1 for g
    g *= 2.0
    _sigmoid_(xp, gates)
    g *= 2.0
    g -= 1.0
    c_next = f * c
    c_next += i * g
    h_next = _tanh_(xp, c_next.copy())
    h_next *= o
    return h_next, c_next


def _lstm_vjp(node, grads):
    grad_h, grad_c = grads[0], grads[1]
    input_gates, hidden_gates, c = node.inputs
    needs = node.needs_grad
    if not grad_mode.state.enabled:  # first order: the fused kernel
        _, c_next, activations = node.outs
        grad_gates, grad_c_prev = LSTM_CELL_BACKWARD(grad_h, grad_c, activations, c, c_next)
    else:
        grad_gates, grad_c_prev = _lstm_backward_composite(
            grad_h, grad_c, input_gates + hidden_gates, c
        )
    return (
        grad_gates if needs[0] else None,
        grad_gates if needs[1] else None,
        grad_c_prev if needs[2] else None,
    )


def _lstm_backward_composite(grad_h, grad_c, gates, c):
    """The backward formula in differentiable ops (create_graph)."""
    size = c.shape[1]
    i, f, o = (_columns(gates, k, size).sigmoid() for k in (0, 1, 3))
    g = _columns(gates, 2, size).tanh()
    tanh_c = (f * c + i * g).tanh()
    grad_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
    grad_gates = CAT(
        grad_c * g * i * (1 - i),
        grad_c * c * f * (1 - f),
        grad_c * i * (1 - g * g),
        grad_h * tanh_c * o * (1 - o),
        dim=1,
    )
    return grad_gates, grad_c * f


LSTM_CELL = define(
    "lstm_cell",
    meta=_lstm_meta,
    kernel=_lstm_kernel,
    vjp=_lstm_vjp,
    family="library",
    save_outputs=True,
    num_outputs=3,
    nondiff_outputs=frozenset({2}),
    doc="One LSTM step from its gate pre-activations (i, f, g, o): returns (h', c', "
    "activated gates).",
)


def _lstm_backward_meta(grad_h, grad_c, activations, c, c_next):
    batch, hidden = _check("lstm_cell_backward", activations, 4, c)
    return Spec((batch, 4 * hidden), c.dtype), Spec((batch, hidden), c.dtype)


def _lstm_backward_kernel(xp, grad_h, grad_c, activations, c, c_next):
    """dc = grad_c + grad_h o (1 - tanh(c')^2); pre-activation grads: di = dc g i (1 - i),
    df = dc c f (1 - f), dg = dc i (1 - g^2), do = grad_h tanh(c') o (1 - o); dc_prev = dc f."""
    dtype, size = c.dtype, c.shape[1]
    grad_h, grad_c, c, activations = _wide(grad_h), _wide(grad_c), _wide(c), _wide(activations)
    i, f, g, o = (activations[:, k * size : (k + 1) * size] for k in range(4))
    tanh_c = _tanh_(xp, _wide(c_next).copy())
    grad_c_next = tanh_c * tanh_c
    xp.subtract(1.0, grad_c_next, out=grad_c_next)
    grad_c_next *= o
    grad_c_next *= grad_h
    grad_c_next += grad_c
    # the activations' derivatives: s (1 - s) for the sigmoid blocks, 1 - g^2 for g
    derivative = activations * activations
    xp.subtract(activations, derivative, out=derivative)
    derivative_g = derivative[:, 2 * size : 3 * size]
    xp.multiply(g, g, out=derivative_g)
    xp.subtract(1.0, derivative_g, out=derivative_g)
    grad_gates = xp.empty_like(derivative)
    for k, (left, right) in enumerate(((grad_c_next, g), (grad_c_next, c), (grad_c_next, i))):
        xp.multiply(left, right, out=grad_gates[:, k * size : (k + 1) * size])
    xp.multiply(grad_h, tanh_c, out=grad_gates[:, 3 * size :])
    grad_gates *= derivative
    grad_c_next *= f
    return grad_gates.astype(dtype, copy=False), grad_c_next.astype(dtype, copy=False)


LSTM_CELL_BACKWARD = define(
    "lstm_cell_backward",
    meta=_lstm_backward_meta,
    kernel=_lstm_backward_kernel,
    vjp=None,
    family="library",
    num_outputs=2,
    differentiable=False,
    doc="(grad of the gate pre-activations, grad of c) of lstm_cell, from its activated gates.",
)


# ----- GRU -----------------------------------------------------------------------------------
def _gru_meta(input_gates, hidden_gates, h, hidden_bias):
    batch, hidden = _check("gru_cell", input_gates, 3, h, hidden_gates, hidden_bias)
    return Spec((batch, hidden), h.dtype), Spec((batch, 4 * hidden), h.dtype)


def _gru_kernel(xp, input_gates, hidden_gates, h, hidden_bias):
    dtype, (batch, size) = h.dtype, h.shape
    h, input_gates, hidden_gates = _wide(h), _wide(input_gates), _wide(hidden_gates)
    if hidden_bias is not None:
        hidden_gates = hidden_gates + _wide(hidden_bias)
    activations = xp.empty((batch, 4 * size), dtype=h.dtype)  # r, z, n, hidden_n
    reset_update, n, hidden_n = (
        activations[:, : 2 * size],
        activations[:, 2 * size : 3 * size],
        activations[:, 3 * size :],
    )
    xp.add(input_gates[:, : 2 * size], hidden_gates[:, : 2 * size], out=reset_update)
    _sigmoid_(xp, reset_update)
    hidden_n[...] = hidden_gates[:, 2 * size :]
    xp.multiply(reset_update[:, :size], hidden_n, out=n)
    n += input_gates[:, 2 * size :]
    _tanh_(xp, n)
    h_next = h - n
    h_next *= reset_update[:, size:]
    h_next += n
    return h_next.astype(dtype, copy=False), activations.astype(dtype, copy=False)


def _gru_vjp(node, grads):
    grad_h = grads[0]
    input_gates, hidden_gates, h, hidden_bias = node.inputs
    needs = node.needs_grad
    if not grad_mode.state.enabled:  # first order: the fused kernel
        activations = node.outs[1]
        grad_input, grad_hidden, grad_h_prev, grad_bias = GRU_CELL_BACKWARD(
            grad_h, activations, h, has_bias=hidden_bias is not None
        )
    else:
        if hidden_bias is not None:
            hidden_gates = hidden_gates + hidden_bias
        grad_input, grad_hidden, grad_h_prev = _gru_backward_composite(
            grad_h, input_gates, hidden_gates, h
        )
        grad_bias = grad_hidden.sum(0) if hidden_bias is not None else None
    return (
        grad_input if needs[0] else None,
        grad_hidden if needs[1] else None,
        grad_h_prev if needs[2] else None,
        grad_bias if needs[3] else None,
    )


def _gru_backward_composite(grad_h, input_gates, hidden_gates, h):
    """The backward formula in differentiable ops (create_graph)."""
    size = h.shape[1]
    reset, update = (
        (_columns(input_gates, k, size) + _columns(hidden_gates, k, size)).sigmoid() for k in (0, 1)
    )
    hidden_n = _columns(hidden_gates, 2, size)
    n = (_columns(input_gates, 2, size) + reset * hidden_n).tanh()
    grad_n = grad_h * (1 - update) * (1 - n * n)
    grad_reset = grad_n * hidden_n * reset * (1 - reset)
    grad_update = grad_h * (h - n) * update * (1 - update)
    grad_input = CAT(grad_reset, grad_update, grad_n, dim=1)
    grad_hidden = CAT(grad_reset, grad_update, grad_n * reset, dim=1)
    return grad_input, grad_hidden, grad_h * update


GRU_CELL = define(
    "gru_cell",
    meta=_gru_meta,
    kernel=_gru_kernel,
    vjp=_gru_vjp,
    family="library",
    save_outputs=True,
    num_outputs=2,
    nondiff_outputs=frozenset({1}),
    doc="One GRU step from x W_ih^T + b_ih and h W_hh^T (+ b_hh): returns (h', "
    "activations r, z, n, hidden_n).",
)


def _gru_backward_meta(grad_h, activations, h, has_bias):
    batch, hidden = _check("gru_cell_backward", activations, 4, h)
    gates = Spec((batch, 3 * hidden), h.dtype)
    bias = Spec((3 * hidden,) if has_bias else (), h.dtype)
    return gates, gates, Spec((batch, hidden), h.dtype), bias


def _gru_backward_kernel(xp, grad_h, activations, h, has_bias):
    """dn = grad_h (1 - z) (1 - n^2), dr = dn hidden_n r (1 - r), dz = grad_h (h - n) z (1 - z);
    grad input gates (dr, dz, dn), grad hidden gates (dr, dz, dn r), dh_prev = grad_h z."""
    dtype, (batch, size) = h.dtype, h.shape
    grad_h, h, activations = _wide(grad_h), _wide(h), _wide(activations)
    reset, update, n, hidden_n = (activations[:, k * size : (k + 1) * size] for k in range(4))
    grad_input = xp.empty((batch, 3 * size), dtype=h.dtype)
    grad_reset, grad_update, grad_n = (grad_input[:, k * size : (k + 1) * size] for k in range(3))
    reset_update = activations[:, : 2 * size]
    derivative = reset_update * reset_update  # both sigmoid derivatives at once: s (1 - s)
    xp.subtract(reset_update, derivative, out=derivative)
    xp.multiply(n, n, out=grad_n)
    xp.subtract(1.0, grad_n, out=grad_n)
    grad_n *= grad_h
    grad_n -= grad_n * update
    xp.subtract(h, n, out=grad_update)
    grad_update *= grad_h
    grad_update *= derivative[:, size:]
    xp.multiply(grad_n, hidden_n, out=grad_reset)
    grad_reset *= derivative[:, :size]
    grad_hidden = grad_input.copy()
    grad_hidden[:, 2 * size :] *= reset
    grad_h_prev = grad_h * update
    bias = grad_hidden.sum(0) if has_bias else xp.zeros((), dtype=h.dtype)
    return (
        grad_input.astype(dtype, copy=False),
        grad_hidden.astype(dtype, copy=False),
        grad_h_prev.astype(dtype, copy=False),
        bias.astype(dtype, copy=False),
    )


GRU_CELL_BACKWARD = define(
    "gru_cell_backward",
    meta=_gru_backward_meta,
    kernel=_gru_backward_kernel,
    vjp=None,
    family="library",
    num_outputs=4,
    differentiable=False,
    doc="(grad input gates, grad hidden gates, grad h (direct path), grad hidden bias) of "
    "gru_cell; the bias grad is a 0-d zero without a bias.",
)


# ----- whole sequences -----------------------------------------------------------------------
# lstm_sequence(projected, h0, c0, w_hh, reverse) -> (output, h_n, c_n, activations, cells)
# gru_sequence(projected, h0, w_hh, b_hh, reverse) -> (output, h_n, activations)
#
# One layer and direction over a padded batch as one op: projected (T, B, gates) = x W_ih^T + b
# for every step, the time loop runs inside the kernel (one matmul and the cell's arithmetic per
# step), and the backward kernel walks back the same way and computes the weight gradient as
# ONE (gates, T B) x (T B, H) matmul instead of one small matmul and one add per step. This is
# what makes eager recurrent layers about as fast as torch's; the cells above serve packed
# batches of shrinking size, proj_size and the Cell modules. The activations (T, B, gates') and
# LSTM's cells c_1..c_T (T, B, H) are kept for the backward and are not differentiable.


def _steps(count: int, reverse: bool):
    return range(count - 1, -1, -1) if reverse else range(count)


def _previous(values, first, t: int, reverse: bool):
    """The state before step t: values[t -/+ 1], or the initial state at the first step."""
    before = t + 1 if reverse else t - 1
    return first if before < 0 or before >= len(values) else values[before]


def _weight_grad(xp, grad_gates, output, h0, reverse: bool):
    """sum over t of grad_gates[t]^T h_{t-1} (gates, H): one matmul over all later steps."""
    steps, _, gates = grad_gates.shape
    first = steps - 1 if reverse else 0
    grad = xp.dot(grad_gates[first].T, h0)
    if steps > 1:
        later = grad_gates[:-1] if reverse else grad_gates[1:]
        previous = output[1:] if reverse else output[:-1]
        grad += xp.dot(later.reshape(-1, gates).T, previous.reshape(-1, previous.shape[-1]))
    return grad


def _check_sequence(name, projected, gate_count, h0, w_hh, c0=None, b_hh=None):
    if len(projected.shape) != 3:
        raise RuntimeError(
            f"{name}: expected projected inputs of 3 dims (steps, batch, gates), got "
            f"{tuple(projected.shape)}"
        )
    step = Spec(tuple(projected.shape[1:]), projected.dtype)
    batch, hidden = _check(name, step, gate_count, h0, None, b_hh)
    steps = projected.shape[0]
    if c0 is not None and tuple(c0.shape) != tuple(h0.shape):
        raise RuntimeError(f"{name}: expected c0 of shape {tuple(h0.shape)}, got {c0.shape}")
    if tuple(w_hh.shape) != (gate_count * hidden, hidden) or w_hh.dtype is not h0.dtype:
        raise RuntimeError(
            f"{name}: expected w_hh of shape ({gate_count * hidden}, {hidden}) and dtype "
            f"{h0.dtype.name}, got {tuple(w_hh.shape)} {w_hh.dtype.name}"
        )
    return steps, batch, hidden


def _recomputed_grads(run, inputs: tuple, grads: tuple, needs: tuple) -> tuple:
    """create_graph: the gradients through the step-by-step cells, recomputed from the inputs
    in differentiable ops, so that they can be differentiated again."""
    from ..autograd import enable_grad, grad

    wanted = [value for value, need in zip(inputs, needs) if need]
    with enable_grad():
        outputs = run(*inputs)
    found = iter(grad(outputs, wanted, grads, create_graph=True, allow_unused=True))
    return tuple(next(found) if need else None for need in needs)


# LSTM
def _lstm_sequence_meta(projected, h0, c0, w_hh, reverse):
    steps, batch, hidden = _check_sequence("lstm_sequence", projected, 4, h0, w_hh, c0)
    states = Spec((steps, batch, hidden), h0.dtype)
    state = Spec((batch, hidden), h0.dtype)
    return states, state, state, Spec(tuple(projected.shape), h0.dtype), states


def _lstm_sequence_kernel(xp, projected, h0, c0, w_hh, reverse):
    dtype, (steps, batch, _), hidden = h0.dtype, projected.shape, h0.shape[1]
    projected, h, c = _wide(projected), _wide(h0), _wide(c0)
    w_hh_t = xp.ascontiguousarray(_wide(w_hh).T)  # (H, 4H) row-major: the faster gemm layout
    activations = xp.empty(projected.shape, dtype=h.dtype)
    output = xp.empty((steps, batch, hidden), dtype=h.dtype)
    cells = xp.empty_like(output)
    for t in _steps(steps, reverse):
        gates = activations[t]
        xp.dot(h, w_hh_t, out=gates)
        gates += projected[t]
        h, c = _lstm_activate(xp, gates, c)
        output[t], cells[t] = h, c
    values = (output, h, c, activations, cells)
    return tuple(value.astype(dtype, copy=False) for value in values)


def _lstm_sequence_vjp(node, grads):
    projected, h0, c0, w_hh = node.inputs
    reverse = node.attrs["reverse"]
    if grad_mode.state.enabled:
        return _recomputed_grads(
            lambda *inputs: _lstm_sequence_composite(*inputs, reverse),
            (projected, h0, c0, w_hh),
            grads[:3],
            node.needs_grad,
        )
    output, _, _, activations, cells = node.outs
    result = LSTM_SEQUENCE_BACKWARD(
        *grads[:3], activations, cells, output, h0, c0, w_hh, reverse=reverse
    )
    return tuple(value if need else None for value, need in zip(result, node.needs_grad))


def _lstm_sequence_composite(projected, h0, c0, w_hh, reverse):
    from .linalg import MATMUL

    w_hh_t, h, c = w_hh.t(), h0, c0
    outputs = [None] * projected.shape[0]
    for t in _steps(len(outputs), reverse):
        h, c, _ = LSTM_CELL(projected[t], MATMUL(h, w_hh_t), c)
        outputs[t] = h.unsqueeze(0)
    return CAT(*outputs, dim=0), h, c


LSTM_SEQUENCE = define(
    "lstm_sequence",
    meta=_lstm_sequence_meta,
    kernel=_lstm_sequence_kernel,
    vjp=_lstm_sequence_vjp,
    family="library",
    save_outputs=True,
    num_outputs=5,
    nondiff_outputs=frozenset({3, 4}),
    eager_check=True,
    doc="One LSTM layer and direction over (T, B, 4H) projected inputs: returns (output, h_n, "
    "c_n, activations, cells).",
)


def _lstm_sequence_backward_meta(
    grad_output, grad_h, grad_c, activations, cells, output, h0, c0, w_hh, reverse
):
    return (
        Spec(tuple(activations.shape), h0.dtype),
        Spec(tuple(h0.shape), h0.dtype),
        Spec(tuple(c0.shape), h0.dtype),
        Spec(tuple(w_hh.shape), h0.dtype),
    )


def _lstm_sequence_backward_kernel(
    xp, grad_output, grad_h, grad_c, activations, cells, output, h0, c0, w_hh, reverse
):
    """Back through time: per step the cell's backward and grad_h = grad_gates W_hh; then the
    weight gradient as one matmul. Returns (grad projected, grad h0, grad c0, grad w_hh)."""
    dtype = h0.dtype
    grad_output, grad_h, grad_c = _wide(grad_output), _wide(grad_h), _wide(grad_c)
    activations, cells, output = _wide(activations), _wide(cells), _wide(output)
    h0, c0, w_hh = _wide(h0), _wide(c0), _wide(w_hh)
    grad_gates = xp.empty_like(activations)
    for t in _steps(len(activations), not reverse):
        grad_h = grad_h + grad_output[t]
        c_prev = _previous(cells, c0, t, reverse)
        grad_gates[t], grad_c = _lstm_backward_kernel(
            xp, grad_h, grad_c, activations[t], c_prev, cells[t]
        )
        grad_h = xp.dot(grad_gates[t], w_hh)
    grad_w_hh = _weight_grad(xp, grad_gates, output, h0, reverse)
    values = (grad_gates, grad_h, grad_c, grad_w_hh)
    return tuple(value.astype(dtype, copy=False) for value in values)


LSTM_SEQUENCE_BACKWARD = define(
    "lstm_sequence_backward",
    meta=_lstm_sequence_backward_meta,
    kernel=_lstm_sequence_backward_kernel,
    vjp=None,
    family="library",
    num_outputs=4,
    differentiable=False,
    doc="(grad projected, grad h0, grad c0, grad w_hh) of lstm_sequence.",
)


# GRU
def _gru_sequence_meta(projected, h0, w_hh, b_hh, reverse):
    steps, batch, hidden = _check_sequence("gru_sequence", projected, 3, h0, w_hh, None, b_hh)
    return (
        Spec((steps, batch, hidden), h0.dtype),
        Spec((batch, hidden), h0.dtype),
        Spec((steps, batch, 4 * hidden), h0.dtype),
    )


def _gru_sequence_kernel(xp, projected, h0, w_hh, b_hh, reverse):
    dtype, (steps, batch, _), hidden = h0.dtype, projected.shape, h0.shape[1]
    projected, h = _wide(projected), _wide(h0)
    w_hh_t = xp.ascontiguousarray(_wide(w_hh).T)
    activations = xp.empty((steps, batch, 4 * hidden), dtype=h.dtype)
    output = xp.empty((steps, batch, hidden), dtype=h.dtype)
    for t in _steps(steps, reverse):
        h, activations[t] = _gru_kernel(xp, projected[t], xp.dot(h, w_hh_t), h, b_hh)
        output[t] = h
    return tuple(value.astype(dtype, copy=False) for value in (output, h, activations))


def _gru_sequence_vjp(node, grads):
    projected, h0, w_hh, b_hh = node.inputs
    reverse = node.attrs["reverse"]
    if grad_mode.state.enabled:
        return _recomputed_grads(
            lambda *inputs: _gru_sequence_composite(*inputs, reverse),
            (projected, h0, w_hh, b_hh),
            grads[:2],
            node.needs_grad,
        )
    output, _, activations = node.outs
    result = GRU_SEQUENCE_BACKWARD(
        *grads[:2], activations, output, h0, w_hh, reverse=reverse, has_bias=b_hh is not None
    )
    return tuple(value if need else None for value, need in zip(result, node.needs_grad))


def _gru_sequence_composite(projected, h0, w_hh, b_hh, reverse):
    from .linalg import MATMUL

    w_hh_t, h = w_hh.t(), h0
    outputs = [None] * projected.shape[0]
    for t in _steps(len(outputs), reverse):
        h = GRU_CELL(projected[t], MATMUL(h, w_hh_t), h, b_hh)[0]
        outputs[t] = h.unsqueeze(0)
    return CAT(*outputs, dim=0), h


GRU_SEQUENCE = define(
    "gru_sequence",
    meta=_gru_sequence_meta,
    kernel=_gru_sequence_kernel,
    vjp=_gru_sequence_vjp,
    family="library",
    save_outputs=True,
    num_outputs=3,
    nondiff_outputs=frozenset({2}),
    eager_check=True,
    doc="One GRU layer and direction over (T, B, 3H) projected inputs x W_ih^T + b_ih: returns "
    "(output, h_n, activations).",
)


def _gru_sequence_backward_meta(
    grad_output, grad_h, activations, output, h0, w_hh, reverse, has_bias
):
    steps, batch, hidden = output.shape
    return (
        Spec((steps, batch, 3 * hidden), h0.dtype),
        Spec(tuple(h0.shape), h0.dtype),
        Spec(tuple(w_hh.shape), h0.dtype),
        Spec((3 * hidden,) if has_bias else (), h0.dtype),
    )


def _gru_sequence_backward_kernel(
    xp, grad_output, grad_h, activations, output, h0, w_hh, reverse, has_bias
):
    """Back through time: per step the cell's backward and grad_h = direct + grad_hidden W_hh;
    then the weight and bias gradients over all steps at once."""
    dtype, (steps, batch, hidden) = h0.dtype, output.shape
    grad_output, grad_h, activations = _wide(grad_output), _wide(grad_h), _wide(activations)
    output, h0, w_hh = _wide(output), _wide(h0), _wide(w_hh)
    grad_input = xp.empty((steps, batch, 3 * hidden), dtype=h0.dtype)
    grad_hidden = xp.empty_like(grad_input)
    for t in _steps(steps, not reverse):
        grad_h = grad_h + grad_output[t]
        h_prev = _previous(output, h0, t, reverse)
        grad_input[t], grad_hidden[t], grad_direct, _ = _gru_backward_kernel(
            xp, grad_h, activations[t], h_prev, False
        )
        grad_h = grad_direct
        grad_h += xp.dot(grad_hidden[t], w_hh)
    grad_w_hh = _weight_grad(xp, grad_hidden, output, h0, reverse)
    bias = grad_hidden.sum((0, 1)) if has_bias else xp.zeros((), dtype=h0.dtype)
    values = (grad_input, grad_h, grad_w_hh, bias)
    return tuple(value.astype(dtype, copy=False) for value in values)


GRU_SEQUENCE_BACKWARD = define(
    "gru_sequence_backward",
    meta=_gru_sequence_backward_meta,
    kernel=_gru_sequence_backward_kernel,
    vjp=None,
    family="library",
    num_outputs=4,
    differentiable=False,
    doc="(grad projected, grad h0, grad w_hh, grad b_hh) of gru_sequence; the bias grad is a 0-d "
    "zero without a bias.",
)
