"""Small PyTorch scripts, as a user writes them, run unchanged with `import qilin as torch`.

Each script is source text executed twice: with `torch` bound to the real torch and with `torch`
bound to qilin. Inputs come from numpy or deterministic factories (linspace, arange), never from
the random streams (those differ between the libraries). A script leaves what it computed in the
dict `out`; the two dicts are compared value by value (tensors by dtype, shape and contents).
"""

import contextlib
import io
import math
import re
import textwrap

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")


def _run(lib, source: str, **names) -> dict:
    """Execute `source` with `torch` bound to `lib`; return its `out` dict (and stdout)."""
    namespace = {"torch": lib, "np": np, "math": math, "out": {}, **names}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(textwrap.dedent(source), f"<script on {lib.__name__}>", "exec"), namespace)
    namespace["out"]["stdout"] = stdout.getvalue()
    return namespace["out"]


def _plain(value):
    """Tensors to (dtype name, shape, numpy array); containers recursively; text without names."""
    if isinstance(value, (torch.Tensor, qilin.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], tuple(value.shape), _numpy(value))
    if isinstance(value, (torch.dtype, qilin.dtype)):
        return ("dtype", str(value).split(".")[-1])
    if isinstance(value, (torch.Size, qilin.Size)):
        return ("size", tuple(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, str):
        return value.replace("qilin", "torch")
    return value


def _numpy(tensor) -> np.ndarray:
    tensor = tensor.detach()
    if str(tensor.dtype).endswith("bfloat16"):
        tensor = tensor.float()
    return tensor.numpy()


def _assert_same(ours, theirs, rtol: float, atol: float, where: str = "out") -> None:
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} vs {type(theirs).__name__}"
    if isinstance(ours, tuple) and ours and ours[0] == "tensor":
        assert ours[:3] == theirs[:3], f"{where}: {ours[:3]} vs {theirs[:3]}"
        np.testing.assert_allclose(ours[3], theirs[3], rtol=rtol, atol=atol, err_msg=where)
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: length {len(ours)} vs {len(theirs)}"
        for index, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, rtol, atol, f"{where}[{index}]")
    elif isinstance(ours, float):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == theirs.dtype, f"{where}: {ours.dtype} vs {theirs.dtype}"
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


def _compare(source: str, rtol: float = 1e-10, atol: float = 1e-12, **names) -> dict:
    theirs = _run(torch, source, **names)
    ours = _run(qilin, source, **names)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        _assert_same(_plain(ours[key]), _plain(theirs[key]), rtol, atol, key)
    return ours


POLYNOMIAL_MANUAL_GRADIENTS = """
    # Fit y = sin(x) with a cubic: forward pass, hand-derived gradients, gradient descent.
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.tensor(0.1, dtype=dtype)
    b = torch.tensor(-0.2, dtype=dtype)
    c = torch.tensor(0.05, dtype=dtype)
    d = torch.tensor(0.0, dtype=dtype)
    learning_rate = 1e-6
    losses = []
    for t in range(300):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t % 50 == 49:
            losses.append(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    out["losses"] = losses
    out["coefficients"] = [a, b, c, d]
"""

POLYNOMIAL_AUTOGRAD = """
    # The same fit with autograd: loss.backward() and updates under no_grad.
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.tensor(0.1, device=device, dtype=dtype, requires_grad=True)
    b = torch.full((), -0.2, device=device, dtype=dtype, requires_grad=True)
    c = torch.zeros((), device=device, dtype=dtype, requires_grad=True)
    d = torch.ones((), device=device, dtype=dtype).mul(0.01).requires_grad_()
    learning_rate = 1e-6
    losses = []
    for t in range(300):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 50 == 49:
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    out["losses"] = losses
    out["coefficients"] = [a, b, c, d]
    out["leaf"] = [a.is_leaf, a.requires_grad, a.grad is None, loss.grad_fn is not None]
"""

LEGENDRE_FUNCTION = """
    class LegendrePolynomial3(torch.autograd.Function):
        # P3(x) = (5x^3 - 3x) / 2, with its derivative written by hand.

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    losses = []
    for t in range(300):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 50 == 49:
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None
    print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
    out["losses"] = losses
    out["coefficients"] = [a, b, c, d]
    product = y_pred.grad_fn.next_functions[1][0]
    out["grad_fn"] = [y_pred.grad_fn.name(), product.name(), product.next_functions[1][0].name()]
"""

# float32 sums of 2000 terms round differently in numpy and torch; 300 steps compound that.
_TOLERANCES = {"float32": dict(rtol=2e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize(
    "script",
    [POLYNOMIAL_MANUAL_GRADIENTS, POLYNOMIAL_AUTOGRAD, LEGENDRE_FUNCTION],
    ids=["manual_gradients", "autograd", "custom_function"],
)
def test_polynomial_fit(script, dtype_name):
    theirs = _run(torch, script, dtype=getattr(torch, dtype_name))
    ours = _run(qilin, script, dtype=getattr(qilin, dtype_name))
    assert ours.keys() == theirs.keys()
    for key in theirs:
        if key != "stdout":  # the printed floats carry every digit; compared as numbers below
            _assert_same(
                _plain(ours[key]), _plain(theirs[key]), where=key, **_TOLERANCES[dtype_name]
            )
    number = r"-?\d+\.\d+(?:e[-+]?\d+)?"
    assert re.sub(number, "#", ours["stdout"]) == re.sub(number, "#", theirs["stdout"])
    ours_printed = [float(w) for w in re.findall(number, ours["stdout"])]
    theirs_printed = [float(w) for w in re.findall(number, theirs["stdout"])]
    np.testing.assert_allclose(ours_printed, theirs_printed, **_TOLERANCES[dtype_name])
    assert ours["losses"][-1] < ours["losses"][0]  # and the fit improves


CREATION = """
    torch.manual_seed(0)  # called as scripts do; the random values themselves are not compared
    out["zeros"] = torch.zeros(2, 3, dtype=torch.float64, device="cpu")
    out["ones"] = torch.ones((2, 2), dtype=torch.int32)
    out["full"] = torch.full((2, 3), 7.5)
    out["int_full"] = torch.full((2,), 3)
    out["arange"] = torch.arange(0, 10, 3)
    out["float_arange"] = torch.arange(0.0, 1.0, 0.25)
    out["linspace"] = torch.linspace(0, 1, steps=5)
    out["logspace"] = torch.logspace(0, 2, steps=3, dtype=torch.float64)
    out["eye"] = torch.eye(3, 4)
    out["from_list"] = torch.tensor([[1, 2], [3, 4]])
    out["from_floats"] = torch.tensor([1.5, 2.5], dtype=torch.float64)
    out["from_bools"] = torch.tensor([True, False])
    out["from_numpy"] = torch.from_numpy(np.arange(6.0).reshape(2, 3))
    out["as_tensor"] = torch.as_tensor(np.array([1, 2, 3], dtype=np.int32))
    base = torch.arange(6.0).reshape(2, 3)
    out["like"] = [torch.zeros_like(base), torch.ones_like(base), torch.full_like(base, 2.0)]
    out["empty_shape"] = torch.empty(4, 2).shape
    out["new"] = [base.new_zeros(2), base.new_ones((1, 2)), base.new_full((2,), 5.0)]
    out["new_tensor"] = base.new_tensor([1, 2])
    out["attributes"] = [base.dtype, base.shape, base.size(1), base.dim(), base.ndim, base.numel()]
    out["device"] = [str(base.device), base.device.type, base.is_cuda]
    out["casts"] = [base.int(), base.long(), base.double(), base.float(), base.bool(), base.half()]
    out["to"] = [base.to(torch.float64), base.to("cpu"), base.to("cpu", torch.int64),
                 base.type(torch.int16)]
    out["is_floating"] = [base.is_floating_point(), torch.is_tensor(base),
                          torch.is_floating_point(base)]
    out["random_shapes"] = [torch.randn(3, 4).shape, torch.rand(2).dtype,
                            torch.randint(0, 5, (3,)).dtype]
    out["default_dtype"] = torch.get_default_dtype()
"""

INDEXING = """
    x = torch.arange(24.0).reshape(4, 6)
    out["row"] = x[1]
    out["column"] = x[:, 2]
    out["slice"] = x[1:3, ::2]
    out["negative"] = x[-1, -2:]
    out["ellipsis"] = x[..., 0]
    out["none"] = x[None, :, 1].shape
    out["mask"] = x[x > 20]
    out["index_list"] = x[[0, 2, 3]]
    out["index_tensor"] = x[torch.tensor([3, 0]), torch.tensor([1, 5])]
    out["bool_rows"] = x[torch.tensor([True, False, True, False])]
    y = x.clone()
    y[0] = -1
    y[1, 2:4] = torch.tensor([100.0, 200.0])
    y[y > 20] = 0
    y[:, 0] += 0.5
    y[torch.tensor([2, 3]), 1] = torch.tensor([-5.0, -6.0])
    out["assigned"] = y
    out["original_untouched"] = x
    z = torch.zeros(5)
    z[torch.arange(5) % 2 == 0] = 1.0
    out["mask_assign"] = z
    out["masked_fill"] = x.masked_fill(x < 3, -1.0)
    out["nonzero"] = torch.nonzero(x[0] > 2)
    out["index_select"] = torch.index_select(x, 1, torch.tensor([0, 5]))
    out["gather"] = torch.gather(x, 1, torch.tensor([[0], [1], [2], [3]]))
    scattered = torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [3], [0]]), 1.0)
    out["scatter"] = scattered
    out["scatter_add"] = torch.zeros(5).scatter_add_(0, torch.tensor([0, 1, 1, 4]), torch.ones(4))
    out["index_add"] = torch.zeros(3, 2).index_add_(0, torch.tensor([0, 2, 0]), torch.ones(3, 2))
"""

SHAPES = """
    x = torch.arange(24).reshape(2, 3, 4)
    out["view"] = x.view(6, 4)
    out["view_infer"] = x.view(-1, 8)
    out["reshape"] = torch.reshape(x, (4, -1))
    out["permute"] = x.permute(2, 0, 1)
    out["is_contiguous"] = [x.is_contiguous(), x.permute(2, 0, 1).is_contiguous()]
    out["contiguous_view"] = x.permute(2, 0, 1).contiguous().view(-1)
    out["transpose"] = [x.transpose(0, 2), x[0].t(), x[0].T, x.mT]
    out["flatten"] = [x.flatten(), x.flatten(1), torch.flatten(x, 0, 1)]
    out["unsqueeze"] = [x.unsqueeze(0).shape, x[:, None].shape, x.unsqueeze(-1).shape]
    out["squeeze"] = [torch.zeros(1, 3, 1).squeeze().shape, torch.zeros(1, 3, 1).squeeze(0).shape]
    out["expand"] = torch.tensor([[1], [2]]).expand(2, 3)
    out["repeat"] = torch.tensor([1, 2]).repeat(2, 2)
    out["cat"] = [torch.cat([x, x], dim=0).shape, torch.cat((x[0], x[1]), 1)]
    out["stack"] = [torch.stack([x[0], x[1]]), torch.stack([x[0], x[1]], dim=-1).shape]
    out["split"] = list(torch.split(torch.arange(10), 4))
    out["chunk"] = list(torch.arange(10).chunk(3))
    out["unbind"] = list(x[0].unbind(1))
    out["flip"] = torch.flip(x[0], dims=[1])
    out["roll"] = torch.roll(torch.arange(5), 2)
    out["tril"] = torch.tril(torch.ones(3, 3))
    out["triu"] = torch.ones(3, 3).triu(diagonal=1)
    out["narrow"] = x.narrow(2, 1, 2)
    out["meshgrid"] = list(torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij"))
"""

ARITHMETIC = """
    a = torch.arange(6.0).reshape(2, 3)
    b = torch.tensor([10.0, 20.0, 30.0])
    c = torch.tensor([[1.0], [2.0]])
    out["broadcast"] = [a + b, a * c, a - c + b, b / (a + 1), a ** 2, 2 ** a, -a, 1 - a]
    out["integer_ops"] = [torch.arange(7) // 2, torch.arange(7) % 3, torch.arange(4) / 2]
    out["promotion"] = [(torch.arange(3) + 0.5).dtype, (torch.arange(3) * 2).dtype,
                        (torch.ones(2, dtype=torch.float64) + torch.ones(2)).dtype]
    out["comparisons"] = [a > 2, a == b[None, :2].sum(), (a >= 1) & (a < 4), ~(a > 2), a != 3]
    out["math"] = [a.exp(), torch.log1p(a), a.sqrt(), torch.sin(a), a.tanh(), torch.sigmoid(a),
                   a.clamp(1, 4), torch.clamp(a, min=2.0), a.abs(), torch.relu(a - 2), a.sign()]
    out["rounding"] = [torch.round(a / 4), (a / 4).floor(), (a / 4).ceil(), (a / 4).trunc()]
    out["matmul"] = [a @ a.T, torch.mm(a, a.t()), torch.matmul(a, b), a.mv(b), b.dot(b)]
    batch = torch.arange(24.0).reshape(2, 3, 4)
    out["batched_matmul"] = [batch @ batch.transpose(1, 2), torch.bmm(batch, batch.mT),
                             torch.matmul(batch, torch.ones(4)),
                             torch.matmul(batch, torch.ones(4, 2))]
    out["einsum"] = [torch.einsum("ij,kj->ik", a, a), torch.einsum("bij,bjk->bik", batch, batch.mT),
                     torch.einsum("ii->", torch.eye(3) * 2), torch.einsum("i,j->ij", b, b)]
    out["outer"] = torch.outer(b, torch.tensor([1.0, -1.0]))
    out["where"] = [torch.where(a > 2, a, -a), torch.where(a > 2, a, 0.0), torch.where(a > 2)]
    out["lerp"] = torch.lerp(a, torch.ones(2, 3), 0.25)
    out["allclose"] = [torch.allclose(a, a + 1e-9), torch.equal(a, a.clone()),
                       torch.isclose(a, b[:1]).tolist()]
"""

IN_PLACE = """
    w = torch.ones(3)
    w.add_(2)
    w.mul_(torch.tensor([1.0, 2.0, 3.0]))
    w.sub_(1).div_(2)
    w.clamp_(max=4.0)
    w += 1
    w *= 2
    w -= torch.tensor([1.0, 0.0, 0.0])
    w /= 2
    out["chained"] = w
    v = torch.zeros(2, 3)
    v.fill_(1.5)
    v[0].zero_()
    v.add_(torch.arange(3.0), alpha=2)
    v.addcmul_(torch.ones(2, 3), torch.full((2, 3), 3.0), value=0.5)
    v.copy_(v * 2)
    out["through_view"] = v
    ids = [id(w), id(w.add_(1))]
    out["returns_self"] = ids[0] == ids[1]
    x = torch.arange(5.0)
    view = x[1:4]
    view.mul_(10)
    out["view_writes_base"] = x
    out["pow_"] = torch.tensor([2.0, 3.0]).pow_(2)
    out["exp_"] = torch.tensor([0.0, 1.0]).exp_()
    out["neg_"] = torch.arange(3.0).neg_()
"""

CONVERSIONS = """
    x = torch.tensor([[1.5, -2.0], [3.25, 4.0]], dtype=torch.float64)
    out["item"] = x[1, 0].item()
    out["item_int"] = torch.tensor(7).item()
    out["item_bool"] = (x > 0).all().item()
    out["tolist"] = x.tolist()
    out["tolist_int"] = torch.arange(3).tolist()
    out["scalar_tolist"] = torch.tensor(2.5).tolist()
    array = x.numpy()
    out["numpy"] = array
    out["numpy_dtype"] = str(torch.arange(3).numpy().dtype)
    array[0, 0] = 100.0  # numpy() shares memory with the tensor
    out["shared_memory"] = x
    out["python_numbers"] = [float(x[0, 1]), int(torch.tensor(3.7)), bool(torch.tensor(1))]
    out["len"] = len(x)
    out["iteration"] = [row.sum().item() for row in x]
    out["format"] = f"{x[1, 1].item():.3f} {torch.tensor(2.0):.2f}"
    out["numpy_math"] = float(np.sum(torch.arange(4.0).numpy()))
"""

SORTING_AND_REDUCTIONS = """
    scores = torch.tensor([[0.1, 2.0, -1.0, 0.7], [3.0, 0.2, 0.3, -4.0], [1.0, 1.5, 5.0, 0.0]])
    out["argmax"] = [scores.argmax(), scores.argmax(dim=1), torch.argmax(scores, 0, keepdim=True)]
    out["argmin"] = scores.argmin(1)
    values, indices = scores.max(dim=1)
    out["max_dim"] = [values, indices, scores.max(), torch.max(scores, torch.zeros(1))]
    out["min_keepdim"] = list(scores.min(dim=0, keepdim=True))
    top = torch.topk(scores, 2)
    out["topk"] = [top.values, top.indices, scores.topk(1, dim=0, largest=False).values]
    ordered, order = torch.sort(scores[0], descending=True)
    out["sort"] = [ordered, order, scores.sort(dim=0).values, scores.argsort(dim=1)]
    out["sum"] = [scores.sum(), scores.sum(dim=1), scores.sum(0, keepdim=True), scores.sum((0, 1))]
    out["mean"] = [scores.mean(), scores.mean(dim=-1, keepdim=True), torch.mean(scores, 0)]
    out["std_var"] = [scores.std(), scores.var(dim=1), scores.std(0, unbiased=False)]
    out["prod_cumsum"] = [scores.prod(1), scores.cumsum(dim=1), torch.cumprod(scores[0], 0)]
    out["norm"] = [scores.norm(), scores.norm(dim=1), torch.linalg.norm(scores[0])]
    out["logsumexp"] = torch.logsumexp(scores, dim=1)
    out["any_all"] = [(scores > 4).any(), (scores > -5).all(), (scores > 0).any(dim=1)]
    out["count"] = [(scores > 0).sum(), torch.count_nonzero(scores, dim=0)]
    out["unique"] = list(torch.unique(torch.tensor([3, 1, 3, 2, 1]), return_counts=True))
    out["softmax"] = [torch.softmax(scores, dim=1), scores.softmax(0), torch.log_softmax(scores, 1)]
    out["median"] = [scores.median(), torch.amax(scores, dim=1), torch.amin(scores, dim=(0, 1))]
"""

AUTOGRAD_IDIOMS = """
    w = torch.arange(4.0).reshape(2, 2).requires_grad_()
    x = torch.tensor([1.0, -1.0])
    y = (w @ x).pow(2).sum()
    y.backward()
    out["grad"] = w.grad
    out["flags"] = [w.requires_grad, w.is_leaf, y.requires_grad, y.is_leaf, x.requires_grad]
    with torch.no_grad():
        z = w * 2
    out["no_grad"] = [z.requires_grad, z.grad_fn is None, torch.is_grad_enabled()]
    d = w.detach()
    out["detach"] = [d.requires_grad, d.data_ptr() == w.data_ptr()]
    c = w.clone()
    out["clone"] = [c.requires_grad, c.is_leaf, c.grad_fn is not None]
    (c * 3).sum().backward()
    out["accumulated"] = w.grad
    w.grad.zero_()
    h = w.exp()
    h.retain_grad()
    h.sum().backward()
    out["retain_grad"] = [h.grad, w.grad]
    out["data"] = w.data
    v = torch.tensor([2.0, 3.0], requires_grad=True)
    out["grad_tensor"] = torch.autograd.grad((v ** 3).sum(), v)
    u = v * v
    u.backward(torch.tensor([1.0, 0.5]))
    out["vector_backward"] = v.grad
    @torch.no_grad()
    def evaluate(t):
        return t * 2
    out["decorator"] = evaluate(v).requires_grad
    with torch.set_grad_enabled(False):
        out["set_grad_enabled"] = (v * 1).requires_grad
    with torch.enable_grad():
        out["enable_grad"] = (v * 1).requires_grad
"""

LEGACY_AND_CONSTANTS = """
    # Older scripts: Variable, .data updates, module constants, storage facts.
    x = torch.autograd.Variable(torch.linspace(-torch.pi, torch.pi, 9), requires_grad=False)
    w = torch.autograd.Variable(torch.ones(1), requires_grad=True)
    loss = ((w * x).sin() - (0.5 * x).sin()).pow(2).sum()
    loss.backward()
    w.data -= 0.1 * w.grad.data
    out["w"] = [w, w.grad.clone(), w.is_leaf]
    w.grad.data.zero_()
    out["grad_zeroed"] = w.grad
    out["isinstance"] = [isinstance(x, torch.autograd.Variable), x.requires_grad]
    out["constants"] = [torch.pi, torch.e, torch.inf, math.isnan(torch.nan)]
    out["clamped"] = torch.tensor([-1e30, 1e30]).clamp(-torch.inf, 0)
    out["sizes"] = [x.nbytes, x.itemsize, x.element_size(), x[::2].nbytes, x.get_device()]
    out["flags"] = [x.is_sparse, x.is_quantized, x.is_meta, x.is_cuda]
    out["diff"] = [torch.diff(x), x.diff(n=2),
                   torch.diff(torch.tensor([1, 4, 9]), prepend=torch.tensor([0]))]
    out["dist"] = [torch.dist(x, torch.zeros(9)), x.dist(x + 1, p=1)]
    out["kron"] = [torch.kron(torch.eye(2), torch.tensor([1.0, 2.0])),
                   torch.kron(torch.ones(2, 2), torch.eye(2))]
"""


@pytest.mark.parametrize(
    "script",
    [
        LEGACY_AND_CONSTANTS,
        CREATION,
        INDEXING,
        SHAPES,
        ARITHMETIC,
        IN_PLACE,
        CONVERSIONS,
        SORTING_AND_REDUCTIONS,
        AUTOGRAD_IDIOMS,
    ],
    ids=[
        "legacy",
        "creation",
        "indexing",
        "shapes",
        "arithmetic",
        "in_place",
        "conversions",
        "sorting_reductions",
        "autograd",
    ],
)
def test_tensor_idioms(script):
    _compare(script, rtol=1e-6, atol=1e-7)


def _two_circles(count: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Points on two concentric circles (inner: class 0, outer: class 1), no randomness."""
    angles = np.linspace(0.0, 2.0 * np.pi, count // 2, endpoint=False)
    inner = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 0.5
    outer = np.stack([np.cos(angles + 0.1), np.sin(angles + 0.1)], axis=1) * 1.5
    points = np.concatenate([inner, outer]).astype(np.float32)
    labels = np.repeat(np.arange(2), count // 2)
    return points, labels


MLP_CLASSIFIER = """
    # A 2-layer MLP trained with hand-written SGD + momentum and softmax cross-entropy.
    x = torch.from_numpy(points).to(dtype)
    y = torch.tensor(labels, dtype=torch.long)
    hidden = 16
    # Deterministic initial weights (a smooth pattern instead of a random draw).
    w1 = (torch.sin(torch.arange(2 * hidden, dtype=dtype).reshape(2, hidden) * 1.7) * 0.8)
    b1 = torch.zeros(hidden, dtype=dtype)
    w2 = (torch.cos(torch.arange(hidden * 2, dtype=dtype).reshape(hidden, 2) * 0.9) * 0.5)
    b2 = torch.zeros(2, dtype=dtype)
    params = [w1, b1, w2, b2]
    for p in params:
        p.requires_grad_(True)
    momentum = [torch.zeros_like(p) for p in params]
    lr, beta = 0.2, 0.9

    def forward(inputs):
        h = torch.relu(inputs @ w1 + b1)
        return h.matmul(w2) + b2

    def cross_entropy(logits, target):
        log_probs = torch.log_softmax(logits, dim=1)
        return -log_probs.gather(1, target.unsqueeze(1)).squeeze(1).mean()

    losses = []
    for step in range(50):
        loss = cross_entropy(forward(x), y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p, m in zip(params, momentum):
                m.mul_(beta).add_(p.grad)
                p.sub_(lr * m)
        losses.append(loss.item())
    with torch.no_grad():
        predictions = forward(x).argmax(dim=1)
        accuracy = (predictions == y).float().mean().item()
    print(f"final loss {losses[-1]:.4f}, accuracy {accuracy:.3f}")
    out["losses"] = losses
    out["params"] = params
    out["accuracy"] = accuracy
"""


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_mlp_classifier_on_two_circles(dtype_name):
    points, labels = _two_circles()
    # float32: matmul accumulation order differs (BLAS vs torch); 50 steps amplify it a little.
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype_name == "float32" else {}
    theirs = _run(
        torch, MLP_CLASSIFIER, points=points, labels=labels, dtype=getattr(torch, dtype_name)
    )
    ours = _run(
        qilin, MLP_CLASSIFIER, points=points, labels=labels, dtype=getattr(qilin, dtype_name)
    )
    for key in ("losses", "params", "accuracy"):
        _assert_same(
            _plain(ours[key]),
            _plain(theirs[key]),
            where=key,
            **(tolerance or dict(rtol=1e-9, atol=1e-11)),
        )
    assert ours["stdout"] == theirs["stdout"]
    assert ours["losses"][-1] < 0.5 * ours["losses"][0] and ours["accuracy"] > 0.9


HIGHER_ORDER = """
    # A WGAN-GP style gradient penalty: the norm of d(critic)/d(input), itself differentiated.
    w = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64).reshape(3, 2).requires_grad_()
    inputs = torch.linspace(-2.0, 2.0, 8, dtype=torch.float64).reshape(4, 2).requires_grad_(True)
    critic = torch.tanh(inputs @ w.T).pow(2).sum(dim=1)
    (grad_inputs,) = torch.autograd.grad(
        outputs=critic, inputs=inputs, grad_outputs=torch.ones_like(critic), create_graph=True
    )
    penalty = ((grad_inputs.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    out["grad_inputs"] = grad_inputs
    out["penalty"] = penalty
    out["w_grad"] = w.grad
    out["inputs_grad"] = inputs.grad
    out["grad_requires_grad"] = grad_inputs.requires_grad

    # Second derivative of a scalar function by differentiating twice.
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    f = (x.sin() * x ** 2).sum()
    (first,) = torch.autograd.grad(f, x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    out["first"] = first
    out["second"] = second

    # Full Hessians from torch.autograd.functional.
    def energy(p):
        return (p[0] ** 2 * p[1] + torch.exp(p[1] * p[2]) + p.pow(4).sum() / 12)

    out["hessian"] = torch.autograd.functional.hessian(energy, x.detach())
    out["jacobian"] = torch.autograd.functional.jacobian(lambda p: p.sin() * p.sum(), x.detach())

    def pair_energy(a, b):
        return (a * b.sum()).pow(2).sum()

    out["hessian_tuple"] = torch.autograd.functional.hessian(
        pair_energy, (x.detach(), torch.tensor([1.0, 2.0], dtype=torch.float64))
    )
    out["vhp"] = torch.autograd.functional.vhp(
        energy, x.detach(), torch.ones(3, dtype=torch.float64)
    )
"""


def test_higher_order_gradients():
    _compare(HIGHER_ORDER)


PRINTING = """
    print(torch.tensor([1.0, 2.5, -3.0]))
    print(torch.arange(12).reshape(3, 4))
    print(torch.tensor([[0.1234567, 100.0], [1e-3, -5.5]]))
    print(torch.tensor([1e-8, 1.0, 1e8]))
    print(torch.tensor([True, False]))
    print(torch.tensor(3.5))
    print(torch.tensor([1.0, 2.0], dtype=torch.float64))
    print(torch.tensor([1, 2], dtype=torch.int32))
    print(torch.zeros(2, 0))
    print(torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0]))
    w = torch.ones(2, 2, requires_grad=True)
    print(w)
    print(w * 2)
    print(w.sum())
    print(torch.arange(2000.0))
    print(torch.linspace(0, 1, 7).reshape(1, 7))
    print(torch.arange(24).reshape(2, 3, 4))
    x = torch.linspace(-1, 1, 5)
    print("x:", x, "shape:", x.shape, "dtype:", x.dtype)
    print(repr(x.shape), x.size(), x.device)
    print(f"{x.mean().item():.4f}")
    print(x.tolist())
    torch.set_printoptions(precision=2)
    print(torch.tensor([3.14159, 2.71828]))
    torch.set_printoptions(precision=4)
    print(torch.tensor([1.5, 2.25]).half())
"""


def test_printed_tensors_match_torch():
    theirs = _run(torch, PRINTING)["stdout"]
    try:
        ours = _run(qilin, PRINTING)["stdout"]
    finally:
        qilin.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    expected = theirs.replace("torch", "qilin")
    assert ours.splitlines() == expected.splitlines()
