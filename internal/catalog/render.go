package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// The FBC schema (operator-registry v1.61.0 alpha/declcfg/declcfg.go and alpha/property/property.go),
// written with our own structs so that the module does not depend on operator-registry.

type fbcPackage struct {
	Schema         string `json:"schema"`
	Name           string `json:"name"`
	DefaultChannel string `json:"defaultChannel"`
	Description    string `json:"description,omitempty"`
}

type fbcChannel struct {
	Schema  string     `json:"schema"`
	Name    string     `json:"name"`
	Package string     `json:"package"`
	Entries []fbcEntry `json:"entries"`
}

type fbcEntry struct {
	Name      string   `json:"name"`
	Replaces  string   `json:"replaces,omitempty"`
	Skips     []string `json:"skips,omitempty"`
	SkipRange string   `json:"skipRange,omitempty"`
}

type fbcBundle struct {
	Schema     string        `json:"schema"`
	Name       string        `json:"name"`
	Package    string        `json:"package"`
	Image      string        `json:"image"`
	Properties []fbcProperty `json:"properties"`
}

type fbcProperty struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type propPackage struct {
	PackageName string `json:"packageName"`
	Version     string `json:"version"`
}

type propPackageRequired struct {
	PackageName  string `json:"packageName"`
	VersionRange string `json:"versionRange"`
}

type propGVK struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// propBundleObject holds an object's JSON; encoding/json writes []byte as base64, as FBC wants.
type propBundleObject struct {
	Data []byte `json:"data"`
}

// WriteFBC writes the catalog as FBC into dir: dir/<package>/catalog.json for each package, a
// stream of JSON documents (olm.package, its olm.channels, its olm.bundles). The same catalog
// always gives the same bytes. Other files in dir are left alone, and `opm serve` reads them too.
// crdDir holds Velero's CRD manifests for the OADP bundles (mtccrds.CRD).
func (c *Catalog) WriteFBC(dir, crdDir string) error {
	for _, p := range c.packages {
		b, err := c.render(p, crdDir)
		if err != nil {
			return fmt.Errorf("failed to render package %s of the OpenShift %s catalog: %w", p.name, c.Minor(), err)
		}
		pdir := filepath.Join(dir, p.name)
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return fmt.Errorf("failed to write the catalog: %w", err)
		}
		if err := os.WriteFile(filepath.Join(pdir, "catalog.json"), b, 0o644); err != nil {
			return fmt.Errorf("failed to write the catalog: %w", err)
		}
	}
	return nil
}

// render writes one package's FBC documents.
func (c *Catalog) render(p *pkg, crdDir string) ([]byte, error) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fbcPackage{Schema: "olm.package", Name: p.name, DefaultChannel: p.defaultChannel, Description: packageDescription[p.name]}); err != nil {
		return nil, err
	}
	for _, ch := range p.channels {
		doc := fbcChannel{Schema: "olm.channel", Name: ch.name, Package: p.name}
		for _, b := range ch.bundles {
			doc.Entries = append(doc.Entries, fbcEntry{Name: b.CSV, Replaces: b.Replaces, Skips: b.Skips, SkipRange: b.SkipRange})
		}
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
	}
	for _, ch := range p.channels {
		for _, b := range ch.bundles {
			doc, err := bundleDoc(b, crdDir)
			if err != nil {
				return nil, fmt.Errorf("bundle %s: %w", b.CSV, err)
			}
			if err := enc.Encode(doc); err != nil {
				return nil, err
			}
		}
	}
	return out.Bytes(), nil
}

var packageDescription = map[string]string{
	MTCPackage:  "Migrates application workloads between OpenShift clusters, namespace by namespace.",
	OADPPackage: "Backs up and restores applications on OpenShift with Velero.",
}

// bundleDoc is a bundle's olm.bundle document: inline (image ""), with its package, GVKs, required
// package, OpenShift limit and objects (the CSV first, then the CRDs and other manifests).
func bundleDoc(b Bundle, crdDir string) (fbcBundle, error) {
	doc := fbcBundle{Schema: "olm.bundle", Name: b.CSV, Package: b.Package, Image: ""}
	add := func(typ string, v any) { doc.Properties = append(doc.Properties, fbcProperty{typ, v}) }
	add("olm.package", propPackage{b.Package, b.Version})
	for _, k := range b.Owned {
		add("olm.gvk", propGVK{k.Group, k.Kind, k.Version})
	}
	if b.OADPRange != "" {
		add("olm.package.required", propPackageRequired{OADPPackage, b.OADPRange})
	}
	if b.MaxOpenShiftVersion != "" {
		add("olm.maxOpenShiftVersion", b.MaxOpenShiftVersion)
	}
	objs := []any{csvFor(b)}
	for _, k := range b.Owned {
		crd, err := mtccrds.CRD(k, "v1", crdDir)
		if err != nil {
			return doc, err
		}
		objs = append(objs, crd.Object)
	}
	if b.Package == OADPPackage {
		objs = append(objs, oadpClusterRoles(b.y)...)
	}
	for _, o := range objs {
		data, err := marshal(o)
		if err != nil {
			return doc, err
		}
		add("olm.bundle.object", propBundleObject{data})
	}
	return doc, nil
}

// marshal is json.Marshal without HTML escaping (skip ranges hold < and >).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// The CSV (operators.coreos.com/v1alpha1 ClusterServiceVersion): what OLM acts on.

type csv struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Metadata   csvMeta `json:"metadata"`
	Spec       csvSpec `json:"spec"`
}

type csvMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type csvSpec struct {
	DisplayName               string        `json:"displayName"`
	Description               string        `json:"description"`
	Provider                  appLink       `json:"provider"`
	Version                   string        `json:"version"`
	Replaces                  string        `json:"replaces,omitempty"`
	Skips                     []string      `json:"skips,omitempty"`
	InstallModes              []installMode `json:"installModes"`
	CustomResourceDefinitions ownedCRDs     `json:"customresourcedefinitions"`
	Install                   install       `json:"install"`
}

type appLink struct {
	Name string `json:"name"`
}

type installMode struct {
	Type      string `json:"type"`
	Supported bool   `json:"supported"`
}

type ownedCRDs struct {
	Owned []crdDescription `json:"owned"`
}

type crdDescription struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Kind        string `json:"kind"`
	DisplayName string `json:"displayName"`
}

type install struct {
	Strategy string      `json:"strategy"`
	Spec     installSpec `json:"spec"`
}

type installSpec struct {
	Permissions        []permissions        `json:"permissions,omitempty"`
	ClusterPermissions []permissions        `json:"clusterPermissions,omitempty"`
	Deployments        []strategyDeployment `json:"deployments"`
}

type strategyDeployment struct {
	Name  string                `json:"name"`
	Spec  appsv1.DeploymentSpec `json:"spec"`
	Label map[string]string     `json:"label,omitempty"`
}

// ownNamespaceOnly are the install modes of every MTC and OADP CSV (MO and OADP CSVs, all lines).
var ownNamespaceOnly = []installMode{
	{"OwnNamespace", true}, {"SingleNamespace", false}, {"MultiNamespace", false}, {"AllNamespaces", false},
}

// csvFor renders a bundle's CSV.
func csvFor(b Bundle) csv {
	c := csv{APIVersion: "operators.coreos.com/v1alpha1", Kind: "ClusterServiceVersion"}
	c.Metadata.Name = b.CSV
	c.Spec.Version = b.Version
	c.Spec.Replaces = b.Replaces
	c.Spec.Skips = b.Skips
	c.Spec.Provider = appLink{"Red Hat"}
	c.Spec.InstallModes = ownNamespaceOnly
	for _, k := range b.Owned {
		c.Spec.CustomResourceDefinitions.Owned = append(c.Spec.CustomResourceDefinitions.Owned,
			crdDescription{Name: k.Name(), Version: k.Version, Kind: k.Kind, DisplayName: k.Kind})
	}
	c.Spec.Install.Strategy = "deployment"
	c.Metadata.Annotations = map[string]string{
		"olm.skipRange":  b.SkipRange,
		"containerImage": b.Image,
		"capabilities":   "Seamless Upgrades",
		"support":        "Red Hat",
		// downstream-prep adds it for MTC (mtc-facts §3); OADP's CSVs carry it too.
		"operators.openshift.io/infrastructure-features": `["Disconnected"]`,
	}
	var dep strategyDeployment
	switch b.Package {
	case MTCPackage:
		c.Metadata.Namespace = MTCNamespace
		c.Metadata.Annotations["operatorframework.io/suggested-namespace"] = MTCNamespace
		c.Spec.DisplayName = MTCDisplayName
		c.Spec.Description = packageDescription[MTCPackage]
		c.Spec.Install.Spec.Permissions, c.Spec.Install.Spec.ClusterPermissions = mtcPermissions(b.y, b.z)
		dep = mtcDeployment(b)
	case OADPPackage:
		c.Metadata.Namespace = OADPNamespace
		c.Metadata.Annotations["operatorframework.io/suggested-namespace"] = OADPNamespace
		c.Spec.DisplayName = OADPDisplayName
		c.Spec.Description = packageDescription[OADPPackage]
		c.Spec.Install.Spec.Permissions, c.Spec.Install.Spec.ClusterPermissions = oadpPermissions(b.y)
		dep = oadpDeployment(b)
	}
	c.Spec.Install.Spec.Deployments = []strategyDeployment{dep}
	return c
}

// mtcDeployment is the MTC operator Deployment of the CSVs (MO@release-1.8 and release-1.7): one
// ansible-operator container "operator" with its runner emptyDir, and the environment from which
// the role composes its operand images as REGISTRY/PROJECT/<X>_REPO:<X>_TAG. The downstream values
// are registry.redhat.io, rhmtc and the downstream repository names (mtc-facts §1b, §7b); Red Hat
// pins digests in the tags, the lab uses the line's floating tag (v1.7, v1.8), which testenv.Images
// holds for the operands the doubles run. WATCH_NAMESPACE comes from metadata.namespace, as in
// the real CSVs (the same namespace as olm.targetNamespaces under OwnNamespace). No probe: the
// real CSVs have none either.
func mtcDeployment(b Bundle) strategyDeployment {
	tag := fmt.Sprintf("v1.%d", b.y)
	env := []corev1.EnvVar{
		{Name: "OPERATOR_NAME", Value: MTCDeployment},
		{Name: "POD_NAME", ValueFrom: fieldRef("metadata.name")},
		{Name: "WATCH_NAMESPACE", ValueFrom: fieldRef("metadata.namespace")},
		{Name: "REGISTRY", Value: "registry.redhat.io"},
		{Name: "PROJECT", Value: "rhmtc"},
	}
	repos := []struct{ key, repo string }{
		{"RSYNC_TRANSFER", "openshift-migration-rsync-transfer-rhel8"},
		{"HOOK_RUNNER", "openshift-migration-hook-runner-rhel8"},
		{"MIG_CONTROLLER", "openshift-migration-controller-rhel8"},
		{"MIG_UI", "openshift-migration-ui-rhel8"},
		{"MIG_LOG_READER", "openshift-migration-log-reader-rhel8"},
		{"MIGRATION_REGISTRY", "openshift-migration-registry-rhel8"},
		{"VELERO", "openshift-migration-velero-rhel8"},
		{"VELERO_PLUGIN", "openshift-velero-plugin-rhel8"},
		{"VELERO_AWS_PLUGIN", "openshift-migration-velero-plugin-for-aws-rhel8"},
		{"VELERO_GCP_PLUGIN", "openshift-migration-velero-plugin-for-gcp-rhel8"},
		// 1.8 only; uncertain: the downstream repository name was not found (mtc-facts §7b),
		// upstream it is velero-plugin-for-mtc; this follows the downstream pattern.
		{"VELERO_MTC_PLUGIN", "openshift-migration-velero-plugin-for-mtc-rhel8"},
		{"VELERO_AZURE_PLUGIN", "openshift-migration-velero-plugin-for-microsoft-azure-rhel8"},
		{"VELERO_RESTIC_RESTORE_HELPER", "openshift-migration-velero-restic-restore-helper-rhel8"},
	}
	for _, r := range repos {
		if r.key == "VELERO_MTC_PLUGIN" && b.y < 8 {
			continue
		}
		env = append(env, corev1.EnvVar{Name: r.key + "_REPO", Value: r.repo}, corev1.EnvVar{Name: r.key + "_TAG", Value: tag})
	}
	labels := map[string]string{"app": "migration"}
	return strategyDeployment{Name: MTCDeployment, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				ServiceAccountName: MTCDeployment,
				SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
				Containers: []corev1.Container{{
					Name:            "operator",
					Image:           b.Image,
					ImagePullPolicy: corev1.PullAlways,
					Env:             env,
					VolumeMounts:    []corev1.VolumeMount{{Name: "runner", MountPath: "/tmp/ansible-operator/runner"}},
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)},
				}},
				Volumes: []corev1.Volume{{Name: "runner", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		},
	}}
}

// oadpDeployment is the OADP operator Deployment of the CSVs (OADP@oadp-1.<y>): container "manager"
// running /manager --leader-elect and watching the namespaces of its OperatorGroup. Left out,
// because nothing in the lab serves or reads them: the health probes (/healthz, /readyz on 8081),
// the resources, the projected token volume (1.4+) and the RELATED_IMAGE_* operand images.
func oadpDeployment(b Bundle) strategyDeployment {
	labels := map[string]string{"control-plane": "controller-manager"}
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)}
	if b.y >= 5 {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		sc.ReadOnlyRootFilesystem = ptr.To(true)
	}
	return strategyDeployment{Name: OADPDeployment, Label: labels, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				ServiceAccountName:            OADPDeployment,
				TerminationGracePeriodSeconds: ptr.To[int64](10),
				SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
				Containers: []corev1.Container{{
					Name:            "manager",
					Image:           b.Image,
					ImagePullPolicy: corev1.PullAlways,
					Command:         []string{"/manager"},
					Args:            []string{"--leader-elect"},
					Env:             []corev1.EnvVar{{Name: "WATCH_NAMESPACE", ValueFrom: fieldRef("metadata.annotations['olm.targetNamespaces']")}},
					SecurityContext: sc,
				}},
			},
		},
	}}
}

func fieldRef(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
}

// oadpClusterRoles are the ClusterRoles an OADP bundle ships besides its CSV (OADP@oadp-1.<y>
// bundle/manifests; mtc-facts §11b): dpa-editor-role and dpa-viewer-role (1.0–1.4) and
// openshift-adp-metrics-reader. OLM creates them as InstallPlan steps. The non-admin roles of
// 1.5 are left out.
func oadpClusterRoles(y int) []any {
	role := func(name string, rules ...map[string]any) map[string]any {
		rs := make([]any, len(rules))
		for i := range rules {
			rs[i] = rules[i]
		}
		return map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": name}, "rules": rs}
	}
	dpaRule := func(resource, verbs string) map[string]any {
		return map[string]any{"apiGroups": []string{"oadp.openshift.io"}, "resources": []string{resource}, "verbs": strings.Split(verbs, ",")}
	}
	var out []any
	if y <= 4 {
		out = append(out,
			role("dpa-editor-role", dpaRule("dataprotectionapplications", "create,delete,get,list,patch,update,watch"), dpaRule("dataprotectionapplications/status", "get")),
			role("dpa-viewer-role", dpaRule("dataprotectionapplications", "get,list,watch"), dpaRule("dataprotectionapplications/status", "get")))
	}
	return append(out, role("openshift-adp-metrics-reader", map[string]any{"nonResourceURLs": []string{"/metrics"}, "verbs": []string{"get"}}))
}
