"""Typed errors carrying the API's `{"error": {"status", "code", "message", "fields"}}` answer."""
from __future__ import annotations

from typing import Any


class AssbdbError(Exception):
    """Any failure talking to assbdb: `status` (HTTP, 0 without an answer), `code`, `message`, `fields`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "error",
        fields: dict[str, list[str]] | None = None,
        url: str = "",
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields: dict[str, list[str]] = fields or {}
        self.url = url
        self.body = body

    def __str__(self) -> str:
        where = f" ({self.status} {self.url})" if self.status else ""
        fields = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.fields.items())
        return f"{self.message}{where}" + (f" [{fields}]" if fields and fields not in self.message else "")


class ValidationError(AssbdbError):
    """400: the input was refused; `fields` maps each offending field (dotted path) to its messages."""


class AuthenticationFailed(AssbdbError):
    """401: no token, a wrong, revoked or expired one."""


class PermissionDenied(AssbdbError):
    """403: signed in but not allowed (not a member of the owning group, or a read-only token on a write)."""


class NotFound(AssbdbError):
    """404: no such record, or one you may not see."""


class RateLimited(AssbdbError):
    """429 after the retries ran out; `retry_after_s` is the server's Retry-After."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class ServerError(AssbdbError):
    """5xx after the retries ran out."""


class ConnectionFailed(AssbdbError):
    """The server could not be reached (refused, timed out, name not resolved) after the retries ran out."""


class JobFailed(AssbdbError):
    """A background job ended in `failed`; `job` is its last state."""

    def __init__(self, message: str, *, job: dict, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.job = job


BY_STATUS: dict[int, type[AssbdbError]] = {
    400: ValidationError,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def error_for(status: int, body: Any, url: str, retry_after_s: float | None = None) -> AssbdbError:
    """The exception for an error answer, from its JSON body when it has the API's shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or f"HTTP {status}")
        code = str(error.get("code") or "error")
        fields = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in (error.get("fields") or {}).items()}
    else:
        message = f"HTTP {status}" + (f": {str(body)[:200]}" if body else "")
        code, fields = "error", {}
    kind = BY_STATUS.get(status) or (ServerError if status >= 500 else AssbdbError)
    options = {"status": status, "code": code, "fields": fields, "url": url, "body": body}
    if kind is RateLimited:
        return RateLimited(message, retry_after_s=retry_after_s, **options)
    return kind(message, **options)
