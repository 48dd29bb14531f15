"""The simulation's words, from ``templates/simulation/simulation.vi.yaml``."""

from __future__ import annotations

from typing import Any

from templates import load_yaml


def simulation_texts() -> dict[str, Any]:
    return load_yaml("simulation/simulation.vi.yaml")
