"""The run forms coordinators fill in the Prefect UI, read from the schema `prefect deploy` stores for each
deployment: choices offered in Vietnamese words, no "value / None" toggle on an optional field, the
technical fields last, and the chosen words reaching the flow as the codes it works with."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from prefect.utilities.callables import get_call_parameters, parameter_schema_from_entrypoint

from flows.consolidate_plan import consolidate_plan
from flows.open_cycle import open_cycle
from plancycle.settings import PROJECT_ROOT
from tasks.common.forms import AS_OF_TITLE

DEPLOYMENTS = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]

# Parameters whose value is a whole object the form cannot draw without its "None" branch: the amendment
# is either a new proposal (this object) or the number of one already recorded.
OBJECT_OR_NONE = {("amend-plan", "proposal")}


def _schema(deployment: dict) -> dict:
    return parameter_schema_from_entrypoint(deployment["entrypoint"]).model_dump()


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_form_fields_show_no_none_toggle_and_no_codes(deployment: dict) -> None:
    schema = _schema(deployment)
    for name, field in schema["properties"].items():
        branches = field.get("anyOf", [])
        if (deployment["name"], name) not in OBJECT_OR_NONE:
            assert {"type": "null"} not in branches, (deployment["name"], name, field)
        options = field.get("enum") or field.get("items", {}).get("enum") or []
        for option in options:
            assert not option.isascii(), (deployment["name"], name, options)  # words, not codes
        if "enum" in field and "default" in field:
            assert field["default"] in field["enum"]
        if field.get("type") in ("string", "integer", "array") and "default" in field:
            # a default the form sends as it is must pass Prefect's own check of the field's type
            assert field["default"] is not None, (deployment["name"], name, field)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_the_date_a_run_acts_as_of_is_last_and_labelled_technical(deployment: dict) -> None:
    properties = _schema(deployment)["properties"]
    if "as_of" not in properties:
        pytest.skip("no as_of")
    last = max(properties.values(), key=lambda field: field["position"])
    assert properties["as_of"]["title"] == AS_OF_TITLE
    assert last["title"].startswith("Kỹ thuật")
    assert "Chỉ dùng khi chạy lại cho ngày khác" in properties["as_of"]["description"]


def test_open_cycle_offers_its_choices_in_vietnamese() -> None:
    properties = _schema({"entrypoint": "flows/open_cycle.py:open_cycle"})["properties"]
    assert properties["units"]["enum"] == ["Tất cả đơn vị", "Theo loại đơn vị", "Theo danh sách mã đơn vị"]
    assert properties["units"]["default"] == "Tất cả đơn vị"
    assert properties["money_unit"]["enum"] == ["đồng", "triệu đồng", "tỷ đồng"]
    assert properties["as_of"]["type"] == "string" and properties["as_of"]["format"] == "date"


def test_the_words_chosen_in_the_form_reach_the_flow_as_codes() -> None:
    given = {
        "year": 2027,
        "submission_deadline": "2026-12-20",
        "units": "Theo danh sách mã đơn vị",
        "money_unit": "tỷ đồng",
        "title": "  ",
    }
    # as Prefect calls a flow: the signature's defaults applied, then the parameters validated
    chosen = open_cycle.validate_parameters(get_call_parameters(open_cycle.fn, (), given))
    assert (chosen["units"], chosen["money_unit"], chosen["title"]) == ("list", "ty", None)
    assert chosen["as_of"] is None and chosen["guidance_reference"] is None  # left empty: None in the flow
    # a run resuming after a pause reads back what Prefect stored for an empty field
    stored = open_cycle.serialize_parameters(get_call_parameters(open_cycle.fn, (), given))
    assert open_cycle.validate_parameters(stored)["as_of"] is None
    assert chosen["submission_deadline"] == date(2026, 12, 20)
    # codes still work for the CLI, the simulation and API callers
    assert (
        open_cycle.validate_parameters({"year": 2027, "submission_deadline": "2026-12-20", "units": "all"})[
            "units"
        ]
        == "all"
    )
    plan = consolidate_plan.validate_parameters(
        {"year": 2027, "statuses": ["đã chấp nhận", "đã gửi, chưa xem xét"], "grouping": "lĩnh vực ứng dụng"}
    )
    assert (plan["statuses"], plan["grouping"]) == (["accepted", "submitted"], "field")
    with pytest.raises(Exception, match="units"):
        open_cycle.validate_parameters({"year": 2027, "submission_deadline": "2026-12-20", "units": "một số"})
