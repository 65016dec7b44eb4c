"""Guards around the whole app: security headers, authenticated Gradio uploads, failed-credential throttling.

* :class:`SecurityHeaders` adds a Content-Security-Policy (nothing from another origin; inline
  and evaluated script, inline style, only because Gradio's page needs them), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` / ``frame-ancestors 'none'`` and ``Referrer-Policy`` to every response.
* :class:`UploadGuard` makes Gradio's ``POST /gradio_api/upload`` (which otherwise stores files
  from anyone) require the admin token: header ``X-Admin-Token`` or the ``hdyt_admin`` cookie that
  ``POST /api/admin/session`` sets after a correct token; refused when no token is configured;
  rate-limited per client.
* :class:`FailureThrottle` answers 429 to a client after a few wrong API keys or admin tokens.
* :class:`SlidingWindowLimiter` is the per-client request limit; idle clients are pruned by a
  background thread (:func:`start_pruning`), never on the request path.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import deque
from http.cookies import SimpleCookie

from fastapi.responses import JSONResponse

from rag.config import Settings

ADMIN_COOKIE = "hdyt_admin"
ADMIN_HEADER = "X-Admin-Token"
UPLOAD_PATH_SUFFIX = "/gradio_api/upload"
MAX_FAILURES = 5  # wrong keys or tokens per client within FAILURE_WINDOW before 429s
FAILURE_WINDOW = 300.0
LOGIN_FAILURES = 100  # the page logs in as the token is typed: one failure per keystroke, not per guess
UPLOADS_PER_MINUTE = 30
# the library tab's token box logs in on every change; the upload box unlocks after the reply, so
# the session cookie exists before any file can be picked
ADMIN_LOGIN_JS = """async (token) => {
  try {
    await fetch("/api/admin/session", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({token: token || ""})});
  } catch (e) {}
  return [token];
}"""

CSP = "; ".join(
    [
        "default-src 'self'",
        # Gradio's page boots from inline scripts and runs event handlers' js= strings with new Function()
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",  # and sets inline styles
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def error_json(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's error shape (see :mod:`rag.web.api`)."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def client_of(scope) -> str:
    return (scope.get("client") or ("unknown", 0))[0]


def header_map(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (kept where a route set its own)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FailureThrottle:
    """Counts failed credentials per client; past ``limit`` in ``window`` seconds the client waits."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> float | None:
        """Seconds the client must wait before trying another credential, or None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(client, ()) if t > now - self.window]
            if recent:
                self._failures[client] = recent
            else:
                self._failures.pop(client, None)
            return recent[0] + self.window - now if len(recent) >= self.limit else None

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._failures.setdefault(client, []).append(now)

    def prune(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for client in [c for c, ts in self._failures.items() if not ts or ts[-1] <= now - self.window]:
                del self._failures[client]


class SlidingWindowLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (exact sliding window of timestamps)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Record a hit; ``None`` if allowed, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return None

    def prune(self, now: float | None = None) -> None:
        """Forget clients idle for a whole window (run by :func:`start_pruning`, never per request)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]
        for key in idle:  # one short lock per key: requests are never held up behind a long sweep
            with self._lock:
                hits = self._hits.get(key)
                if hits is not None and (not hits or hits[-1] <= now - self.window):
                    del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)


def start_pruning(prunables: list, every: float = 30.0) -> threading.Event:
    """A daemon thread pruning the limiters and throttles in ``prunables`` (a list others may append
    to) every ``every`` seconds; set the event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            for p in prunables:
                p.prune()

    threading.Thread(target=loop, name="hdyt-prune", daemon=True).start()
    return stop


def throttled_response(seconds: float) -> JSONResponse:
    wait = max(1, math.ceil(seconds))
    return error_json(
        429,
        "too_many_failures",
        f"Sai thông tin xác thực quá nhiều lần, thử lại sau {wait} giây / too many wrong credentials, retry in {wait} s",
        {"Retry-After": str(wait)},
    )


def admin_session_value(token: str) -> str:
    """The admin cookie's value: derived from the token, so nothing is stored and a new token voids it."""
    return hmac.new(token.encode(), b"hdyt-admin-session", hashlib.sha256).hexdigest()


def is_admin(scope, token: str) -> bool:
    """Whether the request carries the admin token (header) or a session cookie made from it."""
    if not token:
        return False
    headers = header_map(scope)
    given = headers.get(ADMIN_HEADER.lower(), "")
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is simply no session
        return False
    morsel = cookie.get(ADMIN_COOKIE)
    return morsel is not None and hmac.compare_digest(morsel.value.encode(), admin_session_value(token).encode())


class UploadGuard:
    """ASGI middleware: Gradio's upload route only for an admin, at most ``UPLOADS_PER_MINUTE`` per client."""

    def __init__(self, app, settings: Settings, throttle: FailureThrottle, limiter: SlidingWindowLimiter) -> None:
        self.app = app
        self.token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.throttle = throttle
        self.limiter = limiter

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(UPLOAD_PATH_SUFFIX):
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        if not self.token:
            response = error_json(403, "admin_disabled", "Tải lên đang tắt: máy chủ chưa đặt mã quản trị / uploads are disabled (no admin token configured)")
        elif (wait := self.throttle.retry_after(client)) is not None:
            response = throttled_response(wait)
        elif not is_admin(scope, self.token):
            self.throttle.fail(client)
            response = error_json(401, "unauthorized", "Cần mã quản trị để tải tệp lên / uploading needs the admin token")
        elif (retry := self.limiter.hit(client)) is not None:
            wait = max(1, math.ceil(retry))
            response = error_json(429, "rate_limited", f"Quá nhiều lượt tải lên, thử lại sau {wait} giây / too many uploads", {"Retry-After": str(wait)})
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def login_response(token: str, given: object, client: str, throttle: FailureThrottle) -> JSONResponse:
    """``POST /api/admin/session``: a correct admin token sets the session cookie the upload route needs."""
    if not token:
        return error_json(403, "admin_disabled", "Chức năng quản trị đang tắt / admin is disabled (no admin token configured)")
    wait = throttle.retry_after(client)
    if wait is not None:
        return throttled_response(wait)
    if not isinstance(given, str) or not given or not hmac.compare_digest(given.encode(), token.encode()):
        throttle.fail(client)
        return error_json(401, "unauthorized", "Mã quản trị không đúng / wrong admin token")
    response = JSONResponse({"ok": True})
    response.set_cookie(ADMIN_COOKIE, admin_session_value(token), httponly=True, samesite="strict", path="/")
    return response
