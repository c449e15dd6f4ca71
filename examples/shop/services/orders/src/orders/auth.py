"""The API's routes take a bearer token of the ecosystem's OIDC issuer (tokens.py), checked here
as well as at the gateway (defence in depth: a request that reaches the service another way, from
inside the cluster, is checked too). The probes, the metrics port and the API document stay public.

A missing or invalid token is a 401 problem with `WWW-Authenticate: Bearer` (RFC 6750), saying why
without repeating the token. The claims of a valid token are in `request.state.claims`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .problems import problem_responses
from .tokens import TokenError, TokenVerifier

bearer = HTTPBearer(
    auto_error=False,
    description="A token of the ecosystem's OIDC issuer (in compose: the local issuer at /auth/).",
)

# What a protected route may answer besides its own responses (the OpenAPI document declares it).
RESPONSES = problem_responses(401, description="No valid bearer token")


def _unauthorized(reason: str, error: str | None) -> HTTPException:
    challenge = 'Bearer realm="api"' + (f', error="{error}"' if error else "")
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": challenge})


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> dict[str, Any]:
    verifier: TokenVerifier | None = request.app.state.token_verifier
    if verifier is None:  # AUTH_* not set: this service runs without an issuer
        return {}
    if credentials is None:
        raise _unauthorized("a bearer token is required", None)
    try:
        try:
            claims = verifier.verify_known(credentials.credentials)
        except KeyError:  # signed with a key not fetched yet: fetch off the event loop
            claims = await run_in_threadpool(verifier.verify, credentials.credentials)
    except TokenError as err:
        raise _unauthorized(str(err), "invalid_token") from None
    request.state.claims = claims
    return claims
