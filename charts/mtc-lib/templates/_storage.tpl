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
mtc.lib.storage.secretName: the credentials Secret of the MigStorage.
*/}}
{{- define "mtc.lib.storage.secretName" -}}
{{- .Values.replicationRepository.existingSecret | default (printf "%s-credentials" .Values.replicationRepository.name) -}}
{{- end }}

{{/*
mtc.lib.storage.secret: the credentials Secret, unless existingSecret names one.
*/}}
{{- define "mtc.lib.storage.secret" -}}
{{- $r := .Values.replicationRepository -}}
{{- if and (include "mtc.lib.storage.enabled" .) (not $r.existingSecret) -}}
{{- $c := $r.credentials -}}
apiVersion: v1
kind: Secret
{{ include "mtc.lib.metadata" (dict "context" . "name" (include "mtc.lib.storage.secretName" .) "component" "replication-repository") }}
type: Opaque
data:
{{- if eq $r.provider "gcp" }}
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
{{- if ne $r.provider "aws" -}}
{{- $_ := set $backup "awsS3Url" $r.endpoint -}}
{{- $_ := set $backup "awsS3ForcePathStyle" $r.forcePathStyle -}}
{{- $_ := set $backup "insecure" $r.insecure -}}
{{- with $r.caBundle -}}{{- $_ := set $backup "s3CustomCABundle" (b64enc .) -}}{{- end -}}
{{- end -}}
{{- else if eq $provider "gcp" -}}
{{- $_ := set $backup "gcpBucket" $r.bucket -}}
{{- else if eq $provider "azure" -}}
{{- $_ := set $backup "azureResourceGroup" $r.azure.resourceGroup -}}
{{- $_ := set $backup "azureStorageAccount" $r.azure.storageAccount -}}
{{- $_ := set $backup "azureStorageContainer" $r.azure.storageContainer -}}
{{- $_ := set $snapshot "azureResourceGroup" $r.azure.resourceGroup -}}
{{- end }}
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigStorage
{{ include "mtc.lib.metadata" (dict "context" . "name" $r.name "component" "replication-repository") }}
spec:
  backupStorageProvider: {{ $provider }}
  volumeSnapshotProvider: {{ $provider }}
  backupStorageConfig:
    {{- toYaml $backup | nindent 4 }}
  volumeSnapshotConfig:
    {{- toYaml $snapshot | nindent 4 }}
{{- end }}
{{- end }}
