"""The simulated province: the leadership, the coordinating department, the appraising department and N
units asked for proposals. The first units are the demo province's real departments and localities
(`plancycle/demo/units.csv`); beyond them, communes with generated names. Written as the registry files a
province would import (the same CSV columns as docs/unit-registry.md), so the simulation starts with the
`import-units` flow like a real installation."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from models.registry import unit_name_key
from plancycle.settings import PROJECT_ROOT
from plancycle.simulation.texts import simulation_texts

DEMO_UNITS = PROJECT_ROOT / "plancycle" / "demo" / "units.csv"
LEADERSHIP = "UBND"  # the People's Committee: approves the plan
COORDINATOR = "SKHCN"  # the coordinating department
APPRAISER = "STC"  # the Department of Finance: appraises the budget
UNIT_COLUMNS = [
    "ma_dinh_danh",
    "ten",
    "ten_viet_tat",
    "loai",
    "don_vi_cap_tren",
    "hieu_luc_tu",
    "hieu_luc_den",
]
CONTACT_COLUMNS = ["ma_don_vi", "ho_ten", "chuc_vu", "vai_tro", "email", "zalo_user_id", "kenh"]


@dataclass(frozen=True)
class SimulatedUnit:
    code: str
    name: str
    short_name: str
    kind: str  # the registry file's word: so_ban_nganh, su_nghiep, huyen, xa_phuong, lanh_dao_tinh, khac
    parent: str
    zalo: bool  # the officer also wants Zalo messages

    @property
    def officer_email(self) -> str:
        return f"{self.code.lower()}.chuyenvien@example.org"

    @property
    def head_email(self) -> str:
        return f"{self.code.lower()}.lanhdao@example.org"

    @property
    def zalo_user_id(self) -> str:
        # a stable 18-digit id per unit, the shape Zalo gives an OA follower
        return str(10**17 + int.from_bytes(self.code.encode()[:7], "big") % 10**17)


@dataclass(frozen=True)
class Province:
    leadership: list[SimulatedUnit]
    requested: list[SimulatedUnit]  # the coordinator and the units asked for proposals

    @property
    def codes(self) -> list[str]:
        """The units asked for proposals (not the coordinator, who runs the cycle)."""
        return [u.code for u in self.requested if u.code != COORDINATOR]

    def unit(self, code: str) -> SimulatedUnit:
        return next(u for u in self.leadership + self.requested if u.code == code)

    @property
    def approver_emails(self) -> dict[str, str]:
        return {APPRAISER: "stc.thamdinh@example.org", LEADERSHIP: "ubnd.chutich@example.org"}


def build_province(units: int, seed: int) -> Province:
    """``units`` units to ask: the demo province's active units first, then generated communes."""
    with DEMO_UNITS.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["hieu_luc_den"]]
    leadership, requested = [], []
    for row in rows:
        unit = SimulatedUnit(
            code=row["ma_dinh_danh"],
            name=row["ten"],
            short_name=row["ten_viet_tat"],
            kind=row["loai"],
            parent=row["don_vi_cap_tren"],
            zalo=False,
        )
        (leadership if unit.kind == "lanh_dao_tinh" else requested).append(unit)
    # the coordinator and the appraiser are always among the first units
    requested.sort(key=lambda u: (u.code not in (COORDINATOR, APPRAISER), rows.index(_row(rows, u.code))))
    # the coordinator runs the cycle and is not asked itself: ``units`` others are
    requested = requested[: units + 1]
    taken = {u.name for u in leadership + requested}
    names = _commune_names(units + 1 - len(requested), random.Random(seed), taken)
    for number, name in enumerate(names, start=1):
        requested.append(
            SimulatedUnit(
                code=f"XA{number:04d}",
                name=f"Ủy ban nhân dân {name}",
                short_name=f"UBND {name}",
                kind="xa_phuong",
                parent=LEADERSHIP,
                zalo=False,
            )
        )
    # every third unit's officer also follows the province's Zalo Official Account
    requested = [
        SimulatedUnit(u.code, u.name, u.short_name, u.kind, u.parent, zalo=index % 3 == 1)
        for index, u in enumerate(requested)
    ]
    return Province(leadership=leadership, requested=requested)


def _row(rows: list[dict[str, str]], code: str) -> dict[str, str]:
    return next(r for r in rows if r["ma_dinh_danh"] == code)


def _commune_names(count: int, rng: random.Random, taken: set[str]) -> list[str]:
    """Distinct commune and ward names built from Central Highlands place-name parts. The registry refuses
    two units whose names differ only by accents or by «xã»/«phường», so the place name itself is new."""
    texts = simulation_texts()["place_names"]
    used = {unit_name_key(name) for name in taken}

    def keys(place: str) -> set[str]:
        return {unit_name_key(f"Ủy ban nhân dân {kind} {place}") for kind in ("xã", "phường")}

    names: list[str] = []
    while len(names) < count:
        base = f"{rng.choice(texts['first'])} {rng.choice(texts['second'])}"
        place, suffix = base, 2
        while keys(place) & used:
            place, suffix = f"{base} {suffix}", suffix + 1
        used |= keys(place)
        names.append(f"{'phường' if rng.random() < 0.2 else 'xã'} {place}")
    return names


def write_registry(province: Province, folder: Path) -> list[Path]:
    """``units.csv`` and ``contacts.csv`` in the registry import format."""
    folder.mkdir(parents=True, exist_ok=True)
    units_path, contacts_path = folder / "units.csv", folder / "contacts.csv"
    with units_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(UNIT_COLUMNS)
        for unit in province.leadership + province.requested:
            writer.writerow([unit.code, unit.name, unit.short_name, unit.kind, unit.parent, "", ""])
    people = simulation_texts()["people"]
    with contacts_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CONTACT_COLUMNS)
        for index, unit in enumerate(province.requested):
            if unit.code == COORDINATOR:  # the staff who run the cycle: escalations and digests go to them
                coordinator = "tonghop.skhcn@example.org"
                writer.writerow([unit.code, people[-1], "Chuyên viên", "dieu_phoi", coordinator, "", "email"])
            writer.writerow(
                [
                    unit.code,
                    people[index % len(people)],
                    "Chuyên viên",
                    "chuyen_vien",
                    unit.officer_email,
                    unit.zalo_user_id if unit.zalo else "",
                    "email,zalo" if unit.zalo else "email",
                ]
            )
            writer.writerow(
                [
                    unit.code,
                    people[(index + 7) % len(people)],
                    "Thủ trưởng",
                    "thu_truong",
                    unit.head_email,
                    "",
                    "email",
                ]
            )
        for code, email in province.approver_emails.items():
            title = "Chủ tịch" if code == LEADERSHIP else "Phó Giám đốc"
            writer.writerow([code, people[len(email) % len(people)], title, "phe_duyet", email, "", "email"])
    return [units_path, contacts_path]
