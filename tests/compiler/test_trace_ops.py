"""Every op spec of the core suite, traced and run on the graph executor, equals eager bit for
bit; the specs that cannot be traced yet raise the tracer's clear errors (listed below)."""

import numpy as np
import pytest

import qilin
from qilin.compiler import TraceError, eval_graph, trace
from qilin.compiler.graph import flatten
from tests.ops import harness
from tests.ops.test_registry import _all_specs

_READS_VALUES = (TraceError, "reads tensor values in Python (a check or a data-dependent result)")
_DATA_SHAPE = (NotImplementedError, "output shape depends on the input values")
_IN_PLACE = (NotImplementedError, "in-place write (not traced yet)")

# spec id -> (sample indices or None for all, expected error, why)
EXCLUDED = {
    "clamp-methods": (None, *_IN_PLACE),  # clamp_/clip_ in the same call
    "setitem": (None, *_IN_PLACE),
    "setitem_mask": (None, *_IN_PLACE),
    "setitem_int_then_list": (None, *_IN_PLACE),
    "index_put_inplace": (None, *_IN_PLACE),
    "allclose-equal": (None, TraceError, "returns a Python bool of the values"),
    "mvlgamma": (None, TraceError, "checks the input's domain on its values"),
    "index": ({2}, TraceError, "a 0-d tensor used as a Python index"),
    "take": (None, TraceError, "checks index bounds on the values"),
    "masked_scatter": (None, TraceError, "counts the mask's True values in Python"),
    "lstsq_residuals": (None, TraceError, "residuals depend on the rank found"),
    "repeat_interleave_tensor": (None, *_READS_VALUES),
    "repeat_interleave_0d_tensor": (None, *_READS_VALUES),
    "repeat_interleave_counts": (None, *_READS_VALUES),
    "istft": (None, TraceError, "checks the window's overlap-add on its values"),
    "istft_no_center_length": (None, TraceError, "checks the window's overlap-add on its values"),
    "index_lists": ({4}, *_DATA_SHAPE),  # a boolean list key
    "index_mask": (None, *_DATA_SHAPE),
    "index_mask_inner": (None, *_DATA_SHAPE),
    "index_comparison_mask": (None, *_DATA_SHAPE),
    "masked_select": (None, *_DATA_SHAPE),
    "nonzero": (None, *_DATA_SHAPE),
    "nonzero_tuple": (None, *_DATA_SHAPE),
    "nonzero_tuple_0d": (None, *_DATA_SHAPE),
    "where_condition": (None, *_DATA_SHAPE),
    "argwhere": (None, *_DATA_SHAPE),
    "unique": (None, *_DATA_SHAPE),
    "unique_float": (None, *_DATA_SHAPE),
    "unique_consecutive": (None, *_DATA_SHAPE),
    "unique_consecutive_values": (None, *_DATA_SHAPE),
    "bincount": (None, *_DATA_SHAPE),
    "bincount_weights": (None, *_DATA_SHAPE),
    "bincount_weights_grad": (None, *_DATA_SHAPE),
}

SPECS = _all_specs()


def _excluded(spec, index):
    entry = EXCLUDED.get(spec.id)
    if entry is None or (entry[0] is not None and index not in entry[0]):
        return None
    return entry


def _cases():
    for spec in SPECS:
        for index in range(len(spec.samples)):
            yield pytest.param(spec, index, spec.dtypes[0], id=f"{spec.id}-{index}")


def _inputs(spec, index, dtype, requires_grad=False):
    values = harness._arrays(spec, index, dtype)
    return harness._to_qilin(values, spec.samples[index], requires_grad)


def _tensors(result) -> list:
    return flatten(result, lambda item: isinstance(item, qilin.Tensor))


@pytest.mark.parametrize("spec,index,dtype", list(_cases()))
def test_traced_op_equals_eager(spec, index, dtype):
    def call(*args):
        return spec.call(qilin, *args)

    excluded = _excluded(spec, index)
    if excluded is not None:
        with pytest.raises(excluded[1]) as caught:
            trace(call, *_inputs(spec, index, dtype))
        assert "qilin.compile" in str(caught.value) and "(at " in str(caught.value)
        return
    eager = call(*_inputs(spec, index, dtype))
    inputs = _inputs(spec, index, dtype)  # fresh: a spec may write into its inputs
    graph = trace(call, *inputs)
    graph.verify()
    assert all(node.op is qilin.ops.OPS[node.op.name] for node in graph.nodes)
    result = eval_graph(graph, *inputs)
    (want, want_structure), (got, got_structure) = _tensors(eager), _tensors(result)
    assert repr(got_structure) == repr(want_structure)
    for position, (w, g) in enumerate(zip(want, got)):
        assert g.dtype is w.dtype and g.shape == w.shape, f"output {position}"
        # assert_array_equal treats NaN as equal to NaN: bit for bit, NaN-aware.
        np.testing.assert_array_equal(g.numpy(), w.detach().numpy(), err_msg=f"output {position}")


def test_exclusions_name_real_specs():
    ids = {spec.id for spec in SPECS}
    assert set(EXCLUDED) <= ids, sorted(set(EXCLUDED) - ids)
    traced = sum(1 for s in SPECS for i in range(len(s.samples)) if _excluded(s, i) is None)
    excluded = sum(len(s.samples) for s in SPECS) - traced
    assert traced > 10 * excluded  # the exclusions stay the exception
