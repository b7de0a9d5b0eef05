"""Guard: the Split's accessors, leave_one_out's bookkeeping and the atomic-directory reader,
checked by hand on tiny files (mutants of these survived the rest of the suite).

Handmade split (conftest): u1 i1 i2 i3 | i4 | i5 (ratings 5 3 4 | 1 | 5), u2 i2 i6 | i7 | i8
(4 5 | 2 | 4), u3 i1 | i3 | i5 (2 | 3 | 4); u4 has 2 interactions and is dropped.
"""
from __future__ import annotations

import math

import pytest

from conftest import TINY_INTER, TINY_ITEMS
from recalign.data import leave_one_out, load_dataset
from recalign.errors import RecalignError


def test_ratings_rows_and_item_set_by_hand(tiny_split):
    s = tiny_split
    assert s.train_ratings("u1") == (5.0, 3.0, 4.0) and s.train_ratings("u3") == (2.0,)
    assert s.history_ratings("u1", "valid") == (5.0, 3.0, 4.0)
    assert s.history_ratings("u1", "test") == (5.0, 3.0, 4.0, 1.0)
    assert s.history_ratings("u2", "test") == (4.0, 5.0, 2.0)
    assert (s.target_rating("u1", "valid"), s.target_rating("u1", "test")) == (1.0, 5.0)
    assert (s.target_rating("u2", "valid"), s.target_rating("u2", "test")) == (2.0, 4.0)
    assert s.train_item_set() == {"i1", "i2", "i3", "i6"}
    assert list(s.rows("train")) == [("u1", "i1", 5.0, 100.0), ("u1", "i2", 3.0, 102.0), ("u1", "i3", 4.0, 104.0),
                                     ("u2", "i2", 4.0, 101.0), ("u2", "i6", 5.0, 105.0), ("u3", "i1", 2.0, 103.0)]
    assert [r[:3] for r in s.rows("valid")] == [("u1", "i4", 1.0), ("u2", "i7", 2.0), ("u3", "i3", 3.0)]
    assert [r[:3] for r in s.rows("test")] == [("u1", "i5", 5.0), ("u2", "i8", 4.0), ("u3", "i5", 4.0)]
    with pytest.raises(ValueError, match="'valid' or 'test', got 'train'"):
        s.history("u1", "train")


def _write(d, inter: str, item: str | None = TINY_ITEMS, name: str = "tiny"):
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.inter").write_text(inter)
    if item is not None:
        (d / f"{name}.item").write_text(item)
    return d


def test_short_users_anywhere_are_dropped_and_counted(tmp_path):
    head, body = TINY_INTER.split("\n", 1)
    d = _write(tmp_path / "tiny", f"{head}\nu0\ti1\t3\t1\nu0\ti2\t3\t2\n{body}")   # a short user first
    s = leave_one_out(load_dataset(d))
    assert s.users == ["u1", "u2", "u3"]
    assert (s.dropped_users, s.dropped_interactions) == (2, 4)                    # u0 and u4
    assert "dropped 2 user(s) with fewer than 3 interactions (4 interactions)" in s.notes
    with pytest.raises(RecalignError, match="min_interactions must be at least 3") as e:
        leave_one_out(load_dataset(d), min_interactions=2)
    assert e.value.field == "min_interactions"
    with pytest.raises(RecalignError, match="has 6 or more interactions: nothing to split"):
        leave_one_out(load_dataset(d), min_interactions=6)


ITEMS = ("item_id:token\tmovie_title:token_seq\tclass:token_seq\trelease_year:float\tprice:float\tbrand:token\n"
         "i1\tToy Story\tAnimation  Comedy\t1995\t9.5\t\n"
         "i2\t\tAction\t1995\t\tacme\n")
INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t\t1\nu1\ti2\t4\t2\nu1\ti3\t5\t3\n"


def test_directory_reader_fields_titles_and_notes(tmp_path):
    d = _write(tmp_path / "shop", INTER, ITEMS, name="x")
    (d / "x.train.inter").write_text(INTER)                    # benchmark files are not the dataset
    (d / "x.valid.inter").write_text(INTER)
    (d / "x.test.inter").write_text(INTER)
    ds = load_dataset(d)
    assert ds.name == "x"
    it = ds.items
    assert (it["i1"].title, it["i1"].fields) == ("Toy Story", {"genres": "Animation, Comedy", "year": "1995",
                                                               "price": "9.5"})
    assert (it["i2"].title, it["i2"].fields) == ("i2", {"genres": "Action", "year": "1995", "brand": "acme"})
    assert it["i3"].title == "i3" and it["i3"].fields == {}
    assert ds.notes == ["2 of 3 items have no title (no title field or an empty title in the .item file): "
                        "their id is used as the title, so ids appear in the text"]
    assert math.isnan(ds.ratings[0]) and list(ds.ratings[1:]) == [4.0, 5.0]
    assert list(ds.timestamps) == [1.0, 2.0, 3.0] and list(ds.users) == ["u1"] * 3
    bare = load_dataset(_write(tmp_path / "bare", INTER, None, name="y"))
    assert bare.notes[0].startswith("3 of 3 items have no title (no .item file)")


def test_directory_without_exactly_one_inter_file(tmp_path):
    d = tmp_path / "two"
    _write(d, INTER, None, name="a")
    _write(d, INTER, None, name="b")
    with pytest.raises(RecalignError, match=r"one <name>.inter file in the directory, found \['a', 'b'\]") as e:
        load_dataset(d)
    assert str(e.value).startswith(str(d))
    (tmp_path / "none").mkdir()
    with pytest.raises(RecalignError, match="found none"):
        load_dataset(tmp_path / "none")


def test_item_file_without_title_column_keeps_unknown_fields(tmp_path):
    items = "item_id:token\tdirector:token_seq\ni1\tPixar  Studio\n"
    ds = load_dataset(_write(tmp_path / "d", INTER, items, name="z"))
    assert (ds.items["i1"].title, ds.items["i1"].fields) == ("i1", {"director": "Pixar  Studio"})
    assert ds.notes[0].startswith("3 of 3 items have no title (no title field or an empty title")


@pytest.mark.parametrize("inter, field", [
    ("user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\tnan\n", "timestamp"),
    (f"user_id:token\titem_id:token\ttimestamp:float\n{'u' * 201}\ti1\t1\n", "user"),
    (f"user_id:token\titem_id:token\ttimestamp:float\nu1\t{'i' * 201}\t1\n", "item"),
])
def test_bad_interaction_cells_name_the_field(tmp_path, inter, field):
    with pytest.raises(RecalignError, match=f"line 2, field '{field}'"):
        load_dataset(_write(tmp_path / "d", inter, None, name="z"))


def test_item_file_needs_an_item_column(tmp_path):
    with pytest.raises(RecalignError, match="z.item"):
        load_dataset(_write(tmp_path / "d", INTER, "title:token_seq\nToy Story\n", name="z"))
    long_item = f"item_id:token\ttitle:token_seq\n{'i' * 201}\tToy Story\n"
    with pytest.raises(RecalignError, match="line 2, field 'item'"):
        load_dataset(_write(tmp_path / "e", INTER, long_item, name="z"))
