"""Convolutions in nn.functional: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold and fold.

The convolutions are torch's top-level functions (torch.conv2d is F.conv2d), defined with the
primitive in qilin/ops/convolution.py; unfold and fold (im2col / col2im over 2-D images) are
nn.functional only (Tensor.unfold is a different function)."""

from __future__ import annotations

from ..errors import located
from ..ops.convolution import (
    COL2IM,
    IM2COL,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    expand_param,
)

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "unfold",
    "fold",
]


def _block_params(kernel_size, dilation, padding, stride) -> dict:
    return {
        "kernel_size": expand_param(kernel_size, 2, "kernel_size"),
        "dilation": expand_param(dilation, 2, "dilation"),
        "padding": expand_param(padding, 2, "padding"),
        "stride": expand_param(stride, 2, "stride"),
    }


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a (N, C, H, W) or (C, H, W) image as columns: (N, C * kH * kW, L),
    L the number of blocks; column l holds block l's values, channel-major."""
    if input.ndim not in (3, 4):
        raise located(
            NotImplementedError(
                f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D, "
                f"size {list(input.shape)})"
            )
        )
    batched = input.ndim == 4
    output = IM2COL(
        input if batched else input.unsqueeze(0),
        **_block_params(kernel_size, dilation, padding, stride),
    )
    return output if batched else output.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: columns (N, C * kH * kW, L) or (C * kH * kW, L) summed into
    images (N, C, *output_size); values of overlapping blocks add up."""
    if input.ndim not in (2, 3):
        raise located(
            NotImplementedError(
                f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                f"(got {input.ndim}D, size {list(input.shape)})"
            )
        )
    batched = input.ndim == 3
    output = COL2IM(
        input if batched else input.unsqueeze(0),
        output_size=expand_param(output_size, 2, "output_size"),
        **_block_params(kernel_size, dilation, padding, stride),
    )
    return output if batched else output.squeeze(0)
