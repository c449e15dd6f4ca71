"""The custom resources the charts use, and the one value that decides whether they are rendered.

ServiceMonitor and PrometheusRule (the Prometheus operator) and HTTPRoute (Gateway API) exist only
in clusters that installed their CRDs. Every chart guards these objects with
`.Capabilities.APIVersions.Has "<group>/<version>/<Kind>"`, so `helm upgrade` into a cluster without
them skips the objects instead of failing (`scaffold deploy` says which were skipped and what that
costs). Rendering without a cluster (`scaffold check`, the tests, `helm template`) knows no custom
API, so `global.apiVersions` lists the ones to render anyway, as `helm template --api-versions`
does; it is empty in the derived values, so a delivery always follows the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class CustomResource:
    group: str
    version: str
    kind: str
    provided_by: str  # what installs the CRD
    without: str  # what an environment loses when the CRD is missing

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def capability(self) -> str:
        """What the charts pass to `.Capabilities.APIVersions.Has`."""
        return f"{self.api_version}/{self.kind}"


SERVICE_MONITOR: Final = CustomResource(
    "monitoring.coreos.com",
    "v1",
    "ServiceMonitor",
    "the Prometheus operator (e.g. kube-prometheus-stack)",
    "Prometheus does not scrape the services, so no service alert fires and no alert rolls a delivery back",
)
PROMETHEUS_RULE: Final = CustomResource(
    "monitoring.coreos.com",
    "v1",
    "PrometheusRule",
    "the Prometheus operator (e.g. kube-prometheus-stack)",
    "the alert rules are not installed, so no alert rolls a delivery back",
)
HTTP_ROUTE: Final = CustomResource(
    "gateway.networking.k8s.io",
    "v1",
    "HTTPRoute",
    "the Gateway API CRDs and a Gateway controller",
    "the services get no route from the Gateway, so nothing outside the cluster reaches them",
)

SECURITY_POLICY: Final = CustomResource(
    "gateway.envoyproxy.io",
    "v1alpha1",
    "SecurityPolicy",
    "Envoy Gateway (the Gateway API implementation whose JWT policy the umbrella renders)",
    "with `auth:` in ecosystem.yaml, the Gateway lets requests without a token through to the backends, "
    "which still refuse them (401)",
)
CUSTOM_RESOURCES: Final[tuple[CustomResource, ...]] = (SERVICE_MONITOR, PROMETHEUS_RULE, HTTP_ROUTE, SECURITY_POLICY)
API_VERSIONS_VALUE: Final = "apiVersions"  # the key under `global` in every chart's values


def capabilities() -> list[str]:
    """Every custom API the charts use, as `global.apiVersions` lists them."""
    return [resource.capability for resource in CUSTOM_RESOURCES]


def with_api_versions(values: dict[str, Any], api_versions: list[str] | None = None) -> dict[str, Any]:
    """`values` rendered as if the cluster served `api_versions` (default: every custom API the
    charts use), for rendering without a cluster."""
    merged = dict(values)
    current = merged.get("global")
    merged["global"] = {
        **(current if isinstance(current, dict) else {}),
        API_VERSIONS_VALUE: capabilities() if api_versions is None else list(api_versions),
    }
    return merged
