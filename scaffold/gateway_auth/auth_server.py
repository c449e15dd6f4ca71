"""The gateway's token check and, for local development, an OIDC issuer: one small server.

- GET /verify: nginx's `auth_request` asks it about every request to a protected route. 204 when
  the Authorization header carries a valid token of the configured issuer (tokens.py: the module
  the backends verify with), 401 with `WWW-Authenticate: Bearer` otherwise. Tokens are never logged.
- With DEV_ISSUER=true, an OIDC issuer for local development only (it asks for a user name, no
  password): its discovery document, its JWKS (an RSA key made at start, so tokens end with the
  process), the authorization code flow with PKCE (S256) for browser apps, and a page that shows a
  person a token to paste into Swagger UI or curl (GET /login). Tokens are RS256, for AUTH_AUDIENCE,
  issued as AUTH_ISSUER (the issuer's public URL, through the gateway).

Configuration (environment): AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL (what /verify accepts),
AUTH_LISTEN (0.0.0.0:9100), DEV_ISSUER (false), DEV_TOKEN_LIFETIME_S (3600).
Written into the meta-project by scaffold (gateway/auth/); do not edit.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import tokens
from cryptography.hazmat.primitives.asymmetric import rsa

MAX_FORM = 16 * 1024
CODE_LIFETIME_S = 60
# Browser apps on the developer's machine only: the local issuer sends codes nowhere else.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")


@dataclass(frozen=True)
class Grant:
    """An authorization code waiting for its exchange."""

    user: str
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float


class DevIssuer:
    """Tokens for local development: a key of its own, codes kept in memory."""

    def __init__(self, issuer: str, audience: str, lifetime_s: int) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.lifetime_s = lifetime_s
        self.kid = secrets.token_hex(8)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.grants: dict[str, Grant] = {}
        self.lock = threading.Lock()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, user: str, client_id: str = "local") -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user,
            "preferred_username": user,
            "azp": client_id,
            "iat": now,
            "exp": now + self.lifetime_s,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def grant(self, user: str, client_id: str, redirect_uri: str, challenge: str) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            now = time.monotonic()
            self.grants = {c: g for c, g in self.grants.items() if g.expires > now}
            self.grants[code] = Grant(user, client_id, redirect_uri, challenge, now + CODE_LIFETIME_S)
        return code

    def exchange(self, code: str, client_id: str, redirect_uri: str, verifier: str) -> str | None:
        """The token of a code, once; None when the code, client, redirect or PKCE verifier is wrong."""
        with self.lock:
            grant = self.grants.pop(code, None)
        if grant is None or grant.expires < time.monotonic():
            return None
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (grant.client_id, grant.redirect_uri) != (client_id, redirect_uri):
            return None
        if not secrets.compare_digest(digest, grant.challenge):
            return None
        return self.token(grant.user, client_id)


def valid_user(name: str) -> bool:
    return 0 < len(name) <= 64 and set(name) <= NAME_CHARACTERS


def local_redirect(uri: str) -> bool:
    parts = urllib.parse.urlsplit(uri)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in LOCAL_HOSTS and not parts.fragment


def page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    ).encode()


def login_form(action: str, hidden: dict[str, str]) -> bytes:
    fields = "".join(f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in hidden.items())
    return page(
        "Local development login",
        f'<form method=post action="{html.escape(action)}">{fields}'
        '<label>User <input name=user id=user value="developer" autofocus required></label> '
        "<button type=submit id=login>Log in</button></form>"
        "<p>This issuer is for local development only: it asks for no password.</p>",
    )


class Handler(BaseHTTPRequestHandler):
    verifier: tokens.TokenVerifier
    issuer: DevIssuer | None = None
    server_version = "gateway-auth"

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: dict[str, Any]) -> None:
        self._send(status, json.dumps(document).encode())

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM:
            return {}
        pairs = urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace"))
        return dict(pairs)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/healthz":
            self._json(200, {"status": "ok"})
        elif path == "/verify":
            self.verify()
        elif self.issuer is None:
            self._json(404, {"detail": "not found"})
        elif path == "/.well-known/openid-configuration":
            # public documents a browser app reads from any origin (localhost as well as 127.0.0.1)
            self._send(200, json.dumps(self.issuer.discovery()).encode(), Access_Control_Allow_Origin="*")
        elif path == "/jwks":
            self._send(200, json.dumps(self.issuer.jwks()).encode(), Access_Control_Allow_Origin="*")
        elif path == "/login":
            self._send(200, login_form("login", {}), "text/html; charset=utf-8")
        elif path == "/authorize":
            self.authorize_form(dict(urllib.parse.parse_qsl(query)))
        else:
            self._json(404, {"detail": "not found"})

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        if self.issuer is None:
            self._json(404, {"detail": "not found"})
        elif path == "/login":
            self.login(self.issuer, self._form())
        elif path == "/authorize":
            self.authorize(self.issuer, self._form())
        elif path == "/token":
            self.exchange(self.issuer, self._form())
        else:
            self._json(404, {"detail": "not found"})

    def verify(self) -> None:
        try:
            token = tokens.bearer_token(self.headers.get("Authorization"))
            self.verifier.verify(token)
        except tokens.TokenError as err:
            challenge = 'Bearer realm="api"' if "no bearer" in str(err) else 'Bearer realm="api", error="invalid_token"'
            self._send(401, b"", WWW_Authenticate=challenge)
            return
        self._send(204)

    def login(self, issuer: DevIssuer, form: dict[str, str]) -> None:
        user = form.get("user", "")
        if not valid_user(user):
            self._send(400, page("Log in", "<p>A user name of letters, digits and . _ @ -</p>"), "text/html")
            return
        token = issuer.token(user)
        body = (
            f"<p>Logged in as <strong>{html.escape(user)}</strong>. Your bearer token "
            f"(valid {issuer.lifetime_s} s):</p><textarea id=token rows=8 cols=80 readonly>{html.escape(token)}"
            "</textarea><p>Use it as <code>Authorization: Bearer &lt;token&gt;</code>, or in the API "
            "document's <em>Authorize</em> dialog.</p>"
        )
        self._send(200, page("Your token", body), "text/html; charset=utf-8")

    def _authorize_problem(self, params: dict[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if not params.get("client_id"):
            return "client_id is required"
        if not local_redirect(params.get("redirect_uri", "")):
            return "redirect_uri must be a page on this machine (127.0.0.1 or localhost)"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with code_challenge_method=S256 is required"
        return None

    def authorize_form(self, params: dict[str, str]) -> None:
        problem = self._authorize_problem(params)
        if problem:
            self._send(400, page("Log in", f"<p>{html.escape(problem)}</p>"), "text/html; charset=utf-8")
            return
        keep = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
        hidden = {k: params[k] for k in keep if k in params}
        self._send(200, login_form("authorize", hidden), "text/html; charset=utf-8")

    def authorize(self, issuer: DevIssuer, form: dict[str, str]) -> None:
        problem = self._authorize_problem(form) or (None if valid_user(form.get("user", "")) else "invalid user")
        if problem:
            self._send(400, page("Log in", f"<p>{html.escape(problem)}</p>"), "text/html; charset=utf-8")
            return
        code = issuer.grant(form["user"], form["client_id"], form["redirect_uri"], form["code_challenge"])
        query = {"code": code, **({"state": form["state"]} if form.get("state") else {})}
        separator = "&" if "?" in form["redirect_uri"] else "?"
        self._send(302, b"", Location=form["redirect_uri"] + separator + urllib.parse.urlencode(query))

    def exchange(self, issuer: DevIssuer, form: dict[str, str]) -> None:
        if form.get("grant_type") != "authorization_code":
            self._json(400, {"error": "unsupported_grant_type"})
            return
        token = issuer.exchange(
            form.get("code", ""), form.get("client_id", ""), form.get("redirect_uri", ""), form.get("code_verifier", "")
        )
        if token is None:
            self._json(400, {"error": "invalid_grant"})
            return
        self._send(
            200,
            json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": issuer.lifetime_s}).encode(),
            Access_Control_Allow_Origin="*",
        )

    def do_OPTIONS(self) -> None:  # the token endpoint is called from browser apps (CORS preflight)
        self._send(
            204,
            Access_Control_Allow_Origin="*",
            Access_Control_Allow_Methods="POST",
            Access_Control_Allow_Headers="Content-Type",
        )

    def log_message(self, format: str, *args: object) -> None:
        # One JSON line per request, without query strings (codes) or headers (tokens).
        line = {"method": self.command, "path": self.path.partition("?")[0], "status": args[1] if len(args) > 1 else ""}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def main() -> None:
    env = os.environ
    settings = tokens.settings_from_env(env)
    if settings is None:
        raise SystemExit("gateway auth: set AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL")
    Handler.verifier = tokens.TokenVerifier(settings)
    if env.get("DEV_ISSUER", "").lower() == "true":
        Handler.issuer = DevIssuer(settings.issuer, settings.audience, int(env.get("DEV_TOKEN_LIFETIME_S") or 3600))
    host, _, port = env.get("AUTH_LISTEN", "0.0.0.0:9100").rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
