{{/*
Remote clusters: on a control cluster a MigCluster per remote (rendered into mtc-configure) with a token
Secret, and the hook Secret mtc-version-check-remotes; on a remote cluster the migration-controller
ServiceAccount and its token Secret.
*/}}

{{/*
mtc.lib.remotes.secretName: the Secret holding a remote's saToken: existingSecret, else mtc-remote-<name>.
Usage: {{ include "mtc.lib.remotes.secretName" (dict "name" $name "remote" $remote) }}
*/}}
{{- define "mtc.lib.remotes.secretName" -}}
{{- .remote.existingSecret | default (printf "mtc-remote-%s" .name) -}}
{{- end }}

{{/*
mtc.lib.remotes.versionCheck: "true" when the control cluster lists remotes for the version check.
*/}}
{{- define "mtc.lib.remotes.versionCheck" -}}
{{- if and (eq .Values.role "control") .Values.remoteClusters -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.remotes.versionCheckSecretNames: the Secrets version-check may read, a YAML list: its remotes Secret and
the existingSecret of each remote (remotes.yaml refers to them instead of copying the token).
*/}}
{{- define "mtc.lib.remotes.versionCheckSecretNames" -}}
{{- $names := list "mtc-version-check-remotes" -}}
{{- if include "mtc.lib.remotes.versionCheck" . -}}
{{- range $name, $remote := .Values.remoteClusters -}}
{{- with $remote.existingSecret -}}{{- $names = append $names . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $names | uniq | toYaml -}}
{{- end }}

{{/*
mtc.lib.remotes.secrets: one Secret with key saToken per remote cluster that gives a token (control cluster).
*/}}
{{- define "mtc.lib.remotes.secrets" -}}
{{- $ctx := . -}}
{{- if eq .Values.role "control" -}}
{{- range $name, $remote := .Values.remoteClusters }}
{{- if not $remote.existingSecret }}
---
apiVersion: v1
kind: Secret
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" (include "mtc.lib.remotes.secretName" (dict "name" $name "remote" $remote)) "component" "remote-cluster") }}
type: Opaque
data:
  saToken: {{ $remote.token | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.remotes.migClusters: the MigCluster objects of the remotes, for objects.yaml of mtc-configure.
*/}}
{{- define "mtc.lib.remotes.migClusters" -}}
{{- $ctx := . -}}
{{- range $name, $remote := .Values.remoteClusters }}
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigCluster
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" $name "component" "remote-cluster") }}
spec:
  isHostCluster: false
  url: {{ $remote.url | quote }}
  serviceAccountSecretRef:
    name: {{ include "mtc.lib.remotes.secretName" (dict "name" $name "remote" $remote) }}
    namespace: {{ $ctx.Release.Namespace }}
  insecure: {{ $remote.insecure | default false }}
  {{- with $remote.caBundle }}
  caBundle: {{ . | b64enc | quote }}
  {{- end }}
  {{- with $remote.azureResourceGroup }}
  azureResourceGroup: {{ . | quote }}
  {{- end }}
  {{- with $remote.exposedRegistryPath }}
  exposedRegistryPath: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.remotes.versionCheckSecret: hook Secret mtc-version-check-remotes (key remotes.yaml) that tells the
version-check hook how to reach each remote cluster; gone once the phase ends.
*/}}
{{- define "mtc.lib.remotes.versionCheckSecret" -}}
{{- $ctx := . -}}
{{- if and .Values.hooks.versionCheck.enabled (include "mtc.lib.remotes.versionCheck" .) -}}
{{- $annotations := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" (include "mtc.lib.hookVersionCheck.events" $ctx) "weight" -10 "deletePolicy" "before-hook-creation,hook-succeeded,hook-failed")) -}}
{{- $remotes := list -}}
{{- range $name, $remote := .Values.remoteClusters -}}
{{- $entry := dict "name" $name "url" $remote.url "caBundle" ($remote.caBundle | default "") -}}
{{- if $remote.insecure -}}{{- $_ := set $entry "insecure" true -}}{{- end -}}
{{- if $remote.existingSecret -}}
{{- $_ := set $entry "secretRef" (dict "name" $remote.existingSecret "key" "saToken") -}}
{{- else -}}
{{- $_ := set $entry "token" $remote.token -}}
{{- end -}}
{{- $remotes = append $remotes $entry -}}
{{- end -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" "mtc-version-check-remotes" "component" "hook-version-check" "annotations" $annotations) }}
type: Opaque
data:
  remotes.yaml: {{ toYaml $remotes | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
mtc.lib.remotes.tokenServiceAccount and mtc.lib.remotes.tokenSecret: on a remote cluster, the ServiceAccount
migration-controller and a token Secret for it. The chart creates the ServiceAccount itself because the
token controller deletes a token Secret whose ServiceAccount does not exist yet, and the operator creates
its own only after the install; the operator (OLM or legacy) adopts the existing ServiceAccount.
*/}}
{{- define "mtc.lib.remotes.tokenEnabled" -}}
{{- if and (eq .Values.role "remote") .Values.remoteToken.create -}}true{{- end -}}
{{- end }}

{{- define "mtc.lib.remotes.tokenServiceAccount" -}}
{{- if include "mtc.lib.remotes.tokenEnabled" . -}}
apiVersion: v1
kind: ServiceAccount
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-controller" "component" "remote-token") }}
{{- end }}
{{- end }}

{{- define "mtc.lib.remotes.tokenSecret" -}}
{{- if include "mtc.lib.remotes.tokenEnabled" . -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" .Values.remoteToken.secretName "component" "remote-token" "annotations" (dict "kubernetes.io/service-account.name" "migration-controller")) }}
type: kubernetes.io/service-account-token
{{- end }}
{{- end }}
