{{/* Name of the chart. */}}
{{- define "cairn-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name, with the chart name unless the release already has it. */}}
{{- define "cairn-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cairn-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cairn-operator.labels" -}}
{{ include "cairn-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "cairn-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cairn-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Rules on the objects of Tenants, in every watched namespace. Least privilege: no delete on
Secrets, ConfigMaps, Services or PodDisruptionBudgets (owner references garbage-collect
them). Kubernetes RBAC cannot restrict list/watch to a label, so the Secret watch (which
the operator asks only for its own Secrets, label app.kubernetes.io/managed-by=cairn-operator)
still needs list/watch on Secrets: install with watchNamespaces to keep that to the
namespaces of your Tenants. Keep in step with manifests/operator/rbac.yaml (validate.sh
compares them).
*/}}
{{- define "cairn-operator.tenantRules" -}}
# The controller's watch of Tenants, and the finalizer it adds and removes (merge patch).
- apiGroups: ["cairn.dev"]
  resources: ["tenants"]
  verbs: ["get", "list", "watch", "patch"]
# Status and conditions (server-side apply on the status subresource).
- apiGroups: ["cairn.dev"]
  resources: ["tenants/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the objects it creates (checked by the
# OwnerReferencesPermissionEnforcement admission plugin).
- apiGroups: ["cairn.dev"]
  resources: ["tenants/finalizers"]
  verbs: ["update"]
# Secrets: get reads the ones a Tenant references by name (configuration, external
# certificates) and checks who controls a name before applying; list/watch is the watch of
# the operator's own Secrets (label-selected); create/patch applies the generated TLS
# and CA Secrets.
# ConfigMaps (the CA bundle) and Services: get checks ownership before applying,
# list/watch re-applies them when changed, create/patch applies them. get also reads
# the ConfigMaps a Tenant's policies reference (spec.policies[].configMapRef).
- apiGroups: [""]
  resources: ["secrets", "configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Pods: readiness drives health and rolling restarts (list/watch); delete restarts an
# outdated pod, one at a time while the tenant keeps write quorum.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "delete"]
# Volume claims: list and patch grow them when volumeClaimTemplate grows; delete only when
# a Tenant with volumeClaimRetentionPolicy: Delete is deleted.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "patch", "delete"]
# StatefulSets (one per pool): get checks ownership, list/watch see their state and shape,
# create/patch apply them, delete re-creates one (orphaning its pods) when volumes grow and
# removes them with the volumes (volumeClaimRetentionPolicy: Delete).
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# PodDisruptionBudgets (one per pool): get checks ownership, list/watch re-applies them,
# create/patch applies them.
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch"]
# The ServiceMonitor of prometheusOperator: true: get checks ownership, create/patch
# applies it, delete removes it when prometheusOperator is turned off.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors"]
  verbs: ["get", "create", "patch", "delete"]
# Events on Tenants (a series of the same reason is patched).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Cluster-scoped rule: StorageClasses, read to know whether a volume claim can grow. */}}
{{- define "cairn-operator.clusterRules" -}}
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["get"]
{{- end -}}
