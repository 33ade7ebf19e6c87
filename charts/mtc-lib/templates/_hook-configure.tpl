{{/*
The configure hook: after install, upgrade and rollback, it waits for the operator and applies what
ConfigMap mtc-configure holds (the MigrationController, MigStorage, MigClusters), then waits for each to
be ready. Code: hooks/configure.
*/}}
{{- define "mtc.lib.hookConfigure" -}}
{{- $v := .Values -}}
{{- $h := $v.hooks.configure -}}
{{- if $h.enabled -}}
{{- $events := "post-install,post-upgrade,post-rollback" -}}
{{- include "mtc.lib.hooks.rbac" (dict "context" . "name" "configure" "events" $events "rules" "hookConfigure") }}
{{- $egress := include "mtc.lib.policies.egressPlan" . | fromJson }}
{{- include "mtc.lib.policies.egressRBAC" (dict "context" . "name" "configure" "events" $events "kind" $egress.kind "targets" (concat $egress.merge $egress.unmerge)) }}
---
apiVersion: batch/v1
kind: Job
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "mtc-hook-configure" "component" "hook-configure" "annotations" (include "mtc.lib.hooks.annotations" (dict "events" $events "weight" 0 "logPolicy" $v.hooks.outputLogPolicy) | fromYaml)) }}
spec:
  backoffLimit: {{ $h.backoffLimit }}
  activeDeadlineSeconds: {{ add (int $h.timeoutSeconds) 30 }}
  {{- include "mtc.lib.hooks.podFailurePolicy" (dict "context" . "container" "configure") }}
  template:
    {{- include "mtc.lib.hooks.podTemplate" (dict "context" . "name" "configure" "args" (list "configure" "--configmap" "mtc-configure" "--timeout" (printf "%ds" (int $h.timeoutSeconds)))) | nindent 4 }}
{{- end }}
{{- end }}

{{/* configure: waits for the operator (OLM or the legacy Deployment) and the CRDs, gives the legacy namespace
the empty project node selector (get, patch), then server-side applies ConfigMap mtc-configure (patch; create
only where the API server has no server-side apply), polls each object (legacy: also Deployment velero and
DaemonSet restic, get), and deletes the MigStorages and
MigClusters of the release that the values dropped unless a MigPlan names them (list, delete). Code:
hooks/configure. */}}
{{- define "mtc.lib.hookConfigure.rules.cluster" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["catalogsources"]
  verbs: ["get"]
{{- include "mtc.lib.storage.mcgDiscoverRules" . }}
{{- if include "mtc.lib.legacy.enabled" . }}
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: [{{ .Release.Namespace | quote }}]
  verbs: ["get", "patch"]
{{- end }}
{{- end }}

{{- define "mtc.lib.hookConfigure.rules.namespace" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["mtc-configure"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "installplans", "clusterserviceversions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "installplans"]
  verbs: ["list"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "installplans", "clusterserviceversions"]
  verbs: ["watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "watch"]
{{- if include "mtc.lib.legacy.enabled" . }}
- apiGroups: ["apps"]
  resources: ["daemonsets"]
  verbs: ["get"]
{{- end }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers", "migstorages", "migclusters"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers", "migstorages", "migclusters"]
  verbs: ["watch"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migstorages", "migclusters"]
  verbs: ["list", "delete"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migplans"]
  verbs: ["list"]
{{- if include "mtc.lib.storage.mcgDiscover" . }}
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: [{{ include "mtc.lib.storage.secretName" . | quote }}]
  verbs: ["patch"]
{{- end }}
{{- end }}
