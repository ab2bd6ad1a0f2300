"""Recurrent layers against torch: RNN, LSTM, GRU and their cells through the layer harness,
packed sequences (outputs, final states and gradients), the nn.utils.rnn functions, default
initialisation, dropout between layers, and the errors for bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as torch_rnn

import qilin
import qilin.nn as qnn
import qilin.nn.utils.rnn as qilin_rnn

from .layer_harness import (
    LayerSpec,
    build_pair,
    check_forward_backward,
    check_repr,
    check_state_dict,
)


def _with_state(nn, layer):
    """The layer called as layer(x, (h, c)): the harness passes inputs one by one."""

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, input, h, c):
            return self.layer(input, (h, c))

    return WithState()


SPECS = [
    # RNN
    LayerSpec("RNN", lambda nn: nn.RNN(4, 5), [(6, 3, 4)]),
    LayerSpec("RNN_relu_2layers_hx", lambda nn: nn.RNN(4, 5, 2, "relu"), [(6, 3, 4), (2, 3, 5)]),
    LayerSpec(
        "RNN_bidirectional_batch_first",
        lambda nn: nn.RNN(4, 5, bidirectional=True, batch_first=True),
        [(3, 6, 4), (2, 3, 5)],
    ),
    LayerSpec("RNN_nobias", lambda nn: nn.RNN(4, 5, bias=False, nonlinearity="relu"), [(6, 3, 4)]),
    LayerSpec("RNN_unbatched", lambda nn: nn.RNN(4, 5, 2), [(6, 4), (2, 5)]),
    LayerSpec("RNN_unbatched_nohx", lambda nn: nn.RNN(4, 5, batch_first=True), [(6, 4)]),
    # LSTM
    LayerSpec("LSTM", lambda nn: nn.LSTM(4, 5), [(6, 3, 4)]),
    LayerSpec(
        "LSTM_2layers_bidirectional_state",
        lambda nn: _with_state(nn, nn.LSTM(4, 5, 2, bidirectional=True)),
        [(6, 3, 4), (4, 3, 5), (4, 3, 5)],
    ),
    LayerSpec(
        "LSTM_proj_state",
        lambda nn: _with_state(nn, nn.LSTM(4, 6, proj_size=3)),
        [(5, 2, 4), (1, 2, 3), (1, 2, 6)],
    ),
    LayerSpec(
        "LSTM_proj_2layers_bidirectional_batch_first_nobias",
        lambda nn: nn.LSTM(4, 6, 2, bias=False, batch_first=True, bidirectional=True, proj_size=2),
        [(3, 5, 4)],
    ),
    LayerSpec(
        "LSTM_unbatched_state",
        lambda nn: _with_state(nn, nn.LSTM(4, 5, 2)),
        [(6, 4), (2, 5), (2, 5)],
    ),
    LayerSpec("LSTM_unbatched", lambda nn: nn.LSTM(4, 5, batch_first=True), [(6, 4)]),
    LayerSpec(
        "LSTM_dropout_eval",
        lambda nn: nn.LSTM(4, 5, 3, dropout=0.5),
        [(6, 3, 4)],
        random=True,
    ),
    # GRU
    LayerSpec("GRU", lambda nn: nn.GRU(4, 5), [(6, 3, 4)]),
    LayerSpec(
        "GRU_2layers_bidirectional_hx",
        lambda nn: nn.GRU(4, 5, 2, bidirectional=True),
        [(6, 3, 4), (4, 3, 5)],
    ),
    LayerSpec(
        "GRU_batch_first_nobias", lambda nn: nn.GRU(4, 5, bias=False, batch_first=True), [(3, 6, 4)]
    ),
    LayerSpec("GRU_unbatched", lambda nn: nn.GRU(4, 5), [(6, 4), (1, 5)]),
    LayerSpec(
        "GRU_dropout_eval", lambda nn: nn.GRU(4, 5, 2, dropout=0.3), [(6, 3, 4)], random=True
    ),
    # cells
    LayerSpec("RNNCell", lambda nn: nn.RNNCell(4, 5), [(3, 4), (3, 5)]),
    LayerSpec("RNNCell_relu_nobias", lambda nn: nn.RNNCell(4, 5, False, "relu"), [(3, 4), (3, 5)]),
    LayerSpec("RNNCell_nohx", lambda nn: nn.RNNCell(4, 5), [(3, 4)]),
    LayerSpec("RNNCell_unbatched", lambda nn: nn.RNNCell(4, 5), [(4,), (5,)]),
    LayerSpec("LSTMCell", lambda nn: _with_state(nn, nn.LSTMCell(4, 5)), [(3, 4), (3, 5), (3, 5)]),
    LayerSpec("LSTMCell_nohx", lambda nn: nn.LSTMCell(4, 5, bias=False), [(3, 4)]),
    LayerSpec(
        "LSTMCell_unbatched", lambda nn: _with_state(nn, nn.LSTMCell(4, 5)), [(4,), (5,), (5,)]
    ),
    LayerSpec("GRUCell", lambda nn: nn.GRUCell(4, 5), [(3, 4), (3, 5)]),
    LayerSpec("GRUCell_nohx_nobias", lambda nn: nn.GRUCell(4, 5, bias=False), [(3, 4)]),
    LayerSpec("GRUCell_unbatched", lambda nn: nn.GRUCell(4, 5), [(4,), (5,)]),
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward(spec):
    check_forward_backward(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_state_dict(spec):
    check_state_dict(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr(spec):
    check_repr(spec)


# ----- packed sequences through the layers -----------------------------------------------------
PACKED_LAYERS = [
    lambda nn: nn.RNN(3, 4, 2, bidirectional=True),
    lambda nn: nn.LSTM(3, 4, 2, bidirectional=True),
    lambda nn: nn.LSTM(3, 5, proj_size=2, bidirectional=True),
    lambda nn: nn.GRU(3, 4, 2),
    lambda nn: nn.GRU(3, 4, bidirectional=True),
]


def _flat_states(hidden) -> list:
    return list(hidden) if isinstance(hidden, tuple) else [hidden]


@pytest.mark.parametrize("index", range(len(PACKED_LAYERS)))
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequence_matches_torch(index, with_state, enforce_sorted):
    reference, ours = build_pair(LayerSpec("packed", PACKED_LAYERS[index]))
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(index)
    padded = rng.standard_normal((5, 4, 3))
    states = [
        rng.standard_normal(tuple(h.shape))
        for h in _flat_states(reference(torch.tensor(padded))[1])
    ]
    results = []
    for lib, layer, rnn in ((torch, reference, torch_rnn), (qilin, ours, qilin_rnn)):
        leaves = [lib.tensor(a, requires_grad=True) for a in [padded, *states]]
        packed = rnn.pack_padded_sequence(leaves[0], lengths, enforce_sorted=enforce_sorted)
        hx = None
        if with_state:
            hx = tuple(leaves[1:]) if len(leaves) == 3 else leaves[1]
        output, hidden = layer(packed, hx)
        assert isinstance(output, rnn.PackedSequence)
        unpacked, out_lengths = rnn.pad_packed_sequence(output)
        outputs = [output.data, unpacked, *_flat_states(hidden)]
        cotangent_rng = np.random.default_rng(7)
        loss = sum(
            (o * lib.tensor(cotangent_rng.standard_normal(tuple(o.shape)))).sum() for o in outputs
        )
        loss.backward()
        grads = [leaf.grad for leaf in leaves[: 1 + (len(states) if with_state else 0)]]
        grads += [p.grad for p in layer.parameters()]
        results.append((outputs, out_lengths.tolist(), grads))
    (expected, expected_lengths, expected_grads), (mine, my_lengths, my_grads) = results
    assert my_lengths == expected_lengths
    for what, theirs_list, mine_list in (
        ("output", expected, mine),
        ("grad", expected_grads, my_grads),
    ):
        for position, (theirs, value) in enumerate(zip(theirs_list, mine_list)):
            np.testing.assert_allclose(
                value.detach().numpy(),
                theirs.detach().numpy(),
                rtol=1e-7,
                atol=1e-10,
                err_msg=f"{what} {position}",
            )


def test_packed_final_state_is_each_sequences_last_step():
    layer = qnn.GRU(2, 3)
    sequences = [qilin.randn(length, 2) for length in (4, 2, 3)]
    packed = qilin_rnn.pack_sequence(sequences, enforce_sorted=False)
    _, hidden = layer(packed)
    for position, sequence in enumerate(sequences):
        _, alone = layer(sequence)
        np.testing.assert_allclose(
            hidden[:, position].detach().numpy(), alone.detach().numpy(), rtol=1e-6
        )


# ----- nn.utils.rnn functions ------------------------------------------------------------------
def _sequences(lengths, trailing=(2,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *trailing)) for n in lengths]


def _both(arrays, lib):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _compare_with_grads(build, arrays, seed=3):
    """build(lib, rnn, tensors) -> tensor; compares it and the grads of `arrays` with torch."""
    values = []
    for lib, rnn in ((torch, torch_rnn), (qilin, qilin_rnn)):
        tensors = _both(arrays, lib)
        result = build(lib, rnn, tensors)
        cotangent = np.random.default_rng(seed).standard_normal(tuple(result.shape))
        (result * lib.tensor(cotangent)).sum().backward()
        values.append((result.detach().numpy(), [t.grad.numpy() for t in tensors]))
    (expected, expected_grads), (mine, my_grads) = values
    np.testing.assert_allclose(mine, expected)
    for theirs, grad in zip(expected_grads, my_grads):
        np.testing.assert_allclose(grad, theirs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_side):
    _compare_with_grads(
        lambda lib, rnn, seqs: rnn.pad_sequence(
            seqs, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side
        ),
        _sequences([3, 5, 1], trailing=(2, 3)),
    )


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_padded_sequence(batch_first, enforce_sorted):
    lengths = [4, 3, 1] if enforce_sorted else [3, 4, 1]
    shape = (3, 4, 2) if batch_first else (4, 3, 2)

    def build(lib, rnn, tensors):
        packed = rnn.pack_padded_sequence(tensors[0], lengths, batch_first, enforce_sorted)
        assert packed.batch_sizes.tolist() == [3, 2, 2, 1]
        if not enforce_sorted:
            assert packed.sorted_indices.tolist() == [1, 0, 2]
            assert packed.unsorted_indices.tolist() == [1, 0, 2]
        return packed.data

    _compare_with_grads(build, [np.random.default_rng(1).standard_normal(shape)])


@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_packed_sequence(batch_first):
    def build(lib, rnn, tensors):
        packed = rnn.pack_sequence(tensors, enforce_sorted=False)
        padded, lengths = rnn.pad_packed_sequence(
            packed, batch_first=batch_first, padding_value=2.0, total_length=6
        )
        assert lengths.tolist() == [2, 5, 3] and lengths.dtype == lib.int64
        return padded

    _compare_with_grads(build, _sequences([2, 5, 3]))


def test_unpack_and_unpad_sequence_give_back_the_sequences():
    arrays = _sequences([2, 5, 3], trailing=())
    sequences = [qilin.tensor(a) for a in arrays]
    packed = qilin_rnn.pack_sequence(sequences, enforce_sorted=False)
    for got, array in zip(qilin_rnn.unpack_sequence(packed), arrays):
        np.testing.assert_array_equal(got.numpy(), array)
    padded = qilin_rnn.pad_sequence(sequences, batch_first=True)
    lengths = qilin.tensor([2, 5, 3])
    for got, array in zip(qilin_rnn.unpad_sequence(padded, lengths, batch_first=True), arrays):
        np.testing.assert_array_equal(got.numpy(), array)
    torch_packed = torch_rnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), torch_packed.data.numpy())
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), torch_packed.batch_sizes.numpy())


def test_packed_sequence_is_a_namedtuple():
    packed = qilin_rnn.pack_sequence([qilin.ones(2, 1), qilin.ones(1, 1)])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == torch_rnn.PackedSequence._fields
    assert sorted_indices is None and unsorted_indices is None
    assert packed.double().data.dtype == qilin.float64
    assert qilin_rnn.PackedSequence(data, batch_sizes).batch_sizes is batch_sizes
    assert qnn.utils.rnn.pad_sequence is qilin_rnn.pad_sequence


def test_pack_errors():
    x = qilin.zeros(5, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        qilin_rnn.pack_padded_sequence(x, [3, 5, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        qilin_rnn.pack_padded_sequence(x, [5, 3, 0])
    with pytest.raises(RuntimeError, match="equal to batch_size, but got 2"):
        qilin_rnn.pack_padded_sequence(x, [5, 3])
    with pytest.raises(RuntimeError, match="exceeds the 5 time steps"):
        qilin_rnn.pack_padded_sequence(x, [6, 3, 1])
    packed = qilin_rnn.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 5"):
        qilin_rnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(RuntimeError, match="one of left or right, but got top"):
        qilin_rnn.pad_sequence([x], padding_side="top")
    with pytest.raises(RuntimeError, match="empty list"):
        qilin_rnn.pad_sequence([])


# ----- initialisation, dropout, weights --------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda nn: nn.LSTM(30, 40, 2, bidirectional=True, proj_size=10),
        lambda nn: nn.GRU(30, 40),
        lambda nn: nn.RNN(30, 40),
        lambda nn: nn.LSTMCell(30, 40),
        lambda nn: nn.GRUCell(30, 40),
    ],
)
def test_default_init_is_uniform_in_one_over_sqrt_hidden(build):
    qilin.manual_seed(0)
    layer = build(qnn)
    bound = 1 / math.sqrt(40)
    values = np.concatenate([p.detach().numpy().ravel() for p in layer.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    # a uniform sample: quantiles on the straight line, variance bound^2 / 3
    quantiles = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
    np.testing.assert_allclose(
        quantiles, bound * np.array([-0.8, -0.5, 0, 0.5, 0.8]), atol=0.08 * bound
    )
    assert values.var() == pytest.approx(bound**2 / 3, rel=0.08)
    assert all(p.dtype == qilin.float32 for p in layer.parameters())


def test_dropout_between_layers_only_in_training():
    qilin.manual_seed(0)
    layer = qnn.LSTM(4, 5, 2, dropout=0.5)
    x = qilin.randn(6, 3, 4)
    first, second = layer(x)[0], layer(x)[0]
    assert not np.allclose(first.detach().numpy(), second.detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].detach().numpy(), layer(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="dropout=0.5 and num_layers=1"):
        qnn.GRU(4, 5, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qnn.GRU(4, 5, 2, dropout=0.5)


@pytest.mark.parametrize(
    "build",
    [
        lambda nn: nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2),
        lambda nn: nn.GRU(3, 4, bias=False),
    ],
)
def test_weights_lists_match_torch(build):
    reference, ours = build_pair(LayerSpec("weights", build))
    assert ours._flat_weights_names == reference._flat_weights_names
    assert [[tuple(w.shape) for w in group] for group in ours.all_weights] == [
        [tuple(w.shape) for w in group] for group in reference.all_weights
    ]
    assert all(w.dtype == qilin.float64 for group in ours.all_weights for w in group)
    ours.flatten_parameters()


def test_float32_layer_and_float32_states():
    layer = qnn.LSTM(4, 5)
    output, (h, c) = layer(qilin.randn(3, 2, 4))
    assert output.dtype == h.dtype == c.dtype == qilin.float32
    assert tuple(output.shape) == (3, 2, 5) and tuple(h.shape) == (1, 2, 5)


# ----- errors ----------------------------------------------------------------------------------
def _raises(kind, match, call):
    with pytest.raises(kind, match=match):
        call()


def test_layer_input_errors():
    gru, lstm = qnn.GRU(4, 5), qnn.LSTM(4, 5)
    x = qilin.randn(6, 3, 4)
    _raises(
        RuntimeError,
        r"input.size\(-1\) must be equal to input_size. Expected 4, got 3",
        lambda: gru(qilin.randn(6, 3, 3)),
    )
    _raises(
        RuntimeError,
        r"Expected hidden size \(1, 3, 5\), got \[2, 3, 5\]",
        lambda: gru(x, qilin.zeros(2, 3, 5)),
    )
    _raises(
        RuntimeError,
        r"Expected hidden\[1\] size \(1, 3, 5\), got \[1, 2, 5\]",
        lambda: lstm(x, (qilin.zeros(1, 3, 5), qilin.zeros(1, 2, 5))),
    )
    _raises(ValueError, "GRU: Expected input to be 2D or 3D, got 4D", lambda: gru(x[None]))
    _raises(RuntimeError, "hx should also be 3-D but got 2-D", lambda: gru(x, qilin.zeros(3, 5)))
    _raises(
        RuntimeError,
        r"hx and cx should also be 2-D but got \(3-D, 2-D\)",
        lambda: lstm(x[0], (qilin.zeros(1, 1, 5), qilin.zeros(1, 5))),
    )
    _raises(ValueError, "does not match weight dtype", lambda: gru(x.double()))


def test_cell_input_errors():
    cell = qnn.LSTMCell(4, 5)
    _raises(
        RuntimeError, "inconsistent input_size: got 3 expected 4", lambda: cell(qilin.randn(2, 3))
    )
    _raises(
        RuntimeError,
        "Input batch size 2 doesn't match hidden0 batch size 3",
        lambda: cell(qilin.randn(2, 4), (qilin.zeros(3, 5), qilin.zeros(3, 5))),
    )
    _raises(
        RuntimeError,
        "hidden1 has inconsistent hidden_size: got 6, expected 5",
        lambda: cell(qilin.randn(2, 4), (qilin.zeros(2, 5), qilin.zeros(2, 6))),
    )
    _raises(
        ValueError,
        "GRUCell: Expected input to be 1D or 2D, got 3D",
        lambda: qnn.GRUCell(4, 5)(qilin.randn(1, 2, 4)),
    )


def test_constructor_errors():
    _raises(ValueError, "only supported for LSTM", lambda: qnn.GRU(4, 5, proj_size=2))
    _raises(
        ValueError,
        "proj_size has to be smaller than hidden_size",
        lambda: qnn.LSTM(4, 5, proj_size=5),
    )
    _raises(ValueError, "Unknown nonlinearity 'gelu'", lambda: qnn.RNN(4, 5, nonlinearity="gelu"))
    _raises(ValueError, "dropout should be a number in range", lambda: qnn.LSTM(4, 5, dropout=1.5))
    _raises(TypeError, "hidden_size should be of type int, got: float", lambda: qnn.GRU(4, 5.0))
    _raises(ValueError, "num_layers must be greater than zero", lambda: qnn.GRU(4, 5, 0))


# ----- the fused paths (qilin/ops/recurrent.py) -------------------------------------------------
FUSED_LAYERS = [
    lambda nn: nn.LSTM(3, 4, 2, bidirectional=True),
    lambda nn: nn.GRU(3, 4, bidirectional=True),
    lambda nn: nn.GRU(3, 4, bias=False),
    lambda nn: nn.LSTM(3, 4, proj_size=2),  # step by step: lstm_cell
]


@pytest.mark.parametrize("index", range(len(FUSED_LAYERS)))
def test_double_backward_matches_torch(index):
    """A gradient penalty, |d<out, w>/dx|^2, differentiated with respect to the parameters:
    second derivatives through the sequence and cell ops' create_graph rules."""
    reference, ours = build_pair(LayerSpec("double", FUSED_LAYERS[index]))
    rng = np.random.default_rng(index)
    values, weights = rng.standard_normal((5, 2, 3)), None
    results = []
    for lib, layer in ((torch, reference), (qilin, ours)):
        x = lib.tensor(values, requires_grad=True)
        output, _ = layer(x)
        if weights is None:
            weights = rng.standard_normal(tuple(output.shape))
        (grad_x,) = lib.autograd.grad((output * lib.tensor(weights)).sum(), x, create_graph=True)
        (grad_x**2).sum().backward()
        results.append([p.grad.numpy() for p in layer.parameters()] + [x.grad.numpy()])
    for position, (theirs, mine) in enumerate(zip(*results)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-10, err_msg=f"grad {position}")


@pytest.mark.parametrize("index", range(3))
def test_sequence_op_matches_step_by_step_cells(index, monkeypatch):
    """The whole-sequence ops and the per-step cell loop (packed batches, proj_size) agree."""
    import qilin.nn.modules.rnn as rnn

    layer = FUSED_LAYERS[index](qnn).double()
    x = qilin.tensor(np.random.default_rng(index).standard_normal((6, 3, 3)))
    results = []
    for sequences in (rnn._SEQUENCES, ()):
        monkeypatch.setattr(rnn, "_SEQUENCES", sequences)
        layer.zero_grad()
        output, hidden = layer(x)
        (output.sum() + sum(h.sum() for h in _flat_states(hidden))).backward()
        results.append([output, *_flat_states(hidden), *(p.grad for p in layer.parameters())])
    for ours, cells in zip(*results):
        np.testing.assert_allclose(ours.detach().numpy(), cells.detach().numpy(), rtol=1e-10)


def _graph_size(tensor) -> int:
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(child for child, _ in node.next_functions)
    return len(seen)


@pytest.mark.parametrize("build", [lambda: qnn.LSTM(3, 4, 2), lambda: qnn.GRU(3, 4)])
def test_padded_batch_graph_does_not_grow_with_length(build):
    """Over a padded batch each layer is one autograd node, whatever the number of steps (the
    eager speed of recurrent layers depends on it)."""
    layer = build()
    sizes = [_graph_size(layer(qilin.randn(steps, 2, 3))[0]) for steps in (2, 9)]
    assert sizes[0] == sizes[1]


def test_saturated_gates_stay_finite_and_quiet():
    """Pre-activations far outside exp's range (sigmoid via exp overflows to inf: the result
    must still be exact 0 / 1, without NumPy warnings)."""
    layer = qnn.LSTM(2, 3)
    with qilin.no_grad():
        for weight in layer.parameters():
            weight.fill_(50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output, (h, c) = layer(qilin.tensor([[[-40.0, -40.0]], [[40.0, 40.0]]]))
    assert np.isfinite(output.detach().numpy()).all() and np.isfinite(c.detach().numpy()).all()
