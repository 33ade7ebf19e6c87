package cleanup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// restoreOrder is what a restore re-creates, in dependency order: storages and clusters before the
// hooks and plans that name them. Migration records (MigMigration, DirectVolumeMigration, ...) are
// history: re-creating a MigMigration would start the migration again, so they stay in the export.
var restoreOrder = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{{kube.MigStorages, "MigStorage"}, {kube.MigClusters, "MigCluster"}, {kube.MigHooks, "MigHook"}, {kube.MigPlans, "MigPlan"}}

// Restore re-creates the plans, storages, clusters and hooks of an export on a reinstalled MTC.
type Restore struct {
	kube.Action
	// Export is the stamp of the export (the mtc-helm.io/export label of its ConfigMaps).
	Export string
	DryRun bool
}

// RestoreReport says what the restore created and what it left as it was.
type RestoreReport struct {
	Cluster  string   `json:"cluster"`
	Export   string   `json:"export"`
	DryRun   bool     `json:"dryRun,omitempty"`
	Created  []string `json:"created"`
	Existing []string `json:"existing,omitempty"`
	Skipped  []string `json:"skipped,omitempty"`
	Result   string   `json:"result"`
	Duration string   `json:"duration"`
}

// WriteText prints the report.
func (r *RestoreReport) WriteText(w io.Writer) error {
	t := kube.NewText(9)
	t.Field("cluster:", "%s", r.Cluster)
	t.Field("export:", "%s", r.Export)
	verb := "created"
	if r.DryRun {
		verb = "would create"
	}
	for _, n := range r.Created {
		t.Line("  %s %s", verb, n)
	}
	for _, n := range r.Existing {
		t.Line("  kept the existing %s", n)
	}
	for _, n := range r.Skipped {
		t.Line("  not restored: %s", n)
	}
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// Run reads the export's ConfigMaps, refuses an incomplete one, and creates each object that does
// not exist yet, storages first. The objects come as the export stored them: without uid,
// ownerReferences or finalizers, so nothing garbage-collects them afterwards.
func (r *Restore) Run(ctx context.Context) (rep *RestoreReport, err error) {
	start := time.Now()
	rep = &RestoreReport{Cluster: r.Host, Export: r.Export, DryRun: r.DryRun, Result: "failed"}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()
	ns := r.NS()
	if r.Export == "" {
		return rep, kube.Refusef("no export given; pass --export with the stamp of an export (oc get configmap -n %s -l %s --show-labels)", ns, ExportLabel)
	}
	c := &run{Cleanup: &Cleanup{Action: r.Action}}
	all, err := c.exports(ctx, ns)
	if err != nil {
		return rep, err
	}
	var found *storedExport
	var stamps []string
	for i := range all {
		stamps = append(stamps, all[i].stamp)
		if all[i].stamp == r.Export {
			found = &all[i]
		}
	}
	if found == nil {
		return rep, kube.Refusef("there is no export %s in %s (exports there: %s); pass one of those with --export", r.Export, ns, orNone(stamps))
	}
	if !found.complete {
		return rep, kube.Refusef("export %s in %s is incomplete (a cleanup was stopped while writing it; ConfigMaps %s); pick a complete export, as the next cleanup run deletes this one", r.Export, ns, strings.Join(found.names, ", "))
	}
	objs, err := r.read(ctx, ns, found.names)
	if err != nil {
		return rep, err
	}
	for _, k := range restoreOrder {
		for _, o := range objs {
			if o.GetKind() != k.kind {
				continue
			}
			name := k.kind + " " + o.GetNamespace() + "/" + o.GetName()
			if host, _, _ := unstructured.NestedBool(o.Object, "spec", "isHostCluster"); k.kind == "MigCluster" && host {
				rep.Skipped = append(rep.Skipped, name+" (the operator creates the host MigCluster)")
				continue
			}
			obj := o.DeepCopy()
			unstructured.RemoveNestedField(obj.Object, "status")
			if r.DryRun {
				_, err := r.Dynamic.Resource(k.gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
				switch {
				case err == nil:
					rep.Existing = append(rep.Existing, name)
				case apierrors.IsNotFound(err):
					rep.Created = append(rep.Created, name)
				default:
					return rep, kube.Explain(err, "get "+name, r.Host)
				}
				continue
			}
			_, err := r.Dynamic.Resource(k.gvr).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{FieldManager: kube.FieldManager})
			switch {
			case err == nil:
				rep.Created = append(rep.Created, name)
			case apierrors.IsAlreadyExists(err):
				rep.Existing = append(rep.Existing, name)
			case kube.IsNotServed(err):
				return rep, kube.Refusef("the cluster does not serve %s; install MTC again (helm install) before restoring", k.gvr.GroupResource())
			default:
				return rep, kube.Explain(err, "create "+name, r.Host)
			}
		}
	}
	for _, o := range objs {
		if !restoredKind(o.GetKind()) {
			rep.Skipped = append(rep.Skipped, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()+" (migration history; re-creating it would run it again)")
		}
	}
	rep.Result = "ok"
	return rep, nil
}

func restoredKind(kind string) bool {
	for _, k := range restoreOrder {
		if k.kind == kind {
			return true
		}
	}
	return false
}

// read parses the objects of the export's ConfigMaps.
func (r *Restore) read(ctx context.Context, ns string, names []string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, name := range names {
		cm, err := r.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Explain(err, "get the export ConfigMap "+ns+"/"+name, r.Host)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(cm.Data[ExportKey])), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("the export ConfigMap %s/%s holds YAML that does not parse (%w); it was changed after the cleanup wrote it", ns, name, err)
			}
			if len(m) == 0 {
				continue
			}
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out, nil
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
