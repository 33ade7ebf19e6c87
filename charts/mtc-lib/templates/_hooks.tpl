{{/*
What every hook Job shares. Each hook has a file of its own, _hook-<name>.tpl, that writes out its Job
(name, events, weight, deadline, command line) and lists its RBAC rules; this file holds only the pieces
they share: the hook annotations, the ServiceAccount with its Role and ClusterRole, the pod failure
policy and the pod template. A hook's ServiceAccount, roles and bindings are hooks of the same events with
lower weights, so they exist before its Job runs; all of them are deleted when the phase succeeds and
replaced on the next run (before-hook-creation), a failed Job stays for inspection.

Adding a hook: a new _hook-<name>.tpl (its Job, rules and RBAC, like _hook-configure.tpl), its name in
mtc.lib.hooks.names below, and its block in charts/shared/values.yaml and values.schema.json.
*/}}

{{/*
mtc.lib.hooks.names: the hook files the versioned charts render (templates/hooks.yaml), as the
suffix of their helper: mtc.lib.<name> renders that hook's RBAC and Job(s). The helm test pod has its
own file, _hook-test.tpl, rendered from templates/tests/.
*/}}
{{- define "mtc.lib.hooks.names" -}}
["hookVersionCheck", "hookPullTest", "hookConfigure", "hookCleanup"]
{{- end }}

{{/*
mtc.lib.hooks.all: every hook of mtc.lib.hooks.names, each one's documents after the other's.
*/}}
{{- define "mtc.lib.hooks.all" -}}
{{- $ctx := . -}}
{{- range (include "mtc.lib.hooks.names" . | fromJsonArray) }}
{{- with include (printf "mtc.lib.%s" .) $ctx | trim }}
---
{{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.hooks.annotations: the helm.sh/hook annotations of a hook object, as YAML.
Usage: {{ include "mtc.lib.hooks.annotations" (dict "events" "pre-install" "weight" -20 "deletePolicy" "before-hook-creation,hook-succeeded") }}
"logPolicy" adds helm.sh/hook-output-log-policy (hooks.outputLogPolicy).
*/}}
{{- define "mtc.lib.hooks.annotations" -}}
{{- $a := dict "helm.sh/hook" .events "helm.sh/hook-weight" (toString .weight) "helm.sh/hook-delete-policy" (.deletePolicy | default "before-hook-creation,hook-succeeded") -}}
{{- with .logPolicy -}}{{- $_ := set $a "helm.sh/hook-output-log-policy" . -}}{{- end -}}
{{- toYaml $a -}}
{{- end }}

{{/*
mtc.lib.hooks.rbac: ServiceAccount mtc-hook-<name>, Role and RoleBinding, ClusterRole and ClusterRoleBinding
of a hook, from the hook's rules mtc.lib.<rules>.rules.namespace and .rules.cluster (an empty list renders no
role of that scope).
Usage: {{ include "mtc.lib.hooks.rbac" (dict "context" $ "name" "configure" "events" $events "rules" "hookConfigure") }}
*/}}
{{- define "mtc.lib.hooks.rbac" -}}
{{- $ctx := .context -}}
{{- $name := printf "mtc-hook-%s" .name -}}
{{- $component := printf "hook-%s" .name -}}
{{- $early := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" .events "weight" -30)) -}}
{{- $late := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" .events "weight" -20)) -}}
{{- $rulesOf := .rules }}
apiVersion: v1
kind: ServiceAccount
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" $name "component" $component "annotations" $early) }}
{{- range $scope := list "namespace" "cluster" }}
{{- $rules := include (printf "mtc.lib.%s.rules.%s" $rulesOf $scope) $ctx }}
{{- if $rules }}
{{- $kind := ternary "Role" "ClusterRole" (eq $scope "namespace") }}
{{- $roleName := ternary $name (printf "%s-%s" $ctx.Release.Namespace $name) (eq $scope "namespace") }}
{{- $metadata := ternary "mtc.lib.labels.metadata" "mtc.lib.labels.clusterMetadata" (eq $scope "namespace") }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}
{{ include $metadata (dict "context" $ctx "name" $roleName "component" $component "annotations" $early) }}
rules:
{{- $rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}Binding
{{ include $metadata (dict "context" $ctx "name" $roleName "component" $component "annotations" $late) }}
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

{{/*
mtc.lib.hooks.podFailurePolicy: a refusal (1), a usage error (2) or a timeout (124) is the hook's answer:
retrying it would only repeat it after Helm has reported the failure. Only a pod that did not get to answer
is retried. Kubernetes 1.26 and later; nothing before. It renders indented for a Job's spec.
Usage: {{- include "mtc.lib.hooks.podFailurePolicy" (dict "context" $ "container" "configure") }}
*/}}
{{- define "mtc.lib.hooks.podFailurePolicy" -}}
{{- if semverCompare ">=1.26.0-0" .context.Capabilities.KubeVersion.Version }}
  podFailurePolicy:
    rules:
      - action: FailJob
        onExitCodes:
          containerName: {{ .container }}
          operator: In
          values: [1, 2, 124]
{{- end }}
{{- end }}

{{/*
mtc.lib.hooks.podTemplate: the pod template of a hook Job: container <name> of the hooks image running
mtc-hooks <args> --namespace <release namespace>, as ServiceAccount mtc-hook-<name>, with the pod
security, pull secrets, node selector, tolerations and resources of values hooks.*.
Usage: {{ include "mtc.lib.hooks.podTemplate" (dict "context" $ "name" "configure" "args" (list "configure")) }}
*/}}
{{- define "mtc.lib.hooks.podTemplate" -}}
metadata:
  labels:
    {{- include "mtc.lib.labels" (dict "context" .context "component" (printf "hook-%s" .name)) | nindent 4 }}
  annotations:
    sidecar.istio.io/inject: "false"
spec:
  {{- include "mtc.lib.hooks.podSpec" . | nindent 2 }}
{{- end }}

{{/*
mtc.lib.hooks.podSpec: the pod spec of a hook Job or of the test pod (see mtc.lib.hooks.podTemplate).
*/}}
{{- define "mtc.lib.hooks.podSpec" -}}
{{- $ctx := .context -}}
{{- $h := $ctx.Values.hooks -}}
serviceAccountName: mtc-hook-{{ .name }}
automountServiceAccountToken: true
restartPolicy: Never
{{- include "mtc.lib.security.pod" $ctx | nindent 0 }}
{{- with include "mtc.lib.images.pullSecrets" (dict "context" $ctx) }}
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
  - name: {{ .name }}
    image: {{ include "mtc.lib.images.image" (dict "context" $ctx "image" $h.image "defaultTag" $ctx.Chart.Version) }}
    imagePullPolicy: {{ $h.image.pullPolicy }}
    args:
      {{- concat .args (list "--namespace" $ctx.Release.Namespace) | toYaml | nindent 6 }}
    {{- with $h.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- include "mtc.lib.security.container" $ctx | nindent 4 }}
{{- end }}
