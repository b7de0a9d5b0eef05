"""The CLI reference (docs/cli.md), generated from ``--help`` (a test keeps them in sync).

Regenerate with ``python -m recalign.cli.reference --write`` (docs/cli.md; ``--write PATH`` for another
file holding the markers).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click

BEGIN, END = "<!-- cli-reference:begin -->", "<!-- cli-reference:end -->"
# The file that holds the reference: docs/cli.md of the source tree (README links to it).
REFERENCE_FILE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1])
        for name in cmd.list_commands(ctx):   # a lazy group loads each verb here
            yield from _walk(cmd.get_command(ctx, name), path + [name])


def cli_reference() -> str:
    """Markdown: one fenced ``--help`` block per command, in a stable order."""
    from . import CONTEXT, main

    parts = []
    for path, cmd in _walk(main, ["recalign"]):
        # the same help option names as at run time: click caches a command's help option
        with click.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100,
                           help_option_names=CONTEXT["help_option_names"]) as ctx:
            text = cmd.get_help(ctx)
        parts.append(f"#### `{' '.join(path)}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def splice(readme: str, reference: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise ValueError(f"the file lacks the markers {BEGIN} … {END}")
    return pattern.sub(lambda _: f"{BEGIN}\n{reference}\n{END}", readme)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) in (2, 3) and sys.argv[1] == "--write":
        p = Path(sys.argv[2]) if len(sys.argv) == 3 else REFERENCE_FILE
        p.write_text(splice(p.read_text(encoding="utf-8"), cli_reference()), encoding="utf-8")
    else:
        print(cli_reference())
