"""Normalisation layers (batch, layer, group, instance, RMS, local response norm) through the
layer harness, plus running statistics over several steps, the functional forms, double
backward and torch's errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import qilin
import qilin.nn as qnn

from .layer_harness import (
    LayerSpec,
    build_pair,
    check_forward_backward,
    check_repr,
    check_state_dict,
)


def _random_state(build):
    """`build`, with torch's parameters and running statistics moved off their ones / zeros
    initialisation (the harness copies torch's state into qilin), so comparisons see them."""

    def randomized(nn):
        module = build(nn)
        if nn is torch.nn:
            generator = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for name, value in module.state_dict().items():
                    if name.endswith("num_batches_tracked"):
                        value.fill_(3)
                    elif name.endswith("running_var"):
                        value.uniform_(0.5, 2.0, generator=generator)
                    else:
                        value.uniform_(-1.5, 1.5, generator=generator)
        return module

    return randomized


def _spec(name, build, inputs, **options):
    return LayerSpec(name, _random_state(build), inputs, **options)


def _both_modes(name, build, inputs, **options):
    """The layer compared in training mode and in eval mode."""
    return [
        _spec(name, build, inputs, **options),
        _spec(f"{name}_eval", build, inputs, train=False, **options),
    ]


SPECS = [
    *_both_modes("BatchNorm1d", lambda nn: nn.BatchNorm1d(4), [(5, 4)]),
    *_both_modes("BatchNorm1d_3d", lambda nn: nn.BatchNorm1d(4), [(3, 4, 5)]),
    *_both_modes("BatchNorm2d", lambda nn: nn.BatchNorm2d(3), [(4, 3, 2, 5)]),
    *_both_modes("BatchNorm3d", lambda nn: nn.BatchNorm3d(2, eps=1e-3), [(2, 2, 3, 2, 2)]),
    *_both_modes(
        "BatchNorm2d_momentum_none", lambda nn: nn.BatchNorm2d(3, momentum=None), [(2, 3, 2, 2)]
    ),
    *_both_modes(
        "BatchNorm2d_noaffine", lambda nn: nn.BatchNorm2d(3, affine=False), [(2, 3, 3, 2)]
    ),
    *_both_modes("BatchNorm2d_nobias", lambda nn: nn.BatchNorm2d(3, bias=False), [(2, 3, 2, 3)]),
    *_both_modes(
        "BatchNorm1d_untracked", lambda nn: nn.BatchNorm1d(4, track_running_stats=False), [(6, 4)]
    ),
    *_both_modes("LayerNorm", lambda nn: nn.LayerNorm(4), [(2, 3, 4)]),
    _spec("LayerNorm_2d", lambda nn: nn.LayerNorm((3, 4), eps=1e-3), [(2, 3, 4)]),
    _spec("LayerNorm_noaffine", lambda nn: nn.LayerNorm(4, elementwise_affine=False), [(3, 4)]),
    _spec("LayerNorm_nobias", lambda nn: nn.LayerNorm([4], bias=False), [(5, 4)]),
    _spec("LayerNorm_1d_input", lambda nn: nn.LayerNorm(6), [(6,)]),
    *_both_modes("GroupNorm", lambda nn: nn.GroupNorm(2, 4), [(3, 4, 5)]),
    _spec("GroupNorm_2d", lambda nn: nn.GroupNorm(3, 6, eps=1e-3), [(2, 6, 2, 3)]),
    _spec("GroupNorm_noaffine", lambda nn: nn.GroupNorm(1, 4, affine=False), [(2, 4, 3)]),
    _spec("GroupNorm_nobias", lambda nn: nn.GroupNorm(4, 4, bias=False), [(2, 4)]),
    *_both_modes("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3), [(2, 3, 5)]),
    _spec("InstanceNorm1d_unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True), [(3, 5)]),
    *_both_modes(
        "InstanceNorm2d_affine", lambda nn: nn.InstanceNorm2d(3, affine=True), [(2, 3, 3, 2)]
    ),
    *_both_modes(
        "InstanceNorm2d_tracked",
        lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        [(2, 3, 2, 3)],
    ),
    *_both_modes(
        "InstanceNorm3d_tracked",
        lambda nn: nn.InstanceNorm3d(2, momentum=0.3, track_running_stats=True),
        [(2, 2, 2, 3, 2)],
    ),
    _spec("InstanceNorm3d_unbatched", lambda nn: nn.InstanceNorm3d(2), [(2, 2, 3, 2)]),
    _spec("RMSNorm", lambda nn: nn.RMSNorm(4), [(2, 3, 4)]),
    _spec("RMSNorm_eps", lambda nn: nn.RMSNorm([3, 4], eps=1e-3), [(2, 3, 4)]),
    _spec("RMSNorm_noaffine", lambda nn: nn.RMSNorm(4, elementwise_affine=False), [(5, 4)]),
    _spec("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3), [(2, 5, 4)]),
    _spec(
        "LocalResponseNorm_4d",
        lambda nn: nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0),
        [(2, 6, 3, 2)],
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward(spec):
    check_forward_backward(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_state_dict(spec):
    check_state_dict(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if not s.name.endswith("_eval")], ids=str)
def test_repr(spec):
    check_repr(spec)


# ----- running statistics --------------------------------------------------------------------
RUNNING = [
    ("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), (6, 3)),
    ("BatchNorm1d_3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    ("BatchNorm2d", lambda nn: nn.BatchNorm2d(3), (4, 3, 3, 2)),
    ("BatchNorm2d_cumulative", lambda nn: nn.BatchNorm2d(3, momentum=None), (2, 3, 2, 2)),
    ("BatchNorm3d", lambda nn: nn.BatchNorm3d(2, affine=False), (2, 2, 2, 2, 3)),
    ("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), (4, 3, 5)),
    (
        "InstanceNorm2d",
        lambda nn: nn.InstanceNorm2d(3, momentum=0.5, affine=True, track_running_stats=True),
        (2, 3, 3, 3),
    ),
]


@pytest.mark.parametrize("name,build,shape", RUNNING, ids=[r[0] for r in RUNNING])
def test_running_statistics_follow_torch(name, build, shape):
    reference, ours = build_pair(LayerSpec(name, build))
    rng = np.random.default_rng(0)
    for step in range(4):
        batch = rng.standard_normal(shape) * (step + 1) + step
        reference(torch.tensor(batch))
        ours(qilin.tensor(batch))
    theirs = reference.state_dict()
    mine = ours.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        assert mine[key].dtype.name == str(value.dtype).split(".")[-1], key
        np.testing.assert_allclose(mine[key].numpy(), value.numpy(), rtol=1e-12, err_msg=key)
    # eval mode normalises with the running statistics (not the batch's)
    reference.eval()
    ours.eval()
    batch = rng.standard_normal(shape)
    expected = reference(torch.tensor(batch)).detach().numpy()
    np.testing.assert_allclose(ours(qilin.tensor(batch)).detach().numpy(), expected, rtol=1e-10)
    # (which would differ: what torch's training mode gives on the same batch)
    reference.train()
    assert not np.allclose(expected, reference(torch.tensor(batch)).detach().numpy())


def test_buffers_and_resets():
    layer = qnn.BatchNorm2d(3)
    assert layer.num_batches_tracked.dtype == qilin.int64
    assert layer.num_batches_tracked.shape == ()
    assert layer.running_mean.numpy().tolist() == [0.0] * 3
    assert layer.running_var.numpy().tolist() == [1.0] * 3
    layer(qilin.randn(4, 3, 2, 2) + 3)
    assert int(layer.num_batches_tracked) == 1
    assert not np.allclose(layer.running_mean.numpy(), 0)
    layer.reset_running_stats()
    assert int(layer.num_batches_tracked) == 0
    assert layer.running_mean.numpy().tolist() == [0.0] * 3
    layer.eval()
    layer(qilin.randn(4, 3, 2, 2))
    assert int(layer.num_batches_tracked) == 0  # eval does not count batches
    with qilin.no_grad():
        layer.weight.fill_(2.0)
    layer.reset_parameters()
    assert layer.weight.detach().numpy().tolist() == [1.0] * 3
    untracked = qnn.BatchNorm1d(3, track_running_stats=False)
    assert untracked.running_mean is None and untracked.num_batches_tracked is None
    assert list(untracked.state_dict()) == ["weight", "bias"]
    instance = qnn.InstanceNorm2d(3)
    assert instance.weight is None and instance.running_mean is None
    assert list(instance.state_dict()) == []


def test_float32_and_dtype_arguments():
    layer = qnn.BatchNorm2d(3, dtype=qilin.float64)
    assert layer.weight.dtype == qilin.float64 and layer.running_var.dtype == qilin.float64
    assert layer.num_batches_tracked.dtype == qilin.int64
    norm = qnn.LayerNorm(4)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    out = norm(qilin.tensor(x))
    assert out.dtype == qilin.float32
    np.testing.assert_allclose(
        out.detach().numpy(), TF.layer_norm(torch.tensor(x), (4,)).numpy(), atol=1e-6
    )


# ----- the functional forms ------------------------------------------------------------------
def _functional_pair(function, arrays, grads):
    """function(lib, *tensors) in both libraries; forward and input grads compared."""
    results = []
    for lib in (torch, qilin):
        tensors = [
            lib.tensor(a, requires_grad=g) if a is not None else None for a, g in zip(arrays, grads)
        ]
        out = function(lib, *tensors)
        cotangent = np.random.default_rng(5).standard_normal(tuple(out.shape))
        leaves = [t for t, g in zip(tensors, grads) if g]
        grads_out = lib.autograd.grad(out, leaves, lib.tensor(cotangent)) if leaves else []
        results.append([out.detach().numpy()] + [g.numpy() for g in grads_out])
    for theirs, mine in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


FUNCTIONAL = [
    (
        "batch_norm_training",
        lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
        [(4, 3, 5), (3,), (3,)],
    ),
    (
        "batch_norm_eval",
        lambda lib, x, w, b: lib.nn.functional.batch_norm(
            x, lib.linspace(-1, 1, 3, dtype=x.dtype), lib.linspace(0.5, 2, 3, dtype=x.dtype), w, b
        ),
        [(4, 3), (3,), (3,)],
    ),
    (
        "layer_norm",
        lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (2, 3), w, b, 1e-4),
        [(4, 2, 3), (2, 3), (2, 3)],
    ),
    (
        "group_norm",
        lambda lib, x, w, b: lib.nn.functional.group_norm(x, 3, w, b),
        [(2, 6, 2, 2), (6,), (6,)],
    ),
    (
        "instance_norm",
        lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b, eps=0.01),
        [(2, 3, 4), (3,), (3,)],
    ),
    (
        "instance_norm_running",
        lambda lib, x, w, b: lib.nn.functional.instance_norm(
            x,
            lib.linspace(-1, 1, 3, dtype=x.dtype),
            lib.linspace(0.5, 2, 3, dtype=x.dtype),
            w,
            b,
            use_input_stats=False,
        ),
        [(2, 3, 4), (3,), (3,)],
    ),
    (
        "rms_norm",
        lambda lib, x, w: lib.nn.functional.rms_norm(x, (3,), w, 1e-2),
        [(4, 3), (3,)],
    ),
    (
        "rms_norm_default_eps",
        lambda lib, x: lib.nn.functional.rms_norm(x * 1e-5, [2, 3]),
        [(4, 2, 3)],
    ),
    (
        "local_response_norm",
        lambda lib, x: lib.nn.functional.local_response_norm(x, 5, 0.5, 0.6, 1.5),
        [(2, 4, 3, 2, 2)],
    ),
]


@pytest.mark.parametrize("name,function,shapes", FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_functional_matches_torch(name, function, shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    _functional_pair(function, arrays, [True] * len(arrays))


def test_functional_batch_norm_updates_running_statistics():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3, 4))
    stats = {}
    for lib in (torch, qilin):
        mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        lib.nn.functional.batch_norm(lib.tensor(x), mean, var, training=True, momentum=0.25)
        stats[lib.__name__] = (mean.numpy(), var.numpy())
    for mine, theirs in zip(stats["qilin"], stats["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_float32_statistics_and_gradients():
    """The fused kernels in float32 against torch in float32."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(8, 4, 3, 3), (4,), (4,)]]
    results = []
    for lib in (torch, qilin):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        out = lib.nn.functional.batch_norm(x, None, None, w, b, True)
        out = lib.nn.functional.layer_norm(out, (3,), w[:3], b[:3])
        out.square().sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for mine, theirs in zip(*results[::-1]):
        assert mine.dtype == np.float32
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


# ----- double backward -----------------------------------------------------------------------
DOUBLE = [
    (
        "batch_norm",
        lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, True),
        [(4, 3, 2), (3,), (3,)],
    ),
    (
        "batch_norm_eval",
        lambda lib, x, w, b: lib.nn.functional.batch_norm(
            x, lib.linspace(-1, 1, 3, dtype=x.dtype), lib.linspace(0.5, 2, 3, dtype=x.dtype), w, b
        ),
        [(4, 3, 2), (3,), (3,)],
    ),
    (
        "layer_norm",
        lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4,), w, b),
        [(3, 4), (4,), (4,)],
    ),
    (
        "layer_norm_noaffine",
        lambda lib, x: lib.nn.functional.layer_norm(x, (2, 3)),
        [(2, 2, 3)],
    ),
    (
        "group_norm",
        lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b),
        [(2, 4, 3), (4,), (4,)],
    ),
    (
        "instance_norm",
        lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
        [(2, 3, 4), (3,), (3,)],
    ),
    ("rms_norm", lambda lib, x, w: lib.nn.functional.rms_norm(x, (4,), w), [(3, 4), (4,)]),
]


@pytest.mark.parametrize("name,function,shapes", DOUBLE, ids=[d[0] for d in DOUBLE])
def test_double_backward_matches_torch(name, function, shapes):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    results = []
    for lib in (torch, qilin):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = function(lib, *inputs)
        cotangent = lib.tensor(np.random.default_rng(6).standard_normal(tuple(out.shape)))
        first = lib.autograd.grad(out, inputs, cotangent, create_graph=True)
        weights = np.random.default_rng(7)
        total = sum((g * lib.tensor(weights.standard_normal(tuple(g.shape)))).sum() for g in first)
        second = lib.autograd.grad(total, inputs, allow_unused=True, materialize_grads=True)
        results.append([g.detach().numpy() for g in first + second])
    for index, (theirs, mine) in enumerate(zip(*results)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10, err_msg=f"grad {index}")


# ----- bad input -----------------------------------------------------------------------------
def _errors(function):
    """(type, message) raised by function(torch) and function(qilin)."""
    caught = []
    for lib in (torch, qilin):
        with pytest.raises(Exception) as info:
            function(lib)
        caught.append((type(info.value), str(info.value)))
    return caught


ERRORS = [
    (
        "batch_norm_single_value",
        lambda lib: lib.nn.functional.batch_norm(
            lib.ones(1, 4), lib.zeros(4), lib.ones(4), training=True
        ),
        "Expected more than 1 value per channel when training, got input size",
    ),
    (
        "batch_norm_running_mean_size",
        lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 4), lib.zeros(3), lib.ones(4)),
        "running_mean should contain 4 elements not 3",
    ),
    (
        "batch_norm_weight_size",
        lambda lib: lib.nn.functional.batch_norm(
            lib.ones(2, 4), lib.zeros(4), lib.ones(4), lib.ones(5)
        ),
        "weight should contain 4 elements not 5",
    ),
    (
        "batch_norm_eval_without_statistics",
        lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 4), None, None),
        "running_mean must be defined in evaluation mode",
    ),
    (
        "BatchNorm2d_dims",
        lambda lib: lib.nn.BatchNorm2d(3)(lib.ones(2, 3)),
        "expected 4D input (got 2D input)",
    ),
    (
        "BatchNorm1d_dims",
        lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 3, 4, 5)),
        "expected 2D or 3D input (got 4D input)",
    ),
    (
        "BatchNorm3d_dims",
        lambda lib: lib.nn.BatchNorm3d(3)(lib.ones(2, 3, 4, 5)),
        "expected 5D input (got 4D input)",
    ),
    (
        "layer_norm_shape",
        lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 3), (4,)),
        "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]",
    ),
    (
        "layer_norm_weight",
        lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 3), (3,), lib.ones(4)),
        "Expected weight to be of same shape as normalized_shape, but got weight of shape [4] "
        "and normalized_shape = [3]",
    ),
    (
        "LayerNorm_input",
        lambda lib: lib.nn.LayerNorm((2, 3))(lib.ones(3)),
        "Given normalized_shape=[2, 3], expected input with shape [*, 2, 3]",
    ),
    (
        "group_norm_divisible",
        lambda lib: lib.nn.functional.group_norm(lib.ones(2, 4, 3), 3),
        "Expected number of channels in input to be divisible by num_groups, but got input of "
        "shape [2, 4, 3] and num_groups=3",
    ),
    (
        "GroupNorm_divisible",
        lambda lib: lib.nn.GroupNorm(3, 4),
        "num_channels (4) must be divisible by num_groups (3)",
    ),
    (
        "group_norm_weight",
        lambda lib: lib.nn.functional.group_norm(lib.ones(2, 4, 3), 2, lib.ones(3)),
        "Expected weight to be a vector of size equal to the number of channels in input, but "
        "got weight of shape [3] and input of shape [2, 4, 3]",
    ),
    (
        "instance_norm_spatial",
        lambda lib: lib.nn.functional.instance_norm(lib.ones(2, 3, 1)),
        "Expected more than 1 spatial element when training, got input size",
    ),
    (
        "InstanceNorm1d_dims",
        lambda lib: lib.nn.InstanceNorm1d(3)(lib.ones(2, 3, 4, 5)),
        "expected 2D or 3D input (got 4D input)",
    ),
    (
        "InstanceNorm2d_features",
        lambda lib: lib.nn.InstanceNorm2d(3, affine=True)(lib.ones(2, 4, 2, 2)),
        "expected input's size at dim=1 to match num_features (3), but got: 4.",
    ),
    (
        "rms_norm_shape",
        lambda lib: lib.nn.functional.rms_norm(lib.ones(2, 3), (4,)),
        "Given normalized_shape=[4], expected input with shape [*4], but got input of size[2, 3]",
    ),
    (
        "local_response_norm_dims",
        lambda lib: lib.nn.functional.local_response_norm(lib.ones(3, 4), 2),
        "Expected 3D or higher dimensionality",
    ),
]


@pytest.mark.parametrize("name,function,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, function, message):
    (torch_type, torch_text), (our_type, our_text) = _errors(function)
    assert our_type is torch_type or issubclass(our_type, torch_type), (our_type, torch_type)
    assert message in torch_text  # the expected text is torch's own
    assert message in our_text, our_text


def test_instance_norm_feature_mismatch_warns_without_affine():
    with pytest.warns(UserWarning, match="does not match num_features"):
        out = qnn.InstanceNorm1d(3)(qilin.randn(2, 4, 5))
    assert tuple(out.shape) == (2, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qnn.InstanceNorm1d(4)(qilin.randn(2, 4, 5))


def test_in_place_op_after_norm_keeps_backward():
    """BatchNorm -> ReLU(inplace=True), as in ResNets: the norm's backward must not need its
    (now overwritten) output."""
    data = np.random.default_rng(8).standard_normal((4, 3, 2, 2))
    grads = []
    for lib in (torch, qilin):
        x = lib.tensor(data, requires_grad=True)
        model = lib.nn.Sequential(lib.nn.BatchNorm2d(3), lib.nn.ReLU(inplace=True))
        model.double()
        (model(x) * lib.tensor(data)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "build",
    [lambda nn: nn.BatchNorm2d(3), lambda nn: nn.GroupNorm(3, 3), lambda nn: nn.GroupNorm(1, 3)],
    ids=["BatchNorm2d", "GroupNorm", "GroupNorm_1"],
)
def test_empty_batch_matches_torch(build):
    """An empty batch (N = 0) gives an empty output, zero weight / bias gradients and leaves
    the running statistics alone, as in torch (not NaN)."""
    results = []
    for lib in (torch, qilin):
        layer = build(lib.nn).double()
        if getattr(layer, "running_mean", None) is not None:
            with lib.no_grad():
                layer.running_mean.fill_(2.0)
                layer.running_var.fill_(3.0)
        x = lib.zeros((0, 3, 4, 4), dtype=lib.float64, requires_grad=True)
        out = layer(x)
        out.sum().backward()
        grads = [p.grad.numpy() for p in layer.parameters()]
        buffers = [b.numpy() for b in layer.buffers()]
        results.append([np.array(out.shape), x.grad.numpy(), *grads, *buffers])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
