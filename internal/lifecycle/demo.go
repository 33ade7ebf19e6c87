package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// handEdited is a MigrationController field the chart does not own; a user sets it by hand and
// an upgrade must keep it.
const handEdited = "mig_pv_move_storageclasses"

// Demo is the main job: on a fresh OpenShift 4.17 cluster, install MTC 1.8 as a control
// cluster, upgrade it with the DVM-behind-a-proxy override, show that OpenShift 4.12 is refused
// before anything is created, then uninstall and compare the cluster with its state before the
// install. It returns the first failed check.
func (l *Lab) Demo(ctx context.Context) error {
	var e, old *testenv.Env
	var before Snapshot
	var local string
	var renderedInstall map[string]any
	var liveInstall map[string]any
	defer l.Close()

	steps := []struct {
		title string
		run   func() error
	}{
		{"Start a local OpenShift 4.17 cluster (OVN-Kubernetes) with the real OLM; the MTC operator and mig-controller run as their doubles' pods", func() error {
			var err error
			e, err = l.Cluster(ctx, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.17", Network: localcluster.OVNKubernetes})
			if err != nil {
				return err
			}
			out, err := l.Run(ctx, e, "kubectl", "get", "clusterversion", "version", "-o", "jsonpath={.status.desired.version}")
			l.Say("ClusterVersion: %s; kubeconfig %s", out, e.Kubeconfig)
			l.Say("OLM: catalog and olm operators running; CatalogSource openshift-marketplace/redhat-operators served by opm on %s", e.Cluster.CatalogAddress())
			if err != nil {
				return err
			}
			if err := CreateNamespaces(ctx, e, "shop", "billing"); err != nil {
				return err
			}
			local, err = l.LocalValues(e, "local.yaml", map[string]any{"remoteClusters": nil})
			return err
		}},
		{"Snapshot every object of every resource before the install", func() error {
			var err error
			before, err = Take(ctx, e.Cluster.Config)
			l.Say("%d objects", len(before))
			return err
		}},
		{"helm install mtc oci://<registry>/charts/mtc --version 1.8.z --verify -f values/control.yaml (the signed chart, pushed to the cluster's registry), then helm test mtc", func() error {
			if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
				return err
			}
			if err := l.CheckInstalled(ctx, e, true); err != nil {
				return err
			}
			out, err := l.Run(ctx, e, "helm", "test", "mtc", "-n", Namespace, "--timeout", "2m")
			if err != nil {
				return err
			}
			l.Show(out, "ok  ", "FAIL", "Phase:")
			if renderedInstall, err = l.RenderedMigrationController(ctx, e); err != nil {
				return err
			}
			if liveInstall, err = MigrationControllerSpec(ctx, e); err != nil {
				return err
			}
			return nil
		}},
		{"Edit the MigrationController by hand (a field the chart does not own)", func() error {
			l.Say("$ oc patch migrationcontroller migration-controller --type merge -p '{\"spec\":{%q:[\"fast\"]}}'", handEdited)
			return EditByHand(ctx, e, handEdited, []any{"fast"})
		}},
		{"helm upgrade mtc oci://<registry>/charts/mtc --version 1.8.z --verify -f values/control.yaml -f values/dvm-proxy.yaml", func() error {
			out, err := l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", Namespace, "--timeout", "4m",
				"-f", l.Values("control.yaml"), "-f", l.Values("dvm-proxy.yaml"), "-f", local)
			if err != nil {
				return err
			}
			l.Show(out, "STATUS:", "REVISION:")
			rendered, err := l.RenderedMigrationController(ctx, e)
			if err != nil {
				return err
			}
			live, err := MigrationControllerSpec(ctx, e)
			if err != nil {
				return err
			}
			want := SpecChanges(renderedInstall, rendered)
			got := SpecChanges(liveInstall, live)
			l.Say("the override changes: %s", strings.Join(want, ", "))
			l.Say("the live MigrationController changed: %s", strings.Join(got, ", "))
			if !slices.Contains(got, handEdited) {
				return fmt.Errorf("the hand-edited field %s was lost: %v", handEdited, live[handEdited])
			}
			got = slices.DeleteFunc(got, func(s string) bool { return s == handEdited })
			if !slices.Equal(got, want) {
				return fmt.Errorf("the upgrade changed %v, want exactly %v", got, want)
			}
			l.Say("%s kept its hand-set value %v", handEdited, live[handEdited])
			return l.CheckInstalled(ctx, e, true, "shop", "billing")
		}},
		{"On a local OpenShift 4.12 cluster, the same install is refused before anything is created", func() error {
			var err error
			old, err = l.Cluster(ctx, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.12", Network: localcluster.OVNKubernetes})
			if err != nil {
				return err
			}
			out, err := l.Run(ctx, old, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", Namespace, "--create-namespace", "--timeout", "2m",
				"-f", l.Values("control.yaml"), "-f", local)
			if err == nil {
				return fmt.Errorf("helm install on 4.12 succeeded, want a refusal")
			}
			l.Show(out, "Error:", "refused", "supports", "error:")
			if !strings.Contains(out, "4.12") {
				return fmt.Errorf("the refusal does not name OpenShift 4.12")
			}
			return ReleaseObjectsAbsent(ctx, old)
		}},
		{"helm uninstall mtc: the cleanup hook exports the records and removes MTC", func() error {
			out, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", Namespace, "--timeout", "4m")
			if err != nil {
				return err
			}
			l.Show(out, "export:", "deleted", "kept", "release \"mtc\" uninstalled")
			return nil
		}},
		{"Compare the cluster with the snapshot taken before the install", func() error {
			return l.SettleAndCompare(ctx, e, before, UninstallLeftovers(true), 90*time.Second)
		}},
	}
	for i, s := range steps {
		if err := l.Step(fmt.Sprintf("%d/%d %s", i+1, len(steps), s.title), s.run); err != nil {
			return err
		}
	}
	fmt.Fprintf(l.Out, "\nAll steps passed in %s; stopping the clusters.\n", l.Elapsed())
	return nil
}

// RenderedMigrationController reads the MigrationController spec the chart rendered for the
// release's current revision (from the mtc-configure ConfigMap in `helm get manifest`).
func (l *Lab) RenderedMigrationController(ctx context.Context, e *testenv.Env) (map[string]any, error) {
	cm, err := e.Client.CoreV1().ConfigMaps(Namespace).Get(ctx, "mtc-configure", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the chart's ConfigMap mtc-configure is missing: %w", err)
	}
	for _, doc := range strings.Split(cm.Data["objects.yaml"], "\n---") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.Object == nil {
			continue
		}
		if u.GetKind() == "MigrationController" {
			spec, _, _ := unstructured.NestedMap(u.Object, "spec")
			return spec, nil
		}
	}
	return nil, fmt.Errorf("ConfigMap mtc-configure holds no MigrationController")
}
