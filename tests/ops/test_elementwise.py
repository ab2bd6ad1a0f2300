"""Specs for the elementwise ops."""

import numpy as np

from .harness import Arg, OpSpec, make_tests

A = (3, 4)

SPECS = [
    OpSpec("exp", lambda lib, x: lib.exp(x), [(Arg(A),), (Arg(()),)], ref=np.exp),
    OpSpec("add", lambda lib, x, y: lib.add(x, y), [(Arg(A), Arg((4,))), (Arg(A), 2.5)],
           ref=np.add),
    OpSpec("mul", lambda lib, x, y: x * y, [(Arg(A), Arg((3, 1))), (Arg(()), Arg(A))],
           ref=np.multiply),
    OpSpec("tanh", lambda lib, x: lib.tanh(x), [(Arg(A),)], ref=np.tanh),
]

make_tests(SPECS, globals())
