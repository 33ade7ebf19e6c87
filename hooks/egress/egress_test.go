package egress

import (
	"context"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

func rule(typ, cidr string) any {
	return map[string]any{"type": typ, "to": map[string]any{"cidrSelector": cidr}}
}

func policy(annotations map[string]string, egress ...any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "network.openshift.io/v1", "kind": NetworkPolicyKind,
		"metadata": map[string]any{"name": "locked", "namespace": "shop"},
		"spec":     map[string]any{"egress": egress},
	}}
	u.SetAnnotations(annotations)
	return u
}

func merger(objs ...runtime.Object) (*Merger, *dynamicfake.FakeDynamicClient) {
	dc := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...)
	return &Merger{Action: &kube.Action{Dynamic: dc}, Kind: NetworkPolicyKind, Owner: "openshift-migration/mtc"}, dc
}

func read(t *testing.T, dc *dynamicfake.FakeDynamicClient) *unstructured.Unstructured {
	t.Helper()
	u, err := dc.Resource(GVR[NetworkPolicyKind]).Namespace("shop").Get(context.Background(), "locked", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func egressOf(u *unstructured.Unstructured) []any {
	l, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
	return l
}

// The user's policy ends with MTC's rules in front of the user's; a new revision's rules replace the
// old ones; uninstall leaves exactly the user's rules and annotations.
func TestMergeThenUnmerge(t *testing.T) {
	ctx := context.Background()
	users := []any{rule("Allow", "10.1.0.0/16"), rule("Deny", "0.0.0.0/0")}
	m, dc := merger(policy(map[string]string{"owner": "team-shop"}, users...))
	target := Target{"shop", "locked"}

	ours := []any{rule("Allow", "192.0.2.10/32")}
	if changed, err := m.Merge(ctx, target, ours); err != nil || !changed {
		t.Fatalf("merge: changed %v, err %v", changed, err)
	}
	got := read(t, dc)
	if want := append(append([]any{}, ours...), users...); !reflect.DeepEqual(egressOf(got), want) {
		t.Fatalf("merged rules\n got %v\nwant %v", egressOf(got), want)
	}
	if got.GetAnnotations()[MergedByAnnotation] != "openshift-migration/mtc" || got.GetAnnotations()["owner"] != "team-shop" {
		t.Fatalf("annotations after merge: %v", got.GetAnnotations())
	}
	if changed, err := m.Merge(ctx, target, ours); err != nil || changed {
		t.Fatalf("the same merge again: changed %v, err %v", changed, err)
	}

	// The next revision lists another peer: it replaces MTC's rule, the user's stay.
	next := []any{rule("Allow", "198.51.100.7/32"), rule("Allow", "203.0.113.0/24")}
	if _, err := m.Merge(ctx, target, next); err != nil {
		t.Fatal(err)
	}
	if want := append(append([]any{}, next...), users...); !reflect.DeepEqual(egressOf(read(t, dc)), want) {
		t.Fatalf("after the next revision\n got %v\nwant %v", egressOf(read(t, dc)), want)
	}

	if changed, err := m.Unmerge(ctx, target); err != nil || !changed {
		t.Fatalf("unmerge: changed %v, err %v", changed, err)
	}
	got = read(t, dc)
	if !reflect.DeepEqual(egressOf(got), users) {
		t.Fatalf("after unmerge\n got %v\nwant %v", egressOf(got), users)
	}
	if !reflect.DeepEqual(got.GetAnnotations(), map[string]string{"owner": "team-shop"}) {
		t.Fatalf("annotations after unmerge: %v", got.GetAnnotations())
	}
	if changed, err := m.Unmerge(ctx, target); err != nil || changed {
		t.Fatalf("unmerge of a policy without MTC's rules: changed %v, err %v", changed, err)
	}
}

// A rule the user added after the merge stays, wherever it was put.
func TestUnmergeKeepsRulesAddedSince(t *testing.T) {
	ctx := context.Background()
	m, dc := merger(policy(nil, rule("Deny", "0.0.0.0/0")))
	target := Target{"shop", "locked"}
	ours := []any{rule("Allow", "192.0.2.10/32")}
	if _, err := m.Merge(ctx, target, ours); err != nil {
		t.Fatal(err)
	}
	u := read(t, dc)
	added := rule("Allow", "10.9.0.0/16")
	if err := unstructured.SetNestedSlice(u.Object, append([]any{added}, egressOf(u)...), "spec", "egress"); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(GVR[NetworkPolicyKind]).Namespace("shop").Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Unmerge(ctx, target); err != nil {
		t.Fatal(err)
	}
	if want := []any{added, rule("Deny", "0.0.0.0/0")}; !reflect.DeepEqual(egressOf(read(t, dc)), want) {
		t.Fatalf("got %v, want %v", egressOf(read(t, dc)), want)
	}
}

func TestMergeRefusesAnotherReleasesPolicy(t *testing.T) {
	m, _ := merger(policy(map[string]string{MergedByAnnotation: "mtc-old/mtc", RulesAnnotation: "[]"}, rule("Deny", "0.0.0.0/0")))
	_, err := m.Merge(context.Background(), Target{"shop", "locked"}, []any{rule("Allow", "192.0.2.10/32")})
	if !kube.IsRefusal(err) || !strings.Contains(err.Error(), "holds the MTC rules of release mtc-old/mtc") {
		t.Fatalf("want a refusal naming the other release, got %v", err)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets("shop/locked, db/default")
	if err != nil || !reflect.DeepEqual(got, []Target{{"shop", "locked"}, {"db", "default"}}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseTargets("shop"); err == nil {
		t.Fatal("shop: want an error")
	}
}
