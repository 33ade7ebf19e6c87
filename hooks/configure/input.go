// Package configure implements the configure hook: it waits for the MTC operator that the chart installed,
// waits for the MTC CRDs, then server-side applies the MigrationController, MigStorage and MigClusters that
// the chart rendered into a ConfigMap, and waits for each to be reconciled.
package configure

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
)

// The ConfigMap the chart renders and its keys.
const (
	ConfigMapName = "mtc-configure"
	ObjectsKey    = "objects.yaml"
	OperatorKey   = "operator.yaml"
	// EgressKey, when there, is the egress.Plan: the policies of the user's to merge MTC's rules into
	// or take them out of.
	EgressKey = "egress.yaml"
)

// Operator modes.
const (
	ModeOLM    = "olm"
	ModeLegacy = "legacy"
)

// OperatorInfo is operator.yaml: how the chart installed the operator.
type OperatorInfo struct {
	Mode         string `json:"mode"`
	Subscription string `json:"subscription,omitempty"`
	Deployment   string `json:"deployment,omitempty"`
	// Line is the MTC y-stream the chart installs ("1.8"): on the OLM path configure waits for a CSV
	// of that line, so an upgrade that switched the channel is not taken as done on the old CSV.
	Line string `json:"line,omitempty"`
}

// ParseOperator reads key operator.yaml of the chart's ConfigMap.
func ParseOperator(data string) (OperatorInfo, error) {
	var op OperatorInfo
	if err := yaml.UnmarshalStrict([]byte(data), &op); err != nil {
		return op, fmt.Errorf("key %s is not {mode, subscription, deployment}: %w", OperatorKey, err)
	}
	switch op.Mode {
	case ModeOLM:
		if op.Subscription == "" {
			return op, fmt.Errorf("key %s says mode olm but names no subscription", OperatorKey)
		}
	case ModeLegacy:
		if op.Deployment == "" {
			return op, fmt.Errorf("key %s says mode legacy but names no deployment", OperatorKey)
		}
	default:
		return op, fmt.Errorf("key %s has mode %q; want olm or legacy", OperatorKey, op.Mode)
	}
	return op, nil
}

// parseObjects reads a multi-document YAML stream, skipping empty documents.
func parseObjects(data string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewBufferString(data)))
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("key %s, document %d: %w", ObjectsKey, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("key %s, document %d: %w", ObjectsKey, i, err)
		}
		if string(js) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("key %s, document %d: %w", ObjectsKey, i, err)
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("key %s, document %d (%s) has no metadata.name", ObjectsKey, i, u.GetKind())
		}
		out = append(out, u)
	}
	return out, nil
}

// ParseEgress reads key egress.yaml of the chart's ConfigMap; "" is no plan.
func ParseEgress(data string) (*egress.Plan, error) {
	if data == "" {
		return nil, nil
	}
	var p egress.Plan
	if err := yaml.UnmarshalStrict([]byte(data), &p); err != nil {
		return nil, fmt.Errorf("key %s is not {owner, kind, rules, merge, unmerge}: %w", EgressKey, err)
	}
	if _, ok := egress.GVR[p.Kind]; !ok || p.Owner == "" {
		return nil, fmt.Errorf("key %s has kind %q and owner %q; want %s or %s, and <namespace>/<release>", EgressKey, p.Kind, p.Owner, egress.NetworkPolicyKind, egress.FirewallKind)
	}
	return &p, nil
}
