"""`gateway/api-docs/`: one API document of every backend, served by the gateway at `/api/docs`.

The page is Swagger UI from the copy of swagger-ui-dist vendored in the backend template (VENDOR:
each backend serves the same files at its own /docs; pinned with its npm integrity in PIN.json; no
CDN, nothing downloaded when generating). Its script asks each routed
backend for its live OpenAPI document through the gateway (`<route>/openapi.json`) and merges them
into one: every path under its route (so "Try it out" calls go through the gateway, with the
token given once in *Authorize*), operations tagged with their service, components kept once when
two backends define them alike and renamed `<service>_<name>` when they differ (`scaffold check`
warns about those, scaffold.checks.api_documents). Live rather than generated: wiring is a pure
function of ecosystem.yaml, and a backend's API changes with its code, not with that file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

from scaffold.model import API_DOCS_PATH, Ecosystem, Service
from scaffold.wiring._render import GENERATED, text_file
from scaffold.wiring.files import DerivedFile

DIRECTORY: Final = "gateway/api-docs"
MOUNT: Final = "/etc/nginx/api-docs"  # where the compose gateway sees DIRECTORY
# The one vendored copy, inside scaffold's built-in backend template (copied verbatim into every
# backend: no templates suffix); the gateway's page takes its files from there.
VENDOR_IN_TEMPLATES: Final = Path("backend", "src", "{{ package }}", "swagger_ui")
# The vendored files the page loads (and their licence), written as they are.
ASSETS: Final = (
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.LICENSE.txt",
    "swagger-ui.css",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
    "LICENSE",
    "NOTICE",
)


def documented(ecosystem: Ecosystem) -> list[tuple[Service, str]]:
    """The backends the page shows and their gateway prefixes, by name."""
    pairs = [(s, s.route_prefix) for s in sorted(ecosystem.services, key=lambda s: s.name) if s.kind == "backend"]
    return [(s, prefix) for s, prefix in pairs if prefix and prefix != "/"]


def index_html(ecosystem: Ecosystem) -> str:
    title = f"{ecosystem.name} APIs"
    return f"""<!doctype html>
<!-- {GENERATED} -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script>
<script src="api-docs.js"></script>
</body>
</html>
"""


def script(ecosystem: Ecosystem) -> str:
    apis = [{"service": s.name, "prefix": prefix} for s, prefix in documented(ecosystem)]
    info = {"title": f"{ecosystem.name} APIs", "version": "live", "description": ecosystem.description or ""}
    return f"""// {GENERATED}
// One OpenAPI document of every backend, merged in the page from their live documents.
"use strict";
const APIS = {json.dumps(apis)};
const INFO = {json.dumps(info)};
const SECTIONS = ["schemas", "responses", "parameters", "examples", "requestBodies", "headers", "securitySchemes"];
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function renamed(document, service, merged) {{
  // Components another backend already defines differently get the service's name in front.
  let text = JSON.stringify(document);
  for (const section of SECTIONS) {{
    for (const [name, definition] of Object.entries((document.components || {{}})[section] || {{}})) {{
      const known = (merged.components[section] || {{}})[name];
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(definition)) {{
        const from = JSON.stringify(`#/components/${{section}}/${{name}}`);
        const to = JSON.stringify(`#/components/${{section}}/${{service}}_${{name}}`);
        text = text.split(from).join(to);
        document.components[section][`${{service}}_${{name}}`] = definition;
        delete document.components[section][name];
      }}
    }}
  }}
  return JSON.parse(text);
}}

function merge(documents) {{
  const merged = {{ openapi: "3.1.0", info: INFO, servers: [{{ url: "/" }}], paths: {{}}, components: {{}}, tags: [] }};
  for (const {{ service, prefix, document, error }} of documents) {{
    merged.tags.push({{ name: service, description: error ? `not available: ${{error}}` : `${{prefix}}` }});
    if (!document) continue;
    const own = renamed(JSON.parse(JSON.stringify(document)), service, merged);
    for (const [section, entries] of Object.entries(own.components || {{}})) {{
      merged.components[section] = {{ ...(merged.components[section] || {{}}), ...entries }};
    }}
    for (const [path, item] of Object.entries(own.paths || {{}})) {{
      for (const method of METHODS) {{
        if (!item[method]) continue;
        item[method].tags = [service];
        if (item[method].operationId) item[method].operationId = `${{service}}_${{item[method].operationId}}`;
      }}
      merged.paths[prefix + path] = item;
    }}
  }}
  return merged;
}}

async function load({{ service, prefix }}) {{
  try {{
    const response = await fetch(`${{prefix}}/openapi.json`, {{ headers: {{ Accept: "application/json" }} }});
    if (!response.ok) return {{ service, prefix, error: `HTTP ${{response.status}}` }};
    return {{ service, prefix, document: await response.json() }};
  }} catch (error) {{
    return {{ service, prefix, error: String(error) }};
  }}
}}

window.addEventListener("load", async () => {{
  const documents = await Promise.all(APIS.map(load));
  window.apiDocument = merge(documents);
  window.ui = SwaggerUIBundle({{
    spec: window.apiDocument,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    oauth2RedirectUrl: `${{window.location.origin}}{API_DOCS_PATH}/oauth2-redirect.html`,
  }});
}});
"""


@cache
def vendor_dir() -> Path:
    from scaffold.templates import builtin_templates_dir

    return builtin_templates_dir() / VENDOR_IN_TEMPLATES


@cache
def _asset(name: str) -> bytes:
    """A vendored file as scaffold ships it (read once per process: 2 MB)."""
    return (vendor_dir() / name).read_bytes()


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    if not documented(ecosystem):
        return []
    assets = [DerivedFile(f"{DIRECTORY}/{name}", _asset(name)) for name in ASSETS]
    return [
        text_file(f"{DIRECTORY}/index.html", index_html(ecosystem)),
        text_file(f"{DIRECTORY}/api-docs.js", script(ecosystem)),
        *assets,
    ]
