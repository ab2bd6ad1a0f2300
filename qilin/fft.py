"""torch.fft: discrete Fourier transforms, plus torch.stft / torch.istft.

Every transform is a composite over the three primitives of ops/spectral.py (c2c, r2c, c2r),
which work on complex values held as real pairs; complex inputs and outputs are
`ComplexTensor`s (complex_tensor.py). Signatures, defaults, output sizes and normalizations
("backward", "forward", "ortho") are torch's.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import dtypes
from .complex_tensor import ComplexTensor
from .errors import located, user_stacklevel
from .ops import creation, elementwise, indexing, movement
from .ops.spectral import FFT_C2C, FFT_C2R, FFT_R2C, NORMS
from .tensor import Tensor

__all__ = [
    "fft",
    "ifft",
    "rfft",
    "irfft",
    "hfft",
    "ihfft",
    "fft2",
    "ifft2",
    "rfft2",
    "irfft2",
    "fftn",
    "ifftn",
    "rfftn",
    "irfftn",
    "fftfreq",
    "rfftfreq",
    "fftshift",
    "ifftshift",
    "stft",
    "istft",
]

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


# ----- argument handling -----------------------------------------------------------------------
def _norm(norm) -> str:
    norm = "backward" if norm is None else norm
    if norm not in NORMS:
        raise located(RuntimeError(f'Invalid normalization mode: "{norm}"'))
    return norm


def _real(input, name: str) -> Tensor:
    """A real input as a float tensor (integers become the default float, as in torch)."""
    if isinstance(input, ComplexTensor):
        raise located(
            RuntimeError(f"{name} expects a real input tensor, but got {input.dtype.name}")
        )
    if not input.dtype.is_floating_point:
        input = input.to(dtypes.get_default_dtype())
    return input


def _pairs(input) -> Tensor:
    """Any input as (..., 2) real pairs (a real input gets a zero imaginary part)."""
    if isinstance(input, ComplexTensor):
        return input._pairs
    input = _real(input, "fft")
    return movement.stack([input, elementwise.mul(input, 0)], -1)


def _dims(dim, s, ndim: int, name: str) -> tuple:
    """The transformed dims (non-negative) and their sizes, torch's rules for `s` and `dim`."""
    if dim is None:
        dims = list(range(ndim)) if s is None else list(range(ndim - len(s), ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    if s is not None and len(s) != len(dims):
        raise located(
            RuntimeError(
                f"{name}: when given, dim and shape arguments must have the same length, got "
                f"s={list(s)} and dim={list(dims)}"
            )
        )
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise located(
                IndexError(
                    f"Dimension out of range (expected to be in range of [{-ndim}, "
                    f"{ndim - 1}], but got {d})"
                )
            )
    dims = [d % ndim for d in dims]
    if len(set(dims)) != len(dims):
        raise located(RuntimeError(f"{name}: FFT dims must be unique, got {dims}"))
    if s is not None:
        for size in s:
            if size != -1 and size < 1:
                raise located(RuntimeError(f"Invalid number of data points ({size}) specified"))
    return tuple(dims), (None if s is None else list(s))


def _resize(x: Tensor, dim: int, size: int) -> Tensor:
    """Crop or zero-pad `x` along `dim` to `size` (torch's `n` / `s` arguments)."""
    current = x.shape[dim]
    if size == current:
        return x
    if size < current:
        return movement.narrow(x, dim, 0, size)
    shape = list(x.shape)
    shape[dim] = size - current
    return movement.cat([x, creation.zeros(shape, dtype=x.dtype, device=x.device)], dim)


def _resize_all(x: Tensor, dims: tuple, sizes) -> Tensor:
    for dim, size in zip(dims, sizes or ()):
        if size != -1:
            x = _resize(x, dim, size)
    return x


# ----- n-dimensional transforms ------------------------------------------------------------------
def _c2c(input, s, dim, norm, inverse: bool, name: str) -> ComplexTensor:
    pairs = _pairs(input)
    dims, sizes = _dims(dim, s, pairs.ndim - 1, name)
    pairs = _resize_all(pairs, dims, sizes)
    return ComplexTensor(FFT_C2C(pairs, dims=dims, inverse=inverse, norm=_norm(norm)))


def _r2c(input, s, dim, norm, name: str) -> ComplexTensor:
    input = _real(input, name)
    dims, sizes = _dims(dim, s, input.ndim, name)
    input = _resize_all(input, dims, sizes)
    return ComplexTensor(FFT_R2C(input, dims=dims, norm=_norm(norm)))


def _c2r(input, s, dim, norm, name: str) -> Tensor:
    pairs = _pairs(input)
    dims, sizes = _dims(dim, s, pairs.ndim - 1, name)
    last = 2 * (pairs.shape[dims[-1]] - 1)
    if sizes is not None:
        last = sizes[-1] if sizes[-1] != -1 else last
        pairs = _resize_all(pairs, dims[:-1], sizes[:-1])
    if last < 1:
        raise located(RuntimeError(f"Invalid number of data points ({last}) specified"))
    pairs = _resize(pairs, dims[-1], last // 2 + 1)
    return FFT_C2R(pairs, dims=dims, last_size=last, norm=_norm(norm))


def fftn(input, s=None, dim=None, norm=None) -> ComplexTensor:
    """The n-dimensional DFT over `dim` (all dims by default), each cropped/padded to `s`."""
    return _c2c(input, s, dim, norm, False, "fftn")


def ifftn(input, s=None, dim=None, norm=None) -> ComplexTensor:
    return _c2c(input, s, dim, norm, True, "ifftn")


def rfftn(input, s=None, dim=None, norm=None) -> ComplexTensor:
    """The DFT of a real input; the last transformed dim keeps n // 2 + 1 frequencies."""
    return _r2c(input, s, dim, norm, "rfftn")


def irfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """The inverse of rfftn; the last output size defaults to 2 * (m - 1)."""
    return _c2r(input, s, dim, norm, "irfftn")


def _one(value):
    return None if value is None else [value]


def fft(input, n=None, dim=-1, norm=None) -> ComplexTensor:
    return _c2c(input, _one(n), dim, norm, False, "fft")


def ifft(input, n=None, dim=-1, norm=None) -> ComplexTensor:
    return _c2c(input, _one(n), dim, norm, True, "ifft")


def rfft(input, n=None, dim=-1, norm=None) -> ComplexTensor:
    return _r2c(input, _one(n), dim, norm, "rfft")


def irfft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _c2r(input, _one(n), dim, norm, "irfft")


def hfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """The DFT of a Hermitian-symmetric signal given by its first half: irfft of the conjugate,
    with the opposite normalization."""
    conjugate = input.conj() if isinstance(input, ComplexTensor) else input
    return _c2r(conjugate, _one(n), dim, _DUAL[_norm(norm)], "hfft")


def ihfft(input, n=None, dim=-1, norm=None) -> ComplexTensor:
    """The inverse of hfft: the conjugate of rfft, with the opposite normalization."""
    return _r2c(input, _one(n), dim, _DUAL[_norm(norm)], "ihfft").conj()


def fft2(input, s=None, dim=(-2, -1), norm=None) -> ComplexTensor:
    return fftn(input, s, dim, norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None) -> ComplexTensor:
    return ifftn(input, s, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None) -> ComplexTensor:
    return rfftn(input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return irfftn(input, s, dim, norm)


# ----- frequencies and shifts ------------------------------------------------------------------
def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """Sample frequencies [0, 1, ..., -(n // 2), ..., -1] / (d n) of an n-point DFT."""
    values = np.concatenate([np.arange((n - 1) // 2 + 1), -np.arange(n // 2, 0, -1)])
    return _frequencies(values / (d * n), dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """Sample frequencies [0, 1, ..., n // 2] / (d n) of rfft's output."""
    return _frequencies(np.arange(n // 2 + 1) / (d * n), dtype, device, requires_grad)


def _frequencies(values, dtype, device, requires_grad) -> Tensor:
    dtype = dtypes.get_default_dtype() if dtype is None else dtype
    return creation.tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def _shift(input, dim, sign: int):
    pairs = input._pairs if isinstance(input, ComplexTensor) else input
    ndim = pairs.ndim - (1 if isinstance(input, ComplexTensor) else 0)
    dims = range(ndim) if dim is None else ([dim] if isinstance(dim, int) else dim)
    dims = [d % ndim for d in dims]
    shifts = [sign * (pairs.shape[d] // 2) for d in dims]
    out = movement.roll(pairs, shifts, dims)
    return ComplexTensor(out) if isinstance(input, ComplexTensor) else out


def fftshift(input, dim=None):
    """Move the zero frequency to the centre (roll each dim by n // 2)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of fftshift (roll each dim by -(n // 2))."""
    return _shift(input, dim, -1)


# ----- short-time Fourier transform ------------------------------------------------------------
def _stft_error(name, input, n_fft, hop_length, win_length, window, message):
    window_text = "None" if window is None else f"tensor of shape {list(window.shape)}"
    return located(
        RuntimeError(
            f"{name}(tensor of shape {list(input.shape)}, n_fft={n_fft}, hop_length={hop_length}"
            f", win_length={win_length}, window={window_text}) : {message}"
        )
    )


def _full_window(name, input, n_fft, hop_length, win_length, window, dtype, device) -> Tensor:
    """The window padded with zeros on both sides to n_fft (rectangular when not given)."""
    if not 0 < win_length <= n_fft:
        raise _stft_error(
            name,
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected 0 < win_length <= n_fft, but got win_length={win_length}",
        )
    if window is None:
        warnings.warn(
            "A window was not provided. A rectangular window will be applied, which is known "
            "to cause spectral leakage. To suppress this warning and use a rectangular window, "
            "explicitly set `window=torch.ones(n_fft, device=<device>)`.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        window = creation.ones(win_length, dtype=dtype, device=device)
    elif window.ndim != 1 or window.shape[0] != win_length:
        raise _stft_error(
            name,
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected a 1D window tensor of size equal to win_length={win_length}, but got "
            f"window with size {list(window.shape)}",
        )
    left = (n_fft - win_length) // 2
    if left or win_length < n_fft:
        zeros = creation.zeros
        window = movement.cat(
            [
                zeros(left, dtype=window.dtype, device=device),
                window,
                zeros(n_fft - win_length - left, dtype=window.dtype, device=device),
            ]
        )
    return window


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _center_pad(signal: Tensor, amount: int, pad_mode: str, dim: int) -> Tensor:
    """Pad `amount` samples on both sides of `dim`, as F.pad(mode=pad_mode) would."""
    length = signal.shape[dim]
    if pad_mode == "constant":
        shape = list(signal.shape)
        shape[dim] = amount
        zeros = creation.zeros(shape, dtype=signal.dtype, device=signal.device)
        return movement.cat([zeros, signal, zeros], dim)
    if pad_mode not in _PAD_MODES:
        raise located(
            NotImplementedError(
                f"stft: unknown pad_mode '{pad_mode}'; use one of constant, "
                + ", ".join(_PAD_MODES)
            )
        )
    if pad_mode == "reflect" and amount >= length:
        raise located(
            RuntimeError(
                f"Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({amount}, {amount}) at dimension {dim} of input {list(signal.shape)}"
            )
        )
    index = np.pad(np.arange(length), amount, mode=_PAD_MODES[pad_mode])
    return indexing.index_select(signal, dim, creation.tensor(index, device=signal.device))


def _frames(signal: Tensor, n_fft: int, hop: int, dim: int) -> Tensor:
    """Overlapping frames of `dim`: (..., L, ...) -> (..., frames, n_fft, ...)."""
    count = 1 + (signal.shape[dim] - n_fft) // hop
    index = (np.arange(count)[:, None] * hop + np.arange(n_fft)[None, :]).reshape(-1)
    gathered = indexing.index_select(signal, dim, creation.tensor(index, device=signal.device))
    return movement.unflatten(gathered, dim, (count, n_fft))


def stft(
    input,
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    pad_mode="reflect",
    normalized=False,
    onesided=None,
    return_complex=None,
    align_to_window=None,
):
    """Short-time Fourier transform: (B?, L) -> (B?, n_fft // 2 + 1 or n_fft, frames).

    Frames start every `hop_length` samples (signal padded by n_fft // 2 on both sides when
    `center`), each is multiplied by the window (zero-padded to n_fft) and transformed.
    """
    is_complex = isinstance(input, ComplexTensor)
    if return_complex is None and not is_complex:
        raise located(
            RuntimeError(
                "stft requires the return_complex parameter be given for real inputs, and will "
                "further require that return_complex=True in a future PyTorch release."
            )
        )
    if align_to_window:
        raise located(NotImplementedError("stft: align_to_window=True is not supported"))
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if input.ndim not in (1, 2):
        raise _stft_error(
            "stft", input, n_fft, hop_length, win_length, window, "expected a 1D or 2D tensor"
        )
    signal = input._pairs if is_complex else _real(input, "stft")
    dim = input.ndim - 1  # the time dim of `signal`
    if center:
        signal = _center_pad(signal, n_fft // 2, pad_mode, dim)
    length = signal.shape[dim]
    if not 0 < n_fft <= length:
        raise _stft_error(
            "stft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected 0 < n_fft <= {length}, but got n_fft={n_fft}",
        )
    if hop_length <= 0:
        raise _stft_error(
            "stft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected hop_length > 0, but got hop_length={hop_length}",
        )
    full_window = _full_window(
        "stft", input, n_fft, hop_length, win_length, window, signal.dtype, signal.device
    )
    onesided = not is_complex if onesided is None else onesided
    if onesided and is_complex:
        raise located(RuntimeError("Cannot have onesided output if window or input is complex"))
    frames = _frames(signal, n_fft, hop_length, dim)  # (B?, frames, n_fft[, 2])
    norm = "ortho" if normalized else "backward"
    if is_complex:
        window_pairs = movement.unsqueeze(full_window, -1)
        spectrum = fft(ComplexTensor(elementwise.mul(frames, window_pairs)), norm=norm)
    else:
        windowed = elementwise.mul(frames, full_window)
        spectrum = (rfft if onesided else fft)(windowed, norm=norm)
    spectrum = spectrum.transpose(-1, -2)  # (B?, freq, frames)
    if return_complex:
        return spectrum
    warnings.warn(
        "stft with return_complex=False is deprecated. In a future pytorch release, stft will "
        "return complex tensors for all inputs, and return_complex=False will raise an error.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )
    return spectrum._pairs


def istft(
    input,
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    normalized=False,
    onesided=None,
    length=None,
    return_complex=False,
):
    """Inverse of stft: inverse-transform each frame, window it, overlap-add, and divide by the
    overlap-added squared window."""
    if not isinstance(input, ComplexTensor):
        raise located(
            RuntimeError(
                "istft requires a complex-valued input tensor matching the output from stft "
                "with return_complex=True."
            )
        )
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if input.ndim not in (2, 3):
        raise _stft_error(
            "istft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected a tensor with 2 or 3 dimensions of complex dtype, got {input.ndim}",
        )
    if hop_length <= 0:
        raise _stft_error(
            "istft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected hop_length > 0, but got hop_length={hop_length}",
        )
    freq = input.shape[-2]
    onesided = freq != n_fft if onesided is None else onesided
    expected = n_fft // 2 + 1 if onesided else n_fft
    if freq != expected:
        raise _stft_error(
            "istft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"expected the frequency dimension (3rd to the last) of the input tensor to match "
            f"n_fft / 2 + 1 when onesided=True, but got {freq}",
        )
    if window is None:
        window = creation.ones(win_length, dtype=input._pairs.dtype, device=input.device)
    full_window = _full_window(
        "istft", input, n_fft, hop_length, win_length, window, window.dtype, input.device
    )
    spectra = input.transpose(-1, -2)  # (B?, frames, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        if onesided:
            raise located(RuntimeError("cannot have onesided output if window or input is complex"))
        frames = ifft(spectra, n=n_fft, norm=norm)._pairs  # (B?, frames, n_fft, 2)
        weights = movement.unsqueeze(full_window, -1)
    else:
        if not onesided:
            spectra = spectra[..., : n_fft // 2 + 1]
        frames = irfft(spectra, n=n_fft, norm=norm)  # (B?, frames, n_fft)
        weights = full_window
    frames = elementwise.mul(frames, weights)
    count = input.shape[-1]
    total = n_fft + hop_length * (count - 1)
    index = creation.tensor(
        (np.arange(count)[:, None] * hop_length + np.arange(n_fft)[None, :]).reshape(-1),
        device=input.device,
    )
    dim = input.ndim - 2  # the time dim of the output
    shape = list(frames.shape)
    signal = indexing.index_add(
        creation.zeros(
            [*shape[:dim], total, *shape[dim + 2 :]], dtype=frames.dtype, device=input.device
        ),
        dim,
        index,
        movement.flatten(frames, dim, dim + 1),
    )
    squared = elementwise.mul(full_window, full_window).repeat(count)
    envelope = indexing.index_add(
        creation.zeros(total, dtype=squared.dtype, device=input.device), 0, index, squared
    )
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0)
    if length is not None:
        end = start + length
    stop = min(end, total)
    signal = movement.narrow(signal, dim, start, stop - start)
    envelope = movement.narrow(envelope, 0, start, stop - start)
    smallest = float(envelope.abs().min()) if envelope.numel() else 1.0
    if smallest < 1e-11:
        raise _stft_error(
            "istft",
            input,
            n_fft,
            hop_length,
            win_length,
            window,
            f"window overlap add min: {smallest:g} (the window and hop leave samples with no "
            "weight: the nonzero-overlap-add (NOLA) condition fails)",
        )
    if return_complex:
        envelope = movement.unsqueeze(envelope, -1)
    signal = elementwise.div(signal, envelope)
    if end > total:
        signal = _resize(signal, dim, end - start)
    return ComplexTensor(signal) if return_complex else signal
