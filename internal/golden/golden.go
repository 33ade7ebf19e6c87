// Package golden compares a test's text output with a file under the package's testdata/golden, and
// rewrites the file when the test runs with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden (and what else a package's tests generate)")

// Updating tells whether the tests run with -update: a test that generates files other than golden
// ones (the CLI reference) rewrites them then, under the same flag.
func Updating() bool { return *update }

// durations are the parts of a report that change from run to run: "in 2ms", "(1.5s)".
var durations = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m)\b`)

// Stable replaces the durations in a report with <duration>.
func Stable(s string) string { return durations.ReplaceAllString(s, "<duration>") }

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9.]+`)

// Name makes a file name of a test case's name: "no release: foreign" is "no-release-foreign".
func Name(s string) string { return unsafe.ReplaceAllString(s, "-") }

// Check compares got with testdata/golden/<name>, or writes it there under -update.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs from the golden file (-want +got); run the test with -update if the change is meant:\n%s", path, d)
	}
}
