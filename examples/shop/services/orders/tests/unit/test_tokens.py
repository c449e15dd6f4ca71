"""tokens.py: what a valid token is, and how the issuer's keys are fetched (a real HTTP JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from orders import tokens

from ..issuer import AUDIENCE, ISSUER, Issuer

pytestmark = pytest.mark.unit


class JwksServer:
    """The issuer's JWKS endpoint on loopback; counts the requests."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps(owner.issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def jwks(issuer: Issuer) -> Iterator[JwksServer]:
    server = JwksServer(issuer)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(jwks: JwksServer, clock: Clock) -> tokens.TokenVerifier:
    return tokens.TokenVerifier(
        tokens.TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url), clock=clock
    )


def test_a_valid_token_gives_its_claims(verifier: tokens.TokenVerifier, issuer: Issuer) -> None:
    claims = verifier.verify(issuer.token(sub="bob"))
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("bob", ISSUER, AUDIENCE)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": 1}, "expired"),
        ({"aud": "another-api"}, "audience"),
        ({"iss": "https://elsewhere.test"}, "another issuer"),
        ({"sub": None}, "not valid"),
        ({"nbf": 4_000_000_000}, "not valid"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(
    verifier: tokens.TokenVerifier, issuer: Issuer, claims: dict[str, Any], reason: str
) -> None:
    token = issuer.token(**claims)
    with pytest.raises(tokens.TokenError, match=reason) as caught:
        verifier.verify(token)
    assert token not in str(caught.value)


def test_a_token_of_another_key_is_refused(verifier: tokens.TokenVerifier, issuer: Issuer) -> None:
    forger = Issuer()
    forger.kid = issuer.kid  # claims to be signed with the issuer's key
    with pytest.raises(tokens.TokenError, match="not valid"):
        verifier.verify(forger.token())


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_unsigned_and_symmetric_tokens_are_refused(
    verifier: tokens.TokenVerifier, issuer: Issuer
) -> None:
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'kid': issuer.kid})}.{_b64(claims)}."
    # The classic confusion: the public key, which anyone has, used as an HMAC secret.
    public = issuer.private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_b64({'alg': 'HS256', 'kid': issuer.kid})}.{_b64(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    for token in (unsigned, confused, "not-a-jwt"):
        with pytest.raises(tokens.TokenError):
            verifier.verify(token)


def test_keys_are_fetched_once_and_again_only_for_a_new_key(
    verifier: tokens.TokenVerifier, issuer: Issuer, jwks: JwksServer, clock: Clock
) -> None:
    for _ in range(3):
        verifier.verify(issuer.token())
    assert jwks.requests == 1
    stranger = Issuer()  # unknown key ids: at most one refresh per interval, whatever their number
    for _ in range(5):
        with pytest.raises(tokens.TokenError, match="does not publish"):
            verifier.verify(stranger.token())
    assert jwks.requests == 1
    clock.now += verifier.settings.refresh_interval_s
    for _ in range(5):
        with pytest.raises(tokens.TokenError, match="does not publish"):
            verifier.verify(stranger.token())
    assert jwks.requests == 2
    issuer.kid, issuer.private_key = (
        stranger.kid,
        stranger.private_key,
    )  # the issuer rotates its key
    clock.now += verifier.settings.refresh_interval_s
    assert verifier.verify(issuer.token())["sub"] == "alice"
    assert jwks.requests == 3


def test_an_unreachable_issuer_is_a_token_error(issuer: Issuer) -> None:
    settings = tokens.TokenSettings(
        issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:1/jwks"
    )
    with pytest.raises(tokens.TokenError, match="keys cannot be read"):
        tokens.TokenVerifier(settings).verify(issuer.token())


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"])
def test_only_a_bearer_authorization_carries_a_token(header: str | None) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.bearer_token(header)
    assert tokens.bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"


def test_auth_settings_come_all_three_or_not_at_all() -> None:
    assert tokens.settings_from_env({}) is None
    full = {
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": "http://issuer.test/jwks",
    }
    assert tokens.settings_from_env(full) == tokens.TokenSettings(
        ISSUER, AUDIENCE, "http://issuer.test/jwks"
    )
    with pytest.raises(ValueError, match="AUTH_AUDIENCE"):
        tokens.settings_from_env({**full, "AUTH_AUDIENCE": ""})
    with pytest.raises(ValueError, match="http"):
        tokens.settings_from_env({**full, "AUTH_JWKS_URL": "file:///etc/passwd"})


class Decodes:
    """Counts the signature checks (jwt.decode) a verifier makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = jwt.decode

        def counting(token: str, *args: object, **kwargs: object) -> dict[str, Any]:
            self.count += 1
            return real(token, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(jwt, "decode", counting)  # the module tokens.py calls it from


def test_a_token_that_verified_is_not_checked_again_until_it_expires(
    jwks: JwksServer, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = Clock()  # the verifier's wall clock: only what it compares a remembered exp with
    settings = tokens.TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url)
    verifier = tokens.TokenVerifier(settings, wall_clock=wall)
    token = issuer.token(sub="bob")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    decodes = Decodes(monkeypatch)
    wall.now = exp - 1
    first = verifier.verify(token)
    first["sub"] = "mallory"  # a caller's change to its claims is not remembered
    assert verifier.verify(token)["sub"] == "bob"
    assert decodes.count == 1
    wall.now = exp  # its exp reached: the signature and claims are checked again
    verifier.verify(token)
    assert decodes.count == 2


def test_remembered_tokens_must_verify_again_once_the_keys_are_fetched_again(
    verifier: tokens.TokenVerifier, issuer: Issuer, clock: Clock
) -> None:
    old = issuer.token()
    verifier.verify(old)
    rotated = Issuer()
    issuer.kid, issuer.private_key = rotated.kid, rotated.private_key  # the old key is withdrawn
    clock.now += verifier.settings.refresh_interval_s
    verifier.verify(issuer.token())  # a new kid: the keys are fetched again
    with pytest.raises(tokens.TokenError, match="does not publish"):
        verifier.verify(old)


def test_the_table_of_verified_tokens_is_bounded(
    verifier: tokens.TokenVerifier, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS", 3)
    issued = [issuer.token(sub=f"user{n}") for n in range(5)]
    for token in issued:
        verifier.verify(token)
    decodes = Decodes(monkeypatch)
    verifier.verify(issued[-1])  # remembered
    assert decodes.count == 0
    verifier.verify(issued[0])  # the least recently used: forgotten, checked again
    assert decodes.count == 1
