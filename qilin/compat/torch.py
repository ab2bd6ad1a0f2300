"""`python -m qilin.compat.torch script.py [args]`: run an unmodified PyTorch script on qilin.

An import hook placed first on sys.meta_path answers `torch` and every `torch.X.Y` with the
module `qilin` / `qilin.X.Y` itself (so `torch.__name__ == "qilin"`), even where real torch is
installed. The script then runs as `python script.py args` would run it: as `__main__`, with
sys.argv set to the script and its arguments and the script's folder first on sys.path.

What qilin lacks fails with one line on stderr and a non-zero exit, not a traceback:

    qilin does not provide torch.distributions yet (at train.py:3: import torch.distributions)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import re
import runpy
import sys
import traceback
import types

from . import (
    NotProvidedError,
    NotProvidedModuleError,
    missing_attribute,
    not_provided,
    torch_name,
)

__all__ = ["TorchFinder", "install", "uninstall", "main"]

_QILIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_USAGE = "usage: python -m qilin.compat.torch script.py [args ...]"


class _AliasLoader(importlib.abc.Loader):
    """Loads `torch.X` as the already imported qilin module (or object) `target`."""

    def __init__(self, target) -> None:
        self.target = target
        self.spec = getattr(target, "__spec__", None)

    def create_module(self, spec):
        return self.target

    def exec_module(self, module) -> None:
        # The import system stamped the torch spec on the qilin module; qilin keeps its own,
        # so that its later relative imports and reloads still see the qilin package.
        if isinstance(module, types.ModuleType) and self.spec is not None:
            module.__spec__ = self.spec


class TorchFinder(importlib.abc.MetaPathFinder):
    """Maps `torch[.X.Y]` onto `qilin[.X.Y]`; a name qilin lacks raises NotProvidedModuleError."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        counterpart = _counterpart(fullname)
        is_package = hasattr(counterpart, "__path__")
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(counterpart), is_package=is_package
        )


def _counterpart(fullname: str):
    """The qilin module for the torch name `fullname`, or a non-module attribute that torch
    makes importable (`torch.cuda` is an object in qilin)."""
    name = "qilin" + fullname[len("torch") :]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        # Only a missing qilin module of this chain means "not provided"; a missing third
        # party dependency keeps its own error.
        if error.name is None or not (name == error.name or name.startswith(error.name + ".")):
            raise
        parent_name, _, last = name.rpartition(".")
        value = vars(sys.modules[parent_name]).get(last) if parent_name in sys.modules else None
        if value is None:
            raise NotProvidedModuleError(not_provided(fullname), name=fullname) from None
        return value
    _guard(module)
    return module


def _guard(module) -> None:
    """Give a qilin module that lacks one the `__getattr__` that names the torch spelling."""
    if isinstance(module, types.ModuleType) and "__getattr__" not in vars(module):
        module.__getattr__ = missing_attribute(module.__name__)


_finder = TorchFinder()


def install() -> None:
    """Put the hook first on sys.meta_path (idempotent). Torch modules imported before are
    forgotten, so later imports of them get qilin."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        del sys.modules[name]
    import qilin  # noqa: F401  (guard everything qilin has loaded with the torch-name errors)

    for name, module in list(sys.modules.items()):
        if name == "qilin" or name.startswith("qilin."):
            _guard(module)


def uninstall() -> None:
    """Remove the hook and the torch names it bound."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        del sys.modules[name]


# ----- the runner ----------------------------------------------------------------------------
_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '(qilin(?:\.[\w.]+)?)'")


def _not_provided_message(error: BaseException) -> str | None:
    """The "qilin does not provide torch.X yet" behind `error`, or None. `from torch.nn import
    Missing` surfaces as a plain ImportError that names the qilin module: translated here."""
    if isinstance(error, (NotProvidedError, NotProvidedModuleError)):
        return str(error.args[0]) if error.args else str(error)
    if isinstance(error, ImportError):
        match = _CANNOT_IMPORT.match(str(error))
        module = sys.modules.get(match.group(2)) if match else None
        if module is not None and match.group(1) not in vars(module):
            return not_provided(f"{torch_name(match.group(2))}.{match.group(1)}")
    return None


def _script_frames(error: BaseException, script: str):
    """The traceback of `error` from the script's first frame on (as `python script.py` shows
    it), and the location 'file:line: code' of its innermost frame outside qilin."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    location = ""
    for frame in traceback.extract_tb(tb):
        if not frame.filename.startswith((_QILIN_DIR, "<frozen")):
            location = f"{frame.filename}:{frame.lineno}" + (
                f": {frame.line}" if frame.line else ""
            )
    return tb, location


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr)
        return 0 if argv else 2
    script, *args = argv
    if not os.path.isfile(script):
        print(f"qilin.compat.torch: can't open file '{script}'", file=sys.stderr)
        return 2
    install()
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except Exception as error:
        tb, location = _script_frames(error, script)
        message = _not_provided_message(error)
        if message is None:  # the script's own error: its traceback, as python prints it
            traceback.print_exception(type(error), error, tb)
        else:
            print(f"{message} (at {location})" if location else message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
