"""``bench/run_all.py``: every benchmark reports every figure with a target, in one table; the simulation
is measured from outside (wall time, memory of its whole process tree) and never passes silently."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from bench import run_all
from bench.common import Figure

ROOT = Path(__file__).resolve().parents[2]

# Every figure with a target, per benchmark. A benchmark that stops reporting one fails this test.
EXPECTED = {
    "notifications": {"messages_per_s", "speedup", "peak_rss_mb", "not_sent", "rerun_sent"},
    "intake": {"ingest_s_per_workbook", "ingest_total_s"},
    "consolidation": {"totals_s", "excel_s", "peak_rss_mb", "wrong_totals"},
    "portal": {
        "throughput_ratio",
        "upload_p95_s",
        "health_p99_ms",
        "peak_rss_mb",
        "errors",
        "lost",
        "notices_missing",
    },
}


def _first_table(text: str) -> list[list[str]]:
    """The rows of the first Markdown table printed, without its header and rule."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| benchmark"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_quick_run_prints_every_figure_with_its_target(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/run_all.py",
            "--quick",
            "--skip-simulation",
            "--jobs",
            "3",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 0 or 1: targets are for full sizes; a quick run may miss one. 2 means a crash or a missing figure.
    assert done.returncode in (0, 1), done.stdout + done.stderr

    rows = _first_table(done.stdout)
    assert len(rows) == sum(map(len, EXPECTED.values())), done.stdout
    for benchmark, _figure, measured, target, _baseline, _ratio, result in rows:
        assert benchmark in EXPECTED
        assert re.match(r"^[≤≥] \d", target), target
        assert measured[0].isdigit(), measured
        assert result in ("PASS", "FAIL")
    assert "simulation: skipped (--skip-simulation)" in done.stdout

    report = json.loads(out.read_text(encoding="utf-8"))
    by_name = {b["name"]: b for b in report["benchmarks"]}
    assert set(by_name) == set(EXPECTED)
    for name, keys in EXPECTED.items():
        assert {f["key"] for f in by_name[name]["figures"]} == keys
        assert by_name[name]["problem"] == "" and by_name[name]["missing"] == []
        for figure in by_name[name]["figures"]:
            for number in ("value", "target"):
                assert isinstance(figure[number], int | float) and not isinstance(figure[number], bool)
            assert figure["baseline"] is None or isinstance(figure["baseline"], int | float)
            assert figure["direction"] in ("<=", ">=") and isinstance(figure["passed"], bool)
    # each benchmark's own baseline, measured in the same run
    baselines = {(b, f["key"]) for b, r in by_name.items() for f in r["figures"] if f["baseline"]}
    assert {("notifications", "messages_per_s"), ("consolidation", "totals_s")} <= baselines


FAKE_PLANCYCLE = textwrap.dedent(
    """
    import json, subprocess, sys, time

    args = sys.argv[1:]
    if args == ["simulate", "--help"]:
        sys.exit(0)
    out = args[args.index("--json") + 1]
    # a worker holding 60 MB, and one that outlives this process (run_all must stop it)
    worker = subprocess.Popen([sys.executable, "-c", "x = b'w' * (60 << 20); import time; time.sleep(1.5)"])
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    own = b"o" * (30 << 20)
    time.sleep(1.0)
    worker.wait()
    stages = [{"key": "open", "label": "Mở kỳ", "seconds": 0.5}, {"key": "collect", "seconds": 1.0}]
    json.dump({"wall_seconds": 1.5, "stages": stages, "files": ["plan.xlsx"]}, open(out, "w"))
    sys.exit(int(args[args.index("--units") + 1] == "13"))
    """
)


def test_simulation_is_measured_from_outside(tmp_path: Path) -> None:
    fake = tmp_path / "fake_plancycle.py"
    fake.write_text(FAKE_PLANCYCLE)
    outcome = run_all.run_simulation([sys.executable, str(fake)], units=20, workdir=tmp_path)

    assert not outcome.broken, outcome.problem
    figures = {f.key: f for f in outcome.figures}
    assert set(figures) == set(run_all.SIMULATION_FIGURES)
    assert figures["wall_seconds"].value >= 1.0
    context = {m.key: m.value for m in outcome.context}
    assert context["own_peak_mb"] >= 30
    assert figures["peak_tree_mb"].value >= context["own_peak_mb"] + 60  # the worker's memory counts
    assert context["stages"] == 2 and context["files"] == 1
    assert context["stage_open"] == 0.5 and context["stage_collect"] == 1.0
    assert outcome.run is not None and len(outcome.run.leftovers) == 1  # found and stopped
    assert "time.sleep(60)" in outcome.run.leftovers[0]
    assert run_all.exit_code([outcome]) == 0
    assert [row[1] for row in run_all.figure_rows([outcome])] == [
        "simulation 20 units: wall time",
        "simulation 20 units: peak memory (process tree)",
    ]


def test_simulation_that_cannot_run_is_not_a_pass(tmp_path: Path) -> None:
    missing = [
        sys.executable,
        "-c",
        "import sys; print(\"No such command 'simulate'.\", file=sys.stderr); sys.exit(2)",
    ]
    outcome = run_all.run_simulation(missing, units=500, workdir=tmp_path / "a")
    assert outcome.problem == "not run: `plancycle simulate` does not exist yet"
    assert run_all.exit_code([outcome]) == 2
    rows = run_all.figure_rows([outcome])
    assert [(r[1], r[3], r[6]) for r in rows] == [
        ("simulation 500 units: wall time", "≤ 900 s", "NOT RUN"),
        ("simulation 500 units: peak memory (process tree)", "≤ 2,048 MB", "NOT RUN"),
    ]

    fake = tmp_path / "fake_plancycle.py"
    fake.write_text(FAKE_PLANCYCLE)
    crashed = run_all.run_simulation([sys.executable, str(fake)], units=13, workdir=tmp_path / "b")
    assert crashed.problem == "crashed (exit 1)" and run_all.exit_code([crashed]) == 2


def test_a_figure_not_reported_counts_as_a_crash() -> None:
    reported = Figure("ingest_s_per_workbook", "ingest: per workbook", 0.05, "s", 0.12, "<=")
    outcome = run_all.Outcome("intake", ("ingest_s_per_workbook", "ingest_total_s"), figures=[reported])
    assert outcome.missing == ["ingest_total_s"] and run_all.exit_code([outcome]) == 2
    assert run_all.figure_rows([outcome])[1][2:] == (
        "not reported",
        "(set by the benchmark)",
        "—",
        "—",
        "CRASH",
    )
