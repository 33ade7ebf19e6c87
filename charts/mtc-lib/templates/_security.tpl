{{/*
mtc.lib.security.seccompField: "true" when the cluster's pod API knows securityContext.seccompProfile
(Kubernetes 1.19 and later). OpenShift 3.11 serves Kubernetes 1.11, whose schema rejects the field.
Usage: {{ if include "mtc.lib.security.seccompField" $ }}
*/}}
{{- define "mtc.lib.security.seccompField" -}}
{{- if semverCompare ">=1.19.0-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.security.pod: pod-level security that passes PodSecurity "restricted" and OpenShift restricted-v2.
No runAsUser or fsGroup: restricted-v2 assigns a UID from the namespace's range.
Usage: {{- include "mtc.lib.security.pod" $ | nindent 6 }}
*/}}
{{- define "mtc.lib.security.pod" -}}
securityContext:
  runAsNonRoot: true
  {{- if include "mtc.lib.security.seccompField" . }}
  seccompProfile:
    type: RuntimeDefault
  {{- end }}
{{- end }}

{{/*
mtc.lib.security.container: container-level half of the restricted profile.
Usage: {{- include "mtc.lib.security.container" $ | nindent 10 }}
*/}}
{{- define "mtc.lib.security.container" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
{{- end }}
