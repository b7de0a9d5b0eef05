"""Per-batch cost of tokenizing in the collator (issue 21): lazy collate vs pre-tokenized collate vs
the tokenizer calls alone, on a finished run's retrieval text and tokenizer.

    nice -n 19 .venv/bin/python benchmarks/bench_collate.py [RUN]   (default runs/ml100k-cpu)
"""
import time, torch
torch.set_num_threads(1)
from recalign.t5_finetune.tokenizer import load_tokenizer
from recalign.t5_finetune.item_tokens import add_item_tokens
from recalign.materialize import load_task_data
from recalign.t5_finetune.collator import Seq2SeqCollator
from recalign.t5_finetune.data import tokenize, text_for_training
import sys
run = sys.argv[1] if len(sys.argv) > 1 else "runs/ml100k-cpu"
tok = load_tokenizer(run + "/tokenizer"); add_item_tokens(tok, run)
ds = load_task_data(run, "retrieval", "train").select(range(256*20))
txt = text_for_training(ds)
coll = Seq2SeqCollator(tok, max_lengths=(256, 32))
rows = [txt[i*256:(i+1)*256] for i in range(20)]
feats = [[{"input": a, "target": b, "length": c} for a, b, c in zip(r["input"], r["target"], r["length"])] for r in rows]
t = time.process_time()
for f in feats: coll(f)
lazy = (time.process_time() - t) / 20
tk = tokenize(ds, tok, 256, 32)
pre = [list(tk.select(range(i*256, (i+1)*256))) for i in range(20)]
t = time.process_time()
for f in pre: coll(f)
eager = (time.process_time() - t) / 20
t = time.process_time(); x = tok([f["input"] for f in feats[0]], max_length=256, truncation=True); y = tok(text_target=[f["target"] for f in feats[0]], max_length=32, truncation=True); tokonly = time.process_time() - t
print(f"per batch of 256: lazy collate {lazy*1000:.1f} ms, eager collate {eager*1000:.1f} ms, tokenizer calls alone {tokonly*1000:.1f} ms; {type(tok).__name__}")
