{{/*
Helper names carry the service's name: templates of all subcharts of an umbrella chart share one
namespace, so generic names would let one service's helpers silently replace another's.
*/}}

{{/* The service's name (the chart name unless nameOverride is set). */}}
{{- define "storefront.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the release's objects: the release name, prefixed to the service's name unless it contains it. */}}
{{- define "storefront.fullname" -}}
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

{{- define "storefront.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The deployed version: the image tag (a label value, so at most 63 characters, alphanumeric at both ends). */}}
{{- define "storefront.version" -}}
{{- $version := .Values.image.tag | default .Chart.AppVersion | trunc 63 }}
{{- regexReplaceAll "[^A-Za-z0-9]+$" (regexReplaceAll "^[^A-Za-z0-9]+" $version "") "" }}
{{- end }}

{{/* Labels every object of the release carries, without the component. */}}
{{- define "storefront.commonLabels" -}}
helm.sh/chart: {{ include "storefront.chart" . }}
app.kubernetes.io/name: {{ include "storefront.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "storefront.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Values.ecosystem }}
{{- end }}

{{/*
Selects the server's pods. The component keeps the helm test pod (component "test") out of the
Service's endpoints and out of the server's NetworkPolicy.
*/}}
{{- define "storefront.selectorLabels" -}}
app.kubernetes.io/name: {{ include "storefront.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "storefront.labels" -}}
{{ include "storefront.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "storefront.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "storefront.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "storefront.testLabels" -}}
{{ include "storefront.commonLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{- define "storefront.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "storefront.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, pinned by digest when one is given (the digest wins over the tag). */}}
{{- define "storefront.image" -}}
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
{{- define "storefront.imageCheckSkips" -}}
{{- if not .Values.image.digest }}
- "CKV_K8S_43=No image digest is known when the chart is generated; the image is pinned by its exact release tag until image.digest is set at release time"
- "CKV_K8S_15=IfNotPresent is safe for an exact immutable release tag; with image.digest set the image is pinned by content and this check passes"
{{- end }}
{{- end }}

{{/* Renders a list of "CHECK_ID=reason" strings as checkov.io/skipN annotations. */}}
{{- define "storefront.checkovAnnotations" -}}
{{- range $i, $skip := . }}
{{ printf "checkov.io/skip%d" (add1 $i) }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{/* Restricted Pod Security Standard, pod level. */}}
{{- define "storefront.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Restricted Pod Security Standard, container level, with a read-only root filesystem. */}}
{{- define "storefront.containerSecurityContext" -}}
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
{{- define "storefront.dnsEgress" -}}
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
{{- define "storefront.tcpEgress" -}}
- ports:
    - protocol: TCP
      port: {{ .port }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
