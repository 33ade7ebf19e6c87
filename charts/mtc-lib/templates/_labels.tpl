{{/*
mtc.lib.labels: the common labels of every object the charts render.
Usage: {{ include "mtc.lib.labels" (dict "context" $ "component" "operator") }}
*/}}
{{- define "mtc.lib.labels" -}}
{{- $ctx := .context -}}
{{ include "mtc.lib.labels.selector" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: mtc
helm.sh/chart: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/*
mtc.lib.labels.selector: the labels selectors may use (name and instance only).
Usage: {{ include "mtc.lib.labels.selector" (dict "context" $) }}
*/}}
{{- define "mtc.lib.labels.selector" -}}
app.kubernetes.io/name: {{ .context.Chart.Name }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- end }}

{{/*
mtc.lib.labels.metadata: name, namespace and labels of a namespaced object in the install namespace.
Usage: {{ include "mtc.lib.labels.metadata" (dict "context" $ "name" "mtc-configure" "component" "configure") }}
Pass "namespace" to place the object elsewhere, "annotations" (a map) to add annotations.
*/}}
{{- define "mtc.lib.labels.metadata" -}}
metadata:
  name: {{ .name }}
  namespace: {{ .namespace | default .context.Release.Namespace }}
  labels:
    {{- include "mtc.lib.labels" . | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
mtc.lib.labels.clusterMetadata: name and labels of a cluster-scoped object.
Usage: {{ include "mtc.lib.labels.clusterMetadata" (dict "context" $ "name" "x" "component" "y" "annotations" (dict)) }}
*/}}
{{- define "mtc.lib.labels.clusterMetadata" -}}
metadata:
  name: {{ .name }}
  labels:
    {{- include "mtc.lib.labels" . | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
