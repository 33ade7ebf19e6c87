package charttest

import (
	"bytes"
	"cmp"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// setup finds the repository, the Helm CLI and vendors the library chart; without bin/helm it fails
// with the sentence that says to run make tools (under -short it skips with that sentence).
func setup(t testing.TB, helmName string) (root, helm string) {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	helm, err = Helm(root, helmName)
	h3, err3 := Helm(root, "helm")
	if err = cmp.Or(err, err3); err != nil {
		if testing.Short() {
			// make test-short runs on a fresh clone before make tools; make test builds the CLIs first
			// and runs these tests.
			t.Skipf("%v (make test runs this test)", err)
		}
		t.Fatal(err)
	}
	if err := BuildDependencies(root, h3); err != nil {
		t.Fatal(err)
	}
	return root, helm
}

// TestGolden renders every values/ file on each chart it is meant for, with the API of its cluster
// flavour, plus each chart's defaults, and compares with testdata/golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	root, helm := setup(t, "helm")
	files, err := ValuesFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	type render struct {
		chart, name string
		args        []string
	}
	var renders []render
	for _, chart := range Charts {
		renders = append(renders, render{chart, "defaults", Flavours["ocp4-ovn"].Args()})
	}
	for _, vf := range files {
		for _, chart := range vf.Charts {
			renders = append(renders, render{chart, vf.Name, append([]string{"-f", vf.Path}, vf.Flavour.Args()...)})
		}
	}
	for _, r := range renders {
		t.Run(r.chart+"/"+r.name, func(t *testing.T) {
			t.Parallel()
			got, err := Template(root, helm, r.chart, r.args...)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", r.chart, r.name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v; run go test ./internal/charttest -run TestGolden -update to create it", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("helm template of %s with %s differs from %s; review the change and rewrite it with -update\n%s", r.chart, r.name, golden, diffLines(want, got))
			}
		})
	}
}

// diffLines reports the first differing line of two renders, enough to find the change.
func diffLines(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return "line " + strconv.Itoa(i+1) + ":\n- " + string(wl) + "\n+ " + string(gl)
		}
	}
	return ""
}
