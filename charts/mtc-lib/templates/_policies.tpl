{{/*
NetworkPolicies for the direct volume migration rsync pods, and egress policies that let whole namespaces
reach the other clusters. Rsync pods carry owner=directvolumemigration and app=directvolumemigration-rsync-transfer
(or the -block variant for block volumes). Data flows source stunnel -> target router TCP 443 (Route), a node
port 30000-32767 (NodePort) or the service TCP 6443 (ClusterIP) -> target stunnel TCP 6443 -> rsync on localhost.
*/}}

{{- define "mtc.lib.policies.rsyncSelector" -}}
podSelector:
  matchLabels:
    owner: directvolumemigration
  matchExpressions:
    - key: app
      operator: In
      values:
        - directvolumemigration-rsync-transfer
        - directvolumemigration-rsync-transfer-block
{{- end }}

{{/*
mtc.lib.policies.networkPolicies: one NetworkPolicy per namespace in allowAll mode; in narrow mode an
ingress policy per target namespace and an egress policy per source namespace.
*/}}
{{- define "mtc.lib.policies.networkPolicies" -}}
{{- $ctx := . -}}
{{- $np := .Values.networkPolicies -}}
{{- $selector := include "mtc.lib.policies.rsyncSelector" . -}}
{{- if eq $np.mode "allowAll" -}}
{{- range $ns := concat $np.sourceNamespaces $np.targetNamespaces | uniq | sortAlpha }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" "mtc-rsync-allow-all" "namespace" $ns "component" "rsync-network-policy") }}
spec:
  {{- $selector | nindent 2 }}
  policyTypes: ["Ingress", "Egress"]
  ingress:
    - {}
  egress:
    - {}
{{- end }}
{{- else }}
{{- $n := $np.narrow -}}
{{- range $ns := $np.targetNamespaces }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" "mtc-rsync-target-ingress" "namespace" $ns "component" "rsync-network-policy") }}
spec:
  {{- $selector | nindent 2 }}
  policyTypes: ["Ingress"]
  ingress:
    - from:
        {{- if eq $n.ingressFrom "router" }}
        {{- /* podSelector {} beside the namespaceSelector also matches routers on the host network (bare
        metal); the legacy policy-group label is matched too, for clusters that still carry only it. */}}
        - namespaceSelector:
            matchLabels:
              {{- toYaml $n.routerNamespaceLabels | nindent 14 }}
          podSelector: {}
        {{- $legacy := dict "network.openshift.io/policy-group" "ingress" }}
        {{- if ne (toJson $legacy) (toJson $n.routerNamespaceLabels) }}
        - namespaceSelector:
            matchLabels:
              {{- toYaml $legacy | nindent 14 }}
          podSelector: {}
        {{- end }}
        {{- else }}
        {{- range $n.sourceCIDRs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
        {{- end }}
      ports:
        - protocol: TCP
          port: 6443
{{- end }}
{{- range $ns := $np.sourceNamespaces }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" "mtc-rsync-source-egress" "namespace" $ns "component" "rsync-network-policy") }}
spec:
  {{- $selector | nindent 2 }}
  policyTypes: ["Egress"]
  egress:
    {{- /* The target's rsync endpoint: its router on 443 (Route), its stunnel service on 6443 (ClusterIP), or
    a node port (NodePort, 30000-32767; a range needs endPort, Kubernetes 1.25, so older clusters get
    every port of those CIDRs). */}}
    {{- $ep := $n.endpointType | default $ctx.Values.migrationController.rsyncEndpointType | default "Route" }}
    {{- with $n.targetRouterCIDRs }}
    - to:
        {{- range . }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      {{- if eq $ep "Route" }}
      ports:
        - protocol: TCP
          port: 443
      {{- else if eq $ep "ClusterIP" }}
      ports:
        - protocol: TCP
          port: 6443
      {{- else if semverCompare ">=1.25.0-0" $ctx.Capabilities.KubeVersion.Version }}
      ports:
        - protocol: TCP
          port: 30000
          endPort: 32767
      {{- end }}
    {{- end }}
    {{- with $n.proxyCIDRs }}
    - to:
        {{- range . }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        - protocol: TCP
          port: {{ $n.proxyPort }}
    {{- end }}
    {{- if $n.allowDNS }}
    - ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
        - protocol: UDP
          port: 5353
        - protocol: TCP
          port: 5353
    {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.policies.egressPeerRules: the Allow rules of the peers alone, the rules merged into a policy of the
user's (its own Deny rules stay after them; egressPolicies.extraRules are for the chart's own policies).
*/}}
{{- define "mtc.lib.policies.egressPeerRules" -}}
{{- $rules := list -}}
{{- range $name, $peer := .Values.egressPolicies.peers -}}
{{- range $peer.cidrs -}}{{- $rules = append $rules (dict "type" "Allow" "to" (dict "cidrSelector" .)) -}}{{- end -}}
{{- range $peer.dnsNames -}}{{- $rules = append $rules (dict "type" "Allow" "to" (dict "dnsName" .)) -}}{{- end -}}
{{- end -}}
{{- toJson $rules -}}
{{- end }}

{{/*
mtc.lib.policies.egressRules: the egress rules shared by every listed namespace: Allow for each peer CIDR
and DNS name (peers sorted by name), then egressPolicies.extraRules. Rules match in order, so the Allow
rules come before any Deny.
*/}}
{{- define "mtc.lib.policies.egressRules" -}}
{{- concat (include "mtc.lib.policies.egressPeerRules" . | fromJsonArray) .Values.egressPolicies.extraRules | toYaml -}}
{{- end }}

{{/*
mtc.lib.policies.egressPlan: JSON {kind, apiVersion, create, merge, unmerge}. A namespace holds one egress
policy (OpenShift SDN drops all egress of a namespace with two EgressNetworkPolicies; OVN-Kubernetes reads
only the EgressFirewall named default), so each listed namespace where the cluster already has one that
is not this release's gets MTC's rules merged into it by the configure hook (merge: its namespace and
name), and the others get the chart's own policy (create). Policies an earlier revision merged into, in
namespaces no longer listed, get MTC's rules taken out (unmerge). Without a cluster to look up (helm
template), every namespace is create, and version-check refuses where a policy of the user's appears.
With no namespace listed, only unmerge can be there (the network type is then not asked for).
*/}}
{{- define "mtc.lib.policies.egressPlan" -}}
{{- $ep := .Values.egressPolicies -}}
{{- $sdn := false -}}
{{- if $ep.namespaces -}}
{{- $sdn = eq (include "mtc.lib.platform.networkType" .) "OpenShiftSDN" -}}
{{- else -}}
{{- /* Nothing listed: only the policies an earlier revision merged into, of whichever kind is served. */ -}}
{{- $sdn = and (not (.Capabilities.APIVersions.Has "k8s.ovn.org/v1/EgressFirewall")) (.Capabilities.APIVersions.Has "network.openshift.io/v1/EgressNetworkPolicy") -}}
{{- end -}}
{{- $plan := dict "kind" (ternary "EgressNetworkPolicy" "EgressFirewall" $sdn) "apiVersion" (ternary "network.openshift.io/v1" "k8s.ovn.org/v1" $sdn) "create" list "merge" list "unmerge" list -}}
{{- $owner := printf "%s/%s" .Release.Namespace .Release.Name -}}
{{- $merged := list -}}
{{- $served := .Capabilities.APIVersions.Has (printf "%s/%s" $plan.apiVersion $plan.kind) -}}
{{- range $ns := $ep.namespaces -}}
{{- $found := "" -}}
{{- $items := list -}}
{{- if $served -}}{{- $items = (lookup $plan.apiVersion $plan.kind $ns "").items | default list -}}{{- end -}}
{{- range $items -}}
{{- $a := .metadata.annotations | default dict -}}
{{- $ours := and (eq (get $a "meta.helm.sh/release-name") $.Release.Name) (eq (get $a "meta.helm.sh/release-namespace") $.Release.Namespace) -}}
{{- if and (not $ours) (or $sdn (eq .metadata.name "default")) (not $found) -}}{{- $found = .metadata.name -}}{{- end -}}
{{- end -}}
{{- if $found -}}
{{- $_ := set $plan "merge" (append $plan.merge (dict "namespace" $ns "name" $found)) -}}
{{- $merged = append $merged (printf "%s/%s" $ns $found) -}}
{{- else -}}
{{- $_ := set $plan "create" (append $plan.create $ns) -}}
{{- end -}}
{{- end -}}
{{- $all := list -}}
{{- if $served -}}{{- $all = (lookup $plan.apiVersion $plan.kind "" "").items | default list -}}{{- end -}}
{{- range $all -}}
{{- $a := .metadata.annotations | default dict -}}
{{- $t := printf "%s/%s" .metadata.namespace .metadata.name -}}
{{- if and (eq (get $a "mtc-helm.io/egress-merged-by") $owner) (not (has $t $merged)) -}}
{{- $_ := set $plan "unmerge" (append $plan.unmerge (dict "namespace" .metadata.namespace "name" .metadata.name)) -}}
{{- end -}}
{{- end -}}
{{- toJson $plan -}}
{{- end }}

{{/*
mtc.lib.policies.egressTargets: "namespace/name,..." of a list of {namespace, name}.
*/}}
{{- define "mtc.lib.policies.egressTargets" -}}
{{- $out := list -}}
{{- range . -}}{{- $out = append $out (printf "%s/%s" .namespace .name) -}}{{- end -}}
{{- join "," $out -}}
{{- end }}

{{/*
mtc.lib.policies.egressRBAC: for a hook that changes the user's policies, a Role and RoleBinding in each
namespace of targets: get and update on exactly those policies, nothing else.
Usage: {{ include "mtc.lib.policies.egressRBAC" (dict "context" $ "name" "configure" "events" $events "kind" $plan.kind "targets" $targets) }}
*/}}
{{- define "mtc.lib.policies.egressRBAC" -}}
{{- $ctx := .context -}}
{{- $name := printf "mtc-hook-%s" .name -}}
{{- $component := printf "hook-%s" .name -}}
{{- $early := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" .events "weight" -30)) -}}
{{- $late := fromYaml (include "mtc.lib.hooks.annotations" (dict "events" .events "weight" -20)) -}}
{{- $byNS := dict -}}
{{- range .targets -}}{{- $_ := set $byNS .namespace (append (get $byNS .namespace | default list) .name) -}}{{- end -}}
{{- $resource := ternary "egressnetworkpolicies" "egressfirewalls" (eq .kind "EgressNetworkPolicy") -}}
{{- $group := ternary "network.openshift.io" "k8s.ovn.org" (eq .kind "EgressNetworkPolicy") -}}
{{- range $ns := keys $byNS | sortAlpha }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" (printf "%s-egress" $name) "namespace" $ns "component" $component "annotations" $early) }}
rules:
  - apiGroups: [{{ $group | quote }}]
    resources: [{{ $resource | quote }}]
    resourceNames: {{ get $byNS $ns | uniq | sortAlpha | toJson }}
    verbs: ["get", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" (printf "%s-egress" $name) "namespace" $ns "component" $component "annotations" $late) }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}-egress
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $ctx.Release.Namespace }}
{{- end }}
{{- end }}

{{/*
mtc.lib.policies.egressPolicies: the chart's own EgressFirewall "default" (OVN-Kubernetes) or
EgressNetworkPolicy (OpenShiftSDN) in each listed namespace that holds none of the user's, with every peer
and egressPolicies.extraRules (see mtc.lib.policies.egressPlan for the others).
*/}}
{{- define "mtc.lib.policies.egressPolicies" -}}
{{- $ctx := . -}}
{{- $ep := .Values.egressPolicies -}}
{{- if $ep.namespaces -}}
{{- $ovn := eq (include "mtc.lib.platform.networkType" .) "OVNKubernetes" -}}
{{- $rules := include "mtc.lib.policies.egressRules" . -}}
{{- $plan := include "mtc.lib.policies.egressPlan" . | fromJson -}}
{{- range $ns := $plan.create }}
---
{{- if $ovn }}
apiVersion: k8s.ovn.org/v1
kind: EgressFirewall
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" "default" "namespace" $ns "component" "egress-policy") }}
{{- else }}
apiVersion: network.openshift.io/v1
kind: EgressNetworkPolicy
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" $ep.name "namespace" $ns "component" "egress-policy") }}
{{- end }}
spec:
  egress:
    {{- $rules | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}
