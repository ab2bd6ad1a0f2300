"""Random numbers: Generator, the default generator, and the random tensor factories.

Each Generator wraps a NumPy PCG64 bit generator; `get_state` packs its state into a uint8
tensor (as torch's get_rng_state does) so it can be saved in a checkpoint and restored.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from . import dtypes
from .device import CPU, Device
from .tensor import Tensor, _wrap

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng", "rand", "rand_like", "randn",
           "randn_like", "randint", "randint_like", "randperm", "normal", "bernoulli",
           "multinomial", "poisson"]

_DEFAULT_SEED = 67280421310721


class Generator:
    """A source of random numbers, as torch.Generator (seedable, state save/restore)."""

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if not -(2 ** 63) <= seed < 2 ** 64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} is out of range")
        self._seed = seed % 2 ** 64
        self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        new = int.from_bytes(np.random.SeedSequence().entropy.to_bytes(16, "little")[:8], "little")
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        state = self._numpy.bit_generator.state
        packed = struct.pack("<QQQQQIIQ", *_split128(state["state"]["state"]),
                             *_split128(state["state"]["inc"]), self._seed,
                             state["has_uint32"], state["uinteger"], 0)
        return _wrap(np.frombuffer(packed, dtype=np.uint8).copy(), CPU)

    def set_state(self, new_state: Tensor) -> Generator:
        data = bytes(np.asarray(new_state.numpy(), dtype=np.uint8))
        if len(data) != struct.calcsize("<QQQQQIIQ"):
            raise RuntimeError(f"set_state: expected a state tensor of "
                               f"{struct.calcsize('<QQQQQIIQ')} bytes, got {len(data)}")
        s_lo, s_hi, i_lo, i_hi, seed, has_uint32, uinteger, _ = struct.unpack("<QQQQQIIQ", data)
        self._seed = seed
        self._numpy = np.random.Generator(np.random.PCG64())
        self._numpy.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": s_lo | s_hi << 64, "inc": i_lo | i_hi << 64},
            "has_uint32": has_uint32, "uinteger": uinteger}
        return self

    @property
    def numpy(self) -> np.random.Generator:
        return self._numpy


def _split128(value: int) -> tuple:
    return value & (2 ** 64 - 1), value >> 64


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and, through it, everything qilin draws)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


class fork_rng:
    """Restore the default generator's state on exit."""

    def __init__(self, devices=None, enabled=True):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self._state = get_rng_state()

    def __exit__(self, *exc_info):
        if self.enabled:
            set_rng_state(self._state)


def _numpy_generator(generator) -> np.random.Generator:
    return (generator or default_generator)._numpy


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _finish(array, dtype, device, requires_grad) -> Tensor:
    device = CPU if device is None else Device(device)
    array = np.asarray(array).astype(dtype.numpy, copy=False)
    result = _wrap(array if device is CPU else device.backend.from_host(array), device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def _float_dtype(dtype) -> dtypes.DType:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"expected a floating point dtype for a continuous distribution, got "
                           f"{dtype.name}")
    return dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _float_dtype(dtype)
    work = np.float64 if dtype is dtypes.float64 else np.float32
    return _finish(_numpy_generator(generator).random(_shape(size), dtype=work), dtype, device,
                   requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _float_dtype(dtype)
    work = np.float64 if dtype is dtypes.float64 else np.float32
    return _finish(_numpy_generator(generator).standard_normal(_shape(size), dtype=work), dtype,
                   device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    array = _numpy_generator(generator).integers(low, high, size=tuple(size), dtype=np.int64)
    return _finish(array, dtype, device, requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   device=device or input.device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return _finish(_numpy_generator(generator).permutation(int(n)), dtype, device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples from N(mean, std); mean and std may be tensors (broadcast) or floats."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        reference = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape",
                                                                                      ())))
        noise = randn(shape, generator=generator, dtype=reference.dtype, device=reference.device)
        return noise * std + mean
    if size is None:
        raise TypeError("normal(): with float mean and std, a `size` is required")
    return randn(size, generator=generator, dtype=dtype, device=device,
                 requires_grad=False).mul_(std).add_(mean).requires_grad_(requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    probability = input._host() if p is None else np.full(tuple(input.shape), p)
    if np.any((probability < 0) | (probability > 1)):
        raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
    draws = _numpy_generator(generator).random(probability.shape) < probability
    return _finish(draws, input.dtype, input.device, False)


def poisson(input, generator=None) -> Tensor:
    return _finish(_numpy_generator(generator).poisson(input._host()), input.dtype, input.device,
                   False)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Draw `num_samples` category indices per row of (unnormalised) probabilities."""
    weights = np.asarray(input._host(), dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {weights.ndim}")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = weights.reshape(-1, weights.shape[-1])
    rng = _numpy_generator(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                               "probabilities <= 0)")
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                               "without replacement")
        out[r] = rng.choice(row.size, size=num_samples, replace=replacement, p=row / total)
    return _finish(out.reshape(weights.shape[:-1] + (num_samples,)), dtypes.int64, input.device,
                   False)


def fill_uniform(tensor: Tensor, low: float, high: float, generator=None) -> np.ndarray:
    return _numpy_generator(generator).uniform(low, high, tuple(tensor.shape))


def fill_normal(tensor: Tensor, mean: float, std: float, generator=None) -> np.ndarray:
    return _numpy_generator(generator).normal(mean, std, tuple(tensor.shape))


def fill_exponential(tensor: Tensor, rate: float, generator=None) -> np.ndarray:
    return _numpy_generator(generator).exponential(1.0 / rate, tuple(tensor.shape))


def fill_integers(tensor: Tensor, low: int, high: int, generator=None) -> np.ndarray:
    return _numpy_generator(generator).integers(low, high, tuple(tensor.shape))


del math
