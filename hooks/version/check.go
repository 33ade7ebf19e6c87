package version

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Check is the version-check action.
type Check struct {
	kube.Action

	// Matrix is the compatibility matrix; nil loads the embedded one.
	Matrix charts.Matrix
	// MTCVersion is the MTC version or line to install ("1.8.8" or "1.8").
	MTCVersion string
	// Release is the Helm release doing the install; empty skips the ownership checks (CLI use).
	Release string
	// RemotesSecret names the Secret that lists the remote clusters; empty checks no remotes.
	RemotesSecret string
	// Platform is what the values force: "auto" or empty detects it, "ocp4" or "ocp3" must match.
	Platform string
	// Role is "control" or "remote" (empty: not said); a control cluster on OCP 3 is refused (a warning
	// with AllowUnsupported).
	Role string
	// Egress is the egress policies the release is about to create; a namespace that already holds one
	// of the user's is refused.
	Egress EgressPolicies
	// AllowUnsupported turns an unsupported platform or a remote on another MTC line into a warning.
	AllowUnsupported bool
	// Remote builds clients for a remote cluster; nil uses RemoteClients.
	Remote func(r Remote) (*kube.Clients, error)
	// OpenShiftVersionHint overrides the /version/openshift probe (tests).
	OpenShiftVersionHint func(ctx context.Context) (string, error)
}

// Report is what version-check found and decided.
type Report struct {
	Cluster    string         `json:"cluster"`
	Platform   Platform       `json:"platform"`
	MTCVersion string         `json:"mtcVersion"`
	Supported  string         `json:"supported"`
	Installed  *Installed     `json:"installed"`
	Remotes    []RemoteResult `json:"remotes,omitempty"`
	Warnings   []string       `json:"warnings,omitempty"`
	Result     string         `json:"result"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	t := kube.NewText(11)
	t.Field("cluster:", "%s", r.Cluster)
	if r.Platform.Name != "" {
		t.Field("platform:", "%s, from %s", r.Platform, r.Platform.Source)
	}
	t.Field("MTC:", "%s (this line supports %s)", r.MTCVersion, r.Supported)
	t.Field("installed:", "%s", r.Installed.String())
	for _, rr := range r.Remotes {
		t.Field("remote:", "%s %s: %s", rr.Name, rr.URL, rr.Summary())
	}
	t.Each("WARNING:", r.Warnings)
	t.Field("result:", "%s", r.Result)
	return t.Print(w)
}

// Run checks the cluster. It returns a *kube.Refusal when the install must not go ahead; the report is
// filled as far as the check got.
func (c *Check) Run(ctx context.Context) (*Report, error) {
	log := c.Logger()
	matrix := c.Matrix
	if matrix == nil {
		m, err := charts.LoadMatrix()
		if err != nil {
			return nil, err
		}
		matrix = m
	}
	want, err := charts.ParseVersion(c.MTCVersion)
	if err != nil || want.Parts < 2 {
		return nil, fmt.Errorf("MTC version %q is not a version such as 1.8 or 1.8.8", c.MTCVersion)
	}
	compat, ok := matrix[want.Line()]
	if !ok {
		return nil, fmt.Errorf("MTC %s is not a line this binary knows (it knows %s)",
			c.MTCVersion, strings.Join(matrix.Lines(), ", "))
	}
	ns := c.NS()
	rep := &Report{Cluster: c.Host, MTCVersion: want.String(), Supported: compat.Describe(), Result: "refused"}

	// 1. The platform and the matrix.
	p, err := Detector{Discovery: c.Discovery, Dynamic: c.Dynamic, Host: c.Host, OpenShiftVersionHint: c.OpenShiftVersionHint}.Detect(ctx)
	if err != nil {
		return rep, err
	}
	rep.Platform = p
	if c.Platform != "" && c.Platform != "auto" && c.Platform != p.Name {
		return rep, kube.Refusef("the values set platform %s, but %s is %s (detected from %s); set platform to auto or %s",
			c.Platform, c.Host, p, p.Source, p.Name)
	}
	if c.Role == "control" && p.Name == charts.PlatformOCP3 {
		// The legacy 1.7 operator ignores migration_controller and migration_ui: the MigStorage and
		// MigClusters a control cluster needs would never be reconciled, and configure would wait in vain.
		msg := "the legacy operator on OCP 3 deploys no migration controller or web console, so this cluster can only be a migration source; install it with role remote and run the control role on OCP 4 (chart 1.7)"
		if !c.AllowUnsupported {
			return rep, kube.Refusef("%s", msg)
		}
		rep.Warnings = append(rep.Warnings, msg+" (--allow-unsupported)")
	}
	log.Info("platform detected", "platform", p.Name, "version", p.Version, "kubernetes", p.Kubernetes, "source", p.Source)
	pv, err := charts.ParseVersion(p.Version)
	if err != nil {
		return rep, kube.Refusef("cannot read the OpenShift version %q of %s; check ClusterVersion version", p.Version, c.Host)
	}
	if !compat.Supports(p.Name, pv) {
		msg := fmt.Sprintf("MTC %s supports %s, but %s runs OCP %s; %s", want.Line(), compat.Describe(), c.Host, pv, remedyFor(matrix, p.Name, pv, want.Line()))
		if !c.AllowUnsupported {
			return rep, &kube.Refusal{Message: msg + ", or pass --allow-unsupported (hooks.allowUnsupported) at your own risk"}
		}
		rep.Warnings = append(rep.Warnings, "UNSUPPORTED, going ahead because of --allow-unsupported: "+msg)
		log.Warn("UNSUPPORTED PLATFORM: going ahead because --allow-unsupported is set", "reason", msg)
	}

	// 2. What is already installed here.
	inst, err := Inspector{Kube: c.Kube, Dynamic: c.Dynamic, Host: c.Host, Namespace: ns}.Inspect(ctx)
	if err != nil {
		return rep, err
	}
	rep.Installed = inst
	if err := c.checkInstalled(p, want, inst, ns, rep); err != nil {
		return rep, err
	}

	// 3. The namespaces that get an egress policy.
	if err := c.checkEgress(ctx, ns); err != nil {
		return rep, err
	}

	// 4. The remote clusters.
	if c.RemotesSecret != "" {
		results, err := c.checkRemotes(ctx, ns, want, log)
		rep.Remotes = results
		if err != nil {
			return rep, err
		}
		for _, r := range results {
			if r.Problem == "" {
				continue
			}
			if !c.AllowUnsupported {
				return rep, &kube.Refusal{Message: r.Problem}
			}
			rep.Warnings = append(rep.Warnings, "UNSUPPORTED, going ahead because of --allow-unsupported: "+r.Problem)
			log.Warn("REMOTE CLUSTER MISMATCH: going ahead because --allow-unsupported is set", "remote", r.Name, "reason", r.Problem)
		}
	}
	rep.Result = "ok"
	if len(rep.Warnings) > 0 {
		rep.Result = "ok with warnings"
	}
	return rep, nil
}

// remedyFor suggests the line that supports the platform, else an upgrade of the cluster.
func remedyFor(m charts.Matrix, platform string, v charts.Version, wantLine string) string {
	for _, line := range m.Lines() {
		if line != wantLine && m[line].Supports(platform, v) {
			return fmt.Sprintf("install the mtc chart %s.z instead, which supports it", line)
		}
	}
	return "upgrade the cluster to a version this line supports"
}

func (c *Check) checkInstalled(p Platform, want charts.Version, inst *Installed, ns string, rep *Report) error {
	for _, s := range inst.Subscriptions {
		if s.Namespace != ns {
			return kube.Refusef("an mtc-operator Subscription %s already exists outside %s, and MTC must run once per cluster in %s; remove it (oc delete subscription %s -n %s, then its CSV) or keep that install and do not install this chart",
				s, ns, ns, s.Name, s.Namespace)
		}
		if c.Release != "" && s.Release != c.Release {
			return kube.Refusef("MTC is already installed in %s by Subscription %s, which Helm release %s does not own (%s); uninstall it first (mtc-hooks cleanup) or keep it and do not install this chart",
				ns, s, c.Release, ownerWords(s.Release))
		}
	}
	if d := inst.LegacyDeployment; d != nil {
		if p.Name == charts.PlatformOCP4 {
			return kube.Refusef("the legacy MTC operator (Deployment %s) runs on this OCP 4 cluster, where this chart installs MTC through OLM; remove it first (oc delete -f operator.yml, or mtc-hooks cleanup) so that two operators do not fight over the MigrationController", d)
		}
		if c.Release != "" && d.Release != c.Release {
			return kube.Refusef("the legacy MTC operator (Deployment %s) is already installed and Helm release %s does not own it (%s); remove it first (oc delete -f operator.yml, or mtc-hooks cleanup) or keep it and do not install this chart",
				d, c.Release, ownerWords(d.Release))
		}
	}
	if inst.CSV != "" && len(inst.Subscriptions) == 0 && c.Release != "" {
		return kube.Refusef("ClusterServiceVersion %s/%s is left over without a Subscription, from an MTC install that was not removed completely; run mtc-hooks cleanup to remove it, then install again",
			ns, inst.CSV)
	}
	if inst.Version == "" {
		return nil
	}
	have, err := charts.ParseVersion(inst.Version)
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot read the installed MTC version %q from %s", inst.Version, inst.VersionSource))
		return nil
	}
	if want.Compare(have) < 0 {
		return kube.Refusef("MTC %s is installed (%s) and %s would be a downgrade, which MTC does not support; install %s or later, or uninstall first (helm uninstall runs the cleanup)",
			have, inst.VersionSource, want, have)
	}
	if have.Line() != want.Line() && c.Release == "" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("MTC %s is installed; installing %s upgrades it to another line, so upgrade every remote cluster to %s as well", have, want, want.Line()))
	}
	return nil
}

func ownerWords(release string) string {
	if release == "" {
		return "it was not installed with Helm"
	}
	return "it belongs to release " + release
}
