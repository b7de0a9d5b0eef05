"""Amazon converters (2014 Python-literal metadata, 2018 and 2023 JSON lines) on files written here."""
from __future__ import annotations

import gzip
import json

import pytest

from recalign.data import leave_one_out, load_dataset
from recalign.data.amazon import convert_amazon, read_amazon
from recalign.errors import RecalignError


def _gz(path, lines):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_amazon_2014(tmp_path):
    reviews = _gz(tmp_path / "reviews_Toys_and_Games_5.json.gz", [json.dumps(r) for r in [
        {"reviewerID": "A1", "asin": "B01", "overall": 5.0, "unixReviewTime": 1300000000, "reviewText": "x"},
        {"reviewerID": "A1", "asin": "B02", "overall": 3.0, "unixReviewTime": 1300000100},
        {"reviewerID": "A2", "asin": "B01", "overall": 4.0, "unixReviewTime": 1300000050},
        {"reviewerID": "A1", "asin": "B03", "overall": 2.0, "unixReviewTime": 1300000200},
        {"reviewerID": "A1", "asin": "B09", "overall": 2.0, "unixReviewTime": 1300000300},  # no title
    ]])
    meta = _gz(tmp_path / "meta_Toys_and_Games.json.gz", [
        "{'asin': 'B01', 'title': 'Lego Castle &amp; Knights', 'price': 29.99, 'brand': 'LEGO', "
        "'categories': [['Toys & Games', 'Building Toys']]}",
        "{'asin': 'B02', 'title': 'Yo-Yo', 'brand': 'Duncan'}",
        "{'asin': 'B03', 'title': 'Yo-Yo', 'brand': 'Acme', 'description': 'A   classic.'}",
        "{'asin': 'B09', 'price': 1.0}",
    ])
    ds = read_amazon(reviews, meta, "toys")
    assert len(ds) == 4 and "dropped 1 review(s) of 1 item(s) without a title" in ds.notes[0]
    b1 = ds.items["B01"]
    assert b1.title == "Lego Castle & Knights"
    assert b1.fields == {"categories": "Toys & Games, Building Toys", "brand": "LEGO", "price": "29.99"}
    # duplicate titles: no year, so the brand disambiguates
    assert ds.items["B02"].title == "Yo-Yo (Duncan)" and ds.items["B03"].title == "Yo-Yo (Acme)"
    assert ds.items["B03"].fields["description"] == "A classic."
    out = convert_amazon(reviews, meta, "toys", tmp_path / "toys")
    back = load_dataset(out)
    assert {i: it.title for i, it in back.items.items()} == {i: it.title for i, it in ds.items.items()}
    s = leave_one_out(back)
    assert s.users == ["A1"] and s.sequences["A1"].items == ("B01", "B02", "B03")


def test_amazon_2018_and_2023(tmp_path):
    r18 = tmp_path / "Beauty.json"
    r18.write_text("\n".join(json.dumps(r) for r in [
        {"reviewerID": "U", "asin": "X1", "overall": 5.0, "unixReviewTime": 1500000000, "verified": True},
        {"reviewerID": "U", "asin": "X2", "overall": 4.0, "unixReviewTime": 1500000001}]))
    m18 = tmp_path / "meta_Beauty.json"
    m18.write_text("\n".join(json.dumps(m) for m in [
        {"asin": "X1", "title": "Lip Balm", "category": ["Beauty", "Lips"], "price": "$4.50",
         "description": ["Soft", "and smooth"]},
        {"asin": "X2", "title": "Shampoo", "brand": "Suave"}]))
    ds = read_amazon(r18, m18, "beauty")
    assert ds.items["X1"].fields == {"categories": "Beauty, Lips", "price": "4.50", "description": "Soft, and smooth"}
    r23 = tmp_path / "Sports.jsonl"
    r23.write_text(json.dumps({"user_id": "V", "asin": "a", "parent_asin": "P1", "rating": 4.0,
                               "timestamp": 1600000000123}) + "\n")
    m23 = tmp_path / "meta_Sports.jsonl"
    m23.write_text(json.dumps({"parent_asin": "P1", "title": "Yoga Mat", "store": "Gaiam",
                               "categories": ["Sports", "Yoga"]}) + "\n")
    ds = read_amazon(r23, m23, "sports")
    assert ds.timestamps.tolist() == [1600000000.123] and ds.items["P1"].fields["brand"] == "Gaiam"


def test_amazon_bad_lines(tmp_path):
    r = tmp_path / "r.json"
    r.write_text('{"reviewerID": "U", "asin": "X", "overall": 5, "unixReviewTime": 1}\n{not json\n')
    m = tmp_path / "m.json"
    m.write_text('{"asin": "X", "title": "T"}\n')
    with pytest.raises(RecalignError, match=r"r.json, line 2: expected a JSON object"):
        read_amazon(r, m, "x")
    r.write_text('{"reviewerID": "U", "overall": 5, "unixReviewTime": 1}\n')
    with pytest.raises(RecalignError, match=r"line 1: review lacks required field\(s\) \['asin/parent_asin'\]"):
        read_amazon(r, m, "x")
    with pytest.raises(RecalignError, match="file not found"):
        read_amazon(tmp_path / "missing.json.gz", m, "x")


def _files(tmp_path, reviews, meta=('{"asin": "X", "title": "T"}',)):
    r, m = tmp_path / "r.json", tmp_path / "m.json"
    r.write_text("\n".join(reviews) + "\n")
    m.write_text("\n".join(meta) + "\n")
    return r, m


def test_amazon_rating_required_and_finite(tmp_path):
    ok = '{"reviewerID": "U", "asin": "X", "overall": 5, "unixReviewTime": 1}'
    r, m = _files(tmp_path, [ok, '{"reviewerID": "U", "asin": "X", "unixReviewTime": 2}'])
    with pytest.raises(RecalignError, match=r"r.json, line 2, field 'overall': review lacks its rating"):
        read_amazon(r, m, "x")
    r, m = _files(tmp_path, ['{"user_id": "U", "parent_asin": "X", "timestamp": 1000}'])
    with pytest.raises(RecalignError, match=r"r.json, line 1, field 'rating': review lacks its rating"):
        read_amazon(r, m, "x")
    r, m = _files(tmp_path, [ok, '{"reviewerID": "U", "asin": "X", "overall": "NaN", "unixReviewTime": 2}'])
    with pytest.raises(RecalignError, match=r"line 2, field 'overall': expected a finite number as rating, got 'NaN'"):
        read_amazon(r, m, "x")
    r, m = _files(tmp_path, ['{"reviewerID": "U", "asin": "X", "overall": 0, "unixReviewTime": 1}'])
    assert read_amazon(r, m, "x").ratings.tolist() == [0.0]  # 0 is a rating, not a missing one


def test_amazon_compression_sniffed(tmp_path):
    rows = ['{"reviewerID": "U", "asin": "X", "overall": 4, "unixReviewTime": 7}']
    plain_gz = tmp_path / "reviews.json.gz"  # plain text despite the suffix
    plain_gz.write_text("\n".join(rows) + "\n")
    gz_plain = _gz(tmp_path / "meta.json", ["{'asin': 'X', 'title': 'Tee'}"])  # gzipped without .gz
    ds = read_amazon(plain_gz, gz_plain, "x")
    assert ds.ratings.tolist() == [4.0] and ds.items["X"].title == "Tee"
    bad = tmp_path / "latin1.json"
    bad.write_bytes(rows[0].encode() + b"\n" + '{"asin": "X", "title": "Caf\xe9"}'.encode("latin-1") + b"\n")
    with pytest.raises(RecalignError, match=r"latin1.json, line 2: not UTF-8 text \(byte b'\\xe9'"):
        read_amazon(plain_gz, bad, "x")
    trunc = tmp_path / "trunc.json.gz"
    trunc.write_bytes(_gz(tmp_path / "full.gz", rows * 200).read_bytes()[:60])
    with pytest.raises(RecalignError, match=r"trunc.json.gz: cannot decompress gzip data after line \d+"):
        read_amazon(trunc, gz_plain, "x")


def test_cli_convert_amazon_prints_notes(tmp_path):
    from click.testing import CliRunner

    from recalign.cli import main

    r, m = _files(tmp_path, ['{"reviewerID": "U", "asin": "X", "overall": 5, "unixReviewTime": 1}',
                             '{"reviewerID": "U", "asin": "Y", "overall": 3, "unixReviewTime": 2}'],
                  ['{"asin": "X", "title": "T"}', '{"asin": "Y"}'])
    res = CliRunner().invoke(main, ["data", "convert-amazon", "--reviews", str(r), "--meta", str(m),
                                    "--name", "am", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "note: dropped 1 review(s) of 1 item(s) without a title in m.json" in res.output
    assert (tmp_path / "out" / "am.inter").read_text().splitlines()[1:] == ["U\tX\t5\t1"]
    r.write_text('{"reviewerID": "U", "asin": "X", "unixReviewTime": 1}\n')
    res = CliRunner().invoke(main, ["data", "convert-amazon", "--reviews", str(r), "--meta", str(m),
                                    "--name", "bad", "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "r.json, line 1, field 'overall'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "out" / "bad.inter").exists()


def test_amazon_repeated_reviews_keep_the_first(tmp_path):
    """A duplicated review line and a later re-review of the same item are dropped and counted:
    otherwise valid = test and the test target sits in its own history."""
    rows = [{"reviewerID": "U", "asin": a, "overall": 4, "unixReviewTime": t}
            for a, t in [("A", 1), ("B", 2), ("C", 3), ("D", 4), ("D", 4), ("B", 5)]]
    r, m = _files(tmp_path, [json.dumps(x) for x in rows],
                  [json.dumps({"asin": a, "title": f"Toy {a}"}) for a in "ABCD"])
    ds = read_amazon(r, m, "x")
    s = leave_one_out(ds)
    assert s.sequences["U"].items == ("A", "B", "C", "D")
    assert (s.target("U", "valid"), s.target("U", "test")) == ("C", "D")
    assert ds.dropped_repeats == 2 and "(1 exact duplicate(s), 1 later repeat(s))" in ds.notes[-1]


def test_amazon_empty_ids_long_titles_and_bad_bytes(tmp_path):
    ok = '{"reviewerID": "U", "asin": "X", "overall": 5, "unixReviewTime": 1}'
    r, m = _files(tmp_path, [ok, '{"reviewerID": "U", "asin": " ", "overall": 5, "unixReviewTime": 2}'])
    with pytest.raises(RecalignError, match=r"r.json, line 2, field 'asin': expected a non-empty id, got ' '"):
        read_amazon(r, m, "x")
    r, m = _files(tmp_path, [ok], [json.dumps({"asin": "X", "title": "T" * 10_000_000})])
    with pytest.raises(RecalignError) as e:
        read_amazon(r, m, "x")
    assert str(e.value).startswith(f"{m}, line 1, field 'title': title of 10,000,000 characters is over the "
                                   "limit of 1,000") and len(str(e.value)) < 400
    r.write_bytes(ok.encode() + b'\n{"reviewerID": "\xff"}\n')
    with pytest.raises(RecalignError, match=r"r.json, line 2: not UTF-8 text"):
        read_amazon(r, m, "x")
