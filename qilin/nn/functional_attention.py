"""Attention in nn.functional: scaled_dot_product_attention and multi_head_attention_forward.

    attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(E) by default

Both are composites of qilin ops (matmul and the fused softmax), so gradients of any order come
from the primitives' vjps. Masks become one additive float `bias`: 0 where a key takes part,
-inf where it does not. Rows whose keys are all masked out give zeros in
scaled_dot_product_attention (as torch's math kernel does), and NaN in the explicit
`need_weights=True` path of multi-head attention (as torch does there too).
"""

from __future__ import annotations

import functools
import math
import warnings

from .. import dtypes
from ..errors import located, user_stacklevel
from ..ops import creation, elementwise, movement
from ..ops.linalg import matmul
from ..ops.softmax import SOFTMAX
from ..tensor import Tensor
from .functional import dropout, linear, pad

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")


# ----- scaled dot product attention ----------------------------------------------------------
def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """softmax(Q K^T * scale + mask) V over (..., L, E) queries, (..., S, E) keys and
    (..., S, Ev) values -> (..., L, Ev).

    attn_mask: bool (True = the key takes part) or float (added to the scores), broadcastable
    to (..., L, S). is_causal: query i sees keys 0..i (top-left aligned, as torch). enable_gqa:
    key/value heads (dim -3) are repeated to match the query heads.
    """
    _check_attention_inputs(query, key, value, dropout_p)
    if enable_gqa:
        key, value = _repeat_heads(query, key), _repeat_heads(query, value)
    if is_causal:
        if attn_mask is not None:
            raise located(
                RuntimeError(
                    "scaled_dot_product_attention: Explicit attn_mask should not be set when "
                    "is_causal=True (got an attn_mask of shape "
                    f"{tuple(attn_mask.shape)})"
                )
            )
        bias = _causal_bias(query.shape[-2], key.shape[-2], query.dtype, query.device)
        dead = None
    else:
        bias, dead = _sdpa_bias(attn_mask, query)
    output, _ = _attend(query, key, value, bias, dead, dropout_p, scale)
    return output


def _attend(query, key, value, bias, dead, dropout_p, scale):
    """(output, weights) for (..., L, E) queries; `bias` is added to the scores, `dead` marks
    the rows (..., L, 1) whose keys are all masked out: their weights become 0."""
    if scale is None:
        size = query.shape[-1]
        scale = 1.0 / math.sqrt(size) if size else math.inf
    # Scaling the queries (L x E) is cheaper than scaling the scores (L x S).
    scores = matmul(query * scale, key.transpose(-2, -1))  # (..., L, S)
    if bias is not None:
        scores = scores + bias
    weights = SOFTMAX(scores, dim=scores.ndim - 1)
    if dead is not None:
        weights = elementwise.where(dead, 0.0, weights)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return matmul(weights, value), weights


def _check_attention_inputs(query, key, value, dropout_p) -> None:
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: Expected query, key, and value to all be at least "
                f"2 dimensional, but got query.dim: {query.ndim} key.dim: {key.ndim} and "
                f"value.dim: {value.ndim} instead."
            )
        )
    if not (query.dtype is key.dtype is value.dtype):
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: Expected query, key, and value to have the same "
                f"dtype, but got query.dtype: {query.dtype.name} key.dtype: {key.dtype.name} and "
                f"value.dtype: {value.dtype.name} instead."
            )
        )
    if not query.dtype.is_floating_point:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: expected floating point query, key and value, "
                f"got {query.dtype.name}"
            )
        )
    if query.shape[-1] != key.shape[-1]:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: query and key must have the same embedding size "
                f"(last dim), got query of shape {tuple(query.shape)} and key of shape "
                f"{tuple(key.shape)}"
            )
        )
    if key.shape[-2] != value.shape[-2]:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: key and value must have the same sequence length "
                f"(dim -2), got key of shape {tuple(key.shape)} and value of shape "
                f"{tuple(value.shape)}"
            )
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise located(
            ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
        )


def _repeat_heads(query, tensor):
    """Grouped-query attention: each key/value head serves Hq / H query heads (dim -3)."""
    if query.ndim < 3 or tensor.ndim < 3:
        return tensor
    heads, query_heads = tensor.shape[-3], query.shape[-3]
    if heads == 0 or query_heads % heads:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: Number of heads in key and value must divide the "
                f"number of heads in query (enable_gqa=True), got {query_heads} query heads and "
                f"a key/value of shape {tuple(tensor.shape)} ({heads} heads)"
            )
        )
    if heads == query_heads:
        return tensor
    return movement.repeat_interleave(tensor, query_heads // heads, tensor.ndim - 3)


def _sdpa_bias(mask, query):
    """(bias, dead) for scaled_dot_product_attention's mask: bias is added to the scores; dead
    (or None) marks rows with no key left, whose bias is reset to 0 so the softmax stays finite
    (its weights are zeroed afterwards, so the gradient there is 0 too)."""
    if mask is None:
        return None, None
    if mask.dtype is dtypes.bool:
        dead = ~mask.any(-1, keepdim=True)
        bias = creation.zeros(tuple(mask.shape), dtype=query.dtype, device=query.device)
        bias = bias.masked_fill(~mask, _NEG_INF)
    elif mask.dtype is query.dtype:
        bias = mask
        dead = (mask == _NEG_INF).all(-1, keepdim=True) if mask.shape[-1] else None
    else:
        raise located(
            RuntimeError(
                "scaled_dot_product_attention: Expected attn_mask dtype to be bool or to match "
                f"query dtype, but got attn_mask.dtype: {mask.dtype.name} and query.dtype: "
                f"{query.dtype.name} instead."
            )
        )
    if dead is None or not bool(dead.any()):
        return bias, None
    return elementwise.where(dead, 0.0, bias), dead


@functools.lru_cache(maxsize=32)
def _causal_bias(target: int, source: int, dtype, device) -> Tensor:
    """(L, S): -inf above the diagonal (key j > query i), 0 elsewhere. Cached: it is a constant
    and a causal language model asks for the same one every step."""
    full = creation.full((target, source), _NEG_INF, dtype=dtype, device=device)
    return full.triu(1)


# ----- multi-head attention ------------------------------------------------------------------
def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """Multi-head attention on (L, N, E) query and (S, N, E_k|E_v) key/value (or unbatched
    (L, E) / (S, E)): project, split into heads, attend, merge and project out.
    Returns (output, weights): weights (N, L, S) averaged over heads, (N, heads, L, S) when
    average_attn_weights=False, or None when need_weights=False.

    Bool masks mark what is *excluded* (True = masked out), unlike scaled_dot_product_attention;
    float masks are added to the scores. attn_mask is (L, S) or (N * num_heads, L, S);
    key_padding_mask is (N, S).
    """
    return _multi_head_attention(
        query,
        key,
        value,
        embed_dim_to_check,
        num_heads,
        _Projections(
            in_proj_weight,
            in_proj_bias,
            q_proj_weight if use_separate_proj_weight else None,
            k_proj_weight if use_separate_proj_weight else None,
            v_proj_weight if use_separate_proj_weight else None,
            use_separate_proj_weight,
            bias_k,
            bias_v,
            out_proj_weight,
            out_proj_bias,
        ),
        add_zero_attn=add_zero_attn,
        dropout_p=dropout_p if training else 0.0,
        key_padding_mask=key_padding_mask,
        need_weights=need_weights,
        attn_mask=attn_mask,
        static_k=static_k,
        static_v=static_v,
        average_attn_weights=average_attn_weights,
        is_causal=is_causal,
        batch_first=False,
    )


class _Projections:
    """The weights of one multi-head attention: the packed (3E, E) in_proj_weight, or separate
    q/k/v weights when the key or value size differs from embed_dim."""

    __slots__ = (
        "in_weight",
        "in_bias",
        "q_weight",
        "k_weight",
        "v_weight",
        "separate",
        "bias_k",
        "bias_v",
        "out_weight",
        "out_bias",
    )

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


def _multi_head_attention(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    weights: _Projections,
    *,
    add_zero_attn,
    dropout_p,
    key_padding_mask,
    need_weights,
    attn_mask,
    static_k,
    static_v,
    average_attn_weights,
    is_causal,
    batch_first,
):
    """The work of multi_head_attention_forward; `batch_first` says whether 3-D inputs are
    (N, L, E) or (L, N, E). Internally everything is batch first: heads are (N, H, L, hd)."""
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    elif not batch_first:
        query, key, value = _batch_first(query, key, value)
    batch, target, embed_dim = query.shape
    source = key.shape[1]

    key_padding_mask = _float_mask(
        key_padding_mask, "key_padding_mask", query.dtype, attn_mask, "attn_mask"
    )
    if is_causal and attn_mask is None:
        raise located(
            RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                "module method `generate_square_subsequent_mask` to create this mask."
            )
        )
    # The hint lets the fast path replace the mask by a causal one, as torch does.
    use_causal = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if use_causal else _float_mask(attn_mask, "attn_mask", query.dtype)

    head_dim = _check_embed_dims(query, key, value, embed_dim_to_check, num_heads, weights)
    q, k, v = _project(query, key, value, weights, embed_dim)  # (N, L|S, E)
    attn_mask = _shape_attn_mask(attn_mask, batch, num_heads, target, source)
    if weights.bias_k is not None or weights.bias_v is not None:
        k, v, attn_mask, key_padding_mask = _append_bias_kv(
            k, v, weights, attn_mask, key_padding_mask, static_k, static_v
        )
    q, k, v = (_split_heads(t, num_heads, head_dim) for t in (q, k, v))  # (N, H, T, hd)
    k = _static(static_k, k, "static_k", batch, num_heads, head_dim)
    v = _static(static_v, v, "static_v", batch, num_heads, head_dim)
    if add_zero_attn:
        k, v = (_append_zero(t) for t in (k, v))
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    bias = _merge_masks(attn_mask, key_padding_mask, batch, k.shape[2])

    if need_weights:
        output, attention = _attend(q, k, v, bias, None, dropout_p, None)
        if average_attn_weights:
            attention = attention.mean(1)
    else:
        if use_causal:
            bias, dead = _causal_bias(target, k.shape[2], q.dtype, q.device), None
        else:
            bias, dead = _sdpa_bias(bias, q)
        output, attention = _attend(q, k, v, bias, dead, dropout_p, None)[0], None
    output = output.transpose(1, 2).reshape(batch, target, embed_dim)  # merge the heads
    output = linear(output, weights.out_weight, weights.out_bias)
    if not batched:
        return output.squeeze(0), None if attention is None else attention.squeeze(0)
    return (output if batch_first else output.transpose(0, 1)), attention


def _batch_first(query, key, value):
    """(T, N, E) -> (N, T, E) views; the same tensor stays the same object (self-attention)."""
    moved = {}
    for tensor in (query, key, value):
        if id(tensor) not in moved:
            moved[id(tensor)] = tensor.transpose(0, 1)
    return moved[id(query)], moved[id(key)], moved[id(value)]


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """torch's shape rules for multi-head attention; returns whether the input is batched."""
    if query.ndim not in (2, 3):
        raise located(
            AssertionError(
                "query should be unbatched 2D or batched 3D tensor but received "
                f"{query.ndim}-D query tensor (shape {tuple(query.shape)})"
            )
        )
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise located(
            AssertionError(
                f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        )
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise located(
            AssertionError(
                f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor instead"
            )
        )
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise located(
                AssertionError(
                    f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                    f"{attn_mask.ndim}-D tensor instead"
                )
            )
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise located(
                AssertionError(
                    f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}"
                )
            )
    return batched


def _float_mask(mask, name, dtype, other=None, other_name=""):
    """A bool mask (True = masked out) becomes 0 / -inf in `dtype`; a float mask is kept."""
    if mask is None:
        return None
    is_bool = mask.dtype is dtypes.bool
    if not is_bool and not mask.dtype.is_floating_point:
        raise located(
            AssertionError(
                f"only bool and floating types of {name} are supported, got {mask.dtype.name}"
            )
        )
    if other is not None and other.dtype is not mask.dtype:
        warnings.warn(
            f"Support for mismatched {name} and {other_name} is deprecated. Use same type for "
            f"both instead (got {mask.dtype.name} and {other.dtype.name}).",
            stacklevel=user_stacklevel(),
        )
    if not is_bool:
        return mask
    zeros = creation.zeros(tuple(mask.shape), dtype=dtype, device=mask.device)
    return zeros.masked_fill(mask, _NEG_INF)


def _check_embed_dims(query, key, value, expected, num_heads, weights) -> int:
    embed_dim = query.shape[-1]
    if embed_dim != expected:
        raise located(
            AssertionError(
                f"was expecting embedding dimension of {expected}, but got {embed_dim} (query "
                f"of shape {tuple(query.shape)})"
            )
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise located(
            AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
        )
    if weights.separate:
        if key.shape[:2] != value.shape[:2]:
            raise located(
                AssertionError(
                    f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                    f"{tuple(value.shape[:2])}"
                )
            )
        for name in ("q_weight", "k_weight", "v_weight"):
            if getattr(weights, name) is None:
                raise located(
                    AssertionError(
                        f"use_separate_proj_weight is True but {name[0]}_proj_weight is None"
                    )
                )
    else:
        if key.shape != value.shape:
            raise located(
                AssertionError(
                    f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}"
                )
            )
        if weights.in_weight is None:
            raise located(
                AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
            )
    return head_dim


def _project(query, key, value, weights: _Projections, embed_dim: int):
    """The input projections: (N, T, E_x) -> (N, T, E) each. Self-attention with packed
    weights is one matmul for all three."""
    in_bias = weights.in_bias
    if weights.separate:
        biases = (None,) * 3 if in_bias is None else in_bias.chunk(3)
        return (
            linear(query, weights.q_weight, biases[0]),
            linear(key, weights.k_weight, biases[1]),
            linear(value, weights.v_weight, biases[2]),
        )
    weight = weights.in_weight
    if query is key and key is value:
        return linear(query, weight, in_bias).chunk(3, -1)
    if key is value:
        w_q, w_kv = weight.split([embed_dim, 2 * embed_dim])
        b_q, b_kv = (None, None) if in_bias is None else in_bias.split([embed_dim, 2 * embed_dim])
        return (linear(query, w_q, b_q), *linear(key, w_kv, b_kv).chunk(2, -1))
    w_q, w_k, w_v = weight.chunk(3)
    b_q, b_k, b_v = (None,) * 3 if in_bias is None else in_bias.chunk(3)
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def _shape_attn_mask(mask, batch, num_heads, target, source):
    """(L, S) stays (broadcast over batch and heads); (N * H, L, S) becomes (N, H, L, S)."""
    if mask is None:
        return None
    if mask.ndim == 2:
        if tuple(mask.shape) != (target, source):
            raise located(
                RuntimeError(
                    f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but should be "
                    f"{(target, source)}."
                )
            )
        return mask
    expected = (batch * num_heads, target, source)
    if tuple(mask.shape) != expected:
        raise located(
            RuntimeError(
                f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but should be {expected}."
            )
        )
    return mask.reshape(batch, num_heads, target, source)


def _append_bias_kv(k, v, weights, attn_mask, key_padding_mask, static_k, static_v):
    """add_bias_kv: one learned key and value appended to every sequence (N, S + 1, E)."""
    if weights.bias_k is None or weights.bias_v is None:
        missing = "bias_v" if weights.bias_v is None else "bias_k"
        present = "bias_k" if missing == "bias_v" else "bias_v"
        raise located(AssertionError(f"{present} is set but {missing} is None"))
    if static_k is not None or static_v is not None:
        name = "key" if static_k is not None else "value"
        raise located(AssertionError(f"bias cannot be added to static {name}."))
    batch = k.shape[0]
    k = movement.cat([k, weights.bias_k.reshape(1, 1, -1).expand(batch, 1, -1)], 1)
    v = movement.cat([v, weights.bias_v.reshape(1, 1, -1).expand(batch, 1, -1)], 1)
    attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
    key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    return k, v, attn_mask, key_padding_mask


def _split_heads(tensor, num_heads, head_dim):
    """(N, T, H * hd) -> (N, H, T, hd)."""
    batch, length, _ = tensor.shape
    return tensor.reshape(batch, length, num_heads, head_dim).transpose(1, 2)


def _static(given, computed, name, batch, num_heads, head_dim):
    """static_k / static_v: precomputed (N * H, S, hd) keys or values used as they are."""
    if given is None:
        return computed
    if given.ndim != 3 or given.shape[0] != batch * num_heads or given.shape[2] != head_dim:
        raise located(
            AssertionError(
                f"expecting {name} of shape ({batch * num_heads}, S, {head_dim}), but got "
                f"{tuple(given.shape)}"
            )
        )
    return given.reshape(batch, num_heads, given.shape[1], head_dim)


def _append_zero(tensor):
    """add_zero_attn: an all-zero key / value appended to every sequence: (N, H, S + 1, hd)."""
    shape = tuple(tensor.shape[:2]) + (1, tensor.shape[3])
    zeros = creation.zeros(shape, dtype=tensor.dtype, device=tensor.device)
    return movement.cat([tensor, zeros], 2)


def _merge_masks(attn_mask, key_padding_mask, batch, source):
    """One float bias broadcastable to (N, H, L, S): attn_mask + key_padding_mask."""
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, source):
            raise located(
                AssertionError(
                    f"Expected key_padded_mask of shape {(batch, source)} (batch, source length), "
                    f"but got {tuple(key_padding_mask.shape)}"
                )
            )
        key_padding_mask = key_padding_mask.reshape(batch, 1, 1, source)
        return key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    return attn_mask
