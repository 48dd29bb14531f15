"""A sending process for the crash and overlap tests (test_idempotency, test_claims): sends one batch to
the given SMTP server. The tests kill it (kill -9) at chosen or random points, or run several at once.

Argument: JSON with db_url, smtp_url, messages, optional policy (DeliveryPolicy fields)."""

from __future__ import annotations

import json
import sys

from pydantic import SecretStr

from plancycle.settings import Settings
from tasks.notify import DeliveryPolicy, Message, send_batch

if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    settings = Settings(
        _env_file=None,
        database_url=args["db_url"],
        smtp_url=SecretStr(args["smtp_url"]),
        email_from="ke-hoach@skhcn.gialai.gov.vn",
    )  # type: ignore[call-arg]
    send_batch(
        [Message.model_validate(m) for m in args["messages"]],
        settings=settings,
        policy=DeliveryPolicy.model_validate({"max_attempts": 1, "concurrency": 1, **args.get("policy", {})}),
    )
