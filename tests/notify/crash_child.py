"""A sending process for the crash and overlap tests (test_idempotency, test_claims): sends one batch to
the given SMTP server. The tests kill it (kill -9) at chosen or random points, or run several at once.

``crash_child.py '<json>'`` sends one batch and exits. ``crash_child.py --serve`` is a fork server for
tests that start many senders: it imports everything once (answering ``ready``), then for each
``run <json>`` line on stdin forks a child that sends the batch (answering ``pid <pid>``), and for each
``wait <pid>`` line reaps that child (answering ``ended <pid> <exit status>``, negative for a signal).
A forked child is a real sending process with its own database connections and SMTP sessions; forking
saves the 1–2 s of imports a fresh interpreter would spend per kill.

The JSON has db_url, smtp_url, messages, optional policy (DeliveryPolicy fields) and optional start_at
(a time.time() value to wait for before sending: runs that start together)."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from pydantic import SecretStr

from plancycle.settings import Settings
from tasks.notify import DeliveryPolicy, Message, send_batch


def send(args: dict[str, Any]) -> None:
    settings = Settings(
        _env_file=None,
        database_url=args["db_url"],
        smtp_url=SecretStr(args["smtp_url"]),
        email_from="ke-hoach@skhcn.gialai.gov.vn",
    )  # type: ignore[call-arg]
    if args.get("start_at"):
        time.sleep(max(0.0, args["start_at"] - time.time()))
    send_batch(
        [Message.model_validate(m) for m in args["messages"]],
        settings=settings,
        policy=DeliveryPolicy.model_validate({"max_attempts": 1, "concurrency": 1, **args.get("policy", {})}),
    )


def serve() -> None:
    print("ready", flush=True)  # everything is imported
    while line := sys.stdin.readline():
        command, _, rest = line.strip().partition(" ")
        if command == "run":
            pid = os.fork()
            if pid == 0:  # the sending process
                status = 0
                try:
                    send(json.loads(rest))
                except BaseException:
                    traceback.print_exc()
                    status = 1
                finally:
                    sys.stderr.flush()
                    os._exit(status)
            print(f"pid {pid}", flush=True)
        elif command == "wait":
            pid = int(rest)
            _, status = os.waitpid(pid, 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(f"ended {pid} {code}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve()
    else:
        send(json.loads(sys.argv[1]))
