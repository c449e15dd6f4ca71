{{/*
Helper names carry the service's name: templates of all subcharts of an umbrella chart share one
namespace, so generic names would let one service's helpers silently replace another's.
*/}}

{{/* The service's name (the chart name unless nameOverride is set). */}}
{{- define "inventory.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the release's objects: the release name, prefixed to the service's name unless it contains it. */}}
{{- define "inventory.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "inventory.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The deployed version: the image tag (a label value, so at most 63 characters, alphanumeric at both ends). */}}
{{- define "inventory.version" -}}
{{- $version := .Values.image.tag | default .Chart.AppVersion | trunc 63 }}
{{- regexReplaceAll "[^A-Za-z0-9]+$" (regexReplaceAll "^[^A-Za-z0-9]+" $version "") "" }}
{{- end }}

{{/* Labels every object of the release carries, without the component. */}}
{{- define "inventory.commonLabels" -}}
helm.sh/chart: {{ include "inventory.chart" . }}
app.kubernetes.io/name: {{ include "inventory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "inventory.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Values.ecosystem }}
{{- end }}

{{/*
Selects the server's pods. The component keeps the helm test pod (component "test") out of the
Service's endpoints and out of the server's NetworkPolicy.
*/}}
{{- define "inventory.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inventory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "inventory.labels" -}}
{{ include "inventory.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "inventory.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "inventory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "inventory.testLabels" -}}
{{ include "inventory.commonLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{- define "inventory.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inventory.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, pinned by digest when one is given (the digest wins over the tag). */}}
{{- define "inventory.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
checkov skips for checks that cannot pass before a digest is known (annotation values are
"CHECK_ID=reason"; checkov splits them on "=", so a reason must not contain one).
With image.digest set both checks pass and no skip is written.
*/}}
{{- define "inventory.imageCheckSkips" -}}
{{- if not .Values.image.digest }}
- "CKV_K8S_43=No image digest is known when the chart is generated; the image is pinned by its exact release tag until image.digest is set at release time"
- "CKV_K8S_15=IfNotPresent is safe for an exact immutable release tag; with image.digest set the image is pinned by content and this check passes"
{{- end }}
{{- end }}

{{/* Renders a list of "CHECK_ID=reason" strings as checkov.io/skipN annotations. */}}
{{- define "inventory.checkovAnnotations" -}}
{{- range $i, $skip := . }}
{{ printf "checkov.io/skip%d" (add1 $i) }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{/* Restricted Pod Security Standard, pod level. */}}
{{- define "inventory.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Restricted Pod Security Standard, container level, with a read-only root filesystem. */}}
{{- define "inventory.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Egress to the cluster DNS (NetworkPolicyEgressRule). */}}
{{- define "inventory.dnsEgress" -}}
{{- $dns := .Values.networkPolicy.egress.dns -}}
- ports:
    - protocol: UDP
      port: {{ $dns.port }}
    - protocol: TCP
      port: {{ $dns.port }}
  {{- with $dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Egress to one TCP port (NetworkPolicyEgressRule); argument: an egress target {port, to}. */}}
{{- define "inventory.tcpEgress" -}}
- ports:
    - protocol: TCP
      port: {{ .port }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Existing Secret holding DATABASE_URL (and AMQP_URL): secret.name, else global.secretName, else the fullname. */}}
{{- define "inventory.secretName" -}}
{{- .Values.secret.name | default .Values.global.secretName | default (include "inventory.fullname" .) }}
{{- end }}

{{- define "inventory.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ include "inventory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migrate
{{- end }}

{{- define "inventory.migrateLabels" -}}
{{ include "inventory.commonLabels" . }}
app.kubernetes.io/component: migrate
{{- end }}

{{/* Egress to PostgreSQL (NetworkPolicyEgressRule). */}}
{{- define "inventory.databaseEgress" -}}
{{- include "inventory.tcpEgress" .Values.networkPolicy.egress.database }}
{{- end }}

{{/* Egress to RabbitMQ, AMQP 0-9-1 (NetworkPolicyEgressRule). */}}
{{- define "inventory.amqpEgress" -}}
{{- include "inventory.tcpEgress" .Values.networkPolicy.egress.amqp }}
{{- end }}

{{/* The volume and mount of the Secret holding DATABASE_URL (a file, never an environment variable). */}}
{{- define "inventory.databaseVolume" -}}
- name: database
  secret:
    secretName: {{ include "inventory.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.secret.key }}
        path: {{ .Values.secret.key }}
{{- end }}

{{- define "inventory.databaseMount" -}}
- name: database
  mountPath: /run/secrets/database
  readOnly: true
{{- end }}

{{- define "inventory.databaseUrlFile" -}}
{{- printf "/run/secrets/database/%s" .Values.secret.key }}
{{- end }}

{{/* The volume and mount of the Secret's AMQP_URL (the broker's URL with its credentials). */}}
{{- define "inventory.amqpVolume" -}}
- name: amqp
  secret:
    secretName: {{ include "inventory.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.secret.amqpKey }}
        path: {{ .Values.secret.amqpKey }}
{{- end }}

{{- define "inventory.amqpMount" -}}
- name: amqp
  mountPath: /run/secrets/amqp
  readOnly: true
{{- end }}

{{- define "inventory.amqpUrlFile" -}}
{{- printf "/run/secrets/amqp/%s" .Values.secret.amqpKey }}
{{- end }}

{{/* OpenTelemetry's standard variables (EnvVar objects): the service, its resource, exporter and sampler. */}}
{{- define "inventory.otelEnv" -}}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_SERVICE_NAME
  value: {{ include "inventory.name" . | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  {{- $attributes := list (printf "service.namespace=%s" .Values.ecosystem) (printf "service.version=%s" (include "inventory.version" .)) }}
  {{- with .Values.global.environment }}
  {{- $attributes = append $attributes (printf "deployment.environment.name=%s" .) }}
  {{- end }}
  {{- $attributes = append $attributes (printf "k8s.namespace.name=%s" .Release.Namespace) }}
  {{- $attributes = append $attributes "k8s.pod.name=$(K8S_POD_NAME)" }}
  value: {{ join "," $attributes | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .Values.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .Values.otel.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .Values.otel.samplerArg | quote }}
- name: OTEL_LOGS_EXPORTER
  value: {{ .Values.otel.logsExporter | quote }}
{{- end }}
