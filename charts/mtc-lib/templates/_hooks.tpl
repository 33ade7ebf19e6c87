{{/*
Hook Jobs and their RBAC. Every hook is described once in mtc.lib.hookSpec; the other templates read it.
A hook's ServiceAccount, Role, ClusterRole and bindings are hooks of the same events with lower weights,
so they exist before its Job runs; all of them are deleted when the phase succeeds and replaced on the
next run (before-hook-creation), a failed Job stays for inspection.
*/}}

{{/*
mtc.lib.hookSpec: name, events, Job weight and values of one hook, as JSON.
Usage: {{ $spec := include "mtc.lib.hookSpec" (dict "context" $ "hook" "versionCheck") | fromJson }}
*/}}
{{- define "mtc.lib.hookSpec" -}}
{{- $hooks := dict
  "versionCheck" (dict "name" "version-check" "events" "pre-install,pre-upgrade,pre-rollback" "weight" 0)
  "storageCheck" (dict "name" "storage-check" "events" "pre-install,pre-upgrade,pre-rollback" "weight" 0)
  "pullTest" (dict "name" "pull-test" "events" "pre-install,pre-upgrade,pre-rollback" "weight" 10)
  "configure" (dict "name" "configure" "events" "post-install,post-upgrade,post-rollback" "weight" 0)
  "cleanup" (dict "name" "cleanup" "events" "pre-delete,post-delete" "weight" 0)
  "test" (dict "name" "test" "events" "test" "weight" 0 "rules" "verify")
-}}
{{- $spec := get $hooks .hook -}}
{{- if not $spec -}}{{- fail (printf "mtc.lib.hookSpec: unknown hook %q" .hook) -}}{{- end -}}
{{- $_ := set $spec "rules" ($spec.rules | default .hook) -}}
{{- $_ := set $spec "resourceName" (printf "mtc-hook-%s" $spec.name) -}}
{{- toJson $spec -}}
{{- end }}

{{/*
mtc.lib.hookEnabled: "true" when the hook is switched on (hooks.<hook>.enabled; tests.enabled for the test pod;
the storage check only where the chart renders a replication repository).
*/}}
{{- define "mtc.lib.hookEnabled" -}}
{{- if eq .hook "test" -}}
{{- if .context.Values.tests.enabled -}}true{{- end -}}
{{- else if eq .hook "storageCheck" -}}
{{- if and .context.Values.hooks.storageCheck.enabled (include "mtc.lib.storage.enabled" .context) -}}true{{- end -}}
{{- else if (get .context.Values.hooks .hook).enabled -}}
true
{{- end -}}
{{- end }}

{{/*
mtc.lib.hookAnnotations: the helm.sh/hook annotations of a hook object.
Usage: {{ include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" -20 "deletePolicy" "before-hook-creation,hook-succeeded") }}
*/}}
{{- define "mtc.lib.hookAnnotations" -}}
{{- $a := dict "helm.sh/hook" .spec.events "helm.sh/hook-weight" (toString .weight) "helm.sh/hook-delete-policy" (.deletePolicy | default "before-hook-creation,hook-succeeded") -}}
{{- with .logPolicy -}}{{- $_ := set $a "helm.sh/hook-output-log-policy" . -}}{{- end -}}
{{- toYaml $a -}}
{{- end }}

{{/*
mtc.lib.hook.rbac: ServiceAccount, Role and RoleBinding, ClusterRole and ClusterRoleBinding of a hook.
Usage: {{ include "mtc.lib.hook.rbac" (dict "context" $ "hook" "cleanup") }}
*/}}
{{- define "mtc.lib.hook.rbac" -}}
{{- $ctx := .context -}}
{{- if include "mtc.lib.hookEnabled" . -}}
{{- $spec := include "mtc.lib.hookSpec" . | fromJson -}}
{{- $name := $spec.resourceName -}}
{{- $component := printf "hook-%s" $spec.name -}}
{{- $early := fromYaml (include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" -30)) -}}
{{- $late := fromYaml (include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" -20)) }}
apiVersion: v1
kind: ServiceAccount
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $name "component" $component "annotations" $early) }}
{{- range $scope := list "namespace" "cluster" }}
{{- $rules := include "mtc.lib.hookRules" (dict "context" $ctx "hook" $spec.rules "scope" $scope) }}
{{- if $rules }}
{{- $kind := ternary "Role" "ClusterRole" (eq $scope "namespace") }}
{{- $roleName := ternary $name (printf "%s-%s" $ctx.Release.Namespace $name) (eq $scope "namespace") }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}
{{- if eq $scope "namespace" }}
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $roleName "component" $component "annotations" $early) }}
{{- else }}
{{ include "mtc.lib.clusterMetadata" (dict "context" $ctx "name" $roleName "component" $component "annotations" $early) }}
{{- end }}
rules:
{{- $rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}Binding
{{- if eq $scope "namespace" }}
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $roleName "component" $component "annotations" $late) }}
{{- else }}
{{ include "mtc.lib.clusterMetadata" (dict "context" $ctx "name" $roleName "component" $component "annotations" $late) }}
{{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ $kind }}
  name: {{ $roleName }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $ctx.Release.Namespace }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.hook.args: the mtc-hooks command line of a hook, as a JSON list (see the hook CLI contract).
*/}}
{{- define "mtc.lib.hook.args" -}}
{{- $ctx := .context -}}
{{- $v := $ctx.Values -}}
{{- $ns := $ctx.Release.Namespace -}}
{{- $args := list -}}
{{- if eq .hook "versionCheck" -}}
{{- $args = list "version-check" "--mtc-version" $ctx.Chart.AppVersion "--platform" $v.platform "--role" $v.role "--release" $ctx.Release.Name -}}
{{- if include "mtc.lib.versionCheckRemotes" $ctx -}}
{{- $args = concat $args (list "--remotes-secret" "mtc-version-check-remotes") -}}
{{- end -}}
{{- if $v.hooks.versionCheck.allowUnsupported -}}{{- $args = append $args "--allow-unsupported" -}}{{- end -}}
{{- with $v.egressPolicies.namespaces -}}
{{- $sdn := eq (include "mtc.lib.networkType" $ctx) "OpenShiftSDN" -}}
{{- $args = concat $args (list "--egress-namespaces" (join "," .) "--egress-kind" (ternary "EgressNetworkPolicy" "EgressFirewall" $sdn) "--egress-name" (ternary $v.egressPolicies.name "default" $sdn)) -}}
{{- end -}}
{{- $args = concat $args (list "--timeout" (printf "%ds" (int $v.hooks.versionCheck.timeoutSeconds))) -}}
{{- /* The storage check runs in the same Job, before the version check: a Job of its own would cost
       Helm a second or two, the check a fraction of one; first, so that it has consumed (and deleted)
       the hook's copy of the credentials whatever the version check decides. */ -}}
{{- if include "mtc.lib.hookEnabled" (dict "context" $ctx "hook" "storageCheck") -}}
{{- $args = concat (include "mtc.lib.hook.storageCheckArgs" $ctx | fromJsonArray) (list "--namespace" $ns "--and") $args -}}
{{- end -}}
{{- else if eq .hook "pullTest" -}}
{{- $image := include "mtc.lib.image" (dict "context" $ctx "image" $v.hooks.pullTest.image "defaultTag" "latest") -}}
{{- $args = list "pull-test" "--image" $image -}}
{{- range (include "mtc.lib.pullSecretNames" (dict "context" $ctx "extra" $v.hooks.pullTest.pullSecrets) | fromJsonArray) -}}
{{- $args = concat $args (list "--pull-secret" .) -}}
{{- end -}}
{{- $args = concat $args (list "--timeout" (printf "%ds" (int $v.hooks.pullTest.timeoutSeconds))) -}}
{{- else if eq .hook "configure" -}}
{{- $args = list "configure" "--configmap" "mtc-configure" "--timeout" (printf "%ds" (int $v.hooks.configure.timeoutSeconds)) -}}
{{- else if eq .hook "cleanup" -}}
{{- $args = list "cleanup" "--phase" .phase "--release" $ctx.Release.Name -}}
{{- if $v.hooks.cleanup.duringMigration -}}{{- $args = append $args "--during-migration" -}}{{- end -}}
{{- $args = concat $args (list "--timeout" (printf "%ds" (int $v.hooks.cleanup.timeoutSeconds))) -}}
{{- else if eq .hook "test" -}}
{{- $args = list "verify" "--configmap" "mtc-configure" "--timeout" (printf "%ds" (int $v.tests.timeoutSeconds)) -}}
{{- end -}}
{{- concat $args (list "--namespace" $ns) | toJson -}}
{{- end }}

{{/*
mtc.lib.hook.storageCheckArgs: the storage-check command line (run by the version-check Job, before "--and"): the bucket and the credentials the
MigStorage will use, the CA bundle and the proxy MTC's components get (values, else the cluster-wide Proxy
the hook reads itself), and the endpoint overrides of hooks.storageCheck.endpoints.
*/}}
{{- define "mtc.lib.hook.storageCheckArgs" -}}
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

{{/*
mtc.lib.hook.settings: timeoutSeconds and backoffLimit of a hook from values, as JSON.
*/}}
{{- define "mtc.lib.hook.settings" -}}
{{- if eq .hook "test" -}}
{{- dict "timeoutSeconds" .context.Values.tests.timeoutSeconds "backoffLimit" 0 | toJson -}}
{{- else if and (eq .hook "versionCheck") (include "mtc.lib.hookEnabled" (dict "context" .context "hook" "storageCheck")) -}}
{{- $s := deepCopy .context.Values.hooks.versionCheck -}}
{{- $_ := set $s "timeoutSeconds" (add (int $s.timeoutSeconds) (int .context.Values.hooks.storageCheck.timeoutSeconds)) -}}
{{- toJson $s -}}
{{- else -}}
{{- get .context.Values.hooks .hook | toJson -}}
{{- end -}}
{{- end }}

{{/*
mtc.lib.hook.podSpec: the pod spec of a hook Job or of the test pod.
*/}}
{{- define "mtc.lib.hook.podSpec" -}}
{{- $ctx := .context -}}
{{- $h := $ctx.Values.hooks -}}
{{- $spec := include "mtc.lib.hookSpec" . | fromJson -}}
serviceAccountName: {{ $spec.resourceName }}
automountServiceAccountToken: true
restartPolicy: Never
{{- include "mtc.lib.podSecurityContext" $ctx | nindent 0 }}
{{- with include "mtc.lib.imagePullSecrets" (dict "context" $ctx) }}
{{ . }}
{{- end }}
{{- with $h.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $h.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: {{ $spec.name }}
    image: {{ include "mtc.lib.image" (dict "context" $ctx "image" $h.image "defaultTag" $ctx.Chart.Version) }}
    imagePullPolicy: {{ $h.image.pullPolicy }}
    args:
      {{- include "mtc.lib.hook.args" . | fromJsonArray | toYaml | nindent 6 }}
    {{- with $h.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- include "mtc.lib.containerSecurityContext" $ctx | nindent 4 }}
{{- end }}

{{/*
mtc.lib.hook.job: the Job of a hook, switched off by hooks.<hook>.enabled. The cleanup hook has a Job per
phase: "phase" pre-delete removes the migration records and the MigrationController while the operator
still runs (and refuses, keeping the release, while a migration runs); post-delete removes the operator's
leftovers, the CRDs and the cluster-scoped objects once Helm has deleted the release's own objects.
Usage: {{ include "mtc.lib.hook.job" (dict "context" $ "hook" "versionCheck") }}
       {{ include "mtc.lib.hook.job" (dict "context" $ "hook" "cleanup" "phase" "post-delete") }}
*/}}
{{- define "mtc.lib.hook.job" -}}
{{- $ctx := .context -}}
{{- if include "mtc.lib.hookEnabled" . -}}
{{- $spec := include "mtc.lib.hookSpec" . | fromJson -}}
{{- with .phase -}}
{{- $_ := set $spec "events" . -}}
{{- if ne . "pre-delete" -}}{{- $_ := set $spec "resourceName" (printf "%s-%s" $spec.resourceName .) -}}{{- end -}}
{{- end -}}
{{- $settings := include "mtc.lib.hook.settings" . | fromJson -}}
{{- $component := printf "hook-%s" $spec.name -}}
{{- $annotations := fromYaml (include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" $spec.weight "logPolicy" $ctx.Values.hooks.outputLogPolicy)) -}}
apiVersion: batch/v1
kind: Job
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $spec.resourceName "component" $component "annotations" $annotations) }}
spec:
  backoffLimit: {{ $settings.backoffLimit }}
  {{- /* The hook ends itself at its timeout (exit 124); the deadline, 30 s later, covers scheduling and the
  image pull, so that the Job ends within Helm's --timeout when timeoutSeconds + 30 fits in it. A retry after
  a pod disruption gets what is left, never a second deadline. */}}
  activeDeadlineSeconds: {{ add (int $settings.timeoutSeconds) 30 }}
  {{- if semverCompare ">=1.26.0-0" $ctx.Capabilities.KubeVersion.Version }}
  {{- /* A refusal (1), a usage error (2) or a timeout (124) is the hook's answer: retrying it would only
  repeat it after Helm has reported the failure. Only a pod that did not get to answer is retried. */}}
  podFailurePolicy:
    rules:
      - action: FailJob
        onExitCodes:
          containerName: {{ $spec.name }}
          operator: In
          values: [1, 2, 124]
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "mtc.lib.labels" (dict "context" $ctx "component" $component) | nindent 8 }}
      annotations:
        sidecar.istio.io/inject: "false"
    spec:
      {{- include "mtc.lib.hook.podSpec" . | nindent 6 }}
{{- end }}
{{- end }}

{{/*
mtc.lib.test.pod: the helm test pod. It runs the verify action: the operator is installed and running, the
MigrationController is reconciled, and the controller, web console and log reader it asks for (controller
and web console on a control cluster) have available Deployments.
*/}}
{{- define "mtc.lib.test.pod" -}}
{{- $ctx := . -}}
{{- if .Values.tests.enabled -}}
{{- $spec := include "mtc.lib.hookSpec" (dict "context" $ctx "hook" "test") | fromJson -}}
{{- $annotations := fromYaml (include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" 0 "logPolicy" $ctx.Values.hooks.outputLogPolicy)) -}}
{{- $_ := set $annotations "sidecar.istio.io/inject" "false" -}}
apiVersion: v1
kind: Pod
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $spec.resourceName "component" "test" "annotations" $annotations) }}
spec:
  {{- include "mtc.lib.hook.podSpec" (dict "context" $ctx "hook" "test") | nindent 2 }}
{{- end }}
{{- end }}
