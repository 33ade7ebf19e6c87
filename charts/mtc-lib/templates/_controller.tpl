{{/*
The MigrationController and ConfigMap mtc-configure (configure input contract: key objects.yaml holds the
MigrationController, then the MigStorage, then the MigClusters, in apply order; key operator.yaml tells the
configure hook how the operator was installed). The CRDs of these kinds appear only once the operator runs,
so they are never release resources.
*/}}

{{/*
mtc.lib.controller.resourceKeys: the spec keys that hold resource settings, as JSON {specKey: [values path]}.
*/}}
{{- define "mtc.lib.controller.resourceKeys" -}}
{{- $keys := dict -}}
{{- range $kind := list "limits" "requests" -}}
{{- range $res := list "cpu" "memory" -}}
{{- $_ := set $keys (printf "mig_controller_%s_%s" $kind $res) (list "controllerResources" $kind $res) -}}
{{- range $pod, $prefix := dict "source" "source_rsync_pod" "target" "target_rsync_pod" "stunnel" "stunnel_pod" -}}
{{- $_ := set $keys (printf "%s_%s_%s" $prefix $res $kind) (list "rsyncResources" $pod $kind $res) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $keys -}}
{{- end }}

{{/*
mtc.lib.controller.ownedKeys: every spec key the chart sets from values, as a JSON list; extraSpec may not set them.
*/}}
{{- define "mtc.lib.controller.ownedKeys" -}}
{{- $owned := list "cluster_name" "migration_velero" "migration_controller" "migration_ui" "migration_log_reader" "restic_timeout" "mig_pv_limit" "mig_pod_limit" "mig_namespace_limit" "http_proxy" "https_proxy" "no_proxy" "stunnel_tcp_proxy" "rsync_endpoint_type" "src_supplemental_groups" "target_supplemental_groups" "mig_ui_cluster_api_endpoint" "azure_resource_group" -}}
{{- $owned = concat $owned (keys (include "mtc.lib.controller.resourceKeys" . | fromJson)) -}}
{{- $owned | sortAlpha | toJson -}}
{{- end }}

{{/*
mtc.lib.controller.spec: the spec of the MigrationController, as JSON. migration_velero,
migration_controller, migration_ui and cluster_name have no operator default and are always set.
*/}}
{{- define "mtc.lib.controller.spec" -}}
{{- $v := .Values -}}
{{- $mc := $v.migrationController -}}
{{- $control := eq $v.role "control" -}}
{{- $spec := dict
  "cluster_name" $v.clusterName
  "migration_velero" true
  "migration_controller" $control
  "migration_ui" $control
  "migration_log_reader" $mc.logReader
  "restic_timeout" $mc.resticTimeout
  "mig_pv_limit" (printf "%d" (int64 $mc.limits.persistentVolumes))
  "mig_pod_limit" (printf "%d" (int64 $mc.limits.pods))
  "mig_namespace_limit" (printf "%d" (int64 $mc.limits.namespaces))
-}}
{{- with $mc.proxy.httpProxy -}}{{- $_ := set $spec "http_proxy" . -}}{{- end -}}
{{- with $mc.proxy.httpsProxy -}}{{- $_ := set $spec "https_proxy" . -}}{{- end -}}
{{- /* The operator writes no_proxy into the migration-proxy Secret whenever it is set, also when the
proxies themselves come from the cluster-wide Proxy (through the operator's environment). */}}
{{- with $mc.proxy.noProxy -}}{{- $_ := set $spec "no_proxy" . -}}{{- end -}}
{{- with $mc.stunnelTcpProxy -}}{{- $_ := set $spec "stunnel_tcp_proxy" . -}}{{- end -}}
{{- with $mc.rsyncEndpointType -}}{{- $_ := set $spec "rsync_endpoint_type" . -}}{{- end -}}
{{- with $mc.sourceSupplementalGroups -}}{{- $_ := set $spec "src_supplemental_groups" (include "mtc.lib.controller.intList" .) -}}{{- end -}}
{{- with $mc.targetSupplementalGroups -}}{{- $_ := set $spec "target_supplemental_groups" (include "mtc.lib.controller.intList" .) -}}{{- end -}}
{{- with $mc.uiClusterApiEndpoint -}}{{- $_ := set $spec "mig_ui_cluster_api_endpoint" . -}}{{- end -}}
{{- with $mc.azureResourceGroup -}}{{- $_ := set $spec "azure_resource_group" . -}}{{- end -}}
{{- range $key, $path := (include "mtc.lib.controller.resourceKeys" . | fromJson) -}}
{{- $value := $mc -}}
{{- range $path -}}{{- $value = get $value . -}}{{- end -}}
{{- with $value -}}{{- $_ := set $spec $key (toString .) -}}{{- end -}}
{{- end -}}
{{- range $key, $value := $mc.extraSpec -}}{{- $_ := set $spec $key $value -}}{{- end -}}
{{- toJson $spec -}}
{{- end }}

{{/*
mtc.lib.controller.objects: objects.yaml of mtc-configure, a multi-document YAML in apply order.
*/}}
{{- define "mtc.lib.controller.objects" -}}
apiVersion: migration.openshift.io/v1alpha1
kind: MigrationController
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-controller" "component" "migration-controller") }}
spec:
  {{- include "mtc.lib.controller.spec" . | fromJson | toYaml | nindent 2 }}
{{- include "mtc.lib.storage.migStorage" . }}
{{- include "mtc.lib.remotes.migClusters" . }}
{{- end }}

{{/*
mtc.lib.controller.configMap: ConfigMap mtc-configure, the input of the configure hook.
Usage: {{ include "mtc.lib.controller.configMap" . }}
*/}}
{{- define "mtc.lib.controller.configMap" -}}
{{- $mode := include "mtc.lib.platform.operatorMode" . -}}
{{- $operator := dict "mode" $mode "deployment" "migration-operator" -}}
{{- if eq $mode "olm" -}}{{- $_ := set $operator "subscription" .Values.olm.subscription.name -}}{{- end -}}
{{- $_ := set $operator "line" ((include "mtc.lib.platform.compat" . | fromJson).line | toString) -}}
apiVersion: v1
kind: ConfigMap
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "mtc-configure" "component" "configure") }}
data:
  operator.yaml: |
    {{- toYaml $operator | nindent 4 }}
  objects.yaml: |
    {{- include "mtc.lib.controller.objects" . | nindent 4 }}
  {{- $egress := include "mtc.lib.policies.egressPlan" . | fromJson }}
  {{- if or $egress.merge $egress.unmerge }}
  egress.yaml: |
    {{- toYaml (dict "owner" (printf "%s/%s" .Release.Namespace .Release.Name) "kind" $egress.kind "rules" (include "mtc.lib.policies.egressPeerRules" . | fromJsonArray) "merge" $egress.merge "unmerge" $egress.unmerge) | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
mtc.lib.controller.intList: a list of integers as the comma-separated string the operator reads, e.g. "1000,2000"
(formatted as integers: values arrive as floats and large IDs would otherwise print in exponent form).
*/}}
{{- define "mtc.lib.controller.intList" -}}
{{- $out := list -}}
{{- range . -}}{{- $out = append $out (printf "%d" (int64 .)) -}}{{- end -}}
{{- join "," $out -}}
{{- end }}
