"""Guard: bad input gives ONE line on stderr from the real console script, never a traceback.

CliRunner stores exceptions instead of printing them, so `"Traceback" not in output` cannot fail
there; these tests run the installed `recalign` entry point in a subprocess. Every case fails
before torch is imported (< 1 s each).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BAD_TEMPLATE = """templates:
  - id: bad-01
    input: "{{ nope }}"
    target: "{{ target }}"
    split: seen
"""


def recalign_cmd() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m recalign.cli``."""
    script = Path(sys.executable).with_name("recalign")
    if script.is_file():
        return [str(script)]
    found = shutil.which("recalign")
    return [found] if found else [sys.executable, "-m", "recalign.cli"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, WANDB_MODE="offline", HF_HUB_OFFLINE="1")
    return subprocess.run([*recalign_cmd(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(res: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode != 0, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{res.stderr}"
    assert not res.stdout.strip(), res.stdout
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def test_missing_dataset_directory(tmp_path):
    missing = tmp_path / "no-such-data"
    line = assert_one_line_error(run_cli("data", "info", "-d", str(missing), cwd=tmp_path), str(missing))
    assert line.startswith("Error: ")
    res = run_cli("data", "prepare", "-d", str(missing), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert_one_line_error(res, str(missing))
    assert not (tmp_path / "run" / "data").exists()            # nothing half-written


def test_bad_override_key(tmp_path):
    res = run_cli("run", "-o", "nosuch.key=3", "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert_one_line_error(res, "field 'nosuch'", "valid keys")
    assert not (tmp_path / "run").exists()


def test_bad_template_file_names_file_and_line(tmp_path):
    d = tmp_path / "tpl"
    d.mkdir()
    (d / "retrieval.yaml").write_text(BAD_TEMPLATE)
    res = run_cli("templates", "render", "retrieval", "--templates", str(d), cwd=tmp_path)
    assert_one_line_error(res, f"{d / 'retrieval.yaml'}, line 3", "'nope'", "bad-01")


def test_invalid_yaml_config_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_steps: 3\nmixture: [\n")
    res = run_cli("train", "--config", str(bad), "--run-dir", str(tmp_path), cwd=tmp_path)
    assert_one_line_error(res, str(bad), "line 3", "invalid YAML")


def test_unknown_task(tmp_path):
    assert_one_line_error(run_cli("templates", "show", "retrival", cwd=tmp_path),
                          "unknown task 'retrival'", "Did you mean 'retrieval'")
    res = run_cli("generate", "--run-dir", str(tmp_path / "run"), "--tasks", "retrieval,retrival", cwd=tmp_path)
    assert_one_line_error(res, "unknown task 'retrival'", "Did you mean 'retrieval'")
    assert not (tmp_path / "run" / "data").exists()           # rejected before ml-100k is prepared
