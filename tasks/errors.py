"""One keyed error base for every rule of the cycle.

An error is a key and its values; its words live in ``templates/errors/<catalog>.yaml`` in Vietnamese (shown
to coordinators, units and approvers) and English (logs, tracebacks, administrators). A subclass names its
catalogue and nothing else::

    class ReviewError(PlancycleError):
        catalog = "review"

    raise ReviewError("nothing_submitted", code="STC")

``error.message_vi`` (or ``error.message("vi")``) is the Vietnamese text, ``error.message_en`` the English;
``str(error)`` is both, "Vietnamese (English)": what the Prefect UI shows the coordinator when a run fails
on it, and what an administrator can search for.
It is a ``ValueError``: the request was wrong, not the program.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from templates import error_text


class PlancycleError(ValueError):
    catalog: ClassVar[str] = "common"

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        vi, en = self.message("vi"), self.message("en")
        super().__init__(vi if vi == en else f"{vi} ({en})")

    def message(self, locale: Literal["vi", "en"] = "vi") -> str:
        return error_text(self.catalog, self.key, locale, **self.values)

    @property
    def message_vi(self) -> str:
        return self.message("vi")

    @property
    def message_en(self) -> str:
        return self.message("en")


class NoCycleError(PlancycleError):
    """No planning cycle for the year asked: the one answer every flow and command gives."""

    catalog = "common"

    def __init__(self, year: int) -> None:
        super().__init__("no_cycle", year=year)
