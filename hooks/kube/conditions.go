package kube

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// FindCondition returns the status.conditions entry of that type, or nil.
func FindCondition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// ConditionTrue says whether the condition of that type has status True.
func ConditionTrue(u *unstructured.Unstructured, typ string) bool {
	return FindCondition(u, typ)["status"] == "True"
}

// ConditionMessage is the message of the condition of that type, or "".
func ConditionMessage(u *unstructured.Unstructured, typ string) string {
	s, _ := FindCondition(u, typ)["message"].(string)
	return s
}
