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

{{/* version-check: reads the platform, the installed MTC and, on a control cluster, the remotes' tokens. */}}
{{- define "mtc.lib.hookRules.versionCheck.cluster" -}}
- apiGroups: ["config.openshift.io"]
  resources: ["clusterversions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "clusterserviceversions"]
  verbs: ["get", "list"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers"]
  verbs: ["get", "list"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get"]
{{- end }}

{{- define "mtc.lib.hookRules.versionCheck.namespace" -}}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames:
    {{- include "mtc.lib.versionCheckSecretNames" . | nindent 4 }}
  verbs: ["get"]
{{- end }}

{{/* pull-test: runs one test pod in the namespace, watches it, reads its events, deletes it. */}}
{{- define "mtc.lib.hookRules.pullTest.cluster" -}}
{{- end }}

{{- define "mtc.lib.hookRules.pullTest.namespace" -}}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
{{- end }}

{{/* configure: waits for the operator and the CRDs, then applies ConfigMap mtc-configure. */}}
{{- define "mtc.lib.hookRules.configure.cluster" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{- define "mtc.lib.hookRules.configure.namespace" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["mtc-configure"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "installplans", "clusterserviceversions"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["migration.openshift.io"]
  resources: ["migrationcontrollers", "migstorages", "migclusters"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
{{- end }}

{{/* cleanup: exports the records, deletes MTC objects in order, then the operator, CRDs and cluster leftovers. */}}
{{- define "mtc.lib.hookRules.cleanup.cluster" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles", "clusterrolebindings"]
  verbs: ["get", "list", "delete"]
- apiGroups: ["security.openshift.io"]
  resources: ["securitycontextconstraints"]
  resourceNames: ["rsync-anyuid"]
  verbs: ["delete"]
- apiGroups: ["oauth.openshift.io"]
  resources: ["oauthclients"]
  resourceNames: ["migration"]
  verbs: ["delete"]
{{- end }}

{{- define "mtc.lib.hookRules.cleanup.namespace" -}}
- apiGroups: ["migration.openshift.io"]
  resources: ["*"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions", "clusterserviceversions", "operatorgroups"]
  verbs: ["get", "list", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "get", "update"]
- apiGroups: ["oadp.openshift.io"]
  resources: ["dataprotectionapplications"]
  verbs: ["get", "list"]
{{- end }}
