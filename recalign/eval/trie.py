"""A prefix trie over tokenized item titles, for constrained decoding.

Every path from the root to a leaf is one title's token ids followed by EOS, so
a decoder that only takes tokens the trie allows can only produce real titles.

Per-user exclusion is exact: every node counts the titles below it; excluding a
user's history items subtracts them along their paths, and a token is allowed
only if at least one *non-excluded* title continues through it.

>>> t = TitleTrie({"a": [5, 6], "b": [5, 7], "c": [8]}, eos_token_id=1)
>>> sorted(t.allowed([])), sorted(t.allowed([5]))
([5, 8], [6, 7])
>>> ex = t.exclusion(["a"])
>>> sorted(t.allowed([5], ex)), t.items_at([5, 7, 1])
([7], ['b'])
>>> sorted(t.allowed([], t.exclusion(["a", "b"])))
[8]
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..errors import RecalignError


class Exclusion:
    """Items one user may not be given, as per-node counts of excluded titles below each node."""

    __slots__ = ("removed", "items", "_cache")

    def __init__(self, removed: dict[int, int], items: frozenset[str]) -> None:
        self.removed = removed
        self.items = items
        self._cache: dict[int, list[int]] = {}


class TitleTrie:
    """Trie of ``item id → token ids`` (EOS appended here; do not include it).

    Nodes are integers; node 0 is the root. Titles whose token ids coincide
    (a tokenizer that maps two distinct titles to the same ids) share a leaf:
    ``items_at`` returns all of them, in insertion order, and ``collisions``
    counts them.
    """

    def __init__(self, token_ids: Mapping[str, Sequence[int]], eos_token_id: int) -> None:
        if not token_ids:
            raise RecalignError("cannot build a title trie over an empty catalogue")
        self.eos_token_id = int(eos_token_id)
        self.children: list[dict[int, int]] = [{}]
        self.count: list[int] = [0]
        self.leaf_items: dict[int, list[str]] = {}
        self.paths: dict[str, list[int]] = {}   # item → nodes on its path (root excluded)
        self.token_ids: dict[str, list[int]] = {}   # item → its title's token ids (no EOS)
        self.max_len = 0
        self.collisions = 0
        for item, ids in token_ids.items():
            seq = [int(x) for x in ids if int(x) != self.eos_token_id] + [self.eos_token_id]
            self.max_len = max(self.max_len, len(seq))
            node, path = 0, []
            self.count[0] += 1
            for tok in seq:
                nxt = self.children[node].get(tok)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][tok] = nxt
                    self.children.append({})
                    self.count.append(0)
                node = nxt
                self.count[node] += 1
                path.append(node)
            lst = self.leaf_items.setdefault(node, [])
            if lst:
                self.collisions += 1
            lst.append(item)
            self.paths[item] = path
            self.token_ids[item] = seq[:-1]
        self._allowed: list[list[int] | None] = [None] * len(self.children)

    @classmethod
    def from_titles(cls, titles: Mapping[str, str], tokenizer) -> "TitleTrie":
        """Tokenize ``item id → title`` as decoder targets (``text_target=``) and build the trie."""
        ids = item_token_ids(titles, tokenizer)
        return cls(ids, tokenizer.eos_token_id)

    def __len__(self) -> int:
        return sum(len(v) for v in self.leaf_items.values())

    # --- exclusion ---------------------------------------------------------------------------
    def exclusion(self, items: Iterable[str]) -> Exclusion:
        """Per-user exclusion of ``items`` (unknown ids are ignored; duplicates count once)."""
        removed: dict[int, int] = {}
        its = frozenset(i for i in items if i in self.paths)
        for it in its:
            removed[0] = removed.get(0, 0) + 1
            for node in self.paths[it]:
                removed[node] = removed.get(node, 0) + 1
        return Exclusion(removed, its)

    # --- navigation --------------------------------------------------------------------------
    def node(self, prefix: Sequence[int]) -> int | None:
        """The node reached by ``prefix`` (token ids, no decoder start), or None if off the trie."""
        n = 0
        ch = self.children
        for tok in prefix:
            n = ch[n].get(int(tok))
            if n is None:
                return None
        return n

    def allowed_at(self, node: int, ex: Exclusion | None = None) -> list[int]:
        """Tokens that continue at least one non-excluded title from ``node``."""
        if ex is None or node not in ex.removed:
            lst = self._allowed[node]
            if lst is None:
                lst = self._allowed[node] = list(self.children[node])
            return lst
        lst = ex._cache.get(node)
        if lst is None:
            rem, cnt = ex.removed, self.count
            lst = [tok for tok, c in self.children[node].items() if cnt[c] - rem.get(c, 0) > 0]
            ex._cache[node] = lst
        return lst

    def allowed(self, prefix: Sequence[int], ex: Exclusion | None = None) -> list[int]:
        """Allowed next tokens after ``prefix``; [] if the prefix is off the trie or complete."""
        n = self.node(prefix)
        return [] if n is None else self.allowed_at(n, ex)

    def items_at(self, seq: Sequence[int], ex: Exclusion | None = None) -> list[str]:
        """Items whose full token sequence (ending in EOS) is ``seq`` (padding after EOS is
        ignored), minus excluded ones; [] if ``seq`` is not a complete title."""
        seq = [int(t) for t in seq]
        if self.eos_token_id in seq:
            seq = seq[:seq.index(self.eos_token_id) + 1]
        n = self.node(seq)
        items = self.leaf_items.get(n, []) if n is not None else []
        return [i for i in items if ex is None or i not in ex.items]

    def remaining(self, ex: Exclusion | None = None) -> int:
        """How many titles a user with exclusion ``ex`` can still be given."""
        return self.count[0] - (ex.removed.get(0, 0) if ex else 0)


def item_token_ids(titles: Mapping[str, str], tokenizer, batch_size: int = 4096) -> dict[str, list[int]]:
    """``item id → token ids`` of each title as the model sees a target, without EOS.

    Titles are tokenized with ``text_target=`` (what a seq2seq collator does to targets);
    special tokens other than EOS would break the trie, so any that appear are an error.
    """
    keys = list(titles)
    out: dict[str, list[int]] = {}
    special = set(getattr(tokenizer, "all_special_ids", [])) - {tokenizer.eos_token_id}
    for s in range(0, len(keys), batch_size):
        chunk = keys[s:s + batch_size]
        enc = tokenizer(text_target=[titles[k] for k in chunk], add_special_tokens=True)["input_ids"]
        for k, ids in zip(chunk, enc):
            ids = [i for i in ids if i != tokenizer.eos_token_id]
            bad = [i for i in ids if i in special and i != tokenizer.unk_token_id]
            if bad or not ids:
                raise RecalignError(f"title {titles[k]!r} of item {k} tokenizes to {ids}: "
                                    "no tokens or special tokens inside a title", field="title")
            out[k] = ids
    return out
