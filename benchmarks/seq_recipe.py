"""Recipe search for issue 10 (a research script, not a recipe to copy): item-token models on ml-100k,
the same leave-one-out Split as recalign, full ranking, history masked.

  flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/seq_recipe.py --minutes 4 [--arch t5|sas] [...]

`--arch t5` is a T5ForConditionalGeneration whose vocabulary is one token per item (input: the
last W item tokens; target: the next one; one decoder step, CE over the vocabulary); `--arch sas`
is a SASRec-like encoder (learned positions, last-position read-out, tied item embeddings).
NDCG@10 here is computed by this script (rank = items scoring strictly higher), not by recalign.eval.
Levers (RESULTS.md "Toward SASRec, part 2"): `--emblr K` (the embedding table's learning rate x K),
`--abspos STD` (learned distance-from-newest positions on the encoder input), `--untie 1 [--headstd S]`.
"""
import argparse, math, time, json, random
import numpy as np, torch
from transformers import T5Config, T5ForConditionalGeneration
from recalign.data import load_dataset
from recalign.data.split import leave_one_out

p = argparse.ArgumentParser()
p.add_argument("--W", type=int, default=20); p.add_argument("--d", type=int, default=128)
p.add_argument("--ff", type=int, default=512); p.add_argument("--L", type=int, default=2)
p.add_argument("--Ld", type=int, default=2); p.add_argument("--heads", type=int, default=4)
p.add_argument("--drop", type=float, default=0.1); p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--bs", type=int, default=256); p.add_argument("--minutes", type=float, default=4)
p.add_argument("--wd", type=float, default=0.0); p.add_argument("--eos", type=int, default=0)
p.add_argument("--bf16", type=int, default=0); p.add_argument("--ls", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0); p.add_argument("--evalevery", type=float, default=0)
p.add_argument("--prefix", type=int, default=0, help="instruction-like constant tokens before history")
p.add_argument("--arch", default="t5"); p.add_argument("--causal", type=int, default=1)
p.add_argument("--embstd", type=float, default=0)
p.add_argument("--untie", type=int, default=0, help="untied item output layer (as FLAN-T5)")
p.add_argument("--headstd", type=float, default=0, help="init std of the untied output layer (0: HF's)")
p.add_argument("--abspos", type=float, default=0, help="learned position-from-newest embedding on the encoder input, init std")
p.add_argument("--emblr", type=float, default=1.0, help="learning-rate multiplier of the (input) embedding table")
p.add_argument("--extra", type=int, default=0, help="unused vocabulary rows after the items (as a text tokenizer's words)")
p.add_argument("--warm", type=float, default=0.03); p.add_argument("--sched", default="cosine")
a = p.parse_args()
torch.manual_seed(a.seed); np.random.seed(a.seed); random.seed(a.seed)
torch.set_num_threads(2)
split = leave_one_out(load_dataset("ml-100k"))
items = sorted(split.items); idx = {it: i + 3 + a.prefix for i, it in enumerate(items)}
V = len(items) + 3 + a.prefix + a.extra
X, Y = [], []
for u, s in split.sequences.items():
    tr = [idx[i] for i in s.items[:-2]]
    for t in range(1, len(tr)):
        X.append(tr[max(0, t - a.W):t]); Y.append(tr[t])
def enc(seqs):
    n = max(len(s) for s in seqs) + a.eos + a.prefix
    ids = torch.zeros(len(seqs), n, dtype=torch.long); m = torch.zeros_like(ids)
    for j, s in enumerate(seqs):
        s = list(range(3, 3 + a.prefix)) + s + ([1] if a.eos else [])
        ids[j, :len(s)] = torch.tensor(s); m[j, :len(s)] = 1
    return ids, m
cfg = T5Config(vocab_size=V, d_model=a.d, d_ff=a.ff, d_kv=a.d // a.heads, num_heads=a.heads, num_layers=a.L,
               num_decoder_layers=a.Ld, dropout_rate=a.drop, feed_forward_proj="relu", tie_word_embeddings=not a.untie,
               decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
class SAS(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = torch.nn.Embedding(V, a.d, padding_idx=0); s.pos = torch.nn.Embedding(a.W + 2 + a.prefix, a.d)
        layer = torch.nn.TransformerEncoderLayer(a.d, a.heads, a.ff, a.drop, activation="gelu", batch_first=True)
        s.enc = torch.nn.TransformerEncoder(layer, a.L); s.ln = torch.nn.LayerNorm(a.d); s.dp = torch.nn.Dropout(a.drop)
        for m in s.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, torch.nn.Linear) and m.bias is not None: torch.nn.init.zeros_(m.bias)
        for l in s.enc.layers: torch.nn.init.normal_(l.self_attn.in_proj_weight, std=0.02)
    def forward(s, input_ids, attention_mask, decoder_input_ids=None):
        n = input_ids.shape[1]
        x = s.dp(s.ln(s.emb(input_ids) + s.pos(torch.arange(n))[None]))
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if a.causal else None
        h = s.enc(x, mask=causal, src_key_padding_mask=attention_mask == 0)
        last = attention_mask.sum(1) - 1
        o = h[torch.arange(len(h)), last]
        class R: pass
        r = R(); r.logits = (o @ s.emb.weight.T)[:, None, :]; return r
model = T5ForConditionalGeneration(cfg) if a.arch == "t5" else SAS()
if a.arch == "t5" and a.embstd:
    torch.nn.init.normal_(model.shared.weight, std=a.embstd)
if a.arch == "t5" and a.untie and a.headstd:
    torch.nn.init.normal_(model.lm_head.weight, std=a.headstd)
POS = None
if a.arch == "t5" and a.abspos:
    POS = torch.nn.Embedding(a.W + 2 + a.prefix, a.d); torch.nn.init.normal_(POS.weight, std=a.abspos)
    model.add_module("abs_pos", POS)
def fwd(ids, m, dec):
    if POS is None:
        return model(input_ids=ids, attention_mask=m, decoder_input_ids=dec)
    back = (m.sum(1, keepdim=True) - 1 - torch.arange(ids.shape[1])[None]).clamp(min=0)  # 0 = newest
    return model(inputs_embeds=model.shared(ids) + POS(back), attention_mask=m, decoder_input_ids=dec)
print("params", sum(p.numel() for p in model.parameters()), "train ex", len(X), flush=True)
_emb = [model.shared.weight] if a.arch == "t5" else [model.emb.weight]
_rest = [q for q in model.parameters() if all(q is not e for e in _emb)]
opt = torch.optim.AdamW([{"params": _rest, "mult": 1.0}, {"params": _emb, "mult": a.emblr}], lr=a.lr, weight_decay=a.wd)
budget = a.minutes * 60
def lr_at(frac):
    if frac < a.warm: return frac / a.warm
    if a.sched == "const": return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - a.warm) / (1 - a.warm))))
item_lo = 3 + a.prefix
def evaluate(which="test", users=None):
    model.eval(); nd = []; rc = []
    us = list(split.sequences)
    with torch.no_grad():
        for b in range(0, len(us), 512):
            bu = us[b:b + 512]; seqs = []; masks = []; tg = []
            for u in bu:
                s = split.sequences[u].items
                h = s[:-1] if which == "test" else s[:-2]
                t = s[-1] if which == "test" else s[-2]
                seqs.append([idx[i] for i in h][-a.W:]); masks.append([idx[i] for i in h]); tg.append(idx[t])
            ids, m = enc(seqs)
            dec = torch.zeros(len(bu), 1, dtype=torch.long)
            lg = fwd(ids, m, dec).logits[:, 0, :].float()
            lg[:, :item_lo] = -1e9
            lg[:, item_lo + len(items):] = -1e9
            for j in range(len(bu)):
                lg[j, masks[j]] = -1e9
            ts = lg[torch.arange(len(bu)), tg]
            rank = (lg > ts[:, None]).sum(1)
            for r in rank.tolist():
                nd.append(1 / math.log2(r + 2) if r < 10 else 0.0); rc.append(1.0 if r < 10 else 0.0)
    model.train()
    return float(np.mean(nd)), float(np.mean(rc))
t0 = time.perf_counter(); step = 0; seen = 0; nexte = a.evalevery * 60 if a.evalevery else None
order = np.random.permutation(len(X)); pos = 0; ep = 0
model.train()
while True:
    el = time.perf_counter() - t0
    if el >= budget: break
    if nexte and el >= nexte:
        print(f"  t={el/60:.1f}m ep={ep} valid ndcg@10={evaluate('valid')[0]:.4f}", flush=True); nexte += a.evalevery * 60
    if pos + a.bs > len(order):
        order = np.random.permutation(len(X)); pos = 0; ep += 1
    bi = order[pos:pos + a.bs]; pos += a.bs
    ids, m = enc([X[i] for i in bi]); y = torch.tensor([Y[i] for i in bi])
    for g in opt.param_groups: g["lr"] = a.lr * g["mult"] * lr_at(el / budget)
    dec = torch.zeros(len(bi), 1, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
        lg = fwd(ids, m, dec).logits[:, 0, :]
    loss = torch.nn.functional.cross_entropy(lg.float(), y, label_smoothing=a.ls)
    opt.zero_grad(); loss.backward(); opt.step(); step += 1; seen += len(bi)
    if step % 200 == 0: print(f"  step {step} ep {ep} loss {loss.item():.3f} ex/s {seen/(time.perf_counter()-t0):.0f}", flush=True)
tt = time.perf_counter() - t0
v = evaluate("valid"); te = evaluate("test")
print(json.dumps({"args": vars(a), "steps": step, "epochs": seen / len(X), "train_s": round(tt), "valid_ndcg10": round(v[0], 4), "test_ndcg10": round(te[0], 4), "test_recall10": round(te[1], 4)}), flush=True)
