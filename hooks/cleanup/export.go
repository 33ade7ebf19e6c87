package cleanup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Export labels and limits.
const (
	// ExportLabel marks the ConfigMaps of an export; its value is the export's timestamp.
	ExportLabel = "mtc-helm.io/export"
	// ExportKey is the ConfigMap key with the multi-document YAML.
	ExportKey = "objects.yaml"
	// exportChunk stays well under the 1 MiB limit of a ConfigMap (and of an etcd value).
	exportChunk = 900 * 1024
)

// collect lists every MTC custom resource in every namespace, as the API server has them (without
// managedFields).
func (c *run) collect(ctx context.Context) ([]*unstructured.Unstructured, error) {
	gvrs := make([]schema.GroupVersionResource, len(kube.MTCKinds))
	for i, k := range kube.MTCKinds {
		gvrs[i] = k.GVR
	}
	lists, err := c.listAll(ctx, gvrs, "")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, items := range lists {
		for i := range items {
			u := items[i].DeepCopy()
			u.SetManagedFields(nil)
			out = append(out, u)
		}
	}
	return out, nil
}

// DroppedAnnotation, on an exported object, holds what the export dropped because re-creating the
// object with it would fail or would have the object garbage-collected or stuck: its
// ownerReferences, finalizers and deletionTimestamp, as JSON.
const DroppedAnnotation = "mtc-helm.io/export-dropped"

// restorable is the object as it can be created again: no uid, resourceVersion, generation,
// creationTimestamp, deletionTimestamp, ownerReferences or finalizers. The status stays (it is the
// migration history; the MTC CRDs have a status subresource, so a create ignores it).
func restorable(in *unstructured.Unstructured) *unstructured.Unstructured {
	u := in.DeepCopy()
	dropped := map[string]any{}
	if refs := u.GetOwnerReferences(); len(refs) > 0 {
		var l []string
		for _, r := range refs {
			l = append(l, r.Kind+"/"+r.Name)
		}
		dropped["ownerReferences"] = l
	}
	if f := u.GetFinalizers(); len(f) > 0 {
		dropped["finalizers"] = f
	}
	if ts := u.GetDeletionTimestamp(); ts != nil {
		dropped["deletionTimestamp"] = ts.UTC().Format(time.RFC3339)
	}
	for _, f := range []string{"uid", "resourceVersion", "generation", "selfLink", "creationTimestamp",
		"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	if len(dropped) > 0 {
		b, _ := json.Marshal(dropped)
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[DroppedAnnotation] = string(b)
		u.SetAnnotations(a)
	}
	return u
}

// render turns the objects into YAML documents.
func render(objs []*unstructured.Unstructured) ([][]byte, error) {
	docs := make([][]byte, 0, len(objs))
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("failed to render %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		docs = append(docs, append([]byte("---\n"), b...))
	}
	return docs, nil
}

// exportPart is one ConfigMap's worth of documents and the uids of their objects.
type exportPart struct {
	data []byte
	uids []string
}

// chunkObjects packs the documents into multi-document YAML streams of at most limit bytes each. A
// single document larger than limit gets a part of its own (and will then fail to be stored, which
// is reported).
func chunkObjects(objs []*unstructured.Unstructured, docs [][]byte, limit int) []exportPart {
	var parts []exportPart
	var cur exportPart
	for i, d := range docs {
		if len(cur.data) > 0 && len(cur.data)+len(d)+4 > limit {
			parts = append(parts, cur)
			cur = exportPart{}
		}
		cur.data = append(cur.data, d...)
		cur.uids = append(cur.uids, string(objs[i].GetUID()))
	}
	if len(cur.data) > 0 {
		parts = append(parts, cur)
	}
	return parts
}

// Export labels of each part besides ExportLabel.
const (
	// ExportCompleteLabel is "true" on every part once all parts of the export exist; a run killed
	// while writing leaves "false", and the next run deletes those parts.
	ExportCompleteLabel = "mtc-helm.io/export-complete"
	// exportUIDsKey lists, one per line, the uids of the objects a part holds: a rerun whose objects
	// all belong to a complete export reuses it rather than writing a second one.
	exportUIDsKey   = "uids"
	exportComponent = "export"
)

// export stores the objects in ConfigMaps that the uninstall leaves alone (no owner, not part of the
// release) and, when asked, in a file. An export is written whole or not at all: its parts are
// created (never overwritten; a stamp already taken gets a suffix), then all marked complete. A run
// killed before that leaves incomplete parts, which the next run deletes. A complete export that
// already holds every object still present (a rerun after an interrupted cleanup) is reused. It
// returns the ConfigMap names.
func (c *run) export(ctx context.Context, ns string, objs []*unstructured.Unstructured, stamp string) ([]string, error) {
	existing, err := c.exports(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if !e.complete {
			if err := c.deleteExport(ctx, ns, e); err != nil {
				return nil, err
			}
		}
	}
	clean := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		clean[i] = restorable(o)
	}
	if c.ExportFile != "" {
		docs, err := render(clean)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(c.ExportFile, bytes.Join(docs, nil), 0o600); err != nil {
			return nil, fmt.Errorf("cannot write the export to %s: %w; pass a writable path with --export", c.ExportFile, err)
		}
	}
	for _, e := range existing {
		if e.complete && e.holds(objs) {
			c.Logger().Info("every MTC object is in an earlier complete export; not writing another", "export", e.stamp)
			return e.names, nil
		}
	}
	docs, err := render(clean)
	if err != nil {
		return nil, err
	}
	parts := chunkObjects(objs, docs, exportChunk)
	taken := map[string]bool{}
	for _, e := range existing {
		taken[e.stamp] = true
	}
	base := stamp
	for n := 2; taken[stamp]; n++ {
		stamp = base + "-" + strconv.Itoa(n)
	}
	var created []string
	fail := func(err error) ([]string, error) {
		// Not written at all: take back the parts already created.
		_ = c.deleteConfigMaps(ctx, ns, created)
		return nil, err
	}
	for i, p := range parts {
		name := fmt.Sprintf("mtc-export-%s-%d", stamp, i+1)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: ns,
				Labels: map[string]string{
					ExportLabel:                   stamp,
					ExportCompleteLabel:           "false",
					"app.kubernetes.io/name":      "mtc-hooks",
					"app.kubernetes.io/component": exportComponent,
				},
				Annotations: map[string]string{
					"mtc-helm.io/export-part":    strconv.Itoa(i+1) + "/" + strconv.Itoa(len(parts)),
					"mtc-helm.io/export-objects": strconv.Itoa(len(objs)),
					"mtc-helm.io/restore-hint":   "mtc-hooks restore --export " + stamp + " --namespace " + ns,
				},
			},
			Data: map[string]string{ExportKey: string(p.data), exportUIDsKey: strings.Join(p.uids, "\n")},
		}
		err := c.retry(ctx, "create ConfigMap "+ns+"/"+name, func(ctx context.Context) error {
			_, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) && slices.Contains(created, name) {
				return nil // a retried create that had gone through
			}
			return err
		})
		if err != nil {
			return fail(kube.Explain(err, "store the export in ConfigMap "+ns+"/"+name, c.Host))
		}
		created = append(created, name)
	}
	patch := []byte(`{"metadata":{"labels":{"` + ExportCompleteLabel + `":"true"}}}`)
	for _, name := range created {
		err := c.retry(ctx, "mark ConfigMap "+ns+"/"+name+" complete", func(ctx context.Context) error {
			_, err := c.Kube.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		if err != nil {
			return fail(kube.Explain(err, "mark the export ConfigMap "+ns+"/"+name+" complete", c.Host))
		}
	}
	return created, nil
}

// storedExport is one export found in the namespace.
type storedExport struct {
	stamp    string
	names    []string
	complete bool
	uids     map[string]bool
}

func (e storedExport) holds(objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if !e.uids[string(o.GetUID())] {
			return false
		}
	}
	return true
}

// exports lists the exports stored in the namespace, oldest stamp first. An export is complete when
// every part it announces exists and is marked complete.
func (c *run) exports(ctx context.Context, ns string) ([]storedExport, error) {
	var cms *corev1.ConfigMapList
	err := c.retry(ctx, "list the export ConfigMaps", func(ctx context.Context) error {
		var err error
		cms, err = c.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: ExportLabel + ",app.kubernetes.io/component=" + exportComponent})
		return err
	})
	if err != nil {
		return nil, kube.Explain(err, "list the export ConfigMaps in "+ns, c.Host)
	}
	return groupExports(cms.Items), nil
}

// groupExports groups export ConfigMaps by stamp, oldest first.
func groupExports(cms []corev1.ConfigMap) []storedExport {
	by := map[string]*storedExport{}
	want := map[string]int{}
	var stamps []string
	for _, cm := range cms {
		st := cm.Labels[ExportLabel]
		e := by[st]
		if e == nil {
			e = &storedExport{stamp: st, complete: true, uids: map[string]bool{}}
			by[st] = e
			stamps = append(stamps, st)
		}
		e.names = append(e.names, cm.Name)
		if cm.Labels[ExportCompleteLabel] != "true" {
			e.complete = false
		}
		if _, total, ok := strings.Cut(cm.Annotations["mtc-helm.io/export-part"], "/"); ok {
			want[st], _ = strconv.Atoi(total)
		}
		for _, u := range strings.Split(cm.Data[exportUIDsKey], "\n") {
			if u != "" {
				e.uids[u] = true
			}
		}
	}
	sort.Strings(stamps)
	out := make([]storedExport, 0, len(stamps))
	for _, st := range stamps {
		e := by[st]
		if len(e.names) != want[st] {
			e.complete = false
		}
		sort.Strings(e.names)
		out = append(out, *e)
	}
	return out
}

// deleteExport removes the parts of an incomplete export a killed run left.
func (c *run) deleteExport(ctx context.Context, ns string, e storedExport) error {
	if err := c.deleteConfigMaps(ctx, ns, e.names); err != nil {
		return err
	}
	c.Logger().Info("deleted an incomplete export a killed run left", "export", e.stamp, "configMaps", strings.Join(e.names, ","))
	return nil
}

// deleteConfigMaps deletes export parts by name; one already gone counts as deleted.
func (c *run) deleteConfigMaps(ctx context.Context, ns string, names []string) error {
	for _, name := range names {
		err := c.retry(ctx, "delete ConfigMap "+ns+"/"+name, func(ctx context.Context) error {
			err := c.Kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return kube.Explain(err, "delete the export ConfigMap "+ns+"/"+name, c.Host)
		}
	}
	return nil
}
