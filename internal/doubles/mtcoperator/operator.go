// Package mtcoperator is the MTC operator double: a stand-in for the MTC operator (mig-operator's
// ansible role, or the legacy 1.7 operator on OpenShift 3.11) and for the parts of mig-controller
// that installs and uninstalls can see, for tests and the demo on the local cluster. It is not MTC
// and says so: every object it creates carries the annotation mtc-helm.dev/double: mtc-operator.
//
// The operator part acts only while the operator Deployment migration-operator in
// openshift-migration is available: the one the OLM double installs (owned by an mtc-operator CSV,
// whose name gives the version) or the legacy one the 1.7 chart renders on OpenShift 3.11. For each
// MigrationController in openshift-migration it does what mtc-facts §1d, §2 and §4d describe:
//   - OLM operator (1.7, 1.8): Deployments migration-controller, migration-ui and migration-log-reader
//     by migration_controller, migration_ui and migration_log_reader (default true); the
//     DataProtectionApplication velero (when migration_velero, and only if OADP's CRD exists, else a
//     Failure condition); the host MigCluster <cluster_name>; all owned by the MigrationController,
//     so deleting it garbage-collects them. SCC rsync-anyuid and (with the web console) OAuthClient
//     migration are cluster-scoped and stay behind. The controller container's resources come from
//     mig_controller_{limits,requests}_{cpu,memory}, so the API server refuses a request above its
//     limit as it refuses the real role's Deployment. It runs as ansible-operator does (AOP
//     reconcile.go): a run when it first sees the MigrationController, when its generation changes,
//     when something the last run made is gone, and again after a failed run with a backoff; each run
//     marks its start (Running True reason Running, Successful False, an earlier Failure kept) and its
//     end (Successful True, or Failure True with the role's error and Running False).
//   - Legacy operator (1.7, no ClusterVersion): no controller and no web console; the velero.io CRDs,
//     ServiceAccount and Deployment velero, DaemonSet restic (privileged, the node's pod volumes from
//     a hostPath), ClusterRole and ClusterRoleBinding migration-velero and migration-controller
//     (rbac v1beta1), ServiceAccount migration-controller, SCCs rsync-anyuid and velero-privileged,
//     the log reader. No status (manageStatus is off there).
//   - Both write spec.version back into the MigrationController: the legacy operator first, before
//     Velero, as its role does; the OLM operator at the end of a run.
//
// The mig-controller part acts only while the Deployment migration-controller has an available
// replica: MigStorage and MigCluster get Ready (or a Critical condition that says what is wrong),
// a MigPlan with spec.closed gets Closed after Options.CloseDelay, and with MTC 1.8 every
// DirectVolumeMigration carries the finalizer migration.openshift.io/directvolumemigrationfinalizer,
// which it removes when the DVM is deleted. MigMigrations are left alone unless
// Options.CompleteMigrations asks to run new ones to Succeeded.
package mtcoperator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/doubles/conditions"
	"github.com/mtc-helm/mtc-helm/internal/doubles/poll"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// DoubleAnnotation marks every object a double creates; its value names the double.
const DoubleAnnotation = "mtc-helm.dev/double"

const doubleName = "mtc-operator"

// Names MTC hard-wires.
const (
	Namespace      = kube.Namespace
	OperatorName   = "migration-operator"
	ControllerName = "migration-controller"
	UIName         = "migration-ui"
	LogReaderName  = "migration-log-reader"
	VeleroName     = "velero"
	DVMFinalizer   = "migration.openshift.io/directvolumemigrationfinalizer"
	imageRegistry  = "registry.redhat.io/rhmtc/"
)

// LegacyVersion is the version the legacy 1.7 operator writes into the MigrationController
// (mig_operator_version of mig-legacy-operator release-1.7).
const LegacyVersion = "1.7.14"

func mig(r string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: r}
}

// Resources the double reads and writes.
var (
	MigrationControllers = mig("migrationcontrollers")
	MigClusters          = mig("migclusters")
	MigStorages          = mig("migstorages")
	MigPlans             = mig("migplans")
	MigMigrations        = mig("migmigrations")
	DVMs                 = mig("directvolumemigrations")
	DPAs                 = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "dataprotectionapplications"}
	SCCs                 = schema.GroupVersionResource{Group: "security.openshift.io", Version: "v1", Resource: "securitycontextconstraints"}
	OAuthClients         = schema.GroupVersionResource{Group: "oauth.openshift.io", Version: "v1", Resource: "oauthclients"}
	ClusterVersions      = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusterversions"}
	crdsV1               = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// Options configure the double.
type Options struct {
	// Config is an admin client configuration of the cluster.
	Config *rest.Config
	// Interval is the polling period (default 250ms).
	Interval time.Duration
	// CloseDelay is how long a MigPlan with spec.closed waits for its Closed condition (default 1s).
	CloseDelay time.Duration
	// CompleteMigrations runs each new MigMigration (one without status) to Running, then after
	// MigrationDuration (default 2s) to Succeeded. Off, MigMigrations are left alone.
	CompleteMigrations bool
	MigrationDuration  time.Duration
	// Log receives what the double does; nil discards it.
	Log *slog.Logger
	// Role selects the component played: RoleOperator, RoleController, or both when empty. Run
	// as a pod (cmd/mtc-double), each component is its own process with its own ServiceAccount.
	Role string
	// Clouds are where the controller's bucket test of gcp and azure MigStorages goes in place of
	// Google's and Azure's public endpoints, which the lab cannot reach; empty skips those tests.
	Clouds Clouds
}

// Clouds stand for Google's and Azure's public endpoints, and CA for the roots that trust them.
type Clouds struct {
	GCS, AzureBlob, AzureAuthority, AzureResourceManager string
	CA                                                   []byte
}

// Roles of Options.Role.
const (
	RoleOperator   = "mtc-operator"
	RoleController = "mig-controller"
)

// Double is a running MTC operator double.
type Double struct {
	opts Options
	dyn  dynamic.Interface
	kube kubernetes.Interface
	log  *slog.Logger
	loop *poll.Loop

	ocp4     *bool
	seen     map[types.UID]time.Time // MigPlans closed and MigMigrations started, by first sight
	finished map[types.UID]bool
	// tested holds the last bucket test of each MigStorage, redone when its spec or Secret changes
	// or StorageRetest has passed, as mig-controller requeues every 30 s.
	tested map[types.UID]bucketTest
	// remotes holds the last connection test of each remote MigCluster.
	remotes remotes
	// runs holds, per MigrationController, the operator's last reconcile run.
	runs map[types.UID]run
}

// run is one reconcile run of the operator: the generation it ran for, and when it failed, when it may
// run again (controller-runtime requeues a failed reconcile with a backoff that doubles).
type run struct {
	generation int64
	failed     bool
	retryAt    time.Time
	backoff    time.Duration
}

// Start starts the double; Stop ends it.
func Start(ctx context.Context, opts Options) (*Double, error) {
	if opts.Interval == 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.CloseDelay == 0 {
		opts.CloseDelay = time.Second
	}
	if opts.MigrationDuration == 0 {
		opts.MigrationDuration = 2 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.WarningHandler = rest.NoWarnings{}
	d := &Double{opts: opts, log: opts.Log.With("double", doubleName),
		seen: map[types.UID]time.Time{}, finished: map[types.UID]bool{}, tested: map[types.UID]bucketTest{},
		remotes: remotes{tests: map[types.UID]*remoteTest{}}, runs: map[types.UID]run{}}
	var err error
	if d.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if d.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	d.loop = poll.Start(opts.Interval, d.sync)
	return d, nil
}

// Stop ends the double and waits for its loop to return. It may be called more than once.
func (d *Double) Stop() { d.loop.Stop() }

// operator is the running operator: how it was installed and what version it is.
type operator struct {
	legacy  bool
	version string // 1.8.11
	line    string // 1.8
}

// image is what the role deploys for the image whose variables are <name>_REPO and <name>_TAG. The
// legacy role composes REGISTRY/PROJECT/<name>_REPO:<name>_TAG from the environment operator.yml gives
// it (Red Hat's pins a digest as <repo>@sha256 and the hex digest); where the environment names none,
// and for the OLM operator, it is the line's image.
func (o operator) image(name, repo string) string {
	if o.legacy {
		reg, proj, r, tag := os.Getenv("REGISTRY"), os.Getenv("PROJECT"), os.Getenv(name+"_REPO"), os.Getenv(name+"_TAG")
		if reg != "" && proj != "" && r != "" && tag != "" {
			return reg + "/" + proj + "/" + r + ":" + tag
		}
	}
	return imageRegistry + repo + ":v" + o.line
}

var csvVersion = regexp.MustCompile(`^mtc-operator\.v(\d+\.\d+)\.\d+`)

// findOperator returns the operator when its Deployment is available.
func (d *Double) findOperator(ctx context.Context) (*operator, error) {
	dep, err := d.kube.AppsV1().Deployments(Namespace).Get(ctx, OperatorName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if !available(dep) {
		return nil, nil
	}
	for _, r := range dep.OwnerReferences {
		if r.Kind == "ClusterServiceVersion" {
			if m := csvVersion.FindStringSubmatch(r.Name); m != nil {
				return &operator{version: strings.TrimPrefix(r.Name, "mtc-operator.v"), line: m[1]}, nil
			}
			return nil, nil // another operator's Deployment of that name
		}
	}
	return &operator{legacy: true, version: LegacyVersion, line: "1.7"}, nil
}

func available(d *appsv1.Deployment) bool {
	if d == nil || d.DeletionTimestamp != nil || d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas < 1 {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// isOCP4 reports whether the cluster serves config.openshift.io, which OpenShift 3.11 lacks
// (remembered once known). Discovery is open to every ServiceAccount, as on a cluster.
func (d *Double) isOCP4(ctx context.Context) (bool, error) {
	if d.ocp4 != nil {
		return *d.ocp4, nil
	}
	_, err := d.kube.Discovery().ServerResourcesForGroupVersion(ClusterVersions.GroupVersion().String())
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	v := err == nil
	d.ocp4 = &v
	return v, nil
}

func (d *Double) sync(ctx context.Context) {
	if d.opts.Role != RoleController {
		if err := d.syncOperator(ctx); err != nil && ctx.Err() == nil {
			d.logErr("operator", err)
		}
	}
	if d.opts.Role != RoleOperator {
		if err := d.syncController(ctx); err != nil && ctx.Err() == nil {
			d.logErr("controller", err)
		}
	}
}

// logErr logs a failed pass; a refusal by the API server (RBAC) is an error worth seeing in the
// pod's log, anything else is retried on the next pass.
func (d *Double) logErr(part string, err error) {
	if apierrors.IsForbidden(err) {
		d.log.Error(part+" pass failed", "err", err)
		return
	}
	d.log.Debug(part+" pass failed", "err", err)
}

func (d *Double) syncOperator(ctx context.Context) error {
	op, err := d.findOperator(ctx)
	if err != nil || op == nil {
		return err
	}
	ocp4, err := d.isOCP4(ctx)
	if err != nil {
		return err
	}
	mcs, err := d.dyn.Resource(MigrationControllers).Namespace(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil // no CRD yet
		}
		return err
	}
	for i := range mcs.Items {
		mc := &mcs.Items[i]
		if mc.GetDeletionTimestamp() != nil {
			continue
		}
		last, ran := d.runs[mc.GetUID()]
		due := !ran || last.generation != mc.GetGeneration() || (last.failed && !time.Now().Before(last.retryAt)) ||
			(!last.failed && d.dependentGone(ctx, mc, *op, ocp4))
		if !due {
			continue
		}
		// A run as ansible-operator makes it (manageStatus true; the legacy role manages none):
		// mark it running, run the role, mark it done.
		if !op.legacy {
			if err := d.markRunning(ctx, mc); err != nil {
				return err
			}
		}
		err := d.reconcile(ctx, mc, *op, ocp4)
		next := run{generation: mc.GetGeneration()}
		if err != nil {
			d.logErr("reconcile of MigrationController "+mc.GetName(), err)
			if ctx.Err() != nil {
				return nil
			}
			next.failed = true
			next.backoff = min(max(2*last.backoff, 500*time.Millisecond), 16*time.Second)
			next.retryAt = time.Now().Add(next.backoff)
		}
		if !op.legacy {
			if err := d.markDone(ctx, mc, err); err != nil {
				return err
			}
		}
		d.runs[mc.GetUID()] = next
	}
	return nil
}

// dependentGone reports whether something a successful run made in the namespace has gone since:
// ansible-operator watches what it owns and runs again when it changes.
func (d *Double) dependentGone(ctx context.Context, mc *unstructured.Unstructured, op operator, ocp4 bool) bool {
	s := spec(mc)
	deps := corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	if !d.exists(ctx, deps, Namespace, ControllerName) {
		return true
	}
	if !op.legacy && kube.Truthy(s["migration_controller"]) && !d.exists(ctx, appsv1.SchemeGroupVersion.WithResource("deployments"), Namespace, ControllerName) {
		return true
	}
	if !op.legacy && ocp4 && kube.Truthy(s["migration_velero"]) && !d.exists(ctx, DPAs, Namespace, VeleroName) {
		return true
	}
	if op.legacy && kube.Truthy(s["migration_velero"]) && (!d.exists(ctx, appsv1.SchemeGroupVersion.WithResource("deployments"), Namespace, VeleroName) ||
		!d.exists(ctx, appsv1.SchemeGroupVersion.WithResource("daemonsets"), Namespace, ResticName)) {
		return true
	}
	return false
}

// spec reads the MigrationController's spec the way ansible-operator hands it to the role: keys in
// snake_case.
func spec(mc *unstructured.Unstructured) map[string]any {
	raw, _, _ := unstructured.NestedMap(mc.Object, "spec")
	out := map[string]any{}
	for k, v := range raw {
		out[snake(k)] = v
	}
	return out
}

var upper = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func snake(s string) string { return strings.ToLower(upper.ReplaceAllString(s, "${1}_${2}")) }

// roleError is a failure of the role, reported in the Failure condition.
type roleError struct{ msg string }

func (e *roleError) Error() string { return e.msg }

func (d *Double) reconcile(ctx context.Context, mc *unstructured.Unstructured, op operator, ocp4 bool) error {
	// The legacy role writes its version in its third task, after the ConfigMap
	// migration-cluster-config and the namespace label and before it reads migration_velero or
	// creates anything of Velero (LO@release-1.7 tasks/main.yml). The OLM double writes it when the
	// run is through.
	if op.legacy {
		if err := d.writeVersion(ctx, mc, op); err != nil {
			return err
		}
	}
	s := spec(mc)
	required := []string{"migration_velero"}
	if !op.legacy {
		required = append(required, "migration_controller", "migration_ui")
	}
	for _, k := range required {
		if _, ok := s[k]; !ok {
			return &roleError{fmt.Sprintf("the role needs the variable %s, which the MigrationController does not set", k)}
		}
	}
	controller := !op.legacy && kube.Truthy(s["migration_controller"])
	ui := !op.legacy && kube.Truthy(s["migration_ui"])
	logReader := true
	if v, ok := s["migration_log_reader"]; ok {
		logReader = kube.Truthy(v)
	}
	velero := kube.Truthy(s["migration_velero"])
	clusterName, _ := s["cluster_name"].(string)
	if (controller || ui) && clusterName == "" {
		return &roleError{"the role needs the variable cluster_name to name the host MigCluster, which the MigrationController does not set"}
	}
	owner := metav1.OwnerReference{APIVersion: "migration.openshift.io/v1alpha1", Kind: "MigrationController", Name: mc.GetName(), UID: mc.GetUID()}
	primary := map[string]string{
		DoubleAnnotation:                     doubleName,
		"operator-sdk/primary-resource":      mc.GetNamespace() + "/" + mc.GetName(),
		"operator-sdk/primary-resource-type": "MigrationController.migration.openshift.io",
	}

	if op.legacy || !d.exists(ctx, corev1.SchemeGroupVersion.WithResource("serviceaccounts"), Namespace, ControllerName) {
		if err := d.ensureServiceAccount(ctx, ControllerName, owner); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name, env, repo string
		on              bool
		labels          map[string]string
	}{
		{ControllerName, "MIG_CONTROLLER", "openshift-migration-controller-rhel8", controller, map[string]string{"app": "migration", "control-plane": "controller-manager"}},
		{UIName, "MIG_UI", "openshift-migration-ui-rhel8", ui, map[string]string{"app": "migration", "service": "migration-ui"}},
		{LogReaderName, "MIG_LOG_READER", "openshift-migration-log-reader-rhel8", logReader, map[string]string{"app": "migration", "logreader": "mig"}},
	} {
		var res *corev1.ResourceRequirements
		if c.name == ControllerName && c.on {
			var err error
			if res, err = controllerResources(s); err != nil {
				return err
			}
		}
		if err := d.ensureDeployment(ctx, c.name, c.on, op.image(c.env, c.repo), c.labels, ControllerName, owner, res); err != nil {
			return err
		}
	}

	switch {
	case !op.legacy && ocp4:
		if velero {
			if err := d.ensureDPA(ctx, mc, op, s, owner); err != nil {
				return err
			}
		} else if err := d.deleteOwned(ctx, DPAs, VeleroName, mc.GetUID()); err != nil {
			return err
		}
	case op.legacy:
		if velero {
			if err := d.ensureLegacyVelero(ctx, op, s, owner, primary); err != nil {
				return err
			}
		} else {
			if err := d.ensureDeployment(ctx, VeleroName, false, "", nil, "", owner, nil); err != nil {
				return err
			}
			if err := d.ensureRestic(ctx, false, "", "", nil, owner); err != nil {
				return err
			}
		}
		if err := d.ensureClusterRBAC(ctx, ControllerName, ControllerName, legacyControllerRules, primary); err != nil {
			return err
		}
	}
	if err := d.ensureSCC(ctx, "rsync-anyuid", false, []string{"system:serviceaccount:" + Namespace + ":" + ControllerName}, primary); err != nil {
		return err
	}
	if ui && ocp4 {
		if err := d.ensureOAuthClient(ctx, primary); err != nil {
			return err
		}
	}
	if controller || ui {
		if err := d.ensureHostCluster(ctx, clusterName, s, owner); err != nil {
			return err
		}
	}
	if !op.legacy {
		if err := d.writeVersion(ctx, mc, op); err != nil {
			return err
		}
	}
	d.log.Info("reconciled", "migrationController", mc.GetName(), "version", op.version, "legacy", op.legacy)
	return nil
}

// writeVersion writes the operator's version into the MigrationController's spec, as the role's
// migration-controller.yml.j2 task does.
func (d *Double) writeVersion(ctx context.Context, mc *unstructured.Unstructured, op operator) error {
	if v, _, _ := unstructured.NestedString(mc.Object, "spec", "version"); v == op.version {
		return nil
	}
	patch := fmt.Sprintf(`{"spec":{"version":%q}}`, op.version)
	if _, err := d.dyn.Resource(MigrationControllers).Namespace(mc.GetNamespace()).Patch(ctx, mc.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "mtc-operator-double"}); err != nil {
		return err
	}
	d.log.Info("wrote the version", "migrationController", mc.GetName(), "version", op.version, "legacy", op.legacy)
	return nil
}

// markRunning writes what ansible-operator writes when a run starts (AOP reconcile.go markRunning):
// Successful, when there, goes False; Running is True with reason Running. A Failure of an earlier
// run stays as it is until this run ends.
func (d *Double) markRunning(ctx context.Context, mc *unstructured.Unstructured) error {
	return d.updateMCStatus(ctx, mc, func(cur *unstructured.Unstructured) bool {
		changed := false
		if c := conditions.Get(cur, "Successful"); c != nil {
			changed = conditions.Set(cur, withStatus(c, "False"))
		}
		return conditions.Set(cur, map[string]any{"type": "Running", "status": "True", "reason": "Running", "message": "Running reconciliation"}) || changed
	})
}

// markDone writes what ansible-operator writes when a run ends (markDone): after a successful run,
// Running True with reason Successful, Successful True and Failure False; after a failed one, Running
// False (its reason left as it was), Failure True with the role's error and Successful False.
// lastTransitionTime moves only for a condition whose status flips.
func (d *Double) markDone(ctx context.Context, mc *unstructured.Unstructured, runErr error) error {
	return d.updateMCStatus(ctx, mc, func(cur *unstructured.Unstructured) bool {
		if runErr == nil {
			changed := conditions.Set(cur, map[string]any{"type": "Running", "status": "True", "reason": "Successful", "message": "Awaiting next reconciliation"})
			changed = conditions.Set(cur, map[string]any{"type": "Successful", "status": "True", "reason": "Successful", "message": "Last reconciliation succeeded"}) || changed
			return conditions.Set(cur, map[string]any{"type": "Failure", "status": "False", "reason": "", "message": ""}) || changed
		}
		changed := false
		if c := conditions.Get(cur, "Running"); c != nil {
			changed = conditions.Set(cur, withStatus(c, "False"))
		}
		changed = conditions.Set(cur, map[string]any{"type": "Failure", "status": "True", "reason": "Failed", "message": runErr.Error()}) || changed
		return conditions.Set(cur, map[string]any{"type": "Successful", "status": "False", "reason": "", "message": ""}) || changed
	})
}

// withStatus copies a condition with another status (its reason and message kept).
func withStatus(c map[string]any, status string) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		if k != "lastTransitionTime" {
			out[k] = v
		}
	}
	out["status"] = status
	return out
}

// updateMCStatus reads the MigrationController again (the status must not be stale) and writes the
// status mutate makes, when it changed anything.
func (d *Double) updateMCStatus(ctx context.Context, mc *unstructured.Unstructured, mutate func(*unstructured.Unstructured) bool) error {
	ri := d.dyn.Resource(MigrationControllers).Namespace(mc.GetNamespace())
	cur, err := ri.Get(ctx, mc.GetName(), metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if !mutate(cur) {
		return nil
	}
	_, err = ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (d *Double) exists(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := d.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

func meta(name string, owner *metav1.OwnerReference, labels map[string]string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: labels, Annotations: map[string]string{DoubleAnnotation: doubleName}}
	if owner != nil {
		m.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return m
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func (d *Double) ensureServiceAccount(ctx context.Context, name string, owner metav1.OwnerReference) error {
	_, err := d.kube.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(name, &owner, nil)}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ensureDeployment creates (on) or deletes (off) an operand Deployment owned by the
// MigrationController, and follows image changes (an operator upgrade).
func (d *Double) ensureDeployment(ctx context.Context, name string, on bool, image string, labels map[string]string, sa string, owner metav1.OwnerReference, res *corev1.ResourceRequirements) error {
	apps := d.kube.AppsV1().Deployments(Namespace)
	cur, err := apps.Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	found := err == nil
	if !on {
		if found && ownedBy(cur.OwnerReferences, owner.UID) {
			d.log.Info("deleting a component the MigrationController turned off", "deployment", name)
			return client(apps.Delete(ctx, name, metav1.DeleteOptions{}))
		}
		return nil
	}
	if found {
		if len(cur.Spec.Template.Spec.Containers) == 0 || !ownedBy(cur.OwnerReferences, owner.UID) {
			return nil
		}
		c := &cur.Spec.Template.Spec.Containers[0]
		if c.Image == image && (res == nil || equality.Semantic.DeepEqual(c.Resources, *res)) {
			return nil
		}
		c.Image = image
		if res != nil {
			c.Resources = *res
		}
		_, err = apps.Update(ctx, cur, metav1.UpdateOptions{})
		return roleTask("update Deployment "+name, err)
	}
	one := int32(1)
	f, t := false, true
	sel := map[string]string{"app": labels["app"], "component": name}
	podLabels := map[string]string{"component": name, "app.kubernetes.io/part-of": Namespace}
	for k, v := range labels {
		podLabels[k] = v
	}
	dep := &appsv1.Deployment{
		ObjectMeta: meta(name, &owner, podLabels),
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa,
					SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &t, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{Name: strings.TrimPrefix(name, "migration-"), Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &f, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
				},
			},
		},
	}
	if res != nil {
		dep.Spec.Template.Spec.Containers[0].Resources = *res
	}
	if _, err := apps.Create(ctx, dep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return roleTask("create Deployment "+name, err)
	}
	d.log.Info("created a component", "deployment", name, "image", image)
	return nil
}

// roleTask turns the API server's refusal of an object the role applies (an invalid one) into the
// role's failure, with the server's message, as the k8s module reports it; anything else (a dropped
// connection) stays an error of the pass, retried.
func roleTask(what string, err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return &roleError{fmt.Sprintf("Failed to %s: %v", what, err)}
	}
	return err
}

// controllerResources are the controller container's resources as the role renders them from
// mig_controller_{limits,requests}_{cpu,memory} (defaults 1 / 10Gi and 100m / 350Mi, mtc-facts §2).
func controllerResources(s map[string]any) (*corev1.ResourceRequirements, error) {
	q := func(key, def string) (resource.Quantity, error) {
		v := def
		if x, ok := s[key].(string); ok && x != "" {
			v = x
		}
		out, err := resource.ParseQuantity(v)
		if err != nil {
			return out, &roleError{fmt.Sprintf("the role cannot use %s %q: %v", key, v, err)}
		}
		return out, nil
	}
	r := &corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
	for _, f := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		key  string
		def  string
	}{
		{r.Limits, corev1.ResourceCPU, "mig_controller_limits_cpu", "1"},
		{r.Limits, corev1.ResourceMemory, "mig_controller_limits_memory", "10Gi"},
		{r.Requests, corev1.ResourceCPU, "mig_controller_requests_cpu", "100m"},
		{r.Requests, corev1.ResourceMemory, "mig_controller_requests_memory", "350Mi"},
	} {
		v, err := q(f.key, f.def)
		if err != nil {
			return nil, err
		}
		f.list[f.name] = v
	}
	return r, nil
}

func client(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (d *Double) deleteOwned(ctx context.Context, gvr schema.GroupVersionResource, name string, uid types.UID) error {
	u, err := d.dyn.Resource(gvr).Namespace(Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return client(err)
	}
	if !ownedBy(u.GetOwnerReferences(), uid) {
		return nil
	}
	return client(d.dyn.Resource(gvr).Namespace(Namespace).Delete(ctx, name, metav1.DeleteOptions{}))
}

func ownerMap(o metav1.OwnerReference) map[string]any {
	return map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind, "name": o.Name, "uid": string(o.UID)}
}

// ensureDPA creates the DataProtectionApplication velero through which OADP runs Velero for MTC.
func (d *Double) ensureDPA(ctx context.Context, mc *unstructured.Unstructured, op operator, s map[string]any, owner metav1.OwnerReference) error {
	// The operator's ServiceAccount may not read CRDs; like any client it asks discovery.
	if _, err := d.kube.Discovery().ServerResourcesForGroupVersion(DPAs.GroupVersion().String()); err != nil {
		if apierrors.IsNotFound(err) {
			return &roleError{"OADP is not installed: the DataProtectionApplication API (dataprotectionapplications.oadp.openshift.io) does not exist, so Velero cannot be configured; install the OADP operator that the MTC bundle depends on"}
		}
		return err
	}
	if d.exists(ctx, DPAs, Namespace, VeleroName) {
		return nil
	}
	timeout, _ := s["restic_timeout"].(string)
	if timeout == "" {
		timeout = "1h"
	}
	agent := "restic"
	velero := map[string]any{"defaultPlugins": []any{"openshift", "aws", "gcp", "azure"}, "noDefaultBackupLocation": true}
	if op.line == "1.8" {
		velero["customPlugins"] = []any{map[string]any{"name": "mtc", "image": imageRegistry + "openshift-migration-velero-plugin-rhel8:v1.8"}}
	}
	dpa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": VeleroName, "namespace": Namespace,
			"annotations":     map[string]any{DoubleAnnotation: doubleName},
			"ownerReferences": []any{ownerMap(owner)}},
		"spec": map[string]any{
			"configuration":        map[string]any{"velero": velero, agent: map[string]any{"enable": true, "timeout": timeout}},
			"unsupportedOverrides": map[string]any{"operator-type": "mtc"},
		},
	}}
	_, err := d.dyn.Resource(DPAs).Namespace(Namespace).Create(ctx, dpa, metav1.CreateOptions{})
	if err == nil {
		d.log.Info("created the DataProtectionApplication", "name", VeleroName)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ensureLegacyVelero installs Velero the way the legacy operator does: its CRDs, ServiceAccount,
// cluster RBAC, SCC, Deployment velero and DaemonSet restic.
func (d *Double) ensureLegacyVelero(ctx context.Context, op operator, s map[string]any, owner metav1.OwnerReference, primary map[string]string) error {
	if err := installCRDs(ctx, d.dyn, mtccrds.Velero); err != nil {
		return err
	}
	if err := d.ensureServiceAccount(ctx, VeleroName, owner); err != nil {
		return err
	}
	if err := d.ensureClusterRBAC(ctx, "migration-velero", VeleroName, legacyVeleroRules, primary); err != nil {
		return err
	}
	if err := d.ensureSCC(ctx, "velero-privileged", true, []string{"system:serviceaccount:" + Namespace + ":" + VeleroName}, primary); err != nil {
		return err
	}
	image := op.image("VELERO", "openshift-migration-velero-rhel8")
	if err := d.ensureDeployment(ctx, VeleroName, true, image, map[string]string{"app": "velero", "component": "velero"}, VeleroName, owner, nil); err != nil {
		return err
	}
	hostPath, err := d.resticHostPath(ctx)
	if err != nil {
		return err
	}
	var nodeSelector map[string]string
	if sel, ok := s["daemonset_node_selector"].(map[string]any); ok {
		nodeSelector = map[string]string{}
		for k, v := range sel {
			nodeSelector[k] = fmt.Sprint(v)
		}
	}
	return d.ensureRestic(ctx, true, image, hostPath, nodeSelector, owner)
}

// resticHostPath is where restic finds the node's pod volumes: the role's default, or OpenShift 3's
// kubelet directory when the Kubernetes minor version is below 12 (LO@release-1.7 tasks/main.yml).
func (d *Double) resticHostPath(ctx context.Context) (string, error) {
	v, err := d.kube.Discovery().ServerVersion()
	if err != nil {
		return "", err
	}
	if minor, err := strconv.Atoi(strings.TrimSuffix(v.Minor, "+")); err == nil && v.Major == "1" && minor < 12 {
		return "/var/lib/origin/openshift.local.volumes/pods", nil
	}
	return "/var/lib/kubelet/pods", nil
}

// ResticName is the DaemonSet of restic servers the legacy operator runs next to Velero.
const ResticName = "restic"

// ensureRestic creates (on) or deletes (off) the DaemonSet restic as the legacy role's velero.yml.j2
// renders it, owned by the MigrationController, and follows image changes (an operator upgrade).
func (d *Double) ensureRestic(ctx context.Context, on bool, image, hostPath string, nodeSelector map[string]string, owner metav1.OwnerReference) error {
	dss := d.kube.AppsV1().DaemonSets(Namespace)
	cur, err := dss.Get(ctx, ResticName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	found := err == nil
	if !on {
		if found && ownedBy(cur.OwnerReferences, owner.UID) {
			d.log.Info("deleting restic, which the MigrationController turned off", "daemonset", ResticName)
			return client(dss.Delete(ctx, ResticName, metav1.DeleteOptions{}))
		}
		return nil
	}
	if found {
		if len(cur.Spec.Template.Spec.Containers) == 0 || !ownedBy(cur.OwnerReferences, owner.UID) || cur.Spec.Template.Spec.Containers[0].Image == image {
			return nil
		}
		cur.Spec.Template.Spec.Containers[0].Image = image
		_, err = dss.Update(ctx, cur, metav1.UpdateOptions{})
		return roleTask("update DaemonSet "+ResticName, err)
	}
	root, privileged := int64(0), true
	toContainer := corev1.MountPropagationHostToContainer
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	podLabels := map[string]string{"name": ResticName, "app.kubernetes.io/part-of": Namespace}
	ds := &appsv1.DaemonSet{
		ObjectMeta: meta(ResticName, &owner, nil),
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"name": ResticName}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: VeleroName,
					NodeSelector:       nodeSelector,
					SecurityContext:    &corev1.PodSecurityContext{RunAsUser: &root},
					Volumes: []corev1.Volume{
						{Name: "host-pods", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostPath}}},
						{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "certs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
					Containers: []corev1.Container{{
						Name: "velero", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"/velero"},
						Args:            []string{"restic", "server"},
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "host-pods", MountPath: "/host_pods", MountPropagation: &toContainer},
							{Name: "scratch", MountPath: "/scratch"},
							{Name: "certs", MountPath: "/etc/ssl/certs"},
						},
						Env: []corev1.EnvVar{
							{Name: "NODE_NAME", ValueFrom: field("spec.nodeName")},
							{Name: "POD_NAME", ValueFrom: field("metadata.name")},
							{Name: "VELERO_NAMESPACE", ValueFrom: field("metadata.namespace")},
							{Name: "VELERO_SCRATCH_DIR", Value: "/scratch"},
						},
					}},
				},
			},
		},
	}
	if _, err := dss.Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return roleTask("create DaemonSet "+ResticName, err)
	}
	d.log.Info("created a component", "daemonset", ResticName, "image", image, "hostPath", hostPath)
	return nil
}

// installCRDs creates CRDs marked as the double's (apiextensions v1, or v1beta1 on Kubernetes 1.11)
// and waits until they are Established.
func installCRDs(ctx context.Context, dyn dynamic.Interface, kinds []mtccrds.Kind) error {
	gvr := crdsV1
	if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); apierrors.IsNotFound(err) {
		gvr.Version = "v1beta1"
	}
	for _, k := range kinds {
		// The legacy role's Velero is older than the manifests the lab has (it has ResticRepository):
		// stand-ins.
		crd, err := mtccrds.CRD(k, gvr.Version, "")
		if err != nil {
			return err
		}
		crd.SetAnnotations(map[string]string{DoubleAnnotation: doubleName})
		if _, err := dyn.Resource(gvr).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create CRD %s: %w", k.Name(), err)
		}
	}
	return mtccrds.Install(ctx, dyn, "", kinds)
}

// RBAC as the legacy role's templates write it: rbac.authorization.k8s.io/v1beta1, which Kubernetes
// 1.11 serves (and 1.22 no longer does).
var (
	legacyClusterRoles        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1beta1", Resource: "clusterroles"}
	legacyClusterRoleBindings = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1beta1", Resource: "clusterrolebindings"}
)

// ensureClusterRBAC creates a ClusterRole and a ClusterRoleBinding to a ServiceAccount of the
// namespace (legacy role, rbac v1beta1), marked with the primary-resource annotations and no owner:
// they outlive the CR.
func (d *Double) ensureClusterRBAC(ctx context.Context, name, sa string, rules []rbacv1.PolicyRule, primary map[string]string) error {
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: primary}, Rules: rules}
	if err := d.createLegacyRBAC(ctx, legacyClusterRoles, "ClusterRole", cr); err != nil {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: primary},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: Namespace}}}
	return d.createLegacyRBAC(ctx, legacyClusterRoleBindings, "ClusterRoleBinding", crb)
}

// createLegacyRBAC creates an RBAC object through the v1beta1 API (its fields are the same as v1's).
func (d *Double) createLegacyRBAC(ctx context.Context, gvr schema.GroupVersionResource, kind string, o runtime.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(gvr.GroupVersion().String())
	u.SetKind(kind)
	if _, err := d.dyn.Resource(gvr).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func anyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func anyList(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

// ensureSCC creates a SecurityContextConstraints object (cluster-scoped, left behind on delete).
func (d *Double) ensureSCC(ctx context.Context, name string, privileged bool, users []string, primary map[string]string) error {
	if d.exists(ctx, SCCs, "", name) {
		return nil
	}
	runAs := "RunAsAny"
	scc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
		"metadata":                 map[string]any{"name": name, "annotations": anyMap(primary)},
		"allowHostDirVolumePlugin": privileged, "allowHostIPC": privileged, "allowHostNetwork": privileged,
		"allowHostPID": privileged, "allowHostPorts": privileged, "allowPrivilegedContainer": privileged,
		"allowPrivilegeEscalation": true, "readOnlyRootFilesystem": false, "priority": int64(10),
		"allowedCapabilities": []any{}, "defaultAddCapabilities": []any{}, "requiredDropCapabilities": []any{"MKNOD"},
		"volumes": []any{"*"}, "users": anyList(users), "groups": []any{},
		"runAsUser": map[string]any{"type": runAs}, "seLinuxContext": map[string]any{"type": "MustRunAs"},
		"fsGroup": map[string]any{"type": runAs}, "supplementalGroups": map[string]any{"type": runAs},
	}}
	_, err := d.dyn.Resource(SCCs).Create(ctx, scc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (d *Double) ensureOAuthClient(ctx context.Context, primary map[string]string) error {
	if d.exists(ctx, OAuthClients, "", "migration") {
		return nil
	}
	oc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
		"metadata":     map[string]any{"name": "migration", "annotations": anyMap(primary)},
		"grantMethod":  "auto",
		"redirectURIs": []any{"https://migration-openshift-migration.apps.local/login/callback"},
		"secret":       "mtc-operator-double-not-a-secret",
	}}
	_, err := d.dyn.Resource(OAuthClients).Create(ctx, oc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ensureHostCluster creates the host MigCluster <cluster_name>.
func (d *Double) ensureHostCluster(ctx context.Context, name string, s map[string]any, owner metav1.OwnerReference) error {
	if d.exists(ctx, MigClusters, Namespace, name) {
		return nil
	}
	spec := map[string]any{"isHostCluster": true}
	if rg, _ := s["azure_resource_group"].(string); rg != "" {
		spec["azureResourceGroup"] = rg
	}
	if v, ok := s["host_cluster_restart_restic"]; ok {
		spec["restartRestic"] = kube.Truthy(v)
	}
	mc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigCluster",
		"metadata": map[string]any{"name": name, "namespace": Namespace,
			"annotations":     map[string]any{DoubleAnnotation: doubleName},
			"ownerReferences": []any{ownerMap(owner)}},
		"spec": spec,
	}}
	_, err := d.dyn.Resource(MigClusters).Namespace(Namespace).Create(ctx, mc, metav1.CreateOptions{})
	if err == nil {
		d.log.Info("created the host MigCluster", "name", name)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
