"""Random numbers: Generator, the default generator, random factories and in-place samplers.

Each Generator wraps a NumPy PCG64 bit generator. Samples are drawn on the host and moved to the
tensor's device once, so a seed gives the same numbers on every device. `get_state` packs the
bit generator's state into a uint8 tensor (as torch.get_rng_state does) so it can be saved in a
checkpoint and restored exactly. Random tensors are not differentiable: they come out detached.
"""

from __future__ import annotations

import contextlib
import struct
from threading import get_ident

import numpy as np

from . import dispatch as _dispatch
from . import dtypes
from .device import CPU, Device, resolve
from .dispatch import write_out
from .ops.creation import factory_size, finish, size_from_args
from .ops.random_ops import BERNOULLI, RAND, RANDN, check_probability, work_dtype
from .tensor import Tensor, _wrap

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "fork_rng",
    "rand",
    "rand_like",
    "randn",
    "randn_like",
    "randint",
    "randint_like",
    "randperm",
    "normal",
    "bernoulli",
    "multinomial",
    "poisson",
]

_DEFAULT_SEED = 67280421310721
_STATE_LAYOUT = "<QQQQQIIQ"  # state (128 bits), increment (128), seed, has_uint32, uinteger, pad


class Generator:
    """A source of random numbers, as torch.Generator: seedable, with state save/restore.

    >>> g = Generator().manual_seed(0)
    >>> a = rand(2, generator=g); _ = g.manual_seed(0); bool((a == rand(2, generator=g)).all())
    True
    """

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> Generator:
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
        self._seed = seed % 2**64
        self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed used."""
        new = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator's full state as a uint8 tensor (restore it with set_state)."""
        state = self._numpy.bit_generator.state
        packed = struct.pack(
            _STATE_LAYOUT,
            *_split128(state["state"]["state"]),
            *_split128(state["state"]["inc"]),
            self._seed,
            state["has_uint32"],
            state["uinteger"],
            0,
        )
        return _wrap(np.frombuffer(packed, dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        if not isinstance(new_state, Tensor) or new_state.dtype is not dtypes.uint8:
            raise TypeError(
                f"RNG state must be a qilin.ByteTensor (uint8 tensor from "
                f"get_state()), got {_describe(new_state)}"
            )
        data = new_state.detach()._host().tobytes()
        expected = struct.calcsize(_STATE_LAYOUT)
        if len(data) != expected:
            raise RuntimeError(
                f"set_state: expected a state tensor of {expected} bytes, got {len(data)}"
            )
        s_low, s_high, i_low, i_high, seed, has_uint32, uinteger, _ = struct.unpack(
            _STATE_LAYOUT, data
        )
        bit_generator = np.random.PCG64()
        bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": s_low | s_high << 64, "inc": i_low | i_high << 64},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }
        self._seed, self._numpy = seed, np.random.Generator(bit_generator)
        return self

    @property
    def numpy(self) -> np.random.Generator:
        """The NumPy generator behind this one (for kernels that draw on the host)."""
        return self._numpy

    def __reduce__(self):
        return (_rebuild_generator, (str(self.device), self.get_state().numpy().copy()))


def _rebuild_generator(device, state):
    return Generator(device).set_state(_wrap(state))


def _split128(value: int) -> tuple:
    return value & (2**64 - 1), value >> 64


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype.name} tensor"
    return type(value).__name__


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed the default generator (and through it everything qilin draws); returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(
    devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None
):
    """Run a block with the default generator's state restored afterwards."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _generator(generator: Generator | None) -> Generator:
    """`generator`, or the default one; what the random ops (qilin/ops/random_ops.py) take."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a qilin.Generator, got {type(generator).__name__}")
    return generator


def numpy_generator(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator that `generator` (or the default one) draws from."""
    if _dispatch._tracer is not None and _dispatch._tracer.thread == get_ident():
        # Draws outside the random ops are not traced yet (qilin.compile).
        raise _dispatch._tracer.random_error()
    return _generator(generator)._numpy


_numpy_generator = numpy_generator


# ----- dtype helpers ---------------------------------------------------------------------------
def _float_dtype(dtype, name: str) -> dtypes.DType:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dtype.is_floating_point:
        # NotImplementedError is a RuntimeError, as torch raises for these.
        raise NotImplementedError(
            f"{name}: expected a floating point dtype for a continuous "
            f"distribution, got {dtype.name}"
        )
    return dtype


_work_dtype = work_dtype


def _placed(result: Tensor, device, requires_grad: bool) -> Tensor:
    """A host-drawn random tensor moved to `device` (one transfer), as `finish` does."""
    device = resolve(device)
    if device is not CPU:
        result = result.to(device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def _integer_arg(value, name: str, argument: str) -> int:
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}(): argument '{argument}' must be int, not {type(value).__name__}")
    return int(value)


def _size_tuple(size, name: str) -> tuple:
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            f"{name}(): argument 'size' must be tuple of ints, not {type(size).__name__}"
        )
    return size_from_args((size,), None, name)


# ----- factories -------------------------------------------------------------------------------
def rand(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    **kwargs,
) -> Tensor:
    """Uniform samples on [0, 1)."""
    shape = factory_size(size, kwargs, "rand")
    dtype = _float_dtype(dtype, "rand")
    values = RAND(_generator(generator), shape=shape, dtype=dtype)
    return write_out(_placed(values, device, requires_grad), out)


def randn(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    **kwargs,
) -> Tensor:
    """Standard normal samples."""
    shape = factory_size(size, kwargs, "randn")
    dtype = _float_dtype(dtype, "randn")
    values = RANDN(_generator(generator), shape=shape, dtype=dtype)
    return write_out(_placed(values, device, requires_grad), out)


def _like_options(input: Tensor, dtype, device) -> tuple:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(input).__name__}")
    return (
        tuple(input.shape),
        dtype if dtype is not None else input.dtype,
        device if device is not None else input.device,
    )


def rand_like(
    input,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    shape, dtype, device = _like_options(input, dtype, device)
    return rand(shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(
    input,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    shape, dtype, device = _like_options(input, dtype, device)
    return randn(
        shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad
    )


def _integers(generator, low: int, high: int, shape: tuple) -> np.ndarray:
    """Uniform integers in [low, high) as int64."""
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    return numpy_generator(generator).integers(low, high, size=shape, dtype=np.int64)


def randint(
    *args,
    size=None,
    low=None,
    high=None,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    """Uniform integers in [low, high): randint(high, size) or randint(low, high, size)."""
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2 and size is None:
        high, size = args
    elif len(args) == 2:
        low, high = args
    elif len(args) == 1 and high is None:
        high = args[0]
    elif len(args) == 1:
        low = args[0]
    elif len(args) > 3:
        raise TypeError(f"randint() takes at most 3 positional arguments, got {len(args)}")
    if high is None or size is None:
        raise TypeError(
            "randint() needs high and size: randint(high, size) or randint(low, high, size)"
        )
    low = 0 if low is None else _integer_arg(low, "randint", "low")
    high = _integer_arg(high, "randint", "high")
    shape = _size_tuple(size, "randint")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    values = _integers(generator, low, high, shape)
    return write_out(finish(values, dtype, device, requires_grad), out)


def randint_like(
    input,
    low=0,
    high=None,
    *,
    generator=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    """randint with input's shape (and dtype): randint_like(x, high) or (x, low, high)."""
    if high is None:
        low, high = 0, low
    shape, dtype, device = _like_options(input, dtype, device)
    return randint(
        low,
        high,
        shape,
        generator=generator,
        dtype=dtype,
        device=device,
        requires_grad=requires_grad,
    )


def randperm(
    n,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    """A random permutation of 0..n-1."""
    n = _integer_arg(n, "randperm", "n")
    if n < 0:
        raise RuntimeError(f"randperm(): n must be non-negative, got {n}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    values = numpy_generator(generator).permutation(n).astype(np.int64)
    return write_out(finish(values, dtype, device, requires_grad), out)


def _host_float(value, name: str):
    """A tensor argument as a host float array (a Python number stays a number)."""
    if not isinstance(value, Tensor):
        return value
    if not value.is_floating_point():
        raise NotImplementedError(
            f"{name}: expected a floating point tensor, got {value.dtype.name}"
        )
    return value.detach()._host()


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    """Samples from N(mean, std). Forms: normal(Tensor, Tensor), normal(Tensor, float=1),
    normal(float, Tensor), normal(float, float, size)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError(
                "normal(): with a float mean and std, give the output size: normal(mean, std, size)"
            )
        shape = _size_tuple(size, "normal")
        result_dtype = _float_dtype(dtype, "normal")
    else:
        shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
        result_dtype = dtypes.result_type(*tensors)
        device = tensors[0].device
    mean_values, std_values = _host_float(mean, "normal"), _host_float(std, "normal")
    if np.any(np.asarray(std_values) < 0):
        shown = std_values if np.ndim(std_values) == 0 else np.min(std_values)
        raise RuntimeError(f"normal expects std >= 0.0, but found std {shown:g}")
    noise = numpy_generator(generator).standard_normal(shape, dtype=_work_dtype(result_dtype))
    values = noise * std_values + mean_values
    return write_out(finish(np.asarray(values), result_dtype, device, requires_grad), out)


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """1 with probability `input` (or `p`), else 0, in input's dtype."""
    if p is None:
        if not input.is_floating_point():
            raise NotImplementedError(
                f"bernoulli: expected a floating point tensor, got {input.dtype.name}"
            )
        probability = input.detach()
    else:
        probability = p.detach() if isinstance(p, Tensor) else float(p)
    # The op checks that the probabilities lie in [0, 1] (it reads them as it draws).
    draws = BERNOULLI(
        _generator(generator), probability, shape=tuple(input.shape), dtype=input.dtype
    )
    return write_out(_placed(draws, input.device, False), out)


_check_probability = check_probability


def poisson(input, generator=None) -> Tensor:
    """Samples from Poisson(rate) for each rate in `input`, in input's dtype."""
    rates = _host_float(input, "poisson")
    if not np.all(rates >= 0):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    values = numpy_generator(generator).poisson(rates.astype(np.float64))
    return finish(values, input.dtype, input.device, False)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None) -> Tensor:
    """Draw `num_samples` category indices per row of (unnormalised) weights.

    With replacement each draw inverts the row's cumulative distribution; without, categories
    are ranked by weight / Exponential(1) noise, which samples successively without replacement.
    """
    if not isinstance(input, Tensor) or not input.is_floating_point():
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {_describe(input)}"
        )
    weights = input.detach()._host().astype(np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {weights.ndim}")
    num_samples = _integer_arg(num_samples, "multinomial", "num_samples")
    rows = weights.reshape(-1, weights.shape[-1])
    _check_weights(rows, num_samples, replacement)
    rng = numpy_generator(generator)
    if replacement:
        samples = _with_replacement(rows, num_samples, rng)
    else:
        keys = rows / rng.standard_exponential(rows.shape)
        samples = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    result = samples.reshape(weights.shape[:-1] + (num_samples,))
    return write_out(finish(result.astype(np.int64), dtypes.int64, input.device, False), out)


def _check_weights(rows: np.ndarray, num_samples: int, replacement: bool) -> None:
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples (got {num_samples})")
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError(
            f"cannot sample n_sample > prob_dist.size(-1) samples without "
            f"replacement (n_sample={num_samples}, categories={rows.shape[-1]})"
        )
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if np.any(rows.sum(axis=-1) <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and np.any(np.count_nonzero(rows, axis=-1) < num_samples):
        raise RuntimeError(
            "invalid multinomial distribution (with replacement=False, not "
            f"enough non-negative category to sample {num_samples})"
        )


def _with_replacement(rows: np.ndarray, num_samples: int, rng) -> np.ndarray:
    """Inverse-CDF sampling for all rows at once: row r's CDF is shifted into [r, r + 1]."""
    count, categories = rows.shape
    cdf = np.cumsum(rows, axis=-1)
    cdf /= cdf[:, -1:]
    offsets = np.arange(count, dtype=np.float64)[:, None]
    draws = rng.random((count, num_samples)) + offsets
    found = np.searchsorted((cdf + offsets).reshape(-1), draws.reshape(-1), side="right")
    found = found.reshape(count, num_samples) - (offsets.astype(np.int64) * categories)
    return np.clip(found, 0, categories - 1)


# ----- in-place samplers (bound as Tensor methods) ---------------------------------------------
def _fill(tensor: Tensor, values, name: str) -> Tensor:
    """Write host `values` into `tensor`'s memory, as an in-place op that autograd checks."""
    from .dispatch import inplace

    array = np.asarray(values)
    if array.dtype != tensor._data.dtype:
        array = array.astype(tensor._data.dtype)
    if array.shape != tuple(tensor.shape):
        array = np.broadcast_to(array, tuple(tensor.shape))
    device = tensor.device
    data = array if device.type == "cpu" else device.backend.from_host(array)
    return inplace(tensor, lambda: _wrap(data, device), name)


def _require_float(tensor: Tensor, name: str) -> dtypes.DType:
    return _float_dtype(tensor.dtype, name)


def uniform_(self, a=0.0, b=1.0, *, generator=None) -> Tensor:
    """Fill with samples from U[a, b)."""
    dtype = _require_float(self, "uniform_")
    if a > b:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
        )
    draws = numpy_generator(generator).random(tuple(self.shape), dtype=_work_dtype(dtype))
    return _fill(self, draws * (b - a) + a, "uniform")


def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std)."""
    dtype = _require_float(self, "normal_")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    draws = numpy_generator(generator).standard_normal(tuple(self.shape), dtype=_work_dtype(dtype))
    return _fill(self, draws * std + mean, "normal")


def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
    """Fill with samples from Exponential(rate=lambd)."""
    dtype = _require_float(self, "exponential_")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    draws = numpy_generator(generator).standard_exponential(
        tuple(self.shape), dtype=_work_dtype(dtype)
    )
    return _fill(self, draws / lambd, "exponential")


def log_normal_(self, mean=1.0, std=2.0, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std)) samples."""
    _require_float(self, "log_normal_")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    return _fill(
        self, numpy_generator(generator).lognormal(mean, std, tuple(self.shape)), "log_normal"
    )


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None) -> Tensor:
    """Fill with samples from Cauchy(median, sigma)."""
    _require_float(self, "cauchy_")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    draws = numpy_generator(generator).standard_cauchy(tuple(self.shape))
    return _fill(self, median + sigma * draws, "cauchy")


def geometric_(self, p, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to and including the first success."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    return _fill(self, numpy_generator(generator).geometric(p, tuple(self.shape)), "geometric")


def _random_bounds(dtype: dtypes.DType) -> int:
    """random_()'s exclusive upper bound: every integer the dtype holds exactly."""
    if dtype.is_floating_point:
        return 2 ** (dtypes.finfo(dtype).bits - _EXPONENT_BITS[dtype.name]) + 1
    if dtype is dtypes.bool:
        return 2
    return dtypes.iinfo(dtype).max + 1


# Mantissa digits = bits - exponent bits (the sign bit is the implicit leading one).
_EXPONENT_BITS = {"float16": 5, "bfloat16": 8, "float32": 8, "float64": 11}


def random_(self, from_=None, to=None, *, generator=None) -> Tensor:
    """Fill with integers: random_() over the dtype's exact range, random_(to) over [0, to),
    random_(from, to) over [from, to)."""
    if from_ is None:
        low, high = 0, _random_bounds(self.dtype)
    elif to is None:  # one argument is the exclusive upper bound, as in torch
        low, high = 0, _integer_arg(from_, "random_", "to")
    else:
        low, high = _integer_arg(from_, "random_", "from"), _integer_arg(to, "random_", "to")
    return _fill(self, _integers(generator, low, high, tuple(self.shape)), "random")


def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 with probability p (a float or a broadcastable tensor), else 0."""
    probability = p.detach()._host() if isinstance(p, Tensor) else float(p)
    _check_probability(probability, "bernoulli_")
    draws = numpy_generator(generator).random(tuple(self.shape)) < probability
    return _fill(self, draws, "bernoulli")
