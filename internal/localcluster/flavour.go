package localcluster

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// Kinds of flavour.
const (
	OCP4       = "ocp4"
	OCP3       = "ocp3"
	Kubernetes = "kubernetes"
)

// Network types of the ocp4 flavour.
const (
	OpenShiftSDN  = "OpenShiftSDN"
	OVNKubernetes = "OVNKubernetes"
)

// Flavour is what the local control plane answers as.
type Flavour struct {
	// Kind is ocp4, ocp3 or kubernetes.
	Kind string
	// Version is the OpenShift version of the ocp4 flavour, such as 4.17 or 4.17.3.
	Version string
	// Network is the ocp4 network type: OVNKubernetes (default) or OpenShiftSDN.
	Network string
}

var ocp4Version = regexp.MustCompile(`^4\.(\d+)(\.\d+)?$`)

// ParseFlavour reads "kubernetes", "ocp3", "ocp4", "ocp4:4.14" or "ocp4:4.14:OpenShiftSDN".
func ParseFlavour(s string) (Flavour, error) {
	parts := strings.Split(s, ":")
	f := Flavour{Kind: parts[0]}
	if len(parts) > 1 {
		f.Version = parts[1]
	}
	if len(parts) > 2 {
		f.Network = parts[2]
	}
	if len(parts) > 3 {
		return Flavour{}, fmt.Errorf("flavour %q has too many parts: use kind[:version[:network]]", s)
	}
	f = f.withDefaults()
	return f, f.Validate()
}

func (f Flavour) withDefaults() Flavour {
	if f.Kind == OCP4 {
		if f.Version == "" {
			f.Version = "4.17"
		}
		if f.Network == "" {
			f.Network = OVNKubernetes
		}
	}
	return f
}

// Validate says in one sentence what is wrong with a flavour.
func (f Flavour) Validate() error {
	switch f.Kind {
	case "", Kubernetes:
		if f.Version != "" || f.Network != "" {
			return fmt.Errorf("flavour kubernetes takes no version or network")
		}
	case OCP3:
		if f.Version != "" && f.Version != "3.11" {
			return fmt.Errorf("flavour ocp3 is OpenShift 3.11 only, not %q", f.Version)
		}
		if f.Network != "" {
			return fmt.Errorf("flavour ocp3 takes no network type")
		}
	case OCP4:
		f = f.withDefaults()
		m := ocp4Version.FindStringSubmatch(f.Version)
		if m == nil {
			return fmt.Errorf("ocp4 version %q is not of the form 4.<minor>[.<patch>]", f.Version)
		}
		switch f.Network {
		case OVNKubernetes:
		case OpenShiftSDN:
			var minor int
			fmt.Sscan(m[1], &minor)
			if minor >= 17 {
				return fmt.Errorf("OpenShift %s has no OpenShiftSDN (removed in 4.17): use OVNKubernetes", f.Version)
			}
		default:
			return fmt.Errorf("network type %q is unknown: use OVNKubernetes or OpenShiftSDN", f.Network)
		}
	default:
		return fmt.Errorf("flavour %q is unknown: use ocp4, ocp3 or kubernetes", f.Kind)
	}
	return nil
}

func (f Flavour) String() string {
	switch f.Kind {
	case OCP4:
		f = f.withDefaults()
		return fmt.Sprintf("OpenShift %s (%s)", f.Version, f.Network)
	case OCP3:
		return "OpenShift 3.11"
	default:
		return "Kubernetes"
	}
}

// FullVersion is the ocp4 version with a patch number (4.17 becomes 4.17.0).
func (f Flavour) FullVersion() string {
	if strings.Count(f.Version, ".") == 1 {
		return f.Version + ".0"
	}
	return f.Version
}

//go:embed manifests
var manifests embed.FS

// The CRD manifests taken from the Go modules github.com/openshift/api and
// github.com/operator-framework/api (copied by `make tools` into bin/crds).
var ocp4CRDs = []string{
	"openshift/clusterversions.yaml",
	"openshift/proxies.yaml",
	"openshift/infrastructures.yaml",
	"openshift/networks.yaml",
	"openshift/routes.yaml",
	"openshift/securitycontextconstraints.yaml",
	// OLM's own eight CRDs, from its module (deploy/chart/crds)
	"olm/0000_50_olm_00-catalogsources.crd.yaml",
	"olm/0000_50_olm_00-clusterserviceversions.crd.yaml",
	"olm/0000_50_olm_00-installplans.crd.yaml",
	"olm/0000_50_olm_00-olmconfigs.crd.yaml",
	"olm/0000_50_olm_00-operatorconditions.crd.yaml",
	"olm/0000_50_olm_00-operatorgroups.crd.yaml",
	"olm/0000_50_olm_00-operators.crd.yaml",
	"olm/0000_50_olm_00-subscriptions.crd.yaml",
}

func (c *Cluster) dress(ctx context.Context) error {
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	switch c.Flavour.Kind {
	case OCP4:
		files := append([]string(nil), ocp4CRDs...)
		if c.Flavour.Network == OpenShiftSDN {
			files = append(files, "openshift/egressnetworkpolicies.yaml")
		}
		var docs [][]byte
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(c.opts.CRDDir, f))
			if err != nil {
				return fmt.Errorf("CRD manifest %s is missing: run `make tools`", filepath.Join(c.opts.CRDDir, f))
			}
			docs = append(docs, splitYAML(b)...)
		}
		own := []string{"manifests/oauthclients-standin.yaml"}
		if c.Flavour.Network == OVNKubernetes {
			own = append(own, "manifests/egressfirewalls.yaml")
		}
		for _, f := range own {
			b, _ := manifests.ReadFile(f)
			docs = append(docs, splitYAML(b)...)
		}
		if err := applyCRDs(ctx, dyn, "v1", docs); err != nil {
			return err
		}
		return c.ocp4Objects(ctx, dyn, cs)
	case OCP3:
		b, _ := manifests.ReadFile("manifests/ocp3-standins.yaml")
		return applyCRDs(ctx, dyn, "v1beta1", splitYAML(b))
	}
	return nil
}

var crdGVR = func(v string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: v, Resource: "customresourcedefinitions"}
}

// applyCRDs creates the CRDs and waits until each is Established.
func applyCRDs(ctx context.Context, dyn dynamic.Interface, version string, docs [][]byte) error {
	var names []string
	for _, d := range docs {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(d, &u.Object); err != nil {
			return fmt.Errorf("failed to read a CRD manifest: %w", err)
		}
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if _, err := dyn.Resource(crdGVR(version)).Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create CRD %s: %w", u.GetName(), err)
		}
		names = append(names, u.GetName())
	}
	sort.Strings(names)
	for _, n := range names {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			u, err := dyn.Resource(crdGVR(version)).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s was not Established: %w", n, err)
		}
	}
	// Discovery lags behind Established by a moment; wait until every group is listed.
	return nil
}

func splitYAML(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// ocp4Objects creates the cluster-scoped configuration objects an OpenShift 4 cluster has.
func (c *Cluster) ocp4Objects(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface) error {
	for _, ns := range []string{"openshift-config", "openshift-config-managed", "openshift-marketplace", "openshift-operators", OLMNamespace} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create namespace %s: %w", ns, err)
		}
	}
	now := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	v := c.Flavour.FullVersion()
	image := "quay.io/openshift-release-dev/ocp-release@sha256:" + strings.Repeat("0", 64)
	cv := obj("config.openshift.io/v1", "ClusterVersion", "", "version", map[string]any{
		"spec": map[string]any{"clusterID": "00000000-0000-4000-8000-000000000000", "channel": "stable-" + minorOf(v)},
	})
	status := map[string]any{
		"desired":            map[string]any{"version": v, "image": image},
		"history":            []any{map[string]any{"state": "Completed", "version": v, "image": image, "startedTime": now, "completionTime": now, "verified": false}},
		"observedGeneration": int64(1),
		"versionHash":        "local",
		"availableUpdates":   nil,
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "lastTransitionTime": now, "message": "Done applying " + v},
			map[string]any{"type": "Progressing", "status": "False", "lastTransitionTime": now, "message": "Cluster version is " + v},
		},
	}
	network := obj("config.openshift.io/v1", "Network", "", "cluster", map[string]any{
		"spec": map[string]any{
			"clusterNetwork": []any{map[string]any{"cidr": "10.128.0.0/14", "hostPrefix": int64(23)}},
			"serviceNetwork": []any{"172.30.0.0/16"},
			"networkType":    c.Flavour.Network,
		},
	})
	netStatus := map[string]any{
		"clusterNetwork": []any{map[string]any{"cidr": "10.128.0.0/14", "hostPrefix": int64(23)}},
		"serviceNetwork": []any{"172.30.0.0/16"},
		"networkType":    c.Flavour.Network,
	}
	infra := obj("config.openshift.io/v1", "Infrastructure", "", "cluster", map[string]any{"spec": map[string]any{"platformSpec": map[string]any{"type": "None"}}})
	infraStatus := map[string]any{
		"apiServerURL": c.URL, "apiServerInternalURI": c.URL, "infrastructureName": "local",
		"platform": "None", "platformStatus": map[string]any{"type": "None"},
		"controlPlaneTopology": "SingleReplica", "infrastructureTopology": "SingleReplica",
		"etcdDiscoveryDomain": "",
	}
	proxy := obj("config.openshift.io/v1", "Proxy", "", "cluster", map[string]any{"spec": map[string]any{"trustedCA": map[string]any{"name": ""}}})
	og := obj("operators.coreos.com/v1", "OperatorGroup", "openshift-operators", "global-operators", map[string]any{"spec": map[string]any{}})
	for _, o := range []struct {
		u      *unstructured.Unstructured
		r      schema.GroupVersionResource
		status map[string]any
	}{
		{cv, gvr("config.openshift.io", "v1", "clusterversions"), status},
		{network, gvr("config.openshift.io", "v1", "networks"), netStatus},
		{infra, gvr("config.openshift.io", "v1", "infrastructures"), infraStatus},
		{proxy, gvr("config.openshift.io", "v1", "proxies"), map[string]any{}},
		{og, gvr("operators.coreos.com", "v1", "operatorgroups"), nil},
	} {
		ri := dyn.Resource(o.r).Namespace(o.u.GetNamespace())
		created, err := ri.Create(ctx, o.u, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("failed to create %s %s: %w", o.u.GetKind(), o.u.GetName(), err)
		}
		if len(o.status) > 0 {
			created.Object["status"] = o.status
			_, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) {
				// no status subresource: status is written with the object
				_, err = ri.Update(ctx, created, metav1.UpdateOptions{})
			}
			if err != nil {
				return fmt.Errorf("failed to set the status of %s %s: %w", o.u.GetKind(), o.u.GetName(), err)
			}
		}
	}
	return nil
}

func minorOf(v string) string {
	p := strings.Split(v, ".")
	return p[0] + "." + p[1]
}

func obj(apiVersion, kind, ns, name string, rest map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range rest {
		u.Object[k] = v
	}
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}

// waitDefaultServiceAccount waits until the controller manager has created the default
// ServiceAccount in namespace default, the sign that its controllers run.
func (c *Cluster) waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface) error {
	p := c.procByName("kube-controller-manager")
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("kube-controller-manager exited at start (%s): read %s", p.cmd.ProcessState, p.log)
		default:
		}
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the controller manager did not create the default ServiceAccount: %w (read %s)", err, p.log)
	}
	return nil
}
