package cleanup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// collect lists every MTC custom resource in every namespace, cleaned for re-creation (no managedFields,
// uid or resourceVersion; status kept, since it is the migration history).
func (c *Cleanup) collect(ctx context.Context) ([]*unstructured.Unstructured, error) {
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
			u.SetUID("")
			u.SetResourceVersion("")
			u.SetGeneration(0)
			u.SetSelfLink("")
			out = append(out, u)
		}
	}
	return out, nil
}

// render turns the objects into YAML documents.
func render(objs []*unstructured.Unstructured) ([][]byte, error) {
	docs := make([][]byte, 0, len(objs))
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("failed to render %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// chunk packs documents into multi-document YAML streams of at most limit bytes each. A single document
// larger than limit gets a chunk of its own (and will then fail to be stored, which is reported).
func chunk(docs [][]byte, limit int) [][]byte {
	var chunks [][]byte
	var cur bytes.Buffer
	for _, d := range docs {
		if cur.Len() > 0 && cur.Len()+len(d)+4 > limit {
			chunks = append(chunks, bytes.Clone(cur.Bytes()))
			cur.Reset()
		}
		cur.WriteString("---\n")
		cur.Write(d)
	}
	if cur.Len() > 0 {
		chunks = append(chunks, cur.Bytes())
	}
	return chunks
}

// export stores the objects in ConfigMaps that the uninstall leaves alone (no owner, not part of the
// release) and, when asked, in a file. It returns the ConfigMap names.
func (c *Cleanup) export(ctx context.Context, ns string, objs []*unstructured.Unstructured, stamp string) ([]string, error) {
	docs, err := render(objs)
	if err != nil {
		return nil, err
	}
	if c.ExportFile != "" {
		var all bytes.Buffer
		for _, d := range docs {
			all.WriteString("---\n")
			all.Write(d)
		}
		if err := os.WriteFile(c.ExportFile, all.Bytes(), 0o600); err != nil {
			return nil, fmt.Errorf("cannot write the export to %s: %w; pass a writable path with --export", c.ExportFile, err)
		}
	}
	chunks := chunk(docs, exportChunk)
	var created []string
	for i, data := range chunks {
		name := fmt.Sprintf("mtc-export-%s-%d", stamp, i+1)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: ns,
				Labels: map[string]string{
					ExportLabel:                   stamp,
					"app.kubernetes.io/name":      "mtc-hooks",
					"app.kubernetes.io/component": "export",
				},
				Annotations: map[string]string{
					"mtc-helm.io/export-part":    strconv.Itoa(i+1) + "/" + strconv.Itoa(len(chunks)),
					"mtc-helm.io/export-objects": strconv.Itoa(len(objs)),
					"mtc-helm.io/restore-hint":   "oc get configmap -n " + ns + " -l " + ExportLabel + "=" + stamp + " -o jsonpath='{.items[*].data.objects\\.yaml}' | oc apply -f -",
				},
			},
			Data: map[string]string{ExportKey: string(data)},
		}
		err := c.retry(ctx, "create ConfigMap "+ns+"/"+name, func(ctx context.Context) error {
			_, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				_, err = c.Kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
			}
			return err
		})
		if err != nil {
			return created, kube.Explain(err, "store the export in ConfigMap "+ns+"/"+name, c.Host)
		}
		created = append(created, name)
	}
	return created, nil
}
