package version

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Installed describes an MTC install found on a cluster.
type Installed struct {
	// Version is the MTC version ("1.8.5"), empty when none was found.
	Version string `json:"version,omitempty"`
	// VersionSource says which object gave the version.
	VersionSource string `json:"versionSource,omitempty"`
	// Mode is "olm" or "legacy".
	Mode string `json:"mode,omitempty"`
	// Subscriptions are the mtc-operator Subscriptions, "namespace/name".
	Subscriptions []ObjectRef `json:"subscriptions,omitempty"`
	// CSV is the mtc-operator ClusterServiceVersion in the namespace.
	CSV string `json:"csv,omitempty"`
	// LegacyDeployment is set when a migration-operator Deployment runs that OLM does not own.
	LegacyDeployment *ObjectRef `json:"legacyDeployment,omitempty"`
}

// ObjectRef names an object and the Helm release that owns it, if any.
type ObjectRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Release   string `json:"release,omitempty"`
}

func (o ObjectRef) String() string { return o.Namespace + "/" + o.Name }

// Found reports whether any trace of MTC was found.
func (i *Installed) Found() bool {
	return i != nil && (i.Version != "" || len(i.Subscriptions) > 0 || i.CSV != "" || i.LegacyDeployment != nil)
}

func (i *Installed) String() string {
	if !i.Found() {
		return "none"
	}
	var parts []string
	if i.Version != "" {
		parts = append(parts, "MTC "+i.Version)
	} else {
		parts = append(parts, "MTC of unknown version")
	}
	for _, s := range i.Subscriptions {
		parts = append(parts, "Subscription "+s.String()+releaseNote(s.Release))
	}
	if i.CSV != "" {
		parts = append(parts, "CSV "+i.CSV)
	}
	if i.LegacyDeployment != nil {
		parts = append(parts, "legacy Deployment "+i.LegacyDeployment.String()+releaseNote(i.LegacyDeployment.Release))
	}
	return strings.Join(parts, ", ")
}

func releaseNote(r string) string {
	if r == "" {
		return " (not from Helm)"
	}
	return " (release " + r + ")"
}

// Inspector reads what MTC a cluster runs.
type Inspector struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Host      string
	Namespace string
}

// Inspect looks for mtc-operator Subscriptions in every namespace, the mtc-operator CSV, a legacy
// migration-operator Deployment and the version the operator wrote into the MigrationController.
func (in Inspector) Inspect(ctx context.Context) (*Installed, error) {
	out := &Installed{}

	subs, err := in.Dynamic.Resource(kube.Subscriptions).List(ctx, metav1.ListOptions{})
	if err != nil && !notServed(err) {
		return nil, kube.Explain(err, "list OLM Subscriptions in all namespaces", in.Host)
	}
	if err == nil {
		for _, s := range subs.Items {
			pkg, _, _ := unstructured.NestedString(s.Object, "spec", "name")
			if pkg != kube.OperatorPackage {
				continue
			}
			out.Subscriptions = append(out.Subscriptions, ObjectRef{Namespace: s.GetNamespace(), Name: s.GetName(),
				Release: releaseOf(s.GetAnnotations(), s.GetNamespace())})
			out.Mode = "olm"
		}
	}

	csvs, err := in.Dynamic.Resource(kube.CSVs).Namespace(in.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil && !notServed(err) {
		return nil, kube.Explain(err, "list ClusterServiceVersions in "+in.Namespace, in.Host)
	}
	if err == nil {
		for _, c := range csvs.Items {
			if v, ok := strings.CutPrefix(c.GetName(), kube.CSVPrefix); ok {
				// During an OLM upgrade two CSVs coexist; the newest one is what is being installed.
				if out.CSV == "" || newer(v, out.Version) {
					out.CSV = c.GetName()
					out.Version = strings.TrimPrefix(v, "v")
					out.VersionSource = "CSV " + c.GetName()
					out.Mode = "olm"
				}
			}
		}
	}

	dep, err := in.Kube.AppsV1().Deployments(in.Namespace).Get(ctx, kube.LegacyOperator, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, kube.Explain(err, "get Deployment "+in.Namespace+"/"+kube.LegacyOperator, in.Host)
	case !kube.OLMOwned(dep):
		out.LegacyDeployment = &ObjectRef{Namespace: dep.Namespace, Name: dep.Name, Release: releaseOf(dep.Annotations, dep.Namespace)}
		if out.Mode == "" {
			out.Mode = "legacy"
		}
		if out.Version == "" {
			if v := imageVersion(dep); v != "" {
				out.Version, out.VersionSource = v, "image tag of Deployment "+kube.LegacyOperator
			}
		}
	}

	mcs, err := in.Dynamic.Resource(kube.MigrationControllers).Namespace(in.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil && !notServed(err) {
		return nil, kube.Explain(err, "list MigrationControllers in "+in.Namespace, in.Host)
	}
	if err == nil {
		for _, mc := range mcs.Items {
			v, _, _ := unstructured.NestedString(mc.Object, "spec", "version")
			if v == "" {
				continue
			}
			// The CSV names the operator being installed; the CR names the one that last reconciled.
			if out.Version == "" || (out.CSV == "" && newer(v, out.Version)) {
				out.Version, out.VersionSource = strings.TrimPrefix(v, "v"), "MigrationController "+mc.GetName()+" spec.version"
			}
		}
	}
	return out, nil
}

// notServed is true when the resource type does not exist on the server (no OLM, no MTC CRDs).
func notServed(err error) bool {
	return kube.IsNotServed(err)
}

func releaseOf(annotations map[string]string, ns string) string {
	r := annotations[kube.HelmReleaseNameKey]
	if r == "" {
		return ""
	}
	if rns := annotations[kube.HelmReleaseNSKey]; rns != "" && rns != ns {
		return rns + "/" + r
	}
	return r
}

func imageVersion(d *appsv1.Deployment) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		i := strings.LastIndex(c.Image, ":")
		if i < 0 || strings.Contains(c.Image[i:], "/") {
			continue
		}
		if v, err := charts.ParseVersion(c.Image[i+1:]); err == nil && v.Parts >= 2 {
			return v.String()
		}
	}
	return ""
}

func newer(a, b string) bool {
	va, err := charts.ParseVersion(a)
	if err != nil {
		return false
	}
	vb, err := charts.ParseVersion(b)
	if err != nil {
		return true
	}
	return va.Compare(vb) > 0 || (va.Compare(vb) == 0 && va.Parts > vb.Parts)
}

func describeMode(m string) string {
	switch m {
	case "olm":
		return "OLM"
	case "legacy":
		return "the legacy operator"
	}
	return fmt.Sprintf("%q", m)
}
