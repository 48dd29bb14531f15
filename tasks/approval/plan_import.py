"""A plan issued outside plancycle, taken in as a year's issued plan: the first year of a province starts
from last year's published appendix.

``read_appendix`` reads the appendix as the province has it (an ``.xlsx`` sheet or a CSV file, the layouts
``plancycle check-plan`` reads: ``totals_table`` finds the header, the money columns and the unit) into
items with their lead unit as written, amounts per funding source in đồng, group, field, origin, period
and notes. ``read_statuses`` reads last year's statuses (an Annex 01 layout: STT, name, status).

``import_issued_plan`` stores it the way an issued plan is stored after the approval chain: the cycle of
the year with its decision number and date (read from "Kèm theo Quyết định số …" above the table when
present), its funding sources and fields, the plan items with proposed = approved amounts, and a final
plan version; so next year's workbooks prefill its unfinished items as carry-over, Annex 01 lists it with
the statuses, and the consolidation compares with it. All in the caller's transaction, all or nothing:
lead units unknown to the registry are listed with suggestions and nothing is written. Importing the same
content again changes nothing; different content for the same year is refused with the differences,
unless ``replace`` (and no later cycle uses the items yet).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from openpyxl import load_workbook
from pydantic import BaseModel
from sqlmodel import Session, col, select

from models.audit import AuditEntry, record_audit
from models.base import MONEY_UNIT_FACTOR, CycleStatus, FundingGroup, ItemOrigin, ItemStatus, nfc
from models.cycle import (
    ApplicationField,
    FundingSource,
    PlanningCycle,
    get_cycle_by_year,
    list_application_fields,
    list_funding_sources,
)
from models.items import ItemStatusReport, PlanItem, PlanItemAmount, SubmissionItem
from models.progress import ProgressEntry
from models.registry import Unit
from tasks.approval.versions import freeze_version
from tasks.common.money import MoneyFormatError, parse_money
from tasks.common.text import ascii_slug, clean, fold
from tasks.consolidation.totals_report import AmountColumn
from tasks.consolidation.totals_table import (
    DASHES,
    SCALE_UNITS,
    Grid,
    cell_text,
    column_paths,
    csv_grid,
    find_amount_columns,
    find_header,
    format_scale,
    header_end,
    is_number,
    sheet_grid,
    stated_unit,
    table_scale,
    unit_below,
)
from tasks.errors import PlancycleError
from tasks.registry.names import closest_unit_names, other_named_units, resolve_written_lead
from templates import error_text, load_yaml

CATALOG = "plan_import"
IMPORTED = "plan.imported"

# Which column holds what, by its folded header (any level); the first pattern that matches wins.
_COLUMNS: dict[str, re.Pattern[str]] = {
    "lead": re.compile(r"(don vi|co quan) chu tri|^chu tri"),
    "coordinating": re.compile(r"phoi hop"),
    "field": re.compile(r"linh vuc"),
    "origin": re.compile(r"chuyen tiep|du an moi|loai du an|hinh thuc dau tu"),
    "objective": re.compile(r"muc tieu|noi dung"),
    "scope": re.compile(r"pham vi"),
    "period": re.compile(r"thoi gian"),
    "basis": re.compile(r"ghi chu|can cu"),
    "status": re.compile(r"trang thai|tinh hinh (thuc hien|trien khai)|ket qua thuc hien"),
    "percent": re.compile(r"ty le|% hoan thanh"),
}
_ROMAN = re.compile(r"^(?=[IVXLC])M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_LETTER = re.compile(r"^[A-Z]$")
_ITEM_REF = re.compile(r"^(?:[IVXLC]+\.|[A-Z]\.)?\d+(?:\.\d+)*$|^[-–+•*]$|^[a-zđ]\)$")
_TOTAL = re.compile(r"^(tong|cong)\b")
_DECISION = re.compile(
    r"quyet dinh (?:so )?(?P<number>[0-9]+/[^\s,;)]+).*?"
    r"ngay (?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4})"
)
_PERIOD = re.compile(r"(\d{4})\s*(?:[-–—]|den)\s*(\d{4})|(\d{4})")


class PlanImportError(PlancycleError):
    """The file cannot be imported at all (unreadable, no table, no unit): nothing was written."""

    catalog = CATALOG


@dataclass
class ImportIssue:
    """One problem found in the file (or with the registry); every one is listed, nothing is written."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def message(self, locale: Literal["vi", "en"] = "vi") -> str:
        return error_text(CATALOG, self.key, locale, **self.values)


class PlanImportRefused(PlancycleError):
    """The import was refused: ``issues`` lists every reason (located by sheet and row)."""

    catalog = CATALOG

    def __init__(self, key: str, issues: list[ImportIssue], **values: object) -> None:
        self.issues = issues
        super().__init__(key, count=len(issues), **values)


# ---------------------------------------------------------------- reading the appendix


@dataclass
class ReadItem:
    line: int
    where: str
    ref: str
    name: str
    group: str | None
    lead: str
    values: dict[str, str] = field(default_factory=dict)  # column role → text
    amounts: dict[str, int | None] = field(default_factory=dict)  # source label → đồng (None: named only)


@dataclass
class ReadPlan:
    file: str
    unit: str
    sources: list[str]  # amount column labels, in file order
    items: list[ReadItem]
    decision_number: str | None = None
    decision_date: date | None = None
    title: str | None = None
    issues: list[ImportIssue] = field(default_factory=list)


def _where(grid: Grid, r: int) -> str:
    texts = load_yaml("reports/plan_import.vi.yaml")["where"]
    if grid.sheet is None:
        return texts["line"].format(line=grid.lines[r])
    return texts["sheet_row"].format(sheet=grid.sheet, row=grid.lines[r])


def _grids(path: Path, sheet: str | None) -> list[Grid]:
    if not path.is_file():
        raise PlanImportError("missing_file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return [csv_grid(path)]
    data = path.read_bytes()
    if suffix not in (".xlsx", ".xlsm") and not data.startswith(b"PK"):
        raise PlanImportError("unsupported_type", file=path.name)
    try:
        values = load_workbook(io.BytesIO(data), data_only=True)
    except Exception:  # openpyxl raises many kinds of error on a damaged or foreign file
        raise PlanImportError("unreadable", file=path.name) from None
    if sheet is not None and sheet not in values.sheetnames:
        raise PlanImportError("no_sheet", file=path.name, sheet=sheet, sheets=", ".join(values.sheetnames))
    names = [sheet] if sheet else [n for n in values.sheetnames if values[n].sheet_state == "visible"]
    return [sheet_grid(values[n], None) for n in names]


@dataclass
class _Table:
    grid: Grid
    header: int
    stt: int
    name: int
    data_start: int
    roles: dict[str, int]
    amounts: list[tuple[int, str]]  # (column index, label)
    last_header: int


def _find_table(grids: list[Grid], *, want_amounts: bool, want: str | None = None) -> _Table | None:
    for grid in grids:
        found = find_header(grid)
        if found is None:
            continue
        header, stt, name = found
        last_header, data_start = header_end(grid, header, stt, name)
        paths = column_paths(grid, header, last_header)
        roles: dict[str, int] = {}
        for c, levels in enumerate(paths):
            if c in (stt, name):
                continue
            folded = " / ".join(fold(level) for level in levels)
            for role, pattern in _COLUMNS.items():
                if role not in roles and pattern.search(folded):
                    roles[role] = c
                    break
        columns = find_amount_columns(grid, paths, stt, name, data_start, []) if want_amounts else []
        amounts = [
            (c.index, c.label) for c in columns if not c.is_row_total and c.index not in roles.values()
        ]
        if want_amounts and not amounts:
            continue
        if want is not None and want not in roles:
            continue
        return _Table(grid, header, stt, name, data_start, roles, amounts, last_header)
    return None


def _decision(grid: Grid, header: int) -> tuple[str | None, date | None, str | None]:
    """Decision number and date from "(Kèm theo Quyết định số 1181/QĐ-UBND ngày 27/12/2019 …)" above the
    table, and the table's title (the longest text line above it)."""
    number = day = title = None
    for r in range(header):
        for c in range(len(grid.rows[r])):
            text = grid.text(r, c)
            if not text:
                continue
            match = _DECISION.search(fold(text))
            if match and number is None:
                start, end = match.span("number")
                number = text[start:end]
                day = date(int(match["year"]), int(match["month"]), int(match["day"]))
            elif len(text) > len(title or "") and not text.startswith("("):
                title = text
    return number, day, title


def _group_heading(stt: str, name: str, has_amounts: bool) -> bool:
    return bool(name) and bool(_ROMAN.match(stt) or _LETTER.match(stt)) and not has_amounts


def read_appendix(path: str | Path, *, sheet: str | None = None, unit: str | None = None) -> ReadPlan:
    """Read an issued plan's appendix. Raises ``PlanImportError`` when no table can be read; problems in
    rows are collected in ``ReadPlan.issues``."""
    path = Path(path)
    if unit is not None and unit not in MONEY_UNIT_FACTOR:
        raise PlanImportError("bad_unit", unit=unit)
    table = _find_table(_grids(path, sheet), want_amounts=True)
    if table is None:
        raise PlanImportError("no_table", file=path.name)
    grid = table.grid
    columns = [AmountColumn(index=c, letter=None, label=label, header=label) for c, label in table.amounts]
    scale = table_scale(grid, columns, table.data_start)
    money_unit = (
        unit
        or stated_unit(grid, table.header, table.last_header)
        or SCALE_UNITS.get(scale)
        or unit_below(grid, columns, table.data_start)
    )
    if money_unit is None:
        raise PlanImportError("no_unit", file=path.name)
    number, issued_on, title = _decision(grid, table.header)
    plan = ReadPlan(
        file=path.name,
        unit=money_unit,
        sources=[label for _c, label in table.amounts],
        items=[],
        decision_number=number,
        decision_date=issued_on,
        title=title,
    )
    group_code: str | None = None
    group_name: str | None = None
    seen: dict[str, str] = {}
    for r in range(table.data_start, len(grid.rows)):
        stt = grid.text(r, table.stt)
        name = grid.text(r, table.name)
        has_amounts = any(
            is_number(grid.cell(r, c).value) or _amount_text(grid.text(r, c)) for c, _l in table.amounts
        )
        if _group_heading(stt, name, has_amounts):
            group_code, group_name = stt, name
            continue
        if not name or (not stt and _TOTAL.match(fold(name))) or not (_ITEM_REF.match(stt) or not stt):
            continue
        if not stt and not has_amounts:
            continue
        where = _where(grid, r)
        ref = f"{group_code}.{stt}" if group_code and re.fullmatch(r"\d+", stt) else stt
        ref = ref or str(len(plan.items) + 1)
        if ref in seen:
            plan.issues.append(ImportIssue("duplicate_ref", {"where": where, "ref": ref, "first": seen[ref]}))
            continue
        seen[ref] = where
        item = ReadItem(
            line=grid.lines[r],
            where=where,
            ref=ref,
            name=name,
            group=group_name,
            lead=grid.text(r, table.roles["lead"]) if "lead" in table.roles else "",
            values={role: grid.text(r, c) for role, c in table.roles.items()},
        )
        item.lead = item.lead or (group_name or "")
        for c, label in table.amounts:
            _read_amount(plan, item, grid, r, c, label, money_unit)
        plan.items.append(item)
    if not plan.items:
        raise PlanImportError("no_items", file=path.name)
    if any(not item.lead for item in plan.items):
        raise PlanImportError("no_lead_column", file=path.name)
    return plan


def _amount_text(text: str) -> bool:
    return bool(text) and text not in DASHES


def _read_amount(plan: ReadPlan, item: ReadItem, grid: Grid, r: int, c: int, label: str, unit: str) -> None:
    cell = grid.cell(r, c)
    value = cell.value
    if value is None or (isinstance(value, str) and not _amount_text(clean(value))):
        return
    try:
        if is_number(value):
            dong = parse_money(value, "dong" if format_scale(cell.number_format) else unit)
        else:
            text = cell_text(value)
            if not re.search(r"\d", text) or re.search(r"[^\d\s.,\-−]", text.rstrip("đ").strip()):
                item.amounts[label] = None  # a source named without an amount ("Nguồn NSTW và ODA")
                return
            dong = parse_money(text, unit)
    except MoneyFormatError as error:
        plan.issues.append(
            ImportIssue(
                "bad_amount",
                {"where": item.where, "column": label, "message": error.message_vi, "message_en": str(error)},
            )
        )
        return
    item.amounts[label] = dong


# ---------------------------------------------------------------- statuses


@dataclass
class ReadStatus:
    where: str
    ref: str
    name: str
    status: str
    note: str | None
    percent: int | None


def status_rules() -> list[tuple[re.Pattern[str], str]]:
    """(folded pattern, status) in order: templates/defaults/plan_import.yaml."""
    return [
        (re.compile(rule["pattern"]), rule["status"])
        for rule in load_yaml("defaults/plan_import.yaml")["statuses"]
    ]


def status_of(text: str) -> str | None:
    folded = fold(text)
    for pattern, status in status_rules():
        if pattern.search(folded):
            return status
    return None


def read_statuses(path: str | Path, *, year: int) -> tuple[list[ReadStatus], list[ImportIssue]]:
    """Last year's statuses from an Annex 01 layout (STT, name, status, optionally percent complete)."""
    path = Path(path)
    table = _find_table(_grids(path, None), want_amounts=False, want="status")
    if table is None:
        raise PlanImportError("status_no_column", file=path.name)
    grid = table.grid
    statuses: list[ReadStatus] = []
    issues: list[ImportIssue] = []
    group_code: str | None = None
    for r in range(table.data_start, len(grid.rows)):
        stt, name = grid.text(r, table.stt), grid.text(r, table.name)
        raw = grid.text(r, table.roles["status"])
        if _group_heading(stt, name, False) and not raw:
            group_code = stt
            continue
        if not name or not raw:
            continue
        where = _where(grid, r)
        status = status_of(raw)
        if status is None:
            issues.append(ImportIssue("status_unknown", {"where": where, "value": raw}))
            continue
        percent = None
        if "percent" in table.roles and grid.text(r, table.roles["percent"]):
            text = grid.text(r, table.roles["percent"]).rstrip("%").strip()
            if not re.fullmatch(r"\d{1,3}", text) or int(text) > 100:
                issues.append(ImportIssue("status_bad_percent", {"where": where, "value": text}))
                continue
            percent = int(text)
        ref = f"{group_code}.{stt}" if group_code and re.fullmatch(r"\d+", stt) else stt
        label = load_yaml("workbook/workbook.vi.yaml")["statuses"].get(status)
        note = None if label and fold(label) == fold(raw) else raw
        statuses.append(ReadStatus(where, ref, name, status, note, percent))
    return statuses, issues


# ---------------------------------------------------------------- storing


class PlanImportResult(BaseModel):
    year: int
    outcome: Literal["created", "unchanged", "replaced"]
    items: int
    sources: list[str]
    totals: dict[str, int]  # source code → đồng, and "total"
    statuses_set: int = 0
    version: int
    decision_number: str | None = None
    differences: list[str] = []


def _source_code(label: str) -> str:
    return ascii_slug(label).upper()[:32] or "NGUON"


def _source_group(label: str) -> str:
    folded = fold(label)
    for rule in load_yaml("defaults/plan_import.yaml")["source_groups"]:
        if re.search(rule["pattern"], folded):
            return FundingGroup(rule["group"]).value
    return FundingGroup.local.value


def _period(text: str) -> tuple[int | None, int | None]:
    match = _PERIOD.search(text or "")
    if match is None:
        return None, None
    if match.group(3):
        return int(match.group(3)), int(match.group(3))
    return int(match.group(1)), int(match.group(2))


def _origin(text: str) -> str:
    return ItemOrigin.carry_over.value if "chuyen tiep" in fold(text or "") else ItemOrigin.new.value


def _content(sources: list[tuple[str, str]], items: list[dict[str, Any]]) -> dict[str, Any]:
    """What identifies an imported plan: sources and items as stored, without database ids."""
    return {"sources": [list(s) for s in sources], "items": items}


def _digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_content(
    item: ReadItem, unit: Unit, fields: dict[str, str], codes: dict[str, str]
) -> dict[str, Any]:
    start, end = _period(item.values.get("period", ""))
    return {
        "ref": item.ref,
        "name": nfc(item.name),
        "lead_unit": unit.code,
        "field": fields.get(fold(item.values.get("field", ""))) if item.values.get("field") else None,
        "origin": _origin(item.values.get("origin", "")),
        "start_year": start,
        "end_year": end,
        "amounts": {codes[label]: amount for label, amount in item.amounts.items()},
    }


def stored_content(*, session: Session, cycle: PlanningCycle) -> dict[str, Any]:
    """The same shape as an import's content, read back from the database."""
    sources = list_funding_sources(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    code_of = {s.id: s.code for s in sources}
    items = list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle.id)
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )
    codes = {u.id: u.code for u in session.exec(select(Unit))}
    amounts: dict[int, dict[str, int | None]] = {i.id: {} for i in items if i.id is not None}
    if amounts:
        for row in session.exec(select(PlanItemAmount).where(col(PlanItemAmount.item_id).in_(list(amounts)))):
            amounts[row.item_id][code_of[row.funding_source_id]] = (
                row.approved_amount if row.approved_amount is not None else row.amount
            )
    return _content(
        [(s.code, s.name) for s in sources],
        [
            {
                "ref": i.row_ref,
                "name": i.name,
                "lead_unit": codes.get(i.lead_unit_id),
                "field": i.field_code,
                "origin": i.origin,
                "start_year": i.start_year,
                "end_year": i.end_year,
                "amounts": amounts.get(i.id or 0, {}),
            }
            for i in items
        ],
    )


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two plan contents, item by item (matched by STT), in Vietnamese."""
    words = load_yaml("reports/plan_import.vi.yaml")["fields"]
    lines: list[str] = []
    if before["sources"] != after["sources"]:
        lines.append(
            error_text(
                CATALOG,
                "diff_sources",
                before=", ".join(s[0] for s in before["sources"]),
                after=", ".join(s[0] for s in after["sources"]),
            )
        )
    old = {i["ref"]: i for i in before["items"]}
    new = {i["ref"]: i for i in after["items"]}
    for ref, item in new.items():
        if ref not in old:
            lines.append(error_text(CATALOG, "diff_added", ref=ref, name=item["name"]))
            continue
        for key in ("name", "lead_unit", "field", "origin", "start_year", "end_year"):
            if old[ref][key] != item[key]:
                lines.append(
                    error_text(
                        CATALOG,
                        "diff_changed",
                        ref=ref,
                        name=item["name"],
                        field=words[key],
                        before=old[ref][key] if old[ref][key] is not None else "",
                        after=item[key] if item[key] is not None else "",
                    )  # fmt: skip
                )
        for code in sorted(set(old[ref]["amounts"]) | set(item["amounts"])):
            was, now = old[ref]["amounts"].get(code), item["amounts"].get(code)
            if was != now:
                lines.append(
                    error_text(
                        CATALOG,
                        "diff_changed",
                        ref=ref,
                        name=item["name"],
                        field=words["amount"].format(source=code),
                        before="" if was is None else f"{was:,}".replace(",", "."),
                        after="" if now is None else f"{now:,}".replace(",", "."),
                    )  # fmt: skip
                )
    for ref, item in old.items():
        if ref not in new:
            lines.append(error_text(CATALOG, "diff_removed", ref=ref, name=item["name"]))
    return lines


def _was_imported(session: Session, cycle: PlanningCycle) -> bool:
    return (
        session.exec(
            select(AuditEntry).where(AuditEntry.cycle_id == cycle.id, AuditEntry.action == IMPORTED)
        ).first()
        is not None
    )


def _items_in_use(session: Session, cycle: PlanningCycle) -> int:
    ids = list(session.exec(select(PlanItem.id).where(PlanItem.cycle_id == cycle.id)))
    if not ids:
        return 0
    used: set[int] = set()
    for column in (
        SubmissionItem.carry_over_from_id,
        ItemStatusReport.plan_item_id,
        ProgressEntry.plan_item_id,
    ):
        used |= {i for i in session.exec(select(column).where(col(column).in_(ids))) if i is not None}
    later = session.exec(
        select(PlanItem.carry_over_from_id).where(
            PlanItem.cycle_id != cycle.id, col(PlanItem.carry_over_from_id).in_(ids)
        )
    )
    used |= {i for i in later if i is not None}
    return len(used)


def _clear(session: Session, cycle: PlanningCycle) -> None:
    items = list(session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id)))
    ids = [i.id for i in items]
    if ids:
        for row in session.exec(select(PlanItemAmount).where(col(PlanItemAmount.item_id).in_(ids))):
            session.delete(row)
        session.flush()
    for item in items:
        session.delete(item)
    session.flush()


def import_issued_plan(
    *,
    session: Session,
    path: str | Path,
    year: int,
    statuses: str | Path | None = None,
    replace: bool = False,
    actor: str,
    sheet: str | None = None,
    unit: str | None = None,
) -> PlanImportResult:
    """Store the appendix at ``path`` as the issued plan of ``year`` (see the module's docstring).
    Raises ``PlanImportError`` for a file that cannot be read, ``PlanImportRefused`` with every issue
    otherwise; nothing is written then (the caller's transaction is left untouched)."""
    plan = read_appendix(path, sheet=sheet, unit=unit)
    issues = list(plan.issues)
    leads: dict[str, Unit] = {}
    for item in plan.items:
        if item.lead in leads:
            continue
        found = resolve_written_lead(session=session, name=item.lead)
        if found is not None:
            leads[item.lead] = found
            continue
        if any(issue.values.get("name") == item.lead for issue in issues):
            continue
        names = closest_unit_names(session=session, text=item.lead)
        issues.append(
            ImportIssue(
                "unknown_unit",
                {
                    "where": item.where,
                    "name": item.lead,
                    "suggestions": error_text(CATALOG, "suggestions", "vi", names=", ".join(names))
                    if names
                    else "",
                    "suggestions_en": error_text(CATALOG, "suggestions", "en", names=", ".join(names))
                    if names
                    else "",
                },
            )
        )
    read_status: list[ReadStatus] = []
    if statuses is not None:
        read_status, status_issues = read_statuses(statuses, year=year)
        issues += status_issues
    by_ref = {item.ref: item for item in plan.items}
    by_name: dict[str, list[ReadItem]] = {}
    for item in plan.items:
        by_name.setdefault(fold(item.name), []).append(item)
    matched: list[tuple[ReadItem, ReadStatus]] = []
    for status in read_status:
        target = by_ref.get(status.ref)
        if target is None or fold(target.name) != fold(status.name):
            candidates = by_name.get(fold(status.name), [])
            target = candidates[0] if len(candidates) == 1 else None
        if target is None:
            issues.append(
                ImportIssue(
                    "status_unknown_item",
                    {"where": status.where, "ref": status.ref, "name": status.name, "year": year},
                )
            )
            continue
        matched.append((target, status))
    if issues:
        raise PlanImportRefused("refused", issues, year=year)

    codes = {label: _source_code(label) for label in plan.sources}
    source_specs = [(codes[label], label) for label in plan.sources]
    field_texts = sorted({item.values["field"] for item in plan.items if item.values.get("field")})
    defaults = {fold(f["name"]): f["code"] for f in load_yaml("defaults/cycle.yaml")["application_fields"]}
    fields: dict[str, str] = {}
    field_names: dict[str, str] = {}
    for text in field_texts:
        code = defaults.get(fold(text)) or f"LV{sum(1 for c in field_names if c.startswith('LV')) + 1}"
        fields[fold(text)] = code
        field_names.setdefault(code, text)
    items = [_item_content(item, leads[item.lead], fields, codes) for item in plan.items]
    content = _content(source_specs, items)

    cycle = get_cycle_by_year(session=session, year=year)
    outcome: Literal["created", "unchanged", "replaced"] = "created"
    found_differences: list[str] = []
    if cycle is not None:
        if not _was_imported(session, cycle):
            raise PlanImportRefused("not_imported", [], year=year, status=cycle.status)
        found_differences = differences(stored_content(session=session, cycle=cycle), content)
        if not found_differences:
            outcome = "unchanged"
        elif not replace:
            raise PlanImportRefused(
                "different_plan",
                [ImportIssue("difference", {"text": d}) for d in found_differences],
                year=year,
            )
        else:
            used = _items_in_use(session, cycle)
            if used:
                raise PlanImportRefused("in_use", [], year=year, count_used=used)
            outcome = "replaced"
    if outcome != "unchanged":
        cycle = _write(
            session=session,
            cycle=cycle,
            plan=plan,
            year=year,
            source_specs=source_specs,
            field_names=field_names,
            items=items,
            read_items=plan.items,
            leads=leads,
            actor=actor,
        )
    assert cycle is not None
    statuses_set = _apply_statuses(session, cycle, matched, actor) if matched else 0
    if statuses is not None and cycle.status != CycleStatus.closed.value:
        cycle.status = CycleStatus.closed
        session.add(cycle)
    version = freeze_version(session=session, cycle=cycle, reason="import", actor=actor, final=True)
    if outcome != "unchanged":
        record_audit(
            session=session,
            actor=actor,
            action=IMPORTED,
            subject=cycle,
            cycle=cycle,
            details={
                "file": plan.file,
                "digest": _digest(content),
                "items": len(items),
                "sources": [c for c, _n in source_specs],
                "outcome": outcome,
                "differences": found_differences,
                "version": version.number,
            },
        )
    session.flush()
    totals = {code: 0 for code, _name in source_specs}
    for item in items:
        for code, amount in item["amounts"].items():
            totals[code] += amount or 0
    totals["total"] = sum(totals.values())
    return PlanImportResult(
        year=year,
        outcome=outcome,
        items=len(items),
        sources=[c for c, _n in source_specs],
        totals=totals,
        statuses_set=statuses_set,
        version=version.number,
        decision_number=cycle.decision_number,
        differences=found_differences if outcome == "replaced" else [],
    )


def _write(
    *,
    session: Session,
    cycle: PlanningCycle | None,
    plan: ReadPlan,
    year: int,
    source_specs: list[tuple[str, str]],
    field_names: dict[str, str],
    items: list[dict[str, Any]],
    read_items: list[ReadItem],
    leads: dict[str, Unit],
    actor: str,
) -> PlanningCycle:
    texts = load_yaml("reports/plan_import.vi.yaml")
    if cycle is None:
        previous = get_cycle_by_year(session=session, year=year - 1)
        cycle = PlanningCycle(
            year=year,
            title=plan.title or texts["default_title"].format(year=year),
            status=CycleStatus.approved,
            money_unit=plan.unit,
            previous_cycle_id=previous.id if previous else None,
        )
        session.add(cycle)
        session.flush()
        nxt = get_cycle_by_year(session=session, year=year + 1)
        if nxt is not None and nxt.previous_cycle_id is None:
            nxt.previous_cycle_id = cycle.id
            session.add(nxt)
    else:
        _clear(session, cycle)
        for source in list_funding_sources(session=session, cycle_id=cycle.id):  # type: ignore[arg-type]
            session.delete(source)
        for known in list_application_fields(session=session, cycle_id=cycle.id):  # type: ignore[arg-type]
            session.delete(known)
        session.flush()
        cycle.money_unit = plan.unit
    cycle.decision_number = plan.decision_number
    cycle.decision_date = plan.decision_date
    cycle.decision_signer = None
    session.add(cycle)
    source_ids: dict[str, int] = {}
    for order, (code, name) in enumerate(source_specs, start=1):
        source = FundingSource(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            code=code,
            name=nfc(name) or code,
            group=_source_group(name),
            display_order=order,
        )
        session.add(source)
        session.flush()
        source_ids[code] = source.id  # type: ignore[assignment]
    for order, (code, name) in enumerate(field_names.items(), start=1):
        session.add(
            ApplicationField(cycle_id=cycle.id, code=code, name=nfc(name) or code, display_order=order)
        )  # type: ignore[arg-type]
    for position, (content, read) in enumerate(zip(items, read_items, strict=True), start=1):
        lead = leads[read.lead]
        co_leads, others = other_named_units(session=session, name=read.lead, lead=lead)
        coordinating = "; ".join(p for p in [*others, read.values.get("coordinating", "")] if p)
        item = PlanItem(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            row_ref=content["ref"],
            name=content["name"],
            lead_unit_id=lead.id,  # type: ignore[arg-type]
            co_lead_unit_ids=co_leads or None,
            coordinating_units=nfc(coordinating) or None,
            field_code=content["field"],
            origin=content["origin"],
            objective=nfc(read.values.get("objective")) or None,
            scope=nfc(read.values.get("scope")) or None,
            start_year=content["start_year"],
            end_year=content["end_year"],
            basis=nfc(read.values.get("basis")) or None,
            group_label=nfc(read.group),
            position=position,
        )
        session.add(item)
        session.flush()
        for code, amount in content["amounts"].items():
            session.add(
                PlanItemAmount(
                    item_id=item.id,  # type: ignore[arg-type]
                    funding_source_id=source_ids[code],
                    amount=amount,
                    approved_amount=amount,
                )
            )
    session.flush()
    return cycle


def _apply_statuses(
    session: Session, cycle: PlanningCycle, matched: list[tuple[ReadItem, ReadStatus]], actor: str
) -> int:
    items = {i.row_ref: i for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))}
    changed = 0
    for read, status in matched:
        item = items[read.ref]
        percent = status.percent
        if percent is None and status.status == ItemStatus.completed.value:
            percent = 100
        after = (status.status, nfc(status.note), percent)
        if (item.status, item.status_note, item.percent_complete) == after:
            continue
        item.status, item.status_note, item.percent_complete = after
        session.add(item)
        changed += 1
    if changed:
        record_audit(
            session=session,
            actor=actor,
            action="plan.statuses_imported",
            subject=cycle,
            cycle=cycle,
            details={"changed": changed, "given": len(matched)},
        )
    session.flush()
    return changed
