"""Issue 26 items 5-7: the LLM writer against an in-process fake OpenAI-compatible server that
misbehaves — drips bytes, stays silent, answers with the wrong shape, a truncated body, a bad
status line, a huge body, a refusal or nothing. Every call ends within its configured deadline,
fails with one line after bounded retries, and nothing unusable is cached or written into the
query text. Every test runs its calls under a wall-clock bound of its own (``bounded``)."""
from __future__ import annotations

import json
import random
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from recalign.data import leave_one_out, load_dataset
from recalign.errors import RecalignError
from recalign.tasks.query import QueryConfig
from recalign.tasks.query.writer import (MAX_RESPONSE_BYTES, LLMWriter, RuleWriter, check_answer, http_complete,
                                         is_refusal, make_writer)
from test_query_tasks import write_query_fixture

GOOD = "A film for a rainy day."


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


def _chat(content) -> bytes:
    return _json({"choices": [{"message": {"role": "assistant", "content": content}}]})


BODIES = {  # mode -> a complete 200 body
    "ok": _chat(GOOD), "list": _json([{"message": {"content": GOOD}}]), "string": _json("A film."),
    "null": _chat(None), "int": _chat(42), "no_choices": _json({"error": "busy"}), "not_json": b"<html>oops</html>",
    "refusal": _chat("I'm sorry, but I can't help with that request."), "empty": _chat("   \n "),
    "long_line": _chat("x" * 5000),
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.requests.append(body)
        srv.paths.append(self.path)
        mode = srv.modes[min(len(srv.requests), len(srv.modes)) - 1]
        try:
            self._answer(mode, body)
        except OSError:   # the client hung up (its deadline): stop
            pass

    def _answer(self, mode: str, body: dict) -> None:
        srv = self.server
        if mode == "counter":   # a fresh answer on every call (a sampling LLM)
            return self._send(200, _chat(f"Answer number {len(srv.requests)}."))
        if mode in BODIES:
            return self._send(200, BODIES[mode])
        if mode in ("http500", "http401"):
            return self._send(int(mode[4:]), b'{"error": "no"}')
        if mode == "silent":
            srv.stop.wait(30)
            return None
        if mode == "drip":            # headers at once, then one byte every 0.25 s of a long body
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            while not srv.stop.wait(0.25):
                self.wfile.write(b" ")
                self.wfile.flush()
            return None
        if mode == "drip_status":     # the status line itself, one byte every 0.25 s
            for ch in b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n" * 100:
                if srv.stop.wait(0.25):
                    return None
                self.wfile.write(bytes([ch]))
                self.wfile.flush()
            return None
        if mode == "truncated":       # says 500 bytes, sends 20 and closes
            self.send_response(200)
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(_chat(GOOD)[:20])
            return None
        if mode == "bad_status":
            self.wfile.write(b"HELLO THERE\r\n\r\n")
            return None
        if mode in ("huge", "huge_undeclared"):   # 10 MB of answer, with or without a Content-Length
            big = _chat("y" * (10 << 20))
            self.send_response(200)
            if mode == "huge":
                self.send_header("Content-Length", str(len(big)))
            self.end_headers()
            self.wfile.write(big)
            return None
        raise AssertionError(mode)

    def _send(self, code: int, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


class FakeServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True

    def __init__(self, modes):
        super().__init__(("127.0.0.1", 0), Handler)
        self.modes, self.requests, self.paths, self.stop = list(modes), [], [], threading.Event()
        self.url = f"http://127.0.0.1:{self.server_port}/v1"


@pytest.fixture
def serve():
    servers = []

    def start(*modes: str) -> FakeServer:
        srv = FakeServer(modes)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


def bounded(limit_s: float, fn, *args, **kw):
    """``fn(*args, **kw)`` in a thread; the test fails if it runs past ``limit_s`` (it cannot hang).
    Returns (result or exception, seconds)."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001
            out["value"] = e
    t0 = time.monotonic()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(limit_s)
    took = time.monotonic() - t0
    assert not th.is_alive(), f"still running after {limit_s} s"
    return out["value"], took


def writer(srv: FakeServer, tmp_path=None, **kw) -> LLMWriter:
    kw = {"retries": 2, "rate": 0, "backoff_s": 0.01, "timeout_s": 1.0, **kw}
    return LLMWriter(http_complete(srv.url, "", "fake-1"), "fake-1", tmp_path / "cache" if tmp_path else None, **kw)


def one_line_error(value) -> str:
    assert isinstance(value, RecalignError), repr(value)
    msg = str(value)
    assert "\n" not in msg and len(msg) < 600, msg
    return msg


# ---- item 5: deadlines ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["drip", "drip_status", "silent"])
def test_a_call_has_a_total_deadline(serve, tmp_path, mode):
    srv = serve(mode)
    w = writer(srv, tmp_path, retries=1, timeout_s=1.0)
    err, took = bounded(8, w.describe, [])
    msg = one_line_error(err)
    assert 1.9 <= took < 4.5                     # two tries of 1 s each, not one per byte or 4 x 60 s
    assert "failed after 2 tries (query.writer_retries=1)" in msg
    assert "no complete answer within 1 s (query.writer_timeout_s)" in msg and srv.url in msg
    assert len(srv.requests) == 2 and w.stats["failed_calls"] == 2 and not (tmp_path / "cache").exists()


def test_a_run_has_a_total_deadline(serve, tmp_path):
    srv = serve("silent")
    w = writer(srv, tmp_path, retries=10, timeout_s=1.0, run_timeout_s=2.5)
    err, took = bounded(8, w.summary, ["Drama"], "1990s")
    msg = one_line_error(err)
    assert took < 4.0 and "query.writer_run_timeout_s" in msg and "run deadline of 2.5 s passed" in msg
    assert len(srv.requests) <= 4


def test_deadlines_and_retries_come_from_the_query_config(serve, qsplit, monkeypatch, tmp_path):
    srv = serve("silent")
    monkeypatch.setenv("RECALIGN_LLM_URL", srv.url)
    cfg = QueryConfig(writer="http", writer_cache=str(tmp_path / "c"), writer_timeout_s=0.5, writer_retries=0,
                      eval_items=3)
    from recalign.tasks.registry import QUERY_TASKS

    err, took = bounded(6, QUERY_TASKS.get("as2i").build, qsplit, "test", cfg)
    msg = one_line_error(err)
    assert took < 2.5 and "failed after 1 try (query.writer_retries=0)" in msg and "within 0.5 s" in msg


@pytest.mark.parametrize("override, problem", [
    ("query.writer_timeout_s=0", "must be a number of seconds > 0"),
    ("query.writer_run_timeout_s=-1", "must be a number of seconds > 0"),
    ("query.writer_retries=11", "must be an integer from 0 to 10"),
    ("query.writer_max_chars=0", "must be an integer from 1 to 10000"),
    ("query.writer=gpt", "unknown writer 'gpt'"),
    ("query.writer=local:/nonexistent/model", "no model directory '/nonexistent/model'"),
])
def test_writer_settings_checked_when_the_config_loads(override, problem):
    from recalign.config import from_dict
    from recalign.embed.config import EmbedConfig

    with pytest.raises(RecalignError) as e:
        from_dict(EmbedConfig, {}, overrides=[override])
    msg = one_line_error(e.value)
    assert f"field '{override.split('=')[0]}'" in msg and problem in msg


# ---- item 6: wrong shapes, truncated bodies, bad status lines ------------------------------------

@pytest.mark.parametrize("mode, reason", [
    ("list", "the answer is a JSON list, not {\"choices\""),
    ("string", "the answer is a JSON string"),
    ("null", "the answer has a null content"),
    ("int", "the answer has a number content"),
    ("no_choices", "the answer has no choices list (keys: ['error'])"),
    ("not_json", "the answer is not JSON: b'<html>oops</html>'"),
    ("truncated", "a truncated answer (20 of 500 bytes)"),
    ("bad_status", "not an HTTP answer (status line"),
    ("http500", "HTTP 500"),
])
def test_a_wrong_answer_is_retried_then_one_line(serve, tmp_path, mode, reason):
    srv = serve(mode)
    w = writer(srv, tmp_path, retries=2)
    err, took = bounded(6, w.describe, [])
    msg = one_line_error(err)
    assert reason in msg and "failed after 3 tries (query.writer_retries=2)" in msg, msg
    assert len(srv.requests) == 3 and took < 3 and not (tmp_path / "cache").exists()


def test_a_wrong_answer_then_a_good_one(serve, tmp_path):
    srv = serve("truncated", "null", "ok")
    w = writer(srv, tmp_path, retries=2)
    text, _ = bounded(6, w.summary, ["Drama"], "1990s")
    assert text == GOOD and len(srv.requests) == 3 and w.stats["failed_calls"] == 2 and w.stats["answered"] == 1


def test_a_client_error_is_not_retried(serve, tmp_path):
    srv = serve("http401")
    err, _ = bounded(6, writer(srv, tmp_path, retries=3).describe, [])
    msg = one_line_error(err)
    assert "HTTP 401" in msg and "failed after 1 try" in msg and len(srv.requests) == 1


def test_an_http_proxy_from_the_environment_is_used(serve, tmp_path, monkeypatch):
    srv = serve("ok")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{srv.server_port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    w = LLMWriter(http_complete("http://llm.invalid/v1", "", "m"), "m", rate=0, timeout_s=2)
    assert bounded(6, w.describe, [])[0] == GOOD and srv.paths == ["http://llm.invalid/v1/chat/completions"]


# ---- item 7: size limits, refusals, empty answers, the cache key ---------------------------------

@pytest.mark.parametrize("mode", ["huge", "huge_undeclared"])
def test_a_huge_answer_is_refused_before_the_cache(serve, tmp_path, mode):
    srv = serve(mode)
    err, took = bounded(10, writer(srv, tmp_path, retries=1, timeout_s=3).describe, [])
    msg = one_line_error(err)
    assert f"{MAX_RESPONSE_BYTES:,}-byte limit" in msg and took < 6
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("mode, why", [("refusal", "refusal"), ("empty", "empty"), ("long_line", "too_long")])
def test_refusals_and_empty_answers_are_counted_never_cached_or_used(serve, tmp_path, mode, why):
    srv = serve(mode)
    w = writer(srv, tmp_path)
    got, _ = bounded(6, w.misspell, "Casablanca", random.Random(0))
    assert got == RuleWriter().misspell("Casablanca", random.Random(0))       # the rules wrote it instead
    assert len(srv.requests) == 1                                            # not retried
    assert w.stats[why] == 1 and w.stats["rule_written"] == 1 and w.stats["answered"] == 0
    assert not (tmp_path / "cache").exists()
    got2, _ = bounded(6, w.misspell, "Casablanca", random.Random(0))
    assert got2 == got and len(srv.requests) == 2                            # asked again: nothing was cached
    assert w.stats[why] == 2 and w.stats["rule_written"] == 2 and "written by the rules instead" in w.report()


def test_refusal_detection():
    for t in ("I'm sorry, but I can't help with that.", "I\u2019m sorry, I cannot", "As an AI language model, I",
              "I cannot assist with this request.", "Sorry, but I can't do that", '"I apologize, but no."',
              "Here it is. I can't help with misspelling real titles.", "I won't do that."):
        assert is_refusal(t), t
    for t in ("Casablanka", "Sorry, Wrong Numbr", "A cozy comedy from the 1990s.", "I Can't Stop Loving You",
              "I Can't Help Falling in Love", "I'm Sorry", "I Cannot Help Myself (Sugar Pie)"):
        assert not is_refusal(t), t
    assert check_answer("  \n", 50) == ("", "empty") and check_answer("a" * 51, 50) == ("", "too_long")


def test_the_cache_key_holds_the_endpoint_and_a_rerun_reads_it_back(serve, tmp_path):
    a, b = serve("counter"), serve("counter")
    w1 = writer(a, tmp_path)
    first = [w1.summary(["Drama"], "1990s"), w1.describe([])]
    assert first == ["Answer number 1.", "Answer number 2."]
    assert a.requests[0]["temperature"] == 0.0 and a.requests[0]["seed"] == 0   # greedy and seeded
    rerun = writer(a, tmp_path)                                     # same endpoint: every answer from the cache
    assert [rerun.summary(["Drama"], "1990s"), rerun.describe([])] == first and len(a.requests) == 2
    assert rerun.stats["cached"] == 2 and rerun.stats["calls"] == 0
    other = writer(b, tmp_path)                                     # another endpoint: not the same answers
    assert other.summary(["Drama"], "1990s") == "Answer number 1." and len(b.requests) == 1
    seeded = LLMWriter(http_complete(a.url, "", "fake-1", seed=5), "fake-1", tmp_path / "cache", rate=0, seed=5)
    assert seeded.summary(["Drama"], "1990s") == "Answer number 3."   # another seed: another key
    entry = json.loads(next((tmp_path / "cache").rglob("*.json")).read_text())
    assert set(entry) == {"endpoint", "model", "prompt", "text"}


def test_a_corrupt_cache_entry_is_a_miss(serve, tmp_path):
    srv = serve("ok")
    w = writer(srv, tmp_path)
    w.describe([])
    (f,) = (tmp_path / "cache").rglob("*.json")
    f.write_text('{"text": "trunc')
    assert writer(srv, tmp_path).describe([]) == GOOD and len(srv.requests) == 2
    prompt = srv.requests[0]["messages"][0]["content"]
    f.write_text(json.dumps({"prompt": prompt, "text": "I'm sorry, but I can't"}))   # a refusal cached by an old version
    assert writer(srv, tmp_path).describe([]) == GOOD and len(srv.requests) == 3


# ---- through the query builders and generate_queries ---------------------------------------------

@pytest.fixture
def qsplit(tmp_path):
    return leave_one_out(load_dataset(write_query_fixture(tmp_path / "qtiny")))


def test_generate_queries_counts_refusals_and_reruns_identically(serve, qsplit, monkeypatch, tmp_path, capsys):
    from recalign.embed.data import generate_queries, load_queries

    srv = serve("counter", "refusal", "counter")     # the 2nd prompt is refused, the rest answered
    monkeypatch.setenv("RECALIGN_LLM_URL", srv.url)
    monkeypatch.setattr("recalign.tasks.query.builders.make_writer",
                        lambda *a, **k: make_writer(*a, **{**k, "rate": 0}))
    cfg = QueryConfig(writer="http", eval_items=4, train_per_item=1, writer_timeout_s=2)

    def run(d):
        m = generate_queries(qsplit, tmp_path / d, ["nm2i"], cfg)
        return m, {s: load_queries(tmp_path / d, "nm2i", s)["query"] for s in ("train", "test")}
    m1, q1 = bounded(60, run, "run")[0]
    assert m1.writer["refusal"] == 1 and m1.writer["rule_written"] == 1
    assert m1.writer["answered"] == m1.writer["prompts"] - m1.writer["cached"] - 1
    assert not any("sorry" in q.lower() for qs in q1.values() for q in qs)              # never trained on
    echoed = capsys.readouterr().out.strip().splitlines()
    assert "1 refusals" in echoed[-1] and "written by the rules instead" in echoed[-1]
    n = len(srv.requests)
    cache = tmp_path / "run" / "embed" / "llm_cache"
    cached_files = sum(1 for _ in cache.rglob("*.json"))
    assert cached_files == n - 1                    # one file per answered prompt; the refusal is not there
    srv.modes[:] = ["counter"]
    m2, q2 = bounded(60, run, "run")[0]            # the same run dir: its cache answers all but the refused prompt
    assert len(srv.requests) == n + 1 and m2.writer["cached"] == m2.writer["prompts"] - 1
    assert sum(1 for _ in cache.rglob("*.json")) == cached_files + 1
    m3, q3 = bounded(60, run, "run")[0]            # now every prompt is cached: same queries, no call
    assert len(srv.requests) == n + 1 and m3.writer["calls"] == 0
    m4, q4 = bounded(60, run, "run")[0]
    assert q3 == q4 and m3.counts == m1.counts
