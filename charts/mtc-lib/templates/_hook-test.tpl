{{/*
The helm test pod (templates/tests/): it runs mtc-hooks verify, which checks that the operator is
installed and running, the MigrationController is reconciled, and the controller, web console and log
reader it asks for (controller and web console on a control cluster) have available Deployments.
Code: hooks/verify.
*/}}
{{- define "mtc.lib.hookTest.pod" -}}
{{- if .Values.tests.enabled -}}
{{- $annotations := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" "test" "weight" 0 "logPolicy" .Values.hooks.outputLogPolicy)) -}}
{{- $_ := set $annotations "sidecar.istio.io/inject" "false" -}}
apiVersion: v1
kind: Pod
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "mtc-hook-test" "component" "test" "annotations" $annotations) }}
spec:
  {{- include "mtc.lib.hooks.podSpec" (dict "context" . "name" "test" "args" (list "verify" "--configmap" "mtc-configure" "--timeout" (printf "%ds" (int .Values.tests.timeoutSeconds)))) | nindent 2 }}
{{- end }}
{{- end }}

{{/* mtc.lib.hookTest.rbac: the test pod's ServiceAccount and Role. */}}
{{- define "mtc.lib.hookTest.rbac" -}}
{{- if .Values.tests.enabled -}}
{{- include "mtc.lib.hooks.rbac" (dict "context" . "name" "test" "events" "test" "rules" "hookTest") }}
{{- end }}
{{- end }}

{{/* verify (the helm test pod): reads how the operator was installed (ConfigMap mtc-configure), the
Subscription and CSV, the MigrationController and the Deployments of its components. Code: hooks/verify. */}}
{{- define "mtc.lib.hookTest.rules.cluster" -}}
{{- end }}

{{- define "mtc.lib.hookTest.rules.namespace" -}}
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
