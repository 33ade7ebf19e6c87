// Package ci_test checks the scripts CI and the Makefile run.
package ci_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo puts a `go` on PATH that reports the given version, or none at all.
func fakeGo(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	if version != "" {
		script := "#!/bin/sh\necho go" + version + "\n"
		if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckGo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    string // empty: accepted
	}{
		{"1.26.8", ""},
		{"1.27.3", ""},
		{"1.25.9", "Go 1.25.9 is too old: this project needs Go 1.26 or newer."},
		{"1.9", "Go 1.9 is too old"},
		{"", "Go is not installed or not on PATH"},
	}
	for _, tt := range tests {
		t.Run("go"+tt.version, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("/bin/bash", "check-go.sh")
			cmd.Env = []string{"PATH=" + fakeGo(t, tt.version)}
			out, err := cmd.CombinedOutput()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("go%s refused: %v\n%s", tt.version, err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("go%s: err=%v output %q, want a refusal containing %q", tt.version, err, out, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n != 0 {
				t.Errorf("refusal is not one line: %q", out)
			}
		})
	}
}
