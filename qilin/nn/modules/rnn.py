"""Recurrent layers: RNN, LSTM and GRU (stacked, bidirectional, over padded or packed batches)
and their single-step cells, with torch's parameter names, gate order and initialisation.

Speed: each layer and direction projects the inputs of all time steps with one matmul
(x W_ih^T + b: (rows, gates)), so the loop over time does only h W_hh^T and the gate arithmetic.
LSTM and GRU over a padded batch (without proj_size) then run as one op per layer and direction
(qilin/ops/recurrent.py: the time loop inside its kernel, the weight gradient one matmul). Other
cases walk the packed layout (time-major rows, `batch_sizes[t]` rows at step t) step by step,
one matmul and one fused cell op per step; a padded batch is the packed one whose batch sizes
are all equal, so one loop serves both.
"""

from __future__ import annotations

import math
import numbers
import warnings

import qilin

from ...errors import located
from ...ops.linalg import MATMUL
from ...ops.movement import SPLIT
from ...ops.recurrent import GRU_CELL, GRU_SEQUENCE, LSTM_CELL, LSTM_SEQUENCE
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ----- one time step ---------------------------------------------------------------------------
# step(projected, state, w_hh_t, b_hh, w_hr_t) -> new state; state[0] is the output h.
# projected: (B, gates) = x W_ih^T + b_ih (+ b_hh where it can be folded in); w_hh_t: W_hh^T.
# LSTM and GRU steps are one matmul and one fused cell op each way (qilin/ops/recurrent.py).


def _tanh_step(projected, state, w_hh_t, b_hh, w_hr_t):
    return ((projected + MATMUL(state[0], w_hh_t)).tanh(),)


def _relu_step(projected, state, w_hh_t, b_hh, w_hr_t):
    return ((projected + MATMUL(state[0], w_hh_t)).relu(),)


def _lstm_step(projected, state, w_hh_t, b_hh, w_hr_t):
    """Gates i, f, g, o: c' = f c + i g, h' = o tanh(c') (then h' W_hr^T with proj_size)."""
    h, c = state
    h, c, _ = LSTM_CELL(projected, MATMUL(h, w_hh_t), c)
    if w_hr_t is not None:
        h = MATMUL(h, w_hr_t)
    return h, c


def _gru_step(projected, state, w_hh_t, b_hh, w_hr_t):
    """Gates r, z, n: n = tanh(x_n + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""
    (h,) = state
    return (GRU_CELL(projected, MATMUL(h, w_hh_t), h, b_hh)[0],)


# mode -> (gates per hidden unit, step, whether b_hh can be added to the projected input)
_MODES = {
    "RNN_TANH": (1, _tanh_step, True),
    "RNN_RELU": (1, _relu_step, True),
    "LSTM": (4, _lstm_step, True),
    "GRU": (3, _gru_step, False),
}


def _run_direction(step, projected, batch_sizes, initial, weights, reverse: bool):
    """Walk one direction over packed rows. projected: (rows, gates); initial: state tensors
    (B, *). Returns the output rows (rows, H_out) and the state after each sequence's last
    real step (B, *). Sequences are sorted longest first, so the running batch shrinks going
    forward (finished rows are set aside) and grows going backward (new rows join with their
    initial state)."""
    step_rows = SPLIT(projected, sizes=tuple(batch_sizes), dim=0)  # views, one op each way
    outputs = [None] * len(batch_sizes)
    size = batch_sizes[-1] if reverse else batch_sizes[0]
    state = initial if size == initial[0].shape[0] else tuple(s[:size] for s in initial)
    finished = []  # forward: states of rows [n, size) that ended, largest rows first
    for t in reversed(range(len(batch_sizes))) if reverse else range(len(batch_sizes)):
        count = batch_sizes[t]
        if count > size:
            state = tuple(qilin.cat([s, s0[size:count]]) for s, s0 in zip(state, initial))
        elif count < size:
            pieces = [SPLIT(s, sizes=(count, size - count), dim=0) for s in state]
            finished.append(tuple(piece[1] for piece in pieces))
            state = tuple(piece[0] for piece in pieces)
        size = count
        state = step(step_rows[t], state, *weights)
        outputs[t] = state[0]
    if finished:
        state = tuple(qilin.cat([s, *pieces[::-1]]) for s, *pieces in zip(state, *finished))
    output = outputs[0] if len(outputs) == 1 else qilin.cat(outputs)
    return output, state


def _run_sequence(mode: str, projected, steps: int, initial, w_hh, b_hh, reverse: bool):
    """One direction over a padded batch with a whole-sequence op (no loop here): projected
    (rows, gates) -> output rows (rows, H) and the final state (B, *)."""
    batch = initial[0].shape[0]
    projected = projected.reshape((steps, batch, projected.shape[-1]))
    if mode == "LSTM":
        output, h, c, _, _ = LSTM_SEQUENCE(projected, *initial, w_hh, reverse=reverse)
        final = (h, c)
    else:
        output, h, _ = GRU_SEQUENCE(projected, initial[0], w_hh, b_hh, reverse=reverse)
        final = (h,)
    return output.reshape((steps * batch, output.shape[-1])), final


# modes whose layers run a padded batch (without proj_size) as one op per layer and direction
_SEQUENCES = ("LSTM", "GRU")


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by RNN, LSTM and GRU.

    Parameters per layer l and direction (suffix "" or "_reverse"), in torch's order:
    weight_ih_l{l} (gates*H, in), weight_hh_l{l} (gates*H, H_out), bias_ih_l{l}, bias_hh_l{l}
    (gates*H,), and with proj_size weight_hr_l{l} (proj_size, H); all ~ U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise located(ValueError(f"Unrecognized RNN mode: {mode}"))
        _check_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        if proj_size < 0:
            raise located(
                ValueError("proj_size should be a positive integer or zero to disable projections")
            )
        if proj_size >= hidden_size:
            raise located(ValueError("proj_size has to be smaller than hidden_size"))
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._all_weights = []
        self._flat_weights_names = []
        self._make_parameters(device, dtype)
        self.reset_parameters()

    def _make_parameters(self, device, dtype) -> None:
        gate_size = _MODES[self.mode][0] * self.hidden_size
        output_size = self.proj_size or self.hidden_size
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else output_size * directions
            for direction in range(directions):
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, output_size),
                }
                if self.bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, self.hidden_size)
                suffix = "_reverse" if direction else ""
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(qilin.empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._all_weights.append(names)
                self._flat_weights_names.extend(names)

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op: torch packs the weights into one buffer for cuDNN; NumPy needs nothing."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters, one list per layer and direction."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text

    # ----- forward ---------------------------------------------------------------------------
    def forward(self, input, hx=None):
        """input (T, B, in) ((B, T, in) with batch_first; (T, in) unbatched) or a
        PackedSequence -> (output, h_n); LSTM's hidden state is the pair (h, c)."""
        state_count = 2 if self.mode == "LSTM" else 1
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            batch_sizes = batch_sizes.tolist()
            self._check_input(data, 2)
            if hx is not None:  # the caller's batch order -> longest first
                hx = _states(hx, state_count)
                if sorted_indices is not None:
                    hx = tuple(h.index_select(1, sorted_indices) for h in hx)
        else:
            data, hx, batched = self._prepare_padded(input, hx, state_count)
            steps, batch = data.shape[0], data.shape[1]
            batch_sizes = [batch] * steps
            data = data.reshape((steps * batch, data.shape[2]))
        hx = self._initial_state(data, batch_sizes[0], hx, state_count)
        output, hidden = self._run_layers(data, batch_sizes, hx)
        if packed:
            if unsorted_indices is not None:
                hidden = tuple(h.index_select(1, unsorted_indices) for h in hidden)
            output = PackedSequence(output, input.batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = output.reshape((steps, batch, output.shape[-1]))
            if self.batch_first:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(0 if self.batch_first else 1)
                hidden = tuple(h.squeeze(1) for h in hidden)
        return output, hidden if state_count == 2 else hidden[0]

    def _prepare_padded(self, input, hx, state_count: int):
        """Checks dims, adds the batch dim of unbatched input, and makes the input time-major."""
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(self.mode, self.mode)
        if input.ndim not in (2, 3):
            raise located(
                ValueError(
                    f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead"
                )
            )
        batched = input.ndim == 3
        if hx is not None:
            states = _states(hx, state_count)
            expected = 3 if batched else 2
            if any(h.ndim != expected for h in states):
                raise located(RuntimeError(_hidden_dims_message(states, batched)))
            if not batched:
                states = tuple(h.unsqueeze(1) for h in states)
            hx = states
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        self._check_input(input, 3)
        if self.batch_first:
            input = input.transpose(0, 1)
        return input, hx, batched

    def _check_input(self, input, dims: int) -> None:
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise located(
                ValueError(
                    f"RNN input dtype ({input.dtype}) does not match weight dtype "
                    f"({weight.dtype}). Convert input: input.to({weight.dtype}), or convert "
                    f"model: model.to({input.dtype})"
                )
            )
        if input.ndim != dims:
            raise located(RuntimeError(f"input must have {dims} dimensions, got {input.ndim}"))
        if input.shape[-1] != self.input_size:
            raise located(
                RuntimeError(
                    f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                    f"got {input.shape[-1]}"
                )
            )

    def _initial_state(self, data, batch: int, hx, state_count: int) -> tuple:
        directions = 2 if self.bidirectional else 1
        layers = self.num_layers * directions
        sizes = [self.proj_size or self.hidden_size, self.hidden_size][:state_count]
        if hx is None:
            return tuple(data.new_zeros((layers, batch, size)) for size in sizes)
        for index, (h, size) in enumerate(zip(hx, sizes)):
            expected = (layers, batch, size)
            if tuple(h.shape) != expected:
                what = "hidden" if state_count == 1 else f"hidden[{index}]"
                raise located(RuntimeError(f"Expected {what} size {expected}, got {list(h.shape)}"))
        return hx

    def _run_layers(self, data, batch_sizes: list, hx: tuple):
        """data: packed rows (rows, in); hx: state tensors (layers * directions, B, *)."""
        _, step, fold_bias = _MODES[self.mode]
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = self.all_weights[index]
                w_ih, w_hh = weights[0], weights[1]
                b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
                w_hr_t = weights[-1].t() if self.proj_size else None
                if fold_bias and b_ih is not None:
                    b_ih, b_hh = b_ih + b_hh, None
                projected = F.linear(data, w_ih, b_ih)  # every step at once: (rows, gates)
                initial = tuple(h[index] for h in hx)
                reverse, padded = direction == 1, min(batch_sizes) == batch_sizes[0]
                if self.mode in _SEQUENCES and w_hr_t is None and padded:
                    output, final = _run_sequence(
                        self.mode, projected, len(batch_sizes), initial, w_hh, b_hh, reverse
                    )
                else:
                    output, final = _run_direction(
                        step, projected, batch_sizes, initial, (w_hh.t(), b_hh, w_hr_t), reverse
                    )
                outputs.append(output)
                finals.append(final)
            data = outputs[0] if directions == 1 else qilin.cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        hidden = tuple(qilin.stack([final[k] for final in finals]) for k in range(len(hx)))
        return data, hidden


def _states(hx, count: int) -> tuple:
    return tuple(hx) if count == 2 else (hx,)


def _hidden_dims_message(states, batched: bool) -> str:
    kind, dims = ("batched 3-D", "3-D") if batched else ("unbatched 2-D", "2-D")
    if len(states) == 1:
        return f"For {kind} input, hx should also be {dims} but got {states[0].ndim}-D tensor"
    got = ", ".join(f"{h.ndim}-D" for h in states)
    return f"For {kind} input, hx and cx should also be {dims} but got ({got}) tensors"


def _check_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout) -> None:
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1
    ):
        raise located(
            ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )
    for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool)):
        if not isinstance(value, kind):
            raise located(TypeError(f"{name} should be of type bool, got: {type(value).__name__}"))
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise located(TypeError(f"{name} should be of type int, got: {type(value).__name__}"))
        if value <= 0:
            raise located(ValueError(f"{name} must be greater than zero"))
    if num_layers <= 0:
        raise located(ValueError("num_layers must be greater than zero"))


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    num_layers deep; forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise located(
                ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            )
        if len(args) > 3:
            nonlinearity, args = args[3], args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise located(
                ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
            )
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,
    c_t = f c_{t-1} + i g, h_t = o tanh(c_t) (h_t W_hr^T with proj_size);
    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigmoid(x W_i{r,z}^T + b + h W_h{r,z}^T + b),
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h_t = (1 - z) n + z h_{t-1};
    forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise located(
                ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            )
        super().__init__("GRU", *args, **kwargs)


# ----- cells -----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One time step: weight_ih (gates*H, in), weight_hh (gates*H, H), bias_ih, bias_hh
    (gates*H,), all ~ U(-1/sqrt(H), 1/sqrt(H))."""

    _mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(qilin.empty((gates, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(qilin.empty((gates, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(qilin.empty(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(qilin.empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def _step(self, input, hx, state_count: int):
        """Checks, adds the batch dim of unbatched input, runs one step."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise located(
                ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
            )
        states = () if hx is None else _states(hx, state_count)
        for index, h in enumerate(states):
            if h.ndim not in (1, 2):
                what = "hidden" if state_count == 1 else f"hx[{index}]"
                raise located(
                    ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D instead")
                )
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
            states = tuple(h.unsqueeze(0) for h in states)
        if input.shape[1] != self.input_size:
            raise located(
                RuntimeError(
                    f"input has inconsistent input_size: got {input.shape[1]} expected "
                    f"{self.input_size}"
                )
            )
        if hx is None:
            states = (input.new_zeros((input.shape[0], self.hidden_size)),) * state_count
        for index, h in enumerate(states):
            _check_cell_state(h, index, input.shape[0], self.hidden_size)
        _, step, fold_bias = _MODES[self._mode]
        b_ih, b_hh = self.bias_ih, self.bias_hh
        if fold_bias and b_ih is not None:
            b_ih, b_hh = b_ih + b_hh, None
        projected = F.linear(input, self.weight_ih, b_ih)
        result = step(projected, states, self.weight_hh.t(), b_hh, None)
        if not batched:
            result = tuple(h.squeeze(0) for h in result)
        return result if state_count == 2 else result[0]


def _check_cell_state(h, index: int, batch: int, hidden_size: int) -> None:
    if h.shape[0] != batch:
        raise located(
            RuntimeError(
                f"Input batch size {batch} doesn't match hidden{index} batch size {h.shape[0]}"
            )
        )
    if h.shape[1] != hidden_size:
        raise located(
            RuntimeError(
                f"hidden{index} has inconsistent hidden_size: got {h.shape[1]}, expected "
                f"{hidden_size}"
            )
        )


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); forward(input, hx=None) -> h'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise located(
                ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
            )
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx=None):
        return self._step(input, hx, 1)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); forward(input, (h, c)=None) -> (h', c')."""

    _mode = "LSTM"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, 2)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n); forward(input, hx=None) -> h'."""

    _mode = "GRU"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, 1)
