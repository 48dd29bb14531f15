"""The Zalo plugins' HTTP client: JSON ``POST`` over pooled keep-alive ``http.client`` connections.

Sending thousands of messages, httpx cost about 1 ms of Python per request (request and response models,
header normalisation, the connection pool's bookkeeping); ``http.client`` does the same HTTP/1.1 exchange
in a fraction of that. Connections are shared by every thread through one idle pool per origin (LIFO,
at most :data:`MAX_IDLE` per origin): a worker takes a connection, makes one request, reads the whole
answer and hands the connection back. A pooled connection the server has closed meanwhile (the socket
is readable before we wrote anything) is dropped before use, as httpcore does. A failure is never retried
here: the caller sees :class:`HttpError` and decides (the delivery routine retries with back-off).

TLS uses ``httpx.create_ssl_context`` (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), so certificate
checks are exactly httpx's. When the environment names a proxy for the URL (``HTTPS_PROXY``,
``ALL_PROXY``, … and ``NO_PROXY``), the request goes through httpx, which knows how to talk to proxies.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import ssl
import threading
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

MAX_IDLE = 64
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

_Key = tuple[str, str, int, bool]
_T = TypeVar("_T")


class HttpError(Exception):
    """The exchange failed at the network or protocol level (no HTTP status to look at)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_idle: dict[_Key, list[http.client.HTTPConnection]] = {}
_idle_lock = threading.Lock()


def _one_per_verify(make: Callable[[bool], _T]) -> Callable[[bool], _T]:
    """``make(verify)``, built once for each value of ``verify`` and shared by every thread."""
    made: dict[bool, _T] = {}

    def get(verify: bool) -> _T:
        with _idle_lock:
            value = made.get(verify)
            if value is None:
                value = made[verify] = make(verify)
            return value

    return get


_ssl_context: Callable[[bool], ssl.SSLContext] = _one_per_verify(
    lambda verify: httpx.create_ssl_context(verify=verify)
)
_httpx_client: Callable[[bool], httpx.Client] = _one_per_verify(lambda verify: httpx.Client(verify=verify))


def _proxied(scheme: str, host: str) -> bool:
    if not any(name in os.environ for name in _PROXY_VARS):
        return False
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)


def _usable(conn: http.client.HTTPConnection) -> bool:
    """An idle connection is usable if its socket is open and has nothing to read: a readable idle socket
    means the server closed it (EOF) or sent something we did not ask for."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False


def _take(key: _Key) -> http.client.HTTPConnection | None:
    stale = []
    conn = None
    with _idle_lock:
        idle = _idle.get(key)
        while idle:
            candidate = idle.pop()
            if _usable(candidate):
                conn = candidate
                break
            stale.append(candidate)
    for old in stale:
        old.close()
    return conn


def _give_back(key: _Key, conn: http.client.HTTPConnection) -> None:
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append(conn)
            return
    conn.close()


def close_idle() -> None:
    """Close every pooled connection (tests; a long-lived process never needs to)."""
    with _idle_lock:
        conns = [c for idle in _idle.values() for c in idle]
        _idle.clear()
    for conn in conns:
        conn.close()


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: dict[str, str],
    verify: bool,
    connect_timeout: float,
    read_timeout: float,
) -> tuple[int, bytes]:
    """POST ``payload`` as JSON; return (HTTP status, body). Raises :class:`HttpError` when no answer."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise HttpError("UnsupportedURL")
    if _proxied(scheme, host):
        try:
            proxied = _httpx_client(verify).post(
                url,
                json=payload,
                headers=headers,
                timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            )
        except httpx.HTTPError as exc:
            raise HttpError(type(exc).__name__) from None
        return proxied.status_code, proxied.content
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # As httpx encodes JSON bodies.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    all_headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        **headers,
    }
    key: _Key = (scheme, host, port, verify)
    conn = _take(key)
    try:
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    host, port, timeout=connect_timeout, context=_ssl_context(verify)
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(read_timeout)
        conn.request("POST", path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # Only the kind of failure: a message could quote a header value (the access token).
        if conn is not None:
            conn.close()
        raise HttpError(type(exc).__name__) from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    if response.will_close:
        conn.close()
    else:
        _give_back(key, conn)
    return response.status, data
