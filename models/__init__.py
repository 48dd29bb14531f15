"""The schema of the whole planning cycle and every query. Importing this package registers all tables."""

from models.approval import ApprovalDecision, ApprovalStage, ApprovalStageApprover
from models.audit import AuditEntry, list_audit, record_audit
from models.cycle import (
    ApplicationField,
    CalendarException,
    FundingEnvelope,
    FundingSource,
    PlanningCycle,
    ReminderPolicy,
)
from models.items import (
    ItemStatusReport,
    PlanItem,
    PlanItemAmount,
    PlanVersion,
    SubmissionItem,
    SubmissionItemAmount,
)
from models.notifications import NotificationLog, ZaloCredential
from models.progress import (
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    ProgressEntry,
    ProgressReport,
    ReportingPeriod,
)
from models.registry import Contact, Unit, UnitAlias
from models.submissions import (
    AccessLink,
    DeadlineExtension,
    IntakeAttempt,
    ReviewComment,
    Submission,
    SubmissionVersion,
)

__all__ = [
    "AccessLink",
    "ApplicationField",
    "ApprovalDecision",
    "ApprovalStage",
    "ApprovalStageApprover",
    "AuditEntry",
    "CalendarException",
    "Contact",
    "DeadlineExtension",
    "FundingEnvelope",
    "FundingSource",
    "Indicator",
    "IndicatorTarget",
    "IndicatorValue",
    "IntakeAttempt",
    "NotificationLog",
    "ItemStatusReport",
    "PlanItem",
    "PlanItemAmount",
    "PlanVersion",
    "PlanningCycle",
    "ProgressEntry",
    "ProgressReport",
    "ReminderPolicy",
    "ReportingPeriod",
    "ReviewComment",
    "Submission",
    "SubmissionItem",
    "SubmissionItemAmount",
    "SubmissionVersion",
    "Unit",
    "UnitAlias",
    "ZaloCredential",
    "list_audit",
    "record_audit",
]
