"""qilin: a deep learning framework with the PyTorch surface.

    import qilin as torch

The facade below lists what `qilin.X` holds; each name is defined once, in the module named.
"""

import math as _math

from . import autograd, dtypes, linalg, random
from .autograd import (
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .backends import host_memory as _host_memory
from .device import Device, device
from .dtypes import (
    DType,
    bfloat16,
    bool,
    can_cast,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    finfo,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    iinfo,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from .ops.combine import *
from .ops.composite import *
from .ops.convolution import *
from .ops.creation import *
from .ops.distance import *
from .ops.elementwise import *
from .ops.gamma import *
from .ops.indexing import *
from .ops.linalg import *
from .ops.movement import *
from .ops.movement import channels_last, contiguous_format, memory_format, preserve_format
from .ops.reduction import *
from .ops.softmax import *
from .ops.sorting import *
from .ops.spectral import *
from .ops.statistics import *
from .printing import set_printoptions
from .random import (
    Generator,
    bernoulli,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    multinomial,
    normal,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_rng_state,
)
from .tensor import Size, Tensor, is_tensor
from .tensor_methods import bind as _bind_tensor_methods
from .tensor_types import (
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from .threads import (
    get_num_interop_threads,
    get_num_threads,
    set_num_interop_threads,
    set_num_threads,
)

_bind_tensor_methods()
_host_memory.tune()

from . import fft, nn, optim, special, utils  # noqa: E402  (built on the tensor methods bound above)
from .complex_tensor import (  # noqa: E402
    ComplexTensor,
    complex,
    polar,
    view_as_complex,
    view_as_real,
)
from .fft import istft, stft  # noqa: E402
from .io import load, save  # noqa: E402
from .special import i0  # noqa: E402

dtype = DType
# The module-level constants torch exposes (`float` here is qilin.float, hence math's values).
e, pi, inf, nan = _math.e, _math.pi, _math.inf, _math.nan
uint8 = uint8
float = float
__version__ = "0.1.0"


def is_floating_point(input) -> bool:
    return input.is_floating_point()


def numel(input) -> int:
    return input.numel()


def cuda_is_available() -> bool:
    from .backends.cupy_backend import is_available

    return is_available()


class _Cuda:
    """`qilin.cuda`: whether a GPU backend is present, and how many devices."""

    @staticmethod
    def is_available() -> bool:
        return cuda_is_available()

    @staticmethod
    def device_count() -> int:
        from .backends.cupy_backend import device_count

        return device_count()

    @staticmethod
    def manual_seed(value) -> None:
        manual_seed(value)

    manual_seed_all = manual_seed


cuda = _Cuda()


# `qilin.fft` when qilin has no fft: "qilin does not provide torch.fft yet" (an AttributeError).
from .compat import missing_attribute as _missing_attribute  # noqa: E402

__getattr__ = _missing_attribute(__name__)
