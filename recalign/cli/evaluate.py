"""`recalign evaluate`: a fine-tuned seq2seq checkpoint on the run's split."""
from __future__ import annotations

import click


def _csv(allowed: tuple[str, ...]):
    def convert(ctx, param, value):
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in allowed]
        if bad or not items:
            raise click.BadParameter(f"expected a comma-separated subset of {', '.join(allowed)}, got {value!r}")
        return tuple(items)
    return convert


@click.command("evaluate")
@click.option("--run", "--run-dir", "run_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="Run directory (prepared data, materialized text, model).")
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--model-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Checkpoint directory (default: RUN/model).")
@click.option("--tasks", default="retrieval,ranking,rating", show_default=True,
              callback=_csv(("retrieval", "ranking", "rating")), help="Tasks to evaluate.")
@click.option("--templates", default="seen,unseen", show_default=True, callback=_csv(("seen", "unseen")),
              help="Template sets, reported separately (unseen → *_unseen keys).")
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
def evaluate_cmd(run_dir, split, model_dir, tasks, templates, beam, length_penalty, max_users, batch_size, exact,
                 name, no_progress) -> None:
    """Evaluate a fine-tuned model: retrieval (constrained beam search, full catalogue, history
    masked), ranking (candidate likelihoods), rating (parsed answers and E[r] over scored values); writes
    RUN/results/NAME/metrics.json and per-user predictions_<task>_<split>.jsonl."""
    from ..eval.evaluate import evaluate

    m = evaluate(run_dir, split, model_dir, tasks=tasks, templates=templates, beam=beam,
                 length_penalty=length_penalty, max_users=max_users, batch_size=batch_size, exact=exact,
                 name=name, progress=not no_progress)
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
    from ..eval.report import template_lines

    for line in template_lines([{**m, "model": "by template"}]):
        click.echo(line[2:])
    for n in m.get("notes", []):
        click.echo(f"note: {n}")
    click.echo(f"wrote {run_dir}/results/{name}/metrics.json")


commands = [evaluate_cmd]
