"""Shared column helpers and vocabularies used by every table family."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tasks.common.text import normalize_text

# Deterministic constraint names on every backend, so later migrations can alter them (SQLite batch mode).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC: the one wall clock for *recording* times (never for business dates)."""
    return datetime.now(UTC)


def nfc(text: str | None) -> str | None:
    """Unicode NFC with outer whitespace trimmed and invisible characters (zero-width, bidi controls)
    removed: Word and Excel often hand us decomposed Vietnamese, and copied names carry hidden marks."""
    if text is None:
        return None
    return normalize_text(text).strip()


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)


def updated_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)


def tz_datetime_field(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True), **kwargs)


def money_field(**kwargs: Any) -> Any:
    """Integer đồng. ``None`` means "not stated" (a source named without an amount), never zero."""
    return Field(default=None, sa_type=sa.BigInteger, **kwargs)


def json_field(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=sa.JSON, **kwargs)


class UnitKind(StrEnum):
    department = "department"  # sở, ban, ngành
    public_service = "public_service"  # đơn vị sự nghiệp
    commune = "commune"  # UBND xã/phường (since 7/2025)
    district = "district"  # UBND huyện (plans before 2025)
    provincial_leadership = "provincial_leadership"  # UBND tỉnh, Văn phòng UBND tỉnh
    other = "other"  # công an, quân sự, ...
    collective = "collective"  # a lead named for many units at once: "Các sở, ban, ngành", "UBND các xã"


class ContactRole(StrEnum):
    officer = "officer"  # chuyên viên đầu mối
    head = "head"  # thủ trưởng đơn vị
    coordinator = "coordinator"  # cán bộ của cơ quan chủ trì tổng hợp
    approver = "approver"  # lãnh đạo thẩm định / phê duyệt


class Channel(StrEnum):
    email = "email"
    zalo = "zalo"
    zns = "zns"


class CycleStatus(StrEnum):
    draft = "draft"
    collecting = "collecting"
    reviewing = "reviewing"
    circulating = "circulating"
    approved = "approved"
    implementing = "implementing"
    closed = "closed"


class MoneyUnit(StrEnum):
    dong = "dong"
    trieu = "trieu"
    ty = "ty"


MONEY_UNIT_FACTOR: dict[str, int] = {"dong": 1, "trieu": 1_000_000, "ty": 1_000_000_000}


class FundingGroup(StrEnum):
    provincial_recurrent = "provincial_recurrent"  # NS tỉnh, vốn sự nghiệp / thường xuyên
    provincial_investment = "provincial_investment"  # NS tỉnh, vốn đầu tư phát triển
    local = "local"  # NSĐP không tách
    district = "district"  # NS cấp huyện (trước 2025)
    central = "central"  # NSTW, chương trình mục tiêu
    own_revenue = "own_revenue"  # nguồn thu của đơn vị
    oda = "oda"
    other = "other"


class ItemOrigin(StrEnum):
    new = "new"  # dự án mới
    carry_over = "carry_over"  # chuyển tiếp


class ItemStatus(StrEnum):
    proposed = "proposed"
    not_started = "not_started"  # chưa triển khai
    in_progress = "in_progress"  # đang triển khai
    partly_done = "partly_done"  # hoàn thành một phần
    completed = "completed"  # đã hoàn thành
    suspended = "suspended"  # tạm dừng
    cancelled = "cancelled"  # hủy bỏ


class SubmissionStatus(StrEnum):
    requested = "requested"
    submitted = "submitted"
    returned = "returned"
    accepted = "accepted"
    exempted = "exempted"
    no_proposal = "no_proposal"  # the unit declared it has nothing to propose this year


class IntakeChannel(StrEnum):
    portal = "portal"
    inbox = "inbox"
    cli = "cli"


class DecisionKind(StrEnum):
    approve = "approve"
    return_for_revision = "return"
    adjust = "adjust"
    reject_items = "reject_items"


class PeriodKind(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    six_monthly = "six_monthly"
    annual = "annual"


class DeliveryStatus(StrEnum):
    pending = "pending"
    claimed = "claimed"  # a run holds the lease and is sending it (or died doing so: lease_until tells)
    sent = "sent"
    failed_transient = "failed_transient"
    failed_permanent = "failed_permanent"
    skipped = "skipped"


class RequestKind(StrEnum):
    submission = "submission"
    progress_report = "progress_report"
    approval = "approval"
