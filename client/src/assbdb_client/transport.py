"""HTTP with bounded retries and exponential backoff, and the API's errors raised as typed exceptions."""
from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from .errors import AssbdbError, ConnectionFailed, error_for

logger = logging.getLogger("assbdb_client")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A POST or PATCH is repeated only where the server cannot have carried it out.
RETRY_ANY_METHOD = frozenset({429, 502, 503})
RETRY_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAX_RETRY_AFTER_S = 300.0


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class RetryingSession:
    """One `httpx.Client` with the token header, retries and error mapping.

    `max_retries` extra attempts after the first; waits `backoff_s * 2**attempt`
    (with jitter, at most `max_backoff_s`), or the server's Retry-After on 429.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "assbdb-client",
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport, follow_redirects=True
        )
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def set_token(self, token: str | None) -> None:
        if token:
            self.http.headers["Authorization"] = f"Token {token}"
        else:
            self.http.headers.pop("Authorization", None)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return delay * (0.5 + random.random() / 2)  # jitter: many harvesters do not retry in step

    def request(self, method: str, url: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """The answer (2xx/3xx); an error answer or an unreachable server raises an `AssbdbError`."""
        method = method.upper()
        retry_statuses = RETRY_IDEMPOTENT if method in IDEMPOTENT else RETRY_ANY_METHOD
        attempt = 0
        while True:
            try:
                request = self.http.build_request(method, url, **kwargs)
                response = self.http.send(request, stream=stream)
            except httpx.TransportError as error:
                retryable = method in IDEMPOTENT or isinstance(error, NOT_SENT)
                if not retryable or attempt >= self.max_retries:
                    raise ConnectionFailed(
                        f"Could not reach {self.http.base_url}: {error.__class__.__name__}: {error}",
                        url=str(getattr(error, "request", None) and error.request.url or url),
                    ) from error
                delay = self._backoff(attempt)
                logger.info("%s %s: %s; retrying in %.1f s", method, url, error.__class__.__name__, delay)
            else:
                if response.status_code < 400:
                    return response
                if stream:
                    response.read()
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code not in retry_statuses or attempt >= self.max_retries:
                    raise error_for(response.status_code, _json_or_text(response), str(response.url), retry_after)
                if response.status_code == 429 and retry_after is not None:
                    delay = min(retry_after, MAX_RETRY_AFTER_S)
                else:
                    delay = self._backoff(attempt)
                logger.info("%s %s: HTTP %s; retrying in %.1f s", method, url, response.status_code, delay)
                response.close()
            attempt += 1
            self.sleep(delay)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise AssbdbError(
                f"Expected JSON from {response.url}, got {response.headers.get('Content-Type', '?')}",
                status=response.status_code, url=str(response.url),
            ) from error


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
