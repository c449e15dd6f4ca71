"""Bearer tokens of the ecosystem's OIDC issuer, verified against its published keys (JWKS).

One module for every place that checks a token: the backends (defence in depth behind the
gateway) and the gateway's own verifier. A token is accepted when its signature verifies with a
key of the issuer's JWKS (found by the token's `kid`), its algorithm is an asymmetric one the
key allows, and its `iss`, `aud`, `exp` (and `nbf`, `iat` when present) hold, with a small leeway
for clock skew. Keys are fetched once and again only when a token names a key not seen yet (key
rotation), at most once per `refresh_interval`, so a stream of forged `kid`s cannot make the
service hammer the issuer. A token is never logged or put into an error message.

A token that verified is remembered (by its SHA-256, never the token itself) until its `exp`, in
a bounded least-recently-used table, so a client's next requests with the same token cost a hash
instead of a signature check (RS256: most of the time a request spends on its token); the table is
emptied whenever the keys are fetched again, so a key the issuer withdraws stops its tokens there,
as a gateway's JWT cache does.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

# Asymmetric algorithms only: a symmetric (HS*) or `none` token is refused whatever its key says.
ALGORITHMS = (
    *("RS256", "RS384", "RS512"),
    *("PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512"),
    "EdDSA",
)
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
MAX_JWKS_BYTES = 1 << 20
VERIFIED_TOKENS = 4096  # tokens remembered after they verified (about 1 MiB of claims)


class TokenError(ValueError):
    """The request's token is missing or not valid; the message says why, never the token."""


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    jwks_url: str
    leeway_s: float = 30.0
    refresh_interval_s: float = 30.0
    fetch_timeout_s: float = 5.0


def settings_from_env(env: Mapping[str, str]) -> TokenSettings | None:
    """AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL (all three, or none: no verification)."""
    names = ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL")
    values = {name: env.get(name, "").strip() for name in names}
    if not any(values.values()):
        return None
    missing = sorted(name for name, value in values.items() if not value)
    if missing:
        raise ValueError(f"{', '.join(missing)} must be set with the other AUTH_* settings")
    if not values["AUTH_JWKS_URL"].startswith(("https://", "http://")):
        raise ValueError("AUTH_JWKS_URL must be an http(s) URL")
    return TokenSettings(
        issuer=values["AUTH_ISSUER"],
        audience=values["AUTH_AUDIENCE"],
        jwks_url=values["AUTH_JWKS_URL"],
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise TokenError("no bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("the Authorization header is not a bearer token")
    return token.strip()


def fetch_jwks(url: str, timeout: float) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise ValueError("the JWKS URL must be http(s)")
    # http(s) only (checked above), so no file: or custom scheme reaches urlopen.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        document = json.loads(response.read(MAX_JWKS_BYTES))
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{url} is not a JWKS document")
    return document


class TokenVerifier:
    """Verifies tokens of one issuer for one audience; safe to share between threads."""

    def __init__(
        self,
        settings: TokenSettings,
        fetch: Callable[[str, float], dict[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._fetch = fetch
        self._clock = clock
        self._wall_clock = wall_clock  # what `exp` is compared with
        # sha256(token) -> (claims, exp): tokens that verified, least recently used first
        self._verified: OrderedDict[bytes, tuple[dict[str, Any], float]] = OrderedDict()
        self._verified_lock = threading.Lock()
        # kid -> (key, the JWK's own `alg`)
        self._keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> tuple[jwt.PyJWK, str | None] | None:
        """The issuer's key `kid` and the algorithm its JWK names, if known already (no I/O)."""
        return self._keys.get(kid)

    def refresh(self) -> None:
        """Fetch the issuer's keys again unless that was done less than refresh_interval ago."""
        with self._lock:
            now = self._clock()
            if (
                self._fetched_at is not None
                and now - self._fetched_at < self.settings.refresh_interval_s
            ):
                return
            self._fetched_at = now
            try:
                document = self._fetch(self.settings.jwks_url, self.settings.fetch_timeout_s)
            except (OSError, ValueError) as err:
                raise TokenError(
                    f"the issuer's keys cannot be read: {type(err).__name__}"
                ) from None
            keys = {}
            for entry in document["keys"]:
                if (
                    isinstance(entry, dict)
                    and entry.get("kid")
                    and entry.get("use", "sig") == "sig"
                ):
                    try:
                        alg = entry.get("alg")
                        keys[str(entry["kid"])] = (jwt.PyJWK(entry), str(alg) if alg else None)
                    except jwt.PyJWTError:
                        continue  # a key of a kind this library cannot use: not one of ours
            self._keys = keys
            with self._verified_lock:
                self._verified.clear()  # a withdrawn key's tokens must verify again, and fail

    def header(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("the token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS or not header.get("kid"):
            raise TokenError("the token's algorithm or key id is not accepted")
        return header

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims when it is valid; TokenError otherwise. May fetch the JWKS (blocking):
        call `verify_known` first where blocking matters."""
        header = self.header(token)
        if self.key(str(header["kid"])) is None:
            self.refresh()
        try:
            return self.verify_known(token)
        except KeyError:
            raise TokenError("the token is signed with a key the issuer does not publish") from None

    def verify_known(self, token: str) -> dict[str, Any]:
        """As `verify`, without I/O: a token signed with a key not fetched yet raises KeyError."""
        digest = hashlib.sha256(token.encode()).digest()
        remembered = self._remembered(digest)
        if remembered is not None:
            return remembered
        claims = self._decode(token)
        self._remember(digest, claims)
        return dict(claims)

    def _remembered(self, digest: bytes) -> dict[str, Any] | None:
        with self._verified_lock:
            entry = self._verified.get(digest)
            if entry is None:
                return None
            claims, expires = entry
            if self._wall_clock() >= expires:
                del self._verified[digest]
                return None
            self._verified.move_to_end(digest)
            return dict(claims)

    def _remember(self, digest: bytes, claims: dict[str, Any]) -> None:
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)):
            return
        with self._verified_lock:
            self._verified[digest] = (dict(claims), float(expires))
            self._verified.move_to_end(digest)
            while len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)

    def _decode(self, token: str) -> dict[str, Any]:
        header = self.header(token)
        known = self.key(str(header["kid"]))
        if known is None:
            raise KeyError(header["kid"])
        key, key_alg = known
        if key_alg is not None and key_alg != header["alg"]:
            raise TokenError("the token's algorithm does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError("the token is not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("the token comes from another issuer") from None
        except jwt.PyJWTError as err:
            raise TokenError(f"the token is not valid ({type(err).__name__})") from None
        return claims
