"""Guard (issue 26, item 11): a full disk is one line naming what was written, the directory, its
free space and what was needed — never a traceback, and a rerun on the full disk does not crash
inside the run-directory lock.

How the disk is made full, honestly and without root:
* ``RLIMIT_FSIZE`` in a subprocess (SIGXFSZ ignored): every write past the limit fails with EFBIG;
* a real tmpfs of 40 KB mounted in an unprivileged user+mount namespace (``unshare -r -m``), running
  the real CLI; skipped where user namespaces are not allowed."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tiny
from recalign.errors import RecalignError
from recalign.run_dir import RunDir


_LOCK = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))   # not one byte more may be written: as on a full disk
from recalign.errors import RecalignError
from recalign.run_dir import RunDir
try:
    with RunDir(sys.argv[1]).lock("generate"):
        pass
except RecalignError as e:
    print("ONE LINE:", e)
"""


def test_the_lock_on_a_disk_that_takes_no_byte_is_one_line(tmp_path):
    run = tmp_path / "run"
    p = subprocess.run([sys.executable, "-c", _LOCK, str(run)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.stdout.startswith(f"ONE LINE: writing {run / '.lock'} failed: file too large (the file-size limit, "
                               f"ulimit -f) (") and f"free in {run})" in p.stdout, p.stdout
    assert len(p.stdout.splitlines()) == 1


_FSIZE = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from recalign.atomic_io import write_json, atomic_path
from recalign.errors import RecalignError
try:
    write_json(sys.argv[1] + "/metrics.json", {"x": "a" * 50_000})
except RecalignError as e:
    print("ONE LINE:", e)
try:
    with atomic_path(sys.argv[1] + "/model", directory=True) as tmp:
        with open(tmp / "weights.bin", "wb") as f:
            f.write(b"w" * 40_000)
except RecalignError as e:
    print("ONE LINE:", e)
"""


def test_atomic_writes_past_the_file_size_limit_are_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-c", _FSIZE, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    assert len(lines) == 2, p.stdout
    assert lines[0].startswith(f"ONE LINE: writing {tmp_path / 'metrics.json'} failed: file too large (the "
                               "file-size limit, ulimit -f) (")
    assert "50,014 bytes needed); free some space" in lines[0] and f"free in {tmp_path}" in lines[0]
    assert lines[1].startswith(f"ONE LINE: writing {tmp_path / 'model'} failed: file too large")
    assert "4,096 bytes written when it failed" in lines[1]
    assert sorted(os.listdir(tmp_path)) == []          # no temporary file or directory left behind


def _userns_tmpfs_works(tmp_path: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    m = tmp_path / "probe"
    m.mkdir()
    r = subprocess.run(["unshare", "-r", "-m", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs {m}"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


_NS = r"""
set -u
mount -t tmpfs -o size=40k tmpfs "$MNT" || exit 99
gen() { "$PY" -m recalign.cli generate -d "$DATA" --run-dir "$MNT/run" --tasks retrieval --no-progress; echo "rc=$?"; }
exec 2>&1
echo "== first"; gen
echo "== rerun"; gen
dd if=/dev/zero of="$MNT/filler" bs=1k 2>/dev/null
echo "== rerun on a disk with no byte left"; gen
"""


def test_generate_on_a_full_tmpfs_is_one_line_each_time(tmp_path):
    if not _userns_tmpfs_works(tmp_path):
        pytest.skip("unprivileged user+mount namespaces (unshare -r -m) are not allowed here")
    data = write_tiny(tmp_path / "tiny")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {**os.environ, "MNT": str(mnt), "DATA": str(data), "PY": sys.executable}
    p = subprocess.run(["unshare", "-r", "-m", "bash", "-c", _NS + "\n"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                       env=env, cwd=Path(__file__).resolve().parents[1])
    out = p.stdout
    assert "Traceback" not in out, out[-3000:]
    parts = out.split("== ")[1:]
    assert len(parts) == 3, out
    for part in parts:
        errors = [ln for ln in part.splitlines() if ln.startswith("Error:")]
        assert "rc=1" in part and len(errors) == 1, part
        assert "failed: no space left on device (" in errors[0] and f"free in {mnt / 'run'}" in errors[0], part
    last = [ln for ln in parts[2].splitlines() if ln.startswith("Error:")][0]
    assert last.startswith(f"Error: writing {mnt / 'run' / '.lock'} failed: no space left on device (0 bytes free")


_TORCH = r"""
import resource, signal, sys
import click, torch
from click.testing import CliRunner
from recalign.cli import LazyGroup
from recalign.run_dir import RunDir
run = sys.argv[1]

@click.command()
def save():
    with RunDir(run).lock("train"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        torch.save({"w": torch.zeros(100_000)}, run + "/checkpoint.pt")   # as the HF Trainer saves

r = CliRunner().invoke(LazyGroup(commands={"save": save}), ["save"])
print("EXIT", r.exit_code)
print(r.output, end="")
"""


def test_a_library_write_failure_reaches_the_user_as_one_line(tmp_path):
    """torch.save (how checkpoints are written) past the file-size limit: its RuntimeError names
    no errno; the CLI still prints one line naming the run directory it was writing into."""
    pytest.importorskip("torch")
    run = tmp_path / "run"
    p = subprocess.run([sys.executable, "-c", _TORCH, str(run)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "EXIT 1" and len(lines) == 2, p.stdout
    assert lines[1].startswith(f"Error: writing into {run} failed: ") and "Traceback" not in p.stdout, p.stdout
    assert f"free in {run})" in lines[1] and lines[1].endswith("and rerun")
