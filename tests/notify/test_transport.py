"""The Zalo plugins' HTTP client (apprise_zalo.transport): keep-alive reuse, stale pooled connections,
network errors, proxies from the environment."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apprise_zalo import transport
from apprise_zalo.transport import HttpError, post_json
from models.base import DeliveryStatus
from tasks.notify import DeliveryPolicy, send_batch
from tests.notify.conftest import due_soon
from tests.notify.servers import FakeZalo, free_port

TIMEOUTS = {"verify": True, "connect_timeout": 5.0, "read_timeout": 5.0}


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    transport.close_idle()
    yield
    transport.close_idle()


def _send(zalo: FakeZalo, user: str, base: str | None = None) -> tuple[int, dict[str, Any]]:
    status, body = post_json(
        f"{base or zalo.base}/v3.0/oa/message/cs",
        {"recipient": {"user_id": user}, "message": {"text": "Xin chào, Đắk Lắk"}},
        headers={"access_token": "A0", "User-Agent": "Apprise"},
        **TIMEOUTS,
    )
    return status, json.loads(body)


def test_one_keep_alive_connection_serves_sequential_requests(zalo: FakeZalo) -> None:
    for i in range(20):
        status, data = _send(zalo, f"zu-{i}")
        assert status == 200 and data["error"] == 0
    assert zalo.connections == 1
    assert [m["text"] for m in zalo.messages] == ["Xin chào, Đắk Lắk"] * 20


def test_connection_closed_by_the_server_while_idle_is_not_reused() -> None:
    """A server that closes every connection after one answer (as on an idle timeout): the pooled
    connection is seen to be closed before it is used, and the next request opens a new one."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served: list[bytes] = []

    def serve() -> None:
        for _ in range(3):
            conn, _addr = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
                    ).split(b":")[1]
                )
                while len(body) < length:
                    body += conn.recv(65536)
                served.append(body)
                answer = b'{"error":0,"message":"Success","data":{"message_id":"m"}}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                # No "Connection: close": the client pools it; closing now is the idle-timeout case.

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        for i in range(3):
            status, body = post_json(
                f"http://127.0.0.1:{port}/v3.0/oa/message/cs",
                {"n": i},
                headers={"access_token": "A0"},
                **TIMEOUTS,
            )
            assert status == 200 and json.loads(body)["error"] == 0
            # Let the server's close reach us before the next request (as after an idle period).
            threading.Event().wait(0.05)
    finally:
        thread.join(5)
        listener.close()
    assert [json.loads(b) for b in served] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_no_server_is_a_network_error() -> None:
    with pytest.raises(HttpError) as info:
        post_json(
            f"http://127.0.0.1:{free_port()}/x",
            {},
            headers={},
            verify=True,
            connect_timeout=2,
            read_timeout=2,
        )
    assert info.value.kind == "ConnectionRefusedError"


def test_unreachable_zalo_is_transient_for_the_batch(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo)
    settings = make_settings(zalo=zalo, zalo_oa_api_base=f"http://127.0.0.1:{free_port()}")
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01)
    delivery, fallback = send_batch([due_soon(world, "zalo")], settings=settings, policy=policy).deliveries
    assert delivery.attempts == 2 and delivery.error.startswith("network: ConnectionRefusedError")
    # Failed on every attempt of the batch: the contact gets the email instead, and Zalo is closed.
    assert delivery.status == DeliveryStatus.failed_permanent and "sent by email instead" in delivery.error
    assert fallback.channel == "email" and fallback.status == DeliveryStatus.sent


def test_proxy_from_the_environment_is_used(zalo: FakeZalo, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert not transport._proxied("http", "openapi.zalo.me")
    monkeypatch.setenv("HTTP_PROXY", zalo.base)  # the fake answers absolute-form requests like a proxy
    assert transport._proxied("http", "openapi.zalo.me")
    status, data = _send(zalo, "zu-proxied", base="http://openapi.zalo.invalid")
    assert status == 200 and data["error"] == 0 and zalo.messages[-1]["user_id"] == "zu-proxied"
    monkeypatch.setenv("NO_PROXY", "zalo.invalid")
    assert not transport._proxied("http", "openapi.zalo.invalid")


def test_zalo_sender_parses_each_kind_of_url_once(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    """Two ZNS templates and the OA: each job's plugin has its own template, recipient and tracking id."""
    from tasks.notify.channels import Job, ZaloSender

    sender = ZaloSender(make_settings(zalo=zalo))

    def job(channel: str, recipient: str, template: str | None = None, key: str = "k") -> Job:
        return Job(
            key=key,
            channel=channel,
            recipient=recipient,
            recipient_name=None,
            template="due_soon",
            subject="",
            html="",
            text="",
            zalo="x",
            zns_template_id=template,
        )

    a = sender.plugin(job("zns", "84900000001", "T1", key="a"))
    b = sender.plugin(job("zns", "84900000002", "T2", key="b"))
    c = sender.plugin(job("zalo", "zu-1"))
    assert (a.template_id, a.targets, b.template_id, b.targets) == (
        "T1",
        ["84900000001"],
        "T2",
        ["84900000002"],
    )
    assert a.tracking != b.tracking and len(a.tracking) == 32
    assert c.targets == ["zu-1"] and c.mode == "cs" and c.base == zalo.base
    assert sender.plugin(job("zalo", "")) is None  # no recipient: not a valid URL
    assert sender.plugin(job("zns", "84900000003", None)) is None  # no ZNS template id
    assert len(sender._parsed) == 4


def test_a_refused_header_value_never_reaches_the_error(zalo: FakeZalo) -> None:
    with pytest.raises(HttpError) as info:
        post_json(
            f"{zalo.base}/v3.0/oa/message/cs",
            {},
            headers={"access_token": "secret-token\r\nX-Injected: 1"},
            **TIMEOUTS,
        )
    assert info.value.kind == "ValueError" and "secret-token" not in str(info.value)
    assert zalo.send_calls == 0
