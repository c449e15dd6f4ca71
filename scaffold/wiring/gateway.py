"""`gateway/nginx.conf`: the API gateway of compose.yaml (nginx-unprivileged).

Each routed backend gets `<route>/` proxied to `http://<name>:8000/` (the prefix is stripped, as
the HTTPRoute of the umbrella chart does in Kubernetes); the frontend gets `/`, and browsers send
their traces to `/otlp/v1/traces` (the collector's OTLP/HTTP trace ingest alone, same origin, so
no CORS; POST only, size and rate limited). The gateway
answers `/healthz` itself, passes the W3C trace context on, and logs one JSON object per request.
"""

from __future__ import annotations

import json

from scaffold.model import API_DOCS_PATH, Ecosystem, Service
from scaffold.wiring import api_docs, gateway_auth
from scaffold.wiring._render import YAML_HEADER, text_file
from scaffold.wiring.compose import OTLP_BROWSER_PATH, OTLP_HTTP_PORT
from scaffold.wiring.files import DerivedFile

LISTEN_PORT = 8080
# The collector's OTLP/HTTP trace ingest: all a browser needs of it.
OTLP_TRACES_PATH = "/v1/traces"
# What a browser may send to the collector through the gateway: a batch of spans is a few KiB,
# the web SDK sends one every few seconds per tab.
BROWSER_TRACES_MAX_BODY = "1m"
BROWSER_TRACES_RATE = "10r/s"
BROWSER_TRACES_BURST = 20
# A backend's paths that stay public when its API takes tokens: its API document and probes
# (exact), and everything under /docs/ (its page's assets and OAuth2 redirect page).
PUBLIC_PATHS = ("/docs", "/openapi.json", "/livez", "/readyz")
PUBLIC_PREFIXES = ("/docs/",)
TOKEN_CHECK = "/_token_check"  # nginx's internal subrequest to the verifier
# The gateway's own 401 (RFC 9457 problem), as the backends answer it; WWW-Authenticate is the verifier's.
UNAUTHORIZED = json.dumps(
    {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "a valid bearer token is required"},
    separators=(",", ":"),
)

# The API document's page runs the vendored scripts and calls the APIs on this origin, nothing else;
# Swagger UI sets inline styles and shows data: images.
API_DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_LOG_FIELDS = (
    ("time", "$time_iso8601", True),
    ("request_id", "$gateway_request_id", True),
    ("remote_addr", "$remote_addr", True),
    ("method", "$request_method", True),
    ("uri", "$request_uri", True),
    ("status", "$status", False),
    ("body_bytes_sent", "$body_bytes_sent", False),
    ("request_time", "$request_time", False),
    ("upstream_addr", "$upstream_addr", True),
    ("upstream_status", "$upstream_status", True),
    ("upstream_response_time", "$upstream_response_time", True),
    ("traceparent", "$http_traceparent", True),
    ("user_agent", "$http_user_agent", True),
)


def route_prefix(service: Service) -> str | None:
    """The service's gateway path prefix without a trailing slash, or None when not routed."""
    return service.route_prefix


def routed(ecosystem: Ecosystem) -> list[tuple[Service, str]]:
    """Routed services and their prefixes, sorted by service name."""
    pairs = [(s, route_prefix(s)) for s in sorted(ecosystem.services, key=lambda s: s.name)]
    return [(s, prefix) for s, prefix in pairs if prefix]


def _log_format() -> str:
    fields = ",".join(f'"{key}":"{value}"' if quoted else f'"{key}":{value}' for key, value, quoted in _LOG_FIELDS)
    return "{" + fields + "}"


def _root_location(ecosystem: Ecosystem) -> str:
    frontend = next((s for s, prefix in routed(ecosystem) if prefix == "/"), None)
    if frontend is None:
        return """
        location / {
            return 404 '{"detail":"Not Found"}\\n';
        }"""
    return f"""
        # Browser traces of {frontend.name}, same origin: the collector's trace ingest and nothing
        # else of it, POST only, small bodies, a rate per client (docs/templates.md).
        location = {OTLP_BROWSER_PATH}{OTLP_TRACES_PATH} {{
            limit_except POST {{
                deny all;
            }}
            client_max_body_size {BROWSER_TRACES_MAX_BODY};
            limit_req zone=browser_traces burst={BROWSER_TRACES_BURST} nodelay;
            proxy_pass http://otel-collector:{OTLP_HTTP_PORT}{OTLP_TRACES_PATH};
        }}
        location {OTLP_BROWSER_PATH}/ {{
            return 404 '{{"detail":"Not Found"}}\\n';
        }}
        # {frontend.name}
        location / {{
            proxy_pass http://{frontend.name}:{frontend.container_port};
        }}"""


def _token_locations() -> str:
    """The local issuer, the verifier nginx asks (auth_request), and the 401 it answers."""
    verifier = f"http://{gateway_auth.SERVICE}:{gateway_auth.PORT}"
    return f"""
        # The local development issuer (login, discovery, keys, token endpoint); docs/platform.md.
        location {gateway_auth.ISSUER_PATH}/ {{
            proxy_pass {verifier}/;
        }}
        # Asked about every request to a protected route: 204 lets it through, 401 refuses it.
        # Only the Authorization header matters to it; the body is not sent.
        location = {TOKEN_CHECK} {{
            internal;
            access_log off;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass {verifier}/verify;
        }}
        location @unauthorized {{
            default_type application/problem+json;
            add_header WWW-Authenticate $token_challenge always;
            return 401 '{UNAUTHORIZED}\\n';
        }}"""


def _backend_locations(ecosystem: Ecosystem, service: Service, prefix: str) -> str:
    upstream = f"http://{service.name}:{service.container_port}"
    if ecosystem.auth is None:
        return f"""
        # {service.name}
        location = {prefix} {{
            return 308 {prefix}/;
        }}
        location {prefix}/ {{
            proxy_pass {upstream}/;
        }}"""
    public = "".join(
        f"""
        location {"" if path.endswith("/") else "= "}{prefix}{path} {{
            proxy_pass {upstream}{path};
        }}"""
        for path in (*PUBLIC_PATHS, *PUBLIC_PREFIXES)
    )
    return f"""
        # {service.name}: its API takes a bearer token; its API document and probes are public.
        location = {prefix} {{
            return 308 {prefix}/;
        }}{public}
        location {prefix}/ {{
            auth_request {TOKEN_CHECK};
            auth_request_set $token_challenge $upstream_http_www_authenticate;
            error_page 401 = @unauthorized;
            proxy_pass {upstream}/;
        }}"""


def _api_docs_location() -> str:
    """The one API document of every backend (api_docs.py): static files, public."""
    return f"""
        # The API document of every backend (gateway/api-docs/, Swagger UI vendored by scaffold).
        location = {API_DOCS_PATH} {{
            return 308 {API_DOCS_PATH}/;
        }}
        location {API_DOCS_PATH}/ {{
            alias {api_docs.MOUNT}/;
            index index.html;
            types {{
                text/html html;
                text/css css;
                text/javascript js;
                text/plain txt;
            }}
            default_type text/plain;
            add_header X-Content-Type-Options nosniff always;
            add_header Content-Security-Policy "{API_DOCS_CSP}" always;
        }}"""


def nginx_conf(ecosystem: Ecosystem) -> str:
    locations: list[str] = []
    backends = [(service, prefix) for service, prefix in routed(ecosystem) if prefix != "/"]
    for service, prefix in backends:
        locations.append(_backend_locations(ecosystem, service, prefix))
    if api_docs.documented(ecosystem):
        locations.append(_api_docs_location())
    if ecosystem.auth is not None and backends:
        locations.append(_token_locations())
    header = YAML_HEADER + f"# API gateway of the {ecosystem.name} ecosystem for local development (compose.yaml).\n"
    return (
        header
        + f"""
worker_processes auto;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    # The image runs as an unprivileged user with a read-only root filesystem: write under /tmp.
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;

    server_tokens off;
    default_type application/json;
    keepalive_timeout 65s;
    client_max_body_size 10m;

    # Keep the caller's request id, or make one.
    map $http_x_request_id $gateway_request_id {{
        default $http_x_request_id;
        "" $request_id;
    }}

    # Browser trace uploads: per client address, BROWSER_TRACES_RATE with bursts; 429 beyond.
    limit_req_zone $binary_remote_addr zone=browser_traces:1m rate={BROWSER_TRACES_RATE};
    limit_req_status 429;

    log_format json escape=json '{_log_format()}';
    access_log /dev/stdout json;

    proxy_http_version 1.1;
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;
    proxy_send_timeout 60s;
    proxy_set_header Host $http_host;
    proxy_set_header Connection "";
    proxy_set_header X-Request-ID $gateway_request_id;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;
    # W3C trace context: the backend continues the caller's trace.
    proxy_set_header traceparent $http_traceparent;
    proxy_set_header tracestate $http_tracestate;

    server {{
        listen {LISTEN_PORT};
        server_name _;
        absolute_redirect off;

        location = /healthz {{
            access_log off;
            return 200 '{{"status":"ok"}}\\n';
        }}
{"".join(locations)}
{_root_location(ecosystem)}
    }}
}}
"""
    )


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [text_file("gateway/nginx.conf", nginx_conf(ecosystem))]
