"""`make smoke` (issue 25 item 6): configs/smoke.yaml loads and validates, is a step budget with no time budget,
and stays small in every stage; the Makefile target and README agree with it. The smoke itself (~40 s on 2
cores) is not run here."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def test_smoke_config_loads_validates_and_is_small():
    from recalign.pipeline import load_run_config, train_config

    cfg = load_run_config(str(SMOKE), [])
    t = train_config(cfg)
    assert 0 < t.trainer["max_steps"] <= 50                    # a step budget ...
    assert t.time_budget_minutes is None                       # ... and no time budget
    assert t.curve.users == 0
    assert cfg.evaluate.max_users is not None and cfg.evaluate.max_users <= 100
    assert cfg.data.dataset == "ml-100k" and cfg.ablation is False and cfg.seeds == 1
    assert cfg.baselines.models and cfg.baselines.time_budget_s and cfg.baselines.time_budget_s <= 60
    for model in cfg.baselines.models:
        if model != "Pop":
            assert cfg.baselines.overrides[model]["epochs"] == 1, model
    assert not cfg.report_to


def test_smoke_target_runs_the_smoke_config_and_readme_says_so():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nsmoke: $(STAMP)\n" in makefile and "--config configs/smoke.yaml" in makefile
    assert "smoke" in next(ln for ln in makefile.splitlines() if ln.startswith(".PHONY"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make smoke" in quickstart and "configs/smoke.yaml" in quickstart
