package hookimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"
)

// Make builds the binaries of the given architectures from the repository at root, the image index
// from them, and writes it as an OCI layout to out, tagged with every versioned chart's version (each
// chart's hook Jobs default to the tag of their chart's version).
type Make struct {
	Root, Out string
	// Archs to build; empty means every platform.
	Archs []string
	// Created overrides the creation time; zero takes SOURCE_DATE_EPOCH, else the time of the commit.
	Created time.Time
}

// Report says what Make wrote.
type Report struct {
	Digest    v1.Hash
	Tags      []string
	Version   string
	Revision  string
	Created   time.Time
	Platforms []PlatformReport
}

// PlatformReport is one platform's manifest and its sizes.
type PlatformReport struct {
	Platform   string
	Manifest   v1.Hash
	Binary     int64 // bytes of the binary
	Compressed int64 // bytes of the gzipped layer
	Build      time.Duration
}

func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "image index %s\n", r.Digest)
	fmt.Fprintf(w, "  tags:     %s\n", strings.Join(r.Tags, ", "))
	fmt.Fprintf(w, "  version:  %s, revision %s, created %s\n", r.Version, r.Revision, r.Created.UTC().Format(time.RFC3339))
	for _, p := range r.Platforms {
		fmt.Fprintf(w, "  %-14s %s  binary %.1f MiB, layer %.1f MiB, built in %s\n", p.Platform, p.Manifest,
			float64(p.Binary)/(1<<20), float64(p.Compressed)/(1<<20), p.Build.Round(100*time.Millisecond))
	}
}

// Run builds and writes the image.
func (m Make) Run(ctx context.Context) (Report, error) {
	want := m.Archs
	if len(want) == 0 {
		want = archs()
	}
	tags, err := ChartVersions(m.Root)
	if err != nil {
		return Report{}, err
	}
	rev, err := revision(ctx, m.Root)
	if err != nil {
		return Report{}, err
	}
	created := m.Created
	if created.IsZero() {
		if created, err = sourceDate(ctx, m.Root); err != nil {
			return Report{}, err
		}
	}
	r := Report{Tags: tags, Version: tags[len(tags)-1], Revision: rev, Created: created}
	bins := map[string]string{}
	builds := map[string]time.Duration{}
	for _, arch := range want {
		if !known(arch) {
			return Report{}, fmt.Errorf("architecture %q is not one of the OpenShift platforms %v", arch, archs())
		}
		start := time.Now()
		path := filepath.Join(m.Out+".build", arch, "mtc-hooks")
		if err := GoBuild(ctx, m.Root, arch, path); err != nil {
			return Report{}, err
		}
		bins[arch], builds[arch] = path, time.Since(start)
	}
	idx, err := Build(Options{Binaries: bins, Version: r.Version, Revision: rev, Created: created})
	if err != nil {
		return Report{}, err
	}
	if err := Write(m.Out, idx, tags...); err != nil {
		return Report{}, fmt.Errorf("failed to write the OCI layout %s: %w", m.Out, err)
	}
	if r.Digest, err = idx.Digest(); err != nil {
		return Report{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Report{}, err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return Report{}, err
		}
		layers, err := img.Layers()
		if err != nil {
			return Report{}, err
		}
		size, err := layers[0].Size()
		if err != nil {
			return Report{}, err
		}
		fi, err := os.Stat(bins[d.Platform.Architecture])
		if err != nil {
			return Report{}, err
		}
		r.Platforms = append(r.Platforms, PlatformReport{Platform: d.Platform.OS + "/" + d.Platform.Architecture, Manifest: d.Digest,
			Binary: fi.Size(), Compressed: size, Build: builds[d.Platform.Architecture]})
	}
	return r, nil
}

// GoBuild builds the static mtc-hooks binary for linux/arch: no cgo, no paths of this machine, no build
// ID, so that the same source gives the same bytes.
func GoBuild(ctx context.Context, root, arch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", out, "./cmd/mtc-hooks")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of mtc-hooks for linux/%s failed: %w\n%s", arch, err, out)
	}
	return nil
}

// ChartVersions are the versions of the versioned charts under root/charts, oldest first.
func ChartVersions(root string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(root, "charts", "*", "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var c struct {
			Type    string `json:"type"`
			Version string `json:"version"`
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", p, err)
		}
		if c.Type != "library" {
			out = append(out, c.Version)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no versioned chart under %s", filepath.Join(root, "charts"))
	}
	return out, sortVersions(out)
}

func sortVersions(vs []string) error {
	parsed := make([]*semver.Version, len(vs))
	for i, v := range vs {
		p, err := semver.NewVersion(v)
		if err != nil {
			return fmt.Errorf("chart version %q is not a semantic version: %w", v, err)
		}
		parsed[i] = p
	}
	sort.Sort(semver.Collection(parsed))
	for i, p := range parsed {
		vs[i] = p.Original()
	}
	return nil
}

// revision is the commit, with "-dirty" when the work tree has changes.
func revision(ctx context.Context, root string) (string, error) {
	out, err := git(ctx, root, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	st, err := git(ctx, root, "status", "--porcelain")
	if err != nil {
		return "", err
	}
	if st != "" {
		out += "-dirty"
	}
	return out, nil
}

// sourceDate is SOURCE_DATE_EPOCH when set, else the commit time.
func sourceDate(ctx context.Context, root string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git(ctx, root, "log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

func git(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), root, err)
	}
	return strings.TrimSpace(string(out)), nil
}
