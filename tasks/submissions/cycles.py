"""Opening a planning cycle: the cycle, its funding sources and fields, and one submission request per
unit. Idempotent: running it again with the same year changes nothing and reports what exists."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from models import ApplicationField, FundingSource, PlanningCycle, Submission, Unit, record_audit
from models.base import CycleStatus, FundingGroup, MoneyUnit, SubmissionStatus, UnitKind
from models.cycle import get_cycle_by_year, list_funding_sources
from models.registry import get_unit_by_code, list_active_units
from tasks.common.amounts import MAX_ITEM_AMOUNT_CEILING
from tasks.errors import NoCycleError, PlancycleError
from templates import load_yaml


class CycleError(PlancycleError):
    """A cycle that cannot be opened as asked; ``message_vi`` says why, for the coordinator."""

    catalog = "cycle"


def require_cycle(*, session: Session, year: int) -> PlanningCycle:
    """The planning cycle of ``year``; ``NoCycleError`` (one message, vi/en) when there is none. Every
    stage asks for its cycle this way."""
    cycle = get_cycle_by_year(session=session, year=year)
    if cycle is None:
        raise NoCycleError(year)
    return cycle


class ApplicationFieldSpec(BaseModel):
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)


class FundingSourceSpec(BaseModel):
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    group: FundingGroup = FundingGroup.local


class CycleSpec(BaseModel):
    """What the coordinator fills in to open a cycle (also the Prefect parameter form)."""

    year: int = Field(ge=2000, le=2100, title="Năm kế hoạch")
    title: str | None = Field(None, title="Tên kế hoạch", description="Để trống: tên mặc định theo năm")
    guidance_reference: str | None = Field(
        None, title="Văn bản hướng dẫn", description="vd. CV 2055/BTTTT-THH"
    )
    submission_deadline: date = Field(title="Hạn đơn vị gửi đề xuất")
    units: Literal["all", "by_kind", "list"] = Field("all", title="Đơn vị được đề nghị")
    unit_kinds: list[str] = Field(default_factory=list, title="Loại đơn vị (khi chọn theo loại)")
    unit_codes: list[str] = Field(default_factory=list, title="Mã đơn vị (khi chọn danh sách)")
    funding_sources: list[FundingSourceSpec] | None = Field(None, title="Nguồn vốn (để trống: mặc định)")
    application_fields: list[ApplicationFieldSpec] | None = Field(
        None, title="Lĩnh vực ứng dụng (để trống: mặc định)"
    )
    settings: dict[str, Any] | None = Field(
        None,
        title="Thiết lập riêng của kỳ",
        description="documents (ngày tham chiếu, tên cơ quan, nơi nhận), layout (bố cục phụ lục)",
    )
    money_unit: MoneyUnit = Field(MoneyUnit.trieu, title="Đơn vị tiền hiển thị")
    coordinating_unit_code: str | None = Field(
        None,
        title="Mã cơ quan chủ trì tổng hợp",
        description="Đơn vị điều phối kỳ kế hoạch: ký thư gửi đơn vị, nhận báo cáo tổng hợp",
    )
    other_leads_allowed: bool = Field(
        False,
        title="Cho phép đề xuất do đơn vị khác chủ trì",
        description="Đơn vị được ghi nhiệm vụ do đơn vị khác (hoặc nhiều đơn vị) chủ trì",
    )
    coordinator_proposes: bool = Field(
        True,
        title="Cơ quan chủ trì cũng đề xuất",
        description="Cơ quan chủ trì nhận yêu cầu và mẫu biểu riêng",
    )
    max_item_amount: int | None = Field(
        None,
        ge=1,
        le=MAX_ITEM_AMOUNT_CEILING,
        title="Mức tối đa mỗi nhiệm vụ, mỗi nguồn vốn (đồng)",
        description="Để trống: mặc định 10.000 tỷ đồng",
    )


class OpenedCycle(BaseModel):
    cycle_id: int
    year: int
    created: bool
    submission_ids: list[int]
    new_submission_ids: list[int]


def read_cycle_settings(path: str | None, given: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A cycle's settings: a YAML file (any fsspec URL; keys ``documents``, ``layout``) merged under the
    values ``given`` directly. None when neither is."""
    if not path:
        return given
    import fsspec
    import yaml

    with fsspec.open(path, "r", encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    if not isinstance(loaded, dict):
        raise CycleError("bad_settings_file", path=path)
    return loaded | (given or {})


def default_title(year: int) -> str:
    return load_yaml("reports/submissions.vi.yaml")["default_title"].format(year=year)


def select_units(*, session: Session, spec: CycleSpec, on: date) -> list[Unit]:
    """The units asked to submit: active on the date, by the spec's choice; unknown codes are an error."""
    if spec.units == "list":
        units = []
        missing = []
        for code in spec.unit_codes:
            unit = get_unit_by_code(session=session, code=code)
            (units.append(unit) if unit else missing.append(code))
        if missing:
            raise CycleError("unknown_units", codes=", ".join(missing))
        return units
    kinds = spec.unit_kinds if spec.units == "by_kind" else None
    units = list_active_units(session=session, on=on, kinds=kinds)
    # A collective lead ("Các sở, ban, ngành") names many units at once: nobody to ask on its behalf.
    return [u for u in units if u.kind != UnitKind.collective or kinds]


def open_cycle_records(*, session: Session, spec: CycleSpec, as_of: date, actor: str) -> OpenedCycle:
    """Create the cycle (if the year has none), its configuration and a submission request per unit.
    Units added to the selection later get a request on the next run; nothing existing is changed."""
    cycle = get_cycle_by_year(session=session, year=spec.year)
    created = cycle is None
    if cycle is None:
        coordinator = (
            get_unit_by_code(session=session, code=spec.coordinating_unit_code)
            if spec.coordinating_unit_code
            else None
        )
        if spec.coordinating_unit_code and coordinator is None:
            raise CycleError("unknown_units", codes=spec.coordinating_unit_code)
        previous = get_cycle_by_year(session=session, year=spec.year - 1)
        cycle = PlanningCycle(
            year=spec.year,
            title=spec.title or default_title(spec.year),
            guidance_reference=spec.guidance_reference,
            opens_on=as_of,
            submission_deadline=spec.submission_deadline,
            status=CycleStatus.collecting,
            money_unit=spec.money_unit,
            coordinating_unit_id=coordinator.id if coordinator else None,
            coordinator_proposes=spec.coordinator_proposes,
            other_leads_allowed=spec.other_leads_allowed,
            settings=spec.settings,
            previous_cycle_id=previous.id if previous else None,
            max_item_amount=spec.max_item_amount,
        )
        session.add(cycle)
        session.flush()
        defaults = load_yaml("defaults/cycle.yaml")
        sources = spec.funding_sources or [FundingSourceSpec(**s) for s in defaults["funding_sources"]]
        for order, source in enumerate(sources, start=1):
            session.add(
                FundingSource(
                    cycle_id=cycle.id,
                    code=source.code,
                    name=source.name,
                    group=source.group,
                    display_order=order,
                )
            )
        fields = spec.application_fields or [
            ApplicationFieldSpec(**f) for f in defaults["application_fields"]
        ]
        for order, field in enumerate(fields, start=1):
            session.add(
                ApplicationField(cycle_id=cycle.id, code=field.code, name=field.name, display_order=order)
            )
        record_audit(
            session=session,
            actor=actor,
            action="open",
            subject=cycle,
            cycle=cycle,
            details=spec.model_dump(mode="json"),
        )
    assert cycle.id is not None
    existing = {s.unit_id: s for s in session.exec(select(Submission).where(Submission.cycle_id == cycle.id))}
    new_ids = []
    asked = select_units(session=session, spec=spec, on=as_of)
    if cycle.coordinator_proposes and cycle.coordinating_unit_id not in {None, *(u.id for u in asked)}:
        # the coordinating department is often the biggest lead unit: it proposes like every other
        asked.append(session.get(Unit, cycle.coordinating_unit_id))  # type: ignore[arg-type]
    for unit in asked:
        skipped = unit.id == cycle.coordinating_unit_id and not cycle.coordinator_proposes
        if skipped or unit.id in existing:
            continue
        submission = Submission(
            cycle_id=cycle.id,
            unit_id=unit.id,
            status=SubmissionStatus.requested,  # type: ignore[arg-type]
            deadline=cycle.submission_deadline,
        )
        session.add(submission)
        session.flush()
        existing[unit.id] = submission  # type: ignore[index]
        new_ids.append(submission.id)
    if new_ids:
        record_audit(
            session=session,
            actor=actor,
            action="request_submissions",
            subject=cycle,
            cycle=cycle,
            details={"count": len(new_ids)},
        )
    session.flush()
    assert list_funding_sources(session=session, cycle_id=cycle.id)
    return OpenedCycle(
        cycle_id=cycle.id,
        year=cycle.year,
        created=created,
        submission_ids=sorted(s.id for s in existing.values() if s.id is not None),
        new_submission_ids=new_ids,  # type: ignore[arg-type]
    )
