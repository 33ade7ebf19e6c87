// Package egress puts MTC's Allow rules into an egress policy that is not the release's, and takes them
// out again. A namespace holds one egress policy: OpenShift SDN drops all egress of a namespace with
// two EgressNetworkPolicies, and OVN-Kubernetes reads only the EgressFirewall named default. Where the
// user already has one, the chart renders none of its own (it looks the namespace up) and configure
// merges MTC's rules in front of the user's; the policy records which rules are MTC's, so a later
// revision replaces exactly those and uninstall removes them, leaving the user's rules as they were.
package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// The two egress policy kinds.
const (
	NetworkPolicyKind = "EgressNetworkPolicy"
	FirewallKind      = "EgressFirewall"
)

// GVR is the resource of each kind.
var GVR = map[string]schema.GroupVersionResource{
	NetworkPolicyKind: {Group: "network.openshift.io", Version: "v1", Resource: "egressnetworkpolicies"},
	FirewallKind:      {Group: "k8s.ovn.org", Version: "v1", Resource: "egressfirewalls"},
}

// The annotations a merged policy carries: which release merged (<release namespace>/<release>) and
// the rules it put in front, as JSON.
const (
	MergedByAnnotation = "mtc-helm.io/egress-merged-by"
	RulesAnnotation    = "mtc-helm.io/egress-rules"
)

// Target is one policy of the user's.
type Target struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (t Target) String() string { return t.Namespace + "/" + t.Name }

// ParseTargets reads namespace/name,namespace/name.
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		ns, name, ok := strings.Cut(p, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("%q is not namespace/name", p)
		}
		out = append(out, Target{ns, name})
	}
	return out, nil
}

// Plan is what the chart asks of configure (key egress.yaml of its ConfigMap): put Rules in front of
// the policies of Merge, take this release's rules out of those of Unmerge (an earlier revision merged
// them, this one no longer lists their namespace).
type Plan struct {
	// Owner is <release namespace>/<release>.
	Owner   string   `json:"owner"`
	Kind    string   `json:"kind"`
	Rules   []any    `json:"rules"`
	Merge   []Target `json:"merge,omitempty"`
	Unmerge []Target `json:"unmerge,omitempty"`
}

// Merger changes the user's policies for one release.
type Merger struct {
	*kube.Action
	Kind string
	// Owner is <release namespace>/<release>.
	Owner string
}

func (m *Merger) gvr() (schema.GroupVersionResource, error) {
	g, ok := GVR[m.Kind]
	if !ok {
		return g, fmt.Errorf("egress policy kind %q is neither %s nor %s", m.Kind, NetworkPolicyKind, FirewallKind)
	}
	return g, nil
}

// Merge puts rules in front of t's, in place of the rules this release put there before. It reports
// whether the policy changed.
func (m *Merger) Merge(ctx context.Context, t Target, rules []any) (bool, error) {
	return m.change(ctx, t, func(u *unstructured.Unstructured, theirs []any) (bool, error) {
		body, err := json.Marshal(rules)
		if err != nil {
			return false, err
		}
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		egress := append(append([]any{}, rules...), theirs...)
		cur, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
		if a[MergedByAnnotation] == m.Owner && a[RulesAnnotation] == string(body) && reflect.DeepEqual(normal(cur), normal(egress)) {
			return false, nil
		}
		a[MergedByAnnotation] = m.Owner
		a[RulesAnnotation] = string(body)
		u.SetAnnotations(a)
		return true, unstructured.SetNestedSlice(u.Object, egress, "spec", "egress")
	})
}

// Unmerge takes the rules this release put into t out again and removes its annotations. A policy that
// is gone, or that this release did not merge into, is left as it is.
func (m *Merger) Unmerge(ctx context.Context, t Target) (bool, error) {
	return m.change(ctx, t, func(u *unstructured.Unstructured, theirs []any) (bool, error) {
		a := u.GetAnnotations()
		if _, ok := a[MergedByAnnotation]; !ok {
			return false, nil
		}
		delete(a, MergedByAnnotation)
		delete(a, RulesAnnotation)
		u.SetAnnotations(a)
		return true, unstructured.SetNestedSlice(u.Object, theirs, "spec", "egress")
	})
}

// change reads t, hands edit the policy and the user's own rules (those this release did not put
// there), and writes the result when edit reports a change; a conflicting write starts again.
func (m *Merger) change(ctx context.Context, t Target, edit func(u *unstructured.Unstructured, theirs []any) (bool, error)) (bool, error) {
	gvr, err := m.gvr()
	if err != nil {
		return false, err
	}
	ri := m.Dynamic.Resource(gvr).Namespace(t.Namespace)
	what := fmt.Sprintf("update %s %s", m.Kind, t)
	changed := false
	err = m.Waiter.Retry(ctx, what, func(ctx context.Context) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			changed = false
			u, err := ri.Get(ctx, t.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			a := u.GetAnnotations()
			if by := a[MergedByAnnotation]; by != "" && by != m.Owner {
				return kube.Refusef("%s %s holds the MTC rules of release %s, not of %s; uninstall that release first, or remove its rules and the annotations %s and %s (oc edit %s %s -n %s)",
					m.Kind, t, by, m.Owner, MergedByAnnotation, RulesAnnotation, strings.ToLower(m.Kind), t.Name, t.Namespace)
			}
			theirs, err := userRules(u)
			if err != nil {
				return kube.Refusef("%s %s: annotation %s is not the JSON list of rules this release wrote (%v); restore it or remove MTC's rules by hand (oc edit %s %s -n %s)",
					m.Kind, t, RulesAnnotation, err, strings.ToLower(m.Kind), t.Name, t.Namespace)
			}
			ok, err := edit(u, theirs)
			if err != nil || !ok {
				return err
			}
			if _, err := ri.Update(ctx, u, metav1.UpdateOptions{FieldManager: kube.FieldManager}); err != nil {
				return err
			}
			changed = true
			return nil
		})
	})
	if kube.IsRefusal(err) {
		return false, err
	}
	return changed, kube.Explain(err, what, m.Host)
}

// userRules are u's rules without those its rules annotation says this release put there (each
// taken out once, wherever the user may have moved it).
func userRules(u *unstructured.Unstructured) ([]any, error) {
	cur, _, err := unstructured.NestedSlice(u.Object, "spec", "egress")
	if err != nil {
		return nil, err
	}
	var ours []any
	if s := u.GetAnnotations()[RulesAnnotation]; s != "" {
		if err := json.Unmarshal([]byte(s), &ours); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(cur))
	for _, r := range cur {
		if i := indexOf(ours, r); i >= 0 {
			ours = append(ours[:i], ours[i+1:]...)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func indexOf(list []any, v any) int {
	for i, x := range list {
		if reflect.DeepEqual(normal(x), normal(v)) {
			return i
		}
	}
	return -1
}

// normal round-trips v through JSON, so numbers compare the same however they were decoded.
func normal(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
