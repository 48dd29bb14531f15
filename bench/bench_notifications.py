"""Benchmark: 2,000 recipients × (email + Zalo) end to end (render, log, send, record) to loopback servers,
then the same batch the naive way (one Prefect task per message). Not a test; run it by hand:

    .venv/bin/python bench/bench_notifications.py [--recipients 2000] [--naive-recipients 2000] [--json PATH]

The SMTP and fake Zalo servers run in a separate process, so the figures are the sender's alone.
Targets (2-core machine): ≥ 100 messages/s, ≥ 10× the naive way, peak RSS ≤ 500 MB; the table says PASS
or FAIL for each. It also shows the sender's CPU time per delivery (steadier than messages/s when other
work shares the machine: the fast run lasts seconds, the naive one a minute), the servers' CPU time and
the machine's load average before and after. ``--json PATH`` also writes the figures in the format of
``bench/common.py`` (``bench/run_all.py`` reads it).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _serve(conn: Any) -> None:
    """Child process: run both servers, answer 'stats' requests, stop on 'stop'."""
    from tests.notify.servers import FakeZalo, SmtpServer

    smtp = SmtpServer().start()
    zalo = FakeZalo(access_token="A0").start()
    conn.send(
        {
            "smtp": smtp.url,
            "zalo": zalo.base,
            "app_id": zalo.app_id,
            "secret": zalo.secret_key,
            "refresh": zalo.refresh_token,
        }
    )
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send(
                {
                    "emails": len(smtp.received),
                    "zalo": len(zalo.messages),
                    "smtp_connections": smtp.handler.connections,
                    "cpu": _cpu_seconds(),
                }
            )
        else:
            smtp.stop()
            zalo.stop()
            conn.send("stopped")
            return


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--naive-recipients", type=int, default=None, help="default: same as --recipients")
    parser.add_argument(
        "--naive-sequential",
        action="store_true",
        help="call the per-message task in a plain loop instead of submitting it to the thread pool",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures here (bench/common.py)"
    )
    args = parser.parse_args()
    naive_n = args.naive_recipients or args.recipients

    parent, child = mp.get_context("spawn").Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    endpoints = parent.recv()

    from pydantic import SecretStr
    from sqlmodel import Session

    from models import Contact, PlanningCycle, Unit
    from models.base import utcnow
    from models.db import get_engine, upgrade_database
    from models.registry import unit_name_key
    from plancycle.settings import Settings
    from tasks.notify import DeliveryPolicy, Message, save_zalo_credentials, send_batch

    workdir = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade_database(db_url)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db_url,
        data_dir=workdir,
        smtp_url=SecretStr(endpoints["smtp"]),
        email_from="ke-hoach@skhcn.gialai.gov.vn",
        zalo_enabled=True,
        zalo_app_id=endpoints["app_id"],
        zalo_secret_key=SecretStr(endpoints["secret"]),
        zalo_oa_api_base=endpoints["zalo"],
        zalo_oauth_base=endpoints["zalo"],
        zalo_zns_base=endpoints["zalo"],
    )
    with Session(get_engine(db_url)) as session:
        cycle = PlanningCycle(
            year=2027,
            title="Kế hoạch ứng dụng CNTT, chuyển đổi số năm 2027",
            submission_deadline=date(2026, 9, 30),
        )
        session.add(cycle)
        units = [
            Unit(code=f"U{i:04d}", name=f"Sở Thử nghiệm {i}", name_key=unit_name_key(f"Sở Thử nghiệm {i}"))
            for i in range(100)
        ]
        session.add_all(units)
        session.flush()
        total = max(args.recipients, naive_n)
        contacts = [
            Contact(
                unit_id=units[i % 100].id,
                full_name=f"Nguyễn Văn Thử {i}",
                email=f"officer{i}@example.org",
                zalo_user_id=f"zu-{i}",
                preferred_channels="email,zalo",
                locale="vi" if i % 5 else "en",
            )
            for i in range(total)
        ]
        session.add_all(contacts)
        save_zalo_credentials(
            session=session,
            app_id=endpoints["app_id"],
            refresh_token=endpoints["refresh"],
            access_token="A0",
            access_expires_at=utcnow() + timedelta(hours=20),
        )
        session.commit()
        contact_ids = [c.id for c in contacts]
        cycle_id = cycle.id

    def batch(prefix: str, n: int) -> list[Message]:
        return [
            Message(
                template="due_soon",
                key=f"{prefix}:2027",
                contact_id=cid,
                cycle_id=cycle_id,
                context={
                    "deadline": date(2026, 9, 30),
                    "days_left": 3,
                    "link": f"https://kehoach.gialai.gov.vn/u/{cid}?t=abcdef",
                },
            )
            for cid in contact_ids[:n]
        ]

    policy = DeliveryPolicy(backoff_initial=0.2, backoff_max=2.0)
    rss_before = _peak_rss_mb()

    # ------------------------------------------------------------ the real way: one routine, one batch
    fast_messages = batch("bench-fast", args.recipients)
    load_before = os.getloadavg()[0]
    parent.send("stats")
    before_fast = parent.recv()
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    result = send_batch(fast_messages, settings=settings, policy=policy)
    fast_seconds = time.perf_counter() - started
    fast_cpu = _cpu_seconds() - cpu_started
    fast_count = sum(1 for d in result.deliveries if d.status == "sent")
    fast_rate = fast_count / fast_seconds
    fast_rss = _peak_rss_mb()
    parent.send("stats")
    after_fast = parent.recv()
    rerun_started = time.perf_counter()
    rerun = send_batch(fast_messages, settings=settings, policy=policy)
    rerun_seconds = time.perf_counter() - rerun_started

    # ------------------------------------------------------------ the naive way: a Prefect task per message
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect.testing.utilities import prefect_test_harness

    @task(cache_policy=NO_CACHE)
    def send_one(message: Any) -> int:
        return send_batch([message], settings=settings, policy=policy).sent_now

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=settings.send_concurrency))
    def naive(messages: list[Any]) -> int:
        if args.naive_sequential:
            return sum(send_one(m) for m in messages)
        return sum(f.result() for f in [send_one.submit(m) for m in messages])

    naive_messages = batch("bench-naive", naive_n)
    with prefect_test_harness(server_startup_timeout=120):
        naive_cpu_started = _cpu_seconds()
        naive_started = time.perf_counter()
        naive_count = naive(naive_messages)
        naive_seconds = time.perf_counter() - naive_started
        naive_cpu = _cpu_seconds() - naive_cpu_started
    load_after = os.getloadavg()[0]
    naive_rate = naive_count / naive_seconds
    parent.send("stats")
    after_naive = parent.recv()
    parent.send("stop")
    parent.recv()

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    speedup = fast_rate / naive_rate
    fast_ms = 1000 * fast_cpu / max(fast_count, 1)
    naive_ms = 1000 * naive_cpu / max(naive_count, 1)
    rows = [
        (
            "messages/s (render, log, send, record)",
            "≥ 100",
            f"{fast_rate:,.0f}",
            f"{naive_rate:,.1f}",
            f"{speedup:,.1f}×",
            verdict(fast_rate >= 100),
        ),
        (
            "speed-up over one Prefect task per message",
            "≥ 10×",
            f"{speedup:,.1f}×",
            "1×",
            "",
            verdict(speedup >= 10),
        ),
        (
            "peak RSS of the sender process (MB)",
            "≤ 500",
            f"{fast_rss:,.0f}",
            f"{_peak_rss_mb():,.0f}",
            f"(at start {rss_before:,.0f})",
            verdict(fast_rss <= 500),
        ),
        (
            "deliveries (email + Zalo)",
            f"{2 * args.recipients}",
            f"{fast_count} in {fast_seconds:.1f} s",
            f"{naive_count} in {naive_seconds:.1f} s",
            "",
            verdict(fast_count == 2 * args.recipients and naive_count == 2 * naive_n),
        ),
        (
            "received by the servers",
            "",
            f"{after_fast['emails']} emails, {after_fast['zalo']} Zalo",
            f"+{after_naive['emails'] - after_fast['emails']} / +{after_naive['zalo'] - after_fast['zalo']}",
            "",
            "",
        ),
        ("SMTP connections opened (fast run)", "", f"{after_fast['smtp_connections']}", "", "", ""),
        (
            "re-run of the same batch",
            "0 sent",
            f"{rerun.sent_now} sent in {rerun_seconds:.2f} s",
            "",
            "",
            verdict(rerun.sent_now == 0),
        ),
        (
            "sender CPU per delivery (ms)",
            "",
            f"{fast_ms:.2f}",
            f"{naive_ms:.2f}",
            f"{naive_ms / fast_ms:,.1f}×" if fast_ms else "",
            "",
        ),
        (
            "loopback servers' CPU (s)",
            "",
            f"{after_fast['cpu'] - before_fast['cpu']:.1f}",
            f"{after_naive['cpu'] - after_fast['cpu']:.1f}",
            "",
            "",
        ),
        (
            "machine load (1-min average, 2 cores)",
            "",
            f"{load_before:.1f} before",
            f"{load_after:.1f} after",
            "",
            "",
        ),
    ]
    header = ("figure", "target", "measured", "baseline (naive)", "ratio", "result")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    if args.json:
        from bench.common import Figure, Measurement, write_report

        naive_name = "one Prefect task per message"
        write_report(
            args.json,
            benchmark="notifications",
            parameters={"recipients": args.recipients, "naive_recipients": naive_n},
            figures=[
                Figure(
                    "messages_per_s",
                    "messages/s, end to end (render, log, send, record)",
                    fast_rate,
                    "messages/s",
                    100,
                    ">=",
                    naive_rate,
                    naive_name,
                ),
                Figure("speedup", f"speed-up over {naive_name}", speedup, "×", 10, ">="),
                Figure("peak_rss_mb", "peak RSS of the sender process", fast_rss, "MB", 500, "<="),
                Figure(
                    "not_sent",
                    "deliveries not sent (fast and naive runs)",
                    2 * args.recipients - fast_count + 2 * naive_n - naive_count,
                    "messages",
                    0,
                    "<=",
                ),
                Figure(
                    "rerun_sent", "re-run of the same batch: sent again", rerun.sent_now, "messages", 0, "<="
                ),
            ],
            context=[
                Measurement("fast_seconds", f"fast run, {fast_count} deliveries", fast_seconds, "s"),
                Measurement("naive_seconds", f"naive run, {naive_count} deliveries", naive_seconds, "s"),
                Measurement("cpu_ms_fast", "sender CPU per delivery", fast_ms, "ms"),
                Measurement("cpu_ms_naive", "sender CPU per delivery, naive way", naive_ms, "ms"),
                Measurement(
                    "peak_rss_after_naive_mb", "peak RSS after the naive run too", _peak_rss_mb(), "MB"
                ),
                Measurement(
                    "smtp_connections", "SMTP connections (fast run)", after_fast["smtp_connections"], ""
                ),
                Measurement(
                    "servers_cpu_s",
                    "loopback servers' CPU, fast run",
                    after_fast["cpu"] - before_fast["cpu"],
                    "s",
                ),
            ],
        )


if __name__ == "__main__":
    main()
