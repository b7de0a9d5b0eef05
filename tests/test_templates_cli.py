"""`recalign templates show` is an author's starting point: variables, filters, and a valid file."""
from click.testing import CliRunner

from recalign.cli import main


def test_show_lists_variables_and_filters_and_is_a_valid_template_file(tmp_path):
    r = CliRunner().invoke(main, ["templates", "show", "ranking"])
    assert r.exit_code == 0, r.output
    for line in ("#   history      list[str]", "#   candidates   list[str]", "#   target       str",
                 "#   natural_join(items, conj='and', sep=', '):", "#   numbered(items, sep='\\n',"):
        assert line in r.output, line
    d = tmp_path / "mine"
    d.mkdir()
    (d / "ranking.yaml").write_text(r.output.replace("id: ranking-seen-01", "id: my-ranking-01"))
    v = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert v.exit_code == 0 and "ok: 8 templates valid" in v.output, v.output
    ls = CliRunner().invoke(main, ["templates", "list", "--task", "ranking", "--templates", str(d)])
    ids = [ln.split()[1] for ln in ls.output.splitlines()]
    assert "my-ranking-01" in ids and len(ids) == 9          # 8 shipped + 1 new; the others overrode by id
