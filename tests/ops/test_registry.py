"""The registry is complete: every op has each part of its record and at least one test spec."""

import importlib
import pathlib

from qilin.ops import OPS
from qilin.ops.registry import Op


def _all_specs():
    specs = []
    for path in sorted(pathlib.Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.ops.{path.stem}")
        specs.extend(getattr(module, "SPECS", []))
    return specs


def test_every_op_has_all_parts():
    for name, op in OPS.items():
        assert isinstance(op, Op)
        assert callable(op.meta), f"{name}: no meta rule"
        assert callable(op.kernel), f"{name}: no kernel"
        assert op.vjp is not None or not op.differentiable, f"{name}: no vjp and not marked"
        assert isinstance(op.lowering, dict), f"{name}: no lowering slot"
        assert op.family in ("elementwise", "reduction", "movement", "indexing", "library"), name


def test_every_op_has_a_spec():
    covered = {op for spec in _all_specs() for op in spec.ops}
    unknown = covered - set(OPS)
    assert not unknown, f"specs name ops that are not registered: {sorted(unknown)}"
    missing = set(OPS) - covered
    assert not missing, f"ops without a test spec: {sorted(missing)}"
