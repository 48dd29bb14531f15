"""Secrets never leave this process in a log line, an artifact, an exception or the notification log."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import SecretStr

_PATTERNS = [
    # user:password@ in URLs (SMTP URLs carry the password)
    (re.compile(r"(://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),
    # token-like query/form/header values
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|secret_key|token|password|pass|secret)([\"']?\s*[=:]\s*[\"']?)"
            r"[^\s&\"',;]+"
        ),
        r"\1\2***",
    ),
]


def secret_values(*values: str | SecretStr | None) -> list[str]:
    """Plain secret strings worth redacting (short ones would blank out ordinary words)."""
    out = []
    for value in values:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw and len(raw) >= 6:
            out.append(raw)
    return out


def redact(text: str | None, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and every credential-looking fragment replaced by ``***``."""
    if not text:
        return ""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
