{{/*
mtc.lib.images.image: an image reference from a map {registry, repository, tag, digest}.
global.imageRegistry, when set, replaces the registry (disconnected clusters); a digest wins over the tag;
an empty tag falls back to "defaultTag".
Usage: {{ include "mtc.lib.images.image" (dict "context" $ "image" .Values.hooks.image "defaultTag" .Chart.Version) }}
*/}}
{{- define "mtc.lib.images.image" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default .image.registry -}}
{{- $ref := .image.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry .image.repository -}}{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (.image.tag | default .defaultTag | toString) -}}
{{- end -}}
{{- end }}

{{/*
mtc.lib.images.pullSecretNames: the pull Secret names of global.imagePullSecrets plus "extra", deduplicated, as a list in JSON.
Usage: {{ include "mtc.lib.images.pullSecretNames" (dict "context" $ "extra" .Values.hooks.pullTest.pullSecrets) | fromJsonArray }}
*/}}
{{- define "mtc.lib.images.pullSecretNames" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $names := list -}}
{{- range (concat ($global.imagePullSecrets | default list) (.extra | default list)) -}}
{{- $names = append $names . -}}
{{- end -}}
{{- $names | uniq | toJson -}}
{{- end }}

{{/*
mtc.lib.images.pullSecrets: the imagePullSecrets field of a pod spec, empty when there are none.
Usage: {{- with include "mtc.lib.images.pullSecrets" (dict "context" $) }}{{ . | nindent 6 }}{{ end }}
*/}}
{{- define "mtc.lib.images.pullSecrets" -}}
{{- $names := include "mtc.lib.images.pullSecretNames" . | fromJsonArray -}}
{{- if $names -}}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end }}
