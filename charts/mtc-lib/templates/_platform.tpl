{{/*
mtc.lib.platform.compat: the chart's compatibility matrix (compat.yaml of the versioned chart) as JSON.
Usage: {{ $compat := include "mtc.lib.platform.compat" $ | fromJson }}
*/}}
{{- define "mtc.lib.platform.compat" -}}
{{- $raw := .Files.Get "compat.yaml" -}}
{{- if not $raw -}}
{{- fail (printf "chart %s %s has no compat.yaml; the chart is broken, rebuild it from the repository." .Chart.Name .Chart.Version) -}}
{{- end -}}
{{- $raw | fromYaml | toJson -}}
{{- end }}

{{/*
mtc.lib.platform.hasOpenShiftAPI: "true" when the API serves OpenShift groups (3.x and 4.x both serve them).
*/}}
{{- define "mtc.lib.platform.hasOpenShiftAPI" -}}
{{- $caps := .Capabilities.APIVersions -}}
{{- range list "route.openshift.io/v1" "project.openshift.io/v1" "security.openshift.io/v1" "apps.openshift.io/v1" "image.openshift.io/v1" "authorization.openshift.io/v1" -}}
{{- if $caps.Has . -}}true{{- end -}}
{{- end -}}
{{- end }}

{{/*
mtc.lib.platform.online: "true" when the templates are rendered against a live cluster (install, upgrade,
server-side dry-run), detected by a lookup of the "default" namespace, which every API server creates.
*/}}
{{- define "mtc.lib.platform.online" -}}
{{- if (lookup "v1" "Namespace" "" "default") -}}true{{- end -}}
{{- end }}

{{/*
mtc.lib.platform: ocp4 or ocp3. The value "platform" wins unless it is auto; auto reads the API:
ClusterVersion (config.openshift.io/v1) means ocp4, OpenShift groups without it mean ocp3. Rendering
offline (helm template without --api-versions) assumes ocp4; the version-check hook checks the real cluster.
Usage: {{ $platform := include "mtc.lib.platform" $ }}
*/}}
{{- define "mtc.lib.platform" -}}
{{- if ne .Values.platform "auto" -}}
{{- .Values.platform -}}
{{- else if .Capabilities.APIVersions.Has "config.openshift.io/v1/ClusterVersion" -}}
ocp4
{{- else if include "mtc.lib.platform.hasOpenShiftAPI" . -}}
ocp3
{{- else if include "mtc.lib.platform.online" . -}}
{{- fail "platform is auto but this cluster serves no OpenShift API (neither config.openshift.io nor route.openshift.io); MTC runs only on OpenShift, so install on an OpenShift cluster or set platform to ocp4 or ocp3 if discovery is hidden from you." -}}
{{- else -}}
ocp4
{{- end -}}
{{- end }}

{{/*
mtc.lib.platform.operatorMode: olm on ocp4, legacy on ocp3.
*/}}
{{- define "mtc.lib.platform.operatorMode" -}}
{{- if eq (include "mtc.lib.platform" .) "ocp3" -}}legacy{{- else -}}olm{{- end -}}
{{- end }}

{{/*
mtc.lib.platform.networkType: OVNKubernetes or OpenShiftSDN, the network plugin that decides the kind of the egress
policies. The value egressPolicies.networkType wins unless it is auto; auto reads the API (EgressFirewall
k8s.ovn.org/v1 first, then EgressNetworkPolicy network.openshift.io/v1); OpenShift 3.11 only has the SDN.
*/}}
{{- define "mtc.lib.platform.networkType" -}}
{{- $type := .Values.egressPolicies.networkType -}}
{{- if ne $type "auto" -}}
{{- $type -}}
{{- else if .Capabilities.APIVersions.Has "k8s.ovn.org/v1/EgressFirewall" -}}
OVNKubernetes
{{- else if .Capabilities.APIVersions.Has "network.openshift.io/v1/EgressNetworkPolicy" -}}
OpenShiftSDN
{{- else if eq (include "mtc.lib.platform" .) "ocp3" -}}
OpenShiftSDN
{{- else -}}
{{- fail "egressPolicies.networkType is auto but the API serves neither k8s.ovn.org/v1 EgressFirewall nor network.openshift.io/v1 EgressNetworkPolicy; set egressPolicies.networkType to OVNKubernetes or OpenShiftSDN." -}}
{{- end -}}
{{- end }}

{{/*
mtc.lib.platform.crdAPIVersion: apiextensions.k8s.io/v1 where the API serves it, else v1beta1 (OpenShift 3.11,
Kubernetes 1.11). When discovery says nothing useful (offline rendering), the Kubernetes version decides.
*/}}
{{- define "mtc.lib.platform.crdAPIVersion" -}}
{{- $v1 := .Capabilities.APIVersions.Has "apiextensions.k8s.io/v1" -}}
{{- $v1beta1 := .Capabilities.APIVersions.Has "apiextensions.k8s.io/v1beta1" -}}
{{- if and $v1beta1 (not $v1) -}}
apiextensions.k8s.io/v1beta1
{{- else if and $v1 (not $v1beta1) -}}
apiextensions.k8s.io/v1
{{- else if semverCompare "<1.16.0-0" .Capabilities.KubeVersion.Version -}}
apiextensions.k8s.io/v1beta1
{{- else -}}
apiextensions.k8s.io/v1
{{- end -}}
{{- end }}
