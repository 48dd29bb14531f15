"""Real servers on loopback for the tests and the benchmark: an aiosmtpd SMTP server, a fake Zalo (OA API
v3, OAuth v4 refresh with rotation, ZNS) on ``http.server``, and the portal in uvicorn."""

from __future__ import annotations

import asyncio
import contextvars
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_portal(port: int | None = None) -> Iterator[str]:
    """The portal app (settings from the environment) in a real uvicorn server on loopback, in a thread
    that runs in a copy of the caller's context; yields its address and stops it afterwards."""
    import uvicorn

    from portal.app import create_app

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpHandler:
    received: list[Received] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # recipients answered with 550
    # Crash tests: set `arrived` once a message is taken, then wait on `hold` before answering 250.
    arrived: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    delay: float = 0.0  # seconds before answering DATA: a slower server, so that overlapping runs overlap

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold is not None:
            while not self.hold.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``stop()`` and ``start()`` again on the same port simulate an outage."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = SmtpHandler()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure"

    @property
    def received(self) -> list[Received]:
        return self.handler.received


# ---------------------------------------------------------------- Zalo


class FakeZalo:
    """Zalo's OA v3 send, OAuth v4 refresh (rotating; a spent refresh token is refused) and ZNS."""

    def __init__(
        self,
        *,
        app_id: str = "4242",
        secret_key: str = "zalo-app-secret-key",
        refresh_token: str = "R0",
        access_token: str | None = None,
        port: int | None = None,
    ) -> None:
        self.app_id, self.secret_key = app_id, secret_key
        self.refresh_token = refresh_token
        self.spent_refresh_tokens: set[str] = set()
        self.valid_access: set[str] = {access_token} if access_token else set()
        self.not_followers: set[str] = set()
        self.invalid_phones: set[str] = set()
        self.fail_5xx: dict[str, int] = {}  # recipient → number of 503 answers before success
        self.rate_limit: dict[str, int] = {}  # recipient → number of -32 answers before success
        self.messages: list[dict[str, Any]] = []
        self.zns: list[dict[str, Any]] = []
        self.refresh_calls = 0
        self.refused_refresh = 0
        self.send_calls = 0
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows as few)
        self.team: list[
            dict[str, Any]
        ] = []  # anything posted to /team (Apprise json:// for the team channel)
        self.on_send: Any = None  # called with the access token of every accepted OA message
        self.arrived = threading.Event()
        self.hold: threading.Event | None = None
        self.lock = threading.Lock()
        self.port = port or free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-zalo", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeZalo:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.valid_access.clear()

    # ------------------------------------------------------------ endpoints

    def refresh(self, headers: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.refresh_calls += 1
            if headers.get("secret_key") != self.secret_key or form.get("app_id") != self.app_id:
                return 200, {"error": -14002, "error_name": "Invalid app", "error_description": "bad app"}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
                self.refused_refresh += 1
                return 200, {
                    "error": -14014,
                    "error_name": "Invalid refresh token",
                    "error_description": "Refresh token is invalid or has been used",
                }
            self.spent_refresh_tokens.add(self.refresh_token)
            self.refresh_token = f"R{self.refresh_calls}-{uuid.uuid4().hex[:8]}"
            access = f"A{self.refresh_calls}-{uuid.uuid4().hex}"
            self.valid_access = {access}
            return 200, {"access_token": access, "refresh_token": self.refresh_token, "expires_in": "90000"}

    def oa_send(self, mode: str, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user = str((body.get("recipient") or {}).get("user_id", ""))
        with self.lock:
            self.send_calls += 1
            if headers.get("access_token") not in self.valid_access:
                return 200, {"error": -216, "message": "Access token is invalid"}
            if self.fail_5xx.get(user, 0) > 0:
                self.fail_5xx[user] -= 1
                return 503, {"error": -1, "message": "Service unavailable"}
            if self.rate_limit.get(user, 0) > 0:
                self.rate_limit[user] -= 1
                return 200, {"error": -32, "message": "Exceed rate limit"}
            if user in self.not_followers:
                return 200, {"error": -213, "message": "User has not followed OA"}
            if self.on_send is not None:
                self.on_send(headers.get("access_token"))
            message_id = uuid.uuid4().hex
            self.messages.append(
                {"mode": mode, "user_id": user, "text": body["message"]["text"], "message_id": message_id}
            )
        self.arrived.set()
        if self.hold is not None:
            self.hold.wait(30)
        return 200, {"error": 0, "message": "Success", "data": {"message_id": message_id, "user_id": user}}

    def zns_send(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.send_calls += 1
            if headers.get("access_token") not in self.valid_access:
                return 200, {"error": -124, "message": "Access token invalid"}
            if body.get("phone") in self.invalid_phones:
                return 200, {"error": -108, "message": "Phone number invalid"}
            msg_id = uuid.uuid4().hex
            self.zns.append({**body, "msg_id": msg_id})
        return 200, {"error": 0, "message": "Success", "data": {"msg_id": msg_id, "sent_time": "0"}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections += 1
                # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                if "://" in path:  # absolute form, as a client sends it to a proxy: we are the proxy here
                    path = "/" + path.split("://", 1)[1].partition("/")[2]
                if path == "/v4/oa/access_token":
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    status, payload = fake.refresh(self.headers, form)
                elif path.startswith("/v3.0/oa/message/"):
                    status, payload = fake.oa_send(path.rsplit("/", 1)[-1], self.headers, json.loads(raw))
                elif path == "/team":
                    with fake.lock:
                        fake.team.append(json.loads(raw))
                    status, payload = 200, {"ok": True}
                elif path == "/message/template":
                    status, payload = fake.zns_send(self.headers, json.loads(raw))
                else:
                    status, payload = 404, {"error": -404, "message": "not found"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
