"""qilin.compile's foundation: the graph IR, the tracer and the NumPy graph executor.

`trace(fn, *args)` records the primitives `fn` applies into a `Graph` (graph.py) through the
same dispatcher and op records eager uses; `eval_graph(graph, *args)` runs it with the ops'
eager kernels. Passes, guards and code generation build on these.
"""

from .graph import Graph, Node, Value
from .interpreter import eval_graph
from .trace import TraceError, trace

__all__ = ["Graph", "Node", "Value", "TraceError", "trace", "eval_graph"]
