"""Pooling and resampling layers through the layer harness (forward, backward, state_dict, repr
against torch) over many option combinations, plus functional-only entry points and the errors
that bad arguments raise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import qilin

from .layer_harness import (
    LayerSpec,
    check_forward_backward,
    check_repr,
    check_state_dict,
)


def _pool_then_unpool(nd: int, kernel, stride=None, padding=0, with_size=False):
    """MaxPool -> MaxUnpool (the unpool needs real indices); optionally passing output_size."""

    def build(nn):
        class PoolUnpool(nn.Module):
            def __init__(self):
                super().__init__()
                self.pool = getattr(nn, f"MaxPool{nd}d")(
                    kernel, stride, padding, return_indices=True
                )
                self.unpool = getattr(nn, f"MaxUnpool{nd}d")(kernel, stride, padding)

            def forward(self, x):
                values, indices = self.pool(x)
                size = x.shape if with_size else None
                return self.unpool(values, indices, output_size=size)

        return PoolUnpool()

    return build


def _distinct_indices(shape, plane: int):
    """Indices like a non-overlapping pool's: distinct within each plane."""

    def sample(rng):
        count = int(np.prod(shape[-2:])) if len(shape) > 2 else shape[-1]
        rows = [rng.permutation(plane)[:count] for _ in range(int(np.prod(shape)) // count)]
        return np.array(rows).reshape(shape)

    return sample


POOLS = [
    LayerSpec("MaxPool1d", lambda nn: nn.MaxPool1d(3), [(2, 3, 10)]),
    LayerSpec("MaxPool1d_options", lambda nn: nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True), [(2, 12)]),
    LayerSpec("MaxPool2d", lambda nn: nn.MaxPool2d(2), [(2, 3, 6, 8)]),
    LayerSpec("MaxPool2d_pad", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), [(2, 3, 7, 8)]),
    LayerSpec("MaxPool2d_ceil", lambda nn: nn.MaxPool2d(3, 2, ceil_mode=True), [(2, 3, 8, 9)]),
    LayerSpec(
        "MaxPool2d_dilation",
        lambda nn: nn.MaxPool2d((3, 2), (1, 2), (1, 0), dilation=(2, 3), ceil_mode=True),
        [(2, 2, 9, 10)],
    ),
    LayerSpec(
        "MaxPool2d_indices", lambda nn: nn.MaxPool2d(3, 2, 1, return_indices=True), [(2, 3, 7, 7)]
    ),
    LayerSpec("MaxPool2d_unbatched", lambda nn: nn.MaxPool2d(2, 1), [(3, 5, 5)]),
    LayerSpec("MaxPool3d", lambda nn: nn.MaxPool3d(2), [(2, 2, 4, 6, 4)]),
    LayerSpec(
        "MaxPool3d_options",
        lambda nn: nn.MaxPool3d(
            (2, 3, 2), (1, 2, 2), (1, 1, 0), ceil_mode=True, return_indices=True
        ),
        [(2, 5, 6, 5)],
    ),
    LayerSpec("AvgPool1d", lambda nn: nn.AvgPool1d(3), [(2, 3, 10)]),
    LayerSpec(
        "AvgPool1d_options",
        lambda nn: nn.AvgPool1d(4, 3, 2, ceil_mode=True, count_include_pad=False),
        [(3, 11)],
    ),
    LayerSpec("AvgPool2d", lambda nn: nn.AvgPool2d(2), [(2, 3, 6, 8)]),
    LayerSpec("AvgPool2d_pad", lambda nn: nn.AvgPool2d(3, 2, 1), [(2, 3, 7, 8)]),
    LayerSpec(
        "AvgPool2d_ceil_nopad",
        lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 3, 8, 9)],
    ),
    LayerSpec("AvgPool2d_ceil_pad", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True), [(2, 8, 9)]),
    LayerSpec(
        "AvgPool2d_divisor",
        lambda nn: nn.AvgPool2d((2, 3), (1, 2), (1, 1), divisor_override=3),
        [(2, 2, 6, 7)],
    ),
    LayerSpec("AvgPool3d", lambda nn: nn.AvgPool3d(2), [(2, 2, 4, 6, 4)]),
    LayerSpec(
        "AvgPool3d_options",
        lambda nn: nn.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 5, 6, 5)],
    ),
    LayerSpec(
        "AvgPool3d_divisor", lambda nn: nn.AvgPool3d(2, 1, divisor_override=5), [(1, 2, 3, 4, 3)]
    ),
    LayerSpec("LPPool1d", lambda nn: nn.LPPool1d(2, 3), [(2, 3, 10)]),
    LayerSpec("LPPool1d_ceil", lambda nn: nn.LPPool1d(3.0, 3, 2, ceil_mode=True), [(2, 3, 10)]),
    LayerSpec("LPPool2d", lambda nn: nn.LPPool2d(2, (2, 3), 2), [(2, 3, 6, 7)]),
    LayerSpec("LPPool2d_ceil", lambda nn: nn.LPPool2d(1.5, 3, ceil_mode=True), [(2, 7, 8)]),
    LayerSpec("LPPool3d", lambda nn: nn.LPPool3d(2, 2), [(2, 2, 4, 4, 6)]),
    LayerSpec("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(4), [(2, 3, 10)]),
    LayerSpec("AdaptiveAvgPool1d_unbatched", lambda nn: nn.AdaptiveAvgPool1d(3), [(3, 8)]),
    LayerSpec("AdaptiveAvgPool2d_global", lambda nn: nn.AdaptiveAvgPool2d(1), [(2, 3, 6, 7)]),
    LayerSpec("AdaptiveAvgPool2d_even", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), [(2, 3, 6, 8)]),
    LayerSpec("AdaptiveAvgPool2d_uneven", lambda nn: nn.AdaptiveAvgPool2d((4, 3)), [(2, 3, 7, 5)]),
    LayerSpec("AdaptiveAvgPool2d_none", lambda nn: nn.AdaptiveAvgPool2d((None, 3)), [(2, 5, 7)]),
    LayerSpec("AdaptiveAvgPool2d_grow", lambda nn: nn.AdaptiveAvgPool2d(7), [(1, 2, 4, 5)]),
    LayerSpec("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d((2, 3, 4)), [(2, 2, 5, 7, 6)]),
    LayerSpec("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(4), [(2, 3, 10)]),
    LayerSpec("AdaptiveMaxPool1d_indices", lambda nn: nn.AdaptiveMaxPool1d(3, True), [(3, 7)]),
    LayerSpec("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((3, 4)), [(2, 3, 7, 9)]),
    LayerSpec("AdaptiveMaxPool2d_global", lambda nn: nn.AdaptiveMaxPool2d(1), [(2, 3, 5, 5)]),
    LayerSpec(
        "AdaptiveMaxPool2d_indices",
        lambda nn: nn.AdaptiveMaxPool2d((None, 2), return_indices=True),
        [(3, 5, 7)],
    ),
    LayerSpec("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d((2, 3, 4)), [(1, 2, 5, 7, 6)]),
    LayerSpec("MaxUnpool1d", _pool_then_unpool(1, 2), [(2, 3, 8)]),
    LayerSpec("MaxUnpool1d_size", _pool_then_unpool(1, 3, 2, 1, with_size=True), [(2, 3, 10)]),
    LayerSpec("MaxUnpool2d", _pool_then_unpool(2, 2), [(2, 3, 6, 8)]),
    LayerSpec("MaxUnpool2d_size", _pool_then_unpool(2, 2, with_size=True), [(2, 3, 7, 9)]),
    LayerSpec("MaxUnpool2d_unbatched", _pool_then_unpool(2, 3, 2, 1), [(3, 7, 7)]),
    LayerSpec("MaxUnpool3d", _pool_then_unpool(3, 2), [(1, 2, 4, 4, 6)]),
    LayerSpec(
        "MaxUnpool2d_direct",
        lambda nn: nn.MaxUnpool2d(2),
        [(2, 3, 2, 3), _distinct_indices((2, 3, 2, 3), 24)],
    ),
]

_INTERPOLATIONS = [
    ("linear", (2, 3, 7), [dict(size=5), dict(size=11), dict(scale_factor=2.1)]),
    (
        "linear",
        (2, 3, 7),
        [dict(scale_factor=0.6), dict(scale_factor=1.7, recompute_scale_factor=True)],
    ),
    (
        "bilinear",
        (2, 3, 5, 7),
        [dict(size=(4, 11)), dict(scale_factor=2.0), dict(scale_factor=(0.6, 1.7))],
    ),
    (
        "bicubic",
        (2, 3, 5, 7),
        [dict(size=(8, 3)), dict(scale_factor=2.1), dict(scale_factor=(0.7, 1.6))],
    ),
    ("trilinear", (1, 2, 4, 5, 3), [dict(size=(5, 3, 6)), dict(scale_factor=(1.5, 0.7, 2.0))]),
]
_NEAREST = [
    ("nearest", (2, 3, 7), [dict(size=10), dict(scale_factor=1.6), dict(scale_factor=0.5)]),
    ("nearest", (2, 3, 5, 7), [dict(size=(8, 4)), dict(scale_factor=2.1), dict(scale_factor=1.1)]),
    ("nearest", (1, 2, 3, 4, 5), [dict(scale_factor=(2.0, 1.5, 0.6)), dict(size=(4, 4, 4))]),
    ("nearest-exact", (2, 3, 7), [dict(size=10), dict(scale_factor=1.6)]),
    ("nearest-exact", (2, 3, 5, 7), [dict(size=(8, 4)), dict(scale_factor=(2.1, 0.6))]),
    ("area", (2, 3, 5, 7), [dict(size=(3, 4)), dict(scale_factor=0.7)]),
    ("area", (2, 3, 9), [dict(size=4)]),
]


def _upsample_specs() -> list:
    specs = []
    for mode, shape, settings in _INTERPOLATIONS:
        for align_corners in (False, True):
            for setting in settings:
                specs.append(
                    LayerSpec(
                        f"Upsample_{mode}_{align_corners}_{setting}",
                        lambda nn, m=mode, a=align_corners, s=setting: nn.Upsample(
                            mode=m, align_corners=a, **s
                        ),
                        [shape],
                    )
                )
    for mode, shape, settings in _NEAREST:
        for setting in settings:
            specs.append(
                LayerSpec(
                    f"Upsample_{mode}_{setting}",
                    lambda nn, m=mode, s=setting: nn.Upsample(mode=m, **s),
                    [shape],
                )
            )
    return specs


RESAMPLING = [
    *_upsample_specs(),
    LayerSpec(
        "UpsamplingNearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=2), [(2, 3, 4, 5)]
    ),
    LayerSpec(
        "UpsamplingNearest2d_size", lambda nn: nn.UpsamplingNearest2d((7, 3)), [(2, 3, 4, 5)]
    ),
    LayerSpec(
        "UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(scale_factor=2), [(2, 3, 4, 5)]
    ),
    LayerSpec(
        "UpsamplingBilinear2d_size", lambda nn: nn.UpsamplingBilinear2d(size=(3, 9)), [(1, 2, 4, 5)]
    ),
    LayerSpec("PixelShuffle", lambda nn: nn.PixelShuffle(2), [(2, 8, 3, 4)]),
    LayerSpec("PixelShuffle_unbatched", lambda nn: nn.PixelShuffle(3), [(9, 2, 3)]),
    LayerSpec("PixelShuffle_extra_dims", lambda nn: nn.PixelShuffle(2), [(2, 2, 4, 3, 2)]),
    LayerSpec("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), [(2, 3, 4, 6)]),
    LayerSpec("PixelUnshuffle_unbatched", lambda nn: nn.PixelUnshuffle(3), [(2, 6, 3)]),
]

SPECS = POOLS + RESAMPLING


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward_match_torch(spec):
    check_forward_backward(spec)


@pytest.mark.parametrize("spec", SPECS[::7], ids=str)
def test_state_dict_matches_torch_and_round_trips(spec):
    check_state_dict(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr_matches_torch(spec):
    check_repr(spec)


def test_every_layer_is_covered():
    names = {spec.name.split("_")[0] for spec in SPECS}
    from qilin.nn.modules import pooling, upsampling

    assert set(pooling.__all__ + upsampling.__all__) <= names | {"MaxUnpool3d"}


# ----- functional entry points -------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,shape",
    [
        (lambda F, x: F.max_pool1d_with_indices(x, 3, 2, 1), (2, 3, 9)),
        (lambda F, x: F.max_pool2d_with_indices(x, 2, ceil_mode=True), (2, 3, 5, 5)),
        (lambda F, x: F.max_pool3d_with_indices(x, 2, 1), (1, 2, 3, 4, 3)),
        (lambda F, x: F.adaptive_max_pool1d_with_indices(x, 3), (2, 3, 8)),
        (lambda F, x: F.adaptive_max_pool2d_with_indices(x, (2, 3)), (2, 3, 5, 7)),
        (lambda F, x: F.adaptive_max_pool3d_with_indices(x, 2), (1, 2, 3, 5, 4)),
        (lambda F, x: F.max_pool2d(x, 2, stride=[]), (2, 3, 4, 6)),
    ],
)
def test_with_indices_functions_match_torch(call, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    ours = call(qilin.nn.functional, qilin.tensor(x))
    theirs = call(torch.nn.functional, torch.tensor(x))
    ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), reference.numpy())


@pytest.mark.parametrize(
    "name,args",
    [
        ("upsample", dict(scale_factor=2, mode="bilinear", align_corners=False)),
        ("upsample_nearest", dict(scale_factor=3)),
        ("upsample_bilinear", dict(size=(5, 7))),
    ],
)
def test_deprecated_upsample_functions_warn_and_match(name, args):
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        ours = getattr(qilin.nn.functional, name)(qilin.tensor(x), **args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), **args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_interpolate_float32_matches_torch(mode):
    """float32 coordinates are computed in float32, as torch does."""
    x = np.random.default_rng(0).standard_normal((2, 3, 13, 17)).astype(np.float32)
    for setting in (dict(scale_factor=1.37), dict(size=(29, 5)), dict(scale_factor=(3.3, 0.45))):
        extra = {} if mode == "nearest" else dict(align_corners=False)
        ours = qilin.nn.functional.interpolate(qilin.tensor(x), mode=mode, **setting, **extra)
        theirs = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **setting, **extra)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_lp_pool_and_adaptive_pool_gradients_of_gradients():
    """Composite pools are differentiable twice (through matmul / mean / avg_pool)."""
    for call in (
        lambda F, x: F.adaptive_avg_pool2d(x, (3, 2)),
        lambda F, x: F.lp_pool2d(x * x + 0.5, 2, 2),
        lambda F, x: F.interpolate(x, scale_factor=1.5, mode="bicubic"),
        lambda F, x: F.interpolate(x, size=(6, 2), mode="nearest"),
    ):
        results = []
        for lib in (qilin, torch):
            x = lib.tensor(
                np.random.default_rng(0).standard_normal((2, 2, 5, 4)), requires_grad=True
            )
            out = call(lib.nn.functional, x)
            (grad,) = lib.autograd.grad((out**2).sum(), x, create_graph=True)
            (second,) = lib.autograd.grad((grad**2).sum(), x)
            results.append(second.detach().numpy())
        np.testing.assert_allclose(*results, rtol=1e-10, atol=1e-12)


# ----- bad input ---------------------------------------------------------------------------------
BAD = [
    ("max_pool2d", lambda F, t: F.max_pool2d(t((2, 3, 4, 4)), 3, padding=2)),
    ("max_pool2d", lambda F, t: F.max_pool2d(t((2, 3, 4, 4)), 5)),
    ("max_pool2d", lambda F, t: F.max_pool2d(t((4, 4)), 2)),
    ("max_pool2d", lambda F, t: F.max_pool2d(t((2, 3, 4, 4)), 2, stride=0)),
    ("max_pool2d", lambda F, t: F.max_pool2d(t((2, 3, 4, 4)), 2, dilation=0)),
    ("max_pool1d", lambda F, t: F.max_pool1d(t((4,)), 2)),
    ("avg_pool2d", lambda F, t: F.avg_pool2d(t((2, 3, 4, 4)), 3, padding=2)),
    ("avg_pool2d", lambda F, t: F.avg_pool2d(t((2, 3, 4, 4)), 5)),
    ("avg_pool2d", lambda F, t: F.avg_pool2d(t((2, 3, 4, 4)), 2, divisor_override=0)),
    ("avg_pool3d", lambda F, t: F.avg_pool3d(t((2, 3)), 2)),
    ("adaptive_avg_pool2d", lambda F, t: F.adaptive_avg_pool2d(t((4,)), 2)),
    ("adaptive_max_pool2d", lambda F, t: F.adaptive_max_pool2d(t((4,)), 2)),
    ("adaptive_max_pool2d", lambda F, t: F.adaptive_max_pool2d(t((2, 0, 4)), 2)),
    ("greater than or equal to 0", lambda F, t: F.adaptive_avg_pool2d(t((1, 2, 4, 4)), -1)),
    ("greater than or equal to 0", lambda F, t: F.adaptive_avg_pool1d(t((1, 2, 4)), -2)),
    ("linear", lambda F, t: F.interpolate(t((2, 3, 4, 4)), scale_factor=2, mode="linear")),
    ("align_corners", lambda F, t: F.interpolate(t((1, 1, 4)), size=2, align_corners=True)),
    ("either", lambda F, t: F.interpolate(t((1, 1, 4)))),
    ("only one", lambda F, t: F.interpolate(t((1, 1, 4)), size=3, scale_factor=2)),
    ("same number", lambda F, t: F.interpolate(t((1, 1, 4, 4)), size=(3, 3, 3))),
    ("same number", lambda F, t: F.interpolate(t((1, 1, 4, 4)), scale_factor=(2, 2, 2))),
    ("Input Error", lambda F, t: F.interpolate(t((1, 1, 4, 4)), size=3, mode="foo")),
    ("Input Error", lambda F, t: F.interpolate(t((4, 4)), size=3)),
    ("greater than 0", lambda F, t: F.interpolate(t((1, 1, 4, 4)), scale_factor=0.1)),
    ("not meaningful", lambda F, t: F.interpolate(t((1, 1, 4)), 3, recompute_scale_factor=True)),
    ("divisible", lambda F, t: F.pixel_shuffle(t((2, 3, 4, 4)), 3)),
    ("divisible", lambda F, t: F.pixel_unshuffle(t((2, 3, 4, 6)), 3)),
    ("at least 3", lambda F, t: F.pixel_shuffle(t((4, 4)), 2)),
    ("invalid max index", lambda F, t: F.max_unpool2d(t((1, 1, 2, 2)), t((1, 1, 2, 2), 99), 2)),
    (
        "between",
        lambda F, t: F.max_unpool2d(t((1, 1, 2, 2)), t((1, 1, 2, 2), 0), 2, output_size=(9, 9)),
    ),
]


@pytest.mark.parametrize("fragment,call", BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_bad_input_raises_like_torch(fragment, call):
    def maker(lib):
        def make(shape, fill=None):
            if fill is not None:
                return lib.full(shape, fill, dtype=lib.int64)
            return lib.zeros(shape)

        return make

    with pytest.raises(Exception) as theirs:
        call(torch.nn.functional, maker(torch))
    with pytest.raises(type(theirs.value), match=fragment):
        call(qilin.nn.functional, maker(qilin))
