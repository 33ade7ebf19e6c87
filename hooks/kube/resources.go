package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Namespace is where MTC lives; mig-controller hard-codes it.
const Namespace = "openshift-migration"

// FieldManager is the server-side apply field manager of everything the hooks apply.
const FieldManager = "mtc-helm"

// Groups the hooks look at.
const (
	MigrationGroup = "migration.openshift.io"
	VeleroGroup    = "velero.io"
	// OADPGroup is the group of the CRDs the OADP operator brings besides Velero's
	// (DataProtectionApplication, CloudStorage).
	OADPGroup = "oadp.openshift.io"
	// DatamoverGroup is the group of the VolSync data mover CRDs of OADP 1.1 and 1.2.
	DatamoverGroup = "datamover.oadp.openshift.io"
	OLMGroup       = "operators.coreos.com"
	ConfigGroup    = "config.openshift.io"
)

// The MTC custom resources (all v1alpha1, Namespaced).
var (
	MigrationControllers = mig("migrationcontrollers")
	MigClusters          = mig("migclusters")
	MigStorages          = mig("migstorages")
	MigPlans             = mig("migplans")
	MigMigrations        = mig("migmigrations")
	MigHooks             = mig("mighooks")
	MigAnalytics         = mig("miganalytics")
	DVMs                 = mig("directvolumemigrations")
	DVMPs                = mig("directvolumemigrationprogresses")
	DIMs                 = mig("directimagemigrations")
	DISMs                = mig("directimagestreammigrations")
)

// MTCKinds maps each MTC kind to its resource, in the order an export lists them.
var MTCKinds = []struct {
	Kind string
	GVR  schema.GroupVersionResource
}{
	{"MigrationController", MigrationControllers},
	{"MigCluster", MigClusters},
	{"MigStorage", MigStorages},
	{"MigHook", MigHooks},
	{"MigPlan", MigPlans},
	{"MigMigration", MigMigrations},
	{"MigAnalytic", MigAnalytics},
	{"DirectVolumeMigration", DVMs},
	{"DirectVolumeMigrationProgress", DVMPs},
	{"DirectImageMigration", DIMs},
	{"DirectImageStreamMigration", DISMs},
}

// SharedCRDs are the velero.io, oadp.openshift.io and datamover.oadp.openshift.io CRDs that the OADP
// bundles 1.0 to 1.5 and the legacy operator's Velero bring: the only CRDs of those groups the cleanup
// deletes, and the only ones its ClusterRole may delete (charts/mtc-lib/templates/_hook-cleanup.tpl
// lists the same names; internal/catalog checks them against every OADP bundle).
var SharedCRDs = []string{
	"backuprepositories.velero.io", "backups.velero.io", "backupstoragelocations.velero.io",
	"datadownloads.velero.io", "datauploads.velero.io", "deletebackuprequests.velero.io",
	"downloadrequests.velero.io", "podvolumebackups.velero.io", "podvolumerestores.velero.io",
	"resticrepositories.velero.io", "restores.velero.io", "schedules.velero.io",
	"serverstatusrequests.velero.io", "volumesnapshotlocations.velero.io",
	"cloudstorages.oadp.openshift.io", "dataprotectionapplications.oadp.openshift.io",
	"dataprotectiontests.oadp.openshift.io", "nonadminbackups.oadp.openshift.io",
	"nonadminbackupstoragelocationrequests.oadp.openshift.io", "nonadminbackupstoragelocations.oadp.openshift.io",
	"nonadmindownloadrequests.oadp.openshift.io", "nonadminrestores.oadp.openshift.io",
	"volumesnapshotbackups.datamover.oadp.openshift.io", "volumesnapshotrestores.datamover.oadp.openshift.io",
}

// OperatorClusterRBAC are the names of the ClusterRoles and ClusterRoleBindings MTC's operator makes
// outside its namespace (the controller's, and Velero's of the legacy operator): the only cluster RBAC
// of MTC the cleanup deletes, and the only names its ClusterRole may delete
// (charts/mtc-lib/templates/_hook-cleanup.tpl lists the same; internal/charttest checks both agree).
var OperatorClusterRBAC = []string{"migration-controller", "migration-velero"}

// OADPBundleClusterRoles are the ClusterRoles OADP's bundle ships: OLM creates them from the
// InstallPlan, shared by every OADP install of the cluster, and never deletes them.
var OADPBundleClusterRoles = []string{"dpa-editor-role", "dpa-viewer-role", "openshift-adp-metrics-reader"}

// VeleroResources are the velero.io resources of SharedCRDs, each at the version Velero serves it.
func VeleroResources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, n := range SharedCRDs {
		plural, ok := strings.CutSuffix(n, "."+VeleroGroup)
		if !ok {
			continue
		}
		out = append(out, schema.GroupVersionResource{Group: VeleroGroup, Version: SharedCRDVersion(n), Resource: plural})
	}
	return out
}

// MTCCRDs are the migration.openshift.io CRDs, one per MTC kind.
func MTCCRDs() []string {
	out := make([]string, len(MTCKinds))
	for i, k := range MTCKinds {
		out[i] = k.GVR.Resource + "." + MigrationGroup
	}
	return out
}

// OLM, OpenShift and Velero resources.
var (
	Subscriptions = schema.GroupVersionResource{Group: OLMGroup, Version: "v1alpha1", Resource: "subscriptions"}
	InstallPlans  = schema.GroupVersionResource{Group: OLMGroup, Version: "v1alpha1", Resource: "installplans"}
	// OperatorGroups is OLM's operators.coreos.com/v1 OperatorGroup.
	OperatorGroups = schema.GroupVersionResource{Group: OLMGroup, Version: "v1", Resource: "operatorgroups"}
	// Operators are OLM's cluster-scoped Operator objects, named <package>.<namespace>.
	Operators           = schema.GroupVersionResource{Group: OLMGroup, Version: "v1", Resource: "operators"}
	CSVs                = schema.GroupVersionResource{Group: OLMGroup, Version: "v1alpha1", Resource: "clusterserviceversions"}
	CatalogSources      = schema.GroupVersionResource{Group: OLMGroup, Version: "v1alpha1", Resource: "catalogsources"}
	ClusterVersions     = schema.GroupVersionResource{Group: ConfigGroup, Version: "v1", Resource: "clusterversions"}
	CRDs                = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	SCCs                = schema.GroupVersionResource{Group: "security.openshift.io", Version: "v1", Resource: "securitycontextconstraints"}
	OAuthClients        = schema.GroupVersionResource{Group: "oauth.openshift.io", Version: "v1", Resource: "oauthclients"}
	DataProtectionApps  = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "dataprotectionapplications"}
	VeleroBackups       = schema.GroupVersionResource{Group: VeleroGroup, Version: "v1", Resource: "backups"}
	VeleroRestores      = schema.GroupVersionResource{Group: VeleroGroup, Version: "v1", Resource: "restores"}
	VeleroSchedules     = schema.GroupVersionResource{Group: VeleroGroup, Version: "v1", Resource: "schedules"}
	ClusterRoles        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	ClusterRoleBindings = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	Deployments         = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func mig(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: MigrationGroup, Version: "v1alpha1", Resource: resource}
}

// MTCResourceForKind returns the resource of an MTC kind ("MigStorage" → migstorages).
func MTCResourceForKind(kind string) (schema.GroupVersionResource, bool) {
	for _, k := range MTCKinds {
		if strings.EqualFold(k.Kind, kind) {
			return k.GVR, true
		}
	}
	return schema.GroupVersionResource{}, false
}

// CRDName is the name of the CustomResourceDefinition that serves gvr.
func CRDName(gvr schema.GroupVersionResource) string { return gvr.Resource + "." + gvr.Group }

// MTC operator package and object names.
const (
	OperatorPackage    = "mtc-operator"
	CSVPrefix          = "mtc-operator."
	LegacyOperator     = "migration-operator"
	ControllerName     = "migration-controller"
	OADPCSVPrefix      = "oadp-operator."
	HelmReleaseNameKey = "meta.helm.sh/release-name"
	HelmReleaseNSKey   = "meta.helm.sh/release-namespace"
	// InstanceLabel is the label the chart puts on what it renders, configure's objects included: the
	// release's name.
	InstanceLabel = "app.kubernetes.io/instance"
)

// OADPPackages are the OLM package names OADP is published under (downstream and upstream).
var OADPPackages = []string{"redhat-oadp-operator", "oadp-operator"}

// IsOADPCSV reports whether a ClusterServiceVersion name is OADP's: oadp-operator.v<version> (the
// bundles OLM installs for MTC) or redhat-oadp-operator.v<version>.
func IsOADPCSV(name string) bool {
	return strings.HasPrefix(name, OADPCSVPrefix) || strings.HasPrefix(name, "redhat-oadp-operator.")
}

// Truthy reads a MigrationController switch as the operator's Ansible role does (its bool filter): a
// bool, or yes/no, on/off, true/false, y/n, 1/0 as strings.
func Truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(x) {
		case "true", "yes", "on", "y", "1":
			return true
		}
	}
	return false
}
