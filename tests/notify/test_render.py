"""Every message template renders in Vietnamese and English, safely escaped, within Zalo's limit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tasks.notify.render import LOCALES, TEMPLATE_NAMES, RenderError, render_message, resolve_locale
from templates import TEMPLATES_DIR

LINK = "https://kehoach.gialai.gov.vn/u/abc?t=1&x=2"
COMMON: dict[str, Any] = {
    "recipient": {"full_name": "Trần Thị Hồng Nhung", "position": "Chuyên viên", "role": "officer"},
    "unit": {"code": "STNMT", "name": "Sở Tài nguyên và Môi trường"},
    "cycle": {
        "year": 2027,
        "title": "Kế hoạch ứng dụng CNTT, chuyển đổi số năm 2027",
        "submission_deadline": None,
    },
    "province_name": "Gia Lai",
    "sender_name": "Sở Khoa học và Công nghệ",
    "as_of": date(2026, 9, 27),
    "link": LINK,
}
CONTEXTS: dict[str, dict[str, Any]] = {
    "call_for_submissions": {"deadline": date(2026, 9, 30), "guidance_reference": "Công văn 2055/BTTTT-THH"},
    "due_soon": {"deadline": date(2026, 9, 30), "days_left": 3},
    "due_today": {"deadline": date(2026, 9, 30)},
    "overdue": {"deadline": date(2026, 9, 30), "days_overdue": 5},
    "escalation": {"deadline": date(2026, 9, 30), "days_overdue": 12, "officer_name": "Trần Thị Hồng Nhung"},
    "submission_received": {
        "received_at": date(2026, 9, 28),
        "version": 2,
        "totals": [{"source": "NSĐP", "amount": 1_234_567_000}, {"source": "NSTW", "amount": 500_000_000}],
    },
    "submission_invalid": {
        "deadline": date(2026, 10, 5),
        "errors": [{"where": "Sheet «Danh mục», ô F12", "message": "Số tiền <abc> không hợp lệ"}],
    },
    "submission_returned": {
        "deadline": date(2026, 10, 10),
        "comments": [{"where": "Dự án 3", "comment": "Bổ sung thuyết minh"}],
    },
    "approval_requested": {
        "plan_title": "Dự thảo Kế hoạch năm 2027",
        "due": date(2026, 12, 20),
        "total": 45_600_000_000,
        "item_count": 63,
    },
    "approval_reminder": {
        "plan_title": "Dự thảo Kế hoạch năm 2027",
        "stage_name": "Sở Tài chính thẩm định",
        "due": date(2026, 12, 20),
        "days_left": 0,
        "days_overdue": 2,
        "version": 2,
    },
    "plan_approved": {
        "decision_number": "123/QĐ-UBND",
        "decision_date": date(2026, 12, 27),
        "items": [{"name": "Nâng cấp cổng dịch vụ công", "source": "NSĐP", "amount": 1_500_000_000}],
        "total": 1_500_000_000,
    },
    "plan_amended": {
        "decision_number": "45/QĐ-UBND",
        "decision_date": date(2027, 6, 2),
        "reason": "Bổ sung nhiệm vụ cấp bách",
        "unit": {"name": "Sở Y tế"},
        "changes": [{"kind": "Thêm mới", "name": "Hồ sơ sức khỏe điện tử", "reason": "Theo chỉ đạo"}],
        "items": [{"name": "Hồ sơ sức khỏe điện tử", "source": "NSĐP", "amount": 900_000_000}],
        "total": 900_000_000,
    },
    "progress_report_requested": {"period_label": "quý II/2027", "deadline": date(2027, 6, 20)},
    "progress_report_overdue": {
        "period_label": "quý II/2027",
        "deadline": date(2027, 6, 20),
        "days_overdue": 4,
    },
    "coordinator_digest": {
        "day": date(2026, 10, 1),
        "failed_deliveries": 2,
        "overdue_units": ["Sở Y tế", "UBND xã A"],
        "counts": {"submitted": 40, "awaiting": 10, "overdue": 2, "invalid": 3, "returned": 1},
    },
}


def test_every_template_has_every_part_in_every_locale() -> None:
    assert set(CONTEXTS) == set(TEMPLATE_NAMES)
    for name in TEMPLATE_NAMES:
        for locale in LOCALES:
            for part in ("subject.txt.j2", "body.html.j2", "body.txt.j2", "zalo.txt.j2"):
                assert (TEMPLATES_DIR / "messages" / name / locale / part).is_file(), (name, locale, part)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_renders(name: str, locale: str) -> None:
    out = render_message(name, locale, {**COMMON, **CONTEXTS[name]})
    assert out.subject and "\n" not in out.subject
    assert out.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in out.html
    assert 'style="' in out.html and "<style" not in out.html  # inline styles only
    assert LINK.replace("&", "&amp;") in out.html  # autoescaped
    assert LINK in out.text and "<" not in out.text.replace("<abc>", "")
    assert LINK in out.zalo and len(out.zalo) <= 2000
    assert "Trần Thị Hồng Nhung" in out.text


def test_vietnamese_money_dates_and_escaping() -> None:
    out = render_message("submission_received", "vi", {**COMMON, **CONTEXTS["submission_received"]})
    assert "1.234.567.000 đồng" in out.text
    assert "1.234.567.000" in out.html and "28/09/2026" in out.text
    assert (
        out.subject == "Đã nhận đề xuất của Sở Tài nguyên và Môi trường (lần 2) – Kế hoạch ứng dụng CNTT, "
        "chuyển đổi số năm 2027"
    )
    invalid = render_message("submission_invalid", "en", {**COMMON, **CONTEXTS["submission_invalid"]})
    assert "Số tiền &lt;abc&gt; không hợp lệ" in invalid.html
    assert "Số tiền <abc> không hợp lệ" in invalid.text


def test_locale_choice_and_errors() -> None:
    assert resolve_locale("en-GB") == "en" and resolve_locale("fr") == "vi" and resolve_locale(None) == "vi"
    assert render_message("due_today", "fr", {**COMMON, **CONTEXTS["due_today"]}).subject.startswith(
        "Hôm nay"
    )
    with pytest.raises(RenderError, match="days_left"):
        render_message("due_soon", "vi", {**COMMON, "deadline": date(2026, 9, 30)})
    with pytest.raises(RenderError, match="unknown"):
        render_message("nope", "vi", COMMON)
    with pytest.raises(RenderError, match="2000"):
        render_message("due_today", "vi", {**COMMON, **CONTEXTS["due_today"], "link": "x" * 2100})
