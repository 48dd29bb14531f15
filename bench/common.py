"""What every benchmark reports, in one format: figures with a target (and the baseline measured in the same
run, where there is one), plus measurements without a target that help read them. Each ``bench_*.py``
writes this with ``--json PATH``; ``run_all.py`` reads it and prints one table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

# Memory is "less"/"more" than the baseline; everything else with a baseline is time or throughput.
_RATIO_WORDS = {"MB": ("less", "more")}


@dataclass(frozen=True)
class Figure:
    """A measured value judged against a target; ``baseline`` is the naive way, measured in the same run."""

    key: str  # stable identifier, e.g. "messages_per_s"; run_all.py checks that none goes missing
    name: str  # what a person reads in the table
    value: float
    unit: str
    target: float
    direction: Literal["<=", ">="]  # "<=": lower is better; ">=": higher is better
    baseline: float | None = None
    baseline_name: str = ""  # what the baseline is ("one Prefect task per message")

    @property
    def passed(self) -> bool:
        return self.value <= self.target if self.direction == "<=" else self.value >= self.target

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (above 1: better, below 1: worse)."""
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.baseline / self.value if self.direction == "<=" else self.value / self.baseline

    def ratio_text(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "—"
        better, worse = _RATIO_WORDS.get(self.unit, ("faster", "slower"))
        if abs(ratio - 1) < 0.05:
            return "≈ same"
        return f"{ratio:,.1f}× {better}" if ratio > 1 else f"{1 / ratio:,.1f}× {worse}"

    def target_text(self) -> str:
        return f"{'≤' if self.direction == '<=' else '≥'} {with_unit(self.target, self.unit)}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclass(frozen=True)
class Measurement:
    """A measured value without a target (the naive way's CPU per message, the machine's load…)."""

    key: str
    name: str
    value: float
    unit: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def number(value: float) -> str:
    """A figure rounded for reading: 1,065 / 73.0 / 1.16 / 0.047."""
    if value == int(value):
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def with_unit(value: float, unit: str) -> str:
    """1,065 messages/s, 0.093 s, 16.1×."""
    return f"{number(value)}{unit}" if unit == "×" else f"{number(value)} {unit}".rstrip()


def write_report(
    path: Path,
    *,
    benchmark: str,
    parameters: dict[str, Any],
    figures: list[Figure],
    context: list[Measurement],
) -> None:
    """Write one benchmark's figures (the ``--json`` option of every ``bench_*.py``)."""
    report = {
        "benchmark": benchmark,
        "parameters": parameters,
        "figures": [f.as_dict() for f in figures],
        "context": [asdict(m) for m in context],
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def read_report(path: Path) -> tuple[list[Figure], list[Measurement]]:
    """The figures and measurements a benchmark wrote; raises if the file is missing or malformed."""
    report = json.loads(path.read_text(encoding="utf-8"))
    figures = [Figure.from_dict(f) for f in report["figures"]]
    context = [Measurement.from_dict(m) for m in report.get("context", [])]
    numbers = [(m.key, m.value) for m in context]
    for f in figures:
        numbers += [(f.key, f.value), (f.key, f.target)] + (
            [(f.key, f.baseline)] if f.baseline is not None else []
        )
        if f.direction not in ("<=", ">="):
            raise ValueError(f"{f.key}: direction {f.direction!r} is neither <= nor >=")
    for key, value in numbers:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{key}: {value!r} is not a number")
    return figures, context


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table with aligned columns: readable in a terminal, pasteable into docs/."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
