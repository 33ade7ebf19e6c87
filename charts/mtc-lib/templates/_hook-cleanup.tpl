{{/*
The cleanup hook, a Job per phase. pre-delete (mtc-hook-cleanup) removes the migration records and the
MigrationController while the operator still runs, and refuses, keeping the release, while a migration
runs; post-delete (mtc-hook-cleanup-post-delete) removes the operator's leftovers, the CRDs and the
cluster-scoped objects once Helm has deleted the release's own objects. Both run as mtc-hook-cleanup.
Code: hooks/cleanup.
*/}}
{{- define "mtc.lib.hookCleanup" -}}
{{- $v := .Values -}}
{{- $h := $v.hooks.cleanup -}}
{{- if $h.enabled -}}
{{- include "mtc.lib.hooks.rbac" (dict "context" . "name" "cleanup" "events" "pre-delete,post-delete" "rules" "hookCleanup") }}
{{- $egress := include "mtc.lib.policies.egressPlan" . | fromJson }}
{{- include "mtc.lib.policies.egressRBAC" (dict "context" . "name" "cleanup" "events" "pre-delete" "kind" $egress.kind "targets" $egress.merge) }}
{{- range $phase := list "pre-delete" "post-delete" }}
{{- $args := list "cleanup" "--phase" $phase "--release" $.Release.Name -}}
{{- if $h.duringMigration -}}{{- $args = append $args "--during-migration" -}}{{- end -}}
{{- if and $egress.merge (eq $phase "pre-delete") -}}
{{- $args = concat $args (list "--egress-kind" $egress.kind "--egress-unmerge" (include "mtc.lib.policies.egressTargets" $egress.merge)) -}}
{{- end -}}
{{- $args = concat $args (list "--timeout" (printf "%ds" (int $h.timeoutSeconds))) }}
---
apiVersion: batch/v1
kind: Job
{{ include "mtc.lib.labels.metadata" (dict "context" $ "name" (ternary "mtc-hook-cleanup" "mtc-hook-cleanup-post-delete" (eq $phase "pre-delete")) "component" "hook-cleanup" "annotations" (include "mtc.lib.hooks.annotations" (dict "events" $phase "weight" 0 "logPolicy" $v.hooks.outputLogPolicy) | fromYaml)) }}
spec:
  backoffLimit: {{ $h.backoffLimit }}
  activeDeadlineSeconds: {{ add (int $h.timeoutSeconds) 30 }}
  {{- include "mtc.lib.hooks.podFailurePolicy" (dict "context" $ "container" "cleanup") }}
  template:
    {{- include "mtc.lib.hooks.podTemplate" (dict "context" $ "name" "cleanup" "args" $args) | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{/* cleanup: lists the MTC resources in every namespace (refusal, export, each step), closes plans and drops
DVM finalizers with --drop-finalizers (patch), deletes in order, checks what else uses OADP and Velero (objects of
every Velero kind, a Velero Deployment installed without OLM, in any namespace), then removes the
operator, the CRDs and the cluster-scoped leftovers. Code: hooks/cleanup. */}}
{{- define "mtc.lib.hookCleanup.rules.cluster" -}}
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers", "migclusters", "migstorages", "migplans", "migmigrations", "mighooks", "miganalytics", "directvolumemigrations", "directvolumemigrationprogresses", "directimagemigrations", "directimagestreammigrations"]
  verbs: ["list", "watch", "patch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["clusterserviceversions"]
  verbs: ["list"]
- apiGroups: ["oadp.openshift.io"]
  resources: ["dataprotectionapplications"]
  verbs: ["list", "watch"]
- apiGroups: ["velero.io"]
  resources: ["backuprepositories", "backups", "backupstoragelocations", "datadownloads", "datauploads", "deletebackuprequests", "downloadrequests", "podvolumebackups", "podvolumerestores", "resticrepositories", "restores", "schedules", "serverstatusrequests", "volumesnapshotlocations"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  resourceNames: {{ include "mtc.lib.hookCleanup.crdNames" . }}
  verbs: ["get", "delete", "patch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles", "clusterrolebindings"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: {{ concat (include "mtc.lib.hookCleanup.operatorClusterRBAC" . | fromJsonArray) (list "dpa-editor-role" "dpa-viewer-role" "openshift-adp-metrics-reader") (include "mtc.lib.hookCleanup.olmAggregateRoles" . | fromJsonArray) | toJson }}
  verbs: ["delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  resourceNames: {{ include "mtc.lib.hookCleanup.operatorClusterRBAC" . }}
  verbs: ["delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["operators"]
  resourceNames: ["mtc-operator.openshift-migration", "redhat-oadp-operator.openshift-migration", "oadp-operator.openshift-migration"]
  verbs: ["get", "delete"]
- apiGroups: ["security.openshift.io"]
  resources: ["securitycontextconstraints"]
  resourceNames: ["rsync-anyuid", "velero-privileged"]
  verbs: ["get", "delete"]
- apiGroups: ["oauth.openshift.io"]
  resources: ["oauthclients"]
  resourceNames: ["migration"]
  verbs: ["get", "delete"]
{{- end }}

{{- define "mtc.lib.hookCleanup.rules.namespace" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["list", "create", "patch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "clusterserviceversions"]
  verbs: ["list", "watch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["installplans"]
  verbs: ["list", "watch", "delete"]
- apiGroups: ["oadp.openshift.io"]
  resources: ["dataprotectionapplications"]
  verbs: ["delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  resourceNames: ["migration-operator"]
  verbs: ["get", "delete"]
{{- end }}

{{/* mtc.lib.hookCleanup.operatorClusterRBAC: the ClusterRoles and ClusterRoleBindings MTC's operator makes,
which cleanup may delete, as a flow list (hooks/kube/resources.go: OperatorClusterRBAC). The RBAC OLM makes
for a CSV (<csv>-<hash>) is left to OLM's csv-cleanup finalizer. */}}
{{- define "mtc.lib.hookCleanup.operatorClusterRBAC" -}}
["migration-controller", "migration-velero"]
{{- end }}

{{/* mtc.lib.hookCleanup.olmAggregateRoles: the ClusterRoles OLM makes for each shared CRD an OADP CSV owns,
<crd>-<version>-admin, -edit, -view and -crdview, which cleanup deletes for the CRDs it keeps for another
Velero once MTC's OADP is gone (hooks/kube/crds.go: OLMAggregateRoles, SharedCRDVersion). */}}
{{- define "mtc.lib.hookCleanup.olmAggregateRoles" -}}
{{- $names := list -}}
{{- range (include "mtc.lib.hookCleanup.crdNames" . | fromJsonArray) -}}
{{- if hasSuffix ".migration.openshift.io" . }}{{ continue }}{{ end -}}
{{- $v := "v1alpha1" -}}
{{- if hasSuffix ".velero.io" . }}{{ $v = "v1" }}{{ end -}}
{{- if or (eq . "datauploads.velero.io") (eq . "datadownloads.velero.io") }}{{ $v = "v2alpha1" }}{{ end -}}
{{- $crd := . -}}
{{- range list "admin" "edit" "view" "crdview" }}{{ $names = append $names (printf "%s-%s-%s" $crd $v .) }}{{ end -}}
{{- end -}}
{{- toJson $names -}}
{{- end }}

{{/* mtc.lib.hookCleanup.crdNames: the CRDs cleanup may delete, as a flow list: the 11 migration.openshift.io
kinds and the velero.io, oadp.openshift.io and datamover.oadp.openshift.io CRDs of the OADP 1.0 to 1.5 bundles
(hooks/kube/resources.go: MTCCRDs, SharedCRDs; internal/charttest checks that both lists agree). */}}
{{- define "mtc.lib.hookCleanup.crdNames" -}}
{{- $mtc := list "migrationcontrollers" "migclusters" "migstorages" "mighooks" "migplans" "migmigrations" "miganalytics" "directvolumemigrations" "directvolumemigrationprogresses" "directimagemigrations" "directimagestreammigrations" -}}
{{- $names := list -}}
{{- range $mtc }}{{ $names = append $names (printf "%s.migration.openshift.io" .) }}{{ end -}}
{{- range list "backuprepositories" "backups" "backupstoragelocations" "datadownloads" "datauploads" "deletebackuprequests" "downloadrequests" "podvolumebackups" "podvolumerestores" "resticrepositories" "restores" "schedules" "serverstatusrequests" "volumesnapshotlocations" }}{{ $names = append $names (printf "%s.velero.io" .) }}{{ end -}}
{{- range list "cloudstorages" "dataprotectionapplications" "dataprotectiontests" "nonadminbackups" "nonadminbackupstoragelocationrequests" "nonadminbackupstoragelocations" "nonadmindownloadrequests" "nonadminrestores" }}{{ $names = append $names (printf "%s.oadp.openshift.io" .) }}{{ end -}}
{{- range list "volumesnapshotbackups" "volumesnapshotrestores" }}{{ $names = append $names (printf "%s.datamover.oadp.openshift.io" .) }}{{ end -}}
{{- toJson $names -}}
{{- end }}
