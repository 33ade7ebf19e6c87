{{/*
mtc.lib.notes: NOTES.txt: what was installed where, where the web console is, the next command. It never
prints credentials.
Usage (in templates/NOTES.txt): {{ include "mtc.lib.notes" . }}
*/}}
{{- define "mtc.lib.notes" -}}
{{- $v := .Values -}}
{{- $ns := .Release.Namespace -}}
{{- $mode := include "mtc.lib.platform.operatorMode" . -}}
{{- $compat := include "mtc.lib.platform.compat" . | fromJson -}}
MTC {{ .Chart.AppVersion }} (line {{ $compat.line }}) is installed in namespace {{ $ns }} as release {{ .Release.Name }}, role {{ $v.role }}, cluster name {{ $v.clusterName }}.

Operator: {{ if eq $mode "olm" }}OLM Subscription {{ $v.olm.subscription.name }} (package {{ $v.olm.subscription.package }}, channel {{ $v.olm.subscription.channel | default $compat.channel }}, approval {{ $v.olm.subscription.installPlanApproval }}){{ with $v.olm.oadp.channel }}; OADP pinned to channel {{ . }}{{ end }}. OLM also installs OADP, which brings the velero.io CRDs.{{ else }}legacy operator Deployment migration-operator (OpenShift 3.11).{{ end }}
MigrationController migration-controller{{ if include "mtc.lib.storage.enabled" . }}, MigStorage {{ $v.replicationRepository.name }}{{ end }}{{ range $name, $_ := $v.remoteClusters }}, MigCluster {{ $name }}{{ end }}: {{ if $v.hooks.configure.enabled }}applied by the configure hook from ConfigMap mtc-configure.{{ else }}rendered into ConfigMap mtc-configure; the configure hook is off, so apply it with: mtc-hooks configure --configmap mtc-configure --namespace {{ $ns }}{{ end }}
{{- $np := $v.networkPolicies }}
{{- $npCount := len (concat $np.sourceNamespaces $np.targetNamespaces | uniq) }}
{{- if $npCount }}
NetworkPolicies ({{ $np.mode }}) for rsync pods in {{ $npCount }} namespace(s).
{{- end }}
{{- if $v.egressPolicies.namespaces }}
Egress policies ({{ include "mtc.lib.platform.networkType" . }}) in {{ len $v.egressPolicies.namespaces }} namespace(s).
{{- end }}
{{- if and (eq $mode "olm") (eq $v.olm.subscription.installPlanApproval "Manual") }}

Approval is Manual: approve the pending InstallPlan, then run helm upgrade again (or the configure hook) to finish:
  oc get installplan -n {{ $ns }}
  oc patch installplan <name> -n {{ $ns }} --type merge -p '{"spec":{"approved":true}}'
{{- end }}
{{- $mc := $v.migrationController }}
{{- if ne $v.role "control" }}
{{- $controlOnly := list }}
{{- if $mc.stunnelTcpProxy }}{{ $controlOnly = append $controlOnly "stunnelTcpProxy" }}{{ end }}
{{- if $mc.sourceSupplementalGroups }}{{ $controlOnly = append $controlOnly "sourceSupplementalGroups" }}{{ end }}
{{- if $mc.targetSupplementalGroups }}{{ $controlOnly = append $controlOnly "targetSupplementalGroups" }}{{ end }}
{{- if regexMatch `":("[^"]|[0-9])` ($mc.rsyncResources | toJson) }}{{ $controlOnly = append $controlOnly "rsyncResources" }}{{ end }}
{{- with $controlOnly }}

Note: migrationController.{{ join ", migrationController." . }} take effect only on the control cluster, where mig-controller runs the direct volume migrations; on this {{ $v.role }} cluster nothing reads them. Set them in the control cluster's values.
{{- end }}
{{- end }}
{{- if eq $v.role "control" }}

Web console (once the operator has reconciled):
  oc get route migration -n {{ $ns }} -o jsonpath='https://{.spec.host}{"\n"}'
{{- else if include "mtc.lib.remotes.tokenEnabled" . }}

This is a remote cluster. Give its token to the control cluster (remoteClusters.<name>.token there):
  oc get secret {{ $v.remoteToken.secretName }} -n {{ $ns }} -o jsonpath='{.data.token}' | base64 -d
{{- end }}

Next: check the installation with
  helm test {{ .Release.Name }} -n {{ $ns }}
{{- end }}
