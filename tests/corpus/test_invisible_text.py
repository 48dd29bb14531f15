"""Zero-width and bidi control characters never make a second unit or a different name (issue 16,
finding 6): one normalisation (NFC, invisible characters removed) at every intake, duplicates found
after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import SubmissionVersion, Unit
from models.registry import find_unit_by_name
from tasks.registry.directory import RegistryImportError, import_registry
from tests.submissions.conftest import World, filled_workbook, world  # noqa: F401  (fixture)

PROJECT = Path(__file__).resolve().parents[2]
HEADER = (
    "ma_dinh_danh,ten,ten_viet_tat,loai,don_vi_cap_tren,hieu_luc_tu,hieu_luc_den,don_vi_ke_thua,ten_goi_khac"
)


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "units.csv"
    path.write_text(f"{HEADER}\n{text}", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "hidden",
    [
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u200e",
        "\u200f",
        "\u202a",
        "\u202e",
        "\u2066",
        "\u2069",
    ],
)
def test_normalize_text_removes_every_invisible_control(hidden: str) -> None:
    from tasks.common.text import normalize_text

    assert normalize_text(f"Sở Y{hidden} tế") == "Sở Y tế"


def test_a_zero_width_twin_of_a_unit_is_a_duplicate(session: Session, tmp_path: Path) -> None:
    import_registry(session=session, paths=[_csv(tmp_path, "SYT,Sở Y tế,,,,,,,\n")])
    session.commit()
    with pytest.raises(RegistryImportError) as caught:
        import_registry(session=session, paths=[_csv(tmp_path, "SYT2,Sở Y\u200b tế,,,,,,,\n")])
    assert [i.key for i in caught.value.issues] == ["alias_conflict"]
    session.rollback()
    assert [u.code for u in session.exec(select(Unit))] == ["SYT"]


def test_a_zero_width_code_is_the_same_code_and_names_are_stored_clean(
    session: Session, tmp_path: Path
) -> None:
    with pytest.raises(RegistryImportError) as caught:
        import_registry(
            session=session,
            paths=[_csv(tmp_path, "STC,Sở Tài chính,,,,,,,\nSTC\u200b,Sở Tài\u202e chính 2,,,,,,,\n")],
        )
    assert [i.key for i in caught.value.issues] == ["duplicate_code"]
    session.rollback()
    import_registry(session=session, paths=[_csv(tmp_path, "STC\ufeff,Sở Tài\u200b chính\u202c,,,,,,,\n")])
    session.commit()
    unit = session.exec(select(Unit)).one()
    assert (unit.code, unit.name) == ("STC", "Sở Tài chính")
    assert find_unit_by_name(session=session, name="Sở\u200b Tài chính") is not None


def test_cli_arguments_are_normalised(world: World, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "syt.xlsx"
    path.write_bytes(filled_workbook(world))
    done = subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "submissions", "import", str(path)]
        + ["--unit", "S\u200bY\u202eT", "--year", "2027", "--as-of", "2026-09-15"],
        env=os.environ | {"PYTHONIOENCODING": "utf-8"},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    world.session.expire_all()
    assert len(world.session.exec(select(SubmissionVersion)).all()) == 1
