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
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.error
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


class LLMWriter:
    """Writes through ``complete(prompt) -> text`` with a disk cache (one JSON file per
    prompt+model hash), ``retries`` with exponential backoff, at most ``rate`` calls per
    second, and ``dry_run`` (print each prompt, write with the rule-based writer instead)."""

    def __init__(self, complete: Callable[[str], str], model: str, cache_dir: str | Path | None = None,
                 retries: int = 3, rate: float = 2.0, dry_run: bool = False, backoff_s: float = 0.5,
                 echo: Callable[[str], None] = print) -> None:
        self.complete, self.model, self.retries, self.rate = complete, model, retries, rate
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.dry_run, self.backoff_s, self.echo = dry_run, backoff_s, echo
        self.fallback = RuleWriter()
        self.name = f"llm:{model}"
        self.calls = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def _cache_path(self, prompt: str) -> Path | None:
        if not self.cache_dir:
            return None
        h = hashlib.sha256(f"{self.model}\n{prompt}".encode()).hexdigest()
        return self.cache_dir / h[:2] / f"{h}.json"

    def ask(self, prompt: str) -> str:
        """The model's answer to ``prompt`` (cached on disk)."""
        path = self._cache_path(prompt)
        if path is not None and path.is_file():
            return json.loads(path.read_text())["text"]
        err: Exception | None = None
        for attempt in range(self.retries + 1):
            with self._lock:
                wait = self._last + 1.0 / self.rate - time.monotonic() if self.rate > 0 else 0
                if wait > 0:
                    time.sleep(wait)
                self._last = time.monotonic()
            try:
                self.calls += 1
                lines = self.complete(prompt).strip().splitlines()
                text = lines[0].strip().strip('"').strip() if lines else ""
                if not text:
                    raise RecalignError("empty answer")
                if path is not None:
                    write_json(path, {"model": self.model, "prompt": prompt, "text": text})
                return text
            except (OSError, RecalignError, ValueError, KeyError, IndexError) as e:
                err = e
                if attempt < self.retries:
                    time.sleep(self.backoff_s * 2 ** attempt)
        raise RecalignError(f"LLM writer {self.model!r} failed after {self.retries + 1} tries: {err}")

    def _write(self, kind: str, fallback: Callable[[], str], **kw) -> str:
        prompt = PROMPTS[kind].format(**kw)
        if self.dry_run:
            self.echo(f"[dry-run {kind}] {prompt}")
            return fallback()
        return self.ask(prompt)

    def summary(self, top_values: list[str], period: str) -> str:
        return self._write("summary", lambda: self.fallback.summary(top_values, period),
                           values=", ".join(top_values), period=f" (mostly from the {period})" if period else "")

    def describe(self, conds: list[Condition]) -> str:
        return self._write("describe", lambda: self.fallback.describe(conds),
                           conds="; ".join(c.text() for c in conds))

    def misspell(self, name: str, rng: random.Random) -> str:
        out = self._write("misspell", lambda: self.fallback.misspell(name, rng), name=name)
        return out if out != name else self.fallback.misspell(name, rng)


def http_complete(url: str, key: str, model: str, timeout_s: float = 60.0,
                  max_tokens: int = 64) -> Callable[[str], str]:
    """An OpenAI-compatible ``POST {url}/chat/completions`` as ``complete(prompt) -> text``."""
    endpoint = url.rstrip("/") + "/chat/completions"

    def complete(prompt: str) -> str:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                           "max_tokens": max_tokens, "temperature": 0.7}).encode()
        req = urllib.request.Request(endpoint, data=body, method="POST", headers={
            "Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                return json.loads(r.read())["choices"][0]["message"]["content"]
        except urllib.error.HTTPError as e:
            raise OSError(f"HTTP {e.code} from {endpoint}") from None

    return complete


def local_complete(model_path: str, max_new_tokens: int = 48) -> Callable[[str], str]:
    """A local transformers text-generation model as ``complete(prompt) -> text``."""
    from transformers import pipeline  # heavy: imported only when a local LLM writer is asked for

    gen = pipeline("text-generation", model=model_path)

    def complete(prompt: str) -> str:
        out = gen(prompt, max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
        return out[0]["generated_text"]

    return complete


def make_writer(spec: str = "rule", cache_dir: str | Path | None = None, dry_run: bool = False,
                rate: float = 2.0, retries: int = 3) -> Writer:
    """``rule`` (default), ``http`` (env ``RECALIGN_LLM_URL``/``_KEY``/``_MODEL``) or ``local:<path>``."""
    if spec == "rule":
        return RuleWriter()
    if spec == "http":
        url = os.environ.get("RECALIGN_LLM_URL", "")
        if not url and not dry_run:
            raise RecalignError("writer 'http' needs RECALIGN_LLM_URL (an OpenAI-compatible base URL, e.g. "
                                "http://localhost:8000/v1) and RECALIGN_LLM_KEY in the environment", field="writer")
        model = os.environ.get("RECALIGN_LLM_MODEL", "gpt-4o-mini")
        return LLMWriter(http_complete(url, os.environ.get("RECALIGN_LLM_KEY", ""), model), model, cache_dir,
                         retries=retries, rate=rate, dry_run=dry_run)
    if spec.startswith("local:"):
        path = spec.split(":", 1)[1]
        complete = (lambda p: "") if dry_run else local_complete(path)
        return LLMWriter(complete, path, cache_dir, retries=retries, rate=0, dry_run=dry_run)
    raise RecalignError(f"unknown writer {spec!r} (known: rule, http, local:<model path>)", field="writer")


__all__ = ["Writer", "RuleWriter", "LLMWriter", "make_writer", "http_complete", "local_complete", "PROMPTS"]
