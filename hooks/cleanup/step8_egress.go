package cleanup

import (
	"context"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
)

// 8. Take MTC's rules out of the egress policies of the user's that configure merged them into, leaving
// the user's rules as they were. Nothing to do (no step in the report) when the release merged into none.
func (c *run) unmergeEgress(ctx context.Context, ns string) (*Step, error) {
	if len(c.EgressUnmerge) == 0 {
		return nil, nil
	}
	s := &Step{Name: "take MTC's rules out of the egress policies of the user's"}
	m := &egress.Merger{Action: &c.Action, Kind: c.EgressKind, Owner: ns + "/" + c.Release}
	for _, t := range c.EgressUnmerge {
		what := c.EgressKind + " " + t.String()
		if c.DryRun {
			s.Notes = append(s.Notes, what+": MTC's rules would be taken out")
			continue
		}
		changed, err := m.Unmerge(ctx, t)
		if err != nil {
			return s, err
		}
		if changed {
			s.Notes = append(s.Notes, what+": MTC's rules taken out, the user's left as they were")
		}
	}
	return s, nil
}
