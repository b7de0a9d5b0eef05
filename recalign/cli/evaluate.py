"""`recalign evaluate`: a fine-tuned seq2seq checkpoint on the run's split."""
from __future__ import annotations

import dataclasses

import click

from ..config import from_dict
from ..eval.report import template_lines
from ..pipeline import EvaluateConfig
from ..run_dir import RunDir
from ..tasks import TASKS
from .options import override_option, run_dir_option


def _csv(allowed):
    """A comma-separated subset of ``allowed`` (a tuple, or a callable giving the current choices);
    None stays None (the library's default)."""
    def convert(ctx, param, value):
        if value is None:
            return None
        allowed_now = tuple(allowed() if callable(allowed) else allowed)
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in allowed_now]
        if bad or not items:
            raise click.BadParameter(f"expected a comma-separated subset of {', '.join(allowed_now)}, got {value!r}")
        return tuple(items)
    return convert


@click.command("evaluate")
@run_dir_option("Run directory (prepared data, materialized text, model).", exists=True)
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--model-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Checkpoint directory (default: RUN/model).")
@click.option("--tasks", default=None, callback=_csv(lambda: [t.name for t in TASKS.evaluable()]),
              help="Tasks to evaluate (default: every task with an evaluator: "
                   f"{','.join(t.name for t in TASKS.evaluable())}).")
@click.option("--templates", default="seen,unseen", show_default=True, callback=_csv(("seen", "unseen")),
              help="Template sets, reported separately (unseen → *_unseen keys).")
@click.option("--template-ids", default=None, metavar="ID,…",
              help="Also score each of these templates (seen or unseen, of the run's template stack) on every user: "
                   "sections <task>@<ID>; `recalign compare` pairs them with the seen templates and each other.")
@click.option("--beam", type=click.IntRange(min=1), default=20, show_default=True,
              help="Beam size of the trie-constrained retrieval search (= ranked items per user).")
@click.option("--length-penalty", type=float, default=0.0, show_default=True,
              help="Beam score = sum log-prob / length**LP; 0 ranks titles by their true probability.")
@click.option("--max-users", type=click.IntRange(min=1), default=None, help="Evaluate the first N users only.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Users per batch (beam search runs batch×beam sequences).")
@click.option("--exact", is_flag=True,
              help="Also rank every title by log-likelihood (full ranking by scoring; small catalogues).")
@click.option("--name", default="recalign-t5", show_default=True, help="Result name: RUN/results/NAME.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@override_option("Override a setting by its name in a run config's evaluate: section (evaluate()'s keyword), "
                 "e.g. -o beam=10.")
def evaluate_cmd(run_dir, split, model_dir, tasks, templates, template_ids, beam, length_penalty, max_users, batch_size, exact,
                 name, no_progress, overrides) -> None:
    """Evaluate a fine-tuned model: retrieval (constrained beam search, full catalogue, history
    masked), ranking (candidate likelihoods), rating (parsed answers and E[r] over scored values); writes
    RUN/results/NAME/metrics.json and per-user predictions_<task>_<split>.jsonl."""
    from ..eval.evaluate import evaluate  # lazy: torch/transformers are heavy for `recalign --help`

    given = {"split": split, "templates": list(templates), "beam": beam, "length_penalty": length_penalty,
             "max_users": max_users, "batch_size": batch_size, "exact": exact, "name": name,
             "progress": not no_progress, **({"tasks": list(tasks)} if tasks is not None else {})}
    e = from_dict(EvaluateConfig, given, overrides=overrides, where="evaluate.")
    name = e.name
    ids = [x.strip() for x in (template_ids or "").split(",") if x.strip()]
    with RunDir(run_dir).lock("evaluate"):
        m = evaluate(run_dir, model_dir=model_dir, template_ids=ids, **dataclasses.asdict(e))
    for sec in ("retrieval", "retrieval_unseen", "retrieval_exact"):
        if sec in m:
            r = m[sec]
            click.echo(f"{sec:18s} " + "  ".join(f"{k} {r[k]:.4f}" for k in
                                                  ("recall@5", "recall@10", "recall@20", "ndcg@10") if k in r)
                       + f"  ({r['users']} users)")
    for sec in ("ranking", "ranking_unseen"):
        if sec in m:
            r = m[sec]
            click.echo(f"{sec:18s} hr@1 {r['hr@1']:.4f}  hr@5 {r['hr@5']:.4f}  ndcg@5 {r['ndcg@5']:.4f}"
                       f"  (lennorm hr@1 {r['hr@1_lennorm']:.4f}; {r['candidates']} candidates)")
    for sec in ("rating", "rating_unseen"):
        if sec in m:
            r = m[sec]
            fmt = (lambda v: "n/a" if v is None else f"{v:.4f}")
            scored = (f"; E[r] rmse {fmt(r['rmse_expected'])}  mae {fmt(r['mae_expected'])}"
                      if "rmse_expected" in r else "")
            click.echo(f"{sec:18s} rmse {fmt(r['rmse'])}  mae {fmt(r['mae'])}  (n {r['n']}, "
                       f"unparsable {r['unparsable']}){scored}")
    for t in TASKS.evaluable():  # tasks without a line above: their Task.metrics
        for sec in (t.name, f"{t.name}_unseen"):
            if t.name not in ("retrieval", "ranking", "rating") and isinstance(m.get(sec), dict):
                r = m[sec]
                click.echo(f"{sec:18s} " + "  ".join(f"{k} {r[k]:.4f}" for k in t.metrics
                                                      if isinstance(r.get(k), (int, float))))
    for sec, task in ((f"{t}@{i}", t) for i, t in (m.get("template_ids") or {}).items()):
        r = m.get(sec)
        if isinstance(r, dict):         # one template on every user: the task's own metrics
            click.echo(f"{sec:18s} " + "  ".join(f"{k} {r[k]:.4f}" for k in TASKS.get(task).metrics
                                                  if isinstance(r.get(k), (int, float)))
                       + f"  ({r.get('users', r.get('n'))} users)")
    for line in template_lines([{**m, "model": "by template"}]):
        click.echo(line[2:])
    for n in m.get("notes", []):
        click.echo(f"note: {n}")
    click.echo(f"wrote {run_dir}/results/{name}/metrics.json")

