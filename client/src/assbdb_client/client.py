"""`Client`: the assbdb REST API (/api/v1/) from Python."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from . import resources
from .records import Records
from .resources import PathLike, query_params
from .transport import RetryingSession

API_PREFIX = "api/v1/"


def api_root(url: str) -> str:
    """The API root for a site URL (`http://host:8000`) or an API URL (`…/api/v1`), ending in a slash."""
    url = url.rstrip("/") + "/"
    return url if url.endswith(API_PREFIX) else urljoin(url, API_PREFIX)


class Client:
    """A session with an assbdb server.

    >>> db = Client("http://127.0.0.1:8000", token=os.environ["ASSBDB_TOKEN"])
    >>> db.cells.list(search="LLZTO").to_dataframe()

    One attribute per resource: `groups`, `materials`, `sources`, `separators`,
    `electrodes`, `interfaces`, `cells`, `spectra`, `raw_files`, `protocols`,
    `fits`, `conductivities`, `arrhenius_fits`, `benchmark_entries`,
    `literature_values`, `jobs`, `tokens`. Without a token only public records
    are visible. Requests are retried on 429, 5xx and connection errors
    (`max_retries`, exponential backoff from `backoff_s`).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_root(url)
        self.token = token
        self.session = RetryingSession(
            self.api_url, token, timeout_s=timeout_s, max_retries=max_retries, backoff_s=backoff_s,
            max_backoff_s=max_backoff_s, transport=transport, sleep=sleep,
        )  # fmt: skip
        self.groups = resources.Groups(self)
        self.materials = resources.Materials(self)
        self.sources = resources.Sources(self)
        self.separators = resources.Separators(self)
        self.electrodes = resources.Electrodes(self)
        self.interfaces = resources.Interfaces(self)
        self.cells = resources.Cells(self)
        self.spectra = resources.Spectra(self)
        self.raw_files = resources.RawFiles(self)
        self.protocols = resources.Protocols(self)
        self.fits = resources.Fits(self)
        self.conductivities = resources.Conductivities(self)
        self.arrhenius_fits = resources.ArrheniusFits(self)
        self.benchmark_entries = resources.BenchmarkEntries(self)
        self.literature_values = resources.LiteratureValues(self)
        self.jobs = resources.Jobs(self)
        self.tokens = resources.Tokens(self)

    @classmethod
    def login(
        cls,
        url: str,
        username: str,
        password: str,
        *,
        token_name: str = "assbdb-client",
        scope: str = "read_write",
        expires_in_days: int | None = None,
        **options: Any,
    ) -> Client:
        """Log in with a password and get a client holding a new named token (`client.token`).

        Your other tokens keep working; revoke this one with `client.revoke_token()`
        when the script is done, or give `expires_in_days`.
        """
        client = cls(url, **options)
        payload: dict[str, Any] = {"username": username, "password": password, "name": token_name, "scope": scope}
        if expires_in_days is not None:
            payload["expires_in_days"] = expires_in_days
        body = client.send_json("POST", "auth/token/", payload)
        client.token = body["token"]
        client.session.set_token(client.token)
        return client

    def revoke_token(self) -> None:
        """Revoke the token this client uses; the client is anonymous afterwards."""
        self.send_json("DELETE", "auth/token/", None)
        self.token = None
        self.session.set_token(None)

    # ------------------------------------------------------------------ plumbing every resource uses

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to a path under /api/v1/ (or an absolute URL), retried and error-checked."""
        return self.session.request(method, path, **kwargs)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.session.json("GET", path, params=query_params(params or {}))

    def send_json(self, method: str, path: str, payload: Any) -> Any:
        return self.session.json(method, path, json=payload) if payload is not None else self.session.json(method, path)

    def post_multipart(self, path: str, *, data: dict[str, str], files: dict[str, tuple[str, bytes]]) -> Any:
        return self.session.json("POST", path, data=data, files=files)

    def paged(self, path: str, *, page_size: int | None = None, **filters: Any) -> Records:
        """All pages of a list, following each answer's `next` link (never computing page numbers)."""
        params = query_params({**filters, "page_size": page_size})

        def fetch(next_url: str | None) -> dict[str, Any]:
            if next_url is None:
                return self.session.json("GET", path, params=params)
            return self.session.json("GET", next_url)

        return Records(fetch)

    def download(
        self, url: str, dest: PathLike | None = None, *, params: dict[str, Any] | None = None
    ) -> bytes | Path:
        """GET a file (an export, a raw file, a release archive: a path under /api/v1/ or any URL of the server).

        Returns the bytes, or streams them to `dest` (a file, or a folder: then the
        server's file name is used) and returns the path written.
        """
        response = self.session.request(
            "GET", url, params=query_params(params or {}), headers={"Accept": "*/*"}, stream=dest is not None
        )
        if dest is None:
            return response.content
        target = Path(dest)
        if target.is_dir():
            target = target / (_attachment_name(response) or Path(httpx.URL(str(response.url)).path).name or "download")
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
            partial.replace(target)  # a half-written download never takes the final name
        finally:
            response.close()
            partial.unlink(missing_ok=True)
        return target

    def stderr_is_terminal(self) -> bool:
        return sys.stderr.isatty()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.api_url!r}, token={'…' if self.token else None})"


def _attachment_name(response: httpx.Response) -> str | None:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename" and value:
            return os.path.basename(value.strip().strip('"'))
    return None
