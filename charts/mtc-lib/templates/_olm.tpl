{{/*
The operator through OLM (platform ocp4): OperatorGroup, Subscription to mtc-operator, an optional
Subscription that pins OADP's channel, an optional CatalogSource for a mirrored index.
*/}}

{{/*
mtc.lib.olm.enabled: "true" on the OLM path.
*/}}
{{- define "mtc.lib.olm.enabled" -}}
{{- if eq (include "mtc.lib.platform.operatorMode" .) "olm" -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.olm.source: the CatalogSource name and namespace subscriptions use, as JSON.
*/}}
{{- define "mtc.lib.olm.source" -}}
{{- $olm := .Values.olm -}}
{{- if $olm.catalogSource.create -}}
{{- dict "source" $olm.catalogSource.name "sourceNamespace" $olm.catalogSource.namespace | toJson -}}
{{- else -}}
{{- dict "source" $olm.subscription.source "sourceNamespace" $olm.subscription.sourceNamespace | toJson -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.olm.operatorGroup" -}}
{{- if and (include "mtc.lib.olm.enabled" .) .Values.olm.operatorGroup.create -}}
apiVersion: operators.coreos.com/v1
kind: OperatorGroup
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" .Values.olm.operatorGroup.name "component" "operator") }}
spec:
  targetNamespaces:
    - {{ .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "mtc.lib.olm.subscription" -}}
{{- if include "mtc.lib.olm.enabled" . -}}
{{- $sub := .Values.olm.subscription -}}
{{- $compat := include "mtc.lib.platform.compat" . | fromJson -}}
{{- $source := include "mtc.lib.olm.source" . | fromJson -}}
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" $sub.name "component" "operator") }}
spec:
  name: {{ $sub.package }}
  channel: {{ $sub.channel | default $compat.channel }}
  source: {{ $source.source }}
  sourceNamespace: {{ $source.sourceNamespace }}
  installPlanApproval: {{ $sub.installPlanApproval }}
  {{- with $sub.startingCSV }}
  startingCSV: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "mtc.lib.olm.oadpSubscription" -}}
{{- if and (include "mtc.lib.olm.enabled" .) .Values.olm.oadp.channel -}}
{{- $oadp := .Values.olm.oadp -}}
{{- $source := include "mtc.lib.olm.source" . | fromJson -}}
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" $oadp.subscriptionName "component" "oadp") }}
spec:
  name: {{ $oadp.package }}
  channel: {{ $oadp.channel }}
  source: {{ $source.source }}
  sourceNamespace: {{ $source.sourceNamespace }}
  installPlanApproval: {{ .Values.olm.subscription.installPlanApproval }}
{{- end }}
{{- end }}

{{- define "mtc.lib.olm.catalogSource" -}}
{{- $cs := .Values.olm.catalogSource -}}
{{- if and (include "mtc.lib.olm.enabled" .) $cs.create -}}
apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" $cs.name "namespace" $cs.namespace "component" "catalog") }}
spec:
  sourceType: grpc
  image: {{ $cs.image }}
  displayName: {{ $cs.displayName | quote }}
  publisher: mtc-helm
  {{- with $cs.pollInterval }}
  updateStrategy:
    registryPoll:
      interval: {{ . }}
  {{- end }}
{{- end }}
{{- end }}
