"""Specs for the fused recurrent cells (qilin/ops/recurrent.py) and their first-order backward
kernels.

The references are the cell formulas in NumPy and in torch ops (chunks, sigmoid, tanh), so they
share no code with the fused kernels; torch's autograd through its formula checks the first and
second derivatives (the latter go through the vjp's composite path)."""

import numpy as np
import pytest

import qilin
from qilin.ops.recurrent import (
    GRU_CELL,
    GRU_CELL_BACKWARD,
    GRU_SEQUENCE,
    GRU_SEQUENCE_BACKWARD,
    LSTM_CELL,
    LSTM_CELL_BACKWARD,
    LSTM_SEQUENCE,
    LSTM_SEQUENCE_BACKWARD,
)

from .harness import Arg, OpSpec, make_tests, torch


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ----- LSTM ----------------------------------------------------------------------------------
def _numpy_lstm(input_gates, hidden_gates, c):
    i, f, g, o = np.split(input_gates + hidden_gates, 4, axis=1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c_next), c_next


def _torch_lstm(lib, input_gates, hidden_gates, c):
    i, f, g, o = (input_gates + hidden_gates).chunk(4, 1)
    c_next = lib.sigmoid(f) * c + lib.sigmoid(i) * lib.tanh(g)
    return lib.sigmoid(o) * lib.tanh(c_next), c_next


def _lstm(lib, input_gates, hidden_gates, c):
    return LSTM_CELL(input_gates, hidden_gates, c)[:2]


def _lstm_sample(batch, hidden, **kwargs):
    gates = (batch, 4 * hidden)
    return (Arg(gates, **kwargs), Arg(gates, **kwargs), Arg((batch, hidden)))


LSTM_SAMPLES = [
    _lstm_sample(3, 2),
    _lstm_sample(1, 3, low=-6, high=6),  # saturated gates
    (Arg((2, 8)), Arg((2, 8), grad=False), Arg((2, 2), grad=False)),
]


def _numpy_lstm_backward(grad_h, grad_c, input_gates, hidden_gates, c):
    i, f, g, o = (
        a if k == 2 else _sigmoid(a)
        for k, a in enumerate(np.split(input_gates + hidden_gates, 4, axis=1))
    )
    g = np.tanh(g)
    tanh_c = np.tanh(f * c + i * g)
    dc = grad_c + grad_h * o * (1 - tanh_c**2)
    gates = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * c * f * (1 - f),
            dc * i * (1 - g**2),
            grad_h * tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    return gates, dc * f


def _torch_lstm_backward(lib, grad_h, grad_c, input_gates, hidden_gates, c):
    gates = (input_gates + hidden_gates).detach().requires_grad_(True)
    c = c.detach().requires_grad_(True)
    h_next, c_next = _torch_lstm(lib, gates, 0, c)
    return lib.autograd.grad((h_next, c_next), (gates, c), (grad_h, grad_c))


def _lstm_backward(lib, grad_h, grad_c, input_gates, hidden_gates, c):
    _, c_next, activations = LSTM_CELL(input_gates, hidden_gates, c)
    return LSTM_CELL_BACKWARD(grad_h, grad_c, activations, c, c_next)


# ----- GRU -----------------------------------------------------------------------------------
def _numpy_gru(input_gates, hidden_gates, h, bias):
    if bias is not None:
        hidden_gates = hidden_gates + bias
    x_r, x_z, x_n = np.split(input_gates, 3, axis=1)
    h_r, h_z, h_n = np.split(hidden_gates, 3, axis=1)
    r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _torch_gru(lib, input_gates, hidden_gates, h, bias):
    if bias is not None:
        hidden_gates = hidden_gates + bias
    x_r, x_z, x_n = input_gates.chunk(3, 1)
    h_r, h_z, h_n = hidden_gates.chunk(3, 1)
    r, z = lib.sigmoid(x_r + h_r), lib.sigmoid(x_z + h_z)
    n = lib.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _gru(lib, input_gates, hidden_gates, h, bias):
    return GRU_CELL(input_gates, hidden_gates, h, bias)[0]


GRU_SAMPLES = [
    (Arg((3, 6)), Arg((3, 6)), Arg((3, 2)), Arg((6,))),
    (Arg((2, 9)), Arg((2, 9)), Arg((2, 3)), None),
    (Arg((1, 6), low=-6, high=6), Arg((1, 6), low=-6, high=6), Arg((1, 2)), Arg((6,))),
    (Arg((2, 6), grad=False), Arg((2, 6)), Arg((2, 2), grad=False), Arg((6,), grad=False)),
]


def _numpy_gru_backward(grad_h, input_gates, hidden_gates, h, bias):
    if bias is not None:
        hidden_gates = hidden_gates + bias
    x_r, x_z, x_n = np.split(input_gates, 3, axis=1)
    h_r, h_z, h_n = np.split(hidden_gates, 3, axis=1)
    r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    dn = grad_h * (1 - z) * (1 - n**2)
    dr = dn * h_n * r * (1 - r)
    dz = grad_h * (h - n) * z * (1 - z)
    hidden = np.concatenate([dr, dz, dn * r], axis=1)
    bias_grad = hidden.sum(0) if bias is not None else np.zeros((), h.dtype)
    return np.concatenate([dr, dz, dn], axis=1), hidden, grad_h * z, bias_grad


def _torch_gru_backward(lib, grad_h, input_gates, hidden_gates, h, bias):
    leaves = [t.detach().requires_grad_(True) for t in (input_gates, hidden_gates, h)]
    if bias is not None:
        # the hidden gates' grad is taken after the bias is added, as the kernel gives it
        leaves[1] = (leaves[1] + bias).detach().requires_grad_(True)
    h_next = _torch_gru(lib, *leaves, None)
    grad_input, grad_hidden, grad_direct = lib.autograd.grad(h_next, leaves, grad_h)
    bias_grad = grad_hidden.sum(0) if bias is not None else lib.zeros((), dtype=h.dtype)
    return grad_input, grad_hidden, grad_direct, bias_grad


def _gru_backward(lib, grad_h, input_gates, hidden_gates, h, bias):
    activations = GRU_CELL(input_gates, hidden_gates, h, bias)[1]
    return GRU_CELL_BACKWARD(grad_h, activations, h, has_bias=bias is not None)


def _with_grads(sample, count):
    state = sample[2]
    return tuple(Arg(state.shape) for _ in range(count)) + sample


SPECS = [
    OpSpec(
        "lstm_cell",
        _lstm,
        LSTM_SAMPLES,
        ref=_numpy_lstm,
        torch_call=_torch_lstm,
        name="lstm_cell_h_c",
    ),
    OpSpec(
        "lstm_cell",
        lambda lib, *args: _lstm(lib, *args)[0],
        LSTM_SAMPLES[:2],
        ref=lambda *args: _numpy_lstm(*args)[0],
        torch_call=lambda lib, *args: _torch_lstm(lib, *args)[0],
        name="lstm_cell_h_only",
    ),
    OpSpec(
        "lstm_cell",
        lambda lib, *args: _lstm(lib, *args)[1],
        LSTM_SAMPLES[:2],
        ref=lambda *args: _numpy_lstm(*args)[1],
        torch_call=lambda lib, *args: _torch_lstm(lib, *args)[1],
        name="lstm_cell_c_only",
    ),
    OpSpec(
        "lstm_cell_backward",
        _lstm_backward,
        [_with_grads(sample, 2) for sample in LSTM_SAMPLES[:2]],
        ref=_numpy_lstm_backward,
        torch_call=_torch_lstm_backward,
        grad=False,
    ),
    OpSpec("gru_cell", _gru, GRU_SAMPLES, ref=_numpy_gru, torch_call=_torch_gru),
    OpSpec(
        "gru_cell_backward",
        _gru_backward,
        [_with_grads(sample, 1) for sample in GRU_SAMPLES[:3]],
        ref=_numpy_gru_backward,
        torch_call=_torch_gru_backward,
        grad=False,
    ),
]


# ----- whole sequences: the references loop over the steps with the cell formulas -------------
def _torch_lstm_sequence(lib, projected, h, c, w_hh, reverse):
    outputs = [None] * projected.shape[0]
    for t in reversed(range(len(outputs))) if reverse else range(len(outputs)):
        h, c = _torch_lstm(lib, projected[t], h @ w_hh.T, c)
        outputs[t] = h
    return lib.stack(outputs), h, c


def _numpy_lstm_sequence(projected, h, c, w_hh, reverse):
    outputs = [None] * projected.shape[0]
    for t in reversed(range(len(outputs))) if reverse else range(len(outputs)):
        h, c = _numpy_lstm(projected[t], h @ w_hh.T, c)
        outputs[t] = h
    return np.stack(outputs), h, c


def _lstm_sequence(lib, *args):
    *inputs, reverse = args
    return LSTM_SEQUENCE(*inputs, reverse=reverse)[:3]


def _torch_gru_sequence(lib, projected, h, w_hh, b_hh, reverse):
    outputs = [None] * projected.shape[0]
    for t in reversed(range(len(outputs))) if reverse else range(len(outputs)):
        h = _torch_gru(lib, projected[t], h @ w_hh.T, h, b_hh)
        outputs[t] = h
    return lib.stack(outputs), h


def _numpy_gru_sequence(projected, h, w_hh, b_hh, reverse):
    outputs = [None] * projected.shape[0]
    for t in reversed(range(len(outputs))) if reverse else range(len(outputs)):
        h = _numpy_gru(projected[t], h @ w_hh.T, h, b_hh)
        outputs[t] = h
    return np.stack(outputs), h


def _gru_sequence(lib, *args):
    *inputs, reverse = args
    return GRU_SEQUENCE(*inputs, reverse=reverse)[:2]


def _sequence_grads(torch_sequence, lib, grads, inputs):
    """torch's gradients of its step-by-step sequence (the backward kernels' reference)."""
    *inputs, reverse = inputs
    leaves = [t.detach().requires_grad_(True) if t is not None else None for t in inputs]
    outputs = torch_sequence(lib, *leaves, reverse)
    wanted = [t for t in leaves if t is not None]
    found = iter(lib.autograd.grad(outputs, wanted, grads))
    return tuple(
        next(found) if t is not None else lib.zeros((), dtype=inputs[0].dtype) for t in leaves
    )


def _lstm_sequence_backward(lib, grad_output, grad_h, grad_c, *inputs):
    *tensors, reverse = inputs
    output, _, _, activations, cells = LSTM_SEQUENCE(*tensors, reverse=reverse)
    projected, h0, c0, w_hh = tensors
    return LSTM_SEQUENCE_BACKWARD(
        grad_output, grad_h, grad_c, activations, cells, output, h0, c0, w_hh, reverse=reverse
    )


def _gru_sequence_backward(lib, grad_output, grad_h, *inputs):
    *tensors, reverse = inputs
    output, _, activations = GRU_SEQUENCE(*tensors, reverse=reverse)
    projected, h0, w_hh, b_hh = tensors
    return GRU_SEQUENCE_BACKWARD(
        grad_output,
        grad_h,
        activations,
        output,
        h0,
        w_hh,
        reverse=reverse,
        has_bias=b_hh is not None,
    )


LSTM_SEQUENCE_SAMPLES = [
    (Arg((3, 2, 8)), Arg((2, 2)), Arg((2, 2)), Arg((8, 2), low=-1, high=1), False),
    (Arg((4, 1, 12)), Arg((1, 3)), Arg((1, 3)), Arg((12, 3), low=-1, high=1), True),
    (Arg((1, 2, 8)), Arg((2, 2), grad=False), Arg((2, 2)), Arg((8, 2), grad=False), False),
]
GRU_SEQUENCE_SAMPLES = [
    (Arg((3, 2, 6)), Arg((2, 2)), Arg((6, 2), low=-1, high=1), Arg((6,)), False),
    (Arg((4, 1, 9)), Arg((1, 3)), Arg((9, 3), low=-1, high=1), None, True),
    (Arg((2, 2, 6)), Arg((2, 2), grad=False), Arg((6, 2), grad=False), Arg((6,)), True),
]


def _sequence_grad_sample(sample, state_grads):
    projected = sample[0].shape
    steps, batch, gates = projected
    hidden = sample[1].shape[1]
    return (Arg((steps, batch, hidden)),) + (Arg((batch, hidden)),) * state_grads + sample


SPECS += [
    OpSpec(
        "lstm_sequence",
        _lstm_sequence,
        LSTM_SEQUENCE_SAMPLES,
        ref=_numpy_lstm_sequence,
        torch_call=_torch_lstm_sequence,
    ),
    OpSpec(
        "lstm_sequence",
        lambda lib, *args: _lstm_sequence(lib, *args)[0],
        LSTM_SEQUENCE_SAMPLES[:2],
        ref=lambda *args: _numpy_lstm_sequence(*args)[0],
        torch_call=lambda lib, *args: _torch_lstm_sequence(lib, *args)[0],
        name="lstm_sequence_output_only",
    ),
    OpSpec(
        "lstm_sequence_backward",
        _lstm_sequence_backward,
        [_sequence_grad_sample(sample, 2) for sample in LSTM_SEQUENCE_SAMPLES],
        torch_call=lambda lib, g, gh, gc, *inputs: _sequence_grads(
            _torch_lstm_sequence, lib, (g, gh, gc), inputs
        ),
        grad=False,
    ),
    OpSpec(
        "gru_sequence",
        _gru_sequence,
        GRU_SEQUENCE_SAMPLES,
        ref=_numpy_gru_sequence,
        torch_call=_torch_gru_sequence,
    ),
    OpSpec(
        "gru_sequence_backward",
        _gru_sequence_backward,
        [_sequence_grad_sample(sample, 1) for sample in GRU_SEQUENCE_SAMPLES],
        torch_call=lambda lib, g, gh, *inputs: _sequence_grads(
            _torch_gru_sequence, lib, (g, gh), inputs
        ),
        grad=False,
    ),
]


make_tests(SPECS, globals())


# ----- what a spec cannot state ----------------------------------------------------------------
def test_activations_are_not_differentiable():
    gates = qilin.randn(2, 8, requires_grad=True)
    h, c, activations = LSTM_CELL(gates, gates, qilin.randn(2, 2))
    assert h.requires_grad and c.requires_grad and not activations.requires_grad
    h, activations = GRU_CELL(gates[:, :6], gates[:, 2:], qilin.randn(2, 2), None)
    assert h.requires_grad and not activations.requires_grad


def test_first_order_backward_is_one_op():
    """Backward through a cell applies only its fused backward kernel (the point of fusing)."""
    applied = []
    original = LSTM_CELL_BACKWARD.kernel

    def counting(*args, **kwargs):
        applied.append("lstm_cell_backward")
        return original(*args, **kwargs)

    gates = qilin.randn(2, 8, requires_grad=True)
    h, c, _ = LSTM_CELL(gates, qilin.randn(2, 8), qilin.randn(2, 2))
    LSTM_CELL_BACKWARD.kernel = counting
    try:
        (h.sum() + c.sum()).backward()
    finally:
        LSTM_CELL_BACKWARD.kernel = original
    assert applied == ["lstm_cell_backward"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: LSTM_CELL(qilin.ones(2, 8), qilin.ones(2, 8), qilin.ones(2, 3)), r"\(2, 12\)"),
        (lambda: LSTM_CELL(qilin.ones(2, 8), qilin.ones(3, 8), qilin.ones(2, 2)), "hidden gates"),
        (
            lambda: LSTM_CELL(qilin.ones(2, 8), qilin.ones(2, 8), qilin.ones(2, 2).double()),
            "dtype",
        ),
        (
            lambda: GRU_CELL(qilin.ones(2, 6), qilin.ones(2, 6), qilin.ones(2, 2), qilin.ones(4)),
            "hidden bias",
        ),
    ],
)
def test_bad_shapes_and_dtypes(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
def test_float16_computes_in_float32():
    values = np.random.default_rng(0).standard_normal((3, 8))
    ours = LSTM_CELL(*(qilin.tensor(values, dtype=qilin.float16),) * 2, qilin.zeros(3, 2).half())
    expected = _numpy_lstm(values, values, np.zeros((3, 2)))
    for got, want in zip(ours[:2], expected):
        assert got.dtype == qilin.float16
        np.testing.assert_allclose(got.float().numpy(), want, atol=2e-3)
