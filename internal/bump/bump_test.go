package bump

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// sandbox copies the chart metadata and the Containerfile of the repository to a temporary root,
// with the 1.8 chart set back to 1.8.10.
func sandbox(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"Containerfile", "charts/mtc-1.8/Chart.yaml", "charts/mtc-1.7/Chart.yaml", "charts/mtc-lib/Chart.yaml"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "charts/mtc-1.8/Chart.yaml" {
			b = []byte(strings.NewReplacer("version: 1.8.11", "version: 1.8.10", `appVersion: "1.8.11"`, `appVersion: "1.8.10"`).Replace(string(b)))
		}
		if f == "Containerfile" {
			b = []byte(strings.Replace(string(b), "ARG VERSION=1.8.11", "ARG VERSION=1.8.10", 1))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBumpMovesEverythingTogether(t *testing.T) {
	t.Parallel()
	root := sandbox(t)
	b := Bump{Root: root, Chart: "mtc-1.8", Version: "1.8.11", Notes: []string{`MTC 1.8.11: "quoted" fix`}}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "charts/mtc-1.8/Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Version     string            `json:"version"`
		AppVersion  string            `json:"appVersion"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Version != "1.8.11" || c.AppVersion != "1.8.11" {
		t.Fatalf("version %s appVersion %s, want 1.8.11", c.Version, c.AppVersion)
	}
	var changes []map[string]string
	if err := yaml.Unmarshal([]byte(c.Annotations["artifacthub.io/changes"]), &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0]["description"] != `MTC 1.8.11: "quoted" fix` || changes[0]["kind"] != "changed" {
		t.Fatalf("release note %v", changes)
	}
	if c.Annotations["artifacthub.io/links"] == "" || !strings.Contains(string(raw), "# the release note of this chart version") {
		t.Fatal("the bump lost the chart's other annotations or its comments")
	}
	cf, err := os.ReadFile(filepath.Join(root, "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cf), "ARG VERSION=1.8.11\n") {
		t.Fatal("the Containerfile's VERSION did not follow the newest chart")
	}
}

func TestBumpRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		chart, version string
		notes          []string
		want           string
	}{
		{"", "1.8.12", []string{"x"}, "say which chart and which version"},
		{"mtc-1.8", "1.8.11", nil, "at least one release note"},
		{"mtc-1.8", "1.8.11", []string{" "}, "at least one release note"},
		{"mtc-1.8", "1.8", []string{"x"}, "not x.y.z"},
		{"mtc-1.8", "1.9.0", []string{"x"}, "another line"},
		{"mtc-1.8", "1.8.9", []string{"x"}, "not newer"},
		{"mtc-1.8", "1.8.12", []string{"x"}, "no OpenShift catalog carries mtc-operator.v1.8.12"},
		{"mtc-2.0", "2.0.1", []string{"x"}, "no chart mtc-2.0"},
	} {
		root := sandbox(t)
		before, _ := os.ReadFile(filepath.Join(root, "charts/mtc-1.8/Chart.yaml"))
		err := Bump{Root: root, Chart: tc.chart, Version: tc.version, Notes: tc.notes}.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: want an error saying %q, got %v", tc.chart, tc.version, tc.want, err)
		}
		if after, _ := os.ReadFile(filepath.Join(root, "charts/mtc-1.8/Chart.yaml")); string(after) != string(before) {
			t.Errorf("%s %s: a refused bump changed the chart", tc.chart, tc.version)
		}
	}
}
