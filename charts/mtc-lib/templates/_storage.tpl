{{/*
The replication repository: a credentials Secret in the format MTC and Velero read per provider, and the
MigStorage that refers to it. mcg and s3 speak the S3 API, so their MigStorage uses provider aws.
*/}}

{{/*
mtc.lib.storage.enabled: "true" when the chart renders the replication repository.
*/}}
{{- define "mtc.lib.storage.enabled" -}}
{{- if and .Values.replicationRepository.enabled (eq .Values.role "control") -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.storage.mcgDiscover: "true" when provider mcg has neither credentials nor existingSecret: the hooks
then read the S3 endpoint (unless endpoint is set) and the admin keys from OpenShift Data Foundation's
NooBaa, as the MTC procedure tells a person to, and refuse in one sentence where it is not installed.
*/}}
{{- define "mtc.lib.storage.mcgDiscover" -}}
{{- $r := .Values.replicationRepository -}}
{{- if and (include "mtc.lib.storage.enabled" .) (eq $r.provider "mcg") (not $r.existingSecret) (not $r.credentials.accessKeyId) (not $r.credentials.secretAccessKey) -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.storage.secretName: the credentials Secret of the MigStorage.
*/}}
{{- define "mtc.lib.storage.secretName" -}}
{{- .Values.replicationRepository.existingSecret | default (printf "%s-credentials" .Values.replicationRepository.name) -}}
{{- end }}

{{/*
mtc.lib.storage.secretData: the data of the credentials Secret, in the keys MTC and Velero read per provider.
*/}}
{{- define "mtc.lib.storage.secretData" -}}
{{- $r := .Values.replicationRepository -}}
{{- $c := $r.credentials -}}
{{- if include "mtc.lib.storage.mcgDiscover" . }}
{}
{{- else if eq $r.provider "gcp" }}
gcp-credentials: {{ $c.gcpServiceAccountKey | b64enc | quote }}
{{- else if eq $r.provider "azure" }}
{{- $lines := list
  (printf "AZURE_SUBSCRIPTION_ID=%s" $c.azure.subscriptionId)
  (printf "AZURE_TENANT_ID=%s" $c.azure.tenantId)
  (printf "AZURE_CLIENT_ID=%s" $c.azure.clientId)
  (printf "AZURE_CLIENT_SECRET=%s" $c.azure.clientSecret)
  (printf "AZURE_RESOURCE_GROUP=%s" $r.azure.resourceGroup)
  (printf "AZURE_CLOUD_NAME=%s" $c.azure.cloudName) }}
azure-credentials: {{ printf "%s\n" (join "\n" $lines) | b64enc | quote }}
{{- else }}
aws-access-key-id: {{ $c.accessKeyId | b64enc | quote }}
aws-secret-access-key: {{ $c.secretAccessKey | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
mtc.lib.storage.secret: the credentials Secret, unless existingSecret names one.
*/}}
{{- define "mtc.lib.storage.secret" -}}
{{- $r := .Values.replicationRepository -}}
{{- if and (include "mtc.lib.storage.enabled" .) (not $r.existingSecret) -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" (include "mtc.lib.storage.secretName" .) "component" "replication-repository") }}
type: Opaque
{{- if include "mtc.lib.storage.mcgDiscover" . }}
# configure writes the Multicloud Object Gateway's admin keys here after the install
data: {}
{{- else }}
data:
{{- include "mtc.lib.storage.secretData" . | trim | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.storage.hookSecretName: the storage-check hook's own Secret: a copy of the credentials (without
existingSecret, since the release's Secret does not exist before the install) and the CA bundle. The hook
deletes it as soon as it has read it, whatever the check's outcome.
*/}}
{{- define "mtc.lib.storage.hookSecretName" -}}mtc-hook-storage-check{{- end }}

{{/*
mtc.lib.storage.hookSecretNeeded: "true" when the storage-check hook needs its own Secret.
*/}}
{{- define "mtc.lib.storage.hookSecretNeeded" -}}
{{- $r := .Values.replicationRepository -}}
{{- $copy := and (not $r.existingSecret) (not (include "mtc.lib.storage.mcgDiscover" .)) -}}
{{- if and (include "mtc.lib.hookVersionCheck.storageCheck" .) (or $copy $r.caBundle) -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.storage.hookSecret: that Secret, a hook of the storage check's events made before its Job.
*/}}
{{- define "mtc.lib.storage.hookSecret" -}}
{{- $r := .Values.replicationRepository -}}
{{- if include "mtc.lib.storage.hookSecretNeeded" . -}}
{{- $annotations := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" (include "mtc.lib.hookVersionCheck.events" .) "weight" -30 "deletePolicy" "before-hook-creation,hook-succeeded,hook-failed")) -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" (include "mtc.lib.storage.hookSecretName" .) "component" "hook-storage-check" "annotations" $annotations) }}
type: Opaque
data:
{{- if and (not $r.existingSecret) (not (include "mtc.lib.storage.mcgDiscover" .)) }}
{{- include "mtc.lib.storage.secretData" . | trim | nindent 2 }}
{{- end }}
{{- with $r.caBundle }}
  ca-bundle.pem: {{ b64enc . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.storage.migStorage: the MigStorage document of objects.yaml (with its leading separator), or nothing.
*/}}
{{- define "mtc.lib.storage.migStorage" -}}
{{- $r := .Values.replicationRepository -}}
{{- if include "mtc.lib.storage.enabled" . -}}
{{- $provider := ternary "aws" $r.provider (has $r.provider (list "mcg" "aws" "s3")) -}}
{{- $ref := dict "name" (include "mtc.lib.storage.secretName" .) "namespace" .Release.Namespace -}}
{{- $backup := dict "credsSecretRef" $ref -}}
{{- $snapshot := dict "credsSecretRef" $ref -}}
{{- if eq $provider "aws" -}}
{{- $region := $r.region | default "us-east-1" -}}
{{- $_ := set $backup "awsBucketName" $r.bucket -}}
{{- $_ := set $backup "awsRegion" $region -}}
{{- $_ := set $snapshot "awsRegion" $region -}}
{{- if or (ne $r.provider "aws") $r.endpoint -}}
{{- $_ := set $backup "awsS3Url" $r.endpoint -}}
{{- $_ := set $backup "awsS3ForcePathStyle" $r.forcePathStyle -}}
{{- $_ := set $backup "insecure" $r.insecure -}}
{{- with $r.caBundle -}}{{- $_ := set $backup "s3CustomCABundle" (b64enc .) -}}{{- end -}}
{{- end -}}
{{- with $r.aws.publicUrl -}}{{- $_ := set $backup "awsPublicUrl" . -}}{{- end -}}
{{- with $r.aws.kmsKeyId -}}{{- $_ := set $backup "awsKmsKeyId" . -}}{{- end -}}
{{- with $r.aws.signatureVersion -}}{{- $_ := set $backup "awsSignatureVersion" (toString .) -}}{{- end -}}
{{- else if eq $provider "gcp" -}}
{{- $_ := set $backup "gcpBucket" $r.bucket -}}
{{- else if eq $provider "azure" -}}
{{- $_ := set $backup "azureResourceGroup" $r.azure.resourceGroup -}}
{{- $_ := set $backup "azureStorageAccount" $r.azure.storageAccount -}}
{{- $_ := set $backup "azureStorageContainer" $r.azure.storageContainer -}}
{{- $_ := set $snapshot "azureResourceGroup" $r.azure.resourceGroup -}}
{{- end }}
{{- $vs := $r.volumeSnapshot -}}
{{- with $vs.snapshotCreationTimeout -}}{{- $_ := set $snapshot "snapshotCreationTimeout" . -}}{{- end -}}
{{- with $vs.azureApiTimeout -}}{{- $_ := set $snapshot "azureApiTimeout" . -}}{{- end -}}
{{- $annotations := dict -}}
{{- if include "mtc.lib.storage.mcgDiscover" . -}}
{{- $annotations = dict "mtc-helm.io/mcg-discover" "true" -}}
{{- end }}
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigStorage
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" $r.name "component" "replication-repository" "annotations" $annotations) }}
spec:
  backupStorageProvider: {{ $provider }}
  volumeSnapshotProvider: {{ $vs.provider | default $provider }}
  backupStorageConfig:
    {{- toYaml $backup | nindent 4 }}
  volumeSnapshotConfig:
    {{- toYaml $snapshot | nindent 4 }}
{{- end }}
{{- end }}

{{/* MCG discovery (provider mcg without credentials; hooks/storage/mcg.go: DiscoverMCG): OpenShift Data
Foundation's NooBaa, its admin Secret and the ingress CA, by name. A ClusterRole, because a Role in
openshift-storage could not be created where OpenShift Data Foundation is missing, which the hook
refuses in one sentence instead. */}}
{{- define "mtc.lib.storage.mcgDiscoverRules" -}}
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
