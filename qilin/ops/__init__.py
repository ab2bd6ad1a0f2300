"""THE primitive op set: one record per op (see registry.py), grouped by family.

Importing this package registers every op; `OPS` maps names to records.
"""

from . import (
    combine,
    composite,
    convolution,
    creation,
    ctc,
    decompositions,
    distance,
    elementwise,
    gamma,
    indexing,
    linalg,
    movement,
    normalization,
    pooling,
    random_ops,
    recurrent,
    reduction,
    softmax,
    sorting,
    spectral,
    statistics,
    windows,
)
from .registry import OPS, Op, Spec, get

__all__ = [
    "OPS",
    "Op",
    "Spec",
    "get",
    "combine",
    "composite",
    "convolution",
    "creation",
    "ctc",
    "decompositions",
    "distance",
    "elementwise",
    "gamma",
    "indexing",
    "linalg",
    "movement",
    "normalization",
    "pooling",
    "random_ops",
    "recurrent",
    "reduction",
    "softmax",
    "sorting",
    "spectral",
    "statistics",
    "windows",
]
