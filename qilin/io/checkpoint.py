"""CheckpointManager: numbered checkpoints in a folder, the last N kept, resumes that are exact.

    manager = qilin.io.CheckpointManager("runs/ckpt", max_to_keep=3)
    manager.save(step, model=model, optimizer=optimizer, scheduler=scheduler)
    ...
    step = manager.restore(model=model, optimizer=optimizer, scheduler=scheduler)  # the latest

A checkpoint is one file, `<prefix>-<step>.qilin`, written by `qilin.save` (no pickle): the
`state_dict()` of every object passed, the random number generators' states (qilin's default
generator, Python's `random`, NumPy's global one) and the step. `qilin.save` writes a hidden
temporary file and renames it into place, so a checkpoint file either exists complete or not at
all; the latest checkpoint is found by listing those files (there is no separate index that could
disagree with them), so a crash during a save leaves the previous checkpoint as the latest.
Older checkpoints are deleted only after the new one is in place. One process writes a folder.
"""

from __future__ import annotations

import os
import random
import re
from typing import Any

import numpy as np

from .. import random as qilin_random
from .serialization import CheckpointError, load, save

__all__ = ["CheckpointManager"]

_FORMAT = "qilin.CheckpointManager"
_VERSION = 1
_SUFFIX = ".qilin"


class CheckpointManager:
    """Saves and restores training state as numbered checkpoints in `directory`.

    Args:
        directory: the folder (created on the first save).
        max_to_keep: how many of the newest checkpoints to keep; None keeps all.
        prefix: file names are `<prefix>-<step>.qilin`; several managers with different
            prefixes can share a folder.
        save_rng: also save (and restore) the random number generators' states, so that dropout,
            shuffling and data drawn from them continue exactly as without the interruption.

    Objects passed to `save` / `restore` are anything with `state_dict` and `load_state_dict`
    (modules, optimizers, lr schedulers, gradient scalers) or a `qilin.Generator` (for example a
    DataLoader's), saved through its `get_state` / `set_state`.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        max_to_keep: int | None = None,
        prefix: str = "checkpoint",
        *,
        save_rng: bool = True,
    ) -> None:
        if max_to_keep is not None and (
            isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1
        ):
            raise ValueError(
                f"max_to_keep must be a positive integer or None (keep all), got {max_to_keep!r}"
            )
        if not isinstance(prefix, str) or not prefix or prefix.startswith(".") or "/" in prefix:
            raise ValueError(
                "prefix must be a non-empty file name start without '/' and not starting with "
                f"'.', got {prefix!r}"
            )
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        self.prefix = prefix
        self.save_rng = save_rng
        self._name = re.compile(rf"{re.escape(prefix)}-(\d+){re.escape(_SUFFIX)}")
        self._remove_leftover_temporaries()

    def __repr__(self) -> str:
        return (
            f"CheckpointManager(directory={self.directory!r}, max_to_keep={self.max_to_keep}, "
            f"prefix={self.prefix!r}, steps={self.steps})"
        )

    # ----- what is on disk ---------------------------------------------------------------------
    @property
    def steps(self) -> list[int]:
        """The steps of the complete checkpoints in the folder, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        matches = (self._name.fullmatch(name) for name in names)
        return sorted(int(match.group(1)) for match in matches if match)

    @property
    def checkpoints(self) -> list[str]:
        """The paths of the complete checkpoints, oldest first."""
        return [self.path(step) for step in self.steps]

    @property
    def latest(self) -> str | None:
        """The path of the newest complete checkpoint, or None when there is none."""
        steps = self.steps
        return self.path(steps[-1]) if steps else None

    @property
    def latest_step(self) -> int | None:
        steps = self.steps
        return steps[-1] if steps else None

    def path(self, step: int) -> str:
        """Where the checkpoint of `step` is (or would be) stored."""
        return os.path.join(self.directory, f"{self.prefix}-{step}{_SUFFIX}")

    # ----- saving ------------------------------------------------------------------------------
    def save(self, step: int, /, **objects: Any) -> str:
        """Save every object's state (and the RNG states) as the checkpoint of `step`.

        Returns its path. Saving a step that exists replaces it; saving a step older than the
        latest checkpoint is refused (delete the newer ones first)."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(f"step must be an int, got {type(step).__name__}")
        if step < 0:
            raise ValueError(f"step must be non-negative, got {step}")
        step = int(step)
        latest = self.latest_step
        if latest is not None and step < latest:
            raise ValueError(
                f"cannot save step {step}: {self.directory} already holds a newer checkpoint "
                f"(step {latest}); delete the newer ones first with delete(step)"
            )
        states, kinds = {}, {}
        for name, obj in objects.items():
            kinds[name], states[name] = _state_of(name, obj)
        checkpoint = {"format": _FORMAT, "version": _VERSION, "step": step}
        checkpoint.update(objects=states, kinds=kinds)
        checkpoint["rng"] = _rng_states() if self.save_rng else None
        os.makedirs(self.directory, exist_ok=True)
        target = self.path(step)
        save(checkpoint, target)  # atomic: a temporary file renamed into place
        self._keep_newest()
        return target

    def delete(self, step: int) -> None:
        """Delete the checkpoint of `step`."""
        if step not in self.steps:
            raise FileNotFoundError(self._no_such_step(step))
        os.remove(self.path(step))

    def _keep_newest(self) -> None:
        if self.max_to_keep is None:
            return
        for step in self.steps[: -self.max_to_keep]:
            try:
                os.remove(self.path(step))
            except FileNotFoundError:
                pass

    def _remove_leftover_temporaries(self) -> None:
        """A save killed before its rename leaves `.<prefix>-<step>.qilin.*.tmp` behind."""
        leftover = re.compile(rf"\.{re.escape(self.prefix)}-\d+{re.escape(_SUFFIX)}\..*\.tmp")
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            if leftover.fullmatch(name):
                try:
                    os.remove(os.path.join(self.directory, name))
                except OSError:
                    pass

    # ----- restoring ---------------------------------------------------------------------------
    def read(self, step: int | None = None) -> dict[str, Any]:
        """The checkpoint of `step` (default: the latest) as saved: {"step", "objects", "rng", ...}
        with each object's state dict under "objects"."""
        steps = self.steps
        if not steps:
            raise FileNotFoundError(self._nothing_to_restore())
        if step is None:
            step = steps[-1]
        elif step not in steps:
            raise FileNotFoundError(self._no_such_step(step))
        path = self.path(step)
        try:
            checkpoint = load(path)
        except CheckpointError as error:
            older = [s for s in steps if s != step]
            hint = f"; other checkpoints: steps {older} (pass step=...)" if older else ""
            raise CheckpointError(f"cannot restore checkpoint {path}: {error}{hint}") from None
        if not (
            isinstance(checkpoint, dict)
            and checkpoint.get("format") == _FORMAT
            and isinstance(checkpoint.get("objects"), dict)
            and isinstance(checkpoint.get("step"), int)
        ):
            raise CheckpointError(f"{path}: not a checkpoint written by CheckpointManager.save")
        if checkpoint.get("version") != _VERSION:
            raise CheckpointError(
                f"{path}: CheckpointManager format version {checkpoint.get('version')!r} is not "
                f"supported (this qilin reads version {_VERSION})"
            )
        return checkpoint

    def restore(self, step: int | None = None, /, **objects: Any) -> int:
        """Load the checkpoint of `step` (default: the latest) into `objects` and restore the
        RNG states; returns the checkpoint's step."""
        checkpoint = self.read(step)
        saved = checkpoint["objects"]
        missing = [name for name in objects if name not in saved]
        if missing:
            raise KeyError(
                f"{self.path(checkpoint['step'])} has no state for {missing}; it holds "
                f"{sorted(saved)}"
            )
        kinds = checkpoint.get("kinds", {})
        for name, obj in objects.items():
            _load_state(name, obj, kinds.get(name), saved[name])
        if checkpoint.get("rng") is not None:
            _set_rng_states(checkpoint["rng"])
        return checkpoint["step"]

    # ----- messages ----------------------------------------------------------------------------
    def _nothing_to_restore(self) -> str:
        if not os.path.isdir(self.directory):
            return f"no checkpoint to restore: the directory {self.directory} does not exist"
        return (
            f"no checkpoint to restore: {self.directory} holds no "
            f"{self.prefix}-<step>{_SUFFIX} file"
        )

    def _no_such_step(self, step) -> str:
        return f"no checkpoint of step {step} in {self.directory} (it holds steps {self.steps})"


# ----- objects -----------------------------------------------------------------------------------
def _state_of(name: str, obj: Any) -> tuple[str, Any]:
    """(kind, state): a state_dict, or a generator's state tensor."""
    if isinstance(obj, qilin_random.Generator):
        return "generator", obj.get_state()
    if callable(getattr(obj, "state_dict", None)) and callable(
        getattr(obj, "load_state_dict", None)
    ):
        return "state_dict", obj.state_dict()
    raise TypeError(
        f"CheckpointManager.save: {name}={type(obj).__name__} has no state_dict/load_state_dict "
        "(pass modules, optimizers, schedulers, scalers or qilin.Generator objects)"
    )


def _load_state(name: str, obj: Any, kind: str | None, state: Any) -> None:
    if isinstance(obj, qilin_random.Generator):
        if kind != "generator":
            raise TypeError(f"checkpoint entry {name!r} is a {kind}, not a generator state")
        obj.set_state(state)
    elif callable(getattr(obj, "load_state_dict", None)):
        if kind != "state_dict":
            raise TypeError(f"checkpoint entry {name!r} is a {kind} state, not a state_dict")
        obj.load_state_dict(state)
    else:
        raise TypeError(
            f"CheckpointManager.restore: {name}={type(obj).__name__} has no load_state_dict"
        )


# ----- random number generators ------------------------------------------------------------------
def _rng_states() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "qilin": qilin_random.get_rng_state(),
        "python": (version, internal, gauss),
        # 624 32-bit words: a list of ints is cheap, and qilin.save has no uint32 tensors
        "numpy": (kind, keys.tolist(), int(position), int(has_gauss), float(cached)),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    if "qilin" in states:
        qilin_random.set_rng_state(states["qilin"])
    if "python" in states:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in states:
        kind, keys, position, has_gauss, cached = states["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
