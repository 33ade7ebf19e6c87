package version

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// The egress policies the chart adds to the namespaces of egressPolicies.namespaces. OpenShift SDN
// drops all egress traffic of a namespace that holds more than one EgressNetworkPolicy, and
// OVN-Kubernetes takes only the EgressFirewall named default, one per namespace: a policy of the
// user's already in such a namespace must not get a second one beside it, nor be overwritten.
const (
	EgressNetworkPolicyKind = "EgressNetworkPolicy"
	EgressFirewallKind      = "EgressFirewall"
)

var egressGVR = map[string]schema.GroupVersionResource{
	EgressNetworkPolicyKind: {Group: "network.openshift.io", Version: "v1", Resource: "egressnetworkpolicies"},
	EgressFirewallKind:      {Group: "k8s.ovn.org", Version: "v1", Resource: "egressfirewalls"},
}

// EgressPolicies is what the release is about to create: a policy of Kind named Name in each of
// Namespaces.
type EgressPolicies struct {
	Kind       string
	Name       string
	Namespaces []string
}

// checkEgress refuses when a namespace already holds an egress policy of the kind that this release
// does not own: the chart's would be a second EgressNetworkPolicy (all egress dropped) or would
// overwrite the user's EgressFirewall default.
func (c *Check) checkEgress(ctx context.Context, mtcNamespace string) error {
	e := c.Egress
	if len(e.Namespaces) == 0 {
		return nil
	}
	gvr, ok := egressGVR[e.Kind]
	if !ok {
		return fmt.Errorf("egress policy kind %q is neither %s nor %s", e.Kind, EgressNetworkPolicyKind, EgressFirewallKind)
	}
	var found []string
	for _, ns := range e.Namespaces {
		l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if kube.IsNotServed(err) {
			return kube.Refusef("the values ask for %ss in %s, but %s does not serve %s; set egressPolicies.networkType to the cluster's network plugin",
				e.Kind, strings.Join(e.Namespaces, ", "), c.Host, gvr.GroupResource())
		}
		if err != nil {
			return kube.Explain(err, "list "+gvr.Resource+" in "+ns, c.Host)
		}
		for i := range l.Items {
			u := &l.Items[i]
			if c.ownedByRelease(u, mtcNamespace) {
				continue
			}
			if e.Kind == EgressFirewallKind && u.GetName() != e.Name {
				continue // OVN-Kubernetes ignores an EgressFirewall of another name
			}
			found = append(found, ns+"/"+u.GetName())
		}
	}
	if len(found) == 0 {
		return nil
	}
	if e.Kind == EgressNetworkPolicyKind {
		return kube.Refusef("EgressNetworkPolicy %s already exists and is not this release's; OpenShift SDN drops all egress of a namespace with two, so add MTC's peers as Allow rules before its Deny rules (oc edit egressnetworkpolicy -n <namespace> <name>) and remove those namespaces from egressPolicies.namespaces",
			strings.Join(found, ", "))
	}
	return kube.Refusef("EgressFirewall %s already exists and is not this release's, and a namespace takes only the one named default; add MTC's peers as Allow rules before its Deny rules (oc edit egressfirewall default -n <namespace>) and remove those namespaces from egressPolicies.namespaces",
		strings.Join(found, ", "))
}

// ownedByRelease says whether Helm made u for this release (its ownership annotations).
func (c *Check) ownedByRelease(u *unstructured.Unstructured, mtcNamespace string) bool {
	a := u.GetAnnotations()
	return c.Release != "" && a[kube.HelmReleaseNameKey] == c.Release && a[kube.HelmReleaseNSKey] == mtcNamespace
}
