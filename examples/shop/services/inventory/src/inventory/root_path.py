"""Serving behind the gateway's path prefix (ROOT_PATH, e.g. /api/orders), which the gateway strips.

The ASGI `root_path` of every request is set to the prefix, as a server's `--root-path` would: the
`/docs` page then asks for `<prefix>/openapi.json`, the document's `servers` say `<prefix>` (so
"Try it out" goes through the gateway), and routing is unchanged (requests arrive without it).
In the app rather than the server's command line, so that every way of serving it agrees.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPath:
    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": self.root_path}
        await self.app(scope, receive, send)
