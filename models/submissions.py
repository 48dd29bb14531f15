"""Submissions: one request per unit and cycle, its versions, every intake attempt, review, extensions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import SubmissionStatus, created_at_field, json_field, tz_datetime_field, updated_at_field


class Submission(SQLModel, table=True):
    """The coordinator's request to one unit for one cycle, and where the unit stands."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "unit_id", name="uq_submission_cycle_unit"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    status: str = Field(default=SubmissionStatus.requested, max_length=32, index=True)
    deadline: date | None = Field(default=None, description="per-unit deadline after extensions")
    exemption_reason: str | None = Field(default=None, max_length=1000)
    answered_on: date | None = Field(default=None, description="business date of the latest answer")
    no_proposal_by: str | None = Field(default=None, max_length=160, description="officer who declared it")
    no_proposal_reason: str | None = Field(default=None, max_length=1000)
    requested_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class SubmissionVersion(SQLModel, table=True):
    """A valid upload, stored whole in one transaction. Numbered 1, 2, … per submission."""

    __table_args__ = (sa.UniqueConstraint("submission_id", "number", name="uq_submissionversion_number"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    number: int
    attempt_id: int = Field(foreign_key="intakeattempt.id")
    received_at: datetime = created_at_field()
    received_on: date | None = Field(default=None, description="business date it counts as received on")
    on_time: bool = True
    review_status: str | None = Field(default=None, max_length=32, description="accepted / returned")
    reviewed_by: str | None = Field(default=None, max_length=160)
    reviewed_at: datetime | None = tz_datetime_field()
    review_comment: str | None = Field(default=None, max_length=4000)
    totals: dict[str, Any] | None = json_field(description="đồng per funding source code")


class IntakeAttempt(SQLModel, table=True):
    """Every file received, valid or not, with the archived original and its hash."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    channel: str = Field(max_length=16)
    original_filename: str = Field(max_length=255)
    archive_path: str = Field(max_length=1000)
    sha256: str = Field(max_length=64, index=True)
    size_bytes: int
    accepted: bool = False
    errors: list[dict[str, Any]] | None = json_field()
    received_at: datetime = created_at_field()


class ReviewComment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    submission_version_id: int = Field(foreign_key="submissionversion.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="submissionitem.id")
    comment: str = Field(max_length=4000)
    author: str = Field(max_length=160)
    created_at: datetime = created_at_field()


class DeadlineExtension(SQLModel, table=True):
    """A per-unit extension (gia hạn) of a submission or progress-report deadline; history is kept."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    progress_report_id: int | None = Field(default=None, foreign_key="progressreport.id", index=True)
    previous_deadline: date | None = None
    new_deadline: date
    reason: str = Field(max_length=1000)
    granted_by: str = Field(max_length=160)
    granted_at: datetime = created_at_field()


class AccessLink(SQLModel, table=True):
    """A signed portal link issued to a unit for a cycle; revoking it sets ``revoked_at``."""

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64, unique=True, index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    purpose: str = Field(default="submission", max_length=32)
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = tz_datetime_field()
    created_at: datetime = created_at_field()


def get_submission(*, session: Session, cycle_id: int, unit_id: int) -> Submission | None:
    return session.exec(
        select(Submission).where(Submission.cycle_id == cycle_id, Submission.unit_id == unit_id)
    ).first()


def list_submissions(*, session: Session, cycle_id: int) -> list[Submission]:
    return list(
        session.exec(select(Submission).where(Submission.cycle_id == cycle_id).order_by(col(Submission.id)))
    )


def list_units_awaiting_review(*, session: Session, cycle_id: int) -> list[str]:
    """Codes of the units whose submission is received and not yet reviewed (status submitted)."""
    from models.registry import Unit

    return list(
        session.exec(
            select(Unit.code)
            .join(Submission, Submission.unit_id == Unit.id)  # type: ignore[arg-type]
            .where(Submission.cycle_id == cycle_id, Submission.status == SubmissionStatus.submitted)
            .order_by(col(Unit.code))
        )
    )


def list_versions(*, session: Session, submission_id: int) -> list[SubmissionVersion]:
    """Every stored version, newest first."""
    return list(
        session.exec(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission_id)
            .order_by(col(SubmissionVersion.number).desc())
        )
    )


def list_attempts(*, session: Session, submission_id: int, limit: int = 50) -> list[IntakeAttempt]:
    """Every file received for a submission, newest first."""
    return list(
        session.exec(
            select(IntakeAttempt)
            .where(IntakeAttempt.submission_id == submission_id)
            .order_by(col(IntakeAttempt.id).desc())
            .limit(limit)
        )
    )
