package cleanup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// 7. Cluster-scoped leftovers: what MTC's operator made outside the namespace and leaves behind (its
// cluster roles and bindings, SCCs, the OAuthClient of the web console), known by the operator's mark,
// and OLM's RBAC of the removed CSVs, known by OLM's labels. The manual procedure deletes every
// cluster role and binding whose name holds migration.openshift.io or velero; those without a mark are
// kept and named in the report.
func (c *run) deleteClusterLeftovers(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "delete the MTC cluster roles and bindings, the SCCs and the OAuthClient the operator leaves behind"}
	_, crds, err := c.listCRDs(ctx)
	if err != nil {
		return s, err
	}
	veleroStays := c.veleroKept
	for i := range crds {
		if kube.CRDGroup(crds[i].GetName()) == kube.VeleroGroup && crds[i].GetDeletionTimestamp() == nil && !c.DryRun {
			veleroStays = true
		}
	}
	// OLM's RBAC for an MTC or OADP CSV of this namespace that no longer exists: its csv-cleanup
	// finalizer removes it, but a sync of the CSV still in flight can create it again a moment later.
	csvs, err := c.listMeta(ctx, kube.CSVs, ns)
	if err != nil {
		return s, err
	}
	liveCSV := map[string]bool{}
	for i := range csvs {
		liveCSV[csvs[i].GetName()] = true
	}
	var targets []target
	err = c.eachClusterRBAC(ctx, func(t target, u *unstructured.Unstructured) {
		if l := u.GetLabels(); l["olm.owner.kind"] == "ClusterServiceVersion" && l["olm.owner.namespace"] == ns && !liveCSV[l["olm.owner"]] &&
			(strings.HasPrefix(l["olm.owner"], kube.CSVPrefix) || kube.IsOADPCSV(l["olm.owner"])) {
			keepOLMRBAC(s, t, l["olm.owner"])
			return
		}
		n := u.GetName()
		if helmOwned(u) || ownedByAnyone(u) {
			return
		}
		vel := strings.Contains(n, "velero")
		switch {
		case madeByOperatorFor(u, ns) && !slices.Contains(kube.OperatorClusterRBAC, n):
			s.Kept = append(s.Kept, t.Kind+" "+n+": MTC's operator marked it, but it is none of "+strings.Join(kube.OperatorClusterRBAC, ", ")+
				" that the cleanup may delete; delete it with kubectl delete "+strings.ToLower(t.Kind)+" "+n)
		case madeByOperatorFor(u, ns):
			if vel && veleroStays {
				s.Kept = append(s.Kept, t.Kind+" "+n+": the velero.io CRDs stay")
				return
			}
			targets = append(targets, t)
		case n == kube.LegacyOperator && c.Release == "":
			// operator.yml's own RBAC of an MTC installed by hand, which this run removes.
			targets = append(targets, t)
		case strings.Contains(n, kube.MigrationGroup) || vel:
			// The manual procedure deletes by these name patterns; a name says nothing of who made it.
			s.Kept = append(s.Kept, t.Kind+" "+n+": its name looks like MTC's or Velero's, but MTC's operator did not make it; delete it yourself if it was MTC's")
		}
	})
	if err != nil {
		return s, err
	}
	singles := []struct {
		gvr        schema.GroupVersionResource
		kind, name string
		ifVelero   bool
	}{
		{kube.SCCs, "SecurityContextConstraints", "rsync-anyuid", false},
		{kube.SCCs, "SecurityContextConstraints", "velero-privileged", true},
		{kube.OAuthClients, "OAuthClient", "migration", false},
	}
	for _, o := range singles {
		u, err := c.get(ctx, o.gvr, "", o.name)
		if err != nil {
			return s, err
		}
		if u == nil || helmOwned(u) {
			continue
		}
		if !madeByOperatorFor(u, ns) {
			s.Kept = append(s.Kept, o.kind+" "+o.name+": MTC's operator did not make it; delete it yourself if it was MTC's")
			continue
		}
		if o.ifVelero && veleroStays {
			s.Kept = append(s.Kept, o.kind+" "+o.name+": the velero.io CRDs stay")
			continue
		}
		t := targetOf(o.gvr, o.kind, u)
		t.ByName = true
		targets = append(targets, t)
	}
	if err := c.deleteAndWait(ctx, ns, s, "the cluster-scoped leftovers", targets); err != nil {
		return s, err
	}
	return s, c.deleteOperatorObjects(ctx, ns, s)
}

// eachClusterRBAC calls f with every ClusterRole and ClusterRoleBinding.
func (c *run) eachClusterRBAC(ctx context.Context, f func(t target, u *unstructured.Unstructured)) error {
	for _, k := range []struct {
		gvr  schema.GroupVersionResource
		kind string
	}{{kube.ClusterRoles, "ClusterRole"}, {kube.ClusterRoleBindings, "ClusterRoleBinding"}} {
		items, err := c.listMeta(ctx, k.gvr, "")
		if err != nil {
			return err
		}
		for i := range items {
			f(targetOf(k.gvr, k.kind, &items[i]), &items[i])
		}
	}
	return nil
}

// keepOLMRBAC names, in the report, the RBAC OLM made for a CSV that is gone and did not take with
// it: the cleanup's ClusterRole may delete cluster RBAC by name only, and these names (<csv>-<hash>)
// are OLM's, so deleting them is left to the administrator, with the command.
func keepOLMRBAC(s *Step, t target, csv string) {
	s.Kept = append(s.Kept, fmt.Sprintf("%s: OLM made it for the removed CSV %s and its csv-cleanup did not take it; delete it with kubectl delete %s %s",
		t.String(), csv, strings.ToLower(t.Kind), t.Name))
}

// The ansible-based MTC operator marks what it creates outside the namespace of its
// MigrationController (cluster-scoped objects cannot have a namespaced owner) with these annotations.
const (
	primaryResourceKey     = "operator-sdk/primary-resource"
	primaryResourceTypeKey = "operator-sdk/primary-resource-type"
	primaryResourceType    = "MigrationController." + kube.MigrationGroup
)

// madeByOperatorFor says whether u carries the mark of the MTC operator reconciling a
// MigrationController of namespace ns.
func madeByOperatorFor(u *unstructured.Unstructured, ns string) bool {
	a := u.GetAnnotations()
	return a[primaryResourceTypeKey] == primaryResourceType && strings.HasPrefix(a[primaryResourceKey], ns+"/")
}
