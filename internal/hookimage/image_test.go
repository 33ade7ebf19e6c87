package hookimage

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

var created = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// fakeELF writes the 64-byte header of a static ELF executable for machine, enough for debug/elf.
func fakeELF(t *testing.T, dir string, machine uint16, bigEndian bool) string {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1 // 64-bit, little endian, version 1
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		h[5], order = 2, binary.BigEndian
	}
	order.PutUint16(h[16:], 2) // ET_EXEC
	order.PutUint16(h[18:], machine)
	order.PutUint32(h[20:], 1)
	order.PutUint16(h[52:], 64) // header size
	p := filepath.Join(dir, fmt.Sprintf("elf-%d", machine))
	if err := os.WriteFile(p, h, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeBinaries(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		"amd64":   fakeELF(t, dir, 62, false),
		"arm64":   fakeELF(t, dir, 183, false),
		"ppc64le": fakeELF(t, dir, 21, false),
		"s390x":   fakeELF(t, dir, 22, true),
	}
}

func digest(t *testing.T, o Options) v1.Hash {
	t.Helper()
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The same inputs give the same index digest, four platforms in it; any input that changes changes it.
func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	o := Options{Binaries: fakeBinaries(t), Version: "1.8.11", Revision: "abc", Created: created}
	first := digest(t, o)
	if again := digest(t, o); again != first {
		t.Fatalf("two builds of the same inputs differ: %s and %s", first, again)
	}
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		got = append(got, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if want := []string{"linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x"}; !slices.Equal(got, want) {
		t.Fatalf("platforms %v, want %v", got, want)
	}
	for name, o2 := range map[string]Options{
		"revision": {Binaries: o.Binaries, Version: o.Version, Revision: "def", Created: created},
		"created":  {Binaries: o.Binaries, Version: o.Version, Revision: o.Revision, Created: created.Add(time.Second)},
	} {
		if digest(t, o2) == first {
			t.Errorf("changing the %s kept the digest", name)
		}
	}
}

func TestBuildRefusesABinaryOfAnotherArchitecture(t *testing.T) {
	t.Parallel()
	bins := fakeBinaries(t)
	bins["arm64"] = bins["amd64"]
	_, err := Build(Options{Binaries: bins, Version: "1.8.11", Revision: "abc", Created: created})
	if err == nil || !strings.Contains(err.Error(), "built for EM_X86_64") || !strings.Contains(err.Error(), "GOARCH=arm64") {
		t.Fatalf("want a refusal naming the binary's machine and the fix, got %v", err)
	}
	bins = fakeBinaries(t)
	bins["mips"] = bins["amd64"]
	if _, err := Build(Options{Binaries: bins, Version: "1.8.11", Revision: "abc", Created: created}); err == nil || !strings.Contains(err.Error(), `"mips"`) {
		t.Fatalf("want a refusal of an architecture OpenShift does not run on, got %v", err)
	}
}

// The real binary of this machine's architecture, through Make: the layout holds the index under both
// chart versions, the config is what a kubelet needs (non-root numeric user, entrypoint, labels), and
// the layer's binary runs and its CA bundle parses.
func TestMakeWritesARunnableImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hook binary; run without -short")
	}
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "mtc-hooks")
	r, err := Make{Root: root, Out: out, Archs: []string{runtime.GOARCH}, Created: created}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	versions, err := ChartVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Tags, versions) || r.Version != versions[len(versions)-1] {
		t.Fatalf("tags %v version %s, want the chart versions %v", r.Tags, r.Version, versions)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range tm.Manifests {
		if d.Digest != r.Digest {
			t.Fatalf("layout entry %s is not the index %s", d.Digest, r.Digest)
		}
		refs = append(refs, d.Annotations["org.opencontainers.image.ref.name"])
	}
	if !slices.Equal(refs, versions) {
		t.Fatalf("layout tags %v, want %v", refs, versions)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := idx.ImageIndex(r.Digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := inner.Image(r.Platforms[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != User || !slices.Equal(cf.Config.Entrypoint, []string{Entrypoint}) || cf.Architecture != runtime.GOARCH || cf.OS != "linux" {
		t.Fatalf("config user %q entrypoint %v platform %s/%s", cf.Config.User, cf.Config.Entrypoint, cf.OS, cf.Architecture)
	}
	if uid := strings.Split(cf.Config.User, ":")[0]; uid == "0" || !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) {
		t.Fatalf("user %q is not a numeric non-root user", cf.Config.User)
	}
	if want := Labels(r.Version, r.Revision); !maps.Equal(cf.Config.Labels, want) {
		t.Fatalf("labels %v, want %v", cf.Config.Labels, want)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("want one layer, got %d (%v)", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dir := t.TempDir()
	tr := tar.NewReader(rc)
	files := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files["/"+h.Name] = h
		if h.Typeflag == tar.TypeReg {
			dst := filepath.Join(dir, filepath.Base(h.Name))
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	if h := files[Entrypoint]; h == nil || h.Mode&0o111 == 0 || !h.ModTime.Equal(created) {
		t.Fatalf("entrypoint %s missing, not executable or not stamped %s: %+v", Entrypoint, created, h)
	}
	out2, err := exec.Command(filepath.Join(dir, "mtc-hooks"), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "cleanup") {
		t.Fatalf("the image's binary does not run: %v\n%s", err, out2)
	}
	pemData, err := os.ReadFile(filepath.Join(dir, filepath.Base(CAFile)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for block, rest := pem.Decode(pemData); block != nil; block, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("CA bundle holds %d certificates, want the NSS roots (over 100)", n)
	}
}

// The Containerfile, for those who build with podman, describes the same image.
func TestContainerfileDescribesTheSameImage(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	var cur string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if c, ok := strings.CutSuffix(l, "\\"); ok {
			cur += c + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	args := map[string]string{}
	labels := map[string]string{}
	var user, env string
	var entrypoint []string
	labelRE := regexp.MustCompile(`([a-z.]+)="([^"]*)"`)
	for _, l := range lines {
		kw, rest, _ := strings.Cut(l, " ")
		switch kw {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "LABEL":
			for _, m := range labelRE.FindAllStringSubmatch(rest, -1) {
				labels[m[1]] = m[2]
			}
		case "USER":
			user = rest
		case "ENV":
			env = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: %v", rest, err)
			}
		}
	}
	versions, err := ChartVersions("../..")
	if err != nil {
		t.Fatal(err)
	}
	if user != User || !slices.Equal(entrypoint, []string{Entrypoint}) || env != "SSL_CERT_FILE="+CAFile {
		t.Errorf("Containerfile USER %q ENTRYPOINT %v ENV %q, the built image %q %v SSL_CERT_FILE=%s", user, entrypoint, env, User, Entrypoint, CAFile)
	}
	if args["VERSION"] != versions[len(versions)-1] {
		t.Errorf("Containerfile ARG VERSION=%s, the newest chart is %s", args["VERSION"], versions[len(versions)-1])
	}
	want := Labels("${VERSION}", "${REVISION}")
	if !maps.Equal(labels, want) {
		t.Errorf("Containerfile labels %v\nthe built image's %v", labels, want)
	}
}

// BenchmarkMake builds the image for the four platforms (cross-compiling each binary) and reports the
// build time, and the binary and layer sizes per platform; the binary must stay under 40 MiB.
//
//	go test -run '^$' -bench Make -benchtime 1x ./internal/hookimage
func BenchmarkMake(b *testing.B) {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		r, err := Make{Root: root, Out: filepath.Join(b.TempDir(), "mtc-hooks")}.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range r.Platforms {
			arch := strings.TrimPrefix(p.Platform, "linux/")
			b.ReportMetric(p.Build.Seconds(), "s-build-"+arch)
			b.ReportMetric(float64(p.Binary)/(1<<20), "MiB-binary-"+arch)
			b.ReportMetric(float64(p.Compressed)/(1<<20), "MiB-layer-"+arch)
			if p.Binary >= 40<<20 {
				b.Errorf("the %s binary is %.1f MiB, over the 40 MiB bound", arch, float64(p.Binary)/(1<<20))
			}
		}
	}
}
