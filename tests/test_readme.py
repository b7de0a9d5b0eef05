"""The README's CLI reference is generated from --help and must not drift."""
from pathlib import Path

from recalign.cli.reference import BEGIN, END, cli_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_cli_reference_in_sync():
    text = README.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == cli_reference().strip(), (
        "README CLI reference is stale: run `python -m recalign.cli.reference --write README.md`")


def test_every_verb_documented():
    text = README.read_text(encoding="utf-8")
    for verb in ("run", "data info", "data prepare", "data convert-amazon", "generate", "templates validate",
                 "train", "evaluate", "baseline", "compare"):
        assert f"#### `recalign {verb}`" in text, verb


def test_version_agrees_with_readme_and_the_installed_package():
    """Issue 25: one version — recalign.__version__, the installed metadata, `--version`, README."""
    import importlib.metadata
    import re

    from click.testing import CliRunner

    from recalign import __version__
    from recalign.cli import main

    said = re.findall(r"`recalign, version ([0-9][^`]*)`", README.read_text(encoding="utf-8"))
    assert said == [__version__], said
    assert importlib.metadata.version("recalign") == __version__
    assert CliRunner().invoke(main, ["--version"]).output.strip() == f"recalign, version {__version__}"
