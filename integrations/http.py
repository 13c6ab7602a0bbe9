"""Calling a platform's REST API: timeouts, polite retries, and errors that say what to do next.

Thin payloads (pretix, Eventbrite) only say "something happened"; the worker fetches the details
through `PlatformApi`. The rules follow what the platforms ask of API clients: retry 429 and
5xx with backoff, honouring `Retry-After`; leave an unreachable platform to the task's own
backoff; never retry other 4xx; treat 401/403 as credentials that need the organizer's
attention.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests

# (connect, read) seconds: a platform that cannot answer in this time is treated as down.
DEFAULT_TIMEOUT = (3.05, 15.0)
# How long one call may wait in-process for a Retry-After; longer waits go back to the queue.
MAX_INLINE_WAIT_SECONDS = 10.0
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class PlatformError(Exception):
    """A platform API call failed; `reason` is a stable slug stored on the delivery."""

    reason = "platform_error"

    def __init__(self, detail: str, status: int | None = None) -> None:
        self.detail = detail
        self.status = status
        super().__init__(detail)


class PlatformAuthError(PlatformError):
    """401/403: the stored credentials no longer work; the organizer must fix them."""

    reason = "platform_credentials_invalid"


class PlatformNotFound(PlatformError):
    """404/410: the object the webhook names is gone; retrying will not bring it back."""

    reason = "platform_not_found"


class PlatformRejected(PlatformError):
    """Any other 4xx: our request is wrong for this platform; retrying will not help."""

    reason = "platform_rejected"


class PlatformUnavailable(PlatformError):
    """429, 5xx, timeouts, connection failures: try again later (after `retry_after`)."""

    reason = "platform_unavailable"

    def __init__(self, detail: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(detail, status)
        self.retry_after = retry_after


class PlatformApi:
    """A small JSON client for one platform account: base URL, auth headers, retry policy."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = dict(headers)
        self.session = session or requests.Session()
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep

    def url(self, path_or_url: str) -> str:
        """An absolute URL for `path_or_url` under the base URL; anything else is refused.

        The auth headers go with every request, so a URL taken from a webhook payload must
        never lead them to another host or outside the account's API.
        """
        url = urljoin(self.base_url, path_or_url.lstrip("/"))
        if not url.startswith(self.base_url):
            raise PlatformRejected(f"refusing to call {url}: it is outside {self.base_url}")
        return url

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PlatformApi:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, path_or_url: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path_or_url, params=params)

    def post(self, path_or_url: str, payload: Mapping[str, Any]) -> Any:
        return self.request("POST", path_or_url, json=payload)

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """Send one request, retrying transient failures; return the decoded JSON body."""
        url = self.url(path_or_url)
        failure: PlatformError
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=self.headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    **kwargs,
                )
            except (requests.Timeout, requests.ConnectionError) as err:
                # Unreachable or too slow: waiting here would hold a worker for nothing. The
                # task's own backoff retries it later.
                raise PlatformUnavailable(f"{method} {url}: {type(err).__name__}") from err
            if response.status_code < 300:
                return _json(response, url)
            failure = _failure(method, url, response)
            if not isinstance(failure, PlatformUnavailable) or attempt == self.attempts:
                raise failure
            wait = _backoff(attempt, failure.retry_after)
            if wait > MAX_INLINE_WAIT_SECONDS:
                raise failure
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _json(response: requests.Response, url: str) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError as err:
        raise PlatformRejected(f"{url} answered with a body that is not JSON") from err


def _failure(method: str, url: str, response: requests.Response) -> PlatformError:
    status = response.status_code
    detail = f"{method} {url} answered {status}"
    if status in (401, 403):
        return PlatformAuthError(detail, status)
    if status in (404, 410):
        return PlatformNotFound(detail, status)
    if status in RETRYABLE_STATUSES:
        return PlatformUnavailable(
            detail, status, retry_after_seconds(response.headers.get("Retry-After"))
        )
    return PlatformRejected(detail, status)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return float(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
