package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real `go test -json` run of a package with a passing test, a failing parallel test that logs between component
// noise, a failed subtest and a test that panics: the output passes through whole, and the digest at its end holds
// each failure's messages and none of the noise.
func TestDigestOfARealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a package of its own")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/sample\n\ngo 1.26\n")
	write("sample_test.go", `package sample

import (
	"fmt"
	"os"
	"testing"
)

func TestPasses(t *testing.T) { t.Log("fine") }

func TestFailsAmidNoise(t *testing.T) {
	t.Parallel()
	t.Log("step one")
	for i := 0; i < 100; i++ {
		fmt.Fprintln(os.Stderr, "component noise", i)
	}
	t.Fatalf("leftover: %s\nsecond line", "ClusterRole x")
}

func TestParent(t *testing.T) {
	t.Run("child", func(t *testing.T) { t.Error("child said no") })
}
`)
	cmd := exec.Command("go", "test", "-json", "-count=1", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	raw, err := cmd.Output()
	if err == nil {
		t.Fatalf("the sample package passed:\n%s", raw)
	}
	var out, verbose bytes.Buffer
	if err := run(bytes.NewReader(raw), &out, false); err != nil {
		t.Fatal(err)
	}
	if err := run(bytes.NewReader(raw), &verbose, true); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	head, dig, ok := strings.Cut(text, "=== digest: what each failed test said\n")
	if !ok {
		t.Fatalf("no digest:\n%s", text)
	}
	// As go test without -v: the failed tests' output, not the passed one's.
	for _, want := range []string{"component noise 99", "--- FAIL: TestFailsAmidNoise", "child said no", "FAIL\texample.com/sample"} {
		if !strings.Contains(head, want) {
			t.Errorf("the output lacks %q:\n%s", want, head)
		}
	}
	if strings.Contains(head, "fine") {
		t.Errorf("the output holds a passed test's log:\n%s", head)
	}
	if vhead, _, _ := strings.Cut(verbose.String(), "=== digest"); !strings.Contains(vhead, "fine") || !strings.Contains(vhead, "component noise 99") {
		t.Errorf("with -v, the output lacks a test's log:\n%s", vhead)
	}
	for _, want := range []string{
		"--- FAIL: TestFailsAmidNoise (example.com/sample)", "step one", "leftover: ClusterRole x", "second line",
		"--- FAIL: TestParent/child (example.com/sample)", "child said no",
	} {
		if !strings.Contains(dig, want) {
			t.Errorf("the digest lacks %q:\n%s", want, dig)
		}
	}
	for _, unwanted := range []string{"component noise", "TestPasses", "--- FAIL: TestParent (", "fine"} {
		if strings.Contains(dig, unwanted) {
			t.Errorf("the digest holds %q:\n%s", unwanted, dig)
		}
	}
}

// A run that times out: the test still running has no end of its own, and the digest names it with
// what it logged, the timeout's panic and the tests it lists as running.
func TestDigestOfATimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a package of its own")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod": "module example.com/slow\n\ngo 1.26\n",
		"slow_test.go": `package slow

import (
	"testing"
	"time"
)

func TestSlow(t *testing.T) {
	t.Log("waiting for what never comes")
	time.Sleep(time.Minute)
}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-json", "-count=1", "-timeout", "1s", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	raw, _ := cmd.Output()
	var out bytes.Buffer
	if err := run(bytes.NewReader(raw), &out, false); err != nil {
		t.Fatal(err)
	}
	_, dig, ok := strings.Cut(out.String(), "=== digest: what each failed test said\n")
	if !ok {
		t.Fatalf("no digest:\n%s", out.String())
	}
	for _, want := range []string{"--- UNFINISHED: TestSlow (example.com/slow)", "waiting for what never comes", "panic: test timed out after 1s", "TestSlow ("} {
		if !strings.Contains(dig, want) {
			t.Errorf("the digest lacks %q:\n%s", want, dig)
		}
	}
	if strings.Contains(dig, "goroutine") {
		t.Errorf("the digest holds the goroutine dump:\n%s", dig)
	}
}

// A package that fails before its tests report (here a panic at init) is named, with its last lines.
func TestDigestOfAPackageThatFailsOutsideItsTests(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"output","Package":"p","Output":"panic: boom at init\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":0.01}`,
		`# p: a line that is not JSON`,
	}, "\n")
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	_, dig, ok := strings.Cut(out.String(), "=== digest")
	if !ok || !strings.Contains(dig, "--- FAIL: package p, outside its tests:\npanic: boom at init") {
		t.Fatalf("digest:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "# p: a line that is not JSON") {
		t.Errorf("a line that is not JSON was not passed through:\n%s", out.String())
	}
}

// When everything passed there is no digest.
func TestNoDigestWhenAllPassed(t *testing.T) {
	in := `{"Action":"output","Package":"p","Test":"T","Output":"    a_test.go:1: hi\n"}` + "\n" + `{"Action":"pass","Package":"p","Test":"T"}`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "digest") {
		t.Fatalf("digest after a pass:\n%s", out.String())
	}
}
