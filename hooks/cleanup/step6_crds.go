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
	if len(velero) > 0 {
		reasons, err := c.veleroUsers(ctx, ns)
		if err != nil {
			return s, err
		}
		switch {
		case len(reasons) == 0:
			targets = append(targets, velero...)
		case c.DeleteShared:
			targets = append(targets, velero...)
			s.Notes = append(s.Notes, "deleted the velero.io and oadp.openshift.io CRDs although "+strings.Join(reasons, ", ")+" (--delete-shared)")
		default:
			c.veleroKept = true
			s.Kept = append(s.Kept, fmt.Sprintf("%d velero.io and oadp.openshift.io CRDs: %s; mtc-hooks cleanup --delete-shared --dry-run lists what deleting them anyway would take", len(velero), strings.Join(reasons, ", ")))
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

// veleroUsers says why the velero.io CRDs must stay: OADP still installed anywhere, or Velero objects
// outside the MTC namespace.
func (c *Cleanup) veleroUsers(ctx context.Context, ns string) ([]string, error) {
	var reasons []string
	csvs, err := c.listMeta(ctx, kube.CSVs, "")
	if err != nil {
		return nil, err
	}
	for i := range csvs {
		n := csvs[i].GetName()
		if strings.HasPrefix(n, kube.OADPCSVPrefix) || strings.HasPrefix(n, "redhat-oadp-operator.") {
			reasons = append(reasons, "OADP is installed (CSV "+csvs[i].GetNamespace()+"/"+n+")")
			break
		}
	}
	users, err := c.oadpUsers(ctx, ns)
	if err != nil {
		return nil, err
	}
	return append(reasons, users...), nil
}
