{{/* Names and labels shared by every template. */}}

{{- define "lasync.fullname" -}}
{{- if contains "lasync" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-lasync" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lasync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "lasync.labels" -}}
app.kubernetes.io/name: lasync
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "lasync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lasync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The LASYNC_* variables every lasync process shares. */}}
{{- define "lasync.commonEnv" -}}
- name: LASYNC_KAFKA_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
- name: LASYNC_TOPIC_PREFIX
  value: {{ .Values.topicPrefix | quote }}
- name: LASYNC_REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end -}}

{{/*
The workloads: one per daemon, and for fetcher and mapper one per vendor.
Each: name, daemon, vendor ("" when vendor-neutral), the daemon's values,
its consumer group and the topic that group consumes (for KEDA).
*/}}
{{- define "lasync.workloads" -}}
{{- $p := .Values.topicPrefix -}}
{{- $out := list -}}
{{- range $daemon := list "fetcher" "mapper" -}}
{{- range $vendor := $.Values.vendors -}}
{{- $v := deepCopy (index $.Values $daemon) -}}
{{- $over := index (index $.Values $daemon).perVendor $vendor | default dict -}}
{{- $v = mergeOverwrite $v (deepCopy $over) -}}
{{- $topic := ternary (printf "%s.sync-requests.%s" $p $vendor) (printf "%s.snapshots.%s" $p $vendor) (eq $daemon "fetcher") -}}
{{- $out = append $out (dict "name" (printf "%s-%s" $daemon $vendor) "daemon" $daemon "vendor" $vendor "values" $v "group" (printf "%s-%s-%s" $p $daemon $vendor) "topic" $topic) -}}
{{- end -}}
{{- end -}}
{{- $out = append $out (dict "name" "applier" "daemon" "applier" "vendor" "" "values" .Values.applier "group" (printf "%s-applier" $p) "topic" (printf "%s.portal-changes" $p)) -}}
{{- $out = append $out (dict "name" "notifier" "daemon" "notifier" "vendor" "" "values" .Values.notifier "group" (printf "%s-notifier" $p) "topic" "") -}}
{{- toYaml (dict "items" $out) -}}
{{- end -}}

{{/* The Secrets a daemon mounts: directory name -> list of Secret names. */}}
{{- define "lasync.secretMounts" -}}
{{- $d := .daemon -}}
{{- $s := .secrets -}}
{{- $m := dict -}}
{{- if eq $d "fetcher" -}}{{- $_ := set $m "las" $s.las -}}{{- end -}}
{{- if eq $d "applier" -}}{{- $_ := set $m "portal" $s.portal -}}{{- end -}}
{{- if eq $d "notifier" -}}
{{- $_ := set $m "portal" $s.portal -}}
{{- $_ := set $m "webhook" $s.webhook -}}
{{- $_ := set $m "smtp" (list $s.smtp) -}}
{{- end -}}
{{- toYaml $m -}}
{{- end -}}
