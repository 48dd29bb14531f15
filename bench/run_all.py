"""Every benchmark of the project in one command, and one table of figures, targets and baselines:

    ./dev bench [--quick] [--only NAME[,NAME]] [--skip-simulation] [--jobs N] [--json OUT] [--verbose]

Each benchmark (``bench/bench_*.py``) runs in its own process and writes its figures with ``--json``;
its baseline (the naive way) is measured in the same run. Then the whole yearly cycle runs with
``plancycle simulate`` for 500 units, in a fresh temporary folder; its wall time and the peak memory of
its process tree (every process it starts, RSS summed, polled every 0.2 s) are measured from here.
``--quick`` uses tiny sizes (the plumbing works; the figures mean little). See docs/benchmarks.md.

Exit code: 0 every target met, 1 a target missed, 2 a benchmark crashed, did not report a figure, or
could not run (the simulation counts: skip it explicitly with ``--skip-simulation``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Figure, Measurement, format_table, read_report, with_unit  # noqa: E402

POLL_SECONDS = 0.2
SIMULATION = "simulation"
SIMULATION_YEAR = 2027
SIMULATION_UNITS = {"full": 500, "quick": 20}
# A first guess for the whole cycle on the 2-core machine, explained in docs/benchmarks.md.
SIMULATION_WALL_TARGET_S = 15 * 60
SIMULATION_TREE_TARGET_MB = 2048
SIMULATION_TIMEOUT_S = 3 * SIMULATION_WALL_TARGET_S


@dataclass(frozen=True)
class Benchmark:
    """One ``bench/bench_*.py``: its options for a full and a quick run, and the figures it must report."""

    name: str
    quick_args: tuple[str, ...]
    figures: tuple[str, ...]
    full_args: tuple[str, ...] = ()

    @property
    def script(self) -> Path:
        return ROOT / "bench" / f"bench_{self.name}.py"


BENCHMARKS = (
    Benchmark(
        "notifications",
        ("--recipients", "40", "--naive-recipients", "20"),
        ("messages_per_s", "speedup", "peak_rss_mb", "not_sent", "rerun_sent"),
    ),
    Benchmark("intake", ("--workbooks", "4", "--rows", "5"), ("ingest_s_per_workbook", "ingest_total_s")),
    Benchmark(
        "consolidation",
        ("--items", "2000", "--units", "50"),
        ("totals_s", "excel_s", "peak_rss_mb", "wrong_totals"),
    ),
    Benchmark(
        "portal",
        ("--units", "12", "--clients", "4", "--max-rows", "200"),
        (
            "throughput_ratio",
            "upload_p95_s",
            "health_p99_ms",
            "peak_rss_mb",
            "errors",
            "lost",
            "notices_missing",
        ),
    ),
)
SIMULATION_FIGURES = ("wall_seconds", "peak_tree_mb")
NAMES = (*(b.name for b in BENCHMARKS), SIMULATION)


@dataclass
class ProcessRun:
    """One process run from here: exit code, wall time, and memory seen from outside."""

    command: list[str]
    returncode: int | None = None
    wall_seconds: float = 0.0
    tree_peak_mb: float = 0.0  # largest sum of RSS over the process and every process it started
    own_peak_mb: float = 0.0  # the process's own high-water mark (VmHWM)
    leftovers: list[str] = field(default_factory=list)  # still running 1 s after it exited (then stopped)
    timed_out: bool = False
    load_before: float = 0.0
    load_after: float = 0.0
    stdout: Path | None = None
    stderr: Path | None = None

    def tail(self, lines: int = 25, *, streams: tuple[str, ...] = ("stderr", "stdout")) -> str:
        """The end of what the process wrote (stderr, else stdout), to show when it crashed."""
        for path in (getattr(self, name) for name in streams):
            if path and path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").rstrip()
                if text:
                    return "\n".join(text.splitlines()[-lines:])
        return "(no output)"


@dataclass
class Outcome:
    """What one benchmark (or the simulation) produced: figures, or why there are none."""

    name: str
    expected: tuple[str, ...]
    figures: list[Figure] = field(default_factory=list)
    context: list[Measurement] = field(default_factory=list)
    run: ProcessRun | None = None
    problem: str = ""  # "crashed (exit 1)", "not run: …"; empty when the benchmark reported
    result_word: str = "CRASH"
    # name and target of a figure known before the run, shown when it is missing
    placeholders: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        reported = {f.key for f in self.figures}
        return [key for key in self.expected if key not in reported]

    @property
    def broken(self) -> bool:
        return bool(self.problem or self.missing)


def _own_peak_mb(pid: int) -> float:
    """VmHWM: the process's peak RSS so far, exact between two polls (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_measured(
    command: list[str],
    *,
    cwd: Path,
    logs: Path,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> ProcessRun:
    """Run ``command``, polling the memory of it and of every process it starts until it exits."""
    run = ProcessRun(command=command, stdout=logs / "stdout.txt", stderr=logs / "stderr.txt")
    logs.mkdir(parents=True, exist_ok=True)
    run.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with run.stdout.open("wb") as out, run.stderr.open("wb") as err:
        process = psutil.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        # Processes are remembered once seen, so one the child orphaned is still counted (and stopped).
        seen: dict[int, psutil.Process] = {process.pid: process}
        try:
            while process.poll() is None:
                if timeout is not None and time.perf_counter() - started > timeout:
                    run.timed_out = True
                    break
                try:
                    for child in process.children(recursive=True):
                        seen.setdefault(child.pid, child)
                except psutil.NoSuchProcess:
                    pass
                total = 0
                for pid, member in list(seen.items()):
                    try:
                        total += member.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.ZombieProcess):
                        if pid != process.pid:
                            del seen[pid]
                    except psutil.AccessDenied:
                        pass
                run.tree_peak_mb = max(run.tree_peak_mb, total / 2**20)
                run.own_peak_mb = max(run.own_peak_mb, _own_peak_mb(process.pid))
                with contextlib.suppress(psutil.TimeoutExpired):
                    process.wait(POLL_SECONDS)  # returns at once when it exits: the wall time stays exact
        finally:
            run.wall_seconds = time.perf_counter() - started
            stragglers = [p for pid, p in seen.items() if pid != process.pid and _alive(p)]
            if process.poll() is None:
                stragglers.insert(0, process)
            else:
                # helpers that end with their parent (multiprocessing's resource tracker) get a moment
                deadline = time.monotonic() + 1
                while stragglers and time.monotonic() < deadline:
                    time.sleep(0.05)
                    stragglers = [p for p in stragglers if _alive(p)]
                run.leftovers = [_describe(p) for p in stragglers]
            _stop(stragglers)
            run.returncode = process.wait()
    run.load_after = os.getloadavg()[0]
    return run


def _alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (an orphan that ended may wait a while to be reaped)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _describe(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:120] or process.name()
    except psutil.Error:
        return f"pid {process.pid}"


def _stop(processes: list[psutil.Process]) -> None:
    """Terminate processes started by a run (each by its own id), then kill those that stay."""
    for member in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(processes, timeout=10)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_benchmark(benchmark: Benchmark, *, quick: bool, workdir: Path) -> Outcome:
    """One ``bench_*.py`` in its own process; its figures read from the JSON it writes."""
    outcome = Outcome(benchmark.name, benchmark.figures)
    report = workdir / f"{benchmark.name}.json"
    args = benchmark.quick_args if quick else benchmark.full_args
    command = [sys.executable, str(benchmark.script), *args, "--json", str(report)]
    outcome.run = run = run_measured(command, cwd=ROOT, logs=workdir / benchmark.name)
    # A benchmark exits 1 when it misses a target; its figures say so. Without its report, it crashed.
    if not report.exists() or run.returncode not in (0, 1):
        outcome.problem = f"crashed (exit {run.returncode})"
        return outcome
    try:
        outcome.figures, outcome.context = read_report(report)
    except (ValueError, KeyError, TypeError) as error:
        outcome.problem = f"unreadable report: {error}"
    return outcome


def run_simulation(plancycle: list[str], *, units: int, workdir: Path) -> Outcome:
    """``plancycle simulate`` for ``units`` units in a fresh folder: wall time and memory from outside."""
    title = f"simulation {units} units"
    wall = Figure("wall_seconds", f"{title}: wall time", 0, "s", SIMULATION_WALL_TARGET_S, "<=")
    tree = Figure(
        "peak_tree_mb", f"{title}: peak memory (process tree)", 0, "MB", SIMULATION_TREE_TARGET_MB, "<="
    )
    outcome = Outcome(
        SIMULATION,
        SIMULATION_FIGURES,
        result_word="NOT RUN",
        placeholders={f.key: (f.name, f.target_text()) for f in (wall, tree)},
    )
    folder = workdir / SIMULATION
    folder.mkdir(parents=True, exist_ok=True)
    # Its own Prefect home and server (a free port: a Prefect server already answering on the usual one
    # would be reused, and its memory would not count), and no inherited database: nothing of a
    # developer's stack is touched, and every process of the cycle is in the measured tree.
    inherited = (
        "PREFECT_API_URL",
        "PLANCYCLE_PREFECT_API_URL",
        "PLANCYCLE_DATABASE_URL",
        "PLANCYCLE_DATA_DIR",
    )
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env["PREFECT_HOME"] = str(folder / "prefect-home")
    env["PLANCYCLE_PREFECT_PORT"] = str(_free_port())
    try:
        probe = run_measured([*plancycle, "simulate", "--help"], cwd=folder, logs=folder / "probe", env=env)
    except OSError as error:  # no plancycle command at all
        outcome.problem = f"not run: {error}"
        return outcome
    if probe.returncode != 0:
        if "No such command" in probe.tail(40):
            outcome.problem = "not run: `plancycle simulate` does not exist yet"
        else:
            outcome.problem = f"not run: `plancycle simulate --help` exited {probe.returncode}"
        outcome.run = probe
        return outcome
    report = folder / "simulation.json"
    command = [
        *plancycle,
        "simulate",
        "--year",
        str(SIMULATION_YEAR),
        "--units",
        str(units),
        "--data-dir",
        str(folder / "data"),
        "--json",
        str(report),
    ]
    outcome.result_word = "CRASH"
    outcome.run = run = run_measured(
        command, cwd=folder, logs=folder / "logs", env=env, timeout=SIMULATION_TIMEOUT_S
    )
    if run.timed_out:
        outcome.problem = f"stopped after {SIMULATION_TIMEOUT_S / 60:.0f} min"
        return outcome
    if run.returncode != 0 or not report.exists():
        outcome.problem = f"crashed (exit {run.returncode})"
        return outcome
    try:
        said = json.loads(report.read_text(encoding="utf-8"))
        reported_wall = float(said["wall_seconds"])
        stages, files = said["stages"], said["files"]
    except (ValueError, KeyError, TypeError) as error:
        outcome.problem = f"unreadable report: {error!r}"
        return outcome
    outcome.figures = [replace(wall, value=run.wall_seconds), replace(tree, value=run.tree_peak_mb)]
    outcome.context = [
        Measurement(
            "own_peak_mb", f"{title}: peak RSS of the simulate process itself", run.own_peak_mb, "MB"
        ),
        Measurement("reported_wall_seconds", f"{title}: wall time it reports", reported_wall, "s"),
        Measurement("stages", f"{title}: stages run", len(stages), "stages"),
        Measurement("files", f"{title}: files produced", len(files), "files"),
    ]
    # the time of each stage, when the simulation reports it (beyond the contract: read if present)
    for stage in stages:
        if isinstance(stage, dict) and isinstance(stage.get("seconds"), int | float):
            label = stage.get("label") or stage.get("key", "?")
            outcome.context.append(
                Measurement(f"stage_{stage.get('key')}", f"stage: {label}", stage["seconds"], "s")
            )
    return outcome


def figure_rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    """One row per expected figure: measured, target, baseline, ratio, PASS/FAIL (or why it is missing)."""
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        for f in outcome.figures:
            baseline = "—" if f.baseline is None else with_unit(f.baseline, f.unit)
            verdict = "PASS" if f.passed else "FAIL"
            rows.append(
                (
                    outcome.name,
                    f.name,
                    with_unit(f.value, f.unit),
                    f.target_text(),
                    baseline,
                    f.ratio_text(),
                    verdict,
                )
            )
        for key in outcome.missing:
            name, target = outcome.placeholders.get(key, (key, "(set by the benchmark)"))
            why = outcome.problem or "not reported"
            rows.append((outcome.name, name, why, target, "—", "—", outcome.result_word))
    return rows


def context_rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    rows = []
    for outcome in outcomes:
        for m in outcome.context:
            rows.append((outcome.name, m.name, with_unit(m.value, m.unit)))
        if outcome.run and outcome.result_word != "NOT RUN":
            run = outcome.run
            rows.append(
                (
                    outcome.name,
                    "whole run, seen from outside: wall / process tree peak RSS",
                    f"{run.wall_seconds:,.1f} s / {run.tree_peak_mb:,.0f} MB",
                )
            )
            rows.append(
                (
                    outcome.name,
                    "machine load (1-min average) before → after",
                    f"{run.load_before:.1f} → {run.load_after:.1f}",
                )
            )
        for leftover in outcome.run.leftovers if outcome.run else []:
            rows.append((outcome.name, "left running after it exited (then stopped)", leftover))
    return rows


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Everything measured, for ``--json OUT``."""
    return {
        "benchmarks": [
            {
                "name": o.name,
                "problem": o.problem,
                "missing": o.missing,
                "figures": [f.as_dict() for f in o.figures],
                "context": [vars(m) for m in o.context],
                "run": None
                if o.run is None
                else {
                    "command": o.run.command,
                    "returncode": o.run.returncode,
                    "wall_seconds": o.run.wall_seconds,
                    "tree_peak_mb": o.run.tree_peak_mb,
                    "own_peak_mb": o.run.own_peak_mb,
                    "load_before": o.run.load_before,
                    "load_after": o.run.load_after,
                    "leftovers": o.run.leftovers,
                },
            }
            for o in outcomes
        ]
    }


def exit_code(outcomes: list[Outcome]) -> int:
    if any(o.broken for o in outcomes):
        return 2
    return 0 if all(f.passed for o in outcomes for f in o.figures) else 1


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(NAMES)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the plumbing, not the speed")
    parser.add_argument("--only", type=_names, default=list(NAMES), help=f"some of: {','.join(NAMES)}")
    parser.add_argument("--skip-simulation", action="store_true", help="do not run `plancycle simulate`")
    parser.add_argument(
        "--jobs", type=int, default=1, help="benchmarks run side by side (figures then disturb each other)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--verbose", action="store_true", help="also print each benchmark's own output")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if b.name in args.only]
    simulate = SIMULATION in args.only and not args.skip_simulation
    size = "quick" if args.quick else "full"

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started_at = datetime.now().astimezone()
    load_start = os.getloadavg()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)

        def one(benchmark: Benchmark) -> Outcome:
            progress(f"… {benchmark.name}")
            outcome = run_benchmark(benchmark, quick=args.quick, workdir=workdir)
            _report_progress(outcome, progress, verbose=args.verbose)
            return outcome

        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            outcomes.extend(pool.map(one, chosen))
        if simulate:
            units = SIMULATION_UNITS[size]
            progress(f"… simulation, {units} units")
            plancycle = [str(Path(sys.executable).with_name("plancycle"))]
            outcome = run_simulation(plancycle, units=units, workdir=workdir)
            _report_progress(outcome, progress, verbose=args.verbose)
            outcomes.append(outcome)

    load_end = os.getloadavg()
    print(
        f"plancycle benchmarks, {started_at:%Y-%m-%d %H:%M %Z}, {size} run, {os.cpu_count()} cores, "
        f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_start)} at start, "
        f"{'/'.join(f'{x:.1f}' for x in load_end)} at end"
    )
    print()
    header = ("benchmark", "figure", "measured", "target", "baseline", "ratio", "result")
    print(format_table(header, figure_rows(outcomes)))
    baselines = sorted({(o.name, f.baseline_name) for o in outcomes for f in o.figures if f.baseline_name})
    if baselines:
        print()
        print("Baselines, measured in the same run: " + "; ".join(f"{n}: {b}" for n, b in baselines) + ".")
    extra = context_rows(outcomes)
    if extra:
        print()
        print("Other measurements (no target):")
        print()
        print(format_table(("benchmark", "measurement", "value"), extra))
    if SIMULATION in args.only and args.skip_simulation:
        print()
        print("simulation: skipped (--skip-simulation)")
    if args.json:
        report = {
            "started": started_at.isoformat(),
            "size": size,
            "cores": os.cpu_count(),
            **summary(outcomes),
        }
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return exit_code(outcomes)


def _report_progress(outcome: Outcome, progress: Callable[[str], None], *, verbose: bool) -> None:
    run = outcome.run
    took = f" in {run.wall_seconds:,.1f} s (exit {run.returncode})" if run else ""
    problem = f": {outcome.problem}" if outcome.problem else ""
    progress(f"{'✗' if outcome.broken else '✓'} {outcome.name}{took}{problem}")
    if outcome.missing and not outcome.problem:
        progress(f"  figures not reported: {', '.join(outcome.missing)}")
    if run and verbose:
        progress(_indent(run.tail(200, streams=("stdout",))))
    if run and outcome.problem.startswith(("crashed", "unreadable", "stopped")):
        progress(_indent(run.tail(25)))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
