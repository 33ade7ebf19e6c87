package version

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// EgressPolicies is what the release is about to do with egress policies (package egress says why a
// namespace holds only one): create a policy of Kind named Name in each of Namespaces, and merge Rules
// into the user's policies of Merge.
type EgressPolicies struct {
	Kind       string
	Name       string
	Namespaces []string
	Merge      []egress.Target
	Rules      []any
}

// maxEgressRules is what OpenShift SDN takes in one EgressNetworkPolicy (openshift/sdn's
// EgressNetworkPolicyMaxRules); OVN-Kubernetes takes 8000.
var maxEgressRules = map[string]int{egress.NetworkPolicyKind: 1000, egress.FirewallKind: 8000}

// checkEgress refuses when a namespace that is to get the release's own policy already holds one of
// the user's (the chart merges into those it sees, so this one appeared since, or the chart could not
// look), and when a policy of the user's cannot take MTC's rules.
func (c *Check) checkEgress(ctx context.Context, mtcNamespace string) error {
	e := c.Egress
	if len(e.Namespaces) == 0 && len(e.Merge) == 0 {
		return nil
	}
	gvr, ok := egress.GVR[e.Kind]
	if !ok {
		return fmt.Errorf("egress policy kind %q is neither %s nor %s", e.Kind, egress.NetworkPolicyKind, egress.FirewallKind)
	}
	list := func(ns string) ([]unstructured.Unstructured, error) {
		l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if kube.IsNotServed(err) {
			return nil, kube.Refusef("the values ask for %ss in %s, but %s does not serve %s; set egressPolicies.networkType to the cluster's network plugin",
				e.Kind, ns, c.Host, gvr.GroupResource())
		}
		if err != nil {
			return nil, kube.Explain(err, "list "+gvr.Resource+" in "+ns, c.Host)
		}
		return l.Items, nil
	}
	var found []string
	for _, ns := range e.Namespaces {
		items, err := list(ns)
		if err != nil {
			return err
		}
		for i := range items {
			u := &items[i]
			if c.ownedByRelease(u, mtcNamespace) {
				continue
			}
			if e.Kind == egress.FirewallKind && u.GetName() != e.Name {
				continue // OVN-Kubernetes ignores an EgressFirewall of another name
			}
			found = append(found, ns+"/"+u.GetName())
		}
	}
	if len(found) > 0 {
		return kube.Refusef("%s %s already exists and is not this release's, and a namespace holds only one; run helm install or upgrade against the cluster (not helm template) so that the chart merges MTC's rules into it, or remove those namespaces from egressPolicies.namespaces",
			e.Kind, strings.Join(found, ", "))
	}
	for _, t := range e.Merge {
		items, err := list(t.Namespace)
		if err != nil {
			return err
		}
		if err := c.mergeable(t, items, mtcNamespace); err != nil {
			return err
		}
	}
	return nil
}

// mergeable refuses a policy of the user's that MTC's rules cannot go into: a namespace already holding
// two EgressNetworkPolicies, a policy that something else keeps (an owner, another Helm release) and
// would put back as it was, or one that would go over the network plugin's number of rules. The
// refusal gives the command that adds the rules by hand.
func (c *Check) mergeable(t egress.Target, items []unstructured.Unstructured, mtcNamespace string) error {
	var target *unstructured.Unstructured
	var theirs []string
	for i := range items {
		u := &items[i]
		if c.ownedByRelease(u, mtcNamespace) || (c.Egress.Kind == egress.FirewallKind && u.GetName() != "default") {
			continue
		}
		theirs = append(theirs, u.GetName())
		if u.GetName() == t.Name {
			target = u
		}
	}
	if target == nil {
		return nil // gone since the chart looked: configure finds nothing to merge into
	}
	byHand := fmt.Sprintf("add MTC's rules in front of its own by hand (%s) and remove %s from egressPolicies.namespaces", c.patchCommand(t), t.Namespace)
	if len(theirs) > 1 {
		return kube.Refusef("namespace %s holds %d %s objects (%s), and OpenShift SDN drops all egress of a namespace with more than one; keep one (oc delete %s <name> -n %s), then run helm again",
			t.Namespace, len(theirs), c.Egress.Kind, strings.Join(theirs, ", "), strings.ToLower(c.Egress.Kind), t.Namespace)
	}
	a := target.GetAnnotations()
	if rel := a[kube.HelmReleaseNameKey]; rel != "" {
		return kube.Refusef("%s %s belongs to Helm release %s/%s, whose next upgrade would drop MTC's rules; add them to that release instead, or %s",
			c.Egress.Kind, t, a[kube.HelmReleaseNSKey], rel, byHand)
	}
	if refs := target.GetOwnerReferences(); len(refs) > 0 {
		return kube.Refusef("%s %s is kept by %s %s, which would put it back without MTC's rules; have its owner add them, or %s",
			c.Egress.Kind, t, refs[0].Kind, refs[0].Name, byHand)
	}
	rules, _, _ := unstructured.NestedSlice(target.Object, "spec", "egress")
	if max := maxEgressRules[c.Egress.Kind]; len(rules)+len(c.Egress.Rules) > max {
		return kube.Refusef("%s %s has %d rules, and MTC's %d would take it past the %d the network plugin accepts; merge some of its rules (oc edit %s %s -n %s), then run helm again",
			c.Egress.Kind, t, len(rules), len(c.Egress.Rules), max, strings.ToLower(c.Egress.Kind), t.Name, t.Namespace)
	}
	return nil
}

// patchCommand is the oc command that puts MTC's rules in front of t's.
func (c *Check) patchCommand(t egress.Target) string {
	var ops []any
	for i, r := range c.Egress.Rules {
		ops = append(ops, map[string]any{"op": "add", "path": fmt.Sprintf("/spec/egress/%d", i), "value": r})
	}
	body, _ := json.Marshal(ops)
	return fmt.Sprintf("oc patch %s %s -n %s --type json -p '%s'", strings.ToLower(c.Egress.Kind), t.Name, t.Namespace, body)
}

// ownedByRelease says whether Helm made u for this release (its ownership annotations).
func (c *Check) ownedByRelease(u *unstructured.Unstructured, mtcNamespace string) bool {
	a := u.GetAnnotations()
	return c.Release != "" && a[kube.HelmReleaseNameKey] == c.Release && a[kube.HelmReleaseNSKey] == mtcNamespace
}
