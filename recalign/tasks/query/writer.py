"""Who writes the free text of US2I (a user summary), AS2I (an attribute description) and
NM2I (a misspelt name): one ``Writer`` interface, a rule-based default that works offline,
and an LLM writer (an OpenAI-compatible HTTP endpoint, or a local transformers
text-generation model) with a disk cache, retries, a rate limit and a dry run.

>>> w = RuleWriter()
>>> w.describe([Condition("genres", "has", "Comedy"), Condition("year", "eq", 1995.0)])
'a comedy, from 1995'
>>> w.summary(["Comedy", "Drama"], "1990s")
'Someone who mostly enjoys comedy and drama, mostly from the 1990s.'

LLM writer: ``make_writer("http")`` reads ``RECALIGN_LLM_URL`` (the base URL, ``…/v1``),
``RECALIGN_LLM_KEY`` and ``RECALIGN_LLM_MODEL`` from the environment;
``make_writer("local:/path/to/model")`` runs a transformers text-generation pipeline.

Bounds and determinism of the LLM writer:

- every call has a total deadline (``timeout_s``: connect, headers and body together — a
  server that drips bytes is cut off), every writer a run deadline (``run_timeout_s``, over
  all its calls, waits and retries); an answer body over ``MAX_RESPONSE_BYTES`` is an error;
- a failed call (timeout, refused connection, HTTP 408/429/5xx, a body that is not JSON or not
  ``{"choices": [{"message": {"content": "<text>"}}]}``, a truncated body, a bad status line) is
  retried ``retries`` times with backoff, then ends the run with one line; other HTTP 4xx end it at once;
- a usable answer is its first line, at most ``max_chars`` characters; an empty answer, a
  longer one or a refusal ("I'm sorry, but I can't…") is counted in ``stats``, never cached,
  and the rule-based writer writes that text instead;
- requests ask for greedy decoding (``temperature`` 0) with the run's ``seed``; answers are
  cached under a key of (endpoint, model, request settings, seed, prompt), so a rerun on the
  same cache reads every answer back and writes the same text without calling the server.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Protocol

from ...atomic_io import write_json
from ...errors import RecalignError
from .attributes import Condition

KEYBOARD_NEIGHBOURS = dict(zip("qwertyuiopasdfghjklzxcvbnm", [
    "wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol", "qsz", "awdx", "sefc", "drgv", "fthb",
    "gyjn", "hukm", "jil", "kop", "asx", "zdc", "xfv", "cgb", "vhn", "bjm", "nk"]))


class Writer(Protocol):
    """What a writer provides (all three return one line of text)."""

    def summary(self, top_values: list[str], period: str) -> str: ...
    def describe(self, conds: list[Condition]) -> str: ...
    def misspell(self, name: str, rng: random.Random) -> str: ...


def phrase(c: Condition) -> str:
    v = c.value
    num = (str(int(v)) if float(v).is_integer() else f"{v:.2f}") if isinstance(v, float) else v
    if c.op in ("has", "not_has"):
        word = str(v).lower()
        art = "an" if word[:1] in "aeiou" else "a"
        pos = f"{art} {word}" if c.field == "genres" else f"in {num}"
        return pos if c.op == "has" else f"not {pos}"
    if c.field == "year":
        return {"eq": f"from {num}", "gt": f"released after {num}", "lt": f"released before {num}"}[c.op]
    if c.field == "price":
        return {"eq": f"priced at ${num}", "gt": f"over ${num}", "lt": f"under ${num}"}[c.op]
    return {"eq": f"by {num}" if c.field == "brand" else f"with {c.field} {num}",
            "gt": f"with {c.field} above {num}", "lt": f"with {c.field} below {num}"}[c.op]


class RuleWriter:
    """The offline default: short phrases from the attributes, typos by character edits."""

    name = "rule"

    def summary(self, top_values: list[str], period: str) -> str:
        likes = " and ".join(v.lower() for v in top_values[:3]) or "many kinds of items"
        return f"Someone who mostly enjoys {likes}" + (f", mostly from the {period}." if period else ".")

    def describe(self, conds: list[Condition]) -> str:
        return ", ".join(phrase(c) for c in conds) or "anything"

    def misspell(self, name: str, rng: random.Random) -> str:
        """1–2 edits (add, remove, replace with a keyboard neighbour, swap) at letters."""
        s = list(name)
        for _ in range(1 if len(s) < 8 else 2):
            letters = [i for i, ch in enumerate(s) if ch.isalpha()]
            if not letters:
                break
            i = rng.choice(letters)
            op = rng.choice(("add", "remove", "replace", "swap"))
            ch = s[i].lower()
            near = KEYBOARD_NEIGHBOURS.get(ch, ch)
            if op == "add":
                s.insert(i, rng.choice(near))
            elif op == "remove" and len(letters) > 3:
                del s[i]
            elif op == "swap" and i + 1 < len(s) and s[i + 1] != s[i]:
                s[i], s[i + 1] = s[i + 1], s[i]
            else:
                s[i] = rng.choice(near)
        out = "".join(s)
        return out if out != name else name + name[-1]


PROMPTS = {
    "summary": "Write one sentence describing the tastes of a user who mostly likes: {values}{period}. "
               "Do not name any title. Answer with the sentence only.",
    "describe": "Write a short, natural request for an item with these properties: {conds}. "
                "Answer with the request only.",
    "misspell": "Write the name \"{name}\" the way a hurried person might misspell it (one plausible "
                "misspelling). Answer with the misspelt name only.",
}


MAX_RESPONSE_BYTES = 1 << 20   # an answer body over 1 MiB is an error (a 64-token chat answer is < 2 KB)
_DECLINE = (r"i (can'?t|cannot|can not|won'?t|will not|am unable to|'m unable to|am not able to|'m not able to) "
            r"(help|assist|comply|provide|fulfill|do that|do this)( with| you|[.!,]|$)")
REFUSAL = re.compile(  # a refusal, not a title that starts alike ("I Can't Help Falling in Love", "I'm Sorry")
    r"^((i'?m|i am) sorry,? (but|i)\b|sorry,? (but )?i (can|cannot|won|will|am|'m)|i apologi[sz]e,? (but|for|i)\b"
    r"|as an ai\b)|\bas an ai( language)? model\b|(^|[.,;] ?)" + _DECLINE)
STAT_KEYS = ("prompts", "cached", "answered", "calls", "failed_calls", "refusal", "empty", "too_long", "rule_written")


def one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[:limit] + "…"


def is_refusal(text: str) -> bool:
    """A model declining to answer ("I'm sorry, but I can't help with that.")."""
    return bool(REFUSAL.search(text.strip().strip('"').replace("\u2019", "'").lower()[:400]))


def check_answer(raw: str, max_chars: int) -> tuple[str, str | None]:
    """``(text, None)`` for a usable answer (its first line, quotes stripped), else
    ``("", why)`` with ``why`` in ``empty``, ``too_long``, ``refusal``.

    >>> check_answer('"Fagro"\\nBecause...', 50), check_answer("I'm sorry, but I can't help.", 50)[1]
    (('Fagro', None), 'refusal')
    """
    lines = raw.strip().splitlines()
    text = lines[0].strip().strip('"').strip() if lines else ""
    if not text:
        return "", "empty"
    if len(text) > max_chars:
        return "", "too_long"
    if is_refusal(raw):
        return "", "refusal"
    return text, None


class CallFailed(Exception):
    """One failed LLM call (a one-line reason); ``retry=False`` ends the run at once."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(one_line(reason))
        self.retry = retry


class LLMWriter:
    """Writes through ``complete(prompt, timeout_s) -> text`` with a disk cache (one JSON file
    per key of endpoint, model, request settings and prompt), ``retries`` with exponential
    backoff, at most ``rate`` calls per second, a deadline per call (``timeout_s``) and per
    writer (``run_timeout_s``), and ``dry_run`` (print each prompt, write with the rule-based
    writer instead). Refusals, empty and too long answers are counted in ``stats``, never
    cached, and written by the rules instead."""

    def __init__(self, complete: Callable[..., str], model: str, cache_dir: str | Path | None = None,
                 retries: int = 3, rate: float = 2.0, dry_run: bool = False, backoff_s: float = 0.5,
                 echo: Callable[[str], None] = print, endpoint: str = "", timeout_s: float = 30.0,
                 run_timeout_s: float = 21600.0, max_chars: int = 400, seed: int = 0) -> None:
        self.complete, self.model, self.retries, self.rate = complete, model, retries, rate
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.dry_run, self.backoff_s, self.echo = dry_run, backoff_s, echo
        self.endpoint = endpoint or getattr(complete, "endpoint", "") or model
        self.timeout_s, self.run_timeout_s, self.max_chars, self.seed = timeout_s, run_timeout_s, max_chars, seed
        self.fallback = RuleWriter()
        self.name = f"llm:{model}"
        self.calls = 0
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self._t0 = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def cache_key(self, prompt: str) -> str:
        """sha256 of everything the answer depends on: endpoint, model, request settings, seed, prompt."""
        key = {"v": 2, "endpoint": self.endpoint, "model": self.model, "seed": self.seed,
               "request": getattr(self.complete, "params", {}), "prompt": prompt}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _cache_path(self, prompt: str) -> Path | None:
        if not self.cache_dir:
            return None
        h = self.cache_key(prompt)
        return self.cache_dir / h[:2] / f"{h}.json"

    def _cached(self, path: Path | None, prompt: str) -> str | None:
        """The cached text, or None (missing, unreadable, too large or not a usable answer: a miss)."""
        try:
            if path is None or not path.is_file() or path.stat().st_size > 4 * (len(prompt) + self.max_chars) + 4096:
                return None
            entry = json.loads(path.read_text(encoding="utf-8"))
            text = entry.get("text") if isinstance(entry, dict) and entry.get("prompt") == prompt else None
        except (OSError, ValueError):
            return None
        return text if isinstance(text, str) and check_answer(text, self.max_chars) == (text, None) else None

    def run_left(self) -> float:
        """Seconds left of the writer's run deadline (a one-line error once it passed)."""
        left = self._t0 + self.run_timeout_s - time.monotonic()
        if left <= 0:
            s = self.stats
            raise RecalignError(
                f"LLM writer {self.model!r} at {self.endpoint}: the run deadline of {self.run_timeout_s:g} s passed "
                f"after {s['calls']} calls ({s['answered']} answered, {s['cached']} from the cache); raise "
                "query.writer_run_timeout_s or use the cache of a finished run", field="query.writer_run_timeout_s")
        return left

    def _pace(self) -> None:
        with self._lock:
            wait = self._last + 1.0 / self.rate - time.monotonic() if self.rate > 0 else 0
            if wait > 0:
                time.sleep(min(wait, self.run_left()))
            self._last = time.monotonic()

    def ask(self, prompt: str) -> str | None:
        """The model's usable answer to ``prompt`` (cached on disk), or None for a refusal, an
        empty or a too long answer (counted in ``stats``, not cached)."""
        self.stats["prompts"] += 1
        path = self._cache_path(prompt)
        text = self._cached(path, prompt)
        if text is not None:
            self.stats["cached"] += 1
            return text
        err = ""
        for attempt in range(self.retries + 1):
            self._pace()
            timeout = min(self.timeout_s, self.run_left())
            self.calls += 1
            self.stats["calls"] += 1
            try:
                raw = self.complete(prompt, timeout)
                if not isinstance(raw, str):
                    raise CallFailed(f"the answer is {type(raw).__name__}, not text")
            except CallFailed as e:
                err = str(e)
                self.stats["failed_calls"] += 1
                if not e.retry:
                    break
            except Exception as e:  # noqa: BLE001 — a local model's error: bounded retries, then one line
                err = one_line(f"{type(e).__name__}: {e}")
                self.stats["failed_calls"] += 1
            else:
                text, why = check_answer(raw, self.max_chars)
                if why:
                    self.stats[why] += 1
                    return None
                if path is not None:
                    write_json(path, {"endpoint": self.endpoint, "model": self.model, "prompt": prompt, "text": text})
                self.stats["answered"] += 1
                return text
            if attempt < self.retries:
                time.sleep(min(self.backoff_s * 2 ** attempt, self.run_left()))
        tries = attempt + 1
        raise RecalignError(f"LLM writer {self.model!r} at {self.endpoint} failed after {tries} "
                            f"{'try' if tries == 1 else 'tries'} (query.writer_retries={self.retries}): {err}",
                            field="query.writer")

    def report(self) -> str:
        """One line: prompts, answers, cache hits and the answers written by the rules instead."""
        s = self.stats
        return (f"LLM writer {self.model!r}: {s['prompts']} prompts, {s['answered']} answered, {s['cached']} from the "
                f"cache, {s['calls']} calls ({s['failed_calls']} failed); {s['refusal']} refusals, {s['empty']} empty "
                f"and {s['too_long']} too long answers (over {self.max_chars} characters) written by the rules "
                "instead, not cached")

    def _write(self, kind: str, fallback: Callable[[], str], **kw) -> str:
        prompt = PROMPTS[kind].format(**kw)
        if self.dry_run:
            self.echo(f"[dry-run {kind}] {prompt}")
            return fallback()
        text = self.ask(prompt)
        if text is None:
            self.stats["rule_written"] += 1
            return fallback()
        return text

    def summary(self, top_values: list[str], period: str) -> str:
        return self._write("summary", lambda: self.fallback.summary(top_values, period),
                           values=", ".join(top_values), period=f" (mostly from the {period})" if period else "")

    def describe(self, conds: list[Condition]) -> str:
        return self._write("describe", lambda: self.fallback.describe(conds),
                           conds="; ".join(c.text() for c in conds))

    def misspell(self, name: str, rng: random.Random) -> str:
        out = self._write("misspell", lambda: self.fallback.misspell(name, rng), name=name)
        return out if out != name else self.fallback.misspell(name, rng)


RETRY_STATUS = {408, 409, 425, 429}


class HTTPComplete:
    """An OpenAI-compatible ``POST {url}/chat/completions`` as ``complete(prompt, timeout_s) -> text``:
    greedy (``temperature`` 0) with ``seed``; ``timeout_s`` bounds the whole call (a timer shuts
    the socket down when it passes, so a server that drips bytes cannot hold it); the body is
    read up to ``max_bytes``; every failure is a ``CallFailed`` with a one-line reason."""

    def __init__(self, url: str, key: str, model: str, timeout_s: float = 30.0, max_tokens: int = 64,
                 seed: int = 0, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        u = urllib.parse.urlsplit(self.endpoint)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise RecalignError(f"RECALIGN_LLM_URL must be an http(s) URL such as http://localhost:8000/v1, got "
                                f"{url!r}", field="query.writer")
        self.url, self.key, self.model, self.timeout_s, self.max_bytes = u, key, model, timeout_s, max_bytes
        self.params = {"max_tokens": max_tokens, "temperature": 0.0, "seed": seed}

    def __call__(self, prompt: str, timeout_s: float | None = None) -> str:
        t = float(timeout_s or self.timeout_s)
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           **self.params}).encode()
        u = self.url
        conn_cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        proxy = urllib.request.getproxies().get(u.scheme)   # http(s)_proxy / no_proxy, as urllib honours them
        if proxy and not urllib.request.proxy_bypass(u.hostname):
            pu = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            conn = conn_cls(pu.hostname, pu.port, timeout=t)
            if u.scheme == "https":
                conn.set_tunnel(u.hostname, u.port)
            else:
                path = self.endpoint
        else:
            conn = conn_cls(u.hostname, u.port, timeout=t)
        fired, held = threading.Event(), []   # held: the socket (conn.sock is dropped once a response owns it)

        def cut() -> None:
            fired.set()
            for sock in held:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        timer = threading.Timer(t, cut)
        timer.daemon = True
        timer.start()
        late = f"no complete answer within {t:g} s (query.writer_timeout_s)"
        resp = None
        try:
            conn.connect()
            held.append(conn.sock)
            if fired.is_set():
                raise CallFailed(late)
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/json", **({"Authorization": f"Bearer {self.key}"} if self.key else {})})
            resp = conn.getresponse()
            declared = resp.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
                raise CallFailed(f"an answer of {int(declared):,} bytes (over the {self.max_bytes:,}-byte limit)")
            data = bytearray()
            while True:
                chunk = resp.read(min(65536, self.max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
                if len(data) > self.max_bytes:
                    raise CallFailed(f"an answer over the {self.max_bytes:,}-byte limit")
            if fired.is_set():
                raise CallFailed(late)
            if declared and declared.strip().isdigit() and len(data) < int(declared):
                raise CallFailed(f"a truncated answer ({len(data):,} of {int(declared):,} bytes)")
        except CallFailed:
            raise
        except (OSError, http.client.HTTPException) as e:
            if fired.is_set() or isinstance(e, (socket.timeout, TimeoutError)):
                raise CallFailed(late) from None
            if isinstance(e, http.client.IncompleteRead):
                raise CallFailed(f"a truncated answer ({len(e.partial):,} bytes, then the connection closed)") from None
            if isinstance(e, http.client.RemoteDisconnected):
                raise CallFailed("the server closed the connection without an answer") from None
            if isinstance(e, http.client.BadStatusLine):
                raise CallFailed(f"not an HTTP answer (status line {one_line(e, 60)})") from None
            if isinstance(e, http.client.HTTPException):
                raise CallFailed(f"a malformed HTTP answer ({type(e).__name__}: {e})") from None
            raise CallFailed(f"connection error: {e}") from None
        finally:
            timer.cancel()
            if resp is not None:
                resp.close()
            conn.close()
        if resp.status != 200:
            retry = resp.status in RETRY_STATUS or resp.status >= 500
            raise CallFailed(f"HTTP {resp.status} {resp.reason}: {one_line(data[:200].decode(errors='replace'), 120)}",
                             retry=retry)
        return answer_content(bytes(data))


def answer_content(data: bytes) -> str:
    """``choices[0].message.content`` of a chat-completions body, or a ``CallFailed`` naming what is wrong.

    >>> answer_content(b'{"choices": [{"message": {"content": "Fagro"}}]}')
    'Fagro'
    >>> answer_content(b'[1, 2]')
    Traceback (most recent call last):
    ...
    recalign.tasks.query.writer.CallFailed: the answer is a JSON list, not {"choices": [{"message": {"content": "<text>"}}]}
    """
    want = '{"choices": [{"message": {"content": "<text>"}}]}'
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CallFailed(f"the answer is not JSON: {data[:60]!r}") from None
    kinds = {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean",
             type(None): "null"}
    if not isinstance(obj, dict):
        raise CallFailed(f"the answer is a JSON {kinds.get(type(obj), type(obj).__name__)}, not {want}")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CallFailed(f"the answer has no choices list (keys: {sorted(obj)[:8]}), expected {want}")
    msg = choices[0].get("message")
    content = msg.get("content") if isinstance(msg, dict) else None
    if not isinstance(content, str):
        what = "no message" if not isinstance(msg, dict) else \
            f"a {kinds.get(type(content), type(content).__name__)} content"
        raise CallFailed(f"the answer has {what}, expected {want}")
    return content


def http_complete(url: str, key: str, model: str, timeout_s: float = 30.0, max_tokens: int = 64,
                  seed: int = 0) -> HTTPComplete:
    """An OpenAI-compatible ``POST {url}/chat/completions`` as ``complete(prompt, timeout_s) -> text``."""
    return HTTPComplete(url, key, model, timeout_s=timeout_s, max_tokens=max_tokens, seed=seed)


def local_complete(model_path: str, max_new_tokens: int = 48) -> Callable[[str], str]:
    """A local transformers text-generation model as ``complete(prompt) -> text``."""
    from transformers import pipeline  # heavy: imported only when a local LLM writer is asked for

    gen = pipeline("text-generation", model=model_path)

    def complete(prompt: str, timeout_s: float | None = None) -> str:  # greedy; a local call cannot be cut short
        out = gen(prompt, max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
        return out[0]["generated_text"]

    return complete


def make_writer(spec: str = "rule", cache_dir: str | Path | None = None, dry_run: bool = False,
                rate: float = 2.0, retries: int = 3, timeout_s: float = 30.0, run_timeout_s: float = 21600.0,
                max_chars: int = 400, seed: int = 0) -> Writer:
    """``rule`` (default), ``http`` (env ``RECALIGN_LLM_URL``/``_KEY``/``_MODEL``) or ``local:<path>``."""
    if spec == "rule":
        return RuleWriter()
    bounds = dict(retries=retries, dry_run=dry_run, timeout_s=timeout_s, run_timeout_s=run_timeout_s,
                  max_chars=max_chars, seed=seed)
    if spec == "http":
        url = os.environ.get("RECALIGN_LLM_URL", "")
        if not url and not dry_run:
            raise RecalignError("writer 'http' needs RECALIGN_LLM_URL (an OpenAI-compatible base URL, e.g. "
                                "http://localhost:8000/v1) and RECALIGN_LLM_KEY in the environment", field="writer")
        model = os.environ.get("RECALIGN_LLM_MODEL", "gpt-4o-mini")
        complete = http_complete(url or "http://dry-run/v1", os.environ.get("RECALIGN_LLM_KEY", ""), model,
                                 timeout_s=timeout_s, seed=seed)
        return LLMWriter(complete, model, cache_dir, rate=rate, **bounds)
    if spec.startswith("local:"):
        path = spec.split(":", 1)[1]
        complete = (lambda p, t=None: "") if dry_run else local_complete(path)
        return LLMWriter(complete, path, cache_dir, rate=0, endpoint=f"local:{Path(path).resolve()}", **bounds)
    raise RecalignError(f"unknown writer {spec!r} (known: rule, http, local:<model path>)", field="writer")


__all__ = ["Writer", "RuleWriter", "LLMWriter", "HTTPComplete", "CallFailed", "make_writer", "http_complete",
           "local_complete", "answer_content", "check_answer", "is_refusal", "PROMPTS", "MAX_RESPONSE_BYTES"]
