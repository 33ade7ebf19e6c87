package version

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

func egressObj(kind, ns, name, release string) *unstructured.Unstructured {
	gvr := egressGVR[kind]
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	if release != "" {
		u.SetAnnotations(map[string]string{kube.HelmReleaseNameKey: release, kube.HelmReleaseNSKey: "openshift-migration"})
	}
	return u
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
		{"sdn, the user's policy", EgressPolicies{EgressNetworkPolicyKind, "mtc-migration-peers", []string{"shop", "billing"}},
			[]runtime.Object{egressObj(EgressNetworkPolicyKind, "billing", "default", "")},
			"EgressNetworkPolicy billing/default already exists and is not this release's; OpenShift SDN drops all egress of a namespace with two"},
		{"sdn, the release's own on upgrade", EgressPolicies{EgressNetworkPolicyKind, "mtc-migration-peers", []string{"shop"}},
			[]runtime.Object{egressObj(EgressNetworkPolicyKind, "shop", "mtc-migration-peers", "mtc")}, ""},
		{"sdn, another release's", EgressPolicies{EgressNetworkPolicyKind, "mtc-migration-peers", []string{"shop"}},
			[]runtime.Object{egressObj(EgressNetworkPolicyKind, "shop", "mtc-migration-peers", "other")},
			"EgressNetworkPolicy shop/mtc-migration-peers already exists"},
		{"ovn, the user's default", EgressPolicies{EgressFirewallKind, "default", []string{"shop"}},
			[]runtime.Object{egressObj(EgressFirewallKind, "shop", "default", "")},
			"EgressFirewall shop/default already exists and is not this release's, and a namespace takes only the one named default"},
		{"ovn, a firewall OVN ignores", EgressPolicies{EgressFirewallKind, "default", []string{"shop"}},
			[]runtime.Object{egressObj(EgressFirewallKind, "shop", "draft", "")}, ""},
		{"none asked", EgressPolicies{}, []runtime.Object{egressObj(EgressNetworkPolicyKind, "shop", "default", "")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				egressGVR[EgressNetworkPolicyKind]: "EgressNetworkPolicyList", egressGVR[EgressFirewallKind]: "EgressFirewallList"}, tc.objs...)
			c := &Check{Action: kube.Action{Dynamic: dyn, Host: "https://api.test:6443"}, Release: "mtc", Egress: tc.egress}
			err := c.checkEgress(context.Background(), "openshift-migration")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!kube.IsRefusal(err) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want a refusal with %q, got %v", tc.want, err)
			}
		})
	}
}
