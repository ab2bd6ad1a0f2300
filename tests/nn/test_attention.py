"""scaled_dot_product_attention as op specs (forward vs a NumPy reference and torch, gradients
vs torch and finite differences, double backward), and MultiheadAttention through the layer
harness, with its default initialisation, F.multi_head_attention_forward and bad inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import qilin
import qilin.nn as qnn
import qilin.nn.functional as F

from ..ops.harness import Arg, OpSpec, make_tests
from .layer_harness import (
    Grad,
    LayerSpec,
    check_forward_backward,
    check_repr,
    check_state_dict,
)


# ----- scaled_dot_product_attention ----------------------------------------------------------
def np_sdpa(query, key, value, mask=None, is_causal=False, scale=None, enable_gqa=False):
    """The NumPy reference: bool masks (True = take part) or additive float masks; rows with
    every key masked out give 0."""
    query, key, value = (np.asarray(t, np.float64) for t in (query, key, value))
    if enable_gqa:
        key = np.repeat(key, query.shape[-3] // key.shape[-3], axis=-3)
        value = np.repeat(value, query.shape[-3] // value.shape[-3], axis=-3)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ np.swapaxes(key, -1, -2) * scale
    length, source = scores.shape[-2:]
    if is_causal:
        mask = np.tril(np.ones((length, source), bool))
    if mask is not None and mask.dtype == bool:
        mask = np.where(mask, 0.0, -np.inf)
    if mask is not None:
        scores = scores + mask
    peak = scores.max(-1, keepdims=True)
    dead = np.isneginf(peak)
    exponent = np.exp(scores - np.where(dead, 0, peak))
    weights = np.where(dead, 0.0, exponent / np.where(dead, 1, exponent.sum(-1, keepdims=True)))
    return weights @ value


def sdpa(**kwargs):
    """A spec call; a NumPy `mask` keyword becomes a tensor of the calling library."""

    def call(lib, query, key, value, *mask):
        options = dict(kwargs)
        if mask:
            options["attn_mask"] = mask[0]
        elif isinstance(options.get("attn_mask"), np.ndarray):
            given = lib.tensor(options["attn_mask"])
            options["attn_mask"] = given if given.dtype == lib.bool else given.to(query.dtype)
        return lib.nn.functional.scaled_dot_product_attention(query, key, value, **options)

    return call


def sdpa_ref(**kwargs):
    def ref(query, key, value, *mask):
        options = {k: v for k, v in kwargs.items() if k != "attn_mask"}
        given = mask[0] if mask else kwargs.get("attn_mask")
        return np_sdpa(query, key, value, given, **options)

    return ref


def spec(name, samples, **kwargs):
    return OpSpec(("softmax", "matmul"), sdpa(**kwargs), samples, ref=sdpa_ref(**kwargs), name=name)


DEAD_ROW = np.ones((4, 5), bool)
DEAD_ROW[1] = False  # query 1 sees no key
DEAD_ROW[2, 3:] = False
FLOAT_DEAD = np.where(DEAD_ROW, 0.0, -np.inf)
QKV = (Arg((2, 3, 4, 8)), Arg((2, 3, 5, 8)), Arg((2, 3, 5, 6)))

SDPA_SPECS = [
    spec("sdpa", [QKV, (Arg((4, 8)), Arg((5, 8)), Arg((5, 3)))]),
    spec("sdpa-batch-dims", [(Arg((2, 1, 2, 3, 4)), Arg((2, 1, 2, 5, 4)), Arg((2, 1, 2, 5, 4)))]),
    spec("sdpa-broadcast", [(Arg((3, 1, 4, 8)), Arg((1, 2, 5, 8)), Arg((1, 2, 5, 6)))]),
    spec(
        "sdpa-bool-mask",
        [QKV + (Arg((4, 5), "bool", grad=False),), QKV + (Arg((2, 1, 4, 5), "bool", grad=False),)],
    ),
    spec("sdpa-float-mask", [QKV + (Arg((4, 5)),), QKV + (Arg((2, 3, 4, 5), grad=False),)]),
    spec("sdpa-dead-row-bool", [QKV], attn_mask=DEAD_ROW),
    spec("sdpa-dead-row-float", [QKV], attn_mask=FLOAT_DEAD),
    spec("sdpa-causal", [QKV, (Arg((3, 6, 4)), Arg((3, 6, 4)), Arg((3, 6, 2)))], is_causal=True),
    spec("sdpa-causal-tall", [(Arg((2, 6, 4)), Arg((2, 3, 4)), Arg((2, 3, 4)))], is_causal=True),
    spec("sdpa-scale", [QKV], scale=0.3),
    spec("sdpa-gqa", [(Arg((2, 6, 4, 8)), Arg((2, 3, 5, 8)), Arg((2, 2, 5, 6)))], enable_gqa=True),
    spec(
        "sdpa-gqa-mask",
        [(Arg((1, 4, 3, 4)), Arg((1, 2, 5, 4)), Arg((1, 2, 5, 4)), Arg((4, 3, 5), grad=False))],
        enable_gqa=True,
    ),
]

make_tests(SDPA_SPECS, globals())


def test_sdpa_dropout_is_seeded_and_drops_everything_at_one():
    query, key, value = (qilin.randn(2, 4, 8) for _ in range(3))
    qilin.manual_seed(3)
    first = F.scaled_dot_product_attention(query, key, value, dropout_p=0.5)
    qilin.manual_seed(3)
    again = F.scaled_dot_product_attention(query, key, value, dropout_p=0.5)
    plain = F.scaled_dot_product_attention(query, key, value)
    np.testing.assert_array_equal(first.detach().numpy(), again.detach().numpy())
    assert not np.allclose(first.detach().numpy(), plain.detach().numpy())
    gone = F.scaled_dot_product_attention(query, key, value, dropout_p=1.0)
    np.testing.assert_array_equal(gone.numpy(), np.zeros((2, 4, 8), np.float32))


def test_sdpa_causal_mask_is_cached_not_shared_with_the_caller():
    query = qilin.randn(1, 3, 4)
    first = F.scaled_dot_product_attention(query, query, query, is_causal=True)
    again = F.scaled_dot_product_attention(query, query, query, is_causal=True)
    np.testing.assert_array_equal(first.detach().numpy(), again.detach().numpy())


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(attn_mask=qilin.ones(4, 5, dtype=qilin.bool), is_causal=True), "is_causal"),
        (dict(attn_mask=qilin.zeros(4, 5, dtype=qilin.int64)), "attn_mask dtype"),
        (dict(attn_mask=qilin.zeros(4, 5, dtype=qilin.float64)), "attn_mask dtype"),
        (dict(dropout_p=1.5), "between 0 and 1"),
    ],
)
def test_sdpa_bad_arguments(arguments, message):
    query, key, value = qilin.randn(2, 4, 8), qilin.randn(2, 5, 8), qilin.randn(2, 5, 6)
    with pytest.raises((RuntimeError, ValueError), match=message):
        F.scaled_dot_product_attention(query, key, value, **arguments)


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((8,), (8,), (8,)), "at least 2 dimensional"),
        (((2, 4, 8), (2, 5, 7), (2, 5, 6)), "same embedding size"),
        (((2, 4, 8), (2, 5, 8), (2, 6, 6)), "same sequence length"),
    ],
)
def test_sdpa_bad_shapes(shapes, message):
    with pytest.raises(RuntimeError, match=message):
        F.scaled_dot_product_attention(*(qilin.randn(*shape) for shape in shapes))


def test_sdpa_bad_dtypes_and_heads():
    query, key = qilin.randn(2, 4, 8), qilin.randn(2, 5, 8)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(query, key.double(), key)
    with pytest.raises(RuntimeError, match="floating point"):
        F.scaled_dot_product_attention(query.long(), key.long(), key.long())
    grouped = qilin.randn(2, 4, 3, 8), qilin.randn(2, 3, 5, 8), qilin.randn(2, 3, 5, 8)
    with pytest.raises(RuntimeError, match="must divide"):
        F.scaled_dot_product_attention(*grouped, enable_gqa=True)


# ----- MultiheadAttention through the layer harness ------------------------------------------
def bool_mask(shape, p=0.3):
    """A bool mask (True = masked out) that leaves every row at least one key."""

    def sample(rng):
        mask = rng.random(shape) < p
        mask[..., 0] = False
        return mask

    return sample


RNG = np.random.default_rng(7)
PADDING = np.array([[False, False, False, False, True], [False, False, True, True, True]])
FLOAT_MASK = RNG.standard_normal((4, 5))
HEAD_MASK = RNG.random((2 * 2, 4, 5)) < 0.3
HEAD_MASK[..., 0] = False
CAUSAL = np.triu(np.ones((4, 4), bool), 1)


def mha(name, inputs, build=None, **kwargs):
    build = build or (lambda nn: nn.MultiheadAttention(8, 2))
    return LayerSpec(name, build, inputs, kwargs=kwargs)


SEQ = [(4, 2, 8), (5, 2, 8), (5, 2, 8)]
SELF = [(4, 2, 8), (4, 2, 8), (4, 2, 8)]
MHA_SPECS = [
    mha("mha", SEQ),
    mha("mha-heads", SEQ, average_attn_weights=False),
    mha("mha-no-weights", SEQ, need_weights=False),
    mha("mha-unbatched", [(4, 8), (5, 8), (5, 8)]),
    mha("mha-unbatched-head-mask", [(4, 8), (5, 8), (5, 8)], attn_mask=HEAD_MASK[:2]),
    mha(
        "mha-batch-first",
        [(2, 4, 8), (2, 5, 8), (2, 5, 8)],
        lambda nn: nn.MultiheadAttention(8, 4, batch_first=True),
    ),
    mha(
        "mha-kdim-vdim",
        [(4, 2, 8), (5, 2, 3), (5, 2, 6)],
        lambda nn: nn.MultiheadAttention(8, 2, kdim=3, vdim=6),
    ),
    mha("mha-no-bias", SEQ, lambda nn: nn.MultiheadAttention(8, 2, bias=False)),
    mha(
        "mha-bias-kv",
        SEQ,
        lambda nn: nn.MultiheadAttention(8, 2, add_bias_kv=True),
        key_padding_mask=PADDING,
        attn_mask=FLOAT_MASK,
    ),
    mha(
        "mha-zero-attn",
        SEQ,
        lambda nn: nn.MultiheadAttention(8, 2, add_zero_attn=True),
        attn_mask=HEAD_MASK,
        need_weights=False,
    ),
    mha(
        "mha-bias-kv-zero-attn",
        SEQ,
        lambda nn: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True),
        key_padding_mask=PADDING,
    ),
    mha("mha-bool-mask", SEQ, attn_mask=HEAD_MASK[0]),
    mha("mha-bool-mask-sdpa", SEQ, attn_mask=HEAD_MASK[0], need_weights=False),
    mha("mha-float-mask", SEQ, attn_mask=FLOAT_MASK),
    mha("mha-head-mask", SEQ, attn_mask=HEAD_MASK, average_attn_weights=False),
    mha("mha-padding", SEQ, key_padding_mask=PADDING),
    mha(
        "mha-padding-float",
        SEQ,
        key_padding_mask=np.where(PADDING, -np.inf, 0.0),
        need_weights=False,
    ),
    mha("mha-causal", SELF, attn_mask=CAUSAL, is_causal=True, need_weights=False),
    mha("mha-causal-weights", SELF, attn_mask=CAUSAL, is_causal=True),
    LayerSpec(
        "mha-dropout-eval", lambda nn: nn.MultiheadAttention(8, 2, dropout=0.5), SEQ, train=False
    ),
]


@pytest.mark.parametrize("spec", MHA_SPECS, ids=str)
def test_mha_forward_backward(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch and qilin both warn of mismatched mask types
        check_forward_backward(spec)


@pytest.mark.parametrize("spec", MHA_SPECS[:11], ids=str)
def test_mha_state_dict(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_state_dict(spec)


@pytest.mark.parametrize("spec", MHA_SPECS[:11], ids=str)
def test_mha_repr(spec):
    check_repr(spec)


def test_mha_self_attention_is_one_projection_and_matches_torch():
    """query is key is value takes the packed path: same numbers as three separate tensors."""
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    ours = qnn.MultiheadAttention(8, 2, batch_first=True).double()
    ours.load_state_dict({k: qilin.tensor(v.numpy()) for k, v in reference.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((2, 4, 8))
    x, y = torch.tensor(data, requires_grad=True), qilin.tensor(data, requires_grad=True)
    expected, _ = reference(x, x, x, need_weights=False)
    result, _ = ours(y, y, y, need_weights=False)
    np.testing.assert_allclose(result.detach().numpy(), expected.detach().numpy(), rtol=1e-10)
    expected.sum().backward()
    result.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_mha_fully_masked_rows_follow_torch():
    """need_weights=True is the explicit softmax (NaN rows); need_weights=False is
    scaled_dot_product_attention (zero rows), in torch and in qilin."""
    reference = torch.nn.MultiheadAttention(8, 2).double()
    ours = qnn.MultiheadAttention(8, 2).double()
    ours.load_state_dict({k: qilin.tensor(v.numpy()) for k, v in reference.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((3, 2, 8))
    mask = np.zeros((3, 3), bool)
    mask[1] = True
    for need_weights in (True, False):
        expected = reference(
            *[torch.tensor(data)] * 3, attn_mask=torch.tensor(mask), need_weights=need_weights
        )[0]
        result = ours(
            *[qilin.tensor(data)] * 3, attn_mask=qilin.tensor(mask), need_weights=need_weights
        )[0]
        np.testing.assert_allclose(result.detach().numpy(), expected.detach().numpy(), rtol=1e-10)


def test_mha_train_mode_dropout_is_random_and_seeded():
    layer = qnn.MultiheadAttention(8, 2, dropout=0.5)
    x = qilin.randn(4, 2, 8)
    qilin.manual_seed(1)
    first, weights = layer(x, x, x)
    qilin.manual_seed(1)
    again, _ = layer(x, x, x)
    np.testing.assert_array_equal(first.detach().numpy(), again.detach().numpy())
    layer.eval()
    plain, plain_weights = layer(x, x, x)
    assert not np.allclose(first.detach().numpy(), plain.detach().numpy())
    np.testing.assert_allclose(plain_weights.sum(-1).detach().numpy(), np.ones((2, 4)), rtol=1e-5)


def test_multi_head_attention_forward_matches_torch():
    """The functional form with separate projections and static keys / values."""
    rng = np.random.default_rng(2)
    arrays = {
        "query": rng.standard_normal((4, 2, 8)),
        "key": rng.standard_normal((5, 2, 8)),
        "value": rng.standard_normal((5, 2, 8)),
        "in_proj_bias": rng.standard_normal(24),
        "out_proj_weight": rng.standard_normal((8, 8)),
        "out_proj_bias": rng.standard_normal(8),
        "q_proj_weight": rng.standard_normal((8, 8)),
        "k_proj_weight": rng.standard_normal((8, 8)),
        "v_proj_weight": rng.standard_normal((8, 8)),
        "static_k": rng.standard_normal((4, 6, 4)),
        "static_v": rng.standard_normal((4, 6, 4)),
    }
    results = []
    for lib in (torch, qilin):
        tensors = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
        output, weights = lib.nn.functional.multi_head_attention_forward(
            tensors["query"],
            tensors["key"],
            tensors["value"],
            8,
            2,
            None,
            tensors["in_proj_bias"],
            None,
            None,
            False,
            0.0,
            tensors["out_proj_weight"],
            tensors["out_proj_bias"],
            use_separate_proj_weight=True,
            q_proj_weight=tensors["q_proj_weight"],
            k_proj_weight=tensors["k_proj_weight"],
            v_proj_weight=tensors["v_proj_weight"],
            static_k=tensors["static_k"],
            static_v=tensors["static_v"],
            average_attn_weights=False,
        )
        (output.sum() + (weights * weights).sum()).backward()
        grads = [tensors[k].grad for k in arrays]
        results.append([output, weights] + [g if g is not None else None for g in grads])
    for index, (expected, mine) in enumerate(zip(*results)):
        if expected is None:
            assert mine is None or not np.any(mine.numpy()), index
            continue
        np.testing.assert_allclose(
            mine.detach().numpy(),
            expected.detach().numpy(),
            rtol=1e-9,
            atol=1e-11,
            err_msg=str(index),
        )


def test_mha_default_initialisation():
    layer = qnn.MultiheadAttention(16, 4, add_bias_kv=True)
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform_ on (3E, E)
    weight = layer.in_proj_weight.detach().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.15 * bound
    np.testing.assert_array_equal(layer.in_proj_bias.detach().numpy(), np.zeros(48))
    np.testing.assert_array_equal(layer.out_proj.bias.detach().numpy(), np.zeros(16))
    out_bound = 1 / math.sqrt(16)  # out_proj keeps Linear's weight initialisation
    assert np.abs(layer.out_proj.weight.detach().numpy()).max() <= out_bound
    assert tuple(layer.bias_k.shape) == (1, 1, 16) and np.any(layer.bias_k.detach().numpy())
    separate = qnn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert separate.in_proj_weight is None and separate.in_proj_bias is None
    assert tuple(separate.k_proj_weight.shape) == (8, 3)
    assert np.abs(separate.v_proj_weight.detach().numpy()).max() <= math.sqrt(6 / 13)
    assert separate.out_proj.bias is None


def test_mha_attributes():
    layer = qnn.MultiheadAttention(12, 3, dropout=0.2, kdim=4, batch_first=True)
    assert (layer.embed_dim, layer.num_heads, layer.head_dim) == (12, 3, 4)
    assert (layer.kdim, layer.vdim, layer._qkv_same_embed_dim) == (4, 12, False)
    assert layer.dropout == 0.2 and layer.batch_first and not layer.add_zero_attn
    assert isinstance(layer.out_proj, qnn.Linear)


def test_mha_constructor_errors():
    with pytest.raises(ValueError, match="greater than 0"):
        qnn.MultiheadAttention(0, 2)
    with pytest.raises(AssertionError, match="divisible"):
        qnn.MultiheadAttention(10, 3)


@pytest.mark.parametrize(
    "shapes, kwargs, error, message",
    [
        (((4, 2, 6), (5, 2, 8), (5, 2, 8)), {}, AssertionError, "embedding dimension of 8"),
        (((4, 2, 8), (5, 2, 8), (5, 8)), {}, AssertionError, "to be 3-D"),
        (((2, 4, 2, 8),) * 3, {}, AssertionError, "unbatched 2D or batched 3D"),
        (((4, 2, 8), (5, 2, 8), (6, 2, 8)), {}, AssertionError, "does not match value shape"),
        (((4, 2, 8), (5, 2, 8), (5, 2, 8)), {"attn_mask": (5, 4)}, RuntimeError, "2D attn_mask"),
        (((4, 2, 8), (5, 2, 8), (5, 2, 8)), {"attn_mask": (2, 4, 5)}, RuntimeError, "3D attn_mask"),
        (
            ((4, 2, 8), (5, 2, 8), (5, 2, 8)),
            {"attn_mask": (1, 1, 4, 5)},
            AssertionError,
            "2-D or 3-D",
        ),
        (((4, 8), (5, 8), (5, 8)), {"attn_mask": (4, 4, 5)}, AssertionError, "attn_mask` shape"),
        (
            ((4, 2, 8), (5, 2, 8), (5, 2, 8)),
            {"key_padding_mask": (2, 4)},
            AssertionError,
            "key_padded_mask",
        ),
        (
            ((4, 2, 8), (5, 2, 8), (5, 2, 8)),
            {"key_padding_mask": (2, 5, 1)},
            AssertionError,
            "to be `None` or 2-D",
        ),
    ],
)
def test_mha_bad_shapes(shapes, kwargs, error, message):
    layer = qnn.MultiheadAttention(8, 2)
    tensors = [qilin.randn(*shape) for shape in shapes]
    masks = {name: qilin.zeros(*shape, dtype=qilin.bool) for name, shape in kwargs.items()}
    with pytest.raises(error, match=message):
        layer(*tensors, **masks)


def test_mha_mask_type_errors_and_warnings():
    layer = qnn.MultiheadAttention(8, 2)
    x = qilin.randn(4, 2, 8)
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        layer(x, x, x, attn_mask=qilin.zeros(4, 4, dtype=qilin.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        layer(x, x, x, is_causal=True)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        layer(
            x,
            x,
            x,
            key_padding_mask=qilin.zeros(2, 4, dtype=qilin.bool),
            attn_mask=qilin.zeros(4, 4),
        )


def test_mha_grad_reaches_bias_kv():
    layer = qnn.MultiheadAttention(8, 2, add_bias_kv=True)
    x = qilin.randn(3, 2, 8, requires_grad=True)
    layer(x, x, x)[0].sum().backward()
    assert layer.bias_k.grad is not None and layer.bias_v.grad is not None
    assert x.grad is not None and tuple(x.grad.shape) == (3, 2, 8)


def test_mha_float32_close_to_torch():
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    ours = qnn.MultiheadAttention(16, 4, batch_first=True)
    ours.load_state_dict({k: qilin.tensor(v.numpy()) for k, v in reference.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((2, 6, 16)).astype(np.float32)
    mask = np.triu(np.ones((6, 6), bool), 1)
    expected = reference(*[torch.tensor(data)] * 3, attn_mask=torch.tensor(mask))
    result = ours(*[qilin.tensor(data)] * 3, attn_mask=qilin.tensor(mask))
    assert result[0].dtype is qilin.float32
    for mine, theirs in zip(result, expected):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=1e-5)


def test_grad_input_spec_for_mha():
    """A Grad input through the harness: key and value sampled from a uniform range."""
    spec = LayerSpec(
        "mha-uniform",
        lambda nn: nn.MultiheadAttention(4, 1),
        [
            (3, 1, 4),
            Grad(lambda rng: rng.uniform(-3, 3, (2, 1, 4))),
            Grad(lambda rng: rng.uniform(-3, 3, (2, 1, 4))),
        ],
    )
    check_forward_backward(spec)
