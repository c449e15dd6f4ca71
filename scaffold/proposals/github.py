"""The GitHub side of a proposal: open the pull request of scaffold's branch, or edit the open one.

Three REST requests (https://docs.github.com/en/rest/pulls/pulls), built as data by the functions
below and sent by `Client`, the only code here that touches the network:

- `GET  /repos/{owner}/{repo}/pulls?state=open&head={owner}:{branch}&base={base}`: the open one;
- `POST /repos/{owner}/{repo}/pulls` {title, head, base, body, maintainer_can_modify}: open it;
- `PATCH /repos/{owner}/{repo}/pulls/{number}` {title, body}: a re-run refreshes its report.

The token is `GITHUB_TOKEN`; the API is `GITHUB_API_URL` (GitHub Actions sets it, for GitHub
Enterprise too) or https://api.github.com, and a repository is on GitHub when its remote's host
is that of `GITHUB_SERVER_URL` (https://github.com by default).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from scaffold import __version__
from scaffold.errors import ScaffoldError

API_VERSION: Final = "2022-11-28"
DEFAULT_API: Final = "https://api.github.com"
DEFAULT_SERVER: Final = "https://github.com"
_PART: Final = r"[A-Za-z0-9_.-]+"
_URL_FORMS: Final = (
    re.compile(rf"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<owner>{_PART})/(?P<name>{_PART})/?$"),
    re.compile(rf"^[^@/]+@(?P<host>[^:/]+):(?P<owner>{_PART})/(?P<name>{_PART})/?$"),  # git@github.com:owner/name
)


@dataclass(frozen=True)
class Slug:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Request:
    method: Literal["GET", "POST", "PATCH"]
    path: str  # under the API root, with the query string
    body: dict[str, object] | None = None


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    action: Literal["opened", "updated"]


def slug(url: str, server: str = DEFAULT_SERVER) -> Slug | None:
    """OWNER/NAME of a remote URL on the GitHub server (https, ssh or scp form), or None elsewhere."""
    host = urllib.parse.urlsplit(server).hostname
    for form in _URL_FORMS:
        match = form.match(url)
        if match and match["host"].lower() == (host or "").lower():
            return Slug(match["owner"], match["name"].removesuffix(".git"))
    return None


def find_open(repo: Slug, branch: str, base: str) -> Request:
    query = urllib.parse.urlencode({"state": "open", "head": f"{repo.owner}:{branch}", "base": base})
    return Request("GET", f"/repos/{repo}/pulls?{query}")


def create(repo: Slug, branch: str, base: str, title: str, body: str) -> Request:
    fields: dict[str, object] = {"title": title, "head": branch, "base": base, "body": body}
    return Request("POST", f"/repos/{repo}/pulls", {**fields, "maintainer_can_modify": True})


def edit(repo: Slug, number: int, title: str, body: str) -> Request:
    return Request("PATCH", f"/repos/{repo}/pulls/{number}", {"title": title, "body": body})


class Client:
    """Sends Requests to the REST API with the token; any failure is one ScaffoldError."""

    def __init__(self, token: str, api: str = DEFAULT_API) -> None:
        self.token, self.api = token, api.rstrip("/")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Client | None:
        token = env.get("GITHUB_TOKEN")
        return cls(token, env.get("GITHUB_API_URL") or DEFAULT_API) if token else None

    def send(self, request: Request) -> Any:
        data = json.dumps(request.body).encode() if request.body is not None else None
        http = urllib.request.Request(self.api + request.path, data=data, method=request.method)
        http.add_header("Accept", "application/vnd.github+json")
        http.add_header("Authorization", f"Bearer {self.token}")
        http.add_header("X-GitHub-Api-Version", API_VERSION)
        http.add_header("User-Agent", f"scaffold/{__version__}")
        if data is not None:
            http.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(http, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = _message(err.read())
            raise ScaffoldError(
                f"GitHub answered {err.code} to {request.method} {request.path.split('?')[0]}: {detail}",
                "Check that the token may read and write pull requests of the repository (SCAFFOLD_TOKEN).",
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise ScaffoldError(
                f"GitHub's API cannot be reached at {self.api}: {err}", "Check GITHUB_API_URL."
            ) from None


def _message(raw: bytes) -> str:
    try:
        loaded = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:200]
    return str(loaded.get("message", loaded)) if isinstance(loaded, dict) else str(loaded)[:200]


def open_or_update(client: Client, repo: Slug, branch: str, base: str, title: str, body: str) -> PullRequest:
    """The pull request of `branch` into `base`: the open one edited, or a new one."""
    found = client.send(find_open(repo, branch, base))
    if isinstance(found, list) and found:
        number = int(found[0]["number"])
        edited = client.send(edit(repo, number, title, body))
        return PullRequest(number, str(edited.get("html_url", "")), "updated")
    made = client.send(create(repo, branch, base, title, body))
    return PullRequest(int(made["number"]), str(made.get("html_url", "")), "opened")
