package version

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

func egressObj(kind, ns, name, release string) *unstructured.Unstructured {
	gvr := egress.GVR[kind]
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	if release != "" {
		u.SetAnnotations(map[string]string{kube.HelmReleaseNameKey: release, kube.HelmReleaseNSKey: "openshift-migration"})
	}
	return u
}

// checkEgress runs the egress check of release mtc on a cluster holding objs: want "" means accepted,
// else a refusal containing want.
func checkEgress(t *testing.T, e EgressPolicies, objs []runtime.Object, want string) {
	t.Helper()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		egress.GVR[egress.NetworkPolicyKind]: "EgressNetworkPolicyList", egress.GVR[egress.FirewallKind]: "EgressFirewallList"}, objs...)
	c := &Check{Action: kube.Action{Dynamic: dyn, Host: "https://api.test:6443"}, Release: "mtc", Egress: e}
	err := c.checkEgress(context.Background(), "openshift-migration")
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case want != "" && (!kube.IsRefusal(err) || !strings.Contains(err.Error(), want)):
		t.Fatalf("want a refusal with\n%s\ngot\n%v", want, err)
	}
}

// A namespace that already holds the user's egress policy is refused before the release adds its
// own: a second EgressNetworkPolicy drops all egress on OpenShift SDN, and OVN-Kubernetes takes only
// the EgressFirewall named default.
func TestCheckEgressRefusesAPolicyOfTheUsers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		egress EgressPolicies
		objs   []runtime.Object
		want   string // "" means accepted
	}{
		{"sdn, the user's policy", EgressPolicies{Kind: egress.NetworkPolicyKind, Name: "mtc-migration-peers", Namespaces: []string{"shop", "billing"}},
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "billing", "default", "")},
			"EgressNetworkPolicy billing/default already exists and is not this release's, and a namespace holds only one; run helm install or upgrade against the cluster"},
		{"sdn, the release's own on upgrade", EgressPolicies{Kind: egress.NetworkPolicyKind, Name: "mtc-migration-peers", Namespaces: []string{"shop"}},
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "mtc-migration-peers", "mtc")}, ""},
		{"sdn, another release's", EgressPolicies{Kind: egress.NetworkPolicyKind, Name: "mtc-migration-peers", Namespaces: []string{"shop"}},
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "mtc-migration-peers", "other")},
			"EgressNetworkPolicy shop/mtc-migration-peers already exists"},
		{"ovn, the user's default", EgressPolicies{Kind: egress.FirewallKind, Name: "default", Namespaces: []string{"shop"}},
			[]runtime.Object{egressObj(egress.FirewallKind, "shop", "default", "")},
			"EgressFirewall shop/default already exists and is not this release's, and a namespace holds only one"},
		{"ovn, a firewall OVN ignores", EgressPolicies{Kind: egress.FirewallKind, Name: "default", Namespaces: []string{"shop"}},
			[]runtime.Object{egressObj(egress.FirewallKind, "shop", "draft", "")}, ""},
		{"none asked", EgressPolicies{}, []runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "default", "")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkEgress(t, tc.egress, tc.objs, tc.want)
		})
	}
}

// A policy of the user's that the chart merges into is checked first: MTC's rules must be able to stay.
func TestCheckEgressRefusesWhatCannotTakeMTCsRules(t *testing.T) {
	t.Parallel()
	rules := []any{map[string]any{"type": "Allow", "to": map[string]any{"cidrSelector": "203.0.113.0/24"}}}
	merge := func(kind, ns, name string) EgressPolicies {
		return EgressPolicies{Kind: kind, Merge: []egress.Target{{Namespace: ns, Name: name}}, Rules: rules}
	}
	owned := egressObj(egress.NetworkPolicyKind, "shop", "locked", "")
	owned.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Tenant", Name: "shop", UID: "u1"}})
	full := egressObj(egress.FirewallKind, "shop", "default", "")
	many := make([]any, 8000)
	for i := range many {
		many[i] = map[string]any{"type": "Deny", "to": map[string]any{"cidrSelector": fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}}
	}
	if err := unstructured.SetNestedSlice(full.Object, many, "spec", "egress"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		egress EgressPolicies
		objs   []runtime.Object
		want   string
	}{
		{"the user's only policy", merge(egress.NetworkPolicyKind, "shop", "locked"),
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "locked", "")}, ""},
		{"two policies already", merge(egress.NetworkPolicyKind, "shop", "locked"),
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "locked", ""), egressObj(egress.NetworkPolicyKind, "shop", "extra", "")},
			"namespace shop holds 2 EgressNetworkPolicy objects (extra, locked), and OpenShift SDN drops all egress of a namespace with more than one; keep one (oc delete egressnetworkpolicy <name> -n shop)"},
		{"another release's", merge(egress.NetworkPolicyKind, "shop", "locked"),
			[]runtime.Object{egressObj(egress.NetworkPolicyKind, "shop", "locked", "shop-app")},
			`EgressNetworkPolicy shop/locked belongs to Helm release openshift-migration/shop-app, whose next upgrade would drop MTC's rules; add them to that release instead, or add MTC's rules in front of its own by hand (oc patch egressnetworkpolicy locked -n shop --type json -p '[{"op":"add","path":"/spec/egress/0","value":{"to":{"cidrSelector":"203.0.113.0/24"},"type":"Allow"}}]') and remove shop from egressPolicies.namespaces`},
		{"kept by an owner", merge(egress.NetworkPolicyKind, "shop", "locked"), []runtime.Object{owned},
			"EgressNetworkPolicy shop/locked is kept by Tenant shop, which would put it back without MTC's rules"},
		{"too many rules", merge(egress.FirewallKind, "shop", "default"), []runtime.Object{full},
			"EgressFirewall shop/default has 8000 rules, and MTC's 1 would take it past the 8000 the network plugin accepts"},
		{"gone since the chart looked", merge(egress.NetworkPolicyKind, "shop", "locked"), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkEgress(t, tc.egress, tc.objs, tc.want)
		})
	}
}
