package mtcoperator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/hooks/storage"
	"github.com/mtc-helm/mtc-helm/internal/doubles/conditions"
)

// controllerLine returns the MTC line ("1.8") of the running mig-controller, or "" when no
// controller replica is available.
func (d *Double) controllerLine(ctx context.Context) (string, error) {
	dep, err := d.kube.AppsV1().Deployments(Namespace).Get(ctx, ControllerName, metav1.GetOptions{})
	if err != nil {
		return "", client(err)
	}
	if !available(dep) || len(dep.Spec.Template.Spec.Containers) == 0 {
		return "", nil
	}
	img := dep.Spec.Template.Spec.Containers[0].Image
	if i := strings.LastIndex(img, ":v"); i >= 0 {
		return img[i+2:], nil
	}
	return "unknown", nil
}

// syncController plays mig-controller while its Deployment has an available replica.
func (d *Double) syncController(ctx context.Context) error {
	line, err := d.controllerLine(ctx)
	if err != nil || line == "" {
		return err
	}
	for _, step := range []func(context.Context, string) error{d.syncStorages, d.syncClusters, d.syncPlans, d.syncDVMs, d.syncMigrations} {
		if err := step(ctx, line); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (d *Double) listAll(ctx context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	l, err := d.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// updateStatus applies mutate to a copy and writes it when mutate reports a change. The kinds
// mig-controller serves have no status subresource, so it updates the whole object, as mig-controller
// does; a spec changed meanwhile makes the update conflict, and the next pass starts again.
func (d *Double) updateStatus(ctx context.Context, gvr schema.GroupVersionResource, u *unstructured.Unstructured, mutate func(*unstructured.Unstructured) bool) error {
	c := u.DeepCopy()
	if !mutate(c) {
		return nil
	}
	_, err := d.dyn.Resource(gvr).Namespace(c.GetNamespace()).Update(ctx, c, metav1.UpdateOptions{})
	return client(err)
}

// observe writes status.observedDigest, the sha256 of the spec's JSON, as mig-controller marks each
// object it reconciled; a client that applied a new spec knows from it when the conditions are the new
// spec's. It reports whether the digest changed.
func observe(u *unstructured.Unstructured) bool {
	d := specDigest(u)
	if cur, _, _ := unstructured.NestedString(u.Object, "status", "observedDigest"); cur == d {
		return false
	}
	_ = unstructured.SetNestedField(u.Object, d, "status", "observedDigest")
	return true
}

// specDigest is the sha256 of u's spec as JSON. Without a status subresource every status write
// makes a new generation, so the digest, not the generation, says whether the spec changed.
func specDigest(u *unstructured.Unstructured) string {
	j, _ := json.Marshal(u.Object["spec"])
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}

// critical is a blocking condition as mig-controller writes it.
type critical struct{ typ, msg string }

// setValidity writes Ready, or the critical conditions, replacing those of the types in all.
func setValidity(u *unstructured.Unstructured, all []string, found []critical, readyMsg string) bool {
	changed := false
	for _, t := range all {
		if !slices.ContainsFunc(found, func(c critical) bool { return c.typ == t }) {
			changed = conditions.Remove(u, t) || changed
		}
	}
	for _, c := range found {
		changed = conditions.Set(u, map[string]any{"type": c.typ, "status": "True", "reason": "NotSet", "category": "Critical", "message": c.msg}) || changed
	}
	if len(found) > 0 {
		return conditions.Remove(u, "Ready") || changed
	}
	return conditions.Set(u, map[string]any{"type": "Ready", "status": "True", "category": "Required", "message": readyMsg}) || changed
}

var storageKeys = map[string][]string{
	"aws":   {"aws-access-key-id", "aws-secret-access-key"},
	"gcp":   {"gcp-credentials"},
	"azure": {"azure-credentials"},
}

var storageConds = []string{"InvalidBSProvider", "InvalidBSCredsSecretRef", "InvalidBSCredsSecret", "InvalidBSFields", "BackupStorageProviderTestFailed"}

// StorageRetest is how often mig-controller tests a MigStorage's bucket again (it requeues every 30 s).
const StorageRetest = 30 * time.Second

// bucketTest is the outcome of one test of a MigStorage's bucket, for the spec and Secret version it
// was made with.
type bucketTest struct {
	digest   string
	secretRV string
	at       time.Time
	err      error
}

func (d *Double) syncStorages(ctx context.Context, _ string) error {
	items, err := d.listAll(ctx, MigStorages)
	if err != nil {
		return err
	}
	for i := range items {
		s := &items[i]
		found := d.checkStorage(ctx, s)
		if err := d.updateStatus(ctx, MigStorages, s, func(u *unstructured.Unstructured) bool {
			observed := observe(u)
			return setValidity(u, storageConds, found, "The storage is ready.") || observed
		}); err != nil {
			return err
		}
	}
	return nil
}

func (d *Double) checkStorage(ctx context.Context, s *unstructured.Unstructured) []critical {
	provider, _, _ := unstructured.NestedString(s.Object, "spec", "backupStorageProvider")
	keys, ok := storageKeys[provider]
	if !ok {
		return []critical{{"InvalidBSProvider", fmt.Sprintf("The backupStorageProvider %q is not supported: use aws, azure or gcp.", provider)}}
	}
	var out []critical
	cfg, _, _ := unstructured.NestedMap(s.Object, "spec", "backupStorageConfig")
	str := func(k string) string { v, _ := cfg[k].(string); return v }
	switch provider {
	case "aws":
		if str("awsBucketName") == "" {
			out = append(out, critical{"InvalidBSFields", "The backupStorageConfig has no awsBucketName."})
		}
	case "gcp":
		if str("gcpBucket") == "" {
			out = append(out, critical{"InvalidBSFields", "The backupStorageConfig has no gcpBucket."})
		}
	case "azure":
		if str("azureResourceGroup") == "" || str("azureStorageAccount") == "" || str("azureStorageContainer") == "" {
			out = append(out, critical{"InvalidBSFields", "The backupStorageConfig needs azureResourceGroup, azureStorageAccount and azureStorageContainer."})
		}
	}
	name, _, _ := unstructured.NestedString(cfg, "credsSecretRef", "name")
	ns, _, _ := unstructured.NestedString(cfg, "credsSecretRef", "namespace")
	if name == "" || ns == "" {
		return append(out, critical{"InvalidBSCredsSecretRef", "The backupStorageConfig.credsSecretRef must name a Secret and its namespace."})
	}
	sec, err := d.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return append(out, critical{"InvalidBSCredsSecretRef", fmt.Sprintf("The Secret %s/%s named by backupStorageConfig.credsSecretRef cannot be read (%s).", ns, name, reasonOf(err))})
	}
	var missing []string
	for _, k := range keys {
		if len(sec.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		out = append(out, critical{"InvalidBSCredsSecret", fmt.Sprintf("The Secret %s/%s lacks the %s credentials: %s.", ns, name, provider, strings.Join(missing, ", "))})
	}
	if len(out) > 0 || (provider != "aws" && d.opts.Clouds.GCS == "") {
		// Without stand-ins for Google's and Azure's endpoints only the S3 buckets, whose endpoint
		// the MigStorage names, can be tested.
		return out
	}
	if err := d.testBucket(ctx, s, cfg, sec); err != nil {
		// The controller's message, with the provider client's error in the brackets (migstorage/validation.go).
		out = append(out, critical{"BackupStorageProviderTestFailed",
			fmt.Sprintf("The `backupStorageConfig` settings [%s] not provided in secret %s/%s not valid.", err, ns, name)})
	}
	return out
}

// testBucket writes, reads and deletes one object in the MigStorage's bucket as mig-controller's
// providers do: for aws its region (default us-east-1), its s3Url (else publicUrl) with path-style
// URLs, its CA bundle and insecure flag; for gcp the service account's key; for azure the service
// principal's login and listKeys, then Shared Key (gcp and azure at Options.Clouds).
func (d *Double) testBucket(ctx context.Context, s *unstructured.Unstructured, cfg map[string]any, sec *corev1.Secret) error {
	last, ok := d.tested[s.GetUID()]
	if ok && last.digest == specDigest(s) && last.secretRV == sec.ResourceVersion && time.Since(last.at) < StorageRetest {
		return last.err
	}
	str := func(k string) string { v, _ := cfg[k].(string); return v }
	provider, _, _ := unstructured.NestedString(s.Object, "spec", "backupStorageProvider")
	c := &storage.Check{Provider: provider}
	switch provider {
	case "gcp":
		c.Bucket, c.Endpoint, c.CABundle = str("gcpBucket"), d.opts.Clouds.GCS, d.opts.Clouds.CA
	case "azure":
		// The controller lists the account's keys in the MigStorage's resource group, then uses
		// Shared Key on https://<account>.blob.<cloud suffix>.
		c.Azure = storage.Azure{ResourceGroup: str("azureResourceGroup"), StorageAccount: str("azureStorageAccount"), Container: str("azureStorageContainer")}
		c.Endpoint, c.CABundle = d.opts.Clouds.AzureBlob, d.opts.Clouds.CA
		c.AzureCloud = storage.AzureCloud{AuthorityHost: d.opts.Clouds.AzureAuthority, ResourceManager: d.opts.Clouds.AzureResourceManager}
	default:
		c.Bucket, c.Region, c.Endpoint = str("awsBucketName"), str("awsRegion"), str("awsS3Url")
		if c.Endpoint == "" {
			c.Endpoint = str("awsPublicUrl")
		}
		c.ForcePathStyle = c.Endpoint != ""
		c.Insecure, _ = cfg["insecure"].(bool)
		if ca := str("s3CustomCABundle"); ca != "" {
			pem, err := base64.StdEncoding.DecodeString(ca)
			if err != nil {
				return fmt.Errorf("s3CustomCABundle is not base64: %w", err)
			}
			c.CABundle = pem
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := c.ControllerTest(tctx, sec.Data)
	d.tested[s.GetUID()] = bucketTest{digest: specDigest(s), secretRV: sec.ResourceVersion, at: time.Now(), err: err}
	if err != nil {
		d.log.Info("the MigStorage's bucket test failed", "migstorage", s.GetName(), "error", err)
	}
	return err
}

func reasonOf(err error) string {
	if apierrors.IsNotFound(err) {
		return "it does not exist"
	}
	return err.Error()
}

var clusterConds = []string{"InvalidURL", "InvalidSaSecretRef", "InvalidSaToken", "TestConnectFailed", "SaTokenNotPrivileged"}

func (d *Double) syncClusters(ctx context.Context, _ string) error {
	items, err := d.listAll(ctx, MigClusters)
	if err != nil {
		return err
	}
	for i := range items {
		c := &items[i]
		var found []critical
		if host, _, _ := unstructured.NestedBool(c.Object, "spec", "isHostCluster"); !host {
			var verdict bool
			if found, verdict = d.checkRemote(ctx, c); !verdict {
				continue // the connection test has not answered yet
			}
		}
		if err := d.updateStatus(ctx, MigClusters, c, func(u *unstructured.Unstructured) bool {
			observed := observe(u)
			return setValidity(u, clusterConds, found, "The cluster is ready.") || observed
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkRemote returns what mig-controller finds wrong with a remote MigCluster, and whether it has
// a verdict (the connection test runs in the background).
func (d *Double) checkRemote(ctx context.Context, c *unstructured.Unstructured) ([]critical, bool) {
	var out []critical
	url, _, _ := unstructured.NestedString(c.Object, "spec", "url")
	if url == "" {
		out = append(out, critical{"InvalidURL", "A remote cluster needs spec.url."})
	}
	name, _, _ := unstructured.NestedString(c.Object, "spec", "serviceAccountSecretRef", "name")
	ns, _, _ := unstructured.NestedString(c.Object, "spec", "serviceAccountSecretRef", "namespace")
	if name == "" || ns == "" {
		return append(out, critical{"InvalidSaSecretRef", "A remote cluster needs spec.serviceAccountSecretRef naming a Secret and its namespace."}), true
	}
	sec, err := d.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return append(out, critical{"InvalidSaSecretRef", fmt.Sprintf("The Secret %s/%s named by serviceAccountSecretRef cannot be read (%s).", ns, name, reasonOf(err))}), true
	}
	if len(sec.Data["saToken"]) == 0 {
		out = append(out, critical{"InvalidSaToken", fmt.Sprintf("The Secret %s/%s has no saToken.", ns, name)})
	}
	if len(out) > 0 {
		return out, true
	}
	return d.connectVerdict(c, url, sec.Data["saToken"], sec.ResourceVersion)
}

// syncPlans closes plans as mig-controller does (migplan_controller.go): with spec.closed, Ready goes
// (the plan is no longer usable), then DeleteResources runs on every Ready cluster the plan names
// (CloseDelay stands for its work), and only when all of them answered does the plan get Closed (no
// reason). A Ready remote that cannot be reached now fails it, and the plan is tried again, never
// Closed meanwhile; a cluster that is not Ready is skipped.
func (d *Double) syncPlans(ctx context.Context, _ string) error {
	items, err := d.listAll(ctx, MigPlans)
	if err != nil {
		return err
	}
	for i := range items {
		p := &items[i]
		closed, _, _ := unstructured.NestedBool(p.Object, "spec", "closed")
		if !closed {
			delete(d.seen, p.GetUID())
			if err := d.updateStatus(ctx, MigPlans, p, func(u *unstructured.Unstructured) bool { return conditions.Remove(u, "Closed") }); err != nil {
				return err
			}
			continue
		}
		if conditions.IsTrue(p, "Closed") {
			continue
		}
		first, ok := d.seen[p.GetUID()]
		if !ok {
			d.seen[p.GetUID()] = time.Now()
			if err := d.updateStatus(ctx, MigPlans, p, func(u *unstructured.Unstructured) bool { return conditions.Remove(u, "Ready") }); err != nil {
				return err
			}
			continue
		}
		if time.Since(first) < d.opts.CloseDelay {
			continue
		}
		if err := d.deleteResources(ctx, p); err != nil {
			d.log.Info("closing a MigPlan: DeleteResources failed, tried again later", "migPlan", p.GetNamespace()+"/"+p.GetName(), "error", err.Error())
			continue
		}
		if err := d.updateStatus(ctx, MigPlans, p, func(u *unstructured.Unstructured) bool {
			return conditions.Set(u, map[string]any{"type": "Closed", "status": "True", "category": "Advisory", "message": "The migration plan is closed."})
		}); err != nil {
			return err
		}
		d.log.Info("closed a MigPlan", "migPlan", p.GetNamespace()+"/"+p.GetName())
	}
	return nil
}

// deleteResources stands for mig-controller's DeleteResources on each Ready cluster a closing plan
// names: the host answers; a remote must be reached now, with its token.
func (d *Double) deleteResources(ctx context.Context, p *unstructured.Unstructured) error {
	for _, ref := range []string{"srcMigClusterRef", "destMigClusterRef"} {
		name, _, _ := unstructured.NestedString(p.Object, "spec", ref, "name")
		ns, _, _ := unstructured.NestedString(p.Object, "spec", ref, "namespace")
		if name == "" {
			continue
		}
		if ns == "" {
			ns = p.GetNamespace()
		}
		c, err := d.dyn.Resource(MigClusters).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if !conditions.IsTrue(c, "Ready") {
			continue
		}
		if host, _, _ := unstructured.NestedBool(c.Object, "spec", "isHostCluster"); host {
			continue
		}
		url, _, _ := unstructured.NestedString(c.Object, "spec", "url")
		secName, _, _ := unstructured.NestedString(c.Object, "spec", "serviceAccountSecretRef", "name")
		secNS, _, _ := unstructured.NestedString(c.Object, "spec", "serviceAccountSecretRef", "namespace")
		sec, err := d.kube.CoreV1().Secrets(secNS).Get(ctx, secName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		insecure, _, _ := unstructured.NestedBool(c.Object, "spec", "insecure")
		caB64, _, _ := unstructured.NestedString(c.Object, "spec", "caBundle")
		ca, _ := base64.StdEncoding.DecodeString(caB64)
		found, err := testRemote(url, string(sec.Data["saToken"]), insecure, ca)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		if len(found) > 0 {
			return fmt.Errorf("cluster %s: %s", name, found[0].msg)
		}
	}
	return nil
}

// syncDVMs keeps MTC 1.8's finalizer on DirectVolumeMigrations and lets deleted ones go.
func (d *Double) syncDVMs(ctx context.Context, line string) error {
	if line != "1.8" {
		return nil
	}
	items, err := d.listAll(ctx, DVMs)
	if err != nil {
		return err
	}
	for i := range items {
		u := &items[i]
		fins := u.GetFinalizers()
		has := slices.Contains(fins, DVMFinalizer)
		switch {
		case u.GetDeletionTimestamp() != nil && has:
			if why := d.dvmBlocked(ctx, u); why != "" {
				d.log.Info("keeping the DirectVolumeMigration's finalizer", "dvm", u.GetNamespace()+"/"+u.GetName(), "why", why)
				continue
			}
			u.SetFinalizers(slices.DeleteFunc(fins, func(f string) bool { return f == DVMFinalizer }))
		case u.GetDeletionTimestamp() == nil && !has:
			u.SetFinalizers(append(fins, DVMFinalizer))
		default:
			continue
		}
		if _, err := d.dyn.Resource(DVMs).Namespace(u.GetNamespace()).Update(ctx, u, metav1.UpdateOptions{}); client(err) != nil {
			return err
		}
	}
	return nil
}

// dvmBlocked says why the controller cannot yet clean up after a deleted DirectVolumeMigration: it
// removes the rsync pods, services and routes on its source and its destination cluster through
// their clients, and drops the finalizer only once both are done, so a MigCluster that is gone or
// a remote it cannot connect to keeps the finalizer.
func (d *Double) dvmBlocked(ctx context.Context, dvm *unstructured.Unstructured) string {
	for _, side := range []string{"srcMigClusterRef", "destMigClusterRef"} {
		name, _, _ := unstructured.NestedString(dvm.Object, "spec", side, "name")
		if name == "" {
			continue // no cluster on that side: nothing of this migration there
		}
		ns, _, _ := unstructured.NestedString(dvm.Object, "spec", side, "namespace")
		if ns == "" {
			ns = dvm.GetNamespace()
		}
		c, err := d.dyn.Resource(MigClusters).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Sprintf("MigCluster %s/%s of %s: %s", ns, name, side, reasonOf(err))
		}
		if host, _, _ := unstructured.NestedBool(c.Object, "spec", "isHostCluster"); !host && d.unreachable(c.GetUID()) {
			return fmt.Sprintf("MigCluster %s/%s of %s cannot be connected to", ns, name, side)
		}
	}
	return ""
}

// syncMigrations runs new MigMigrations to Succeeded when Options.CompleteMigrations asks.
func (d *Double) syncMigrations(ctx context.Context, _ string) error {
	if !d.opts.CompleteMigrations {
		return nil
	}
	items, err := d.listAll(ctx, MigMigrations)
	if err != nil {
		return err
	}
	for i := range items {
		m := &items[i]
		uid := m.GetUID()
		if m.GetDeletionTimestamp() != nil || d.finished[uid] {
			continue
		}
		_, hasStatus := m.Object["status"]
		started, ours := d.seen[uid]
		switch {
		case !ours && !hasStatus:
			d.seen[uid] = time.Now()
			err = d.updateStatus(ctx, MigMigrations, m, func(u *unstructured.Unstructured) bool {
				_ = unstructured.SetNestedField(u.Object, "Started", "status", "phase")
				_ = unstructured.SetNestedField(u.Object, time.Now().UTC().Format(time.RFC3339), "status", "startTimestamp")
				conditions.Set(u, map[string]any{"type": "Running", "status": "True", "reason": "Started", "category": "Advisory", "message": "The migration is running (MTC operator double)."})
				return true
			})
		case ours && time.Since(started) >= d.opts.MigrationDuration:
			d.finished[uid] = true
			err = d.updateStatus(ctx, MigMigrations, m, func(u *unstructured.Unstructured) bool {
				_ = unstructured.SetNestedField(u.Object, "Completed", "status", "phase")
				conditions.Remove(u, "Running")
				conditions.Set(u, map[string]any{"type": "Succeeded", "status": "True", "reason": "Completed", "category": "Advisory", "message": "The migration has completed successfully (MTC operator double)."})
				return true
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
