"""Mutation testing of recalign's core modules with mutmut, one module group at a time.

Each group names the source files to mutate and the fast test files that guard them
(mutmut then runs, per mutant, only the tests that execute the mutated function). Every
group runs in its own scratch copy of the project (``--work``, default
``~/.cache/recalign/mutation/<group>``), so the working tree never holds mutated code and
mutmut's per-mutant cache survives between runs: a rerun only tries new or changed mutants.

    python benchmarks/mutation.py                 # every group but resume, then the summary table
    python benchmarks/mutation.py -g metrics      # one group
    python benchmarks/mutation.py --report        # the table of the last runs only
    python benchmarks/mutation.py -g metrics --survivors   # diffs of the surviving mutants

``make mutation`` runs the first form. Figures and survivors are in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# group → (files to mutate, tests that guard them, run the tests marked slow too).
# Tests: the fast ones that exercise the group (mutmut runs, per mutant, only those that reach it).
GROUPS: dict[str, tuple[list[str], list[str], bool]] = {
    "split-readers": (["recalign/data/split.py", "recalign/data/readers.py"],
                      ["tests/test_data.py", "tests/test_guard_split_readers.py"], False),
    "sampling-tasks": (["recalign/tasks/sampling.py", "recalign/tasks/ranking.py"],
                       ["tests/test_generators.py", "tests/test_guard_ranking_position.py",
                        "tests/test_guard_sampling.py", "tests/test_evaluate.py"], False),
    "templates-sandbox": (["recalign/prompts/template.py", "recalign/prompts/env.py",
                           "recalign/prompts/validate.py", "recalign/prompts/limits.py"],
                          ["tests/test_prompts.py", "tests/test_template_limits.py",
                           "tests/test_guard_sandbox_bounds.py", "tests/test_guard_template_validation.py"], False),
    "metrics-masking": (["recalign/eval/metrics.py", "recalign/tasks/retrieval.py"],
                        ["tests/test_metrics.py", "tests/test_guard_masking.py", "tests/test_evaluate.py",
                         "tests/test_guard_per_user.py"], False),
    "trie-decoding": (["recalign/eval/trie.py", "recalign/eval/decode.py"],
                      ["tests/test_decode.py", "tests/test_guard_trie_decoding.py"], False),
    "scoring": (["recalign/eval/scoring.py"],
                ["tests/test_scoring.py", "tests/test_decode.py", "tests/test_guard_scoring.py"], False),
    # training runs: minutes per pass, so not in the default set (``-g resume``)
    "resume": (["recalign/t5_finetune/checkpoints.py"],
               ["tests/test_guard_checkpoints.py",
                "tests/test_t5_train.py::test_resume_after_interrupt_reaches_the_same_end",
                "tests/test_t5_train.py::test_half_written_checkpoint_is_set_aside_and_the_complete_one_resumed"],
               True),
}
DEFAULT = [g for g in GROUPS if g != "resume"]

COPY = ["recalign", "tests", "pyproject.toml"]

# Lines never mutated: progress bars (``tqdm(...)``: description, unit, ``leave``, ``disable``) are
# display only, equivalent for every result. Regular expressions, matched per line (mutmut's
# ``do_not_mutate_patterns``); changing them makes the group's mutants again (verdicts are kept).
DO_NOT_MUTATE = [r"\btqdm\("]


def work_dir(base: Path, group: str) -> Path:
    return base / group


def prepare(group: str, wd: Path) -> None:
    """Refresh the scratch copy (mtimes kept, so mutmut's cache knows unchanged files) and
    write its setup.cfg with this group's [mutmut] section."""
    files, tests, slow = GROUPS[group]
    wd.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src, dst = ROOT / name, wd / name
        if src.is_dir():
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    cfg = (ROOT / "setup.cfg").read_text()
    stamp = wd / "do_not_mutate.json"
    if not stamp.is_file() or json.loads(stamp.read_text()) != DO_NOT_MUTATE:
        for f in files:     # mutmut remakes a file's mutants only when its copy is newer than them
            (wd / "mutants" / f).unlink(missing_ok=True)
        stamp.write_text(json.dumps(DO_NOT_MUTATE))
    # the module files themselves too: their doctests are tests
    section = ["", "[mutmut]", "source_paths = recalign", "only_mutate =", *[f"    {f}" for f in files],
               "do_not_mutate_patterns =", *[f"    {p}" for p in DO_NOT_MUTATE],
               "pytest_add_cli_args_test_selection =", *[f"    {t}" for t in tests + files],
               "pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -x",
               *([] if slow else ["    -m", "    not slow"]), ""]
    (wd / "setup.cfg").write_text(cfg + "\n".join(section))


def run_group(group: str, wd: Path, max_children: int, time_limit: float | None = None) -> int:
    """``mutmut run`` in the group's copy; after ``time_limit`` seconds it is stopped with
    SIGTERM (finished mutants stay cached: the next run goes on from there)."""
    prepare(group, wd)
    env = dict(os.environ, WANDB_MODE="offline", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mutmut = Path(sys.executable).with_name("mutmut")
    t_end = time.monotonic() + (time_limit or float("inf"))
    # mutmut keeps a cached verdict while a function is unchanged, even when tests were added:
    # survivors are tried again by name, then the mutants not tried yet
    again = [r["name"] for r in survivors(wd)] if (wd / "mutants").is_dir() else []
    rc = 0
    for names in ([again] if again else []) + [[]]:
        left = t_end - time.monotonic()
        if left <= 5:
            print(f"\n== {group}: time limit ({time_limit:.0f} s) reached", flush=True)
            break
        proc = subprocess.Popen([str(mutmut), "run", "--max-children", str(max_children), *names], cwd=wd,
                                env=env, start_new_session=True)
        try:
            rc |= proc.wait(timeout=None if left == float("inf") else left)
        except subprocess.TimeoutExpired:
            print(f"\n== {group}: time limit ({time_limit:.0f} s) reached, interrupting", flush=True)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            break
    subprocess.call([str(mutmut), "export-cicd-stats"], cwd=wd, env=env, stdout=subprocess.DEVNULL)
    return rc


def stats(wd: Path) -> dict | None:
    p = wd / "mutants" / "mutmut-cicd-stats.json"
    return json.loads(p.read_text()) if p.is_file() else None


# Reads mutmut's per-file results in the group's copy and prints each survivor's diff (one JSON per line).
_DIFFS = """
import json
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    for k, v in m.exit_code_by_key.items():
        if status_by_exit_code[v] == "survived":
            print(json.dumps({"name": k, "diff": get_diff_for_mutant(k, path=path)}))
"""

# Survivor classes, first match wins, on the changed lines of the diff. A heuristic for the
# report: "behaviour" is what needs a test or a reason; read any class with --survivors.
CLASSES = [
    ("progress bar / logging", ("tqdm(", "desc=", "unit=", "leave=", "log.", "logger.", "warnings.warn")),
    ("error or note text", ("raise ", "Error(", "notes.append", "note(", "f\"", "why = ")),
    ("dtype spelled out", ("dtype=",)),
]


def changed_lines(diff: str) -> list[str]:
    return [x[1:].strip() for x in diff.splitlines()
            if x[:1] in "+-" and not x.startswith(("+++", "---"))]


def classify(diff: str) -> str:
    lines = changed_lines(diff)
    if all(x.startswith(('"', "f\"", "'", "f'")) for x in lines):   # a message's continuation line
        return "error or note text"
    for name, marks in CLASSES:
        if any(m in x for x in lines for m in marks):
            return name
    return "behaviour"


def survivors(wd: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", _DIFFS], cwd=wd, capture_output=True, text=True).stdout
    rows = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    for r in rows:
        r["class"] = classify(r["diff"])
    return rows


def pending(s: dict) -> int:
    """Mutants not tried yet (a run cut short by its time limit)."""
    done = ("killed", "survived", "no_tests", "timeout", "skipped", "suspicious", "segfault",
            "check_was_interrupted_by_user")
    return s["total"] - sum(s.get(k, 0) for k in done)


def report(base: Path, groups: list[str]) -> str:
    rows = ["| group | modules | mutants | killed | timeout | survived | no tests | not run yet | score | survivors: "
            + " / ".join(c for c, _ in CLASSES) + " / behaviour |", "|---|---|---|---|---|---|---|---|---|---|"]
    tot = {"total": 0, "killed": 0, "survived": 0, "no_tests": 0, "timeout": 0, "pending": 0}
    for g in groups:
        s = stats(work_dir(base, g))
        if not s:
            rows.append(f"| {g} | {', '.join(Path(f).name for f in GROUPS[g][0])} | not run | | | | | | | |")
            continue
        tested = s["killed"] + s["survived"] + s["timeout"]
        for k in tot:
            tot[k] += pending(s) if k == "pending" else s[k]
        score = (s["killed"] + s["timeout"]) / tested if tested else 0.0
        by_class = Counter(r["class"] for r in survivors(work_dir(base, g)))
        split = " / ".join(str(by_class[c]) for c in [c for c, _ in CLASSES] + ["behaviour"])
        rows.append(f"| {g} | {', '.join(Path(f).name for f in GROUPS[g][0])} | {s['total']} | {s['killed']} | "
                    f"{s['timeout']} | {s['survived']} | {s['no_tests']} | {pending(s)} | {score:.1%} | {split} |")
    tested = tot["killed"] + tot["survived"] + tot["timeout"]
    if tested:
        rows.append(f"| **all** | | {tot['total']} | {tot['killed']} | {tot['timeout']} | {tot['survived']} | "
                    f"{tot['no_tests']} | {tot['pending']} | **{(tot['killed'] + tot['timeout']) / tested:.1%}** | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-g", "--group", action="append", choices=sorted(GROUPS),
                    help="Group to run (repeatable; default: all but resume).")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get(
        "RECALIGN_MUTATION_DIR", Path.home() / ".cache" / "recalign" / "mutation")),
        help="Scratch directory holding one project copy and mutmut cache per group.")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--time-limit", type=float, default=None,
                    help="Seconds per group; then mutmut is interrupted and the next run resumes.")
    ap.add_argument("--report", action="store_true", help="Only print the table of the last runs.")
    ap.add_argument("--survivors", action="store_true", help="Print each surviving mutant's diff.")
    a = ap.parse_args(argv)
    groups = a.group or DEFAULT
    rc = 0
    if not a.report and not a.survivors:
        for g in groups:
            print(f"== {g}: {', '.join(GROUPS[g][0])}", flush=True)
            rc |= run_group(g, work_dir(a.work, g), a.max_children, a.time_limit)
    if a.survivors:
        for g in groups:
            rows = survivors(work_dir(a.work, g))
            for r in rows:
                print(f"## {r['name']}  [{r['class']}]")
                print("\n".join(changed_lines(r["diff"])))
            print(f"== {g}: {len(rows)} survived")
    print(report(a.work, groups))
    return rc


if __name__ == "__main__":
    sys.exit(main())
