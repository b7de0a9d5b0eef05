"""The one owner of every path under a run directory, its lock and its stage markers.

Layout of ``RUN`` (each path has one property here; nothing else spells them)::

    run_config.yaml             the resolved config of ``recalign run``
    .lock                       held by the command writing RUN (pid and command inside)
    data/                       the prepared Split (``split.json`` written last)
    text/manifest.json          what ``generate`` made: the task list training reads
    text/<task>/<split>/        materialized examples (Arrow)
    tokenizer/ checkpoints/ model/ logs/      training
    results/<name>/metrics.json one directory per evaluated model
    results/<name>/cf_embeddings.safetensors   a BPR/SASRec baseline's embedding tables
    baselines/recbole_data/     the Split as RecBole benchmark files
    stages/<stage>.json         completion markers: what each stage was made from
    report.md/.json/.csv/.png   the comparison; timings.json: stage wall times

>>> run = RunDir("runs/x")
>>> str(run.task_split("ranking", "test")), str(run.metrics("BPR"))
('runs/x/text/ranking/test', 'runs/x/results/BPR/metrics.json')
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .atomic_io import _WRITING, no_space, no_space_error, write_json
from .data import Split, load_split, prepare
from .errors import RecalignError


def fingerprint(obj: Any) -> str:
    """A short stable hash of a JSON-able object (dict keys sorted).

    >>> fingerprint({"b": 1, "a": [1, 2]}) == fingerprint({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → ``{"a.b": value}`` (lists and scalars are leaves).

    >>> flatten({"train": {"lr": 0.1, "mixture": {"total": 5}}, "seed": 0})
    {'train.lr': 0.1, 'train.mixture.total': 5, 'seed': 0}
    """
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): obj}


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= 40 else s[:37] + "..."


def changes(old: dict, new: dict, limit: int = 4) -> str:
    """``key: old → new`` for the keys whose values differ (at most ``limit``).

    >>> changes({"seed": 0, "tasks": ["a"]}, {"seed": 1, "tasks": ["a"]})
    'seed: 0 → 1'
    """
    a, b = flatten(old), flatten(new)
    diff = [k for k in sorted(set(a) | set(b)) if a.get(k, "<unset>") != b.get(k, "<unset>")]
    shown = [f"{k}: {_short(a.get(k, '<unset>'))} → {_short(b.get(k, '<unset>'))}" for k in diff[:limit]]
    return "; ".join(shown) + (f"; and {len(diff) - limit} more" if len(diff) > limit else "")


class RunDir:
    """Every path under one run directory; the Split, the manifest, the lock and stage markers."""

    def __init__(self, path: str | Path) -> None:
        self.root = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    def __fspath__(self) -> str:
        return str(self.root)

    # ---- paths -------------------------------------------------------------------------------------------
    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def split_meta(self) -> Path:
        return self.data / "split.json"

    @property
    def text(self) -> Path:
        return self.root / "text"

    @property
    def manifest_path(self) -> Path:
        return self.text / "manifest.json"

    def task_dir(self, task: str) -> Path:
        return self.text / task

    def task_split(self, task: str, split: str) -> Path:
        return self.text / task / split

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def train_info(self) -> Path:
        return self.model / "recalign_train.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def result(self, name: str) -> Path:
        return self.results / name

    def metrics(self, name: str) -> Path:
        return self.result(name) / "metrics.json"

    def cf_embeddings(self, name: str) -> Path:
        """A BPR/SASRec baseline's exported embedding tables (``baselines/cf_embeddings.py``)."""
        return self.result(name) / "cf_embeddings.safetensors"

    @property
    def recbole_data(self) -> Path:
        return self.root / "baselines" / "recbole_data"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def timings(self) -> Path:
        return self.root / "timings.json"

    @property
    def run_config(self) -> Path:
        return self.root / "run_config.yaml"

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    @property
    def stages(self) -> Path:
        return self.root / "stages"

    def variant(self, name: str) -> "RunDir":
        """A variant's run directory (``RUN/ablation/<name>``) that shares data and text by symlink."""
        v = RunDir(self.root / "ablation" / name)
        v.root.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "text"):
            link = v.root / sub
            if not link.exists():
                os.symlink(os.path.relpath(self.root / sub, v.root), link)
        return v

    # ---- the Split -------------------------------------------------------------------------------------------
    def has_split(self) -> bool:
        return self.split_meta.is_file()

    def ensure_split(self, dataset: str | Path = "ml-100k", user_k: int = 0, item_k: int = 0,
                     min_interactions: int = 3, echo=None) -> Split:
        """The prepared Split; prepared from ``dataset`` first when RUN/data is missing."""
        if self.has_split():
            return load_split(self.data)
        if echo is not None:
            echo(f"preparing {dataset} into {self.data}")
        return prepare(dataset, self.root, user_k, item_k, min_interactions)

    def split(self) -> Split:
        return load_split(self.data)

    def data_fingerprint(self) -> str:
        """A hash of the prepared Split's files (train/valid/test interactions and items)."""
        if not self.has_split():
            raise RecalignError("no prepared split here (split.json missing): run `recalign data prepare` first",
                                path=self.data)
        name = json.loads(self.split_meta.read_text())["name"]
        h = hashlib.sha256()
        for f in (f"{name}.train.inter", f"{name}.valid.inter", f"{name}.test.inter", f"{name}.item"):
            p = self.data / f
            h.update(f.encode() + b"\0" + (p.read_bytes() if p.is_file() else b"<missing>") + b"\0")
        return h.hexdigest()[:16]

    # ---- the manifest ---------------------------------------------------------------------------------------
    def has_manifest(self) -> bool:
        return self.manifest_path.is_file()

    def generated_text(self):
        """``RUN/text/manifest.json`` as the typed record (``generated_text.GeneratedText``): what
        ``generate`` made (tasks, counts, settings, item rule, fitting) and with what."""
        from .generated_text import GeneratedText

        return GeneratedText.read(self.manifest_path)

    def query_text(self):
        """``RUN/embed/text/manifest.json`` (the embedder's query tasks) as the typed record."""
        from .generated_text import GeneratedText

        return GeneratedText.read(self.root / "embed" / "text" / "manifest.json")

    def manifest(self) -> dict:
        """``RUN/text/manifest.json`` as its JSON mapping (``generated_text().to_dict()``); readers take
        ``generated_text()``."""
        return self.generated_text().to_dict()

    def check_text_current(self) -> None:
        """Refuse (one line) when RUN/text was generated from another split than RUN/data holds now
        (``recalign data prepare`` ran again since): whatever reads both would mix them."""
        if not (self.has_split() and self.has_manifest()):
            return
        from .data.fingerprint import split_fingerprint   # lazy: reads the split

        made, now = self.generated_text().split_fingerprint, split_fingerprint(self.data)
        if made and made != now:
            raise RecalignError(f"{self.text} was generated from another split than {self.data} holds now (split "
                                f"fingerprint {made} → {now}: the data was prepared again since): run `recalign "
                                "generate` again (then train), or use a new --run-dir", path=self.root)

    def check_model_current(self, model_dir: str | Path | None = None) -> None:
        """Refuse (one line) when RUN/model was trained from other text than RUN/text holds now
        (``generate`` ran again since), as the train stage's marker records; a model without a
        marker, or another directory's, is not checked."""
        if model_dir is not None and Path(model_dir).resolve() != self.model.resolve():
            return
        marker = self.stage_marker("train")
        if not (marker.is_file() and self.train_info.is_file() and self.has_manifest()):
            return
        try:
            made = (json.loads(marker.read_text()).get("inputs") or {}).get("manifest")
        except ValueError:
            return
        now = fingerprint(self.manifest_path.read_text(encoding="utf-8"))
        if made and made != now:
            raise RecalignError(f"{self.model} was trained from other text than {self.text} holds now (manifest "
                                f"{made} → {now}: generate ran again since): train again (delete {self.model} and "
                                f"{self.checkpoints}), or use a new --run-dir", path=self.root)

    def generated_tasks(self) -> list[str]:
        """The tasks the manifest lists (what training and evaluation may read), in order."""
        return list(self.generated_text().tasks)

    # ---- writing: permission, lock, leftovers ------------------------------------------------------------------
    def check_writable(self) -> None:
        """Raise one line unless RUN can be created and written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            if no_space(e):
                raise no_space_error(self.root, e, directory=True) from None
            raise RecalignError(f"cannot write the run directory: {e.strerror or e}", path=self.root) from None

    @contextmanager
    def lock(self, command: str) -> Iterator["RunDir"]:
        """Hold RUN's lock while ``command`` writes; a second writer fails at once with one line.

        On entry (lock held) temporary files left by a killed command are removed (``clean_temp``).
        Under a distributed launcher only rank 0 locks (the ranks of one job write together).
        """
        if int(os.environ.get("RANK", "0") or 0) != 0:
            yield self
            return
        self.check_writable()
        try:
            f = open(self.lock_path, "a+", encoding="utf-8")
        except OSError as e:
            raise RecalignError(f"cannot create the lock file: {e.strerror or e}", path=self.lock_path) from None
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise RecalignError(f"the run directory is in use by {holder}: wait for it to finish or use "
                                    "another --run-dir", path=self.root) from None
            f.seek(0)
            f.truncate()
            try:  # unbuffered: a full disk fails here, once, and leaves nothing for close() to flush
                os.write(f.fileno(), f"`recalign {command}` (pid {os.getpid()}, since "
                                     f"{time.strftime('%H:%M:%S')})".encode())
            except OSError as e:
                if no_space(e):
                    raise no_space_error(self.lock_path, e) from None
                raise
            self.clean_temp()
            _WRITING.append(self.root)
            try:
                yield self
            except Exception as e:   # a library's write (checkpoint, arrow) that ran out of room: one line
                if no_space(e):
                    raise no_space_error(self.root, e, directory=True) from None
                raise
            finally:
                _WRITING.remove(self.root)
                f.seek(0)
                f.truncate()
                f.flush()
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        finally:
            f.close()

    def clean_temp(self) -> list[Path]:
        """Remove ``.*.tmp`` / ``.*.old`` leftovers of atomic writes (call only while holding the lock)."""
        gone = []
        if not self.root.is_dir():
            return gone
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in list(dirnames) + filenames:
                if n.startswith(".") and (n.endswith(".tmp") or n.endswith(".old")):
                    p = Path(dirpath) / n
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p, ignore_errors=True)
                        dirnames.remove(n)
                    else:
                        p.unlink(missing_ok=True)
                    gone.append(p)
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        return gone

    # ---- stage markers -----------------------------------------------------------------------------------------
    def stage_marker(self, stage: str) -> Path:
        return self.stages / f"{stage}.json"

    def stage_state(self, stage: str, inputs: dict, output: Path, check_output: bool = True) -> str:
        """``"todo"`` (never finished), ``"done"`` (finished from these very ``inputs``, and ``output``
        is the file it wrote then) or a one-line reason why the finished output is stale."""
        marker = self.stage_marker(stage)
        if not output.exists():
            return "todo"
        if not marker.is_file():
            return "made before stage fingerprints were recorded (its inputs are unknown)"
        try:
            old = json.loads(marker.read_text())
        except ValueError:
            return "left with an unreadable completion marker"
        if old.get("fingerprint") != fingerprint(inputs):
            return "made from other inputs (" + changes(old.get("inputs", {}), inputs) + ")"
        if check_output and old.get("output") != _file_fingerprint(output):
            return "rewritten since this stage made it (by another command)"
        return "done"

    def mark_done(self, stage: str, inputs: dict, output: Path) -> None:
        """Record that ``stage`` made ``output`` from ``inputs`` (call after the output is written)."""
        write_json(self.stage_marker(stage), {
            "stage": stage, "fingerprint": fingerprint(inputs), "output": _file_fingerprint(output),
            "inputs": inputs, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:]})


def _file_fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "<missing>"
