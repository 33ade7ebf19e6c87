package mtcoperator

import rbacv1 "k8s.io/api/rbac/v1"

// The ClusterRoles the legacy 1.7 operator creates, with the rules of mig-legacy-operator
// release-1.7 (roles/migrationcontroller/templates: mig_rbac.yml.j2 for migration-controller,
// velero_supporting.yml.j2 for migration-velero). On Kubernetes 1.11 there is no escalate verb,
// so the operator's own ServiceAccount must hold every one of these rules to create them: the
// double creating them with its pod's token is what checks the chart's legacy ClusterRole.

var crud = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

// legacyControllerRules are migration-controller's rules (with the rsync-anyuid SCC; the
// privileged one only when migration_rsync_privileged is set, which the double does not play).
var legacyControllerRules = []rbacv1.PolicyRule{
	rule([]string{""}, []string{"serviceaccounts", "configmaps", "events"}, crud),
	rule([]string{"apps", "batch", "extensions"}, []string{"*"}, crud),
	rule([]string{""}, []string{"namespaces"}, crud),
	rule([]string{""}, []string{"namespaces/status"}, []string{"get", "update", "patch"}),
	rule([]string{"migration.openshift.io", "velero.io", "route.openshift.io"}, []string{"*"}, []string{"*"}),
	{APIGroups: []string{"security.openshift.io"}, Resources: []string{"securitycontextconstraints"}, Verbs: []string{"use"}, ResourceNames: []string{"rsync-anyuid"}},
	rule([]string{""}, []string{"pods"}, crud),
	rule([]string{""}, []string{"pods/status"}, []string{"get", "update", "patch"}),
	rule([]string{""}, []string{"pods/exec"}, []string{"create"}),
	rule([]string{""}, []string{"pods/log"}, []string{"*"}),
	rule([]string{""}, []string{"persistentvolumes"}, crud),
	rule([]string{""}, []string{"persistentvolumes/status"}, []string{"get", "update", "patch"}),
	rule([]string{""}, []string{"persistentvolumeclaims"}, crud),
	rule([]string{""}, []string{"persistentvolumeclaims/status"}, []string{"get", "update", "patch"}),
	rule([]string{"image.openshift.io"}, []string{"*"}, crud),
	rule([]string{"apps.openshift.io"}, []string{"*"}, crud),
	rule([]string{"admissionregistration.k8s.io"}, []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}, crud),
	rule([]string{""}, []string{"secrets"}, crud),
	rule([]string{""}, []string{"services"}, crud),
	rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, []string{"get", "list", "watch"}),
	rule([]string{"*"}, []string{"*"}, []string{"list", "delete", "watch", "update", "deletecollection"}),
	rule([]string{"build.openshift.io", "rbac.authorization.k8s.io"}, []string{"*"}, []string{"*"}),
}

// legacyVeleroRules are migration-velero's rules.
var legacyVeleroRules = []rbacv1.PolicyRule{
	rule([]string{"build.openshift.io", "migration.openshift.io", "rbac.authorization.k8s.io", "velero.io"}, []string{"*"}, []string{"*"}),
	rule([]string{""}, []string{"serviceaccounts"}, []string{"*"}),
	rule([]string{"packages.operators.coreos.com"}, []string{"packagemanifests"}, []string{"*"}),
	rule([]string{"*"}, []string{"*"}, []string{"get", "watch", "list", "update", "patch", "create", "delete", "assign", "deletecollection"}),
	{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"security.openshift.io"}, Resources: []string{"securitycontextconstraints"}, Verbs: []string{"use"}, ResourceNames: []string{"privileged"}},
}
