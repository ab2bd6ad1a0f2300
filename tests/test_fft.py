"""torch.fft's helpers, the window functions, complex tensors (real pairs), and stft/istft's
arguments and errors, against NumPy and torch."""

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")

WINDOWS = ["hann_window", "hamming_window", "bartlett_window", "blackman_window", "kaiser_window"]
NUMPY_WINDOWS = {
    "hann_window": np.hanning,
    "hamming_window": np.hamming,
    "bartlett_window": np.bartlett,
    "blackman_window": np.blackman,
    "kaiser_window": lambda n: np.kaiser(n, 12.0),
}


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, length, periodic):
    ours = getattr(qilin, name)(length, periodic, dtype=qilin.float64)
    theirs = getattr(torch, name)(length, periodic, dtype=torch.float64)
    assert ours.dtype is qilin.float64
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", WINDOWS)
def test_symmetric_windows_match_numpy(name):
    ours = getattr(qilin, name)(9, periodic=False, dtype=qilin.float64).numpy()
    np.testing.assert_allclose(ours, NUMPY_WINDOWS[name](9), atol=1e-12)


def test_window_dtype_and_errors():
    assert qilin.hann_window(4).dtype is qilin.float32
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.hann_window(4, dtype=qilin.int64)
    with pytest.raises(RuntimeError, match="non-negative"):
        qilin.hann_window(-1)


@pytest.mark.parametrize("n", [1, 4, 7])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_frequencies(n, d):
    for name in ("fftfreq", "rfftfreq"):
        ours = getattr(qilin.fft, name)(n, d)
        expected = getattr(np.fft, name)(n, d)
        assert ours.dtype is qilin.float32
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("dim", [None, 0, (0, 1), -1])
def test_shifts(dim):
    values = np.arange(30.0).reshape(5, 6)
    for name in ("fftshift", "ifftshift"):
        ours = getattr(qilin.fft, name)(qilin.tensor(values), dim=dim)
        axes = dim if dim is None or isinstance(dim, tuple) else (dim,)
        np.testing.assert_array_equal(ours.numpy(), getattr(np.fft, name)(values, axes=axes))
    spectrum = qilin.fft.fft(qilin.tensor(values))
    np.testing.assert_allclose(
        qilin.fft.fftshift(spectrum, dim=dim).numpy(),
        np.fft.fftshift(np.fft.fft(values), axes=dim),
        rtol=1e-5,
        atol=1e-4,
    )


def test_output_dtypes_follow_torch():
    assert qilin.fft.fft(qilin.ones(4, dtype=qilin.float64)).dtype is qilin.complex128
    assert qilin.fft.rfft(qilin.arange(4)).dtype is qilin.complex64
    assert qilin.fft.irfft(qilin.fft.rfft(qilin.ones(6))).dtype is qilin.float32
    assert qilin.fft.fft(qilin.ones(3)).is_complex()
    assert qilin.complex64.is_complex and qilin.complex64.to_real() is qilin.float32


def test_round_trips():
    x = qilin.randn(3, 10, dtype=qilin.float64)
    np.testing.assert_allclose(qilin.fft.irfft(qilin.fft.rfft(x), n=10).numpy(), x.numpy())
    back = qilin.fft.ifftn(qilin.fft.fftn(x)).real
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-12)


def test_fft_errors_match_torch():
    with pytest.raises(RuntimeError, match="Invalid normalization mode"):
        qilin.fft.rfft(qilin.ones(4), norm="bad")
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\)"):
        qilin.fft.rfft(qilin.ones(4), n=0)
    with pytest.raises(RuntimeError, match="real input"):
        qilin.fft.rfft(qilin.fft.fft(qilin.ones(4)))
    with pytest.raises(IndexError, match="out of range"):
        qilin.fft.fft(qilin.ones(4), dim=2)


# ----- complex tensors ---------------------------------------------------------------------------
def _pair(rng, shape):
    values = rng.standard_normal((*shape, 2))
    return values, values[..., 0] + 1j * values[..., 1]


def test_complex_arithmetic_matches_numpy():
    rng = np.random.default_rng(0)
    (a_pairs, a), (b_pairs, b) = _pair(rng, (3, 4)), _pair(rng, (4,))
    x = qilin.view_as_complex(qilin.tensor(a_pairs))
    y = qilin.view_as_complex(qilin.tensor(b_pairs))
    real = rng.standard_normal(4)
    cases = [
        (x + y, a + b),
        (x - y, a - b),
        (x * y, a * b),
        (x / y, a / b),
        (2 - x, 2 - a),
        (x * qilin.tensor(real), a * real),
        (x * 1j, a * 1j),
        (1 / x, 1 / a),
        (-x, -a),
        (x.conj(), a.conj()),
        (x[1:, ::2], a[1:, ::2]),
        (x[..., 0], a[..., 0]),
        (x.sum(0), a.sum(0)),
        (x.mean(), a.mean()),
        (x.transpose(0, 1), a.T),
        (x.reshape(2, 6), a.reshape(2, 6)),
    ]
    for ours, expected in cases:
        assert tuple(ours.shape) == expected.shape
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(x.abs().numpy(), np.abs(a), rtol=1e-12)
    np.testing.assert_allclose(x.angle().numpy(), np.angle(a), rtol=1e-12)
    np.testing.assert_allclose(qilin.polar(x.abs(), x.angle()).numpy(), a, rtol=1e-12)


def test_complex_abs_gradient_matches_torch_including_zero():
    values = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 2.0]])
    ours = qilin.tensor(values, requires_grad=True)
    qilin.view_as_complex(ours).abs().sum().backward()
    theirs = torch.tensor(values, requires_grad=True)
    torch.view_as_complex(theirs).abs().sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_complex_repr_and_errors():
    z = qilin.complex(qilin.tensor([1.0, 0.5]), qilin.tensor([0.0, -2.0]))
    assert repr(z).startswith("tensor([") and "j" in repr(z)
    assert z.dtype is qilin.complex64 and z.shape == (2,)
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        qilin.view_as_complex(qilin.ones(3))
    with pytest.raises(RuntimeError, match="float and double"):
        qilin.view_as_complex(qilin.ones(3, 2, dtype=qilin.int64))
    with pytest.raises(RuntimeError, match="complex tensors"):
        qilin.view_as_real(qilin.ones(3, 2))


# ----- stft / istft ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"hop_length": 5, "win_length": 12},
        {"center": False, "normalized": True},
        {"pad_mode": "replicate"},
        {"pad_mode": "circular", "onesided": False},
    ],
)
def test_stft_matches_torch_and_round_trips(kwargs):
    values = np.random.default_rng(1).standard_normal((2, 64))
    win_length = kwargs.get("win_length", 16)
    ours = qilin.stft(
        qilin.tensor(values),
        16,
        window=qilin.hann_window(win_length, dtype=qilin.float64),
        return_complex=True,
        **kwargs,
    )
    theirs = torch.stft(
        torch.tensor(values),
        16,
        window=torch.hann_window(win_length, dtype=torch.float64),
        return_complex=True,
        **kwargs,
    )
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-10)
    if kwargs.get("center", True) and "pad_mode" not in kwargs:
        window = qilin.hann_window(win_length, dtype=qilin.float64)
        options = {k: v for k, v in kwargs.items() if k != "pad_mode"}
        back = qilin.istft(ours, 16, window=window, length=64, **options)
        np.testing.assert_allclose(back.numpy(), values, atol=1e-10)


def test_stft_return_complex_false_gives_pairs_with_warning():
    x = qilin.randn(40)
    with pytest.warns(UserWarning, match="deprecated"):
        pairs = qilin.stft(x, 8, window=qilin.hann_window(8), return_complex=False)
    assert tuple(pairs.shape) == (5, 21, 2)


def test_stft_errors_match_torch():
    x = qilin.randn(100)
    with pytest.raises(RuntimeError, match="return_complex parameter be given"):
        qilin.stft(x, 16)
    with pytest.raises(RuntimeError, match="expected 0 < win_length <= n_fft"):
        qilin.stft(x, 16, win_length=20, return_complex=True)
    with pytest.raises(RuntimeError, match="expected hop_length > 0"):
        qilin.stft(x, 16, hop_length=0, window=qilin.ones(16), return_complex=True)
    with pytest.raises(RuntimeError, match="expected a 1D or 2D tensor"):
        qilin.stft(qilin.randn(2, 2, 100), 16, return_complex=True)
    with pytest.raises(RuntimeError, match="window tensor of size equal to win_length=16"):
        qilin.stft(x, 16, window=qilin.ones(5), return_complex=True)
    with pytest.raises(RuntimeError, match="Padding size should be less"):
        qilin.stft(x, 200, return_complex=True)
    with pytest.warns(UserWarning, match="window was not provided"):
        qilin.stft(x, 16, return_complex=True)
    with pytest.raises(RuntimeError, match="complex-valued input"):
        qilin.istft(qilin.randn(9, 5, 2), 16)
    spectrum = qilin.stft(x, 16, window=qilin.hann_window(16), return_complex=True)
    with pytest.raises(RuntimeError, match="overlap add min"):
        qilin.istft(spectrum, 16, hop_length=16, window=qilin.hann_window(16), center=False)


def test_spectrogram_gradient_matches_torch():
    """A mel-style front end: |stft|^2, a filterbank, log — gradients against torch."""
    values = np.random.default_rng(2).standard_normal((2, 50))
    bank = np.random.default_rng(3).random((9, 4))
    results = []
    for lib in (qilin, torch):
        x = lib.tensor(values, requires_grad=True)
        spec = lib.stft(
            x, 16, 4, window=lib.hann_window(16, dtype=lib.float64), return_complex=True
        )
        power = spec.abs() ** 2
        mel = lib.log((power.transpose(1, 2) @ lib.tensor(bank)) + 1e-6)
        mel.sum().backward()
        results.append((mel.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def test_primitives_name_the_way_out_for_complex_input():
    z = qilin.fft.rfft(qilin.randn(16))
    with pytest.raises(
        TypeError, match=r"abs: complex tensors are not accepted here yet.*z\.abs\(\)"
    ):
        qilin.abs(z)
