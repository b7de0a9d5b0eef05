"""Data layer: readers, titles, k-core, the Split, prepare/load, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from recalign.cli import main
from recalign.data import (dataset_stats, kcore, leave_one_out, load_dataset, load_split, prepare,
                           split_stats)
from recalign.data.titles import clean_title, disambiguate
from recalign.errors import RecalignError


def test_ml100k_embedded_counts():
    ds = load_dataset("ml-100k")
    assert dataset_stats(ds) == {"dataset": "ml-100k", "users": 943, "items": 1682,
                                 "interactions": 100000, "density": 0.063047}


def test_ml100k_titles_unique_and_clean(ml100k_split):
    titles = [it.title for it in ml100k_split.items.values()]
    assert len(titles) == len(set(titles)) == 1682
    by_raw = {it.raw_title: it.title for it in ml100k_split.items.values()}
    assert by_raw["Full Monty, The"] == "The Full Monty"
    # 246 and 268 are both "Chasing Amy" (1997): same year, so id order decides
    assert ml100k_split.items["246"].title == "Chasing Amy (1997)"
    assert ml100k_split.items["268"].title == "Chasing Amy (1997) (version 2)"
    assert not any("[" in t for t in titles)  # never an item id in text


def test_title_rules():
    assert clean_title("  Matrix,   The ") == "The Matrix"
    assert clean_title("Homme, L'") == "L'Homme"
    assert clean_title("Sense and Sensibility") == "Sense and Sensibility"
    got = disambiguate({"2": ("Heat", {"year": "1995"}), "1": ("Heat", {"year": "1986"}),
                        "3": ("Ball", {"brand": "Acme"}), "4": ("Ball", {"brand": "Zed"}),
                        "5": ("Cup", {}), "6": ("Cup", {}), "7": ("Solo", {"year": "2000"})})
    assert got == {"2": "Heat (1995)", "1": "Heat (1986)", "3": "Ball (Acme)", "4": "Ball (Zed)",
                   "5": "Cup", "6": "Cup (version 2)", "7": "Solo"}


def test_tiny_split_exact(tiny_split):
    s = tiny_split
    assert s.users == ["u1", "u2", "u3"] and s.dropped_users == 1  # u4 has 2 interactions
    assert s.train_items("u1") == ("i1", "i2", "i3")
    assert (s.target("u1", "valid"), s.target("u1", "test")) == ("i4", "i5")
    assert s.history("u1", "valid") == ("i1", "i2", "i3")
    assert s.history("u1", "test") == ("i1", "i2", "i3", "i4")
    # i7 and i8 share timestamp 108: the file's row order decides (i7 first → valid)
    assert (s.target("u2", "valid"), s.target("u2", "test")) == ("i7", "i8")
    assert s.train_items("u3") == ("i1",) and s.target_rating("u3", "test") == 4.0
    assert s.boundary_ties() == 1
    st = split_stats(s)
    assert (st["users"], st["interactions"], st["train_interactions"]) == (3, 12, 6)
    assert st["seq_len"]["max"] == 5 and st["valid_test_timestamp_ties"] == 1


def test_split_stats_ml100k(ml100k_split):
    st = split_stats(ml100k_split)
    assert (st["users"], st["items"], st["interactions"]) == (943, 1682, 100000)
    assert st["train_interactions"] == 100000 - 2 * 943
    assert st["seq_len"]["min"] == 20 and st["seq_len"]["max"] == 737
    assert st["valid_test_timestamp_ties"] == 415
    assert st["dropped_repeats"] == 0  # ml-100k has no repeated user-item pair


def test_kcore_fixed_point(tiny_dir):
    ds = load_dataset(tiny_dir)
    core = kcore(ds, user_k=3, item_k=2)
    users, counts = np.unique(core.users, return_counts=True)
    assert counts.min() >= 3
    _, icounts = np.unique(core.item_ids, return_counts=True)
    assert icounts.min() >= 2
    # u4 (2 interactions) goes; then i4/i6/i7/i8 (1 each) go; then u2 has only i2 left and goes;
    # u1 keeps i1 i2 i3 i5, u3 keeps i1 i3 i5; i2 now has 1 → goes
    assert sorted(set(core.users)) == ["u1", "u3"]
    assert sorted(set(core.item_ids)) == ["i1", "i3", "i5"]
    with pytest.raises(RecalignError, match="left no interactions"):
        kcore(ds, user_k=50)


def test_prepare_roundtrip(tmp_path, tiny_dir):
    split = prepare(tiny_dir, tmp_path / "run")
    d = tmp_path / "run" / "data"
    assert sorted(p.name for p in d.iterdir()) == ["split.json", "tiny.inter", "tiny.item", "tiny.test.inter",
                                                    "tiny.train.inter", "tiny.valid.inter"]
    assert (d / "tiny.test.inter").read_text().splitlines() == [
        "user_id:token\titem_id:token\trating:float\ttimestamp:float",
        "u1\ti5\t5\t109", "u2\ti8\t4\t108", "u3\ti5\t4\t110"]
    back = load_split(tmp_path / "run")
    assert back.sequences == split.sequences
    assert {i: it.title for i, it in back.items.items()} == {i: it.title for i, it in split.items.items()}
    assert not list(d.glob(".*"))  # no temp files left behind


def test_atomic_write_leaves_nothing_on_crash(tmp_path):
    from recalign.atomic_io import atomic_path

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists() and list(tmp_path.iterdir()) == []


# ---- bad input: one clear error naming file, line and what was expected ----

def _ds(tmp_path, inter: str, item: str | None = None):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "bad.inter").write_text(inter)
    if item is not None:
        (d / "bad.item").write_text(item)
    return d


H = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


@pytest.mark.parametrize("inter,pattern", [
    ("user_id:token\titem_id:token\trating:float\n1\t2\t3\n",
     r"bad.inter, line 1: header lacks required field\(s\) \{'timestamp'"),
    (H + "1\t2\t3\t100\n1\t2\t3\n", r"bad.inter, line 3: expected 4 tab-separated cells, found 3"),
    (H + "1\t2\t3\t100\n1\t2\t3\tyesterday\n", r"line 3, field 'timestamp': expected a number, got 'yesterday'"),
    (H + "1\t2\tgood\t100\n", r"line 2, field 'rating': expected a number, got 'good'"),
    (H + "1\t2\t3\t100\n\n1\t3\tnan\t101\n", r"bad.inter, line 4, field 'rating': expected a finite number, got 'nan'"),
    (H + "1\t2\t-inf\t100\n", r"bad.inter, line 2, field 'rating': expected a finite number, got '-inf'"),
    (H + "1\t2\t3\t100\n\n1\t3\t3\t\n", r"bad.inter, line 4, field 'timestamp': expected a number, got an empty cell"),
    ("user_id\titem_id\ttimestamp\n", r"line 1: header cell 'user_id' is not 'name:type'"),
    ("", r"line 1: empty file"),
])
def test_bad_inter_files(tmp_path, inter, pattern):
    with pytest.raises(RecalignError, match=pattern):
        load_dataset(_ds(tmp_path, inter))


def test_bad_inputs_misc(tmp_path):
    with pytest.raises(RecalignError, match=r"unknown dataset 'ml-100': .*Did you mean 'ml-100k'"):
        load_dataset("ml-100")
    with pytest.raises(RecalignError, match="file not found"):
        from recalign.data.atomic_files import read_atomic
        read_atomic(tmp_path / "nope.inter")
    d = _ds(tmp_path, H + "1\t2\t3\t100\n1\t3\t3\t101\n")
    with pytest.raises(RecalignError, match="no user .* has 3 or more interactions"):
        leave_one_out(load_dataset(d))


def test_cli_errors_are_clean(tmp_path):
    d = _ds(tmp_path, H + "1\t2\t3\tnoon\n")
    r = CliRunner().invoke(main, ["data", "info", "--dataset", str(d)])
    assert r.exit_code == 1
    assert "Error: " in r.output and "line 2, field 'timestamp'" in r.output
    assert "Traceback" not in r.output


def test_cli_data_info_and_prepare(tmp_path):
    r = CliRunner().invoke(main, ["data", "info"])
    assert r.exit_code == 0, r.output
    assert "943 users, 1,682 items, 100,000 interactions" in r.output
    assert "valid/test timestamp ties  415 users" in r.output
    r = CliRunner().invoke(main, ["data", "prepare", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "run" / "data" / "split.json").read_text())
    assert meta["stats"]["users"] == 943
    r = CliRunner().invoke(main, ["--version"])
    assert r.output.strip() == "recalign, version 0.1.0"


def test_rating_optional_but_finite(tmp_path):
    d = _ds(tmp_path, "user_id:token\titem_id:token\ttimestamp:float\nu\ta\t1\nu\tb\t2\n")
    ds = load_dataset(d)  # no rating column at all: allowed, ratings are NaN
    assert len(ds) == 2 and all(r != r for r in ds.ratings.tolist())
    (d / "bad.inter").write_text(H + "u\ta\t\t1\nu\tb\t4\t2\n")  # an empty cell = no rating
    assert load_dataset(d).ratings.tolist()[1] == 4.0
    from recalign.data.atomic_files import write_atomic

    write_atomic(tmp_path / "w.inter", [("user_id", "token"), ("rating", "float")], [("u", float("nan")), ("v", 2.0)])
    assert (tmp_path / "w.inter").read_text().splitlines() == ["user_id:token\trating:float", "u\t", "v\t2"]


def test_items_without_titles_are_noted(tiny_dir):
    """An item with no title gets its id as title: the dataset says so (ids would reach the text)."""
    from recalign.data import load_dataset

    assert not any("no title" in n for n in load_dataset(tiny_dir).notes)
    (tiny_dir / "tiny.item").unlink()
    ds = load_dataset(tiny_dir)
    assert ds.notes == ["8 of 8 items have no title (no .item file): their id is used as the title, "
                        "so ids appear in the text"]
    assert all(it.title == iid for iid, it in ds.items.items())


# ---- repeated interactions: a user's first interaction with an item is kept ----

def test_duplicated_last_interaction_does_not_make_valid_equal_test(tmp_path, tiny_dir):
    """A duplicated review line (u1's last, i5 at 109) and a re-interaction (u3 takes i1 again,
    last): kept, valid = test for u1 and u3's test target sits in its own (masked) history."""
    inter = tiny_dir / "tiny.inter"
    inter.write_text(inter.read_text() + "u1\ti5\t5\t109\nu3\ti1\t5\t120\n")
    ds = load_dataset(tiny_dir)
    s = leave_one_out(ds)
    assert (s.target("u1", "valid"), s.target("u1", "test")) == ("i4", "i5")
    assert (s.target("u3", "valid"), s.target("u3", "test")) == ("i3", "i5")
    for u in s.users:
        assert s.target(u, "test") not in s.history(u, "test")
        assert s.target(u, "valid") not in s.history(u, "valid")
        assert len(set(s.sequences[u].items)) == len(s.sequences[u].items)
    assert ds.dropped_repeats == 2 and len(ds) == 14
    assert ds.notes == ["dropped 2 repeated interaction(s) of a user with the same item (1 exact duplicate(s), "
                        "1 later repeat(s)): each user's first interaction with an item is kept"]
    st = split_stats(s)
    assert st["dropped_repeats"] == 2
    r = CliRunner().invoke(main, ["data", "prepare", "--dataset", str(tiny_dir), "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "dropped repeats  2 " in r.output and "1 exact duplicate(s), 1 later repeat(s)" in r.output
    back = load_split(tmp_path / "run")
    assert back.dropped_repeats == 2 and back.sequences == s.sequences


def test_first_interaction_wins_even_when_the_repeat_comes_first_in_the_file(tmp_path):
    d = _ds(tmp_path, H + "u\ta\t1\t50\nu\tb\t2\t10\nu\ta\t3\t5\nu\tc\t4\t60\nu\td\t5\t70\n")
    s = leave_one_out(load_dataset(d))
    # a at time 5 (the third line) is u's first interaction with a: it is kept with its rating
    assert s.sequences["u"].items == ("a", "b", "c", "d") and s.sequences["u"].ratings[0] == 3.0
    assert s.dropped_repeats == 1


# ---- non-UTF-8 bytes, unbounded cells, empty ids: one line naming file, line and field ----

def test_non_utf8_bytes_name_the_file_and_line(tmp_path):
    d = _ds(tmp_path, H, TINY_ITEM_HEADER)
    (d / "bad.inter").write_bytes(H.encode() + b"u\ta\t3\t1\nu\tb\xff\t3\t2\n")
    with pytest.raises(RecalignError, match=r"bad.inter, line 3: not UTF-8 text \(byte b'\\xff' at column 4\)"):
        load_dataset(d)
    (d / "bad.inter").write_text(H + "u\ta\t3\t1\n")
    (d / "bad.item").write_bytes(TINY_ITEM_HEADER.encode() + b"a\tCaf\xe9\n")
    with pytest.raises(RecalignError, match=r"bad.item, line 2: not UTF-8 text \(byte b'\\xe9' at column 6\)"):
        load_dataset(d)
    r = CliRunner().invoke(main, ["data", "info", "--dataset", str(d)])
    assert r.exit_code == 1 and "bad.item, line 2: not UTF-8" in r.output and "Traceback" not in r.output


TINY_ITEM_HEADER = "item_id:token\ttitle:token_seq\n"


def test_errors_echo_at_most_200_characters_of_a_cell(tmp_path):
    d = _ds(tmp_path, H + "u\ta\t" + "9x" * 5_000_000 + "\t1\n")
    with pytest.raises(RecalignError) as e:
        load_dataset(d)
    msg = str(e.value)
    assert "line 2, field 'rating': expected a number, got '9x9x" in msg
    assert msg.endswith("… (10,000,000 characters)") and len(msg) < 400


def test_field_size_limits_are_enforced_and_configurable(tmp_path):
    from recalign.data import FieldLimits

    d = _ds(tmp_path, H + "u\ta\t3\t1\nu\tb\t3\t2\nu\tc\t3\t3\n",
            TINY_ITEM_HEADER + "a\tHeat\nb\t" + "T" * 10_000_000 + "\nc\tBabe\n")
    with pytest.raises(RecalignError, match=r"bad.item, line 3, field 'title': value of 10,000,000 characters is "
                                            r"over the limit of 1,000 \(starts 'TTTT"):
        load_dataset(d)
    ds = load_dataset(d, limits=FieldLimits(title=10_000_000))
    assert len(ds.items["b"].title) == 10_000_000
    (d / "bad.inter").write_text(H + "u\t" + "i" * 201 + "\t3\t1\n")
    with pytest.raises(RecalignError, match=r"bad.inter, line 2, field 'item': value of 201 characters is over "
                                            r"the limit of 200"):
        load_dataset(d)


@pytest.mark.parametrize("inter,item,pattern", [
    (H + "u\ta\t3\t1\nu\t\t3\t2\n", None,
     r"bad.inter, line 3, field 'item': expected a non-empty value, got an empty cell"),
    (H + "u\ta\t3\t1\n \tb\t3\t2\n", None,
     r"bad.inter, line 3, field 'user': expected a non-empty value, got only whitespace ' '"),
    (H + "u\ta\t3\t1\n", TINY_ITEM_HEADER + "a\tHeat\n\tBabe\n",
     r"bad.item, line 3, field 'item': expected a non-empty value, got an empty cell"),
])
def test_empty_ids_are_rejected_with_file_and_line(tmp_path, inter, item, pattern):
    with pytest.raises(RecalignError, match=pattern):
        load_dataset(_ds(tmp_path, inter, item))


# ---- the tie rule: equal timestamps keep the file's row order ----

def test_timestamp_ties_keep_file_order_on_a_fixture_an_unstable_sort_reorders(tmp_path):
    """Two users, 20 interleaved rows each, timestamps from only four values. The expected
    sequences come from Python's sorted() (stable by definition), not from the code under test.
    np.argsort(kind="quicksort") in Dataset or in the per-user grouping changes valid/test here
    (unlike the 14-row tiny fixture, which even an unstable sort keeps in order)."""
    rows = []
    for k in range(20):
        for u in ("u", "v"):
            rows.append((u, f"{u}{k}", float((k + (u == "v")) % 4)))
    d = _ds(tmp_path, H + "".join(f"{u}\t{i}\t3\t{t:g}\n" for u, i, t in rows))
    s = leave_one_out(load_dataset(d))
    for u in ("u", "v"):
        mine = [r for r in rows if r[0] == u]
        expected = tuple(i for _, i, _ in sorted(mine, key=lambda r: r[2]))
        assert (s.target(u, "valid"), s.target(u, "test")) == expected[-2:]
        assert s.sequences[u].items == expected
    assert (s.target("u", "valid"), s.target("u", "test")) == ("u15", "u19")
