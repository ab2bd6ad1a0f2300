"""Batch normalisation with running statistics: BatchNorm1d/2d/3d.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias,   per channel (dim 1)

Training normalises with the batch's statistics (biased variance) and moves running_mean /
running_var towards the batch's mean and unbiased variance:
running = (1 - momentum) * running + momentum * batch, or with momentum=None the cumulative
average over the num_batches_tracked batches seen. Evaluation normalises with the running
statistics (or the batch's when track_running_stats=False).
"""

from __future__ import annotations

from ... import empty, ones, tensor, zeros
from ... import int64 as _int64
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


def affine_parameters(module: Module, shape, affine: bool, bias: bool, factory: dict) -> None:
    """Register `weight` and `bias` of `shape` (torch registers None for the absent ones, so
    state_dict keys and attribute access match); `reset_affine` gives them their values."""
    module.register_parameter("weight", Parameter(empty(shape, **factory)) if affine else None)
    has_bias = affine and bias
    module.register_parameter("bias", Parameter(empty(shape, **factory)) if has_bias else None)


def reset_affine(module: Module) -> None:
    """Weight ones, bias zeros: every normalisation layer starts as the identity map."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Parameters weight (ones) and bias (zeros) of shape (num_features,) when `affine`;
    buffers running_mean (zeros), running_var (ones) and num_batches_tracked (int64 0) when
    `track_running_stats` (else registered as None, as torch does)."""

    _version = 2  # torch's version of these modules' state_dict layout

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        affine_parameters(self, num_features, affine, bias, {"device": device, "dtype": dtype})
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        reset_affine(self)

    def _check_input_dim(self, input) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    _dims: tuple = ()  # the input dims this variant accepts

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._dims:
            expected = " or ".join(f"{dims}D" for dims in self._dims)
            raise ValueError(f"expected {expected} input (got {input.ndim}D input)")

    def _average_factor(self) -> float:
        """The momentum of this step; counts the batch when running stats are tracked."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # cumulative moving average
            return 1.0 / float(self.num_batches_tracked.item())
        return self.momentum

    def forward(self, input):
        self._check_input_dim(input)
        factor = self._average_factor()
        # batch statistics in training, and in eval when no running statistics are kept
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input."""

    _dims = (5,)
