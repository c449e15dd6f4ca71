"""`deploy/platform/`: what the ecosystem installs once per cluster, not once per environment.

- the cluster and node alert rules (monitoring.cluster_rule_groups): they concern every release
  on a cluster, so one PrometheusRule per cluster, whatever number of environments share it;
- the rollback relay (rollback_relay.py): Alertmanager sends it the rollback alerts, it starts the
  delivery pipeline's rollback job through GitHub's repository_dispatch.
Installed into the namespace `alerting.namespace` of ecosystem.yaml by
`scaffold deploy ENV --platform` (docs/delivery.md). The relay reads its GitHub token from the
Secret `<ecosystem>-rollback-relay` (key `token`) of that namespace; nothing here holds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from scaffold.custom_resources import API_VERSIONS_VALUE
from scaffold.model import Ecosystem
from scaffold.wiring._render import GENERATED, YAML_HEADER, dump_yaml, text_file, yaml_file
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.monitoring import RELAY_PATH, RELAY_PORT, cluster_rule_groups, relay_name
from scaffold.wiring.umbrella import CHART_VERSION, environments, has_api_helper, prometheusrule_template

PLATFORM_DIR: Final = "deploy/platform"
RULES_FILE: Final = "files/alert-rules.yaml"
RELAY_FILE: Final = "files/rollback_relay.py"
RELAY_SOURCE: Final = Path(__file__).with_name("rollback_relay.py")
TOKEN_KEY: Final = "token"
HELPERS: Final = "_platform"
RELAY_UID: Final = 10001
DIGEST_SKIPS: Final = (
    "CKV_K8S_43=No digest of the Python image is known when the chart is generated; "
    "set relay.image.digest for the cluster's registry or mirror",
    "CKV_K8S_15=IfNotPresent is safe for an exact immutable release tag; "
    "with relay.image.digest set the image is pinned by content",
)
# A Python image for the relay's standard-library script; pin image.digest per cluster (mirrors too).
RELAY_IMAGE: Final = {"repository": "docker.io/library/python", "tag": "3.12.11-slim-bookworm", "digest": ""}


def release_name(ecosystem: Ecosystem) -> str:
    return f"{ecosystem.name}-platform"


def token_secret(ecosystem: Ecosystem) -> str:
    return relay_name(ecosystem)


def chart_yaml(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "apiVersion": "v2",
        "name": release_name(ecosystem),
        "description": f"Once per cluster for the {ecosystem.name} ecosystem: cluster and node alert rules, "
        "the rollback relay",
        "type": "application",
        "version": CHART_VERSION,
        "kubeVersion": ">=1.27.0-0",
        "annotations": {"app.kubernetes.io/part-of": ecosystem.name},
    }


def default_values(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "global": {API_VERSIONS_VALUE: []},
        "prometheusRule": {"enabled": True, "labels": {}},
        "relay": {
            "enabled": ecosystem.alerting.github_repository is not None,
            "image": dict(RELAY_IMAGE, pullPolicy="IfNotPresent"),
            "ecosystem": ecosystem.name,
            "environments": [e.name for e in environments(ecosystem)],
            "githubRepository": ecosystem.alerting.github_repository or "",
            "githubApiUrl": "https://api.github.com",
            "eventType": "rollback",
            # The Secret (a name, never its value) holding the GitHub token under `key`.
            "githubToken": {"secretName": token_secret(ecosystem), "key": TOKEN_KEY},
            # Namespaces whose pods may send alerts (Alertmanager's); empty: the release's own.
            "alertmanagerNamespaces": [],
            "resources": {
                "requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "8Mi"},
                "limits": {"cpu": "200m", "memory": "64Mi", "ephemeral-storage": "16Mi"},
            },
        },
    }


def values_schema() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": GENERATED,
        "type": "object",
        "additionalProperties": False,
        "required": ["global", "prometheusRule", "relay"],
        "properties": {
            "global": {
                "type": "object",
                "properties": {API_VERSIONS_VALUE: {"type": "array", "items": string}},
            },
            "prometheusRule": {
                "type": "object",
                "additionalProperties": False,
                "required": ["enabled", "labels"],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "labels": {"type": "object", "additionalProperties": string},
                },
            },
            "relay": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "enabled",
                    "image",
                    "ecosystem",
                    "environments",
                    "githubRepository",
                    "githubApiUrl",
                    "eventType",
                    "githubToken",
                    "alertmanagerNamespaces",
                    "resources",
                ],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "image": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["repository", "tag", "digest", "pullPolicy"],
                        "properties": {
                            "repository": {"type": "string", "minLength": 1},
                            "tag": string,
                            "digest": {"type": "string", "pattern": "^(sha256:[a-f0-9]{64})?$"},
                            "pullPolicy": {"enum": ["Always", "IfNotPresent"]},
                        },
                    },
                    "ecosystem": string,
                    "environments": {"type": "array", "items": string, "minItems": 1},
                    "githubRepository": {"type": "string", "pattern": "^([\\w.-]+/[\\w.-]+)?$"},
                    "githubApiUrl": {"type": "string", "pattern": "^https://"},
                    "eventType": {"type": "string", "minLength": 1},
                    "githubToken": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["secretName", "key"],
                        "properties": {
                            "secretName": {"type": "string", "minLength": 1},
                            "key": {"type": "string", "minLength": 1},
                        },
                    },
                    "alertmanagerNamespaces": {"type": "array", "items": string},
                    "resources": {"type": "object"},
                },
            },
        },
    }


_HELPERS: Final = f"""{{{{/* {GENERATED} */}}}}

{{{{- define "{HELPERS}.labels" -}}}}
helm.sh/chart: {{{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}}}
app.kubernetes.io/instance: {{{{ .Release.Name }}}}
app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}
app.kubernetes.io/part-of: {{{{ .Values.relay.ecosystem }}}}
{{{{- end }}}}

{{{{- define "{HELPERS}.relayName" -}}}}
{{{{- printf "%s-rollback-relay" .Values.relay.ecosystem | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{- define "{HELPERS}.relaySelector" -}}}}
app.kubernetes.io/name: rollback-relay
app.kubernetes.io/instance: {{{{ .Release.Name }}}}
{{{{- end }}}}
{has_api_helper(HELPERS)}"""


def _relay_template() -> str:
    name = f'{{{{ include "{HELPERS}.relayName" . }}}}'
    labels = (
        f'{{{{- include "{HELPERS}.labels" . | nindent 4 }}}}\n'
        f'    {{{{- include "{HELPERS}.relaySelector" . | nindent 4 }}}}'
    )
    repository = 'required "relay.githubRepository: set alerting.github_repository in ecosystem.yaml"'
    return f"""{{{{- /* {GENERATED} */}}}}
{{{{- if .Values.relay.enabled }}}}
{{{{- $relay := .Values.relay }}}}
{{{{- $image := printf "%s:%s" $relay.image.repository $relay.image.tag }}}}
{{{{- if $relay.image.digest }}}}
{{{{- $image = printf "%s@%s" $relay.image.repository $relay.image.digest }}}}
{{{{- end }}}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {labels}
data:
  rollback_relay.py: |
    {{{{- .Files.Get "{RELAY_FILE}" | nindent 4 }}}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {labels}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {labels}
spec:
  type: ClusterIP
  selector:
    {{{{- include "{HELPERS}.relaySelector" . | nindent 4 }}}}
  ports:
    - name: http
      port: {RELAY_PORT}
      targetPort: http
      protocol: TCP
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {labels}
  {{{{- if not $relay.image.digest }}}}
  annotations:
    checkov.io/skip1: {json.dumps(DIGEST_SKIPS[0])}
    checkov.io/skip2: {json.dumps(DIGEST_SKIPS[1])}
  {{{{- end }}}}
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{{{- include "{HELPERS}.relaySelector" . | nindent 6 }}}}
  template:
    metadata:
      labels:
        {{{{- include "{HELPERS}.labels" . | nindent 8 }}}}
        {{{{- include "{HELPERS}.relaySelector" . | nindent 8 }}}}
      annotations:
        checksum/code: {{{{ .Files.Get "{RELAY_FILE}" | sha256sum }}}}
    spec:
      serviceAccountName: {name}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        runAsNonRoot: true
        runAsUser: {RELAY_UID}
        runAsGroup: {RELAY_UID}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: relay
          image: {{{{ $image | quote }}}}
          imagePullPolicy: {{{{ $relay.image.pullPolicy }}}}
          command: ["python", "-I", "/app/rollback_relay.py"]
          ports:
            - name: http
              containerPort: {RELAY_PORT}
              protocol: TCP
          env:
            - name: RELAY_ECOSYSTEM
              value: {{{{ $relay.ecosystem | quote }}}}
            - name: RELAY_ENVIRONMENTS
              value: {{{{ join "," $relay.environments | quote }}}}
            - name: GITHUB_REPOSITORY
              value: {{{{ {repository} $relay.githubRepository | quote }}}}
            - name: GITHUB_API_URL
              value: {{{{ $relay.githubApiUrl | quote }}}}
            - name: RELAY_EVENT_TYPE
              value: {{{{ $relay.eventType | quote }}}}
            - name: GITHUB_TOKEN_FILE
              value: /var/run/secrets/github/{TOKEN_KEY}
            - name: RELAY_LISTEN
              value: "0.0.0.0:{RELAY_PORT}"
            - name: PYTHONDONTWRITEBYTECODE
              value: "1"
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 20
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
          resources:
            {{{{- toYaml $relay.resources | nindent 12 }}}}
          securityContext:
            allowPrivilegeEscalation: false
            privileged: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: {RELAY_UID}
            runAsGroup: {RELAY_UID}
            capabilities:
              drop:
                - ALL
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: code
              mountPath: /app
              readOnly: true
            - name: token
              mountPath: /var/run/secrets/github
              readOnly: true
      volumes:
        - name: code
          configMap:
            name: {name}
        - name: token
          secret:
            secretName: {{{{ $relay.githubToken.secretName }}}}
            items:
              - key: {{{{ $relay.githubToken.key }}}}
                path: {TOKEN_KEY}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {labels}
spec:
  podSelector:
    matchLabels:
      {{{{- include "{HELPERS}.relaySelector" . | nindent 6 }}}}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    # Alertmanager's notifications ({RELAY_PATH}) and the kubelet's probes.
    - from:
        {{{{- range $relay.alertmanagerNamespaces | default (list $.Release.Namespace) }}}}
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{{{ . }}}}
        {{{{- end }}}}
      ports:
        - protocol: TCP
          port: http
  egress:
    # DNS, then GitHub's API over HTTPS.
    - ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
    - ports:
        - protocol: TCP
          port: 443
{{{{- end }}}}
"""


def relay_file() -> str:
    """The relay's source as the platform chart ships it."""
    return f"# {GENERATED}\n" + RELAY_SOURCE.read_text(encoding="utf-8")


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [
        yaml_file(f"{PLATFORM_DIR}/Chart.yaml", chart_yaml(ecosystem)),
        yaml_file(
            f"{PLATFORM_DIR}/values.yaml",
            default_values(ecosystem),
            comment="Installed once per cluster (`scaffold deploy ENV --platform`) into the namespace\n"
            "alerting.namespace of ecosystem.yaml; the relay runs when alerting.github_repository is set.",
        ),
        text_file(f"{PLATFORM_DIR}/values.schema.json", json.dumps(values_schema(), indent=2, sort_keys=True)),
        text_file(f"{PLATFORM_DIR}/templates/_helpers.tpl", _HELPERS),
        text_file(
            f"{PLATFORM_DIR}/templates/prometheusrule.yaml",
            prometheusrule_template(RULES_FILE, name_suffix="cluster-alerts", placeholders={}, helpers=HELPERS),
        ),
        text_file(f"{PLATFORM_DIR}/templates/relay.yaml", _relay_template()),
        text_file(
            f"{PLATFORM_DIR}/{RULES_FILE}",
            YAML_HEADER
            + "# Cluster and node rules, once per cluster (the PrometheusRule's spec).\n"
            + dump_yaml({"groups": cluster_rule_groups(ecosystem)}),
        ),
        text_file(f"{PLATFORM_DIR}/{RELAY_FILE}", relay_file()),
    ]
