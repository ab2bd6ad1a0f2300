"""CheckpointManager: exact resume, keep-last-N, crash safety under SIGKILL, clear errors.

The reference for "resumes exactly" is an uninterrupted run of the same training: 2N steps
straight must give bit for bit the parameters (and optimizer state) of N steps, a save, every
object thrown away and rebuilt from scratch, a restore and N more steps.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import qilin
import qilin.nn as nn
import qilin.optim as optim
from qilin.io import CheckpointError, CheckpointManager
from qilin.utils.data import DataLoader, TensorDataset

N = 6


def _build(kind: str, seed: int):
    """A small model with Dropout (so the RNG matters), an optimizer and a StepLR."""
    qilin.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3))
    if kind == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    else:
        optimizer = optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, steps: int) -> list[float]:
    """Data from qilin's default generator, scaled by draws from Python's and NumPy's RNGs, so
    all three generators must be restored for the run to continue identically."""
    losses = []
    model.train()
    for _ in range(steps):
        x = qilin.randn(8, 5) * (1 + random.random()) + float(np.random.rand())
        target = qilin.randint(0, 3, (8,))
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def _seed_everything(seed: int) -> None:
    qilin.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def _assert_same_optimizer_state(got: dict, expected: dict) -> None:
    assert got["param_groups"] == expected["param_groups"]
    assert set(got["state"]) == set(expected["state"])
    for index, state in expected["state"].items():
        assert set(got["state"][index]) == set(state)
        for key, value in state.items():
            np.testing.assert_array_equal(got["state"][index][key].numpy(), value.numpy())


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(kind, tmp_path):
    _seed_everything(0)
    model, optimizer, scheduler = _build(kind, seed=1)
    straight_losses = _train(model, optimizer, scheduler, 2 * N)

    _seed_everything(0)
    model, optimizer, scheduler = _build(kind, seed=1)
    first_losses = _train(model, optimizer, scheduler, N)
    manager = CheckpointManager(tmp_path / "ckpt", max_to_keep=2)
    manager.save(N, model=model, optimizer=optimizer, scheduler=scheduler)
    del model, optimizer, scheduler, manager

    # A new process would start from other random states and other initial weights.
    _seed_everything(12345)
    model, optimizer, scheduler = _build(kind, seed=99)
    manager = CheckpointManager(tmp_path / "ckpt", max_to_keep=2)
    step = manager.restore(model=model, optimizer=optimizer, scheduler=scheduler)
    assert step == N
    assert scheduler.last_epoch == N
    resumed_losses = _train(model, optimizer, scheduler, N)

    _seed_everything(0)
    reference, reference_optimizer, reference_scheduler = _build(kind, seed=1)
    assert _train(reference, reference_optimizer, reference_scheduler, 2 * N) == straight_losses
    assert first_losses + resumed_losses == straight_losses
    for (name, expected), (_, got) in zip(
        reference.state_dict().items(), model.state_dict().items()
    ):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=name)
    _assert_same_optimizer_state(optimizer.state_dict(), reference_optimizer.state_dict())
    assert scheduler.state_dict() == reference_scheduler.state_dict()


def test_resume_with_a_shuffling_dataloader_generator(tmp_path):
    """Epoch-level checkpoints: the DataLoader's own generator is saved and restored."""
    data = TensorDataset(qilin.arange(40.0).reshape(20, 2), qilin.arange(20) % 3)

    def run(epochs, model, optimizer, generator):
        loader = DataLoader(data, batch_size=4, shuffle=True, generator=generator)
        order = []
        for _ in range(epochs):
            for x, y in loader:
                order.append(y.tolist())
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x / 40), y).backward()
                optimizer.step()
        return order

    def fresh(seed):
        qilin.manual_seed(seed)
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.2), nn.Linear(8, 3))
        return model, optimizer_of(model), qilin.Generator().manual_seed(seed)

    def optimizer_of(model):
        return optim.SGD(model.parameters(), lr=0.05, momentum=0.5)

    model, optimizer, generator = fresh(3)
    straight = run(4, model, optimizer, generator)

    model2, optimizer2, generator2 = fresh(3)
    first = run(2, model2, optimizer2, generator2)
    manager = CheckpointManager(tmp_path)
    manager.save(2, model=model2, optimizer=optimizer2, data_order=generator2)
    model2, optimizer2, generator2 = fresh(77)
    manager.restore(model=model2, optimizer=optimizer2, data_order=generator2)
    assert first + run(2, model2, optimizer2, generator2) == straight
    for expected, got in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())


class _Blob:
    """Anything with a state_dict: here a tensor filled with a value, to tell saves apart."""

    def __init__(self, value=0.0, size=10):
        self.tensor = qilin.full((size,), float(value))

    def state_dict(self):
        return {"tensor": self.tensor}

    def load_state_dict(self, state):
        self.tensor = state["tensor"]


def _value(blob: _Blob) -> float:
    values = np.unique(blob.tensor.numpy())
    assert len(values) == 1, "a checkpoint mixes two saves"
    return float(values[0])


def test_keeps_only_the_newest_checkpoints(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=2, prefix="run")
    for step in (1, 2, 5, 9):
        path = manager.save(step, blob=_Blob(step))
        assert path == manager.latest == os.path.join(tmp_path, f"run-{step}.qilin")
    assert manager.steps == [5, 9] and manager.latest_step == 9
    assert manager.checkpoints == [manager.path(5), manager.path(9)]
    assert sorted(os.listdir(tmp_path)) == ["run-5.qilin", "run-9.qilin"]
    blob = _Blob()
    assert manager.restore(5, blob=blob) == 5 and _value(blob) == 5
    assert manager.restore(blob=blob) == 9 and _value(blob) == 9
    with pytest.raises(FileNotFoundError, match=r"no checkpoint of step 2 .*steps \[5, 9\]"):
        manager.restore(2, blob=blob)


def test_keep_all_by_default_and_same_step_is_replaced(tmp_path):
    manager = CheckpointManager(tmp_path)
    for step in range(7):
        manager.save(step, blob=_Blob(step))
    manager.save(6, blob=_Blob(60))
    assert manager.steps == list(range(7))
    blob = _Blob()
    manager.restore(blob=blob)
    assert _value(blob) == 60


def test_managers_with_other_prefixes_share_a_folder(tmp_path):
    best = CheckpointManager(tmp_path, max_to_keep=1, prefix="best")
    last = CheckpointManager(tmp_path, max_to_keep=1, prefix="last")
    best.save(3, blob=_Blob(3))
    last.save(4, blob=_Blob(4))
    last.save(8, blob=_Blob(8))
    assert best.steps == [3] and last.steps == [8]
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "last-x.qilin").write_text("not a checkpoint either")
    assert last.steps == [8]


def test_rng_states_are_restored(tmp_path):
    manager = CheckpointManager(tmp_path)
    _seed_everything(4)
    manager.save(0)
    expected = (qilin.rand(3).tolist(), random.random(), np.random.rand(2).tolist())
    _seed_everything(5)
    manager.restore()
    assert (qilin.rand(3).tolist(), random.random(), np.random.rand(2).tolist()) == expected
    no_rng = CheckpointManager(tmp_path / "other", save_rng=False)
    no_rng.save(0)
    _seed_everything(6)
    state = qilin.get_rng_state()
    no_rng.restore()
    assert qilin.get_rng_state().tolist() == state.tolist()


def test_missing_or_empty_directory_is_a_clear_error(tmp_path):
    manager = CheckpointManager(tmp_path / "nowhere")
    assert manager.latest is None and manager.checkpoints == [] and manager.steps == []
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        manager.restore(model=nn.Linear(2, 2))
    assert not (tmp_path / "nowhere").exists()  # restoring never creates the folder
    empty = CheckpointManager(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"holds no checkpoint-<step>\.qilin file"):
        empty.restore()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "pickle", "empty"])
def test_corrupt_latest_checkpoint_is_a_clear_error(damage, tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save(1, blob=_Blob(1, size=1000))
    manager.save(2, blob=_Blob(2, size=1000))
    path = manager.path(2)
    data = open(path, "rb").read()
    corrupted = {
        "truncate": data[: len(data) // 2],
        "garbage": os.urandom(len(data)),
        "pickle": pickle.dumps({"blob": [1, 2]}),
        "empty": b"",
    }[damage]
    with open(path, "wb") as file:
        file.write(corrupted)
    blob = _Blob()
    with pytest.raises(CheckpointError, match=r"cannot restore checkpoint .*checkpoint-2\.qilin"):
        manager.restore(blob=blob)
    with pytest.raises(CheckpointError, match=r"other checkpoints: steps \[1\]"):
        manager.restore(blob=blob)
    assert _value(blob) == 0  # nothing was half-loaded
    assert manager.restore(1, blob=blob) == 1 and _value(blob) == 1


def test_a_plain_qilin_file_is_not_taken_for_a_checkpoint(tmp_path):
    qilin.save({"step": 3, "weights": qilin.ones(2)}, tmp_path / "checkpoint-3.qilin")
    with pytest.raises(CheckpointError, match="not a checkpoint written by CheckpointManager"):
        CheckpointManager(tmp_path).restore()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_to_keep must be a positive integer or None"):
        CheckpointManager(tmp_path, max_to_keep=0)
    with pytest.raises(ValueError, match="prefix"):
        CheckpointManager(tmp_path, prefix="a/b")
    manager = CheckpointManager(tmp_path)
    with pytest.raises(TypeError, match=r"nothing=list has no state_dict"):
        manager.save(1, nothing=[1, 2])
    with pytest.raises(TypeError, match="step must be an int"):
        manager.save(1.5, blob=_Blob())
    with pytest.raises(ValueError, match="non-negative"):
        manager.save(-1, blob=_Blob())
    manager.save(10, blob=_Blob())
    with pytest.raises(ValueError, match=r"cannot save step 4: .*newer checkpoint \(step 10\)"):
        manager.save(4, blob=_Blob())
    with pytest.raises(KeyError, match=r"no state for \['model'\]; it holds \['blob'\]"):
        manager.restore(model=nn.Linear(1, 1))
    manager.delete(10)
    manager.save(4, blob=_Blob())
    assert manager.steps == [4]


def test_leftover_temporary_files_are_ignored_then_cleaned(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save(1, blob=_Blob(1))
    torn = tmp_path / ".checkpoint-2.qilin.abc123.tmp"
    torn.write_bytes(b"half a file")
    other = tmp_path / ".unrelated.tmp"
    other.write_bytes(b"")
    assert manager.steps == [1]
    CheckpointManager(tmp_path)  # a new run removes what a killed save left behind
    assert sorted(os.listdir(tmp_path)) == [".unrelated.tmp", "checkpoint-1.qilin"]


_WRITER = """
import sys, time
import qilin
from qilin.io import CheckpointManager, serialization

class Blob:
    def __init__(self, value):
        self.tensor = qilin.full((1_000_000,), float(value))
    def state_dict(self):
        return {"tensor": self.tensor}
    def load_state_dict(self, state):
        self.tensor = state["tensor"]

def slow_write(file, data):
    # Write in chunks with pauses so that a kill lands inside a write most of the time.
    for start in range(0, len(data), 1 << 18):
        file.write(data[start:start + (1 << 18)])
        time.sleep(0.01)

serialization._write_all = slow_write
manager = CheckpointManager(sys.argv[1], max_to_keep=2)
step = manager.latest_step or 0
while True:
    step += 1
    print("begin", step, flush=True)
    manager.save(step, blob=Blob(step))
    print("done", step, flush=True)
"""


def _pairs(text):
    words = text.split()
    return zip(words[::2], words[1::2])


def test_sigkill_during_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    folder = tmp_path / "ckpt"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(_WRITER))
    torn_seen = 0
    for attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, str(script), str(folder)], stdout=subprocess.PIPE, text=True
        )
        try:
            saved = []
            for line in process.stdout:  # wait for one complete save and the start of the next
                event, step = line.split()
                if event == "done":
                    saved.append(int(step))
                elif saved:
                    break
            assert saved, "the writer process failed to save"
            time.sleep(0.03 + 0.02 * attempt)  # the write takes ~0.2 s: kill in the middle of it
            os.kill(process.pid, signal.SIGKILL)
            saved += [int(step) for event, step in _pairs(process.stdout.read()) if event == "done"]
        finally:
            process.kill()
            process.wait()
        assert process.returncode == -signal.SIGKILL
        torn_seen += any(name.endswith(".tmp") for name in os.listdir(folder))
        manager = CheckpointManager(folder, max_to_keep=2)
        latest = manager.latest_step
        # the latest is the last save reported, or one that completed just before the kill
        assert latest in (saved[-1], saved[-1] + 1)
        for step in manager.steps:  # every listed checkpoint is complete and consistent
            blob = _Blob()
            assert manager.restore(step, blob=blob) == step
            assert _value(blob) == step and blob.tensor.shape == (1_000_000,)
        assert not any(name.endswith(".tmp") for name in os.listdir(folder))
    assert torn_seen > 0, "no kill landed inside a save; the test did not test anything"
