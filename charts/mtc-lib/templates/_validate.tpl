{{/*
mtc.lib.validate: the cross-field rules that values.schema.json cannot express. Each failure is one
sentence that names the value and the fix. It renders nothing.
Usage (once per chart, in templates/validate.yaml): {{ include "mtc.lib.validate" . }}
*/}}
{{- define "mtc.lib.validate" -}}
{{- $v := .Values -}}
{{- if ne .Release.Namespace "openshift-migration" -}}
{{- fail (printf "the release namespace is %s but MTC works only in openshift-migration; install with --namespace openshift-migration --create-namespace." .Release.Namespace) -}}
{{- end -}}
{{- include "mtc.lib.validate.platform" . -}}
{{- include "mtc.lib.validate.role" . -}}
{{- include "mtc.lib.validate.olm" . -}}
{{- include "mtc.lib.validate.controller" . -}}
{{- include "mtc.lib.validate.storage" . -}}
{{- include "mtc.lib.validate.remotes" . -}}
{{- include "mtc.lib.validate.policies" . -}}
{{- end }}

{{- define "mtc.lib.validate.platform" -}}
{{- $compat := include "mtc.lib.platform.compat" . | fromJson -}}
{{- $platform := include "mtc.lib.platform" . -}}
{{- if not (hasKey $compat.platforms $platform) -}}
{{- $how := ternary (printf "platform is %s" $platform) (printf "platform auto found %s" $platform) (ne .Values.platform "auto") -}}
{{- fail (printf "%s, which MTC %s does not support (its compat.yaml lists %s); use the chart line that supports %s, e.g. helm install mtc <repo>/mtc --version 1.7.x for OpenShift 3.11." $how $compat.line (keys $compat.platforms | sortAlpha | join ", ") $platform) -}}
{{- end -}}
{{- if and (eq $platform "ocp3") (eq .Values.role "control") (not .Values.migrationController.uiClusterApiEndpoint) -}}
{{- fail "role is control on OpenShift 3.11 but migrationController.uiClusterApiEndpoint is empty; set it to the master API URL, e.g. https://master.example.com:8443, which the web console calls." -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.role" -}}
{{- $v := .Values -}}
{{- if eq $v.role "remote" -}}
{{- if $v.replicationRepository.enabled -}}
{{- fail "replicationRepository.enabled is true but role is remote; only the control cluster holds the MigStorage, so set replicationRepository.enabled=false here and configure the repository on the control cluster." -}}
{{- end -}}
{{- if $v.remoteClusters -}}
{{- fail "remoteClusters is set but role is remote; list the remote clusters in the control cluster's values and leave remoteClusters empty here." -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.olm" -}}
{{- $olm := .Values.olm -}}
{{- if and $olm.catalogSource.create (not $olm.catalogSource.image) -}}
{{- fail "olm.catalogSource.create is true but olm.catalogSource.image is empty; set it to your mirrored operator index image." -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.controller" -}}
{{- $mc := .Values.migrationController -}}
{{- with $mc.stunnelTcpProxy -}}
{{- $u := urlParse . -}}
{{- if ne $u.scheme "http" -}}
{{- fail (printf "migrationController.stunnelTcpProxy uses scheme %q but direct volume migration supports only a plain http proxy that tunnels TLS untouched; write it as http://[user:password@]host:port." $u.scheme) -}}
{{- end -}}
{{- if or (not $u.host) (and $u.path (ne $u.path "/")) $u.query $u.fragment -}}
{{- fail "migrationController.stunnelTcpProxy must be only scheme, optional credentials, host and port; write it as http://[user:password@]host:port." -}}
{{- end -}}
{{- if and $u.userinfo (not (contains ":" $u.userinfo)) -}}
{{- fail "migrationController.stunnelTcpProxy has a user but no password, and stunnel supports only basic authentication; write it as http://user:password@host:port or drop the user." -}}
{{- end -}}
{{- end -}}
{{- $owned := include "mtc.lib.controller.ownedKeys" . | fromJsonArray -}}
{{- range $key, $_ := $mc.extraSpec -}}
{{- if has (snakecase $key) $owned -}}
{{- fail (printf "migrationController.extraSpec sets %s, which the chart renders from its own value; set that value instead (see the values reference) and remove %s from extraSpec." $key $key) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z][a-z0-9_]*$" $key) -}}
{{- fail (printf "migrationController.extraSpec key %s is not snake_case, the spelling the operator reads; write it as %s." $key (snakecase $key)) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.storage" -}}
{{- $r := .Values.replicationRepository -}}
{{- if include "mtc.lib.storage.enabled" . -}}
{{- $p := $r.provider -}}
{{- if and (has $p (list "mcg" "aws" "s3" "gcp")) (not $r.bucket) -}}
{{- fail (printf "replicationRepository.bucket is empty; provider %s needs the bucket name." $p) -}}
{{- end -}}
{{- $discover := include "mtc.lib.storage.mcgDiscover" . -}}
{{- if and (has $p (list "mcg" "s3")) (not $r.endpoint) (not $discover) -}}
{{- fail (printf "replicationRepository.endpoint is empty; provider %s needs the S3 endpoint URL, e.g. https://s3.example.com." $p) -}}
{{- end -}}
{{- if eq $p "azure" -}}
{{- range $field := list "resourceGroup" "storageAccount" "storageContainer" -}}
{{- if not (get $r.azure $field) -}}
{{- fail (printf "replicationRepository.azure.%s is empty; provider azure needs the resource group, storage account and Blob container." $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (not $r.existingSecret) (not $discover) -}}
{{- $c := $r.credentials -}}
{{- $need := list "accessKeyId" "secretAccessKey" -}}
{{- if eq $p "gcp" -}}{{- $need = list "gcpServiceAccountKey" -}}{{- end -}}
{{- if eq $p "azure" -}}{{- $need = list -}}{{- end -}}
{{- range $field := $need -}}
{{- if not (get $c $field) -}}
{{- fail (printf "replicationRepository.credentials.%s is empty; set it, or name a Secret that holds the %s credentials in replicationRepository.existingSecret." $field $p) -}}
{{- end -}}
{{- end -}}
{{- if eq $p "azure" -}}
{{- range $field := list "tenantId" "subscriptionId" "clientId" "clientSecret" -}}
{{- if not (get $c.azure $field) -}}
{{- fail (printf "replicationRepository.credentials.azure.%s is empty; set it, or name a Secret with key azure-credentials in replicationRepository.existingSecret." $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.remotes" -}}
{{- range $name, $remote := .Values.remoteClusters -}}
{{- if and $remote.token $remote.existingSecret -}}
{{- fail (printf "remoteClusters.%s sets both token and existingSecret; keep one of them." $name) -}}
{{- end -}}
{{- if not (or $remote.token $remote.existingSecret) -}}
{{- fail (printf "remoteClusters.%s has neither token nor existingSecret; set the migration-controller ServiceAccount token of that cluster, or a Secret with key saToken." $name) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "mtc.lib.validate.policies" -}}
{{- $np := .Values.networkPolicies -}}
{{- range $list := list "sourceNamespaces" "targetNamespaces" -}}
{{- $seen := dict -}}
{{- range $ns := get $np $list -}}
{{- if hasKey $seen $ns -}}
{{- fail (printf "networkPolicies.%s lists namespace %s twice; list each namespace once." $list $ns) -}}
{{- end -}}
{{- $_ := set $seen $ns true -}}
{{- end -}}
{{- end -}}
{{- if eq $np.mode "narrow" -}}
{{- if and $np.targetNamespaces (eq $np.narrow.ingressFrom "cidrs") (not $np.narrow.sourceCIDRs) -}}
{{- fail "networkPolicies.narrow.ingressFrom is cidrs but networkPolicies.narrow.sourceCIDRs is empty; list the source cluster's node CIDRs, or use ingressFrom router." -}}
{{- end -}}
{{- if and $np.sourceNamespaces (not (or $np.narrow.targetRouterCIDRs $np.narrow.proxyCIDRs)) -}}
{{- fail "networkPolicies.sourceNamespaces is set in mode narrow but networkPolicies.narrow.targetRouterCIDRs and proxyCIDRs are empty; list the target router's CIDRs (or the proxy's) so rsync can reach it." -}}
{{- end -}}
{{- end -}}
{{- $ep := .Values.egressPolicies -}}
{{- $seen := dict -}}
{{- range $ns := $ep.namespaces -}}
{{- if hasKey $seen $ns -}}
{{- fail (printf "egressPolicies.namespaces lists namespace %s twice; list it once, because one egress policy per namespace carries the rules of all peers." $ns) -}}
{{- end -}}
{{- $_ := set $seen $ns true -}}
{{- end -}}
{{- if $ep.namespaces -}}
{{- if not $ep.peers -}}
{{- fail "egressPolicies.namespaces is set but egressPolicies.peers is empty; add the other clusters' CIDRs under egressPolicies.peers.<name>.cidrs." -}}
{{- end -}}
{{- range $name, $peer := $ep.peers -}}
{{- if not (or $peer.cidrs $peer.dnsNames) -}}
{{- fail (printf "egressPolicies.peers.%s has neither cidrs nor dnsNames; add the CIDRs or DNS names of that cluster." $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end }}
