"""`recalign templates list | show TASK | render TASK | new TASK ID | validate [DIR...]`, over every
task: the six seq2seq tasks and the ten embedder query tasks (``tasks.any_task``)."""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import click
import yaml

from ..errors import RecalignError
from ..prompts.env import FILTERS
from ..tasks import TASKS, TEMPLATES_DIR, GenerateConfig, all_task_names, any_task, load_templates, validate_dir
from ..tasks.query import TEMPLATES_DIR as QUERY_TEMPLATES_DIR
from .options import override_option

_SHIPPED = f"{TEMPLATES_DIR} and {QUERY_TEMPLATES_DIR}"
_tdir = click.option("--templates", "templates_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
                     help="Extra template directory (repeatable, later ones win): adds templates or overrides "
                          "by id; each override is noted on stderr.")
_config = click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), default=None,
                       help="A run config (or generate: YAML): its settings, template directories and item rule "
                            "(IDs, ID+title, compact), as `recalign run`/`generate --config` write text.")
_run_dir = click.option("--run-dir", "run_dir", type=click.Path(file_okay=False, exists=True), default=None,
                        metavar="RUN", help="A generated run: the settings and template directories "
                                            "RUN/text/manifest.json records; RUN's split and tokenizer.")


def _notes(notices: list[str]) -> None:
    for n in notices:
        click.echo(f"note: {n}", err=True)


def _run_text(task: str | None, config_file: str | None, run_dir: str | None, overrides=(),
              extra=(), cfg: GenerateConfig | None = None, dataset: str = "ml-100k"):
    """The RunText of --config / --run-dir (with --templates stacked after the run's own), or of
    the given settings."""
    from ..preview import RunText

    if config_file:
        rt = RunText.from_config(config_file, overrides, run_dir=run_dir)
    elif run_dir:
        rt = RunText.from_run_dir(run_dir, task)
    else:
        rt = RunText(cfg or GenerateConfig(progress=False), dataset=dataset)
    rt.dirs = [*rt.dirs, *extra]
    return rt


@click.group("templates")
def templates() -> None:
    """List, show, render, start and validate prompt templates (every task, query tasks too)."""


@templates.command("list")
@click.option("--task", "-t", default=None, help="Only this task (a seq2seq or query task name).")
@_tdir
def list_cmd(task: str | None, templates_dirs: tuple[str, ...]) -> None:
    """One line per template: task, id, split, first words of the input."""
    names = [any_task(task).name] if task else all_task_names()
    notices: list[str] = []
    for name in names:
        for t in load_templates(name, templates_dirs, notices=notices):
            first = " ".join(t.input.split())
            click.echo(f"{name:<10} {t.id:<22} {t.split:<7} {first[:70]}{'…' if len(first) > 70 else ''}")
    _notes(notices)


def template_header(task) -> str:
    """What a template author needs: the file format, the variables of ``task``'s Example record
    (their types and an example value) and the filters of the sandboxed Jinja environment."""
    ex = task.example_type.sample()
    lines = [f"# {task.name}: {task.description}",
             f"# file format: a YAML mapping `task: {task.name}` + `templates:` list of entries with",
             "#   id, input, target, split (seen|unseen), metadata — this output is one: save it as "
             f"DIR/{task.name}.yaml, edit, and pass --templates DIR.",
             f"# variables ({task.example_type.__name__}):"]
    for f in dataclasses.fields(task.example_type):
        lines.append(f"#   {f.name:<12} {str(f.type):<10} e.g. {getattr(ex, f.name)!r}"[:118])
    if task.name in TASKS:
        lines += ["# items: every item a variable holds (history, candidates, item, target ...) is already written by",
                  "#   the run's item rule (generate: item_input title|id|id+title, item_target title|id, item_ids",
                  "#   atomic|text; tasks/items.py): 'Toy Story', '<item_7>', '<item_7> Toy Story' or 'item_7 Toy Story'.",
                  "#   Write \"the history\", never the form: one template serves every representation."]
    else:
        lines += ["# a query task of the embedders (tasks/query/): the input is the query; the target is the item's",
                  "#   text, exactly (the positive the bi-encoder is trained to retrieve)."]
    lines.append("# filters (besides Jinja's built-ins):")
    for name, fn in FILTERS.items():
        ps = inspect.signature(fn).parameters.values()
        args = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in ps)
        doc = (inspect.getdoc(fn) or "").splitlines()[0].replace("``", "")
        lines.append(f"#   {name}({args}): {doc}")
    return "\n".join(lines) + "\n"


@templates.command("show")
@click.argument("task")
@_tdir
@_config
@_run_dir
@override_option("Override a key of --config (as `recalign run -o`).")
def show_cmd(task: str, templates_dirs: tuple[str, ...], config_file: str | None, run_dir: str | None,
             overrides: tuple[str, ...]) -> None:
    """Print TASK's variables and filters, then its templates as YAML, with where each comes from. With
    --config or --run-dir: the run's template stack, and under each template the first test user's
    input as that run writes it (item rule included), as comments."""
    t = any_task(task)
    click.echo(template_header(t))
    notices: list[str] = []
    rt = None
    if config_file or run_dir:
        rt = _run_text(task, config_file, run_dir, overrides, templates_dirs)
        temps = rt.templates(task, notices)
        click.echo(f"# rendered through {rt.source}; template directories: {', '.join(rt.dirs) or 'none'}")
        if t.name in TASKS:
            from ..tasks.items import ItemRule
            click.echo(f"# {ItemRule.from_config(rt.cfg).describe()}")
        split = rt.split()
    else:
        temps = load_templates(task, templates_dirs, notices=notices)
    click.echo(f"task: {task}\ntemplates:")      # the output is itself a valid template file
    for x in temps:
        click.echo(f"# {x.path}, line {x.line}")
        if rt is not None:
            from ..preview import render
            row = render(rt, split, task, "test", template_id=x.id)[0]
            click.echo("# user " + str(row["user"]) + ", input:\n" +
                       "\n".join(f"#   {ln}" for ln in row["input"].splitlines()) + f"\n# target: {row['target']}")
        click.echo(yaml.safe_dump([x.to_dict()], sort_keys=False, allow_unicode=True, width=100))
    _notes(notices)


class _EachInTurn:
    """``render_rows``' template draw replaced by each template in turn."""

    def __init__(self) -> None:
        self.i = -1

    def randrange(self, k: int) -> int:
        self.i += 1
        return self.i % k


@templates.command("render")
@click.argument("task")
@click.option("--n", "n", type=int, default=3, show_default=True, help="How many examples.")
@click.option("--dataset", "-d", default="ml-100k", show_default=True, help="Dataset to draw examples from.")
@click.option("--split", "which", type=click.Choice(["train", "valid", "test", "valid_unseen", "test_unseen"]),
              default="test", show_default=True, help="Which split (query tasks: train, test, test_unseen).")
@click.option("--template", "template_id", default=None,
              help="Render with this template id (default: with --config/--run-dir the run's own seeded choice, "
                   "row for row what generate writes; else each in turn).")
@click.option("--user", "users", multiple=True, help="Only this user's rows (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--domain", default="generic", show_default=True,
              help="Domain vocabulary ({{ domain.verb_past }} …): generic, movies, products, books, music.")
@_tdir
@_config
@_run_dir
@override_option("Override a key of --config (as `recalign run -o`).")
def render_cmd(task: str, n: int, dataset: str, which: str, template_id: str | None, users: tuple[str, ...],
               seed: int, domain: str, templates_dirs: tuple[str, ...], config_file: str | None,
               run_dir: str | None, overrides: tuple[str, ...]) -> None:
    """Render N real examples of TASK. With --config RUN.yaml or --run-dir RUN: through that run's
    settings, template stack and item rule, byte-identical to what `recalign generate` writes."""
    from ..preview import render

    t = any_task(task)
    run_settings = bool(config_file or run_dir)
    cfg = None if run_settings else GenerateConfig(seed=seed, progress=False, domain=domain)
    rt = _run_text(task, config_file, run_dir, overrides, templates_dirs, cfg, dataset)
    notices: list[str] = []
    temps = rt.templates(task, notices)
    _notes(notices)
    if not run_settings and not template_id and t.name in TASKS:     # each template in turn (both sets)
        from ..materialize import render_rows
        from ..tasks.items import ItemRule
        rows = t.build(rt.split(), which.split("_")[0], rt.cfg)
        rows = [r for r in rows if not users or r[1].user in users][:n]
        cols = render_rows(rows, temps, task, _EachInTurn(), post=ItemRule.from_config(rt.cfg).post_render())
        out = [{"input": i, "target": g, "_template_id": tid, "user": r[1].user}
               for i, g, tid, r in zip(cols["input"], cols["target"], cols["_template_id"], rows)]
    else:
        out = [r for r in render(rt, rt.split(), task, which, template_id) if not users or r["user"] in users][:n]
    split_of = {x.id: x.split for x in temps}
    for r in out:
        click.echo(f"── {r['_template_id']} ({split_of.get(r['_template_id'], '?')}) user {r['user']} ──")
        click.echo(f"INPUT:\n{r['input']}\nTARGET:\n{r['target']}\n")


def _skeleton_entry(template_id: str, split: str, base) -> str:
    """One YAML list entry (two-space indent), the input and target copied from ``base``."""
    def block(key: str, text: str) -> str:
        return f"    {key}: |-\n" + "\n".join(f"      {ln}" if ln else "" for ln in text.splitlines()) + "\n"
    return (f"  - id: {yaml.safe_dump(template_id, default_style=None).splitlines()[0]}\n"
            f"    split: {split}\n"
            f"    # copied from {base.id}: edit the input's wording; the target must stay the task's answer\n"
            + block("input", base.input) + block("target", base.target)
            + "    metadata: {original_task: true}\n")


@templates.command("new")
@click.argument("task")
@click.argument("template_id", metavar="ID")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="my-templates", show_default=True,
              help="Where DIR/TASK.yaml is written (created; an existing file gets the entry appended).")
@click.option("--split", "tset", type=click.Choice(["seen", "unseen"]), default="unseen", show_default=True,
              help="unseen: only evaluated (new wording); seen: trained on.")
def new_cmd(task: str, template_id: str, directory: str, tset: str) -> None:
    """Start one new template ID for TASK: writes a skeleton (the task's variables and filters as comments,
    the first shipped template of that split as the wording to edit) that validates as it is."""
    t = any_task(task)
    d = Path(directory)
    existing = load_templates(task, [d] if d.is_dir() else [])
    if any(x.id == template_id for x in existing):
        raise RecalignError(f"template id {template_id!r} already exists for {task!r}: pick a new id (to override "
                            f"a shipped one, copy it from `recalign templates show {task}`)")
    base = next(x for x in load_templates(task) if x.split == tset)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{task}.yaml"
    entry = _skeleton_entry(template_id, tset, base)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ("" if text.endswith("\n") else "\n") + entry, encoding="utf-8")
    else:
        path.write_text(template_header(t) + f"task: {task}\ntemplates:\n" + entry, encoding="utf-8")
    try:
        load_templates(task, [d])
    except RecalignError:
        if path.is_file() and path.read_text(encoding="utf-8").endswith(entry):
            path.write_text(path.read_text(encoding="utf-8")[:-len(entry)], encoding="utf-8")
        raise
    click.echo(f"wrote {path}: template {template_id} ({tset}), from {base.id}. Next:")
    click.echo(f"  recalign templates validate {d}")
    click.echo(f"  recalign templates render {task} --templates {d} --template {template_id}")


@templates.command("validate")
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False, exists=True))
def validate_cmd(directories: tuple[str, ...]) -> None:
    """Check every template file in each DIRECTORY (default: every task's shipped file, the ten query
    tasks' included): variables, syntax, a sample render, and that each target is a valid answer
    of its task (e.g. retrieval and ranking targets must render to exactly the item's text). One
    line per problem."""
    n, problems = 0, []
    for d in directories or (None,):
        k, ps = validate_dir(d)
        n, problems = n + k, problems + ps
    where = ", ".join(directories) or _SHIPPED
    for p in problems:
        click.echo(f"error: {p}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {where}")
    click.echo(f"ok: {n} templates valid in {where}")

