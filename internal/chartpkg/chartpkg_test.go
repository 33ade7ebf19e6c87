package chartpkg_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtc-helm/mtc-helm/internal/chartpkg"
	"github.com/mtc-helm/mtc-helm/internal/registry"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// The charts as users get them: packaged with the library inside, signed, pushed to an OCI registry
// behind basic auth, then read back with each Helm CLI: show values and show readme equal the source,
// show chart carries the Artifact Hub annotations, pull --verify passes, and fails on an archive
// changed after signing.
func TestIntegrationPackageSignPushVerify(t *testing.T) {
	envtest.SkipIfShort(t)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(root, "bin", "helm")
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := chartpkg.GenerateKeyring(dir, "mtc-helm lab", "lab@mtc-helm.invalid")
	if err != nil {
		t.Fatal(err)
	}
	hook := "quay.io/mtc-helm/mtc-hooks@sha256:" + strings.Repeat("ab", 32)
	archives, err := chartpkg.Package{Root: root, Helm: helm, Out: filepath.Join(dir, "dist"), HookImage: hook,
		Sign: &chartpkg.Signer{Keyring: keys.Secret, Key: keys.Name}}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(archives) != len(chartpkg.Charts) {
		t.Fatalf("want %d archives, got %v", len(chartpkg.Charts), archives)
	}
	reg, err := registry.Start(ctx, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	ref := "oci://" + reg.Host + "/charts"
	if _, err := chartpkg.Push(ctx, helm, archives, ref, "wrong", "credentials", true); err == nil {
		t.Fatal("the registry took a push with wrong credentials")
	}
	digests, err := chartpkg.Push(ctx, helm, archives, ref, reg.Username, reg.Password, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(digests) != len(archives) {
		t.Fatalf("helm push reported digests %v for %d archives", digests, len(archives))
	}
	auth := []string{"--plain-http", "--username", reg.Username, "--password", reg.Password}
	for _, cli := range []string{"helm", "helm4"} {
		for i, a := range archives {
			src := filepath.Join(root, "charts", chartpkg.Charts[i])
			show := func(what string) string {
				t.Helper()
				out, err := exec.Command(filepath.Join(root, "bin", cli), append([]string{"show", what, ref + "/" + a.Chart, "--version", a.Version}, auth...)...).Output()
				if err != nil {
					t.Fatalf("%s show %s %s: %v", cli, what, a.Version, stderr(err))
				}
				return string(out)
			}
			for what, file := range map[string]string{"values": "values.yaml", "readme": "README.md"} {
				want, err := os.ReadFile(filepath.Join(src, file))
				if err != nil {
					t.Fatal(err)
				}
				if got := show(what); strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
					t.Errorf("%s show %s of the pushed %s differs from %s", cli, what, a.Version, file)
				}
			}
			if c := show("chart"); !strings.Contains(c, "artifacthub.io/images") || !strings.Contains(c, hook) || !strings.Contains(c, "version: "+a.Version) {
				t.Errorf("%s show chart %s lacks the images annotation with %s:\n%s", cli, a.Version, hook, c)
			}
			for _, ann := range []string{"artifacthub.io/license: Apache-2.0", "artifacthub.io/links", "artifacthub.io/changes"} {
				if c := show("chart"); !strings.Contains(c, ann) {
					t.Errorf("%s show chart %s lacks %s", cli, a.Version, ann)
				}
			}
			pull := exec.Command(filepath.Join(root, "bin", cli), append([]string{"pull", ref + "/" + a.Chart, "--version", a.Version,
				"--verify", "--keyring", keys.Public, "--destination", t.TempDir()}, auth...)...)
			if out, err := pull.CombinedOutput(); err != nil {
				t.Errorf("%s pull --verify %s: %v\n%s", cli, a.Version, err, out)
			}
		}
	}

	// An archive changed after it was signed, pushed with its old provenance, fails verification.
	tampered := filepath.Join(dir, "tampered")
	if err := os.MkdirAll(tampered, 0o755); err != nil {
		t.Fatal(err)
	}
	a := archives[0]
	bad := filepath.Join(tampered, filepath.Base(a.Path))
	if err := rewrite(a.Path, bad, func(name string, b []byte) []byte {
		if strings.HasSuffix(name, "/values.yaml") && strings.Count(name, "/") == 1 {
			return append(b, []byte("\n# changed after signing\n")...)
		}
		return b
	}); err != nil {
		t.Fatal(err)
	}
	prov, err := os.ReadFile(a.Prov)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad+".prov", prov, 0o644); err != nil {
		t.Fatal(err)
	}
	badRef := "oci://" + reg.Host + "/tampered"
	if _, err := chartpkg.Push(ctx, helm, []chartpkg.Archive{{Chart: a.Chart, Version: a.Version, Path: bad, Prov: bad + ".prov"}}, badRef, reg.Username, reg.Password, true); err != nil {
		t.Fatal(err)
	}
	for _, cli := range []string{"helm", "helm4"} {
		// pull, and template, which reads the chart as install does before it renders anything
		for _, cmd := range [][]string{
			{"pull", badRef + "/" + a.Chart, "--destination", t.TempDir()},
			{"template", "mtc", badRef + "/" + a.Chart, "-n", "openshift-migration"},
		} {
			args := append(append(cmd, "--version", a.Version, "--verify", "--keyring", keys.Public), auth...)
			out, err := exec.Command(filepath.Join(root, "bin", cli), args...).CombinedOutput()
			if err == nil {
				t.Errorf("%s %s --verify accepted an archive changed after signing:\n%s", cli, cmd[0], out)
			} else if !strings.Contains(strings.ToLower(string(out)), "sha256") {
				t.Errorf("%s %s --verify failed, but not on the archive's checksum:\n%s", cli, cmd[0], out)
			}
		}
	}
}

func stderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return err.Error() + ": " + string(ee.Stderr)
	}
	return err.Error()
}

// rewrite copies a chart archive, passing every file through change.
func rewrite(src, dst string, change func(name string, b []byte) []byte) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		b = change(h.Name, b)
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
