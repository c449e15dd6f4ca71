"""`deploy/chart/`: the umbrella Helm chart of the ecosystem.

One dependency per service (alias = service name), loaded from the service's own chart through
a relative symlink `charts/<name>`, so the chart is complete in the repository: lint, render and
`helm upgrade` need no `helm dependency build` and no chart repository.
The umbrella adds what belongs to the ecosystem rather than to one service: an HTTPRoute per
routed service (Gateway API v1, attached to a Gateway named by values) and a PrometheusRule with
the release's service-level alert rules (monitoring.py), scoped to the release's namespace and
labelled with its environment. Both are custom resources: they are rendered only where the cluster
serves their API (scaffold.custom_resources). values-<environment>.yaml hold the per-environment
settings, merged with the `values` of that environment in ecosystem.yaml.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Final

from scaffold.custom_resources import API_VERSIONS_VALUE, HTTP_ROUTE, PROMETHEUS_RULE, SECURITY_POLICY
from scaffold.model import ENVIRONMENT_NAMES, Ecosystem, Environment, Service
from scaffold.wiring._render import GENERATED, YAML_HEADER, deep_merge, dump_yaml, text_file, yaml_file
from scaffold.wiring.compose import OTLP_BROWSER_PATH
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.gateway import OTLP_TRACES_PATH, route_prefix
from scaffold.wiring.monitoring import PLACEHOLDERS, release_rule_groups

CHART_DIR: Final = "deploy/chart"
CHART_VERSION: Final = "0.1.0"
# Any version of a service's chart: the umbrella follows whatever its template rendered.
DEPENDENCY_VERSION: Final = ">=0.0.0-0"
RULES_FILE: Final = "files/alert-rules.yaml"
HELPERS: Final = "_umbrella"  # prefix of the umbrella's helpers: no service name can take it

# Per-environment sizing; environments not listed here get the staging sizing.
SIZING: Final[dict[str, dict[str, Any]]] = {
    "test": {
        "replicaCount": 1,
        "autoscaling": {"enabled": False, "minReplicas": 1, "maxReplicas": 1, "targetCPUUtilizationPercentage": 75},
    },
    "staging": {
        "replicaCount": 2,
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 75},
        "podDisruptionBudget": {"minAvailable": 1},
    },
    "production": {
        "replicaCount": 3,
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10, "targetCPUUtilizationPercentage": 70},
        "podDisruptionBudget": {"minAvailable": 2},
    },
}

# Which traces every service samples, per environment (its chart's otel.sampler / otel.samplerArg,
# OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG in the container), parent-based everywhere so one
# request is one whole trace or none: all of them in test, where traffic is the tests'; a ratio in
# production, where traffic is high and exporting every span costs throughput; half in staging,
# the production mechanism at a share that still shows most requests. A failing request is kept
# whatever the ratio (the backend's tracing.ServerSpans, the worker's tracing.ErrorTraces). Per
# service, environments.<env>.values in ecosystem.yaml override it. docs/templates.md
SAMPLING: Final[dict[str, dict[str, str]]] = {
    "test": {"sampler": "parentbased_always_on", "samplerArg": "1.0"},
    "staging": {"sampler": "parentbased_traceidratio", "samplerArg": "0.5"},
    "production": {"sampler": "parentbased_traceidratio", "samplerArg": "0.1"},
}

_DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_LABEL_OR_EMPTY = "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$"


def _services(ecosystem: Ecosystem) -> list[Service]:
    return sorted(ecosystem.services, key=lambda s: s.name)


def environments(ecosystem: Ecosystem) -> list[Environment]:
    """The ecosystem's environments in promotion order (test, staging, production, then others)."""

    def key(env: Environment) -> tuple[int, str]:
        order = ENVIRONMENT_NAMES.index(env.name) if env.name in ENVIRONMENT_NAMES else len(ENVIRONMENT_NAMES)
        return (order, env.name)

    return sorted(ecosystem.environments, key=key)


def chart_path(service: Service) -> str:
    return posixpath.normpath(posixpath.join(service.path, "chart"))


def symlink_target(service: Service) -> str:
    """Target of deploy/chart/charts/<name>, relative to that link's directory."""
    return posixpath.relpath(chart_path(service), posixpath.join(CHART_DIR, "charts"))


def chart_yaml(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "apiVersion": "v2",
        "name": ecosystem.name,
        "description": f"Umbrella chart of the {ecosystem.name} ecosystem: {ecosystem.description}",
        "type": "application",
        "version": CHART_VERSION,
        "kubeVersion": ">=1.27.0-0",
        "dependencies": [
            {
                "name": s.name,
                "alias": s.name,
                "version": DEPENDENCY_VERSION,
                "repository": "file://" + posixpath.relpath(chart_path(s), CHART_DIR),
                "condition": f"{s.name}.enabled",
            }
            for s in _services(ecosystem)
        ],
        "annotations": {"app.kubernetes.io/part-of": ecosystem.name},
    }


def _publishes_events(ecosystem: Ecosystem, service: Service) -> bool:
    """A backend whose events a worker consumes: its chart mounts the broker's URL (amqp.enabled)."""
    return bool(service.publishes) and ecosystem.needs("rabbitmq")


def secret_keys(ecosystem: Ecosystem, service: Service) -> dict[str, str]:
    """The keys of the environment's Secret that `service`'s chart mounts, by the chart's value
    that names them: `key` (its database URL), `amqpKey` (its broker URL), `redisKey` (its Redis
    URL). Every service has keys of its own (`<SERVICE>_DATABASE_URL`, `<SERVICE>_AMQP_URL`,
    `<SERVICE>_REDIS_URL`), so no two share a database, broker or Redis credential even though one
    Secret holds them all. The stateful services themselves are external to the chart: these URLs
    point at them, wherever they run (docs/platform.md)."""
    prefix = service.name.upper().replace("-", "_")
    keys: dict[str, str] = {}
    if service.kind in ("backend", "worker") and "postgres" in service.needs:
        keys["key"] = f"{prefix}_DATABASE_URL"
    if service.kind == "worker" or _publishes_events(ecosystem, service):
        keys["amqpKey"] = f"{prefix}_AMQP_URL"
    if "redis" in service.needs:
        keys["redisKey"] = f"{prefix}_REDIS_URL"
    return keys


def default_values(ecosystem: Ecosystem) -> dict[str, Any]:
    values: dict[str, Any] = {
        "global": {"environment": "", "secretName": "", API_VERSIONS_VALUE: []},
        "gateway": {
            "enabled": True,
            "name": f"{ecosystem.name}-gateway",
            "namespace": "",
            "sectionName": "",
            "hostnames": [],
            "exposeInternals": True,
        },
        "prometheusRule": {"enabled": True, "labels": {}},
    }
    if ecosystem.auth is not None:
        # The Gateway checks tokens before the backends do: Envoy Gateway's JWT SecurityPolicy on
        # each backend's API route, where the cluster serves it (docs/platform.md).
        values["gateway"]["tokenPolicy"] = {"enabled": True}
    if _has_frontend(ecosystem):
        # Browser traces: the frontend posts them to /otlp on its own origin; this routes them to
        # the cluster's OpenTelemetry collector (OTLP/HTTP). A collector in another namespace
        # also needs a ReferenceGrant there.
        values["browserTraces"] = {
            "enabled": True,
            "collector": {"name": "otel-collector", "namespace": "", "port": 4318},
            # The Gateway implementation's policies for the route (size and rate limits): the
            # Gateway API has no portable field for either. Rendered as given.
            "policies": [],
        }
    for service in _services(ecosystem):
        values[service.name] = {
            "enabled": True,
            "ecosystem": ecosystem.name,
            "image": {"repository": f"{ecosystem.registry}/{service.name}"},
        }
        if _publishes_events(ecosystem, service):
            # a worker consumes its events: the backend publishes (its broker URL from the Secret)
            values[service.name]["amqp"] = {"enabled": True}
        if keys := secret_keys(ecosystem, service):
            values[service.name]["secret"] = keys
        if service.kind == "backend":
            values[service.name].update(_backend_gateway_values(ecosystem, service))
        if service.kind == "frontend" and ecosystem.auth is not None:
            # the page logs in at the issuer whose tokens the gateway and the backends check
            auth = ecosystem.auth
            values[service.name]["config"] = {"auth": {"issuer": auth.issuer, "audience": auth.audience}}
    return values


def _backend_gateway_values(ecosystem: Ecosystem, service: Service) -> dict[str, Any]:
    """What a backend's chart needs to know of the gateway in front of it: its prefix (ROOT_PATH)
    and the issuer whose tokens it verifies (AUTH_*)."""
    values: dict[str, Any] = {}
    if service.route_prefix not in (None, "/"):
        values["rootPath"] = service.route_prefix
    if ecosystem.auth is not None:
        auth = ecosystem.auth
        values["auth"] = {"issuer": auth.issuer, "audience": auth.audience, "jwksUrl": auth.jwks_url}
    return values


def environment_values(ecosystem: Ecosystem, env: Environment) -> dict[str, Any]:
    sizing = SIZING.get(env.name, SIZING["staging"])
    values: dict[str, Any] = {"global": {"environment": env.name, "secretName": env.secret}}
    if env.name == "production":
        # API documents and probes are not public in production (INTERNAL_PATHS).
        values["gateway"] = {"exposeInternals": False}
    sampling = SAMPLING.get(env.name, SAMPLING["staging"])
    for service in _services(ecosystem):
        values[service.name] = {**json.loads(json.dumps(sizing)), "otel": dict(sampling)}
    return deep_merge(values, env.values)


def values_schema(ecosystem: Ecosystem) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "global": {
            "type": "object",
            "description": "Shared with every service's chart.",
            "properties": {
                "environment": {"type": "string", "pattern": "^([a-z][-a-z0-9]{0,30})?$"},
                "secretName": {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)?$"},
                API_VERSIONS_VALUE: {
                    "type": "array",
                    "description": "Custom APIs (group/version/Kind) to render even when the cluster does not "
                    "serve them, as `helm template --api-versions`; empty for a delivery: the cluster decides.",
                    "items": {"type": "string", "pattern": "^[a-z0-9.-]+/v[a-z0-9]+/[A-Za-z]+$"},
                },
            },
            "required": ["environment", "secretName"],
        },
        "gateway": {
            "type": "object",
            "description": "The Gateway (Gateway API v1) the HTTPRoutes attach to; the cluster provides it.",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "name": {"type": "string", "pattern": _DNS_LABEL},
                "namespace": {
                    "type": "string",
                    "pattern": _DNS_LABEL_OR_EMPTY,
                    "description": "Empty: the release's namespace.",
                },
                "sectionName": {"type": "string", "pattern": _DNS_LABEL_OR_EMPTY},
                "hostnames": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "exposeInternals": {
                    "type": "boolean",
                    "description": "false: API documents and probes get no backend (the Gateway answers 500).",
                },
                "tokenPolicy": {
                    "type": "object",
                    "description": "Envoy Gateway's JWT SecurityPolicy on the backends' API routes (auth: in "
                    "ecosystem.yaml); rendered where the cluster serves it.",
                    "additionalProperties": False,
                    "properties": {"enabled": {"type": "boolean"}},
                    "required": ["enabled"],
                },
            },
            "required": ["enabled", "name", "namespace", "sectionName", "hostnames", "exposeInternals"],
        },
        "prometheusRule": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "labels": {
                    "type": "object",
                    "description": "Extra labels, e.g. the one your Prometheus selects rules by.",
                    "additionalProperties": {"type": "string"},
                },
            },
            "required": ["enabled", "labels"],
        },
    }
    if _has_frontend(ecosystem):
        properties["browserTraces"] = {
            "type": "object",
            "description": "HTTPRoute POST /otlp/v1/traces -> the cluster's OpenTelemetry collector (browser traces).",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "collector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "pattern": _DNS_LABEL},
                        "namespace": {"type": "string", "pattern": _DNS_LABEL_OR_EMPTY},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    },
                    "required": ["name", "namespace", "port"],
                },
                "policies": {
                    "type": "array",
                    "description": "Objects rendered next to the route: the implementation's rate and size limits.",
                    "items": {"type": "object", "required": ["apiVersion", "kind", "metadata"]},
                },
            },
            "required": ["enabled", "collector", "policies"],
        }
    for service in _services(ecosystem):
        properties[service.name] = {
            "type": "object",
            "description": f"Values of the {service.name} chart (validated by its own values.schema.json).",
        }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": GENERATED,
        "title": f"Values of the umbrella chart of the {ecosystem.name} ecosystem",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["global", "gateway", "prometheusRule", *(s.name for s in _services(ecosystem))],
    }


def _helpers(ecosystem: Ecosystem) -> str:
    return f"""{{{{/* {GENERATED} */}}}}

{{{{/* Labels of the umbrella's own objects. */}}}}
{{{{- define "{HELPERS}.labels" -}}}}
helm.sh/chart: {{{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}}}
app.kubernetes.io/instance: {{{{ .Release.Name }}}}
app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}
app.kubernetes.io/part-of: {ecosystem.name}
{{{{- end }}}}

{has_api_helper(HELPERS)}
{{{{/* The Gateway an HTTPRoute attaches to, and its hostnames (spec level). */}}}}
{{{{- define "{HELPERS}.gatewayAttachment" -}}}}
parentRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: {{{{ .Values.gateway.name }}}}
    {{{{- with .Values.gateway.namespace }}}}
    namespace: {{{{ . }}}}
    {{{{- end }}}}
    {{{{- with .Values.gateway.sectionName }}}}
    sectionName: {{{{ . }}}}
    {{{{- end }}}}
{{{{- with .Values.gateway.hostnames }}}}
hostnames:
  {{{{- toYaml . | nindent 2 }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{/*
Name of a service's Kubernetes Service, computed as the service charts do (helm create's
fullname rule, honouring the service's fullnameOverride / nameOverride); the tests check that
every route's backend is a rendered Service. Argument: (list $ "<service name>").
*/}}}}
{{{{- define "{HELPERS}.serviceName" -}}}}
{{{{- $root := index . 0 }}}}
{{{{- $values := index $root.Values (index . 1) }}}}
{{{{- if $values.fullnameOverride }}}}
{{{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- $name := default (index . 1) $values.nameOverride }}}}
{{{{- if contains $name $root.Release.Name }}}}
{{{{- $root.Release.Name | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- printf "%s-%s" $root.Release.Name $name | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}
{{{{- end }}}}
{{{{- end }}}}
"""


def has_api_helper(prefix: str) -> str:
    """The named template `<prefix>.hasAPI`: "true" when the cluster serves a custom API
    (group/version/Kind), or global.apiVersions names it (rendering without a cluster)."""
    return f"""{{{{/*
"true" when the cluster serves a custom API (group/version/Kind), or global.apiVersions names it
(rendering without a cluster); objects of an API the cluster lacks are left out, not failed on.
Argument: (list $ "<group/version/Kind>").
*/}}}}
{{{{- define "{prefix}.hasAPI" -}}}}
{{{{- $root := index . 0 }}}}
{{{{- $api := index . 1 }}}}
{{{{- $assumed := $root.Values.global.{API_VERSIONS_VALUE} | default (list) }}}}
{{{{- if or ($root.Capabilities.APIVersions.Has $api) (has $api $assumed) }}}}true{{{{ end }}}}
{{{{- end }}}}
"""


def _metadata(name: str, service: Service) -> str:
    """The metadata of an object the umbrella renders for `service` (`name` a Helm expression)."""
    return f"""metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- include "{HELPERS}.labels" . | nindent 4 }}}}
    app.kubernetes.io/name: {service.name}"""


def _httproutes(ecosystem: Ecosystem) -> str:
    blocks: list[str] = []
    for service in _services(ecosystem):
        prefix = route_prefix(service)
        if not prefix:
            continue
        values = f'(index .Values "{service.name}")'
        blocks.append(
            f"""{{{{- if and $routes .Values.gateway.enabled {values}.enabled }}}}
{{{{- $service := include "{HELPERS}.serviceName" (list $ "{service.name}") }}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
{_metadata("{{ $service }}", service)}
spec:
  {{{{- include "{HELPERS}.gatewayAttachment" . | nindent 2 }}}}
{_prefix_rule(prefix, "{{ $service }}", [f"port: {{{{ {values}.service.port }}}}"])}
{_internals(ecosystem, service, prefix, values)}
{{{{- end }}}}
"""
        )
    if _has_frontend(ecosystem):
        blocks.append(_otlp_route())
    header = (
        f"{{{{- /* {GENERATED} */}}}}\n"
        "{{- /* One HTTPRoute per routed service; the prefix is stripped as by the compose gateway.\n"
        "      Only where the cluster serves the Gateway API. */}}\n"
        f'{{{{- $routes := include "{HELPERS}.hasAPI" (list $ "{HTTP_ROUTE.capability}") }}}}\n'
    )
    if ecosystem.auth is not None:
        header += f'{{{{- $tokenPolicies := include "{HELPERS}.hasAPI" (list $ "{SECURITY_POLICY.capability}") }}}}\n'
    return header + "\n".join(blocks)


# What is not public where gateway.exposeInternals is false: FastAPI's API documents, and every
# kind's probes (the kubelet asks the pods directly, never through the Gateway).
INTERNAL_PATHS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "backend": (
        ("PathPrefix", "/docs"),
        ("PathPrefix", "/redoc"),
        ("Exact", "/openapi.json"),
        ("Exact", "/livez"),
        ("Exact", "/readyz"),
    ),
    "frontend": (("Exact", "/livez"), ("Exact", "/readyz")),
}


def _internals(ecosystem: Ecosystem, service: Service, prefix: str, values: str) -> str:
    """The service's internal paths. Without `auth:` they are part of its route (answered by the
    Gateway with 500 where exposeInternals is false). With it, a backend's API route takes tokens
    (the SecurityPolicy targets that route as a whole), so its API document and probes get a
    route of their own, which no policy targets: public, as in compose."""
    if ecosystem.auth is None or service.kind != "backend":
        return f"""  {{{{- if not .Values.gateway.exposeInternals }}}}
{_internal_rule(prefix, service)}
  {{{{- end }}}}"""
    public_rules = "".join(
        f"""
    - matches:
        - path:
            type: {kind}
            value: {prefix}{path}
      filters:
        - type: URLRewrite
          urlRewrite:
            path:
              type: {"ReplaceFullPath" if kind == "Exact" else "ReplacePrefixMatch"}
              {"replaceFullPath" if kind == "Exact" else "replacePrefixMatch"}: {path}
      backendRefs:
        - name: {{{{ $service }}}}
          port: {{{{ {values}.service.port }}}}"""
        for kind, path in INTERNAL_PATHS["backend"]
    )
    return f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
{_metadata('{{ printf "%s-public" $service | trunc 63 | trimSuffix "-" }}', service)}
spec:
  {{{{- include "{HELPERS}.gatewayAttachment" . | nindent 2 }}}}
  # Its API document and probes, without a token (the API route above takes one).
  rules:
  {{{{- if .Values.gateway.exposeInternals }}}}{public_rules}
  {{{{- else }}}}
{_internal_rule(prefix, service)}
  {{{{- end }}}}
{{{{- if and $tokenPolicies .Values.gateway.tokenPolicy.enabled {values}.auth.issuer }}}}
{{{{- $auth := {values}.auth }}}}
---
# Envoy Gateway checks the token of every request on the API route before the backend does.
apiVersion: {SECURITY_POLICY.api_version}
kind: {SECURITY_POLICY.kind}
{_metadata("{{ $service }}", service)}
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: {{{{ $service }}}}
  jwt:
    providers:
      - name: {ecosystem.name}
        issuer: {{{{ $auth.issuer | quote }}}}
        audiences:
          - {{{{ $auth.audience | quote }}}}
        remoteJWKS:
          uri: {{{{ $auth.jwksUrl | quote }}}}
{{{{- end }}}}"""


def _internal_rule(prefix: str, service: Service) -> str:
    """A rule for the service's internal paths with no backend: per the Gateway API
    (HTTPRouteRule.backendRefs, conformance test HTTPRouteNoBackendRefs) the Gateway itself
    answers them with 500, and they never reach the service. Longer matches win over the prefix."""
    base = "" if prefix == "/" else prefix
    matches = "".join(
        f"\n        - path:\n            type: {kind}\n            value: {base}{path}"
        for kind, path in INTERNAL_PATHS.get(service.kind, ())
    )
    return f"    - matches:{matches}"


def _has_frontend(ecosystem: Ecosystem) -> bool:
    return any(s.kind == "frontend" for s in ecosystem.services)


def _otlp_route() -> str:
    return f"""{{{{- if and $routes .Values.gateway.enabled .Values.browserTraces.enabled }}}}
{{{{- $collector := .Values.browserTraces.collector }}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {{{{ printf "%s-browser-traces" .Release.Name | trunc 63 | trimSuffix "-" }}}}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- include "{HELPERS}.labels" . | nindent 4 }}}}
spec:
  {{{{- include "{HELPERS}.gatewayAttachment" . | nindent 2 }}}}
  # The browser's trace uploads alone: POST {OTLP_BROWSER_PATH}{OTLP_TRACES_PATH}, to the collector's
  # {OTLP_TRACES_PATH}; the rest of the collector's ingest is not routed. Size and rate limits are
  # the Gateway implementation's policies (browserTraces.policies).
  rules:
    - matches:
        - method: POST
          path:
            type: Exact
            value: {OTLP_BROWSER_PATH}{OTLP_TRACES_PATH}
      filters:
        - type: URLRewrite
          urlRewrite:
            path:
              type: ReplaceFullPath
              replaceFullPath: {OTLP_TRACES_PATH}
      backendRefs:
        - name: {{{{ $collector.name }}}}
          {{{{- with $collector.namespace }}}}
          namespace: {{{{ . }}}}
          {{{{- end }}}}
          port: {{{{ $collector.port }}}}
{{{{- range .Values.browserTraces.policies }}}}
---
{{{{ toYaml . }}}}
{{{{- end }}}}
{{{{- end }}}}
"""


def _prefix_rule(prefix: str, backend: str, backend_fields: list[str]) -> str:
    """An HTTPRoute's `rules:` sending `prefix` to `backend` with the prefix stripped, as the
    compose gateway does; `backend_fields` are the backendRef's lines after its name."""
    fields = "".join(f"\n          {line}" for line in backend_fields)
    return f"""  rules:
    - matches:
        - path:
            type: PathPrefix
            value: {prefix}
      filters:
        - type: URLRewrite
          urlRewrite:
            path:
              type: ReplacePrefixMatch
              replacePrefixMatch: /
      backendRefs:
        - name: {backend}{fields}"""


def prometheusrule_template(
    rules_file: str, *, name_suffix: str, placeholders: dict[str, str], helpers: str = HELPERS
) -> str:
    """A PrometheusRule whose spec is the chart's rule file, read as a file so that the rules'
    {{ $labels }} templates reach Prometheus untouched; `placeholders` (text -> Helm expression) are
    replaced in it. Rendered only where the cluster serves the PrometheusRule API."""
    replaced = "".join(f" | replace {json.dumps(text)} {expression}" for text, expression in placeholders.items())
    return f"""{{{{- /* {GENERATED} */}}}}
{{{{- /* The rules are read as a file so that their {{{{ $labels }}}} placeholders reach Prometheus untouched. */}}}}
{{{{- if and .Values.prometheusRule.enabled (include "{helpers}.hasAPI" (list $ "{PROMETHEUS_RULE.capability}")) }}}}
apiVersion: {PROMETHEUS_RULE.api_version}
kind: {PROMETHEUS_RULE.kind}
metadata:
  name: {{{{ printf "%s-{name_suffix}" .Release.Name | trunc 63 | trimSuffix "-" }}}}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- include "{helpers}.labels" . | nindent 4 }}}}
    {{{{- with .Values.prometheusRule.labels }}}}
    {{{{- toYaml . | nindent 4 }}}}
    {{{{- end }}}}
spec:
  {{{{- .Files.Get "{rules_file}"{replaced} | nindent 2 }}}}
{{{{- end }}}}
"""


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    files: list[DerivedFile] = [
        yaml_file(f"{CHART_DIR}/Chart.yaml", chart_yaml(ecosystem)),
        yaml_file(
            f"{CHART_DIR}/values.yaml",
            default_values(ecosystem),
            comment="Defaults of every environment; values-<environment>.yaml override them.\n"
            "Each service's key holds values of that service's chart (see its values.yaml);\n"
            "images are set at delivery by digest (`scaffold deploy ENV --images images.json`).",
        ),
        text_file(f"{CHART_DIR}/values.schema.json", json.dumps(values_schema(ecosystem), indent=2, sort_keys=True)),
        text_file(f"{CHART_DIR}/templates/_helpers.tpl", _helpers(ecosystem)),
        text_file(f"{CHART_DIR}/templates/httproutes.yaml", _httproutes(ecosystem)),
        text_file(
            f"{CHART_DIR}/templates/prometheusrule.yaml",
            prometheusrule_template(RULES_FILE, name_suffix="alerts", placeholders=PLACEHOLDERS),
        ),
        text_file(
            f"{CHART_DIR}/{RULES_FILE}",
            YAML_HEADER
            + "# The release's service-level rules (the PrometheusRule's spec); the chart fills in the release's\n"
            + "# namespace, name and environment. Cluster and node rules: deploy/platform (once per cluster).\n"
            + dump_yaml({"groups": release_rule_groups(ecosystem)}),
        ),
    ]
    for env in environments(ecosystem):
        files.append(
            yaml_file(
                f"{CHART_DIR}/values-{env.name}.yaml",
                environment_values(ecosystem, env),
                comment=f"Environment {env.name} (namespace {env.namespace}); edit environments.{env.name}.values"
                " in ecosystem.yaml to change it.",
            )
        )
    for service in _services(ecosystem):
        files.append(
            DerivedFile(
                path=f"{CHART_DIR}/charts/{service.name}",
                content=symlink_target(service).encode("utf-8"),
                symlink=True,
            )
        )
    return files
