// Package version implements the version-check hook: it finds out which platform and version the cluster
// runs, applies the compatibility matrix of the charts, refuses MTC installs the release does not own and
// downgrades, and checks that every remote cluster runs the same MTC line.
package version

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Platform is what the cluster runs.
type Platform struct {
	// Name is charts.PlatformOCP4 or charts.PlatformOCP3.
	Name string `json:"name"`
	// Version is the OpenShift version ("4.17.3", "3.11").
	Version string `json:"version"`
	// Kubernetes is the API server's git version ("v1.30.4").
	Kubernetes string `json:"kubernetes"`
	// Source says where the version came from.
	Source string `json:"source"`
}

func (p Platform) String() string {
	return fmt.Sprintf("OCP %s (Kubernetes %s)", p.Version, p.Kubernetes)
}

// openShiftGroups are API groups only OpenShift serves; any of them without config.openshift.io means OCP 3.
var openShiftGroups = []string{"project.openshift.io", "route.openshift.io", "security.openshift.io",
	"apps.openshift.io", "image.openshift.io", "build.openshift.io", "authorization.openshift.io"}

// Detector finds out the platform of a cluster.
type Detector struct {
	Discovery discovery.DiscoveryInterface
	Dynamic   dynamic.Interface
	Host      string
	// OpenShiftVersionHint fetches /version/openshift; nil uses the discovery REST client.
	OpenShiftVersionHint func(ctx context.Context) (string, error)
}

// Detect returns the platform, or a refusal for plain Kubernetes and clusters it cannot place.
func (d Detector) Detect(ctx context.Context) (Platform, error) {
	sv, err := d.Discovery.ServerVersion()
	if err != nil {
		return Platform{}, kube.Explain(err, "read the API server version", d.Host)
	}
	groups, err := d.Discovery.ServerGroups()
	if err != nil && groups == nil {
		return Platform{}, kube.Explain(err, "list the API groups", d.Host)
	}
	served := map[string]bool{}
	for _, g := range groups.Groups {
		served[g.Name] = true
	}
	p := Platform{Kubernetes: sv.GitVersion}

	if served[kube.ConfigGroup] {
		cv, err := d.Dynamic.Resource(kube.ClusterVersions).Get(ctx, "version", metav1.GetOptions{})
		if apierrors.IsForbidden(err) {
			// A remote's migration-controller token may list every kind but get few (the MTC
			// CSV's clusterPermissions): list the one object instead.
			cv, err = d.listClusterVersion(ctx)
		}
		if apierrors.IsNotFound(err) {
			return Platform{}, kube.Refusef("the cluster at %s serves config.openshift.io but has no ClusterVersion named version, so its OpenShift version is unknown; check the cluster-version operator (oc get clusterversion)", d.Host)
		}
		if err != nil {
			return Platform{}, kube.Explain(err, "get ClusterVersion version", d.Host)
		}
		v, src := clusterVersion(cv)
		if v == "" {
			return Platform{}, kube.Refusef("ClusterVersion version on %s reports no version yet (no history and no status.desired.version); wait for the cluster-version operator and retry", d.Host)
		}
		p.Name, p.Version, p.Source = charts.PlatformOCP4, v, src
		return p, nil
	}

	var osGroup string
	for _, g := range openShiftGroups {
		if served[g] {
			osGroup = g
			break
		}
	}
	minor, minorErr := kubeMinor(sv.Minor)
	if osGroup == "" {
		return Platform{}, kube.Refusef("the cluster at %s is plain Kubernetes %s, not OpenShift; MTC runs only on OpenShift (3.11 with the legacy operator, 4.x through OLM), so point --kubeconfig or --context at an OpenShift cluster",
			d.Host, sv.GitVersion)
	}
	if minorErr != nil || minor > 11 {
		return Platform{}, kube.Refusef("the cluster at %s serves %s but no ClusterVersion, and Kubernetes %s is too new for OpenShift 3; it is neither OCP 3 nor OCP 4 as far as the API shows, so check that config.openshift.io is served",
			d.Host, osGroup, sv.GitVersion)
	}
	p.Name, p.Version = charts.PlatformOCP3, fmt.Sprintf("3.%d", minor)
	p.Source = fmt.Sprintf("%s served without config.openshift.io, Kubernetes minor %s", osGroup, sv.Minor)
	// /version/openshift is unreliable on 3.11: use it only to refine the patch level when it agrees.
	if hint, err := d.openShiftHint(ctx); err == nil && hint != "" {
		if hv, err := charts.ParseVersion(hint); err == nil && hv.Major == 3 && hv.Minor == minor {
			p.Version = hv.String()
			p.Source += ", /version/openshift " + hint
		}
	}
	return p, nil
}

func (d Detector) openShiftHint(ctx context.Context) (string, error) {
	if d.OpenShiftVersionHint != nil {
		return d.OpenShiftVersionHint(ctx)
	}
	rc := d.Discovery.RESTClient()
	if rc == nil {
		return "", fmt.Errorf("no REST client")
	}
	raw, err := rc.Get().AbsPath("/version/openshift").DoRaw(ctx)
	if err != nil {
		return "", err
	}
	var info struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return "", err
	}
	return info.GitVersion, nil
}

// clusterVersion reads the first Completed history entry, else status.desired.version.
func clusterVersion(cv *unstructured.Unstructured) (version, source string) {
	history, _, _ := unstructured.NestedSlice(cv.Object, "status", "history")
	for _, h := range history {
		m, ok := h.(map[string]any)
		if !ok {
			continue
		}
		if m["state"] == "Completed" {
			if v, _ := m["version"].(string); v != "" {
				return v, "ClusterVersion version, last completed update"
			}
		}
	}
	if v, _, _ := unstructured.NestedString(cv.Object, "status", "desired", "version"); v != "" {
		return v, "ClusterVersion version, status.desired"
	}
	return "", ""
}

// kubeMinor parses a Kubernetes minor version such as "11+" or "30".
func kubeMinor(s string) (int, error) {
	return strconv.Atoi(strings.TrimRight(s, "+"))
}

// listClusterVersion reads ClusterVersion version through a list, for tokens that may list but
// not get it.
func (d *Detector) listClusterVersion(ctx context.Context) (*unstructured.Unstructured, error) {
	l, err := d.Dynamic.Resource(kube.ClusterVersions).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=version"})
	if err != nil {
		return nil, err
	}
	for i := range l.Items {
		if l.Items[i].GetName() == "version" {
			return &l.Items[i], nil
		}
	}
	return nil, apierrors.NewNotFound(kube.ClusterVersions.GroupResource(), "version")
}
