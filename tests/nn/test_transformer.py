"""The Transformer modules through the layer harness (train mode with dropout 0, and eval mode
with torch's default dropout), their masks, default initialisation, generate_square_subsequent_mask
and bad inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import qilin
import qilin.nn as qnn

from .layer_harness import LayerSpec, check_forward_backward, check_repr, check_state_dict

CAUSAL = np.triu(np.full((5, 5), -np.inf), 1)
CAUSAL_BOOL = np.triu(np.ones((5, 5), bool), 1)
PADDING = np.array([[False] * 4 + [True], [False] * 3 + [True] * 2])
MEMORY_PADDING = np.array([[False] * 3 + [True], [False] * 4])


def encoder_layer(**kwargs):
    options = dict(dim_feedforward=16, dropout=0.0) | kwargs
    return lambda nn: nn.TransformerEncoderLayer(8, 2, **options)


def decoder_layer(**kwargs):
    options = dict(dim_feedforward=16, dropout=0.0) | kwargs
    return lambda nn: nn.TransformerDecoderLayer(8, 2, **options)


SRC = [(5, 2, 8)]
SRC_BF = [(2, 5, 8)]
TGT_MEMORY = [(5, 2, 8), (4, 2, 8)]

SPECS = [
    LayerSpec("encoder-layer", encoder_layer(), SRC),
    LayerSpec(
        "encoder-layer-default-eval", lambda nn: nn.TransformerEncoderLayer(8, 2), SRC, train=False
    ),
    LayerSpec(
        "encoder-layer-causal",
        encoder_layer(batch_first=True),
        SRC_BF,
        kwargs={"src_mask": CAUSAL, "is_causal": True},
    ),
    LayerSpec(
        "encoder-layer-bool-masks",
        encoder_layer(),
        SRC,
        kwargs={"src_mask": CAUSAL_BOOL, "src_key_padding_mask": PADDING},
    ),
    LayerSpec(
        "encoder-layer-norm-first-gelu",
        encoder_layer(norm_first=True, activation="gelu"),
        SRC,
        kwargs={"src_key_padding_mask": PADDING},
    ),
    LayerSpec("encoder-layer-callable", encoder_layer(activation=lambda x: x * x.sigmoid()), SRC),
    LayerSpec(
        "encoder-layer-module-act",
        lambda nn: nn.TransformerEncoderLayer(8, 2, 16, 0.0, nn.GELU(approximate="tanh")),
        SRC,
    ),
    LayerSpec("encoder-layer-no-bias", encoder_layer(bias=False, layer_norm_eps=1e-3), SRC),
    LayerSpec("encoder-layer-unbatched", encoder_layer(), [(5, 8)], kwargs={"src_mask": CAUSAL}),
    LayerSpec(
        "encoder-layer-eval-fast-path-shape",
        lambda nn: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
        SRC_BF,
        kwargs={"src_key_padding_mask": PADDING},
        train=False,
    ),
    LayerSpec(
        "encoder",
        lambda nn: nn.TransformerEncoder(encoder_layer()(nn), 2),
        SRC,
        kwargs={"mask": CAUSAL},
    ),
    LayerSpec(
        "encoder-norm-padding",
        lambda nn: nn.TransformerEncoder(
            encoder_layer(batch_first=True)(nn), 2, norm=nn.LayerNorm(8), enable_nested_tensor=False
        ),
        SRC_BF,
        kwargs={"mask": CAUSAL, "src_key_padding_mask": PADDING},
    ),
    LayerSpec(
        "encoder-eval",
        lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2),
        SRC,
        train=False,
        kwargs={"mask": CAUSAL, "is_causal": True},
    ),
    LayerSpec("decoder-layer", decoder_layer(), TGT_MEMORY),
    LayerSpec(
        "decoder-layer-masks",
        decoder_layer(),
        TGT_MEMORY,
        kwargs={
            "tgt_mask": CAUSAL,
            "memory_mask": np.zeros((5, 4)),
            "tgt_key_padding_mask": PADDING,
            "memory_key_padding_mask": MEMORY_PADDING,
        },
    ),
    LayerSpec(
        "decoder-layer-norm-first",
        decoder_layer(norm_first=True, batch_first=True),
        [(2, 5, 8), (2, 4, 8)],
        kwargs={"tgt_mask": CAUSAL, "tgt_is_causal": True},
    ),
    LayerSpec(
        "decoder-layer-eval",
        lambda nn: nn.TransformerDecoderLayer(8, 2, 16, activation="gelu"),
        TGT_MEMORY,
        train=False,
        kwargs={"tgt_mask": CAUSAL_BOOL},
    ),
    LayerSpec("decoder-layer-unbatched", decoder_layer(), [(5, 8), (4, 8)]),
    LayerSpec(
        "decoder",
        lambda nn: nn.TransformerDecoder(decoder_layer()(nn), 2, nn.LayerNorm(8)),
        TGT_MEMORY,
        kwargs={"tgt_mask": CAUSAL},
    ),
    LayerSpec(
        "transformer",
        lambda nn: nn.Transformer(8, 2, 2, 2, 16, dropout=0.0),
        [(4, 2, 8), (5, 2, 8)],
        kwargs={
            "tgt_mask": CAUSAL,
            "src_key_padding_mask": PADDING[:, 1:],
            "memory_key_padding_mask": PADDING[:, 1:],
        },
    ),
    LayerSpec(
        "transformer-batch-first-norm-first",
        lambda nn: nn.Transformer(
            8, 2, 1, 2, 16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"
        ),
        [(2, 4, 8), (2, 5, 8)],
        kwargs={"tgt_mask": CAUSAL},
    ),
    LayerSpec(
        "transformer-eval",
        lambda nn: nn.Transformer(8, 2, 1, 1, 16),
        [(4, 2, 8), (5, 2, 8)],
        train=False,
        kwargs={"tgt_mask": CAUSAL, "tgt_is_causal": True},
    ),
]


def _quiet(check, spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's nested-tensor and mask-type notices
        check(spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_forward_backward(spec):
    _quiet(check_forward_backward, spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_state_dict(spec):
    _quiet(check_state_dict, spec)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr(spec):
    _quiet(check_repr, spec)


def test_parameter_names_match_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Transformer(8, 2, 2, 1, 16)
    ours = qnn.Transformer(8, 2, 2, 1, 16)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "encoder.layers.1.self_attn.in_proj_weight" in ours.state_dict()
    assert "decoder.layers.0.multihead_attn.out_proj.bias" in ours.state_dict()


def test_encoder_clones_are_independent_copies():
    layer = qnn.TransformerEncoderLayer(8, 2, 16)
    encoder = qnn.TransformerEncoder(layer, 3)
    weights = [stack.linear1.weight for stack in encoder.layers]
    assert all(w is not layer.linear1.weight for w in weights)
    assert weights[0] is not weights[1]
    np.testing.assert_array_equal(weights[0].detach().numpy(), weights[2].detach().numpy())
    with qilin.no_grad():
        weights[0].add_(1.0)
    assert not np.allclose(weights[0].detach().numpy(), weights[1].detach().numpy())
    assert encoder.num_layers == 3 and encoder.norm is None and encoder.mask_check


def test_transformer_default_initialisation():
    model = qnn.Transformer(16, 4, 1, 1, 32)
    for name, parameter in model.named_parameters():
        values = parameter.detach().numpy()
        if values.ndim > 1:  # every matrix gets xavier_uniform_
            bound = math.sqrt(6 / (values.shape[0] + values.shape[1]))
            assert np.abs(values).max() <= bound, name
            assert np.abs(values).max() > 0.7 * bound, name
        elif name.endswith("norm1.weight") or name.endswith("norm.weight"):
            np.testing.assert_array_equal(values, np.ones(16))
        elif "in_proj_bias" in name or "out_proj.bias" in name or name.endswith("norm1.bias"):
            np.testing.assert_array_equal(values, np.zeros_like(values))


def test_layer_default_arguments():
    layer = qnn.TransformerEncoderLayer(8, 2)
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1
    assert layer.norm1.eps == 1e-5 and not layer.norm_first and not layer.self_attn.batch_first
    assert layer.activation is qnn.functional.relu and layer.activation_relu_or_gelu == 1
    assert qnn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    decoder = qnn.TransformerDecoderLayer(8, 2, activation="gelu")
    assert decoder.activation is qnn.functional.gelu and decoder.dropout3.p == 0.1
    model = qnn.Transformer()
    assert (model.d_model, model.nhead, len(model.encoder.layers)) == (512, 8, 6)
    assert len(model.decoder.layers) == 6 and model.encoder.layers[0].linear1.out_features == 2048


def test_generate_square_subsequent_mask():
    for size, dtype in ((4, None), (1, qilin.float64), (0, None)):
        mask = qnn.Transformer.generate_square_subsequent_mask(size, dtype=dtype)
        torch_dtype = None if dtype is None else torch.float64
        expected = torch.nn.Transformer.generate_square_subsequent_mask(size, dtype=torch_dtype)
        np.testing.assert_array_equal(mask.numpy(), expected.numpy())
        assert mask.dtype is (dtype or qilin.float32)


def test_train_mode_dropout_is_random_and_seeded():
    layer = qnn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = qilin.randn(5, 2, 8)
    qilin.manual_seed(4)
    first = layer(x)
    qilin.manual_seed(4)
    np.testing.assert_array_equal(layer(x).detach().numpy(), first.detach().numpy())
    layer.eval()
    assert not np.allclose(layer(x).detach().numpy(), first.detach().numpy())


def test_causal_mask_is_detected_in_the_stack():
    """A mask equal to the square subsequent mask gives the same result with or without the
    is_causal hint (the hint lets attention use its cached causal bias)."""
    encoder = qnn.TransformerEncoder(qnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2)
    x = qilin.randn(5, 2, 8)
    mask = qnn.Transformer.generate_square_subsequent_mask(5)
    hinted = encoder(x, mask=mask, is_causal=True)
    detected = encoder(x, mask=mask)
    explicit = encoder(x, mask=mask, is_causal=False)
    np.testing.assert_allclose(
        hinted.detach().numpy(), explicit.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        detected.detach().numpy(), explicit.detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_bad_inputs():
    with pytest.raises(RuntimeError, match="relu/gelu, not tanh"):
        qnn.TransformerEncoderLayer(8, 2, activation="tanh")
    model = qnn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        model(qilin.randn(4, 2, 8), qilin.randn(5, 3, 8))
    with pytest.raises(RuntimeError, match="feature number of src and tgt"):
        model(qilin.randn(4, 2, 8), qilin.randn(5, 2, 6))
    layer = qnn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(AssertionError, match="only bool and floating types of src_mask"):
        layer(qilin.randn(5, 2, 8), src_mask=qilin.zeros(5, 5, dtype=qilin.int64))
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        layer(qilin.randn(5, 2, 8), src_mask=qilin.zeros(4, 4))
    with pytest.raises(AssertionError, match="embedding dimension of 8"):
        layer(qilin.randn(5, 2, 6))


@pytest.mark.parametrize("norm_first", [False, True])
def test_eval_matches_torch_inference_fast_path(norm_first):
    """Under no_grad in eval mode torch runs its fused encoder kernels (and the nested-tensor
    path for padding); qilin's one path agrees in float64 (padded rows, zeroed by torch's
    nested tensors, are left out of the comparison)."""
    torch_layer = torch.nn.TransformerEncoderLayer(
        8, 2, 16, batch_first=True, norm_first=norm_first
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.nn.TransformerEncoder(torch_layer, 2).double().eval()
    ours = qnn.TransformerEncoder(
        qnn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=norm_first), 2
    ).double()
    ours.load_state_dict({k: qilin.tensor(v.numpy()) for k, v in reference.state_dict().items()})
    ours.eval()
    data = np.random.default_rng(5).standard_normal((2, 5, 8))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that nested tensors are a prototype
        plain = reference(torch.tensor(data)).numpy()
        padded = reference(torch.tensor(data), src_key_padding_mask=torch.tensor(PADDING)).numpy()
        attention = reference.layers[0].self_attn
        x = torch.tensor(data)
        fused_attention = attention(x, x, x, need_weights=False)[0].numpy()
    with qilin.no_grad():
        np.testing.assert_allclose(ours(qilin.tensor(data)).numpy(), plain, rtol=1e-9, atol=1e-11)
        result = ours(qilin.tensor(data), src_key_padding_mask=qilin.tensor(PADDING)).numpy()
        keep = ~PADDING
        np.testing.assert_allclose(result[keep], padded[keep], rtol=1e-9, atol=1e-11)
        x = qilin.tensor(data)
        mine = ours.layers[0].self_attn(x, x, x, need_weights=False)[0].numpy()
        np.testing.assert_allclose(mine, fused_attention, rtol=1e-9, atol=1e-11)
