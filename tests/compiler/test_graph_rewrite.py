"""The graph IR's walking and rewriting helpers (users, replace_uses, remove_node): what
passes (dead code, common subexpressions, fusion) build on. Rewritten graphs still verify and
still compute what eager computes."""

import numpy as np
import pytest

import qilin
from qilin.compiler import eval_graph, trace


def _twice_the_same(x):
    a = x.exp()
    b = x.exp()  # a common subexpression
    return a + b, b.sum()


def test_users_lists_each_reader_once_in_order():
    graph = trace(lambda x: (x * x + x, x.sum()), qilin.ones(3))
    x = graph.inputs[0]
    assert [node.op.name for node in graph.users(x)] == ["mul", "add", "sum"]
    assert graph.users(graph.nodes[-1].outputs[0]) == []


def test_replace_uses_then_remove_node_keeps_the_results():
    x = qilin.tensor([0.5, -1.0, 2.0])
    graph = trace(_twice_the_same, x)
    first, second = graph.nodes[0].outputs[0], graph.nodes[1].outputs[0]
    assert len(graph.users(second)) == 2
    graph.replace_uses(second, first)
    assert graph.users(second) == [] and len(graph.users(first)) == 2
    graph.remove_node(second.producer)
    graph.verify()
    assert [node.op.name for node in graph.nodes] == ["exp", "add", "sum"]
    for got, want in zip(eval_graph(graph, x), _twice_the_same(x)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def _joined(x):
    return qilin.cat([x.exp(), x.exp()]), x.exp()


def test_replace_uses_reaches_outputs_and_tuple_inputs():
    x = qilin.tensor([[0.5, -1.0], [2.0, 3.0]])
    graph = trace(_joined, x)
    exps = [node.outputs[0] for node in graph.nodes if node.op.name == "exp"]
    for value in exps[1:]:
        graph.replace_uses(value, exps[0])
        graph.remove_node(value.producer)
    graph.verify()
    assert [node.op.name for node in graph.nodes] == ["exp", "cat"]
    for got, want in zip(eval_graph(graph, x), _joined(x)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_remove_node_refuses_a_used_node():
    graph = trace(lambda x: x.exp().neg(), qilin.ones(2))
    with pytest.raises(ValueError, match=r"still used by %1.*neg"):
        graph.remove_node(graph.nodes[0])
    with pytest.raises(ValueError, match="as a graph output"):
        graph.remove_node(graph.nodes[1])
