{{/*
The version-check hook: before install, upgrade and rollback, it refuses an MTC line the platform does not
support, an MTC already installed another way, remotes on another line and egress policies it cannot merge.
When the chart renders a replication repository, the storage check runs first in the same Job (before
"--and"): a Job of its own would cost Helm a second or two, the check a fraction of one; first, so that it
has consumed (and deleted) the hook's copy of the credentials whatever the version check decides. The pull
test, when on, runs last in the Job for the same reason (after "--and", so only once the platform passed).
Code: hooks/version, hooks/storage, hooks/pulltest.
*/}}

{{/* mtc.lib.hookVersionCheck.events: the Helm events of the hook, of its RBAC and of the Secrets it reads
(mtc.lib.storage.hookSecret, mtc.lib.remotes.versionCheckSecret). */}}
{{- define "mtc.lib.hookVersionCheck.events" -}}
pre-install,pre-upgrade,pre-rollback
{{- end }}

{{/* mtc.lib.hookVersionCheck.storageCheck: "true" when the storage check runs in this Job
(hooks.storageCheck.enabled, where the chart renders a replication repository). */}}
{{- define "mtc.lib.hookVersionCheck.storageCheck" -}}
{{- if and .Values.hooks.storageCheck.enabled (include "mtc.lib.storage.enabled" .) -}}true{{- end -}}
{{- end }}

{{/* mtc.lib.hookVersionCheck.pullTest: "true" when the pull test runs in this Job (both hooks on). */}}
{{- define "mtc.lib.hookVersionCheck.pullTest" -}}
{{- if and .Values.hooks.versionCheck.enabled .Values.hooks.pullTest.enabled -}}true{{- end -}}
{{- end }}

{{- define "mtc.lib.hookVersionCheck" -}}
{{- $v := .Values -}}
{{- $h := $v.hooks.versionCheck -}}
{{- if $h.enabled -}}
{{- $events := include "mtc.lib.hookVersionCheck.events" . -}}
{{- $timeout := int $h.timeoutSeconds -}}
{{- $args := list "version-check" "--mtc-version" .Chart.AppVersion "--platform" $v.platform "--role" $v.role "--release" .Release.Name -}}
{{- if include "mtc.lib.remotes.versionCheck" . -}}
{{- $args = concat $args (list "--remotes-secret" "mtc-version-check-remotes") -}}
{{- end -}}
{{- if $h.allowUnsupported -}}{{- $args = append $args "--allow-unsupported" -}}{{- end -}}
{{- if $v.egressPolicies.namespaces -}}
{{- $egress := include "mtc.lib.policies.egressPlan" . | fromJson -}}
{{- $sdn := eq $egress.kind "EgressNetworkPolicy" -}}
{{- $args = concat $args (list "--egress-kind" $egress.kind) -}}
{{- with $egress.create -}}
{{- $args = concat $args (list "--egress-namespaces" (join "," .) "--egress-name" (ternary $v.egressPolicies.name "default" $sdn)) -}}
{{- end -}}
{{- with $egress.merge -}}
{{- $args = concat $args (list "--egress-merge" (include "mtc.lib.policies.egressTargets" .) "--egress-rules" (include "mtc.lib.policies.egressPeerRules" $)) -}}
{{- end -}}
{{- end -}}
{{- $args = concat $args (list "--timeout" (printf "%ds" $timeout)) -}}
{{- if include "mtc.lib.hookVersionCheck.storageCheck" . -}}
{{- $args = concat (include "mtc.lib.hookVersionCheck.storageCheckArgs" . | fromJsonArray) (list "--namespace" .Release.Namespace "--and") $args -}}
{{- $timeout = add $timeout (int $v.hooks.storageCheck.timeoutSeconds) -}}
{{- end -}}
{{- if include "mtc.lib.hookVersionCheck.pullTest" . -}}
{{- $args = concat $args (list "--namespace" .Release.Namespace "--and") (include "mtc.lib.hookPullTest.args" . | fromJsonArray) -}}
{{- $timeout = add $timeout (int $v.hooks.pullTest.timeoutSeconds) -}}
{{- end -}}
{{- include "mtc.lib.hooks.rbac" (dict "context" . "name" "version-check" "events" $events "rules" "hookVersionCheck") }}
---
apiVersion: batch/v1
kind: Job
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "mtc-hook-version-check" "component" "hook-version-check" "annotations" (include "mtc.lib.hooks.annotations" (dict "events" $events "weight" 0 "logPolicy" $v.hooks.outputLogPolicy) | fromYaml)) }}
spec:
  backoffLimit: {{ $h.backoffLimit }}
  activeDeadlineSeconds: {{ add $timeout 30 }}
  {{- include "mtc.lib.hooks.podFailurePolicy" (dict "context" . "container" "version-check") }}
  template:
    {{- include "mtc.lib.hooks.podTemplate" (dict "context" . "name" "version-check" "args" $args) | nindent 4 }}
{{- end }}
{{- end }}

{{/*
mtc.lib.hookVersionCheck.storageCheckArgs: the storage-check command line: the bucket and the credentials
the MigStorage will use, the CA bundle and the proxy MTC's components get (values, else the cluster-wide
Proxy the hook reads itself), and the endpoint overrides of hooks.storageCheck.endpoints.
*/}}
{{- define "mtc.lib.hookVersionCheck.storageCheckArgs" -}}
{{- $v := .Values -}}
{{- $r := $v.replicationRepository -}}
{{- $e := $v.hooks.storageCheck.endpoints -}}
{{- $args := list "storage-check" "--provider" $r.provider -}}
{{- if eq $r.provider "azure" -}}
{{- $args = concat $args (list "--azure-resource-group" $r.azure.resourceGroup "--azure-storage-account" $r.azure.storageAccount "--azure-container" $r.azure.storageContainer) -}}
{{- with $e.azureBlob -}}{{- $args = concat $args (list "--endpoint" .) -}}{{- end -}}
{{- with $e.azureAuthorityHost -}}{{- $args = concat $args (list "--azure-authority-host" .) -}}{{- end -}}
{{- with $e.azureResourceManager -}}{{- $args = concat $args (list "--azure-resource-manager" .) -}}{{- end -}}
{{- else -}}
{{- $args = concat $args (list "--bucket" $r.bucket) -}}
{{- if eq $r.provider "gcp" -}}
{{- with $e.gcs -}}{{- $args = concat $args (list "--endpoint" .) -}}{{- end -}}
{{- else -}}
{{- with $r.region -}}{{- $args = concat $args (list "--region" .) -}}{{- end -}}
{{- with $r.endpoint -}}{{- $args = concat $args (list "--endpoint" .) -}}{{- end -}}
{{- /* as the MigStorage: path style and insecure for s3 and mcg, and for aws with an endpoint */ -}}
{{- if or (ne $r.provider "aws") $r.endpoint -}}
{{- if $r.forcePathStyle -}}{{- $args = append $args "--force-path-style" -}}{{- end -}}
{{- if $r.insecure -}}{{- $args = append $args "--insecure" -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if include "mtc.lib.storage.mcgDiscover" . -}}
{{- $args = append $args "--mcg-discover" -}}
{{- else -}}
{{- $args = concat $args (list "--credentials-secret" ($r.existingSecret | default (include "mtc.lib.storage.hookSecretName" .))) -}}
{{- end -}}
{{- if $r.caBundle -}}{{- $args = concat $args (list "--ca-bundle-secret" (include "mtc.lib.storage.hookSecretName" .)) -}}{{- end -}}
{{- $p := $v.migrationController.proxy -}}
{{- if or $p.httpProxy $p.httpsProxy -}}
{{- with $p.httpProxy -}}{{- $args = concat $args (list "--http-proxy" .) -}}{{- end -}}
{{- with $p.httpsProxy -}}{{- $args = concat $args (list "--https-proxy" .) -}}{{- end -}}
{{- with $p.noProxy -}}{{- $args = concat $args (list "--no-proxy" .) -}}{{- end -}}
{{- end -}}
{{- concat $args (list "--timeout" (printf "%ds" (int $v.hooks.storageCheck.timeoutSeconds))) | toJson -}}
{{- end }}

{{/* version-check: reads the platform (ClusterVersion), the MTC already installed (Subscriptions in every
namespace, the CSV, a legacy Deployment, the MigrationController's spec.version) and the remotes' tokens.
Discovery (/version, /apis) needs no rule. Code: hooks/version (see hooks/README.md). */}}
{{- define "mtc.lib.hookVersionCheck.rules.cluster" -}}
- apiGroups: ["config.openshift.io"]
  resources: ["clusterversions"]
  verbs: ["get"]
- apiGroups: ["operators.coreos.com"]
  resources: ["subscriptions"]
  verbs: ["list"]
{{- if .Values.egressPolicies.namespaces }}
{{- if eq (include "mtc.lib.platform.networkType" .) "OpenShiftSDN" }}
- apiGroups: ["network.openshift.io"]
  resources: ["egressnetworkpolicies"]
  verbs: ["list"]
{{- else }}
- apiGroups: ["k8s.ovn.org"]
  resources: ["egressfirewalls"]
  verbs: ["list"]
{{- end }}
{{- end }}
{{- if include "mtc.lib.hookVersionCheck.storageCheck" . }}
{{ include "mtc.lib.hookVersionCheck.storageCheckRules.cluster" . | trim }}
{{- end }}
{{- end }}

{{- define "mtc.lib.hookVersionCheck.rules.namespace" -}}
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
    {{- include "mtc.lib.remotes.versionCheckSecretNames" . | nindent 4 }}
  verbs: ["get"]
{{- if include "mtc.lib.hookVersionCheck.storageCheck" . }}
{{ include "mtc.lib.hookVersionCheck.storageCheckRules.namespace" . | trim }}
{{- end }}
{{- if include "mtc.lib.hookVersionCheck.pullTest" . }}
{{ include "mtc.lib.hookPullTest.rules.namespace" . | trim }}
{{- end }}
{{- end }}

{{/* storage-check (in the version-check Job, after it): reads the credentials Secret (existingSecret or the hook's own copy) and the CA bundle,
deletes the hook's own copy once read, and reads the cluster-wide Proxy. Code: hooks/storage. */}}
{{- define "mtc.lib.hookVersionCheck.storageCheckRules.cluster" -}}
- apiGroups: ["config.openshift.io"]
  resources: ["proxies"]
  resourceNames: ["cluster"]
  verbs: ["get"]
{{- include "mtc.lib.storage.mcgDiscoverRules" . }}
{{- end }}

{{- define "mtc.lib.hookVersionCheck.storageCheckRules.namespace" -}}
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
