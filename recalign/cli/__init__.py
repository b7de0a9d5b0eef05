"""The ``recalign`` command: a thin click group. Each verb calls one library function."""
from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import RecalignError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# verb modules: each defines `commands` (a list of click commands/groups) — one module per stage
_MODULES = ["data", "templates", "generate", "train", "evaluate", "baseline", "compare", "run"]


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RecalignError as e:
            raise click.ClickException(str(e)) from None


@click.group(context_settings=CONTEXT, cls=_Group)
@click.version_option(__version__, "--version", prog_name="recalign")
def main() -> None:
    """recalign: recommendation tasks and auxiliary tasks as text, multi-task
    fine-tuning of seq2seq models, one evaluation harness with RecBole baselines."""


for _m in _MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_m}")
    except ModuleNotFoundError as _e:  # a stage not built yet
        if _e.name != f"{__name__}.{_m}":
            raise
        continue
    for _c in _mod.commands:
        main.add_command(_c)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
