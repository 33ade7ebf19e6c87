// Package kubefake is the one fake cluster the hooks' unit tests share: client-go's fake dynamic
// client, knowing the list kind of every resource the hooks read, and storing each object under its
// real resource (the fake guesses a resource from the kind, which goes wrong for
// SecurityContextConstraints). Only tests import it; what the fake does not model (garbage
// collection, controllers) a test adds with reactors of its own. End-to-end claims are made on the
// lab's real control planes, never here.
package kubefake

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// veleroKinds names the kind of each velero.io resource of kube.SharedCRDs.
var veleroKinds = map[string]string{
	"backuprepositories": "BackupRepository", "backups": "Backup", "backupstoragelocations": "BackupStorageLocation",
	"datadownloads": "DataDownload", "datauploads": "DataUpload", "deletebackuprequests": "DeleteBackupRequest",
	"downloadrequests": "DownloadRequest", "podvolumebackups": "PodVolumeBackup", "podvolumerestores": "PodVolumeRestore",
	"resticrepositories": "ResticRepository", "restores": "Restore", "schedules": "Schedule",
	"serverstatusrequests": "ServerStatusRequest", "volumesnapshotlocations": "VolumeSnapshotLocation",
}

// Kinds maps every resource the hooks use to its kind.
func Kinds() map[schema.GroupVersionResource]string {
	m := map[schema.GroupVersionResource]string{}
	for _, k := range kube.MTCKinds {
		m[k.GVR] = k.Kind
	}
	for _, gvr := range kube.VeleroResources() {
		kind, ok := veleroKinds[gvr.Resource]
		if !ok {
			panic(fmt.Sprintf("kubefake: no kind for the velero.io resource %s; add it to veleroKinds", gvr.Resource))
		}
		m[gvr] = kind
	}
	core := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: resource}
	}
	rbac := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: resource}
	}
	for gvr, kind := range map[schema.GroupVersionResource]string{
		kube.Subscriptions: "Subscription", kube.InstallPlans: "InstallPlan", kube.OperatorGroups: "OperatorGroup",
		kube.Operators: "Operator", kube.CSVs: "ClusterServiceVersion", kube.CatalogSources: "CatalogSource",
		kube.ClusterVersions: "ClusterVersion", kube.CRDs: "CustomResourceDefinition", kube.SCCs: "SecurityContextConstraints",
		kube.OAuthClients: "OAuthClient", kube.DataProtectionApps: "DataProtectionApplication",
		kube.ClusterRoles: "ClusterRole", kube.ClusterRoleBindings: "ClusterRoleBinding", kube.Deployments: "Deployment",
		rbac("roles"): "Role", rbac("rolebindings"): "RoleBinding",
		core("serviceaccounts"): "ServiceAccount", core("configmaps"): "ConfigMap", core("secrets"): "Secret",
	} {
		m[gvr] = kind
	}
	return m
}

// ListKinds maps every resource the hooks use to its list kind, as the fake dynamic client needs.
func ListKinds() map[schema.GroupVersionResource]string {
	m := map[schema.GroupVersionResource]string{}
	for gvr, kind := range Kinds() {
		m[gvr] = kind + "List"
	}
	return m
}

// Dynamic is a fake dynamic client holding objs (each an *unstructured.Unstructured), each under the
// resource its apiVersion and kind name.
func Dynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	dc := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), ListKinds())
	byKind := map[schema.GroupVersionKind]schema.GroupVersionResource{}
	for gvr, kind := range Kinds() {
		byKind[gvr.GroupVersion().WithKind(kind)] = gvr
	}
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			panic(fmt.Sprintf("kubefake: %T is not *unstructured.Unstructured; typed objects go to a fake clientset", o))
		}
		gvk := u.GroupVersionKind()
		gvr, ok := byKind[gvk]
		if !ok {
			gvr, _ = meta.UnsafeGuessKindToResource(gvk)
		}
		if err := dc.Tracker().Create(gvr, u, u.GetNamespace()); err != nil {
			panic(fmt.Sprintf("kubefake: %s %s/%s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), err))
		}
	}
	return dc
}
