"""Issue 26 item 3: the query text is a function of the data, the config and the seed — not of
``PYTHONHASHSEED`` (set iteration order) — and ``query.num_negatives`` is checked against
what is knowable (item 8): a hard cap when the config loads, the catalogue size when the data
is built, before any work, one line naming the field, the value and the catalogue size."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from recalign.data import Item, leave_one_out, load_dataset
from recalign.errors import RecalignError
from recalign.tasks.query import Catalogue, QueryConfig
from recalign.tasks.query.builders import taste
from test_query_tasks import write_query_fixture

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from recalign.data import leave_one_out, load_dataset
from recalign.embed.data import generate_queries
from recalign.tasks.query import QueryConfig
split = leave_one_out(load_dataset(sys.argv[1]))
m = generate_queries(split, sys.argv[2], None, QueryConfig(eval_items=20, seed=3))
out = {}
for f in sorted(Path(sys.argv[2], "embed", "text").rglob("*.arrow")):
    out[str(f.relative_to(Path(sys.argv[2], "embed", "text")))] = hashlib.sha256(f.read_bytes()).hexdigest()
print(json.dumps({"files": out, "manifest": m.to_dict()}, sort_keys=True))
"""


def _generate(data: Path, run: Path, hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(data), str(run)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_query_text_is_the_same_under_two_hash_seeds(tmp_path):
    data = write_query_fixture(tmp_path / "qtiny")
    a = _generate(data, tmp_path / "run_a", "1")
    b = _generate(data, tmp_path / "run_b", "12345")
    assert '"us2i/test/' in a and a.count(".arrow") == 30      # ten tasks x three splits, every file hashed
    assert a == b                                               # byte-identical Arrow files and manifest


def test_taste_breaks_ties_by_value_not_set_order():
    cat = Catalogue.from_items({
        "i1": Item("i1", "A", fields={"year": "1995", "genres": "Zeta, Alpha, Mid"}),
        "i2": Item("i2", "B", fields={"year": "1984", "genres": "Beta, Zeta"}),
    })
    assert taste(cat, ["i1", "i2"]) == (["Zeta", "Alpha", "Beta"], "1980s")   # Zeta 2, then ties A-Z; decades tie
    assert taste(cat, []) == ([], "")


def test_num_negatives_capped_when_the_config_loads():
    from recalign.config import from_dict
    from recalign.embed.config import EmbedConfig

    with pytest.raises(RecalignError) as e:
        from_dict(EmbedConfig, {}, overrides=["query.num_negatives=5000"])
    msg = str(e.value)
    assert "query.num_negatives" in msg and "5000" in msg and "1000" in msg and "\n" not in msg


def test_num_negatives_checked_against_the_catalogue_before_any_work(tmp_path):
    from recalign.embed.data import build_query_task, generate_queries

    split = leave_one_out(load_dataset(write_query_fixture(tmp_path / "qtiny")))
    n = len(split.items)                                    # 39 items with interactions
    run = tmp_path / "run"
    with pytest.raises(RecalignError) as e:
        generate_queries(split, run, ["uh2i"], QueryConfig(num_negatives=n))
    assert str(e.value) == (f"field 'query.num_negatives': {n} negatives per query, but the catalogue has {n} items "
                            f"(at most {n - 1} negatives per query)")
    assert not (run / "embed").exists()                     # nothing written
    with pytest.raises(RecalignError, match=f"catalogue has {n} items"):
        build_query_task(split, "nm2i", QueryConfig(num_negatives=100))
    m = generate_queries(split, run, ["nm2i"], QueryConfig(num_negatives=n - 1, eval_items=5))   # the most there is
    from recalign.embed.data import load_queries
    negs = load_queries(run, "nm2i", "test")["negative_ids"]
    assert m.counts["nm2i"]["test"] == 5 and all(len(x) == n - 1 == len(set(x)) for x in negs)
