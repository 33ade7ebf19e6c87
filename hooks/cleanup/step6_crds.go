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

// 6. The CRDs: migration.openshift.io always; velero.io and OADP's own oadp.openshift.io only when
// nothing else uses Velero or OADP (OLM never deletes the CRDs of an operator it removed).
func (c *Cleanup) deleteCRDs(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "delete the migration.openshift.io CRDs, and the velero.io and oadp.openshift.io CRDs when nothing else uses them"}
	crdGVR, crds, err := c.listCRDs(ctx)
	if err != nil {
		return s, err
	}
	var mig, velero []target
	for i := range crds {
		name := crds[i].GetName()
		group := kube.CRDGroup(name)
		switch group {
		case kube.MigrationGroup:
			if !slices.Contains(kube.MTCCRDs(), name) {
				s.Kept = append(s.Kept, "CustomResourceDefinition "+name+": not one of the MTC kinds this cleanup knows")
				continue
			}
			mig = append(mig, targetOf(crdGVR, "CustomResourceDefinition", &crds[i]))
		case kube.VeleroGroup, kube.OADPGroup, kube.DatamoverGroup:
			if !slices.Contains(kube.SharedCRDs, name) {
				s.Kept = append(s.Kept, "CustomResourceDefinition "+name+": not one an OADP 1.0 to 1.5 bundle brings, so not OADP's to remove here")
				continue
			}
			velero = append(velero, targetOf(crdGVR, "CustomResourceDefinition", &crds[i]))
		}
	}
	targets := mig
	var veleroIO, oadpOwn []target
	for _, t := range velero {
		if kube.CRDGroup(t.Name) == kube.VeleroGroup {
			veleroIO = append(veleroIO, t)
		} else {
			oadpOwn = append(oadpOwn, t)
		}
	}
	if len(velero) > 0 {
		veleroReasons, oadpReasons, err := c.sharedUsers(ctx, ns)
		if err != nil {
			return s, err
		}
		for _, g := range []struct {
			what    string
			crds    []target
			reasons []string
		}{{"velero.io", veleroIO, veleroReasons}, {"oadp.openshift.io and datamover.oadp.openshift.io", oadpOwn, oadpReasons}} {
			switch {
			case len(g.crds) == 0:
			case len(g.reasons) == 0:
				targets = append(targets, g.crds...)
			case c.DeleteShared:
				targets = append(targets, g.crds...)
				s.Notes = append(s.Notes, "deleted the "+g.what+" CRDs although "+strings.Join(g.reasons, ", ")+" (--delete-shared)")
			default:
				if g.what == "velero.io" {
					c.veleroKept = true
				}
				s.Kept = append(s.Kept, fmt.Sprintf("%d %s CRDs: %s; mtc-hooks cleanup --delete-shared --dry-run lists what deleting them anyway would take", len(g.crds), g.what, strings.Join(g.reasons, ", ")))
			}
		}
	}
	return s, c.deleteAndWait(ctx, ns, s, "the CRDs", targets)
}

// listCRDs lists the metadata of every CRD (their schemas can weigh megabytes on a cluster with many
// operators), through apiextensions v1, or v1beta1 on Kubernetes 1.11 (OCP 3.11). kube.CRDGroup gives
// a CRD's group from its name.
func (c *Cleanup) listCRDs(ctx context.Context) (schema.GroupVersionResource, []unstructured.Unstructured, error) {
	var items []unstructured.Unstructured
	gvr, err := kube.WithCRDs(func(gvr schema.GroupVersionResource) error {
		var err error
		items, err = c.listMetaOrNotServed(ctx, gvr, "")
		return err
	})
	if err != nil {
		return gvr, nil, kube.Explain(err, "list CustomResourceDefinitions", c.Host)
	}
	return gvr, items, nil
}


// sharedUsers says what keeps the shared CRDs: for velero.io, an OADP left installed anywhere and
// whatever oadpUsers names (another Velero, its objects, the user's in ns); for OADP's own groups
// (oadp.openshift.io, datamover.oadp.openshift.io), an OADP left installed and a
// DataProtectionApplication that is not MTC's.
func (c *Cleanup) sharedUsers(ctx context.Context, ns string) (velero, oadp []string, err error) {
	csvs, err := c.listMeta(ctx, kube.CSVs, "")
	if err != nil {
		return nil, nil, err
	}
	var installed []string // an OADP left installed
	for i := range csvs {
		n := csvs[i].GetName()
		if (strings.HasPrefix(n, kube.OADPCSVPrefix) || strings.HasPrefix(n, "redhat-oadp-operator.")) && csvs[i].GetDeletionTimestamp() == nil {
			installed = append(installed, "OADP is installed (CSV "+csvs[i].GetNamespace()+"/"+n+")")
			break
		}
	}
	dpas, err := c.otherDPAs(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	oadp = slices.Clone(installed)
	for _, d := range dpas {
		oadp = append(oadp, "DataProtectionApplication "+d)
	}
	users, err := c.oadpUsers(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	return append(slices.Clone(installed), users...), oadp, nil
}
