package chartgen

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite each chart's values.yaml and values.schema.json from charts/shared")

var (
	sharedDir = filepath.Join("..", "..", "charts", "shared")
	charts    = []string{filepath.Join("..", "..", "charts", "mtc-1.7"), filepath.Join("..", "..", "charts", "mtc-1.8")}
)

// Both charts' values.yaml and values.schema.json are what the shared source and their line data make.
func TestChartsMatchTheSharedSource(t *testing.T) {
	for _, c := range charts {
		if *update {
			if err := Write(sharedDir, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := Check(sharedDir, c); err != nil {
			t.Error(err)
		}
	}
}

// copyChart copies what Generate and Check read of a chart into a temporary directory.
func copyChart(t *testing.T, chart string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Chart.yaml", "values.yaml", "values.schema.json", "values.line.yaml", "values.line.schema.json"} {
		b, err := os.ReadFile(filepath.Join(chart, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A shared value or schema entry changed in one chart alone is caught, with the line and the remedy;
// the chart's own line data is not shared and may change alone through its line file.
func TestDriftIsCaught(t *testing.T) {
	for _, tc := range []struct {
		file, old, new, mark string
	}{
		{"values.yaml", "  resticTimeout: 1h", "  resticTimeout: 2h", "resticTimeout: 2h"},
		{"values.schema.json", `"title": "values of the mtc chart"`, `"title": "values of one chart"`, "values of one chart"},
	} {
		for _, c := range charts {
			t.Run(filepath.Base(c)+"/"+tc.file, func(t *testing.T) {
				dir := copyChart(t, c)
				p := filepath.Join(dir, tc.file)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tc.old) {
					t.Fatalf("%s holds no %q to change", tc.file, tc.old)
				}
				if err := os.WriteFile(p, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
				err = Check(sharedDir, dir)
				if err == nil || !strings.Contains(err.Error(), tc.file+" line ") || !strings.Contains(err.Error(), tc.mark) ||
					!strings.Contains(err.Error(), "edit charts/shared/"+tc.file) {
					t.Fatalf("want the changed line named, got %v", err)
				}
			})
		}
	}
}

// The per-line data goes where the marker stands: the legacy block only in the 1.7 chart, and each
// chart's own appVersion in the startingCSV example.
func TestLineData(t *testing.T) {
	f17, err := Generate(sharedDir, charts[0])
	if err != nil {
		t.Fatal(err)
	}
	f18, err := Generate(sharedDir, charts[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want bool
	}{
		{"1.7 values has legacy", strings.Contains(string(f17.Values), "\nlegacy:\n"), true},
		{"1.8 values has no legacy", strings.Contains(string(f18.Values), "\nlegacy:\n"), false},
		{"1.7 schema has legacy", strings.Contains(string(f17.Schema), `"legacy": {`), true},
		{"1.8 schema has no legacy", strings.Contains(string(f18.Schema), `"legacy": {`), false},
		{"1.7 example", strings.Contains(string(f17.Values), "mtc-operator.v1.7."), true},
		{"1.8 example", strings.Contains(string(f18.Values), "mtc-operator.v1.8."), true},
		{"no marker left", strings.Contains(string(f17.Values)+string(f18.Values), MarkerValues) || strings.Contains(string(f17.Schema)+string(f18.Schema), `"@"`), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v", tc.name, tc.got)
		}
	}
}
