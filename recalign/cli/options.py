"""Options every command shares, spelled once: ``--run-dir`` and ``-o KEY=VALUE``.

Old spellings stay as hidden aliases (``--out`` and ``--run`` for ``--run-dir``, ``--set``
for ``-o``): they still work and are not shown in ``--help``.
"""
from __future__ import annotations

from typing import Callable

import click


class AliasedOption(click.Option):
    """A click option whose ``hidden_aliases`` work but are left out of ``--help``."""

    def __init__(self, *args, hidden_aliases: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)

    def get_help_record(self, ctx: click.Context):
        opts = self.opts
        self.opts = [o for o in opts if o not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


def run_dir_option(help: str, required: bool = True, exists: bool = False) -> Callable:
    """``--run-dir RUN`` (hidden aliases ``--out``, ``--run``), passed as ``run_dir``."""
    return click.option("--run-dir", "--out", "--run", "run_dir", cls=AliasedOption, hidden_aliases=("--out", "--run"),
                        required=required, metavar="RUN", type=click.Path(file_okay=False, exists=exists), help=help,
                        callback=_not_blank)


def _not_blank(ctx, param, value):
    """An empty ``--run-dir ''`` would write into the working directory: refused."""
    if value is not None and not str(value).strip():
        raise click.BadParameter(f"expected a directory path, got {value!r}")
    return value


def override_option(help: str) -> Callable:
    """``-o KEY=VALUE`` (repeatable; hidden alias ``--set``), passed as ``overrides``."""
    return click.option("-o", "--override", "--set", "overrides", cls=AliasedOption, hidden_aliases=("--set",),
                        multiple=True, metavar="KEY=VALUE", help=help + " Value parsed as YAML; repeatable.")
