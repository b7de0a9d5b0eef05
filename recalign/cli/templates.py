"""`recalign templates list | show TASK | render TASK | validate [DIR]`."""
from __future__ import annotations

import dataclasses
import inspect

import click
import yaml

from ..data import leave_one_out, load_dataset
from ..errors import RecalignError, nearest
from ..prompts.env import FILTERS
from ..tasks import TASKS, TEMPLATES_DIR, GenerateConfig, load_templates, validate_dir
from ..tasks.query import TEMPLATES_DIR as QUERY_TEMPLATES_DIR

_SHIPPED = f"{TEMPLATES_DIR} and {QUERY_TEMPLATES_DIR}"
_tdir = click.option("--templates", "templates_dir", type=click.Path(file_okay=False, exists=True),
                     help="Extra template directory: adds templates or overrides shipped ones by id.")


@click.group("templates")
def templates() -> None:
    """List, show, render and validate prompt templates."""


@templates.command("list")
@click.option("--task", "-t", default=None, help="Only this task (a registered task name).")
@_tdir
def list_cmd(task: str | None, templates_dir: str | None) -> None:
    """One line per template: task, id, split, first words of the input."""
    names = [TASKS.get(task).name] if task else TASKS.names()
    for name in names:
        for t in load_templates(name, [templates_dir] if templates_dir else ()):
            first = " ".join(t.input.split())
            click.echo(f"{name:<10} {t.id:<22} {t.split:<7} {first[:70]}{'…' if len(first) > 70 else ''}")


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
    lines += ["# items: every item a variable holds (history, candidates, item, target ...) is already written by",
              "#   the run's item rule (generate: item_input title|id|id+title, item_target title|id, item_ids",
              "#   atomic|text; tasks/items.py): 'Toy Story', '<item_7>', '<item_7> Toy Story' or 'item_7 Toy Story'.",
              "#   Write \"the history\", never the form: one template serves every representation."]
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
def show_cmd(task: str, templates_dir: str | None) -> None:
    """Print TASK's variables and filters, then its templates as YAML, with where each comes from."""
    click.echo(template_header(TASKS.get(task)))
    click.echo(f"task: {task}\ntemplates:")      # the output is itself a valid template file
    for t in load_templates(task, [templates_dir] if templates_dir else ()):
        click.echo(f"# {t.path}, line {t.line}")
        click.echo(yaml.safe_dump([t.to_dict()], sort_keys=False, allow_unicode=True, width=100))


@templates.command("render")
@click.argument("task")
@click.option("--n", "n", type=int, default=3, show_default=True, help="How many examples.")
@click.option("--dataset", "-d", default="ml-100k", show_default=True, help="Dataset to draw examples from.")
@click.option("--split", "which", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
@click.option("--template", "template_id", default=None, help="Render with this template id (default: each in turn).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--domain", default="generic", show_default=True,
              help="Domain vocabulary ({{ domain.verb_past }} …): generic, movies, products, books, music.")
@_tdir
def render_cmd(task: str, n: int, dataset: str, which: str, template_id: str | None, seed: int, domain: str,
               templates_dir: str | None) -> None:
    """Render N real examples of TASK (from the first users of the dataset)."""
    t = TASKS.get(task)
    temps = load_templates(task, [templates_dir] if templates_dir else ())
    if template_id:
        ids = [x.id for x in temps]
        temps = [x for x in temps if x.id == template_id]
        if not temps:
            raise RecalignError(f"no template {template_id!r} for task {task!r}.{nearest(template_id, ids)}")
    split = leave_one_out(load_dataset(dataset))
    cfg = GenerateConfig(seed=seed, progress=False, domain=domain)
    rows: list = []
    users = split.users
    for lo in range(0, len(users), 8):
        rows += t.build(split, which, cfg, users=users[lo:lo + 8])
        if len(rows) >= n:
            break
    for k, (ex, _) in enumerate(rows[:n]):
        tmpl = temps[k % len(temps)]
        inp, tgt = tmpl.render(ex)
        click.echo(f"── {tmpl.id} ({tmpl.split}) ──")
        click.echo(f"INPUT:\n{inp}\nTARGET:\n{tgt}\n")


@templates.command("validate")
@click.argument("directory", required=False, type=click.Path(file_okay=False, exists=True))
def validate_cmd(directory: str | None) -> None:
    """Check every template file in DIRECTORY (default: every task's shipped file, the ten query
    tasks' included): variables, syntax, a sample render, and that each target is a valid answer
    of its task (e.g. retrieval and ranking targets must render to exactly the item's text). One
    line per problem."""
    n, problems = validate_dir(directory)
    for p in problems:
        click.echo(f"error: {p}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {directory or _SHIPPED}")
    click.echo(f"ok: {n} templates valid in {directory or _SHIPPED}")

