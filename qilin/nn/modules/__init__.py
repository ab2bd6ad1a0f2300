"""Module and its subclasses, one file per kind of layer."""

from .activation import *  # noqa: F403
from .activation import __all__ as _activation_all
from .attention import *  # noqa: F403
from .attention import __all__ as _attention_all
from .batchnorm import *  # noqa: F403
from .batchnorm import __all__ as _batchnorm_all
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import *  # noqa: F403
from .conv import __all__ as _conv_all
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Bilinear, Identity, Linear
from .loss import *  # noqa: F403
from .loss import __all__ as _loss_all
from .module import Module
from .normalization import *  # noqa: F403
from .normalization import __all__ as _normalization_all
from .pooling import *  # noqa: F403
from .pooling import __all__ as _pooling_all
from .rnn import *  # noqa: F403
from .rnn import __all__ as _rnn_all
from .sparse import Embedding, EmbeddingBag
from .transformer import *  # noqa: F403
from .transformer import __all__ as _transformer_all
from .upsampling import *  # noqa: F403
from .upsampling import __all__ as _upsampling_all

__all__ = [
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Identity",
    "Linear",
    "Bilinear",
    "Flatten",
    "Unflatten",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Embedding",
    "EmbeddingBag",
    *_activation_all,
    *_loss_all,
    *_attention_all,
    *_batchnorm_all,
    *_conv_all,
    *_normalization_all,
    *_pooling_all,
    *_rnn_all,
    *_transformer_all,
    *_upsampling_all,
]
