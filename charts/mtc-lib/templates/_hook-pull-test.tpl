{{/*
The pull-test hook: before install, upgrade and rollback, after the version check, it runs a pod of
hooks.pullTest.image with the pull secrets MTC's pods will use, and refuses when the node cannot pull it
(a mirror or a pull secret missing on an air-gapped cluster). With the version check on, it runs in that
Job, after it (mtc.lib.hookVersionCheck.pullTest); this Job is for a pull test on its own.
Code: hooks/pulltest.
*/}}
{{- define "mtc.lib.hookPullTest" -}}
{{- $v := .Values -}}
{{- $h := $v.hooks.pullTest -}}
{{- if and $h.enabled (not (include "mtc.lib.hookVersionCheck.pullTest" .)) -}}
{{- $events := "pre-install,pre-upgrade,pre-rollback" -}}
{{- $args := include "mtc.lib.hookPullTest.args" . | fromJsonArray -}}
{{- include "mtc.lib.hooks.rbac" (dict "context" . "name" "pull-test" "events" $events "rules" "hookPullTest") }}
---
apiVersion: batch/v1
kind: Job
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "mtc-hook-pull-test" "component" "hook-pull-test" "annotations" (include "mtc.lib.hooks.annotations" (dict "events" $events "weight" 10 "logPolicy" $v.hooks.outputLogPolicy) | fromYaml)) }}
spec:
  backoffLimit: {{ $h.backoffLimit }}
  activeDeadlineSeconds: {{ add (int $h.timeoutSeconds) 30 }}
  {{- include "mtc.lib.hooks.podFailurePolicy" (dict "context" . "container" "pull-test") }}
  template:
    {{- include "mtc.lib.hooks.podTemplate" (dict "context" . "name" "pull-test" "args" $args) | nindent 4 }}
{{- end }}
{{- end }}

{{/* mtc.lib.hookPullTest.args: the pull-test command line, as a JSON list. */}}
{{- define "mtc.lib.hookPullTest.args" -}}
{{- $h := .Values.hooks.pullTest -}}
{{- $args := list "pull-test" "--image" (include "mtc.lib.images.image" (dict "context" . "image" $h.image "defaultTag" "latest")) -}}
{{- range (include "mtc.lib.images.pullSecretNames" (dict "context" . "extra" $h.pullSecrets) | fromJsonArray) -}}
{{- $args = concat $args (list "--pull-secret" .) -}}
{{- end -}}
{{- concat $args (list "--timeout" (printf "%ds" (int $h.timeoutSeconds))) | toJson -}}
{{- end }}

{{/* pull-test: removes test pods a killed run left (list, delete), creates one, watches and polls it,
deletes it. Code: hooks/pulltest. */}}
{{- define "mtc.lib.hookPullTest.rules.cluster" -}}
{{- end }}

{{- define "mtc.lib.hookPullTest.rules.namespace" -}}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "get", "list", "watch", "delete"]
{{- end }}
