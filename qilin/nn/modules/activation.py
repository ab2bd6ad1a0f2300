"""Activation layers: each one calls its nn.functional twin and carries only its settings."""

from __future__ import annotations

from ... import empty
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = [
    "Threshold",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Hardswish",
    "Hardsigmoid",
    "Hardtanh",
    "Softplus",
    "Softsign",
    "Tanh",
    "Sigmoid",
    "LogSigmoid",
    "Softmax",
    "LogSoftmax",
    "Softmin",
    "GLU",
]


def _inplace_suffix(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _InplaceActivation(Module):
    """An activation whose only setting is `inplace`; `function` is its functional twin."""

    function = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).function(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _PlainActivation(Module):
    """An activation without settings."""

    function = None

    def forward(self, input):
        return type(self).function(input)


class Threshold(Module):
    """y = x where x > threshold, value otherwise."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class ReLU(_InplaceActivation):
    """y = max(x, 0)."""

    function = F.relu


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val)."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value=None,
        max_value=None,
    ) -> None:
        super().__init__()
        # min_value / max_value are torch's deprecated spellings; they win when given
        self.min_val = min_val if min_value is None else min_value
        self.max_val = max_val if max_value is None else max_value
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise ValueError(
                f"Hardtanh: expected max_val > min_val, got min_val={self.min_val}, "
                f"max_val={self.max_val}"
            )

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """y = x for x >= 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class PReLU(Module):
    """y = x for x >= 0, a * x otherwise, with a learnt: one weight, or one per channel
    (num_parameters = C of an (N, C, *) input); weight (num_parameters,) starts at `init`."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class _AlphaActivation(Module):
    function = None

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return type(self).function(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class ELU(_AlphaActivation):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    function = F.elu


class CELU(_AlphaActivation):
    """y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    function = F.celu


class SELU(_InplaceActivation):
    """y = scale * (max(0, x) + min(0, alpha * (exp(x) - 1))), alpha ~ 1.6733, scale ~ 1.0507."""

    function = F.selu


class GELU(Module):
    """y = x * Phi(x) with Phi the standard normal CDF; approximate='tanh' uses
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceActivation):
    """y = x * sigmoid(x)."""

    function = F.silu


class Mish(_InplaceActivation):
    """y = x * tanh(softplus(x))."""

    function = F.mish


class Hardswish(_InplaceActivation):
    """y = x * relu6(x + 3) / 6."""

    function = F.hardswish

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_InplaceActivation):
    """y = relu6(x + 3) / 6."""

    function = F.hardsigmoid

    def extra_repr(self) -> str:
        return ""


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(_PlainActivation):
    """y = x / (1 + |x|)."""

    function = F.softsign


class Tanh(_PlainActivation):
    """y = tanh(x)."""

    function = F.tanh


class Sigmoid(_PlainActivation):
    """y = 1 / (1 + exp(-x))."""

    function = F.sigmoid


class LogSigmoid(_PlainActivation):
    """y = log(1 / (1 + exp(-x)))."""

    function = F.logsigmoid


class _SoftmaxFamily(Module):
    function = None

    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self).function(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxFamily):
    """y_i = exp(x_i) / sum_j exp(x_j) along `dim`."""

    function = F.softmax


class LogSoftmax(_SoftmaxFamily):
    """y_i = x_i - log(sum_j exp(x_j)) along `dim`."""

    function = F.log_softmax


class Softmin(_SoftmaxFamily):
    """y_i = exp(-x_i) / sum_j exp(-x_j) along `dim`."""

    function = F.softmin


class GLU(Module):
    """y = a * sigmoid(b), where a, b are the halves of the input along `dim`."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
