// Package conditions reads and writes the status.conditions lists of unstructured objects, as the
// doubles in internal/doubles write them for OLM and MTC kinds.
package conditions

import (
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Get returns the condition of type typ, or nil.
func Get(u *unstructured.Unstructured, typ string) map[string]any { return kube.FindCondition(u, typ) }

// IsTrue reports whether the condition typ has status "True".
func IsTrue(u *unstructured.Unstructured, typ string) bool { return kube.ConditionTrue(u, typ) }

// Set puts cond (which must carry "type") into u's status.conditions, replacing a condition of the
// same type. lastTransitionTime is kept when the status did not change. It reports whether anything
// changed.
func Set(u *unstructured.Unstructured, cond map[string]any) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	now := time.Now().UTC().Format(time.RFC3339)
	for i, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != cond["type"] {
			continue
		}
		if same(m, cond) {
			return false
		}
		if m["status"] == cond["status"] && m["lastTransitionTime"] != nil {
			cond["lastTransitionTime"] = m["lastTransitionTime"]
		} else {
			cond["lastTransitionTime"] = now
		}
		conds[i] = cond
		_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
		return true
	}
	cond["lastTransitionTime"] = now
	conds = append(conds, cond)
	_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
	return true
}

// Remove drops the condition typ and reports whether it was there.
func Remove(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	out := conds[:0]
	found := false
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			found = true
			continue
		}
		out = append(out, c)
	}
	if found {
		_ = unstructured.SetNestedSlice(u.Object, out, "status", "conditions")
	}
	return found
}

// same compares two conditions ignoring lastTransitionTime.
func same(a, b map[string]any) bool {
	for k, v := range b {
		if k == "lastTransitionTime" {
			continue
		}
		if a[k] != v {
			return false
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok && k != "lastTransitionTime" {
			return false
		}
	}
	return true
}
