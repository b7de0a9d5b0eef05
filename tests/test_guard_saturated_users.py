"""Guard (issue 26, item 13): a user who has interacted with every item leaves nothing to recommend or
to sample as a negative (RecBole's Pop crashed on one, 83 lines, only after training). `data prepare`
refuses such a dataset with one line — counted, named — before any file is written or model trained."""
from __future__ import annotations

from click.testing import CliRunner

from conftest import TINY_INTER, write_tiny
from recalign.cli import main


def test_prepare_refuses_users_who_have_every_item(tmp_path):
    d = write_tiny(tmp_path / "tiny")
    extra = "".join(f"u5\ti{k}\t4\t{200 + k}\n" for k in range(1, 9))            # u5: all 8 items
    extra += "".join(f"u6\ti{k}\t3\t{300 + k}\n" for k in range(8, 0, -1))       # u6: all 8 too
    (d / "tiny.inter").write_text(TINY_INTER + extra)
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["data", "prepare", "-d", str(d), "--run-dir", str(run)])
    assert r.exit_code == 1, r.output
    assert r.output.strip().splitlines()[-1] == (
        "Error: field 'dataset': 2 user(s) have interacted with every one of the 8 items ('u5', 'u6'): nothing is "
        "left to recommend to them or to sample as a negative; remove them from the .inter file, or use a larger "
        "catalogue")
    assert not (run / "data" / "split.json").exists()


def test_prepare_accepts_users_who_miss_one_item(tmp_path):
    d = write_tiny(tmp_path / "tiny")
    (d / "tiny.inter").write_text(TINY_INTER + "".join(f"u5\ti{k}\t4\t{200 + k}\n" for k in range(1, 8)))
    r = CliRunner().invoke(main, ["data", "prepare", "-d", str(d), "--run-dir", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
