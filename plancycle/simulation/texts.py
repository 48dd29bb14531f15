"""The simulation's words, from ``templates/simulation/simulation.vi.yaml``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from templates import TEMPLATES_DIR


@lru_cache
def simulation_texts() -> dict[str, Any]:
    with (TEMPLATES_DIR / "simulation" / "simulation.vi.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)
