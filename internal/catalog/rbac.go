package catalog

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// The RBAC of the CSVs: spec.install.spec.permissions (a Role and RoleBinding OLM creates in the
// operator's namespace) and clusterPermissions (a ClusterRole and ClusterRoleBinding), each for a
// ServiceAccount that OLM creates. The rule lists are those of the real CSVs (MO@release-1.7 and
// MO@release-1.8 deploy/olm-catalog/bundle/manifests/crane-operator.v1.<y>.clusterserviceversion.yaml,
// OADP@oadp-1.<y> bundle/manifests/oadp-operator.clusterserviceversion.yaml), in their order. The
// rules that changed within MTC 1.8 change at the z that released them (git log of the 1.8 CSV);
// every 1.7.z gets the rules of the release-1.7 tip (1.7.19) and every OADP 1.<y>.z those of the
// oadp-1.<y> tip (uncertain: earlier z's CSVs were not compared).
//
// What the MTC operator creates itself (MO@release-1.8 and release-1.7 roles/migrationcontroller) is
// namespaced, except SecurityContextConstraints rsync-anyuid, OAuthClient migration and namespace
// labels, which its clusterPermissions cover. It creates no ClusterRole in OLM mode: the
// migration-controller ServiceAccount gets its cluster rules from the CSV's clusterPermissions
// (only the legacy 1.7 operator of OpenShift 3 creates ClusterRoles migration-controller and
// migration-velero). Its only RBAC objects are Role and RoleBinding prometheus-k8s in
// openshift-migration (get/list/watch on services, endpoints and pods), and the API server lets it
// create and bind that Role because migration-operator already holds those rules here (core
// resources "*") and roles/rolebindings create: no escalate or bind verb is needed.

// rule builds a PolicyRule from comma-separated API groups, resources and verbs; the empty string
// is the core group.
func rule(groups, resources, verbs string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: list(groups), Resources: list(resources), Verbs: list(verbs)}
}

// named is rule restricted to resource names.
func named(groups, resources, names, verbs string) rbacv1.PolicyRule {
	r := rule(groups, resources, verbs)
	r.ResourceNames = list(names)
	return r
}

// nonResource builds a rule on non-resource URLs.
func nonResource(urls, verbs string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{NonResourceURLs: list(urls), Verbs: list(verbs)}
}

func list(s string) []string { return strings.Split(s, ",") }

// permissions is the RBAC of one ServiceAccount in a CSV.
type permissions struct {
	ServiceAccountName string              `json:"serviceAccountName"`
	Rules              []rbacv1.PolicyRule `json:"rules"`
}

// mtcPermissions returns the namespaced and cluster permissions of the CSV of MTC 1.<y>.<z>.
func mtcPermissions(y, z int) (ns, cluster []permissions) {
	var op []rbacv1.PolicyRule
	if y == 8 && z >= 8 {
		// MO@release-1.8 0cf2b62 (1.8.8): the role reads the OADP CSV to pick restic or nodeAgent.
		op = append(op, rule("operators.coreos.com", "clusterserviceversions", "list,get"))
	}
	op = append(op,
		rule("rbac.authorization.k8s.io", "roles,rolebindings", "list,get,create,delete,patch,update,watch"),
		rule("oadp.openshift.io", "*", "*"),
		rule("apps", "daemonsets,deployments,replicasets", "*"),
		rule("monitoring.coreos.com", "servicemonitors", "list,get,create,delete,update,patch,watch"),
		rule("migration.openshift.io", "*", "*"),
		rule("route.openshift.io", "routes", "*"),
		rule("", "pods,services,endpoints,persistentvolumeclaims,events,configmaps,secrets,serviceaccounts", "*"),
	)
	opCluster := []rbacv1.PolicyRule{
		rule("oauth.openshift.io", "oauthclients", "*"),
		rule("", "namespaces", "*"),
		rule("config.openshift.io", "infrastructures", "get"),
		// "edit" is not a Kubernetes verb; the real CSV has it, so it stays.
		rule("security.openshift.io", "securitycontextconstraints", "create,list,get,watch,edit,patch,delete"),
	}
	controller := []rbacv1.PolicyRule{
		rule("", "serviceaccounts,configmaps,events", "get,list,watch,create,update,patch,delete"),
		rule("apps,batch,extensions", "*", "get,list,watch,create,update,patch,delete"),
		rule("", "namespaces", "get,list,watch,create,update,patch,delete"),
		rule("", "namespaces/status", "get,update,patch"),
		rule("migration.openshift.io,velero.io", "*", "*"),
		rule("", "pods", "get,list,watch,create,update,patch,delete"),
		rule("", "pods/status", "get,update,patch"),
		rule("", "pods/exec", "create"),
		rule("", "pods/log", "*"),
		rule("", "persistentvolumes", "get,list,watch,create,update,patch,delete"),
		rule("", "persistentvolumes/status", "get,update,patch"),
		rule("", "persistentvolumeclaims", "get,list,watch,create,update,patch,delete"),
		rule("", "persistentvolumeclaims/status", "get,update,patch"),
		rule("image.openshift.io", "*", "get,list,watch,create,update,patch,delete"),
		named("security.openshift.io", "securitycontextconstraints", "privileged,rsync-anyuid", "use"),
		rule("config.openshift.io", "ingresses", "get,list,watch"),
		rule("apps.openshift.io,route.openshift.io", "*", "get,list,watch,create,update,patch,delete"),
		rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations", "get,list,watch,create,update,patch,delete"),
		rule("", "secrets", "get,list,watch,create,update,patch,delete"),
		rule("", "services", "get,list,watch,create,update,patch,delete"),
		rule("storage.k8s.io", "storageclasses", "get,list,watch"),
		rule("*", "*", "list,update,watch,delete,deletecollection"),
		rule("build.openshift.io,rbac.authorization.k8s.io", "*", "*"),
	}
	if y == 8 && z >= 4 {
		// MO@release-1.8: #902 (1.8.4) DataVolumes and VirtualMachines, spelled "VirtualMachines" in
		// 1.8.4 and fixed by #910; #907 and #911/#912 (1.8.5) VMIs, VMIMs and the Prometheus API.
		vms := "virtualmachines"
		if z == 4 {
			vms = "VirtualMachines"
		}
		virt := []rbacv1.PolicyRule{
			rule("cdi.kubevirt.io", "datavolumes", "create,delete,list,watch,get"),
			rule("kubevirt.io", vms, "update,list,get,watch"),
		}
		if z >= 5 {
			virt = append(virt,
				rule("kubevirt.io", "virtualmachineinstances,virtualmachineinstancemigrations", "list,get,watch"),
				named("monitoring.coreos.com", "prometheuses/api", "k8s", "get,create,update"),
			)
		}
		opCluster = append(opCluster, virt...)
		controller = append(controller, virt...)
	}
	return []permissions{{MTCDeployment, op}},
		[]permissions{{MTCDeployment, opCluster}, {MTCControllerServiceAccount, controller}}
}

// oadpPermissions returns the namespaced and cluster permissions of the CSV of OADP 1.<y>.
func oadpPermissions(y int) (ns, cluster []permissions) {
	ns = []permissions{{OADPDeployment, []rbacv1.PolicyRule{
		rule("", "configmaps", "get,list,watch,create,update,patch,delete"),
		rule("coordination.k8s.io", "leases", "get,list,watch,create,update,patch,delete"),
		rule("", "events", "create,patch"),
	}}}
	velero := permissions{"velero", []rbacv1.PolicyRule{
		rule("build.openshift.io,migration.openshift.io,rbac.authorization.k8s.io,velero.io", "*", "*"),
		rule("", "serviceaccounts", "*"),
		rule("packages.operators.coreos.com", "packagemanifests", "*"),
		rule("*", "*", "get,watch,list,update,patch,create,delete,assign,deletecollection"),
		nonResource("*", "*"),
		named("security.openshift.io", "securitycontextconstraints", "privileged", "use"),
	}}
	crud := "create,delete,get,list,patch,update,watch"
	var manager []rbacv1.PolicyRule
	switch y {
	case 0, 1, 2, 3, 4:
		switch y {
		case 2:
			manager = append(manager, rule("cloudcredential.openshift.io", "credentialsrequests", "create"))
		case 3:
			manager = append(manager,
				rule("config.openshift.io", "infrastructures", "get"),
				rule("cloudcredential.openshift.io", "credentialsrequests", "create"))
		case 4:
			manager = append(manager,
				rule("config.openshift.io", "infrastructures", "get,list,watch"),
				rule("cloudcredential.openshift.io", "credentialsrequests", "create,update,get"))
		}
		manager = append(manager, rule("oadp.openshift.io", "*", crud))
		if y == 1 || y == 2 {
			manager = append(manager,
				rule("datamover.oadp.openshift.io", "*", "*"),
				rule("volsync.backube", "*", "*"),
				rule("snapshot.storage.k8s.io", "volumesnapshots,volumesnapshotcontents", crud+",deletecollection"),
				rule("snapshot.storage.k8s.io", "volumesnapshotclasses", "create,get,list,patch,update,watch"),
				rule("storage.k8s.io", "storageclasses", "create,get,list,patch,update,watch"))
		}
		manager = append(manager,
			// "corev1" is not an API group; the real CSVs have it, so it stays.
			rule("coordination.k8s.io,corev1", "secrets", crud),
			rule("oadp.openshift.io", "buckets", crud),
			rule("oadp.openshift.io", "buckets/finalizers", "update"),
			rule("oadp.openshift.io", "buckets/status", "get,patch,update"),
			rule("oadp.openshift.io", "leases", crud),
			rule("velero.io", "*", crud),
			rule("security.openshift.io", "securitycontextconstraints", "list,get,create,delete,patch,update,watch"))
		if y == 0 {
			manager = append(manager,
				named("security.openshift.io", "securitycontextconstraints", "privileged,velero-privileged", "use"),
				rule("", "secrets,configmaps,pods,services,serviceaccounts,endpoints", "list,get,create,delete,patch,update,watch"))
		} else {
			manager = append(manager,
				named("security.openshift.io", "securitycontextconstraints", "privileged", "use"),
				rule("", "secrets,configmaps,pods,services,serviceaccounts,endpoints,persistentvolumeclaims,events", "list,get,create,delete,deletecollection,patch,update,watch"),
				rule("", "namespaces", "list,get,create,patch,update,watch"))
		}
		manager = append(manager,
			rule("apps", "deployments,daemonsets", crud),
			rule("route.openshift.io", "routes", crud),
			rule("monitoring.coreos.com", "servicemonitors", "get,create,list,delete,update,patch,watch"),
			rule("authentication.k8s.io", "tokenreviews", "create"),
			rule("authorization.k8s.io", "subjectaccessreviews", "create"))
		return ns, []permissions{{OADPDeployment, manager}, velero}
	default: // 1.5
		nonAdmin := permissions{"non-admin-controller", []rbacv1.PolicyRule{
			rule("", "namespaces", "get,list,watch"),
			rule("", "secrets", crud),
			rule("oadp.openshift.io", "dataprotectionapplications", "list"),
			rule("oadp.openshift.io", "nonadminbackups,nonadminbackupstoragelocationrequests,nonadminbackupstoragelocations,nonadmindownloadrequests,nonadminrestores", crud),
			rule("oadp.openshift.io", "nonadminbackups/finalizers,nonadminbackupstoragelocations/finalizers,nonadmindownloadrequests/finalizers,nonadminrestores/finalizers", "update"),
			rule("oadp.openshift.io", "nonadminbackups/status,nonadminbackupstoragelocationrequests/status,nonadminbackupstoragelocations/status,nonadmindownloadrequests/status,nonadminrestores/status", "get,patch,update"),
			rule("velero.io", "backups,backupstoragelocations,deletebackuprequests,downloadrequests,restores", crud),
			rule("velero.io", "backupstoragelocations/status", "get,patch,update"),
			rule("velero.io", "datadownloads,datauploads,podvolumebackups,podvolumerestores", "get,list,watch"),
			rule("velero.io", "downloadrequests/status", "get"),
		}}
		manager = []rbacv1.PolicyRule{
			rule("", "configmaps,endpoints,events,persistentvolumeclaims,pods,secrets,serviceaccounts,services", "create,delete,deletecollection,get,list,patch,update,watch"),
			rule("", "namespaces", "create,get,list,patch,update,watch"),
			// "persistentvolumerclaims" is misspelt in the real CSV; it stays.
			rule("", "persistentvolumerclaims,persistentvolumes", "get"),
			rule("apps", "daemonsets,deployments", crud),
			rule("cloudcredential.openshift.io", "credentialsrequests", "create,get,update"),
			rule("config.openshift.io", "infrastructures", "get,list,watch"),
			rule("coordination.k8s.io,corev1", "secrets", crud),
			rule("monitoring.coreos.com", "servicemonitors", crud),
			rule("oadp.openshift.io", "*,cloudstorages,dataprotectionapplications,dataprotectiontests", crud),
			rule("oadp.openshift.io", "cloudstorages/finalizers,dataprotectionapplications/finalizers,dataprotectiontests/finalizers", "update"),
			rule("oadp.openshift.io", "cloudstorages/status,dataprotectionapplications/status,dataprotectiontests/status", "get,patch,update"),
			rule("route.openshift.io", "routes", crud),
			rule("security.openshift.io", "securitycontextconstraints", crud),
			named("security.openshift.io", "securitycontextconstraints", "privileged", "use"),
			rule("snapshot.storage.k8s.io", "volumesnapshotclasses,volumesnapshotcontents", "delete,get,list,update,watch"),
			rule("snapshot.storage.k8s.io", "volumesnapshots", "create,delete,get,list,update,watch"),
			rule("velero.io", "*,backuprepositories,backups,backupstoragelocations,datadownloads,datauploads,deletebackuprequests,downloadrequests,podvolumebackups,podvolumerestores,restores,schedules,serverstatusrequests,volumesnapshotlocations", crud),
			rule("velero.io", "backuprepositories/status,backups/status,backupstoragelocations/status,datadownloads/status,datauploads/status,deletebackuprequests/status,downloadrequests/status,podvolumebackups/status,podvolumerestores/status,restores/status,schedules/status,serverstatusrequests/status", "get,patch,update"),
			rule("authentication.k8s.io", "tokenreviews", "create"),
			rule("authorization.k8s.io", "subjectaccessreviews", "create"),
		}
		return ns, []permissions{nonAdmin, {OADPDeployment, manager}, velero}
	}
}
