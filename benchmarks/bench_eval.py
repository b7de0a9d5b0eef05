"""Evaluation speed of the seq2seq predictors on an ml-100k-sized catalogue.

Measures users/s for
- trie-constrained beam search (retrieval, beam 20 by default) over all 1,682 titles,
  with each user's history excluded inside the trie;
- candidate scoring (the ranking task: 20 candidate titles per user);
- exact full ranking by scoring (every title per user; the ``--exact`` mode).

Model: the ``t5-tiny`` preset (randomly initialized: the speed of a trained model of the
same shape differs only through how early beam search can stop) with a byte-level BPE
tokenizer trained on ml-100k titles. Inputs imitate the retrieval template: the user's
20 most recent titles.

    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/bench_eval.py --users 64
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time

import torch


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=64, help="users for beam search and candidate scoring")
    ap.add_argument("--exact-users", type=int, default=4, help="users for exact full ranking (0 = skip)")
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--history", type=int, default=20)
    ap.add_argument("--preset", default="t5-tiny")
    ap.add_argument("--model-dir", default=None, help="a trained checkpoint (RUN/model) instead of a fresh preset")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    from recalign.data import leave_one_out, load_dataset
    from recalign.eval.decode import constrained_beam_search
    from recalign.eval.scoring import exact_rankings, score_titles
    from recalign.eval.trie import TitleTrie
    from recalign.t5_finetune import build_model, load_checkpoint, train_tokenizer

    split = leave_one_out(load_dataset("ml-100k"))
    titles = {i: it.title for i, it in split.items.items()}
    users = split.users[:a.users]
    texts = [f"The user watched {', '.join(titles[i] for i in split.history(u, 'test')[-a.history:])}. "
             "What will the user watch next?" for u in split.users]
    if a.model_dir:
        model, tok = load_checkpoint(a.model_dir)
    else:
        tok = train_tokenizer(texts + list(titles.values()), tempfile.mkdtemp(prefix="bench-tok-"), vocab_size=8000)
        torch.manual_seed(0)
        model = build_model(a.preset, tok).eval()
    n_params = sum(p.numel() for p in model.parameters())

    t0 = time.perf_counter()
    trie = TitleTrie.from_titles(titles, tok)
    t_trie = time.perf_counter() - t0
    idx = {u: k for k, u in enumerate(split.users)}
    inputs = [texts[idx[u]] for u in users]
    exs = [trie.exclusion(split.history(u, "test")) for u in users]

    # warm-up (first call allocates), then measure
    constrained_beam_search(model, tok, inputs[:2], trie, exs[:2], beam=a.beam, batch_size=2)
    t0 = time.perf_counter()
    res = constrained_beam_search(model, tok, inputs, trie, exs, beam=a.beam, batch_size=a.batch_size)
    t_beam = time.perf_counter() - t0
    assert all(len(r) == a.beam for r in res)
    assert all(not set(i for i, _ in r) & set(split.history(u, "test")) for u, r in zip(users, res))

    rnd = random.Random(0)
    items = list(titles)
    cands = [rnd.sample(items, a.candidates - 1) + [split.target(u, "test")] for u in users]
    t0 = time.perf_counter()
    score_titles(model, tok, inputs, cands, titles, user_batch_size=a.batch_size)
    t_score = time.perf_counter() - t0

    t_exact = None
    if a.exact_users:
        t0 = time.perf_counter()
        exact_rankings(model, tok, inputs[:a.exact_users], trie, exs[:a.exact_users], top_k=20,
                       user_batch_size=4, pair_batch_size=512)
        t_exact = time.perf_counter() - t0

    out = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "model": a.model_dir or f"{a.preset} (random init)", "params": n_params, "vocab": len(tok), "titles": len(titles),
        "trie_nodes": len(trie.children), "max_title_tokens": trie.max_len - 1, "trie_build_s": round(t_trie, 2),
        "beam": a.beam, "batch_size": a.batch_size, "users": len(users),
        "beam_search_users_per_s": round(len(users) / t_beam, 2),
        "candidate_scoring_users_per_s": round(len(users) / t_score, 2), "candidates": a.candidates,
        "exact_users_per_s": round(a.exact_users / t_exact, 3) if t_exact else None,
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
