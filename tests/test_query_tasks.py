"""The ten query tasks: registry (apart from the seq2seq defaults), templates, builders'
leakage and negative rules, attributes/conditions, the writers (rule-based and an LLM
writer against a fake OpenAI-compatible endpoint served in-process), materialization."""
from __future__ import annotations

import functools
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from recalign.data import Item, leave_one_out, load_dataset
from recalign.errors import RecalignError
from recalign.tasks import TASKS
from recalign.tasks.query import (COVERAGE_TASKS, Catalogue, Condition, QueryConfig, conditions_from_json,
                                  conditions_json, holds_all, query_templates)
from recalign.tasks.query.builders import cooccurrence
from recalign.tasks.query.writer import LLMWriter, RuleWriter, http_complete, make_writer
from recalign.tasks.registry import QUERY_TASKS

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Crime", "Animation"]
WORDS = ["Red", "Silent", "Lost", "Golden", "Dark", "Little", "Last", "Wild", "Secret", "Broken"]
NOUNS = ["River", "Planet", "Garden", "Night", "Empire", "Road", "Island", "Heart"]


def write_query_fixture(d: Path, name: str = "qtiny", n_items: int = 40, n_users: int = 16,
                        per_user: int = 9) -> Path:
    """40 items with year and genres (ml-100k's fields), 16 users × 9 interactions (seeded)."""
    rng = random.Random(7)
    d.mkdir(parents=True, exist_ok=True)
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for i in range(n_items):
        g = " ".join(sorted(rng.sample(GENRES, rng.randint(1, 3))))
        items.append(f"m{i}\t{WORDS[i % 10]} {NOUNS[(i * 3) % 8]} {i}\t{1970 + (i * 7) % 30}\t{g}")
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    t = 0
    for u in range(n_users):
        for i in rng.sample(range(n_items), per_user):
            t += 1
            inter.append(f"u{u}\tm{i}\t{rng.randint(1, 5)}\t{t}")
    (d / f"{name}.item").write_text("\n".join(items) + "\n")
    (d / f"{name}.inter").write_text("\n".join(inter) + "\n")
    return d


@pytest.fixture
def qsplit(tmp_path):
    return leave_one_out(load_dataset(write_query_fixture(tmp_path / "qtiny")))


CFG = QueryConfig(eval_items=20)


def test_registry_apart_from_seq2seq_defaults():
    assert QUERY_TASKS.names() == ["uh2i", "i2i", "us2i", "fa2i", "sa2i", "as2i", "nm2i", "vc2i", "na2i", "uq2i"]
    assert TASKS.names() == ["retrieval", "ranking", "rating", "mim", "mlm", "bpr"]
    assert TASKS.rec_names() == ["retrieval", "ranking", "rating"] and TASKS.aux_names() == ["mim", "mlm", "bpr"]
    assert not set(QUERY_TASKS.names()) & {t.name for t in TASKS.evaluable()}
    with pytest.raises(RecalignError, match="Did you mean 'uh2i'"):
        QUERY_TASKS.get("uh2j")


@pytest.mark.parametrize("task", QUERY_TASKS.names())
def test_templates_eight_seen_four_unseen(task):
    t = QUERY_TASKS.get(task)
    temps = query_templates(t)
    assert sum(x.split == "seen" for x in temps) >= 8 and sum(x.split == "unseen" for x in temps) >= 4
    ex = t.example_type.sample()
    for x in temps:
        inp, tgt = x.render(ex)
        assert tgt == ex.target and inp and "{{" not in inp


def test_bad_template_names_file_and_variable(tmp_path):
    f = tmp_path / "uh2i.yaml"
    f.write_text("task: uh2i\ntemplates:\n  - id: x\n    split: seen\n    input: '{{ histroy }}'\n    target: '{{ target }}'\n")
    t = QUERY_TASKS.get("uh2i")
    t2 = type(t)(**{**t.__dict__, "templates": f})
    with pytest.raises(RecalignError, match=r"uh2i.yaml.*histroy.*Did you mean 'history'"):
        query_templates(t2)


def test_user_tasks_leakage_and_negatives(qsplit):
    for task in ("uh2i", "us2i", "uq2i"):
        b = QUERY_TASKS.get(task).build
        test = b(qsplit, "test", CFG)
        assert len(test) == len(qsplit.users)
        for r in test:
            u = r.meta.user
            assert r.meta.target_item == qsplit.target(u, "test")
            assert r.meta.history == list(qsplit.history(u, "test"))   # masked when ranking
            whole = set(qsplit.sequences[u].items)
            assert len(r.meta.candidates) == 7 and not whole & set(r.meta.candidates)
        for r in b(qsplit, "train", CFG):
            tr = qsplit.train_items(r.meta.user)
            assert r.meta.target_item in tr and set(r.meta.history) <= set(tr)
            assert r.meta.target_item not in (qsplit.target(r.meta.user, "valid"), qsplit.target(r.meta.user, "test"))
    uq = QUERY_TASKS.get("uq2i").build(qsplit, "test", CFG)
    cat = Catalogue.from_items(qsplit.items)
    assert all(holds_all(r.conditions, cat.attrs[r.meta.target_item]) for r in uq)


@pytest.mark.parametrize("task", ["fa2i", "sa2i", "as2i", "vc2i", "na2i"])
def test_condition_tasks_positive_meets_negatives_violate(qsplit, task):
    cat = Catalogue.from_items(qsplit.items)
    rows = QUERY_TASKS.get(task).build(qsplit, "test", CFG)
    assert len(rows) >= 15
    for r in rows:
        assert r.conditions and holds_all(r.conditions, cat.attrs[r.meta.target_item])
        assert r.meta.candidates and all(not holds_all(r.conditions, cat.attrs[i]) for i in r.meta.candidates)
    if task == "fa2i":
        assert all(sorted(map(str, r.conditions)) == sorted(map(str, cat.facts(r.meta.target_item))) for r in rows)
    if task == "na2i":
        assert all([c.op for c in r.conditions] == ["has", "not_has"] for r in rows)


def test_attribute_eval_sample_is_seeded_and_train_uses_train_items(qsplit):
    a = QUERY_TASKS.get("sa2i").build(qsplit, "test", CFG)
    b = QUERY_TASKS.get("sa2i").build(qsplit, "test", CFG)
    c = QUERY_TASKS.get("sa2i").build(qsplit, "test", QueryConfig(eval_items=20, seed=1))
    assert [r.meta.target_item for r in a] == [r.meta.target_item for r in b] != [r.meta.target_item for r in c]
    train = QUERY_TASKS.get("fa2i").build(qsplit, "train", CFG)
    assert {r.meta.target_item for r in train} <= qsplit.train_item_set()


def test_i2i_positives_cooccur_in_train_and_anchors_held_out(qsplit):
    co = cooccurrence(qsplit, 3)
    tr = QUERY_TASKS.get("i2i").build(qsplit, "train", CFG)
    te = QUERY_TASKS.get("i2i").build(qsplit, "test", CFG)
    assert tr and te
    assert not {r.meta.history[0] for r in tr} & {r.meta.history[0] for r in te}
    for r in tr + te:
        a = r.meta.history[0]
        assert co[a][r.meta.target_item] > 0 and not set(r.meta.candidates) & (set(co[a]) | {a})


def test_nm2i_misspells_by_small_edits(qsplit):
    rows = QUERY_TASKS.get("nm2i").build(qsplit, "test", CFG)
    for r in rows:
        assert r.example.name != r.example.target and abs(len(r.example.name) - len(r.example.target)) <= 2


def test_catalogue_amazon_fields_and_conditions():
    items = {"a": Item("a", "Pen", fields={"brand": "Acme", "categories": "Office, Pens", "price": "3.50",
                                           "description": "a long text"}),
             "b": Item("b", "Ink", fields={"brand": "Ink Co", "categories": "Office", "price": "12.00"})}
    cat = Catalogue.from_items(items)
    assert cat.kinds == {"brand": "value", "categories": "set", "price": "number"}
    assert cat.satisfying([Condition("price", "lt", 10.0)]) == ["a"]
    assert cat.satisfying([Condition("categories", "has", "Office"), Condition("categories", "not_has", "Pens")]) == ["b"]
    assert cat.satisfying([Condition("brand", "eq", "Ink Co")]) == ["b"]
    conds = [Condition("price", "gt", 3.0), Condition("categories", "has", "Pens")]
    assert conditions_from_json(conditions_json(conds)) == conds
    assert Condition("price", "lt", 10.0).text() == "price under 10"


def test_vague_conditions_on_amazon_fields_hold_for_the_item():
    from recalign.tasks.query.builders import vague_conditions

    rng = random.Random(3)
    items = {f"p{i}": Item(f"p{i}", f"P{i}", fields={"brand": f"B{i % 3}", "categories": "Home, Kitchen" if i % 2 else "Toys",
                                                   "price": f"{1.5 * i + 0.99:.2f}"}) for i in range(30)}
    cat = Catalogue.from_items(items)
    seen_ops = set()
    for i in items:
        for _ in range(5):
            conds = vague_conditions(cat, i, rng, 3)
            assert conds and holds_all(conds, cat.attrs[i])
            seen_ops |= {(c.field, c.op) for c in conds}
    assert {("price", "lt"), ("price", "gt"), ("categories", "has")} <= seen_ops


def test_rule_writer():
    w = RuleWriter()
    assert w.describe([Condition("genres", "has", "Drama"), Condition("year", "gt", 1990.0)]) == \
        "a drama, released after 1990"
    s = w.misspell("Casablanca", random.Random(0))
    assert s != "Casablanca" and abs(len(s) - 10) <= 2
    assert w.misspell("Casablanca", random.Random(0)) == s   # seeded


class _Fake(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Fake.calls.append((body, self.headers.get("Authorization")))
        if len(_Fake.calls) <= _Fake.fail_first:
            self.send_response(500)
            self.end_headers()
            return
        text = "Casablancka" if "misspell" in body["messages"][0]["content"] else "A film for a rainy day."
        out = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


@pytest.fixture
def fake_llm():
    _Fake.calls, _Fake.fail_first = [], 0
    srv = HTTPServer(("127.0.0.1", 0), _Fake)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}/v1"
    srv.shutdown()


def test_llm_writer_http_cache_retries_and_key(fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("RECALIGN_LLM_URL", fake_llm)
    monkeypatch.setenv("RECALIGN_LLM_KEY", "sekret")
    monkeypatch.setenv("RECALIGN_LLM_MODEL", "fake-1")
    _Fake.fail_first = 2
    w = make_writer("http", cache_dir=tmp_path / "cache", rate=100, retries=3)
    w.backoff_s = 0.01
    assert w.misspell("Casablanca", random.Random(0)) == "Casablancka"
    assert len(_Fake.calls) == 3 and _Fake.calls[-1][1] == "Bearer sekret" and _Fake.calls[-1][0]["model"] == "fake-1"
    assert w.misspell("Casablanca", random.Random(0)) == "Casablancka"   # from the disk cache
    assert len(_Fake.calls) == 3 and len(list((tmp_path / "cache").rglob("*.json"))) == 1
    _Fake.fail_first = 100
    w2 = LLMWriter(http_complete(fake_llm, "", "fake-1"), "fake-1", retries=1, rate=100, backoff_s=0.01)
    with pytest.raises(RecalignError, match="failed after 2 tries"):
        w2.describe([Condition("genres", "has", "Drama")])


def test_llm_writer_rate_limit_and_dry_run(fake_llm):
    import time
    w = LLMWriter(http_complete(fake_llm, "", "m"), "m", rate=10)
    t0 = time.monotonic()
    for i in range(3):
        w.ask(f"prompt {i}")
    assert time.monotonic() - t0 >= 0.2         # 3 calls at 10/s: two waits of 0.1 s
    printed: list[str] = []
    d = LLMWriter(http_complete(fake_llm, "", "m"), "m", dry_run=True, echo=printed.append)
    n = len(_Fake.calls)
    assert d.summary(["Drama"], "1990s") == RuleWriter().summary(["Drama"], "1990s")
    assert len(_Fake.calls) == n and printed and printed[0].startswith("[dry-run summary]") and "Drama" in printed[0]


def test_us2i_through_llm_writer(fake_llm, qsplit, monkeypatch, tmp_path):
    monkeypatch.setenv("RECALIGN_LLM_URL", fake_llm)
    # no rate limit here (2 calls/s by default: ~7 s of waiting); the limit has its own test above
    monkeypatch.setattr("recalign.tasks.query.builders.make_writer", functools.partial(make_writer, rate=0))
    rows = QUERY_TASKS.get("us2i").build(qsplit, "test", QueryConfig(writer="http", writer_cache=str(tmp_path)))
    assert {r.example.summary for r in rows} == {"A film for a rainy day."}


def test_make_writer_errors(monkeypatch):
    monkeypatch.delenv("RECALIGN_LLM_URL", raising=False)
    with pytest.raises(RecalignError, match="RECALIGN_LLM_URL"):
        make_writer("http")
    with pytest.raises(RecalignError, match="unknown writer"):
        make_writer("gpt")


def test_generate_queries_materializes(qsplit, tmp_path):
    from recalign.embed.data import QUERY_SPLITS, generate_queries, load_queries

    m = generate_queries(qsplit, tmp_path / "run", ["uh2i", "vc2i"], CFG)
    assert m.tasks == ("uh2i", "vc2i") and m.counts["uh2i"]["test"] == len(qsplit.users)
    for s in QUERY_SPLITS:
        ds = load_queries(tmp_path / "run", "vc2i", s)
        assert set(ds.column_names) >= {"query", "positive", "negatives", "positive_id", "conditions"}
    te, un = load_queries(tmp_path / "run", "vc2i", "test"), load_queries(tmp_path / "run", "vc2i", "test_unseen")
    assert te["positive_id"] == un["positive_id"] and te["conditions"] == un["conditions"]
    assert set(te["_template_split"]) == {"seen"} and set(un["_template_split"]) == {"unseen"}
    r = te[0]
    assert r["positive"].startswith(qsplit.items[r["positive_id"]].title + " | year: ")
    assert len(r["negatives"]) == len(r["negative_ids"]) >= 1
    with pytest.raises(RecalignError, match="not generated here"):
        load_queries(tmp_path / "run", "fa2i", "test")
    assert COVERAGE_TASKS == ("fa2i", "sa2i", "vc2i", "na2i")


def test_per_task_caps_weight_the_training_mixture(qsplit, tmp_path):
    """``max_train_per_task`` as a mapping: a named task keeps its cap (0 = all), ``*`` caps the rest,
    and the rows kept are a seeded sample of the task's own train queries."""
    from recalign.embed.config import EmbedConfig
    from recalign.embed.data import generate_queries, load_queries
    from recalign.embed.train import training_columns
    from recalign.run_dir import RunDir

    run = RunDir(tmp_path / "run")
    generate_queries(qsplit, run, ["uh2i", "fa2i"], QueryConfig(eval_items=20, train_per_user=5))
    n_uh2i, n_fa2i = (len(load_queries(run, t, "train")) for t in ("uh2i", "fa2i"))
    assert n_uh2i > 20 and n_fa2i > 10

    def count(caps) -> int:
        return len(training_columns(run, EmbedConfig(max_train_per_task=caps), ["uh2i", "fa2i"])["anchor"])

    assert count(0) == n_uh2i + n_fa2i and count(4) == 8
    assert count({"uh2i": 0, "*": 3}) == n_uh2i + 3
    assert count({"fa2i": 2}) == n_uh2i + 2                          # a task it does not name: no cap
    a = training_columns(run, EmbedConfig(max_train_per_task={"*": 3}), ["uh2i", "fa2i"])["anchor"]
    assert a == training_columns(run, EmbedConfig(max_train_per_task={"*": 3}), ["uh2i", "fa2i"])["anchor"]   # seeded
    with pytest.raises(RecalignError, match="max_train_per_task.fa2x"):
        EmbedConfig(max_train_per_task={"fa2x": 3})
    with pytest.raises(RecalignError, match="max_train_per_task.uh2i"):
        EmbedConfig(max_train_per_task={"uh2i": -2})
