{{/*
The RBAC rules of each hook, in one place so that they can be checked against what the hook code calls.
Each hook has two lists: ".cluster" rules go into a ClusterRole, ".namespace" rules into a Role in the
install namespace (openshift-migration). Keep them least-privilege: a verb belongs here only when the hook's
code makes that call. An empty list renders no Role (or ClusterRole) for that scope.
Usage: {{ include "mtc.lib.hookRules" (dict "context" $ "hook" "versionCheck" "scope" "cluster") }}
*/}}
{{- define "mtc.lib.hookRules" -}}
{{- include (printf "mtc.lib.hookRules.%s.%s" .hook .scope) .context -}}
{{- end }}

{{/* version-check: reads the platform (ClusterVersion), the MTC already installed (Subscriptions in every
namespace, the CSV, a legacy Deployment, the MigrationController's spec.version) and the remotes' tokens.
Discovery (/version, /apis) needs no rule. Code: hooks/version (see hooks/README.md). */}}
{{- define "mtc.lib.hookRules.versionCheck.cluster" -}}
- apiGroups: ["config.openshift.io"]
  resources: ["clusterversions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions"]
  verbs: ["list"]
{{- if .Values.egressPolicies.namespaces }}
{{- if eq (include "mtc.lib.networkType" .) "OpenShiftSDN" }}
- apiGroups: ["network.openshift.io"]
  resources: ["egressnetworkpolicies"]
  verbs: ["list"]
{{- else }}
- apiGroups: ["k8s.ovn.org"]
  resources: ["egressfirewalls"]
  verbs: ["list"]
{{- end }}
{{- end }}
{{- if include "mtc.lib.hookEnabled" (dict "context" . "hook" "storageCheck") }}
{{ include "mtc.lib.hookRules.storageCheck.cluster" . | trim }}
{{- end }}
{{- end }}

{{- define "mtc.lib.hookRules.versionCheck.namespace" -}}
- apiGroups: ["operators.coreos.com"]
  resources: ["clusterserviceversions"]
  verbs: ["list"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers"]
  verbs: ["list"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames:
    {{- include "mtc.lib.versionCheckSecretNames" . | nindent 4 }}
  verbs: ["get"]
{{- if include "mtc.lib.hookEnabled" (dict "context" . "hook" "storageCheck") }}
{{ include "mtc.lib.hookRules.storageCheck.namespace" . | trim }}
{{- end }}
{{- end }}

{{/* storage-check (in the version-check Job, after it): reads the credentials Secret (existingSecret or the hook's own copy) and the CA bundle,
deletes the hook's own copy once read, and reads the cluster-wide Proxy. Code: hooks/storage. */}}
{{- define "mtc.lib.hookRules.storageCheck.cluster" -}}
- apiGroups: ["config.openshift.io"]
  resources: ["proxies"]
  resourceNames: ["cluster"]
  verbs: ["get"]
{{- include "mtc.lib.hookRules.mcgDiscover" . }}
{{- end }}

{{/* MCG discovery (provider mcg without credentials; hooks/storage/mcg.go: DiscoverMCG): OpenShift Data
Foundation's NooBaa, its admin Secret and the ingress CA, by name. A ClusterRole, because a Role in
openshift-storage could not be created where OpenShift Data Foundation is missing, which the hook
refuses in one sentence instead. */}}
{{- define "mtc.lib.hookRules.mcgDiscover" -}}
{{- if include "mtc.lib.storage.mcgDiscover" . }}
- apiGroups: ["noobaa.io"]
  resources: ["noobaas"]
  resourceNames: ["noobaa"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: ["noobaa-admin"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["default-ingress-cert"]
  verbs: ["get"]
{{- end }}
{{- end }}

{{- define "mtc.lib.hookRules.storageCheck.namespace" -}}
{{- $r := .Values.replicationRepository -}}
{{- $names := list -}}
{{- with $r.existingSecret -}}{{- $names = append $names . -}}{{- end -}}
{{- if include "mtc.lib.storage.hookSecretNeeded" . -}}{{- $names = append $names (include "mtc.lib.storage.hookSecretName" .) -}}{{- end }}
{{- /* an empty resourceNames would grant every Secret: no rule then */ -}}
{{- if $names }}
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: {{ toJson $names }}
  verbs: ["get"]
{{- end }}
{{- if include "mtc.lib.storage.hookSecretNeeded" . }}
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: [{{ include "mtc.lib.storage.hookSecretName" . | quote }}]
  verbs: ["delete"]
{{- end }}
{{- end }}

{{/* pull-test: removes test pods a killed run left (list, delete), creates one, polls it, deletes it.
Code: hooks/pulltest. */}}
{{- define "mtc.lib.hookRules.pullTest.cluster" -}}
{{- end }}

{{- define "mtc.lib.hookRules.pullTest.namespace" -}}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "get", "list", "delete"]
{{- end }}

{{/* configure: waits for the operator (OLM or the legacy Deployment) and the CRDs, gives the legacy namespace
the empty project node selector (get, patch), then server-side applies ConfigMap mtc-configure (patch; create
only where the API server has no server-side apply), polls each object, and deletes the MigStorages and
MigClusters of the release that the values dropped unless a MigPlan names them (list, delete). Code:
hooks/configure. */}}
{{- define "mtc.lib.hookRules.configure.cluster" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["catalogsources"]
  verbs: ["get"]
{{- include "mtc.lib.hookRules.mcgDiscover" . }}
{{- if include "mtc.lib.legacy.enabled" . }}
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: [{{ .Release.Namespace | quote }}]
  verbs: ["get", "patch"]
{{- end }}
{{- end }}

{{- define "mtc.lib.hookRules.configure.namespace" -}}
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
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
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

{{/* verify (the helm test pod): reads how the operator was installed (ConfigMap mtc-configure), the
Subscription and CSV, the MigrationController and the Deployments of its components. Code: hooks/verify. */}}
{{- define "mtc.lib.hookRules.verify.cluster" -}}
{{- end }}

{{- define "mtc.lib.hookRules.verify.namespace" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["mtc-configure"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "clusterserviceversions"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers"]
  verbs: ["get"]
{{- end }}

{{/* cleanup: lists the MTC resources in every namespace (refusal, export, each step), closes plans and drops
DVM finalizers with --drop-finalizers (patch), deletes in order, checks what else uses OADP and Velero (objects of
every Velero kind, a Velero Deployment installed without OLM, in any namespace), then removes the
operator, the CRDs and the cluster-scoped leftovers. Code: hooks/cleanup. */}}
{{- define "mtc.lib.hookRules.cleanup.cluster" -}}
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers", "migclusters", "migstorages", "migplans", "migmigrations", "mighooks", "miganalytics", "directvolumemigrations", "directvolumemigrationprogresses", "directimagemigrations", "directimagestreammigrations"]
  verbs: ["list", "patch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["clusterserviceversions"]
  verbs: ["list"]
- apiGroups: ["oadp.openshift.io"]
  resources: ["dataprotectionapplications"]
  verbs: ["list"]
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
  verbs: ["list"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  resourceNames: {{ include "mtc.lib.hookRules.crdNames" . }}
  verbs: ["get", "delete", "patch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles", "clusterrolebindings"]
  verbs: ["get", "list"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: {{ concat (include "mtc.lib.hookRules.operatorClusterRBAC" . | fromJsonArray) (list "dpa-editor-role" "dpa-viewer-role" "openshift-adp-metrics-reader") | toJson }}
  verbs: ["delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  resourceNames: {{ include "mtc.lib.hookRules.operatorClusterRBAC" . }}
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

{{- define "mtc.lib.hookRules.cleanup.namespace" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["list", "create", "patch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "clusterserviceversions"]
  verbs: ["list", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["installplans"]
  verbs: ["list"]
- apiGroups: ["oadp.openshift.io"]
  resources: ["dataprotectionapplications"]
  verbs: ["delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get", "list", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  resourceNames: ["migration-operator"]
  verbs: ["get", "delete"]
{{- end }}

{{/* mtc.lib.hookRules.operatorClusterRBAC: the ClusterRoles and ClusterRoleBindings MTC's operator makes,
which cleanup may delete, as a flow list (hooks/kube/resources.go: OperatorClusterRBAC). The RBAC OLM makes
for a CSV (<csv>-<hash>) is left to OLM's csv-cleanup finalizer. */}}
{{- define "mtc.lib.hookRules.operatorClusterRBAC" -}}
["migration-controller", "migration-velero"]
{{- end }}

{{/* mtc.lib.hookRules.crdNames: the CRDs cleanup may delete, as a flow list: the 11 migration.openshift.io
kinds and the velero.io, oadp.openshift.io and datamover.oadp.openshift.io CRDs of the OADP 1.0 to 1.5 bundles
(hooks/kube/resources.go: MTCCRDs, SharedCRDs; internal/charttest checks that both lists agree). */}}
{{- define "mtc.lib.hookRules.crdNames" -}}
{{- $mtc := list "migrationcontrollers" "migclusters" "migstorages" "mighooks" "migplans" "migmigrations" "miganalytics" "directvolumemigrations" "directvolumemigrationprogresses" "directimagemigrations" "directimagestreammigrations" -}}
{{- $names := list -}}
{{- range $mtc }}{{ $names = append $names (printf "%s.migration.openshift.io" .) }}{{ end -}}
{{- range list "backuprepositories" "backups" "backupstoragelocations" "datadownloads" "datauploads" "deletebackuprequests" "downloadrequests" "podvolumebackups" "podvolumerestores" "resticrepositories" "restores" "schedules" "serverstatusrequests" "volumesnapshotlocations" }}{{ $names = append $names (printf "%s.velero.io" .) }}{{ end -}}
{{- range list "cloudstorages" "dataprotectionapplications" "dataprotectiontests" "nonadminbackups" "nonadminbackupstoragelocationrequests" "nonadminbackupstoragelocations" "nonadmindownloadrequests" "nonadminrestores" }}{{ $names = append $names (printf "%s.oadp.openshift.io" .) }}{{ end -}}
{{- range list "volumesnapshotbackups" "volumesnapshotrestores" }}{{ $names = append $names (printf "%s.datamover.oadp.openshift.io" .) }}{{ end -}}
{{- toJson $names -}}
{{- end }}
