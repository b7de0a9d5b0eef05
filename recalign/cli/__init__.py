"""The ``recalign`` command: a thin click group. Each verb calls one library function.

Verbs are loaded on first use (click's documented lazy-loading group): ``recalign --help``
imports no stage module, and ``recalign data info`` never imports torch.
"""
from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import RecalignError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: verb → "module:attribute" of its click command, one module per stage
VERBS = {"data": "data:data", "templates": "templates:templates", "generate": "generate:generate_cmd",
         "train": "train:train_cmd", "evaluate": "evaluate:evaluate_cmd", "baseline": "baseline:baseline",
         "compare": "compare:compare_cmd", "run": "run:run_cmd",
         "train-embedder": "embed:train_embedder_cmd", "ilm": "ilm:ilm_cmd"}


class LazyGroup(click.Group):
    """Loads ``lazy_subcommands`` (name → "module:attribute") when they are first asked for,
    and turns a ``RecalignError`` into one line."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            from ..progress import quiet_when_redirected

            quiet_when_redirected()   # before the verb imports datasets/transformers: a log file gets plain lines
            module, attr = self.lazy_subcommands[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RecalignError as e:
            raise click.ClickException(str(e)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # a full disk where a library writes (checkpoints, arrow, torch.save): one line
            from ..atomic_io import no_space, no_space_error

            if not no_space(e):
                raise
            raise click.ClickException(str(no_space_error(None, e))) from None


@click.group(context_settings=CONTEXT, cls=LazyGroup, lazy_subcommands=VERBS)
@click.version_option(__version__, "--version", prog_name="recalign")
def main() -> None:
    """recalign: recommendation tasks and auxiliary tasks as text, multi-task
    fine-tuning of seq2seq models, one evaluation harness with RecBole baselines."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
