"""README and docs/: the CLI reference (docs/cli.md) is generated from --help and must not drift; every
link resolves; the first screen and the table after Quickstart say what the main job trains and scores."""
import re
from pathlib import Path

import pytest
import yaml

from recalign.cli.reference import BEGIN, END, REFERENCE_FILE, cli_reference

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
CLI = ROOT / "docs" / "cli.md"


def test_cli_reference_in_sync():
    assert REFERENCE_FILE == CLI and README.read_text(encoding="utf-8").count(BEGIN) == 0
    text = CLI.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == cli_reference().strip(), (
        "docs/cli.md is stale: run `python -m recalign.cli.reference --write`")


def test_every_verb_documented():
    text = CLI.read_text(encoding="utf-8")
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


# ---- docs/ (issue 25 item 5) -------------------------------------------------------------------------
def test_docs_exist_and_readme_links_every_one():
    names = {p.name for p in DOCS}
    assert {"cli.md", "training.md", "architecture.md", "embedders.md", "bad-input.md"} <= names, names
    readme = README.read_text(encoding="utf-8")
    for p in DOCS:
        assert f"](docs/{p.name})" in readme, f"README does not link docs/{p.name}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken link {target}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_tagged_yaml_examples_parse(path):
    """A YAML block tagged `<!-- name -->` is an example a test loads (test_t5_config loads flan-t5-xl-train
    wherever it lives); each must at least be valid YAML."""
    for name, block in re.findall(r"<!-- ([\w.-]+) -->\n```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        assert isinstance(yaml.safe_load(block), dict), f"{path.name}: {name}"


def test_first_screen_says_what_the_main_job_trains_and_scores():
    """Issue 25: README's opening is the main job — its model, its items, its task — and its metric."""
    readme = README.read_text(encoding="utf-8")
    first = readme.split("## Quickstart", 1)[0]
    assert len(first.splitlines()) <= 25
    for said in ("make run", "T5", "ID", "NDCG@10", "full", "SASRec", "same split"):
        assert said in first, said


def test_table_after_quickstart_names_the_default_config():
    """Issue 25: right after Quickstart, one row per config: what it trains, NDCG@10, Δ vs SASRec, the CPU."""
    readme = README.read_text(encoding="utf-8")
    after = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[1]
    section = after.split("\n## ", 1)[0]
    header = "| config | what it trains | NDCG@10 | Δ vs SASRec | CPU it was measured on |"
    assert header in section
    rows = [ln for ln in section.splitlines() if ln.startswith("| `")]
    makefile = (ROOT / "Makefile").read_text()
    default = next(ln.split("?=")[1].strip() for ln in makefile.splitlines() if ln.startswith("CONFIG ?="))
    assert rows[0].startswith(f"| `{Path(default).name}` (`make run`)"), rows[0]
    for row in rows:
        config = re.match(r"\| `([^`]+)`", row).group(1)
        assert (ROOT / "configs" / config).exists(), config
        assert len(row.split(" | ")) == 5, row
