"""The very-hidden, signed sheet that says what a generated workbook was issued for.

Each kind of workbook signs its own fields with its own context label (`sign_fields`), so the same key never
signs two kinds alike and one kind's signature never validates another kind. A signature made before a
rotation of the signing secret still verifies (`signature_verifies`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime

from openpyxl import Workbook

from tasks.excel.cells import write_cell

META_SHEET = "plancycle_meta"  # very hidden; not user-facing, so not in the YAML


def sign_fields(fields: dict[str, str], secret: bytes, *, signed: tuple[str, ...], context: bytes) -> str:
    """HMAC-SHA256 over the ``signed`` fields, with a ``context`` label per kind of workbook so the key is
    not reused verbatim and one kind's signature never validates another kind."""
    message = "|".join(f"{name}={fields.get(name, '')}" for name in signed).encode("utf-8")
    return hmac.new(secret, context + message, hashlib.sha256).hexdigest()


def signing_secret() -> bytes:
    """The current signing secret (``PLANCYCLE_SIGNING_SECRET``) as bytes."""
    from plancycle.settings import get_settings

    return get_settings().signing_secret.get_secret_value().encode("utf-8")


def signature_verifies(signature: str, sign: Callable[[bytes], str], secret: bytes | None = None) -> bool:
    """Whether ``signature`` is ``sign(key)`` for ``secret`` or, when none is given, for the current signing
    secret or one listed in ``PLANCYCLE_SIGNING_SECRET_PREVIOUS``: a workbook sent before a rotation is still
    recognised. Every key is compared in constant time."""
    from plancycle.settings import get_settings
    from tasks.common.links import signing_keys

    keys = [secret] if secret is not None else signing_keys(get_settings())
    given = signature.encode()
    return any([hmac.compare_digest(given, sign(key).encode()) for key in keys])


def issued_at_text(issued_at: datetime) -> str:
    """The issue moment as stored in the metadata: UTC, to the second ("2027-03-08T01:00:00Z")."""
    return issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_metadata_sheet(wb: Workbook, fields: dict[str, str]) -> None:
    """The very-hidden, protected sheet of name/value pairs (text) that identifies a generated workbook."""
    ws = wb.create_sheet(META_SHEET)
    for row, (name, value) in enumerate(fields.items(), start=1):
        write_cell(ws, row, 1, name)
        write_cell(ws, row, 2, value).number_format = "@"
    ws.sheet_state = "veryHidden"
    ws.protection.sheet = True


def write_signed_metadata(
    wb: Workbook, fields: dict[str, str], sign: Callable[[dict[str, str], bytes], str], secret: bytes
) -> None:
    """``fields`` and their ``signature`` (``sign(fields, secret)``) as the workbook's metadata sheet."""
    write_metadata_sheet(wb, fields | {"signature": sign(fields, secret)})


def read_metadata_sheet(wb: Workbook) -> dict[str, str] | None:
    """The name/value pairs of a generated workbook's hidden metadata sheet (None when it has none)."""
    if META_SHEET not in wb.sheetnames:
        return None
    fields: dict[str, str] = {}
    for name, value in wb[META_SHEET].iter_rows(min_col=1, max_col=2, values_only=True):
        if isinstance(name, str) and value is not None:
            fields[name] = str(value)
    return fields
