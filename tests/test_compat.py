"""`python -m qilin.compat.torch script.py`: unmodified PyTorch scripts run on qilin, and what
qilin lacks fails with one line ("qilin does not provide torch.X yet"), also under a plain
`import qilin as torch`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import qilin

TRAIN = """
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import helper  # a module next to the script: the script's folder is on sys.path


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = helper.target(x)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = Net(16)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    with torch.no_grad():
        first = F.mse_loss(model(x), y).item()
    for epoch in range(args.epochs):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(inputs.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
        scheduler.step()
    torch.save(model.state_dict(), args.out)
    restored = Net(16)
    restored.load_state_dict(torch.load(args.out))
    restored.eval()
    with torch.no_grad():
        final = F.mse_loss(restored(x), y).item()
    print("library", torch.__name__, nn.Linear.__module__.split(".")[0])
    print("lr", scheduler.get_last_lr()[0])
    print("loss", first, final)


if __name__ == "__main__":
    main()
"""

HELPER = """
def target(x):
    return x[:, :1] * 2.0 - x[:, 1:] * 0.5 + 0.1
"""


def _write(folder, source: str, name: str = "script.py"):
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def _run(script, *args, module: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "qilin.compat.torch"] if module else [sys.executable]
    return subprocess.run(
        [*command, str(script), *args], capture_output=True, text=True, timeout=300
    )


def _values(stdout: str) -> dict:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines()}


def test_training_script_runs_unmodified_on_qilin(tmp_path):
    _write(tmp_path, HELPER, "helper.py")
    script = _write(tmp_path, TRAIN, "train.py")
    result = _run(script, "--epochs", "30", "--out", str(tmp_path / "model.pt"))
    assert result.returncode == 0, result.stderr
    values = _values(result.stdout)
    assert values["library"] == ["qilin", "qilin"]  # qilin ran it, not torch
    assert float(values["lr"][0]) == pytest.approx(0.1 * 0.5**3)  # 30 epochs, StepLR(10, 0.5)
    first, final = map(float, values["loss"])
    assert final < 0.01 < first
    assert (tmp_path / "model.pt").exists()


def test_training_script_is_a_torch_script(tmp_path):
    """The same script under real torch, so the test above runs PyTorch code, not qilin code."""
    pytest.importorskip("torch")
    _write(tmp_path, HELPER, "helper.py")
    script = _write(tmp_path, TRAIN, "train.py")
    result = _run(script, "--epochs", "2", "--out", str(tmp_path / "t.pt"), module=False)
    assert result.returncode == 0, result.stderr
    assert _values(result.stdout)["library"] == ["torch", "torch"]


def test_script_sees_argv_main_and_torch_submodules(tmp_path):
    script = _write(
        tmp_path,
        """
        import sys
        import torch.nn.functional
        import torch.nn.init, torch.nn.utils, torch.optim.lr_scheduler, torch.utils.data
        import torch.autograd, torch.linalg
        import torch.cuda
        import torch
        from torch import nn, optim
        print(__name__, sys.argv[1:])
        print(torch.nn.functional.__name__, torch.nn.init.__name__, torch.nn.utils.__name__)
        print(torch.optim.lr_scheduler.__name__, torch.utils.data.__name__)
        print(torch.autograd.__name__, torch.linalg.__name__, nn.__name__, optim.__name__)
        print(torch.cuda.is_available() in (True, False), hasattr(torch, "not_a_thing"))
        """,
    )
    result = _run(script, "a", "--flag")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:5] == [
        "__main__ ['a', '--flag']",
        "qilin.nn.functional qilin.nn.init qilin.nn.utils",
        "qilin.optim.lr_scheduler qilin.utils.data",
        "qilin.autograd qilin.linalg qilin.nn qilin.optim",
        "True False",
    ]


MISSING = [
    ("import torch.distributions", "torch.distributions", 1),
    ("import torch\ntorch.sparse.mm(torch.ones(4))", "torch.sparse", 2),
    ("from torch.sparse import mm", "torch.sparse", 1),
    ("from torch import sparse", "torch.sparse", 1),
    ("import torch.nn as nn\nnn.SomethingNew(3)", "torch.nn.SomethingNew", 2),
    ("from torch.nn import SomethingNew", "torch.nn.SomethingNew", 1),
    ("import torch\ndef f():\n    return torch.nn.functional.no(1)\nf()", "torch.nn.functional.no", 3),  # noqa: E501
    ("import torch.optim as optim\noptim.NotAnOptimizer", "torch.optim.NotAnOptimizer", 2),
    ("import torch.optim.lr_scheduler as s\ns.NoLR", "torch.optim.lr_scheduler.NoLR", 2),
    ("from torch.utils.data import NoSuchLoader", "torch.utils.data.NoSuchLoader", 1),
]  # fmt: skip


@pytest.mark.parametrize("source, name, line", MISSING, ids=[m[1] for m in MISSING])
def test_missing_names_fail_with_one_line(tmp_path, source, name, line):
    script = _write(tmp_path, source + "\n")
    result = _run(script)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"qilin does not provide {name} yet (at {script}:{line}: ")
    assert "Traceback" not in result.stderr


def test_a_script_error_keeps_its_traceback(tmp_path):
    script = _write(tmp_path, "import torch\nraise ValueError('from the script')\n")
    result = _run(script)
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert f'File "{script}", line 2' in result.stderr
    assert "compat" not in result.stderr  # the runner's own frames are left out
    assert result.stderr.rstrip().endswith("ValueError: from the script")


def test_usage_and_missing_script(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "qilin.compat.torch"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage" in result.stderr
    result = _run(tmp_path / "absent.py")
    assert result.returncode == 2 and "absent.py" in result.stderr


@pytest.mark.parametrize(
    "module, torch_name",
    [
        (qilin, "torch"),
        (qilin.nn, "torch.nn"),
        (qilin.nn.functional, "torch.nn.functional"),
        (qilin.optim, "torch.optim"),
        (qilin.utils.data, "torch.utils.data"),
    ],
)
def test_import_qilin_as_torch_names_what_is_missing(module, torch_name):
    with pytest.raises(AttributeError) as caught:
        module.not_a_thing  # noqa: B018
    assert str(caught.value) == f"qilin does not provide {torch_name}.not_a_thing yet"
    assert not hasattr(module, "not_a_thing")
    assert getattr(module, "not_a_thing", 7) == 7
    with pytest.raises(AttributeError, match="has no attribute '__not_a_dunder__'"):
        module.__not_a_dunder__  # noqa: B018


def test_import_qilin_as_torch_still_finds_what_exists():
    import qilin as torch

    assert torch.nn.Linear is qilin.nn.modules.linear.Linear
    assert torch.nn.functional.relu is qilin.nn.functional.relu
    assert torch.optim.SGD is qilin.optim.sgd.SGD
    from qilin.nn import Linear  # noqa: F401  (from-imports are untouched)
