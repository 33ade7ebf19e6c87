package app

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/hooks/cleanup"
	"github.com/mtc-helm/mtc-helm/hooks/configure"
	"github.com/mtc-helm/mtc-helm/hooks/egress"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/preflight"
	"github.com/mtc-helm/mtc-helm/hooks/pulltest"
	"github.com/mtc-helm/mtc-helm/hooks/storage"
	"github.com/mtc-helm/mtc-helm/hooks/verify"
	"github.com/mtc-helm/mtc-helm/hooks/version"
)

// commands are the subcommands of mtc-hooks, in the order its help lists them: a new hook's command
// is added here and nowhere else in this package.
var commands = []func(*globals) *cobra.Command{
	newVersionCheck, newPullTest, newConfigure, newCleanup, newRestore, newPreflight, newVerify, newStorageCheck,
}

// checkMTCVersion is the one check of --mtc-version: an MTC version or line (X.Y or X.Y.Z) of a line
// the embedded compatibility matrix knows.
func checkMTCVersion(v string) error {
	if v == "" {
		return usagef("--mtc-version is required (for example --mtc-version 1.8.8)")
	}
	want, err := charts.ParseVersion(v)
	if err != nil || want.Parts < 2 {
		return usagef("--mtc-version %q is not an MTC version such as 1.8 or 1.8.8", v)
	}
	matrix, err := charts.LoadMatrix()
	if err != nil {
		return err
	}
	if _, ok := matrix[want.Line()]; !ok {
		return usagef("--mtc-version %s is not a line this binary knows; pass one of %s", v, strings.Join(matrix.Lines(), ", "))
	}
	return nil
}

type versionCheckOptions struct {
	mtcVersion       string
	platform         string
	role             string
	release          string
	remotesSecret    string
	allowUnsupported bool
	egress           version.EgressPolicies
	egressMerge      string
	egressRules      string
}

func newVersionCheck(g *globals) *cobra.Command {
	o := &versionCheckOptions{}
	cmd := &cobra.Command{
		Use:   "version-check --mtc-version X.Y[.Z]",
		Short: "Refuse an MTC install or upgrade that the platform, an existing install or a remote cluster does not allow",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkMTCVersion(o.mtcVersion); err != nil {
				return err
			}
			if o.platform != "auto" && o.platform != "ocp4" && o.platform != "ocp3" {
				return usagef("--platform %q is not auto, ocp4 or ocp3", o.platform)
			}
			if o.role != "" && o.role != "control" && o.role != "remote" {
				return usagef("--role %q is not control or remote", o.role)
			}
			var err error
			if o.egress.Merge, err = egress.ParseTargets(o.egressMerge); err != nil {
				return usagef("--egress-merge: %v; want namespace/name,namespace/name", err)
			}
			if o.egressRules != "" {
				if err := json.Unmarshal([]byte(o.egressRules), &o.egress.Rules); err != nil {
					return usagef("--egress-rules is not a JSON list of rules: %v", err)
				}
			}
			if _, ok := egress.GVR[o.egress.Kind]; !ok && (len(o.egress.Namespaces) > 0 || len(o.egress.Merge) > 0) {
				return usagef("--egress-kind %q is not %s or %s", o.egress.Kind, egress.NetworkPolicyKind, egress.FirewallKind)
			}
			cl, err := g.clients()
			if err != nil {
				return err
			}
			a := &version.Check{Action: cl.Action(g.namespace, g.waiter(), g.log), Platform: o.platform, Role: o.role,
				MTCVersion: o.mtcVersion, Release: o.release, RemotesSecret: o.remotesSecret,
				AllowUnsupported: o.allowUnsupported, Egress: o.egress}
			return run(cmd, g, a.Run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mtcVersion, "mtc-version", "", "MTC version or line to install, such as 1.8.8 or 1.7")
	f.StringVar(&o.platform, "platform", "auto", "platform the values force: auto, ocp4 or ocp3; a forced one must match the cluster")
	f.StringVar(&o.role, "role", "", "role of this cluster: control or remote")
	f.StringVar(&o.release, "release", "", "Helm release that installs MTC; objects it does not own count as a foreign install (empty: not checked)")
	f.StringVar(&o.remotesSecret, "remotes-secret", "", "Secret in --namespace whose key remotes.yaml lists the remote clusters to check")
	f.BoolVar(&o.allowUnsupported, "allow-unsupported", false, "turn an unsupported platform or a remote on another MTC line into a warning")
	f.StringSliceVar(&o.egress.Namespaces, "egress-namespaces", nil, "namespaces that get the release's egress policy; one that already holds one of the user's is refused")
	f.StringVar(&o.egressMerge, "egress-merge", "", "egress policies of the user's (namespace/name,...) that configure will merge MTC's rules into; one that cannot take them is refused")
	f.StringVar(&o.egressRules, "egress-rules", "", "MTC's rules for --egress-merge, as a JSON list (the refusal prints the command that adds them by hand)")
	f.StringVar(&o.egress.Kind, "egress-kind", egress.FirewallKind, "kind of those policies: EgressFirewall (OVN-Kubernetes) or EgressNetworkPolicy (OpenShiftSDN)")
	f.StringVar(&o.egress.Name, "egress-name", "default", "name of that policy")
	return cmd
}

type pullTestOptions struct {
	images      []string
	pullSecrets []string
	command     []string
}

func newPullTest(g *globals) *cobra.Command {
	o := &pullTestOptions{}
	cmd := &cobra.Command{
		Use:   "pull-test --image IMAGE [--image IMAGE...]",
		Short: "Start a pod with the images and pull secrets, report whether the node can pull them, delete the pod",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.images) == 0 {
				return usagef("--image is required")
			}
			cl, err := g.clients()
			if err != nil {
				return err
			}
			a := &pulltest.PullTest{Action: cl.Action(g.namespace, boundedBy(g), g.log), Images: o.images,
				PullSecrets: o.pullSecrets, Command: o.command}
			return run(cmd, g, a.Run)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.images, "image", nil, "image to pull (repeatable; each becomes a container of the test pod)")
	f.StringArrayVar(&o.pullSecrets, "pull-secret", nil, "image pull Secret in --namespace (repeatable)")
	f.StringArrayVar(&o.command, "command", nil, "command the test containers run (repeatable, one argument each; default sleep 3600)")
	return cmd
}

// boundedBy gives the pull test's pod a deadline in step with --timeout.
func boundedBy(g *globals) kube.Waiter {
	w := g.waiter()
	w.Timeout = g.timeout
	return w
}

type configureOptions struct {
	configMap             string
	olmProgress, csvGrace time.Duration
}

func newConfigure(g *globals) *cobra.Command {
	o := &configureOptions{}
	cmd := &cobra.Command{
		Use:   "configure",
		Short: "Wait for the operator and its CRDs, then server-side apply the chart's MigrationController, MigStorage and MigClusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.clients()
			if err != nil {
				return err
			}
			a := &configure.Configure{Action: cl.Action(g.namespace, g.waiter(), g.log),
				ConfigMap: o.configMap, OLMProgress: o.olmProgress, CSVGrace: o.csvGrace}
			return run(cmd, g, a.Run)
		},
	}
	cmd.Flags().StringVar(&o.configMap, "configmap", configure.ConfigMapName, "ConfigMap in --namespace with keys objects.yaml and operator.yaml")
	cmd.Flags().DurationVar(&o.olmProgress, "olm-progress", configure.DefaultOLMProgress, "refuse when OLM shows no progress on the Subscription for this long (no resolution, no InstallPlan, catalog not READY)")
	cmd.Flags().DurationVar(&o.csvGrace, "csv-grace", configure.DefaultCSVGrace, "how long a CSV that had Succeeded may stay Failed (operator pod unavailable) before the hook refuses")
	return cmd
}

type cleanupOptions struct {
	phase           string
	release         string
	duringMigration bool
	dropFinalizers  bool
	deleteShared    bool
	force           bool
	dryRun          bool
	export          string
	stepTimeout     time.Duration
	egressKind      string
	egressUnmerge   string
}

func newCleanup(g *globals) *cobra.Command {
	o := &cleanupOptions{}
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Export every MTC resource, then remove MTC in an order that leaves nothing stuck",
		Long: `cleanup refuses while a MigMigration runs (unless --during-migration), saves every MTC custom resource in
ConfigMaps mtc-export-<time>-<n> that outlive the uninstall (and in --export FILE), then closes the plans,
deletes the migration records while the controller runs, the plans, storages and remote clusters, the
MigrationController, the operator, the CRDs and the cluster-scoped leftovers. A second run does nothing.
OADP and the velero.io and oadp.openshift.io CRDs stay while anything else uses them; --delete-shared
removes them anyway (run it with --dry-run first to see exactly what would go).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch o.phase {
			case cleanup.PhasePreDelete, cleanup.PhasePostDelete, cleanup.PhaseAll:
			default:
				return usagef("--phase %q is not pre-delete, post-delete or all", o.phase)
			}
			if o.force {
				return usagef("--force is gone: it mixed three risks; choose --during-migration (go ahead while a migration runs), --drop-finalizers (drop the DirectVolumeMigration finalizer no running controller will remove) or --delete-shared (remove OADP and the Velero CRDs although something else uses them)")
			}
			unmerge, err := egress.ParseTargets(o.egressUnmerge)
			if err != nil {
				return usagef("--egress-unmerge: %v; want namespace/name,namespace/name", err)
			}
			if len(unmerge) > 0 {
				if _, ok := egress.GVR[o.egressKind]; !ok {
					return usagef("--egress-kind %q is neither %s nor %s", o.egressKind, egress.NetworkPolicyKind, egress.FirewallKind)
				}
				if o.release == "" {
					return usagef("--egress-unmerge needs --release: the policies record the release that merged into them")
				}
			}
			cl, err := g.clients()
			if err != nil {
				return err
			}
			w := g.waiter()
			w.Timeout = o.stepTimeout
			a := &cleanup.Cleanup{Action: cl.Action(g.namespace, w, g.log),
				Phase: o.phase, Release: o.release, DuringMigration: o.duringMigration, DropFinalizers: o.dropFinalizers, DeleteShared: o.deleteShared, DryRun: o.dryRun, ExportFile: o.export,
				EgressKind: o.egressKind, EgressUnmerge: unmerge}
			return run(cmd, g, a.Run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.phase, "phase", cleanup.PhaseAll, "pre-delete (stop after the MigrationController), post-delete or all")
	f.StringVar(&o.release, "release", "", "remove MTC only when this Helm release installed it (its Subscription or legacy Deployment, and its MigrationController's app.kubernetes.io/instance label); any other MTC is left as it is")
	f.BoolVar(&o.duringMigration, "during-migration", false, "go ahead while a MigMigration runs (the migrated namespaces may be left half-moved)")
	f.BoolVar(&o.dropFinalizers, "drop-finalizers", false, "drop the DirectVolumeMigration finalizer that no running mig-controller will remove (leaves that migration's rsync pods and routes)")
	f.BoolVar(&o.deleteShared, "delete-shared", false, "remove OADP and the velero.io and oadp.openshift.io CRDs although something else uses them (deletes every Backup, Schedule and BackupStorageLocation); try with --dry-run first")
	f.BoolVar(&o.force, "force", false, "removed: use --during-migration, --drop-finalizers or --delete-shared")
	_ = f.MarkHidden("force")
	f.BoolVar(&o.dryRun, "dry-run", false, "list what would be deleted, in order, and change nothing")
	f.StringVar(&o.export, "export", "", "also write the exported MTC resources to this file")
	f.DurationVar(&o.stepTimeout, "step-timeout", 2*time.Minute, "bound of each wait inside the cleanup")
	f.StringVar(&o.egressKind, "egress-kind", "", "kind of the policies of --egress-unmerge: EgressNetworkPolicy or EgressFirewall")
	f.StringVar(&o.egressUnmerge, "egress-unmerge", "", "egress policies of the user's (namespace/name,...) that configure merged MTC's rules into: the last step takes those rules out again")
	return cmd
}

type restoreOptions struct {
	export string
	dryRun bool
}

func newRestore(g *globals) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Re-create the plans, storages, clusters and hooks of a cleanup's export on a reinstalled MTC",
		Long: `restore reads the export ConfigMaps mtc-export-<stamp>-<n> a cleanup left in the namespace and creates,
in this order, the MigStorages, the remote MigClusters, the MigHooks and the MigPlans that do not exist yet.
Migration records stay in the export: re-creating a MigMigration would run it again. Install MTC first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.export == "" {
				return usagef("--export is required: the stamp of the export to restore (oc get configmap -n %s -l %s --show-labels)", g.namespace, cleanup.ExportLabel)
			}
			cl, err := g.clients()
			if err != nil {
				return err
			}
			a := &cleanup.Restore{Action: cl.Action(g.namespace, g.waiter(), g.log),
				Export: o.export, DryRun: o.dryRun}
			return run(cmd, g, a.Run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.export, "export", "", "stamp of the export (the mtc-helm.io/export label of its ConfigMaps)")
	f.BoolVar(&o.dryRun, "dry-run", false, "list what would be created and change nothing")
	return cmd
}

type preflightOptions struct {
	contexts         []string
	mtcVersion       string
	images           []string
	pullSecrets      []string
	allowUnsupported bool
	storage          storageCheckOptions
}

func newPreflight(g *globals) *cobra.Command {
	o := &preflightOptions{}
	cmd := &cobra.Command{
		Use:   "preflight --mtc-version X.Y[.Z] [--cluster CONTEXT...] [--image IMAGE...] [--provider P --bucket B ...]",
		Short: "Run version-check, storage-check (with --provider) and pull-test against one or more kubeconfig contexts, a table per cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkMTCVersion(o.mtcVersion); err != nil {
				return err
			}
			contexts := o.contexts
			if len(contexts) == 0 && g.context != "" {
				contexts = []string{g.context}
			}
			var sc *storage.Check
			if o.storage.check.Provider != "" {
				var err error
				if sc, err = o.storage.validated(); err != nil {
					return err
				}
				sc.Namespace = g.namespace
			}
			a := &preflight.Preflight{
				Contexts: contexts,
				Clients: func(kc string) (*kube.Clients, error) {
					return kube.Load(kube.ConfigOptions{Kubeconfig: g.kubeconfig, Context: kc})
				},
				Namespace: g.namespace, MTCVersion: o.mtcVersion, AllowUnsupported: o.allowUnsupported,
				Images: o.images, PullSecrets: o.pullSecrets, Storage: sc, Waiter: boundedBy(g), Log: g.log,
			}
			return run(cmd, g, func(ctx context.Context) (*preflight.Report, error) { return a.Run(ctx) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.contexts, "cluster", nil, "kubeconfig context to check (repeatable; default: --context or the current one)")
	f.StringVar(&o.mtcVersion, "mtc-version", "", "MTC version or line to install, such as 1.8.8 or 1.7")
	f.StringArrayVar(&o.images, "image", nil, "image the pull test pulls (repeatable; none skips the pull test)")
	f.StringArrayVar(&o.pullSecrets, "pull-secret", nil, "image pull Secret in --namespace (repeatable)")
	f.BoolVar(&o.allowUnsupported, "allow-unsupported", false, "turn an unsupported platform into a warning")
	// The storage check's flags; --provider turns it on.
	o.storage.addFlags(f)
	return cmd
}

func newVerify(g *globals) *cobra.Command {
	var configMap string
	var csvGrace time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check once that the operator runs, the MigrationController is reconciled and its components are available (helm test)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.clients()
			if err != nil {
				return err
			}
			a := &verify.Verify{Action: cl.Action(g.namespace, g.waiter(), g.log), ConfigMap: configMap,
				CSVGrace: csvGrace, Interval: g.interval}
			return run(cmd, g, a.Run)
		},
	}
	cmd.Flags().StringVar(&configMap, "configmap", configure.ConfigMapName, "ConfigMap in --namespace whose key operator.yaml says how the operator was installed")
	cmd.Flags().DurationVar(&csvGrace, "csv-grace", configure.DefaultCSVGrace, "how long to wait for a CSV that had Succeeded and is Failed now (operator pod unavailable) to come back")
	return cmd
}
