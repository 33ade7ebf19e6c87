package lifecycle_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
)

func allow(cidr string) any {
	return map[string]any{"type": "Allow", "to": map[string]any{"cidrSelector": cidr}}
}

func deny(cidr string) any {
	return map[string]any{"type": "Deny", "to": map[string]any{"cidrSelector": cidr}}
}

// On OpenShift SDN, where a second EgressNetworkPolicy in a namespace drops all its egress, a namespace
// that already has the user's policy ends with that one policy holding MTC's rules in front of the
// user's; a namespace without one gets the chart's own. An upgrade with another peer replaces MTC's
// rules, and helm uninstall leaves the user's policy exactly as it was.
func TestIntegrationEgressMergedIntoTheUsersPolicy(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.16", Network: localcluster.OpenShiftSDN})
	if err := lifecycle.CreateNamespaces(ctx, e, "shop", "billing"); err != nil {
		t.Fatal(err)
	}
	enps := e.Dynamic.Resource(egress.GVR[egress.NetworkPolicyKind])
	users := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "network.openshift.io/v1", "kind": egress.NetworkPolicyKind,
		"metadata": map[string]any{"name": "shop-lockdown", "namespace": "shop", "annotations": map[string]any{"team": "shop"}},
		"spec":     map[string]any{"egress": []any{allow("10.1.0.0/16"), deny("0.0.0.0/0")}},
	}}
	before, err := enps.Namespace("shop").Create(ctx, users, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	values := func(cidr string) string {
		p, err := l.LocalValues(e, "egress.yaml", map[string]any{"remoteClusters": nil, "egressPolicies": map[string]any{
			"namespaces": []any{"shop", "billing"},
			"peers":      map[string]any{"target": map[string]any{"cidrs": []any{cidr}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	only := func(namespace string) *unstructured.Unstructured {
		t.Helper()
		l, err := enps.Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 {
			var names []string
			for _, u := range l.Items {
				names = append(names, u.GetName())
			}
			t.Fatalf("namespace %s holds %d EgressNetworkPolicies %v, want exactly one", namespace, len(l.Items), names)
		}
		return &l.Items[0]
	}
	rules := func(u *unstructured.Unstructured) []any {
		r, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
		return r
	}

	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), values("203.0.113.0/24")); err != nil {
		t.Fatal(err)
	}
	shop := only("shop")
	want := []any{allow("203.0.113.0/24"), allow("10.1.0.0/16"), deny("0.0.0.0/0")}
	if shop.GetName() != "shop-lockdown" || !equality.Semantic.DeepEqual(rules(shop), want) {
		t.Fatalf("after install, shop's policy is %s with %v; want shop-lockdown with %v", shop.GetName(), rules(shop), want)
	}
	if own := only("billing"); own.GetName() != "mtc-migration-peers" || !equality.Semantic.DeepEqual(rules(own), []any{allow("203.0.113.0/24")}) {
		t.Fatalf("after install, billing's policy is %s with %v; want the chart's own", own.GetName(), rules(own))
	}

	if _, err := l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--timeout", "4m",
		"-f", l.Values("control.yaml"), "-f", values("198.51.100.0/24")); err != nil {
		t.Fatal(err)
	}
	want = []any{allow("198.51.100.0/24"), allow("10.1.0.0/16"), deny("0.0.0.0/0")}
	if shop := only("shop"); !equality.Semantic.DeepEqual(rules(shop), want) {
		t.Fatalf("after the upgrade, shop's policy has %v; want %v", rules(shop), want)
	}

	if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "4m"); err != nil {
		t.Fatal(err)
	}
	after := only("shop")
	if after.GetUID() != before.GetUID() || !equality.Semantic.DeepEqual(after.Object["spec"], before.Object["spec"]) ||
		!equality.Semantic.DeepEqual(after.GetAnnotations(), before.GetAnnotations()) || !equality.Semantic.DeepEqual(after.GetLabels(), before.GetLabels()) {
		t.Fatalf("after uninstall the user's policy is not as it was:\nbefore %v\nafter  %v", before.Object, after.Object)
	}
	if l, err := enps.Namespace("billing").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after uninstall billing still holds %v (%v)", l, err)
	}
}
