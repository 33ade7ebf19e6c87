// Package verify implements the check that `helm test` runs: the operator is installed and
// running, the MigrationController is reconciled, and each component it asks for (controller, web
// console, log reader) has an available Deployment.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/hooks/configure"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Verify checks a running MTC install once; it waits only for an operator whose CSV had
// Succeeded and left that phase (OLM marks it Failed, then retries through Pending and Installing,
// while the operator pod is unavailable), for at most CSVGrace.
type Verify struct {
	kube.Action
	// ConfigMap is the chart's ConfigMap that says how the operator was installed.
	ConfigMap string
	// CSVGrace bounds the wait for a CSV that went Failed after Succeeded (default
	// configure.DefaultCSVGrace); Interval is the poll interval of that wait (default 2s).
	CSVGrace, Interval time.Duration
}

// Check is one verified fact.
type Check struct {
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report lists the checks.
type Report struct {
	Cluster  string  `json:"cluster"`
	Checks   []Check `json:"checks"`
	Result   string  `json:"result"`
	Duration string  `json:"duration"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	t := kube.NewText(10)
	t.Field("cluster:", "%s", r.Cluster)
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		t.Field(mark, "%s: %s", c.What, c.Detail)
	}
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// csvSettled reads a CSV; one that is Failed after it had Succeeded is read again until it
// Succeeds or CSVGrace passes.
func (v *Verify) csvSettled(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	grace, interval := v.CSVGrace, v.Interval
	if grace <= 0 {
		grace = configure.DefaultCSVGrace
	}
	if interval <= 0 {
		interval = kube.DefaultInterval
	}
	log := v.Logger()
	var csv *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, interval, grace, true, func(ctx context.Context) (bool, error) {
		cur, err := v.Dynamic.Resource(kube.CSVs).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if csv != nil && kube.IsDeadlineSoon(err) {
			return true, nil // the grace is over: report the last state read
		}
		if err != nil {
			return false, kube.Explain(err, "read ClusterServiceVersion "+ns+"/"+name, v.Host)
		}
		csv = cur
		// OLM cycles such a CSV through Failed, Pending and Installing while it retries.
		phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
		if phase == "Succeeded" || !configure.CSVHadSucceeded(csv) {
			return true, nil
		}
		log.Info("the operator's CSV left Succeeded (its operator pod is unavailable); waiting for it to come back", "csv", name, "phase", phase, "for", grace.String())
		return false, nil
	})
	if csv == nil || (err != nil && !errors.Is(err, context.DeadlineExceeded)) {
		return nil, err
	}
	return csv, nil // after the grace (or SIGTERM), the last state read
}

// components are the Deployments the operator runs for each MigrationController switch.
var components = []struct{ key, deployment, what string }{
	{"migration_controller", "migration-controller", "migration controller"},
	{"migration_ui", "migration-ui", "web console"},
	{"migration_log_reader", "migration-log-reader", "log reader"},
}

// Run performs the checks and fails with one sentence naming the first failed one.
func (v *Verify) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	ns := v.NS()
	name := v.ConfigMap
	if name == "" {
		name = configure.ConfigMapName
	}
	rep := &Report{Cluster: v.Host}
	add := func(what string, ok bool, format string, args ...any) {
		rep.Checks = append(rep.Checks, Check{What: what, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	finish := func() (*Report, error) {
		rep.Duration = time.Since(start).Round(time.Millisecond).String()
		for _, c := range rep.Checks {
			if !c.OK {
				rep.Result = "failed"
				return rep, kube.Refusef("%s: %s", c.What, c.Detail)
			}
		}
		rep.Result = "ok"
		return rep, nil
	}

	cm, err := v.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return rep, kube.Explain(err, "read ConfigMap "+ns+"/"+name, v.Host)
	}
	op, err := configure.ParseOperator(cm.Data[configure.OperatorKey])
	if err != nil {
		return rep, kube.Refusef("ConfigMap %s/%s: %v; reinstall the chart", ns, name, err)
	}
	switch op.Mode {
	case configure.ModeOLM:
		sub, err := v.Dynamic.Resource(kube.Subscriptions).Namespace(ns).Get(ctx, op.Subscription, metav1.GetOptions{})
		if err != nil {
			return rep, kube.Explain(err, "read Subscription "+ns+"/"+op.Subscription, v.Host)
		}
		csvName, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
		if csvName == "" {
			add("operator", false, "Subscription %s has installed no CSV yet; look at its InstallPlan (oc get installplan -n %s)", op.Subscription, ns)
			return finish()
		}
		csv, err := v.csvSettled(ctx, ns, csvName)
		if err != nil {
			return rep, err
		}
		phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
		detail := "CSV " + csvName + " is " + orNone(phase)
		if reason, _, _ := unstructured.NestedString(csv.Object, "status", "reason"); phase != "Succeeded" && reason != "" {
			msg, _, _ := unstructured.NestedString(csv.Object, "status", "message")
			detail += " (" + reason + ": " + strings.TrimSuffix(msg, ".") + ")"
			if configure.CSVHadSucceeded(csv) {
				detail += " after it had Succeeded; look at the operator pod (oc get pods -n " + ns + ")"
			}
		}
		add("operator", phase == "Succeeded", "%s", detail)
	case configure.ModeLegacy:
		add("operator", v.deploymentAvailable(ctx, ns, op.Deployment), "Deployment %s %s", op.Deployment, v.availability(ctx, ns, op.Deployment))
	}

	mc, err := v.Dynamic.Resource(kube.MigrationControllers).Namespace(ns).Get(ctx, "migration-controller", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		add("MigrationController", false, "migration-controller does not exist; the configure hook applies it after an install or upgrade")
		return finish()
	}
	if err != nil {
		return rep, kube.Explain(err, "read MigrationController "+ns+"/migration-controller", v.Host)
	}
	version, _, _ := unstructured.NestedString(mc.Object, "spec", "version")
	add("MigrationController", version != "", "reconciled by operator %s", orNone(version))
	spec, _, _ := unstructured.NestedMap(mc.Object, "spec")
	for _, c := range components {
		on, set := spec[c.key].(bool)
		if c.key == "migration_log_reader" && !set {
			on = true // the operator's default
		}
		if !on {
			continue
		}
		add(c.what, v.deploymentAvailable(ctx, ns, c.deployment), "Deployment %s %s", c.deployment, v.availability(ctx, ns, c.deployment))
	}
	return finish()
}

func (v *Verify) deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	return v.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
}

func (v *Verify) deploymentAvailable(ctx context.Context, ns, name string) bool {
	d, err := v.deployment(ctx, ns, name)
	return err == nil && d.Status.AvailableReplicas > 0
}

func (v *Verify) availability(ctx context.Context, ns, name string) string {
	d, err := v.deployment(ctx, ns, name)
	switch {
	case apierrors.IsNotFound(err):
		return "does not exist"
	case err != nil:
		return "cannot be read: " + err.Error()
	default:
		return fmt.Sprintf("has %d of %d replicas available", d.Status.AvailableReplicas, d.Status.Replicas)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
