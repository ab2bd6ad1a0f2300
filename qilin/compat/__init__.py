"""Running PyTorch code on qilin.

`python -m qilin.compat.torch script.py [args]` runs an unmodified PyTorch script: `torch` and
every `torch.X.Y` resolve to `qilin` / `qilin.X.Y` (see torch.py). What qilin lacks fails with
one line, "qilin does not provide torch.X yet", both under that runner and with a plain
`import qilin as torch`: the packages of the torch surface end with

    __getattr__ = missing_attribute(__name__)

This module imports nothing from qilin, so qilin/__init__.py can use it while it loads.
"""

from __future__ import annotations

__all__ = [
    "NotProvidedError",
    "NotProvidedModuleError",
    "missing_attribute",
    "not_provided",
    "torch_name",
]


def torch_name(qilin_name: str) -> str:
    """'qilin.nn.functional' -> 'torch.nn.functional' (names outside qilin pass unchanged)."""
    if qilin_name == "qilin" or qilin_name.startswith("qilin."):
        return "torch" + qilin_name[len("qilin") :]
    return qilin_name


def not_provided(name: str) -> str:
    return f"qilin does not provide {name} yet"


class NotProvidedError(AttributeError):
    """A torch attribute qilin lacks. Still an AttributeError: hasattr() and getattr(default)
    work as they do on torch."""


class NotProvidedModuleError(ModuleNotFoundError):
    """A torch submodule qilin lacks (`import torch.distributions`)."""


def missing_attribute(module_name: str):
    """A module-level `__getattr__` for the qilin module `module_name`: unknown names raise
    NotProvidedError naming the torch spelling. Dunder names keep Python's own message, since
    tools probe them (`__path__`, `__wrapped__`) and expect the plain error."""
    public = torch_name(module_name)

    def __getattr__(name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module '{module_name}' has no attribute '{name}'")
        raise NotProvidedError(not_provided(f"{public}.{name}"), name=name)

    return __getattr__
