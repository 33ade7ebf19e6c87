// Package bump moves a versioned chart to a new MTC z-stream in one step: the chart's version and
// appVersion (the hook image tag follows the chart version), its release note, the Containerfile's
// version when the chart is the newest, and the generated files (vendored library, golden renders,
// values reference). It refuses a version that is not the next of the chart's line or that the
// modelled Red Hat catalog does not carry, since the chart would then install a bundle no cluster has.
package bump

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/hookimage"
)

// Bump is one version bump.
type Bump struct {
	// Root is the repository; Chart the chart directory name (mtc-1.8); Version the new version.
	Root, Chart, Version string
	// Notes are the release note's entries (kind "changed" each); at least one.
	Notes []string
	// Regenerate runs the generators after the edit (ci/charts.sh deps, golden, docs).
	Regenerate bool
}

// Run edits the files and, with Regenerate, rewrites what is generated from them.
func (b Bump) Run(ctx context.Context) error {
	if err := b.check(); err != nil {
		return err
	}
	newest, err := b.isNewest()
	if err != nil {
		return err
	}
	if err := b.editChart(); err != nil {
		return err
	}
	if newest {
		if err := b.editContainerfile(); err != nil {
			return err
		}
	}
	if !b.Regenerate {
		return nil
	}
	for _, step := range [][]string{{"ci/charts.sh", "deps"}, {"ci/charts.sh", "golden"}, {"ci/charts.sh", "docs"}} {
		cmd := exec.CommandContext(ctx, step[0], step[1:]...)
		cmd.Dir = b.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s failed after the edit: %w\n%s", strings.Join(step, " "), err, out)
		}
	}
	return nil
}

type chartFile struct {
	Version     string            `json:"version"`
	Annotations map[string]string `json:"annotations"`
}

func (b Bump) chartPath() string { return filepath.Join(b.Root, "charts", b.Chart, "Chart.yaml") }

// check refuses what must not be bumped to: no release note, not a version, not the chart's line,
// not newer, or a bundle the catalogs do not have.
func (b Bump) check() error {
	if b.Chart == "" || b.Version == "" {
		return fmt.Errorf("say which chart and which version: CHART=mtc-1.8 VERSION=1.8.12")
	}
	if len(b.Notes) == 0 || (len(b.Notes) == 1 && strings.TrimSpace(b.Notes[0]) == "") {
		return fmt.Errorf("say what changed: a bump needs at least one release note entry")
	}
	raw, err := os.ReadFile(b.chartPath())
	if err != nil {
		return fmt.Errorf("no chart %s: %w", b.Chart, err)
	}
	var c chartFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return err
	}
	cur, err := semver.StrictNewVersion(c.Version)
	if err != nil {
		return fmt.Errorf("chart %s has version %q, not x.y.z: %w", b.Chart, c.Version, err)
	}
	next, err := semver.StrictNewVersion(b.Version)
	if err != nil {
		return fmt.Errorf("version %q is not x.y.z", b.Version)
	}
	if next.Major() != cur.Major() || next.Minor() != cur.Minor() {
		return fmt.Errorf("chart %s installs MTC %d.%d; %s belongs to another line (a new line is a new chart)", b.Chart, cur.Major(), cur.Minor(), b.Version)
	}
	if !next.GreaterThan(cur) {
		return fmt.Errorf("chart %s is at %s already; %s is not newer", b.Chart, c.Version, b.Version)
	}
	csv := catalog.MTCPackage + ".v" + b.Version
	for _, m := range catalog.Minors() {
		cat, err := catalog.For(m)
		if err != nil {
			return err
		}
		if _, ok := cat.Find(csv); ok {
			return nil
		}
	}
	return fmt.Errorf("no OpenShift catalog carries %s: add the bundle to internal/catalog/facts.go first, with the source of the fact", csv)
}

// isNewest says whether the chart is the one with the highest version (the Containerfile's default).
func (b Bump) isNewest() (bool, error) {
	versions, err := hookimage.ChartVersions(b.Root)
	if err != nil {
		return false, err
	}
	raw, err := os.ReadFile(b.chartPath())
	if err != nil {
		return false, err
	}
	var c chartFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return false, err
	}
	return versions[len(versions)-1] == c.Version, nil
}

var (
	versionLine    = regexp.MustCompile(`(?m)^version: .*$`)
	appVersionLine = regexp.MustCompile(`(?m)^appVersion: .*$`)
	// the block scalar of artifacthub.io/changes: its key line and the lines indented under it
	changesBlock = regexp.MustCompile(`(?m)^(  artifacthub.io/changes: \|\n)((?:    .*\n)+)`)
)

// editChart rewrites the version lines and the release note in place, keeping the file's comments.
func (b Bump) editChart() error {
	raw, err := os.ReadFile(b.chartPath())
	if err != nil {
		return err
	}
	s := string(raw)
	if !changesBlock.MatchString(s) {
		return fmt.Errorf("%s has no artifacthub.io/changes block to replace", b.chartPath())
	}
	s = versionLine.ReplaceAllString(s, "version: "+b.Version)
	s = appVersionLine.ReplaceAllString(s, `appVersion: "`+b.Version+`"`)
	var note strings.Builder
	for _, n := range b.Notes {
		fmt.Fprintf(&note, "    - kind: changed\n      description: %q\n", n)
	}
	s = changesBlock.ReplaceAllLiteralString(s, "  artifacthub.io/changes: |\n"+note.String())
	var check chartFile
	if err := yaml.Unmarshal([]byte(s), &check); err != nil || check.Version != b.Version {
		return fmt.Errorf("the edited %s does not read back (version %q): %v", b.chartPath(), check.Version, err)
	}
	return os.WriteFile(b.chartPath(), []byte(s), 0o644)
}

var argVersion = regexp.MustCompile(`(?m)^ARG VERSION=.*$`)

func (b Bump) editContainerfile() error {
	p := filepath.Join(b.Root, "Containerfile")
	raw, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !argVersion.Match(raw) {
		return fmt.Errorf("%s has no ARG VERSION line", p)
	}
	return os.WriteFile(p, argVersion.ReplaceAll(raw, []byte("ARG VERSION="+b.Version)), 0o644)
}
