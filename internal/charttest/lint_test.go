package charttest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mtc-helm/mtc-helm/internal/chartdocs"
)

// TestLintStrict runs helm lint --strict with Helm 3 and Helm 4 on each chart, with its defaults and
// with every values/ file meant for it. Lint renders offline, so egress policies get an explicit
// network type.
func TestLintStrict(t *testing.T) {
	for _, helmName := range []string{"helm", "helm4"} {
		root, helm := setup(t, helmName)
		files, err := ValuesFiles(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, chart := range Charts {
			runs := map[string][]string{"defaults": nil}
			for _, vf := range files {
				if slices.Contains(vf.Charts, chart) {
					runs[vf.Name] = []string{"-f", vf.Path, "--set", "egressPolicies.networkType=" + networkType(vf.Flavour)}
				}
			}
			for name, args := range runs {
				t.Run(helmName+"/"+chart+"/"+name, func(t *testing.T) {
					t.Parallel()
					full := append([]string{"lint", "--strict", filepath.Join(root, "charts", chart), "--namespace", Namespace}, args...)
					out, err := exec.Command(helm, full...).CombinedOutput()
					if err != nil {
						t.Fatalf("%s %s: %v\n%s", helmName, strings.Join(full, " "), err, out)
					}
					for _, line := range strings.Split(string(out), "\n") {
						if strings.HasPrefix(line, "[WARNING]") || strings.HasPrefix(line, "[ERROR]") {
							t.Errorf("%s lint: %s", helmName, line)
						}
					}
				})
			}
		}
	}
}

func networkType(f Flavour) string {
	if slices.Contains(f.APIVersions, "k8s.ovn.org/v1/EgressFirewall") {
		return "OVNKubernetes"
	}
	return "OpenShiftSDN"
}

// TestSchemaInStepWithValues keeps values.schema.json and values.yaml in step: every key in values.yaml is
// declared under "properties" of the schema, and every declared property of an object the schema closes
// (additionalProperties false) has a default in values.yaml, so the README documents it.
func TestSchemaInStepWithValues(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			dir := filepath.Join(root, "charts", chart)
			var values map[string]any
			raw, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			var schema map[string]any
			raw, err = os.ReadFile(filepath.Join(dir, "values.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &schema); err != nil {
				t.Fatal(err)
			}
			var problems []string
			compareSchema("", values, schema, &problems)
			sort.Strings(problems)
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

func compareSchema(path string, values map[string]any, schema map[string]any, problems *[]string) {
	props, _ := schema["properties"].(map[string]any)
	for key, value := range values {
		sub, ok := props[key].(map[string]any)
		if !ok {
			*problems = append(*problems, "values.yaml has "+join(path, key)+" but values.schema.json does not declare it")
			continue
		}
		if m, ok := value.(map[string]any); ok && sub["properties"] != nil {
			compareSchema(join(path, key), m, sub, problems)
		}
	}
	if schema["additionalProperties"] == false {
		for key := range props {
			if _, ok := values[key]; !ok && key != "mtc-lib" {
				*problems = append(*problems, "values.schema.json declares "+join(path, key)+" but values.yaml has no default for it")
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// TestReadmeValuesReference fails when a chart's README values table is not what ci/chart-docs writes
// from values.yaml (run `ci/charts.sh docs`).
func TestReadmeValuesReference(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, chart := range Charts {
		stale, err := chartdocs.Document(filepath.Join(root, "charts", chart), true)
		if err != nil {
			t.Fatal(err)
		}
		if stale {
			t.Errorf("charts/%s/README.md: the values reference is out of date; run ci/charts.sh docs", chart)
		}
	}
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
