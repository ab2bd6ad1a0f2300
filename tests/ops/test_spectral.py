"""Specs for the FFT primitives (fft_c2c, fft_r2c, fft_c2r) through torch.fft's functions and
stft / istft. Complex values cross the harness as real pairs (view_as_real's layout), so
`call` wraps them with view_as_complex / view_as_real — the same code runs on qilin and torch."""

import numpy as np

from .harness import Arg, OpSpec, make_tests


def _pairs(c):
    return np.stack([c.real, c.imag], -1)


def _complex(x):
    return x[..., 0] + 1j * x[..., 1]


def _c2c(name, **kwargs):
    """lib.fft.<name>(complex x, **kwargs) as real pairs."""

    def call(lib, x):
        return lib.view_as_real(getattr(lib.fft, name)(lib.view_as_complex(x), **kwargs))

    return call


def _r2c(name, **kwargs):
    def call(lib, x):  # resolve_conj: torch's ihfft returns a lazily conjugated tensor
        return lib.view_as_real(getattr(lib.fft, name)(x, **kwargs).resolve_conj())

    return call


def _c2r(name, **kwargs):
    def call(lib, x):
        return getattr(lib.fft, name)(lib.view_as_complex(x), **kwargs)

    return call


def _numpy_c2c(name, **kwargs):
    return lambda x: _pairs(getattr(np.fft, name)(_complex(x), **kwargs))


def _stft_reference(x, n_fft, hop, window, center, pad_mode):
    """An independent STFT: pad, slice frames in a loop, window, np.fft.rfft."""
    if center:
        mode = {"reflect": "reflect", "constant": "constant"}[pad_mode]
        widths = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        x = np.pad(x, widths, mode=mode)
    starts = range(0, x.shape[-1] - n_fft + 1, hop)
    frames = np.stack([x[..., s : s + n_fft] * window for s in starts], -2)
    return _pairs(np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2))


def _hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


SPECS = [
    # ----- complex to complex
    OpSpec("fft_c2c", _c2c("fft"), [(Arg((6, 2)),)], ref=_numpy_c2c("fft"), name="fft"),
    OpSpec(
        "fft_c2c",
        _c2c("fft", n=8, dim=0, norm="ortho"),
        [(Arg((5, 3, 2)),)],
        ref=_numpy_c2c("fft", n=8, axis=0, norm="ortho"),
        name="fft_pad_dim0_ortho",
    ),
    OpSpec(
        "fft_c2c",
        _c2c("ifft", n=4, norm="forward"),
        [(Arg((2, 7, 2)),)],
        ref=_numpy_c2c("ifft", n=4, norm="forward"),
        name="ifft_crop_forward",
    ),
    OpSpec(
        "fft_c2c",
        _c2c("fft2"),
        [(Arg((2, 3, 4, 2)),)],
        ref=_numpy_c2c("fft2"),
        name="fft2",
    ),
    OpSpec(
        "fft_c2c",
        _c2c("ifftn", s=(4, 5), dim=(0, 2)),
        [(Arg((3, 2, 4, 2)),)],
        ref=_numpy_c2c("ifftn", s=(4, 5), axes=(0, 2)),
        name="ifftn_s_dim",
    ),
    OpSpec(
        "fft_c2c",
        _r2c("fft", norm="ortho"),
        [(Arg((3, 5)),)],
        ref=lambda x: _pairs(np.fft.fft(x, norm="ortho")),
        name="fft_of_real",
    ),
    # ----- real to complex
    OpSpec("fft_r2c", _r2c("rfft"), [(Arg((8,)),)], ref=lambda x: _pairs(np.fft.rfft(x))),
    OpSpec(
        "fft_r2c",
        _r2c("rfft", n=7, dim=0, norm="forward"),
        [(Arg((5, 2)),)],
        ref=lambda x: _pairs(np.fft.rfft(x, n=7, axis=0, norm="forward")),
        name="rfft_pad_odd",
    ),
    OpSpec(
        "fft_r2c",
        _r2c("rfft2", norm="ortho"),
        [(Arg((2, 4, 6)),)],
        ref=lambda x: _pairs(np.fft.rfft2(x, norm="ortho")),
        name="rfft2",
    ),
    OpSpec(
        "fft_r2c",
        _r2c("rfftn"),
        [(Arg((3, 2, 5)),)],
        ref=lambda x: _pairs(np.fft.rfftn(x)),
        name="rfftn",
    ),
    OpSpec(
        "fft_r2c",
        _r2c("ihfft", n=6),
        [(Arg((2, 6)),)],
        ref=lambda x: _pairs(np.fft.ihfft(x, n=6)),
        name="ihfft",
    ),
    # ----- complex to real
    OpSpec(
        "fft_c2r",
        _c2r("irfft"),
        [(Arg((5, 2)),)],
        ref=lambda x: np.fft.irfft(_complex(x)),
        name="irfft",
    ),
    OpSpec(
        "fft_c2r",
        _c2r("irfft", n=7, norm="ortho"),
        [(Arg((2, 4, 2)),)],
        ref=lambda x: np.fft.irfft(_complex(x), n=7, norm="ortho"),
        name="irfft_odd_pad",
    ),
    OpSpec(
        "fft_c2r",
        _c2r("irfft", n=4, dim=0, norm="forward"),
        [(Arg((6, 2, 2)),)],
        ref=lambda x: np.fft.irfft(_complex(x), n=4, axis=0, norm="forward"),
        name="irfft_crop_dim0",
    ),
    OpSpec(
        "fft_c2r",
        _c2r("irfft2"),
        [(Arg((3, 4, 2)),)],
        ref=lambda x: np.fft.irfft2(_complex(x)),
        name="irfft2",
    ),
    OpSpec(
        "fft_c2r",
        _c2r("irfftn", s=(3, 5), dim=(0, 1)),
        [(Arg((2, 4, 2)),)],
        ref=lambda x: np.fft.irfftn(_complex(x), s=(3, 5), axes=(0, 1)),
        name="irfftn_s",
    ),
    OpSpec(
        "fft_c2r",
        _c2r("hfft", n=6),
        [(Arg((4, 2)),)],
        ref=lambda x: np.fft.hfft(_complex(x), n=6),
        name="hfft",
    ),
    # ----- stft / istft
    OpSpec(
        ("fft_r2c",),
        lambda lib, x: lib.view_as_real(
            lib.stft(
                x, 8, hop_length=3, window=lib.hann_window(8, dtype=x.dtype), return_complex=True
            )
        ),
        [(Arg((20,)),), (Arg((2, 17)),)],
        ref=lambda x: _stft_reference(x, 8, 3, _hann(8), True, "reflect"),
        name="stft",
    ),
    OpSpec(
        ("fft_r2c",),
        lambda lib, x: lib.view_as_real(
            lib.stft(
                x,
                8,
                hop_length=2,
                win_length=6,
                window=lib.hann_window(6, dtype=x.dtype),
                pad_mode="constant",
                normalized=True,
                return_complex=True,
            )
        ),
        [(Arg((15,)),)],
        ref=lambda x: _stft_reference(x, 8, 2, np.pad(_hann(6), 1), True, "constant") / np.sqrt(8),
        name="stft_short_window_normalized",
    ),
    OpSpec(
        ("fft_c2c",),
        lambda lib, x: lib.view_as_real(
            lib.stft(
                x,
                6,
                hop_length=4,
                center=False,
                onesided=False,
                window=lib.hamming_window(6, dtype=x.dtype),
                return_complex=True,
            )
        ),
        [(Arg((2, 14)),)],
        name="stft_twosided",
    ),
    OpSpec(
        ("fft_c2r",),
        lambda lib, x: lib.istft(
            lib.view_as_complex(x), 8, hop_length=2, window=lib.hann_window(8, dtype=x.dtype)
        ),
        [(Arg((5, 7, 2)),), (Arg((2, 5, 6, 2)),)],
        name="istft",
    ),
    OpSpec(
        ("fft_c2r",),
        lambda lib, x: lib.istft(
            lib.view_as_complex(x),
            6,
            hop_length=3,
            center=False,
            length=17,
            window=lib.hann_window(6, periodic=False, dtype=x.dtype)[:].add(0.1),
        ),
        [(Arg((4, 5, 2)),)],
        name="istft_no_center_length",
    ),
]

make_tests(SPECS, globals())
