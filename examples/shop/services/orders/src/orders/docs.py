"""The API document's page (/docs): Swagger UI from the copy in swagger_ui/ (swagger-ui-dist, the
version and npm integrity in its PIN.json, Apache-2.0: LICENSE and NOTICE there), served by this
service at /docs/assets. FastAPI's own page loads Swagger UI from a CDN and its favicon from
fastapi.tiangolo.com; this one asks nothing of any other host, so it works offline and on networks
that reach only the ecosystem, and shows nothing a third party could change.

Every address on the page starts with the request's root_path (ROOT_PATH, root_path.py), as
FastAPI's page does for the document: behind the gateway's prefix the page, its assets and its
document all come through the gateway. ReDoc is not served: its page loads its script and
fonts from CDNs, and one page per API is enough. Like the probes, all of it stays public (auth.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
OAUTH2_REDIRECT_PATH = f"{DOCS_PATH}/oauth2-redirect"
ASSETS = Path(__file__).resolve().parent / "swagger_ui"
# No favicon request at all: the page's icon is an empty inline image.
NO_FAVICON = "data:,"


def install(app: FastAPI) -> None:
    """Serve /docs, its assets and its OAuth2 redirect page (FastAPI's own pages are turned off).

    The assets are a route over the files found here at start, not a static-files mount: a name
    is looked up, never joined to a path, and a mounted app would look for the request's path
    under root_path, which root_path.py sets without prefixing the path (the gateway strips it).
    """
    files = {path.name: path for path in ASSETS.iterdir() if path.is_file()}

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in files:
            raise HTTPException(status_code=404)
        return FileResponse(files[name])

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root_path}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root_path}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root_path}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=NO_FAVICON,
            oauth2_redirect_url=f"{root_path}{OAUTH2_REDIRECT_PATH}",
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
