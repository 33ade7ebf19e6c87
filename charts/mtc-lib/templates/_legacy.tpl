{{/*
The legacy operator (platform ocp3, OpenShift 3.11 = Kubernetes 1.11): the objects of its operator.yml,
rendered only from fields the 1.11 API knows. The namespace itself is Helm's (--create-namespace).

OpenShift creates the RoleBindings system:deployers, system:image-builders and system:image-pullers in
every new project, so operator.yml's copies of them fail with AlreadyExists. The chart renders the same
grants under its own names (mtc-deployers, mtc-image-builders, mtc-image-pullers): RBAC is additive, the
grant holds whether OpenShift's binding exists or not, an install never collides with them, and uninstall
removes only what the release created. (lookup cannot decide it: it sees nothing under helm template or
a client dry-run.)
*/}}

{{/*
mtc.lib.legacy.enabled: "true" on the legacy path.
*/}}
{{- define "mtc.lib.legacy.enabled" -}}
{{- if eq (include "mtc.lib.platform.operatorMode" .) "legacy" -}}true{{- end -}}
{{- end }}

{{- define "mtc.lib.legacy.serviceAccount" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
apiVersion: v1
kind: ServiceAccount
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
{{- end }}
{{- end }}

{{/*
mtc.lib.legacy.crd: the MigrationController CRD, v1beta1 where the API has nothing newer.
*/}}
{{- define "mtc.lib.legacy.crd" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
{{- $apiVersion := include "mtc.lib.platform.crdAPIVersion" . -}}
apiVersion: {{ $apiVersion }}
kind: CustomResourceDefinition
{{ include "mtc.lib.labels.clusterMetadata" (dict "context" . "name" "migrationcontrollers.migration.openshift.io" "component" "operator") }}
spec:
  group: migration.openshift.io
  names:
    kind: MigrationController
    listKind: MigrationControllerList
    plural: migrationcontrollers
    singular: migrationcontroller
  scope: Namespaced
{{- if eq $apiVersion "apiextensions.k8s.io/v1beta1" }}
  version: v1alpha1
  versions:
    - name: v1alpha1
      served: true
      storage: true
  subresources:
    status: {}
{{- else }}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources:
        status: {}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
{{- end }}
{{- end }}
{{- end }}

{{- define "mtc.lib.legacy.role" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
rules:
  - apiGroups: [""]
    resources: ["pods", "services", "endpoints", "persistentvolumeclaims", "events", "configmaps", "secrets", "serviceaccounts"]
    verbs: ["*"]
  - apiGroups: ["apps"]
    resources: ["deployments", "daemonsets", "replicasets", "statefulsets"]
    verbs: ["*"]
  - apiGroups: ["monitoring.coreos.com"]
    resources: ["servicemonitors"]
    verbs: ["get", "create"]
  - apiGroups: ["migration.openshift.io"]
    resources: ["*"]
    verbs: ["*"]
{{- end }}
{{- end }}

{{- define "mtc.lib.legacy.roleBinding" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: migration-operator
subjects:
  - kind: ServiceAccount
    name: migration-operator
    namespace: {{ .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
mtc.lib.legacy.clusterRole: what the legacy operator needs cluster-wide, with the scope of upstream's
operator.yml. It creates CRDs, SCCs and the ClusterRoles migration-controller and migration-velero, and
Kubernetes 1.11 has no escalate verb: a ServiceAccount may create a ClusterRole only with rules it holds
itself, so this role holds every rule of those two (every resource with all verbs up to assign and
deletecollection, all nonResourceURLs, serviceaccounts and pods/log, packagemanifests). Narrowing it
breaks Velero on 3.11.
*/}}
{{- define "mtc.lib.legacy.clusterRole" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
{{ include "mtc.lib.labels.clusterMetadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
rules:
  - apiGroups: [""]
    resources: ["configmaps", "namespaces", "secrets", "services"]
    verbs: ["*"]
  - apiGroups: ["noobaa.io"]
    resources: ["noobaas"]
    verbs: ["*"]
  - apiGroups: ["apiextensions.k8s.io"]
    resources: ["customresourcedefinitions"]
    verbs: ["*"]
  - apiGroups: ["oauth.openshift.io"]
    resources: ["oauthclients"]
    verbs: ["*"]
  - apiGroups: ["config.openshift.io"]
    resources: ["apiservers"]
    verbs: ["*"]
  - apiGroups: ["operator.openshift.io"]
    resources: ["kubeapiservers", "authentications"]
    verbs: ["*"]
  - apiGroups: ["config.openshift.io"]
    resources: ["infrastructures", "clusterversions"]
    verbs: ["get"]
  - apiGroups: ["rbac.authorization.k8s.io", "security.openshift.io", "build.openshift.io", "migration.openshift.io", "velero.io", "packages.operators.coreos.com", "route.openshift.io"]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["get", "watch", "list", "update", "patch", "create", "delete", "assign", "deletecollection"]
  - apiGroups: [""]
    resources: ["serviceaccounts", "pods/log"]
    verbs: ["*"]
  - nonResourceURLs: ["*"]
    verbs: ["*"]
{{- end }}
{{- end }}

{{- define "mtc.lib.legacy.clusterRoleBinding" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
{{ include "mtc.lib.labels.clusterMetadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: migration-operator
subjects:
  - kind: ServiceAccount
    name: migration-operator
    namespace: {{ .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
mtc.lib.legacy.projectRoleBindings: operator.yml's project bindings under the chart's own names (see above).
*/}}
{{- define "mtc.lib.legacy.projectRoleBindings" -}}
{{- $ctx := . -}}
{{- if and (include "mtc.lib.legacy.enabled" .) .Values.legacy.projectRoleBindings -}}
{{- $ns := .Release.Namespace -}}
{{- $bindings := list
  (dict "name" "mtc-deployers" "role" "system:deployer" "kind" "ServiceAccount" "subject" "deployer")
  (dict "name" "mtc-image-builders" "role" "system:image-builder" "kind" "ServiceAccount" "subject" "builder")
  (dict "name" "mtc-image-pullers" "role" "system:image-puller" "kind" "Group" "subject" (printf "system:serviceaccounts:%s" $ns)) -}}
{{- range $bindings }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
{{ include "mtc.lib.labels.metadata" (dict "context" $ctx "name" .name "component" "operator") }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .role }}
subjects:
  {{- if eq .kind "Group" }}
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: {{ .subject }}
  {{- else }}
  - kind: ServiceAccount
    name: {{ .subject }}
    namespace: {{ $ns }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mtc.lib.legacy.deployment: the legacy operator. It composes operand images as
REGISTRY/PROJECT/<NAME>_REPO:<NAME>_TAG; global.imageRegistry replaces REGISTRY for mirrors. Its own
image is pulled Always when it floats on a tag, IfNotPresent when pinned by digest (unless set).
*/}}
{{- define "mtc.lib.legacy.deployment" -}}
{{- if include "mtc.lib.legacy.enabled" . -}}
{{- $l := .Values.legacy -}}
{{- $global := .Values.global | default dict -}}
apiVersion: apps/v1
kind: Deployment
{{ include "mtc.lib.labels.metadata" (dict "context" . "name" "migration-operator" "component" "operator") }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: migration
      {{- include "mtc.lib.labels.selector" (dict "context" .) | nindent 6 }}
  template:
    metadata:
      labels:
        app: migration
        {{- include "mtc.lib.labels" (dict "context" . "component" "operator") | nindent 8 }}
    spec:
      serviceAccountName: migration-operator
      {{- include "mtc.lib.security.pod" . | nindent 6 }}
      {{- with include "mtc.lib.images.pullSecrets" (dict "context" .) }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with $l.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $l.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: operator
          image: {{ include "mtc.lib.images.image" (dict "context" . "image" $l.image "defaultTag" .Chart.AppVersion) }}
          imagePullPolicy: {{ $l.image.pullPolicy | default (ternary "IfNotPresent" "Always" (not (empty $l.image.digest))) }}
          env:
            - name: OPERATOR_NAME
              value: migration-operator
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: WATCH_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: REGISTRY
              value: {{ $global.imageRegistry | default $l.operandRegistry | quote }}
            - name: PROJECT
              value: {{ $l.operandProject | quote }}
            {{- /* The role makes <REPO>:<TAG>; a digest goes in as Red Hat's operator.yml passes it,
            <repository>@sha256 and the hex digest, so that the image is <repository>@sha256:<hex>. */}}
            {{- range $key, $image := $l.operandImages }}
            {{- $digest := $image.digest | default "" }}
            - name: {{ printf "%s_REPO" (snakecase $key | upper) }}
              value: {{ ternary (printf "%s@sha256" $image.repository) $image.repository (ne $digest "") | quote }}
            - name: {{ printf "%s_TAG" (snakecase $key | upper) }}
              value: {{ ternary (trimPrefix "sha256:" $digest) $image.tag (ne $digest "") | quote }}
            {{- end }}
          {{- with $l.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            runAsNonRoot: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: runner
              mountPath: /tmp/ansible-operator/runner
      volumes:
        - name: runner
          emptyDir: {}
{{- end }}
{{- end }}
