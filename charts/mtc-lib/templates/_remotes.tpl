{{/*
Remote clusters: on a control cluster a MigCluster per remote (rendered into mtc-configure) with a token
Secret, and the hook Secret mtc-version-check-remotes; on a remote cluster the migration-controller
ServiceAccount and its token Secret.
*/}}

{{/*
mtc.lib.remoteSecretName: the Secret holding a remote's saToken: existingSecret, else mtc-remote-<name>.
Usage: {{ include "mtc.lib.remoteSecretName" (dict "name" $name "remote" $remote) }}
*/}}
{{- define "mtc.lib.remoteSecretName" -}}
{{- .remote.existingSecret | default (printf "mtc-remote-%s" .name) -}}
{{- end }}

{{/*
mtc.lib.versionCheckRemotes: "true" when the control cluster lists remotes for the version check.
*/}}
{{- define "mtc.lib.versionCheckRemotes" -}}
{{- if and (eq .Values.role "control") .Values.remoteClusters -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.versionCheckSecretNames: the Secrets version-check may read, a YAML list: its remotes Secret and
the existingSecret of each remote (remotes.yaml refers to them instead of copying the token).
*/}}
{{- define "mtc.lib.versionCheckSecretNames" -}}
{{- $names := list "mtc-version-check-remotes" -}}
{{- if include "mtc.lib.versionCheckRemotes" . -}}
{{- range $name, $remote := .Values.remoteClusters -}}
{{- with $remote.existingSecret -}}{{- $names = append $names . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $names | uniq | toYaml -}}
{{- end }}

{{/*
mtc.lib.remote.secrets: one Secret with key saToken per remote cluster that gives a token (control cluster).
*/}}
{{- define "mtc.lib.remote.secrets" -}}
{{- $ctx := . -}}
{{- if eq .Values.role "control" -}}
{{- range $name, $remote := .Values.remoteClusters }}
{{- if not $remote.existingSecret }}
---
apiVersion: v1
kind: Secret
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" (include "mtc.lib.remoteSecretName" (dict "name" $name "remote" $remote)) "component" "remote-cluster") }}
type: Opaque
data:
  saToken: {{ $remote.token | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.remote.migClusters: the MigCluster objects of the remotes, for objects.yaml of mtc-configure.
*/}}
{{- define "mtc.lib.remote.migClusters" -}}
{{- $ctx := . -}}
{{- range $name, $remote := .Values.remoteClusters }}
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigCluster
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" $name "component" "remote-cluster") }}
spec:
  isHostCluster: false
  url: {{ $remote.url | quote }}
  serviceAccountSecretRef:
    name: {{ include "mtc.lib.remoteSecretName" (dict "name" $name "remote" $remote) }}
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
mtc.lib.remote.versionCheckSecret: hook Secret mtc-version-check-remotes (key remotes.yaml) that tells the
version-check hook how to reach each remote cluster; gone once the phase ends.
*/}}
{{- define "mtc.lib.remote.versionCheckSecret" -}}
{{- $ctx := . -}}
{{- if and .Values.hooks.versionCheck.enabled (include "mtc.lib.versionCheckRemotes" .) -}}
{{- $spec := include "mtc.lib.hookSpec" (dict "context" $ctx "hook" "versionCheck") | fromJson -}}
{{- $annotations := fromYaml (include "mtc.lib.hookAnnotations" (dict "spec" $spec "weight" -10 "deletePolicy" "before-hook-creation,hook-succeeded,hook-failed")) -}}
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
{{ include "mtc.lib.metadata" (dict "context" $ctx "name" "mtc-version-check-remotes" "component" "hook-version-check" "annotations" $annotations) }}
type: Opaque
data:
  remotes.yaml: {{ toYaml $remotes | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
mtc.lib.remoteToken.serviceAccount and mtc.lib.remoteToken.secret: on a remote cluster, the ServiceAccount
migration-controller and a token Secret for it. The chart creates the ServiceAccount itself because the
token controller deletes a token Secret whose ServiceAccount does not exist yet, and the operator creates
its own only after the install; the operator (OLM or legacy) adopts the existing ServiceAccount.
*/}}
{{- define "mtc.lib.remoteToken.enabled" -}}
{{- if and (eq .Values.role "remote") .Values.remoteToken.create -}}true{{- end -}}
{{- end }}

{{- define "mtc.lib.remoteToken.serviceAccount" -}}
{{- if include "mtc.lib.remoteToken.enabled" . -}}
apiVersion: v1
kind: ServiceAccount
{{ include "mtc.lib.metadata" (dict "context" . "name" "migration-controller" "component" "remote-token") }}
{{- end }}
{{- end }}

{{- define "mtc.lib.remoteToken.secret" -}}
{{- if include "mtc.lib.remoteToken.enabled" . -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.metadata" (dict "context" . "name" .Values.remoteToken.secretName "component" "remote-token" "annotations" (dict "kubernetes.io/service-account.name" "migration-controller")) }}
type: kubernetes.io/service-account-token
{{- end }}
{{- end }}
