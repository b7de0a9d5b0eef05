"""Reading template files: ``<task>.yaml`` with a ``templates:`` list.

File format (one file per task; ``task`` defaults to the file's stem)::

    task: retrieval
    templates:
      - id: retrieval-01
        split: seen            # seen (training) | unseen (generalization tests only)
        input: |-
          I watched {{ history | join(", ") }}. What should I watch next?
        target: "{{ target }}"
        metadata: {original_task: true, choices_in_prompt: false}

``read_templates(dirs, task)`` reads directories in order; an entry with an id that
already exists replaces it. A task's own file and its validation against the task's
Example record: ``recalign.tasks.load_templates``.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterable

import yaml

from ..config import compose_yaml
from ..errors import RecalignError, decode_utf8, nearest
from .template import TEMPLATE_SETS, Template

ENTRY_KEYS = ("id", "split", "input", "target", "metadata")
FILE_KEYS = ("task", "templates", "description")


#: a template file larger than this is refused before it is read (the shipped ones are < 20 KB)
MAX_TEMPLATE_FILE = 1_000_000


def template_files(directory: str | Path) -> list[Path]:
    """``*.yaml`` / ``*.yml`` entries of a directory, sorted by name: every one that is not a
    directory, so that one which cannot be read (a symlink loop, a FIFO, a device) is reported
    by ``read_template_file`` instead of being skipped."""
    d = Path(directory)
    if not d.is_dir():
        raise RecalignError("templates directory not found", path=d)
    return sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and not p.is_dir())


def read_bounded(path: Path, limit: int = MAX_TEMPLATE_FILE) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else one line naming it: never
    blocks on a FIFO or reads a device (``/dev/zero``) forever."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        why = "a symlink loop" if e.errno == errno.ELOOP else \
            "a broken symlink" if e.errno == errno.ENOENT and path.is_symlink() else e.strerror or str(e)
        raise RecalignError(f"cannot read the template file: {why}", path=path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or \
                stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file"
            raise RecalignError(f"cannot read the template file: {kind}, not a regular file", path=path)
        if st.st_size > limit:
            raise RecalignError(f"template file of {st.st_size:,} bytes (limit {limit:,})", path=path)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise RecalignError(f"template file over {limit:,} bytes", path=path)
        return data
    except OSError as e:
        raise RecalignError(f"cannot read the template file: {e.strerror or e}", path=path) from None
    finally:
        os.close(fd)


def _content_line(node: yaml.Node) -> int:
    """1-based file line where a scalar's text starts (block scalars start a line below)."""
    line = node.start_mark.line + 1
    return line + 1 if getattr(node, "style", None) in ("|", ">") else line


def read_template_file(path: str | Path) -> tuple[str, list[Template]]:
    """Parse one template file → ``(task, templates)``; structural problems raise
    a RecalignError naming the file, template id and line."""
    path = Path(path)
    # bounded like every YAML recalign reads: aliases expanded at most MAX_YAML_NODES, depth, duplicate keys
    root = compose_yaml(decode_utf8(read_bounded(path), path), path, "template file")
    try:
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecalignError(f"invalid YAML: {getattr(e, 'problem', None) or e}", path=path,
                            line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise RecalignError("expected a mapping with a 'templates:' list", path=path, line=1)
    for k in data:
        if k not in FILE_KEYS:
            raise RecalignError(f"unknown key {k!r} (valid: {', '.join(FILE_KEYS)}).{nearest(str(k), FILE_KEYS)}",
                                path=path, line=_key_line(root, k))
    task = str(data.get("task") or path.stem)
    entries = data.get("templates")
    tnode = _value_node(root, "templates")
    if not isinstance(entries, list) or not isinstance(tnode, yaml.SequenceNode):
        raise RecalignError("'templates' must be a list of entries", path=path, line=_key_line(root, "templates"))
    out = []
    for entry, node in zip(entries, tnode.value):
        out.append(_entry(path, task, entry, node))
    return task, out


def _value_node(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in mapping.value:
        if getattr(k, "value", None) == key:
            return v
    return None


def _key_line(mapping: yaml.MappingNode, key) -> int | None:
    for k, _ in mapping.value:
        if getattr(k, "value", None) == str(key):
            return k.start_mark.line + 1
    return None


def _entry(path: Path, task: str, entry, node: yaml.Node) -> Template:
    line = node.start_mark.line + 1
    if not isinstance(entry, dict):
        raise RecalignError("each template must be a mapping with id, split, input, target", path=path, line=line)
    tid = entry.get("id")
    where = f"template {tid!r}: " if tid else ""
    if not isinstance(tid, str) or not tid.strip():
        raise RecalignError("template without an 'id' (a non-empty string)", path=path, line=line)
    for k in entry:
        if k not in ENTRY_KEYS:
            raise RecalignError(f"{where}unknown key {k!r} (valid: {', '.join(ENTRY_KEYS)}).{nearest(str(k), ENTRY_KEYS)}",
                                path=path, line=_key_line(node, k) or line)
    for k in ("input", "target"):
        if not isinstance(entry.get(k), str):
            raise RecalignError(f"{where}'{k}' must be a string (a Jinja template)", path=path,
                                line=_key_line(node, k) or line)
    split = entry.get("split", "seen")
    if split not in TEMPLATE_SETS:
        raise RecalignError(f"{where}split must be 'seen' or 'unseen', got {split!r}", path=path,
                            line=_key_line(node, "split") or line)
    meta = entry.get("metadata") or {}
    if not isinstance(meta, dict):
        raise RecalignError(f"{where}'metadata' must be a mapping", path=path, line=_key_line(node, "metadata"))
    return Template(tid, task, split, entry["input"], entry["target"], meta, str(path), line,
                    _content_line(_value_node(node, "input")), _content_line(_value_node(node, "target")))


def read_templates(dirs: Iterable[str | Path], task: str | None = None) -> dict[str, list[Template]]:
    """All templates of the given directories, grouped by task; within a task a later
    entry with the same id replaces the earlier one (duplicates inside one file raise)."""
    by_task: dict[str, dict[str, Template]] = {}
    for d in dirs:
        for f in template_files(d):
            ftask, temps = read_template_file(f)
            if task is not None and ftask != task:
                continue
            seen: set[str] = set()
            for t in temps:
                if t.id in seen:
                    raise t.error("duplicate template id in this file")
                seen.add(t.id)
                by_task.setdefault(ftask, {})[t.id] = t
    return {k: list(v.values()) for k, v in by_task.items()}
