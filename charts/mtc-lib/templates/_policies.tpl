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
mtc.lib.policies.egressRules: the egress rules shared by every listed namespace: Allow for each peer CIDR
and DNS name (peers sorted by name), then egressPolicies.extraRules. Rules match in order, so the Allow
rules come before any Deny.
*/}}
{{- define "mtc.lib.policies.egressRules" -}}
{{- $rules := list -}}
{{- range $name, $peer := .Values.egressPolicies.peers -}}
{{- range $peer.cidrs -}}{{- $rules = append $rules (dict "type" "Allow" "to" (dict "cidrSelector" .)) -}}{{- end -}}
{{- range $peer.dnsNames -}}{{- $rules = append $rules (dict "type" "Allow" "to" (dict "dnsName" .)) -}}{{- end -}}
{{- end -}}
{{- concat $rules .Values.egressPolicies.extraRules | toYaml -}}
{{- end }}

{{/*
mtc.lib.policies.egressPolicies: one EgressFirewall "default" (OVN-Kubernetes) or one EgressNetworkPolicy
(OpenShiftSDN) per listed namespace, holding all peers: a namespace may have only one such object.
*/}}
{{- define "mtc.lib.policies.egressPolicies" -}}
{{- $ctx := . -}}
{{- $ep := .Values.egressPolicies -}}
{{- if $ep.namespaces -}}
{{- $ovn := eq (include "mtc.lib.platform.networkType" .) "OVNKubernetes" -}}
{{- $rules := include "mtc.lib.policies.egressRules" . -}}
{{- range $ns := $ep.namespaces }}
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
