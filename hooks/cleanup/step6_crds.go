package cleanup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// 6. The CRDs: migration.openshift.io always; velero.io and OADP's own oadp.openshift.io only when
// nothing else uses Velero or OADP (OLM never deletes the CRDs of an operator it removed).
func (c *run) deleteCRDs(ctx context.Context, ns string) (*Step, error) {
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
				if err := c.releaseKeptCRDs(ctx, crdGVR, ns, s, g.crds); err != nil {
					return s, err
				}
			}
		}
	}
	return s, c.deleteAndWait(ctx, ns, s, "the CRDs", targets)
}

// listCRDs lists the metadata of every CRD (their schemas can weigh megabytes on a cluster with many
// operators), through apiextensions v1, or v1beta1 on Kubernetes 1.11 (OCP 3.11). kube.CRDGroup gives
// a CRD's group from its name.
func (c *run) listCRDs(ctx context.Context) (schema.GroupVersionResource, []unstructured.Unstructured, error) {
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
func (c *run) sharedUsers(ctx context.Context, ns string) (velero, oadp []string, err error) {
	csvs, err := c.listMeta(ctx, kube.CSVs, "")
	if err != nil {
		return nil, nil, err
	}
	var installed []string // an OADP left installed
	for i := range csvs {
		n := csvs[i].GetName()
		if kube.IsOADPCSV(n) && csvs[i].GetDeletionTimestamp() == nil {
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

// releaseKeptCRDs hands the shared CRDs that stay for someone else back as they were before OLM
// installed OADP for MTC, once that OADP is gone: OLM labelled them (olm.managed, and
// operators.coreos.com/<package>.<namespace>, which makes it keep the Operator object), annotated
// them (operatorframework.io/installed-alongside-<hash>: <namespace>/<csv>) and made
// ClusterRoles for them that aggregate into the cluster's admin, edit and view roles. A CRD that
// another OLM operator lists as its component, or any CRD while an OADP still runs in the namespace,
// is left as it is.
func (c *run) releaseKeptCRDs(ctx context.Context, crdGVR schema.GroupVersionResource, ns string, s *Step, kept []target) error {
	if c.DryRun || len(kept) == 0 {
		return nil
	}
	csvs, err := c.listMeta(ctx, kube.CSVs, "")
	if err != nil {
		return err
	}
	// An OADP that OLM installed elsewhere (a user's, in a namespace of their own) holds these CRDs
	// too; OLM labels their components when it gets to it, so its CSV is the sure sign.
	elsewhere := false
	for i := range csvs {
		if n := csvs[i].GetName(); kube.IsOADPCSV(n) && csvs[i].GetDeletionTimestamp() == nil {
			if csvs[i].GetNamespace() == ns {
				return nil // MTC's OADP stays (something in the namespace uses it), and with it OLM's hold
			}
			elsewhere = true
		}
	}
	ours := map[string]bool{}
	for _, pkg := range kube.OADPPackages {
		ours["operators.coreos.com/"+pkg+"."+ns] = true
	}
	var roles []target
	for _, t := range kept {
		crd, err := c.get(ctx, crdGVR, "", t.Name)
		if err != nil {
			return err
		}
		if crd == nil {
			continue
		}
		// An OLM install of someone else's (a user's OADP in another namespace) labels the CRD too: then
		// only the label for this namespace goes, and what OLM keeps for that install (olm.managed, the
		// aggregate roles) stays.
		unset := map[string]any{}
		foreign := elsewhere
		for k := range crd.GetLabels() {
			if strings.HasPrefix(k, "operators.coreos.com/") {
				if !ours[k] {
					foreign = true
					continue
				}
				unset[k] = nil
			}
		}
		// OLM labels the components of an install when it gets to it; its note of the CSV each install
		// came with is there from the start.
		for k, v := range crd.GetAnnotations() {
			if strings.HasPrefix(k, "operatorframework.io/installed-alongside-") && !strings.HasPrefix(v, ns+"/") {
				foreign = true
			}
		}
		// OLM also notes, in an annotation per install, which CSV a CRD came with. That note is there
		// from the install on; the labels may not be yet, so either marks the CRD as held for MTC's OADP.
		unsetAnn := map[string]any{}
		for k, v := range crd.GetAnnotations() {
			csv, inNS := strings.CutPrefix(v, ns+"/")
			if strings.HasPrefix(k, "operatorframework.io/installed-alongside-") && inNS &&
				kube.IsOADPCSV(csv) {
				unsetAnn[k] = nil
			}
		}
		if len(unset) == 0 && len(unsetAnn) == 0 {
			continue
		}
		if !foreign && crd.GetLabels()["olm.managed"] == "true" {
			unset["olm.managed"] = nil
		}
		meta := map[string]any{"labels": unset}
		if len(unsetAnn) > 0 {
			meta["annotations"] = unsetAnn
		}
		patch, err := json.Marshal(map[string]any{"metadata": meta})
		if err != nil {
			return err
		}
		err = c.retry(ctx, "release CustomResourceDefinition "+t.Name, func(ctx context.Context) error {
			_, err := c.Dynamic.Resource(crdGVR).Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return kube.Explain(err, "remove OLM's labels from CustomResourceDefinition "+t.Name, c.Host)
		}
		s.Notes = append(s.Notes, "CustomResourceDefinition "+t.Name+": removed the labels OLM put on it for the OADP MTC brought")
		if foreign {
			continue
		}
		ofCRD, err := c.rolesBack(ctx, kube.OLMAggregateRoles(t.Name, kube.SharedCRDVersion(t.Name)), func(r *unstructured.Unstructured) bool {
			return slices.ContainsFunc(r.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.UID == crd.GetUID() })
		})
		if err != nil {
			return err
		}
		roles = append(roles, ofCRD...)
	}
	if err := c.deleteAndWait(ctx, ns, s, "the ClusterRoles OLM made for the kept CRDs", roles); err != nil || len(roles) == 0 {
		return err
	}
	// OLM's olm operator makes these roles when it syncs a CSV that owns the CRD; a sync queued before
	// the CSV went (or one of a CSV a stale resolution made again) can make them once more.
	c.quietLater(s, "ClusterRoles for the kept CRDs", func(ctx context.Context) ([]target, error) {
		return c.rolesBack(ctx, nameOf(roles), func(*unstructured.Unstructured) bool { return true })
	})
	return nil
}
