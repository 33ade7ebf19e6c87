package charttest

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// In narrow mode the source rsync pods may send to the port of the target's rsync endpoint type (the
// router's 443 for Route, the stunnel service's 6443 for ClusterIP, the node port range for NodePort),
// and the target accepts from routers whether they run in pods or on the host network.
func TestNarrowPoliciesFollowTheEndpointType(t *testing.T) {
	root, helm := setup(t, "helm")
	for _, tc := range []struct {
		name, kube string
		set        []string
		want       string // the source egress ports toward the target CIDRs
	}{
		{"default Route", "1.30.0", nil, "[443]"},
		{"ClusterIP from the controller's value", "1.30.0", []string{"migrationController.rsyncEndpointType=ClusterIP"}, "[6443]"},
		{"NodePort", "1.30.0", []string{"networkPolicies.narrow.endpointType=NodePort"}, "[30000-32767]"},
		{"NodePort without endPort", "1.24.0", []string{"networkPolicies.narrow.endpointType=NodePort"}, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--kube-version", tc.kube, "--api-versions", "k8s.ovn.org/v1/EgressFirewall", "--api-versions", "config.openshift.io/v1/ClusterVersion",
				"--api-versions", "operators.coreos.com/v1alpha1/Subscription", "--api-versions", "route.openshift.io/v1", "--api-versions", "security.openshift.io/v1",
				"-f", root + "/values/network-policies-narrow.yaml", "--set", "egressPolicies.networkType=OVNKubernetes", "--show-only", "templates/rsync-networkpolicies.yaml"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := Template(root, helm, "mtc-1.8", args...)
			if err != nil {
				t.Fatal(err)
			}
			var egress, ingress *networkingv1.NetworkPolicy
			for _, d := range decodeDocs(out) {
				var np networkingv1.NetworkPolicy
				if err := yaml.Unmarshal(d, &np); err != nil || np.Kind != "NetworkPolicy" {
					continue
				}
				switch np.Name {
				case "mtc-rsync-source-egress":
					egress = &np
				case "mtc-rsync-target-ingress":
					ingress = &np
				}
			}
			if egress == nil || ingress == nil {
				t.Fatalf("missing a policy:\n%s", out)
			}
			var ports []string
			for _, r := range egress.Spec.Egress {
				if len(r.To) == 0 {
					continue // DNS
				}
				for _, p := range r.Ports {
					s := p.Port.String()
					if p.EndPort != nil {
						s += fmt.Sprintf("-%d", *p.EndPort)
					}
					ports = append(ports, s)
				}
			}
			if got := fmt.Sprint(ports); got == "[]" && tc.want == "[]" {
				if len(egress.Spec.Egress[0].Ports) != 0 {
					t.Errorf("egress ports %v, want every port", egress.Spec.Egress[0].Ports)
				}
			} else if got != tc.want {
				t.Errorf("egress ports toward the target %s, want %s", got, tc.want)
			}
			from := ingress.Spec.Ingress[0].From
			current := func(p networkingv1.NetworkPolicyPeer) bool {
				v, ok := p.NamespaceSelector.MatchLabels["policy-group.network.openshift.io/ingress"]
				return ok && v == ""
			}
			if len(from) != 2 || from[0].PodSelector == nil || from[1].PodSelector == nil || !current(from[0]) ||
				from[1].NamespaceSelector.MatchLabels["network.openshift.io/policy-group"] != "ingress" {
				t.Errorf("ingress peers %+v, want the current and the legacy router policy group, each with podSelector {}", from)
			}
		})
	}
}
