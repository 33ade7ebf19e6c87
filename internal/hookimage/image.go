// Package hookimage builds the mtc-hooks container image without a container engine: for each platform
// one layer holding the static binary, CA certificates and a passwd entry for the non-root user, put
// together with go-containerregistry into one OCI image index and written as an OCI layout. The same
// inputs give the same digest: every timestamp is the given creation time, and the tar and gzip streams
// carry nothing of the machine that built them.
package hookimage

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// What the image is; the Containerfile describes the same (a test holds them together).
const (
	// Entrypoint is where the binary lives in the image.
	Entrypoint = "/usr/local/bin/mtc-hooks"
	// User is the numeric non-root user and group (distroless's nonroot). OpenShift's restricted-v2
	// may run the pod as another UID; the image needs no write access anywhere.
	User = "65532:65532"
	// CAFile is the CA bundle Go's crypto/x509 reads first on Linux.
	CAFile = "/etc/ssl/certs/ca-certificates.crt"
	// Source is the repository the image is built from.
	Source = "https://github.com/mtc-helm/mtc-helm"
	// Title and Description label the image.
	Title       = "mtc-hooks"
	Description = "Hooks of the MTC Helm charts: version-check, pull-test, configure, cleanup"
)

// Platforms are the OpenShift architectures: MTC's clusters run on all four.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
	{OS: "linux", Architecture: "ppc64le"},
	{OS: "linux", Architecture: "s390x"},
}

// Options say what goes into the image.
type Options struct {
	// Binaries maps an architecture (GOARCH) to the path of its static mtc-hooks binary.
	Binaries map[string]string
	// Version and Revision label the image (org.opencontainers.image.version and .revision).
	Version, Revision string
	// Created is the time stamped on every file and on the image (SOURCE_DATE_EPOCH).
	Created time.Time
}

// Labels returns the OCI labels of an image of that version and revision.
func Labels(version, revision string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       Title,
		"org.opencontainers.image.description": Description,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    revision,
	}
}

// Build assembles the image index of every platform in o.Binaries, in the order of Platforms.
func Build(o Options) (v1.ImageIndex, error) {
	if o.Version == "" || o.Revision == "" {
		return nil, fmt.Errorf("the image needs a version and a revision for its labels")
	}
	for arch := range o.Binaries {
		if !known(arch) {
			return nil, fmt.Errorf("architecture %q is not one of the OpenShift platforms %v", arch, archs())
		}
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range Platforms {
		path, ok := o.Binaries[p.Architecture]
		if !ok {
			continue
		}
		img, err := image(o, p, path)
		if err != nil {
			return nil, fmt.Errorf("failed to build the %s/%s image: %w", p.OS, p.Architecture, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if len(adds) == 0 {
		return nil, fmt.Errorf("no binary given for any of %v", archs())
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, map[string]string{
		"org.opencontainers.image.source":   Source,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
	}).(v1.ImageIndex), nil
}

// image is the single-layer image of one platform.
func image(o Options, p v1.Platform, binary string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	if err := checkELF(bin, p.Architecture); err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	data, err := layerTar(bin, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: o.Created}, CreatedBy: "mtc-helm hookimage: " + Entrypoint + ", CA certificates, user " + User,
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: o.Created}
	cf.Config.User = User
	cf.Config.Entrypoint = []string{Entrypoint}
	cf.Config.Cmd = nil
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + CAFile}
	cf.Config.Labels = Labels(o.Version, o.Revision)
	return mutate.ConfigFile(img, cf)
}

// layerTar is the image's file system: the binary, the CA bundle and passwd/group entries for the user.
func layerTar(bin []byte, created time.Time) ([]byte, error) {
	ca, err := caBundle()
	if err != nil {
		return nil, err
	}
	files := []struct {
		path string
		mode int64
		data []byte
	}{
		{"etc/", 0o755, nil},
		{"etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{"etc/ssl/", 0o755, nil},
		{"etc/ssl/certs/", 0o755, nil},
		{CAFile[1:], 0o644, ca},
		{"home/", 0o755, nil},
		{"home/nonroot/", 0o700, nil},
		{"usr/", 0o755, nil},
		{"usr/local/", 0o755, nil},
		{"usr/local/bin/", 0o755, nil},
		{Entrypoint[1:], 0o755, bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: created.UTC(), Format: tar.FormatPAX}
		if f.path[len(f.path)-1] == '/' {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if f.path == "home/nonroot/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// caBundle is the Mozilla NSS trust store as Go's x509roots module pins it, as PEM. Roots that NSS
// constrains (distrusted after a date) cannot be expressed in a PEM bundle and are left out.
func caBundle() ([]byte, error) {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if buf.Len() == 0 {
		return nil, fmt.Errorf("the CA bundle is empty")
	}
	return buf.Bytes(), nil
}

// Write writes the index as an OCI layout in dir (replacing what was there), its tags as ref names.
func Write(dir string, idx v1.ImageIndex, tags ...string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	sort.Strings(tags)
	for _, t := range tags {
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": t})); err != nil {
			return err
		}
	}
	return nil
}

func known(arch string) bool {
	for _, p := range Platforms {
		if p.Architecture == arch {
			return true
		}
	}
	return false
}

func archs() []string {
	out := make([]string, len(Platforms))
	for i, p := range Platforms {
		out[i] = p.Architecture
	}
	return out
}

// LayoutDigest reads the digest of the image index that Write put in the layout at dir.
func LayoutDigest(dir string) (v1.Hash, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("no image layout at %s (make image writes it): %w", dir, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return v1.Hash{}, err
	}
	m, err := top.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(m.Manifests) == 0 {
		return v1.Hash{}, fmt.Errorf("the image layout at %s is empty", dir)
	}
	return m.Manifests[0].Digest, nil
}
