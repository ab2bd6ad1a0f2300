"""qilin.nn: modules, parameters, the functional API and initialisers (torch.nn's surface)."""

from . import functional, init, utils
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter

__all__ = ["functional", "init", "utils", "Parameter", "Buffer", *_modules_all]

from ..compat import missing_attribute as _missing_attribute  # noqa: E402

__getattr__ = _missing_attribute(__name__)  # unknown names: "qilin does not provide torch.X yet"
