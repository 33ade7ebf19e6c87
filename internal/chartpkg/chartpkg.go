// Package chartpkg turns the versioned charts into what users install: a chart archive per MTC line with
// the library chart inside and Artifact Hub annotations, signed when a key is given (a .prov file next to
// it), and pushed to an OCI registry with helm push. It drives the Helm CLI, as a release pipeline
// would, so what is tested is what a user's Helm reads.
package chartpkg

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Charts are the versioned charts, by directory under charts/.
var Charts = []string{"mtc-1.8", "mtc-1.7"}

// Image is one entry of the artifacthub.io/images annotation.
type Image struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Signer names the OpenPGP key that signs the archives (helm package --sign).
type Signer struct {
	// Keyring is the secret keyring (binary OpenPGP, as gpg --export-secret-keys writes it).
	Keyring string
	// Key is the name or email of the key's identity.
	Key string
	// PassphraseFile holds the key's passphrase; empty for a key without one.
	PassphraseFile string
}

// Package builds the archives.
type Package struct {
	// Root is the repository; Helm the Helm CLI to run; Out the directory the archives go to.
	Root, Helm, Out string
	// HookImage is the hook image's reference with its digest (repository@sha256:…), for the
	// artifacthub.io/images annotation; empty leaves the tag the chart renders.
	HookImage string
	// Sign, when not nil, signs each archive.
	Sign *Signer
	// Charts to package (default: Charts).
	Charts []string
}

// Archive is one packaged chart.
type Archive struct {
	Chart, Version string
	// Path is the .tgz; Prov the .prov next to it ("" when unsigned).
	Path, Prov string
}

// Run packages each chart from a copy of the source, so that the work tree is not touched.
func (p Package) Run(ctx context.Context) ([]Archive, error) {
	charts := p.Charts
	if len(charts) == 0 {
		charts = Charts
	}
	if err := os.MkdirAll(p.Out, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "mtc-package-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	if err := copyChart(filepath.Join(p.Root, "charts", "mtc-lib"), filepath.Join(stage, "mtc-lib")); err != nil {
		return nil, err
	}
	var out []Archive
	for _, c := range charts {
		dir := filepath.Join(stage, c)
		if err := copyChart(filepath.Join(p.Root, "charts", c), dir); err != nil {
			return nil, err
		}
		if _, err := p.helm(ctx, "dependency", "build", dir); err != nil {
			return nil, err
		}
		meta, err := p.annotate(dir)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", c, err)
		}
		args := []string{"package", dir, "--destination", p.Out}
		if p.Sign != nil {
			args = append(args, "--sign", "--keyring", p.Sign.Keyring, "--key", p.Sign.Key)
			if p.Sign.PassphraseFile != "" {
				args = append(args, "--passphrase-file", p.Sign.PassphraseFile)
			}
		}
		if _, err := p.helm(ctx, args...); err != nil {
			return nil, err
		}
		a := Archive{Chart: meta.Name, Version: meta.Version, Path: filepath.Join(p.Out, meta.Name+"-"+meta.Version+".tgz")}
		if p.Sign != nil {
			a.Prov = a.Path + ".prov"
		}
		out = append(out, a)
	}
	return out, nil
}

type chartMeta struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Annotations map[string]string `json:"annotations"`
}

// annotate adds the artifacthub.io/images annotation, the only one that depends on the build (the hook
// image's digest); the rest of the chart's annotations are kept in its Chart.yaml.
func (p Package) annotate(dir string) (chartMeta, error) {
	path := filepath.Join(dir, "Chart.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return chartMeta{}, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return chartMeta{}, fmt.Errorf("read %s: %w", path, err)
	}
	var meta chartMeta
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return chartMeta{}, err
	}
	images, err := chartImages(dir, meta.Version, p.HookImage)
	if err != nil {
		return chartMeta{}, err
	}
	list, err := yaml.Marshal(images)
	if err != nil {
		return chartMeta{}, err
	}
	ann, _ := doc["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	ann["artifacthub.io/images"] = string(list)
	doc["annotations"] = ann
	b, err := yaml.Marshal(doc)
	if err != nil {
		return chartMeta{}, err
	}
	return meta, os.WriteFile(path, b, 0o644)
}

// chartImages lists the images the chart renders by default, from its values.yaml: the hook image (by
// digest when known), the pull test's image and, on the 1.7 line, the legacy operator.
func chartImages(dir, version, hookImage string) ([]Image, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	var v struct {
		Hooks struct {
			Image    imageRef `json:"image"`
			PullTest struct {
				Image imageRef `json:"image"`
			} `json:"pullTest"`
		} `json:"hooks"`
		Legacy *struct {
			Image imageRef `json:"image"`
		} `json:"legacy"`
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	hook := hookImage
	if hook == "" {
		hook = v.Hooks.Image.ref(version)
	}
	out := []Image{{Name: "mtc-hooks", Image: hook}, {Name: "pull-test", Image: v.Hooks.PullTest.Image.ref("latest")}}
	if v.Legacy != nil {
		out = append(out, Image{Name: "legacy-operator", Image: v.Legacy.Image.ref(version)})
	}
	return out, nil
}

type imageRef struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
}

func (i imageRef) ref(defaultTag string) string {
	r := i.Registry + "/" + i.Repository
	switch {
	case i.Digest != "":
		return r + "@" + i.Digest
	case i.Tag != "":
		return r + ":" + i.Tag
	}
	return r + ":" + defaultTag
}

// Push pushes each archive (and its provenance, which helm push takes from beside the archive) to ref,
// an oci:// reference of the repository's parent, with basic auth.
func Push(ctx context.Context, helm string, archives []Archive, ref, username, password string, plainHTTP bool) ([]string, error) {
	var digests []string
	for _, a := range archives {
		args := []string{"push", a.Path, ref, "--username", username, "--password", password}
		if plainHTTP {
			args = append(args, "--plain-http")
		}
		out, err := run(ctx, helm, args...)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(out, "\n") {
			if d, ok := strings.CutPrefix(strings.TrimSpace(l), "Digest: "); ok {
				digests = append(digests, d)
			}
		}
	}
	return digests, nil
}

func (p Package) helm(ctx context.Context, args ...string) (string, error) {
	return run(ctx, p.Helm, args...)
}

func run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		shown := slicesRedact(args)
		return buf.String(), fmt.Errorf("%s %s failed: %w\n%s", filepath.Base(bin), strings.Join(shown, " "), err, buf.String())
	}
	return buf.String(), nil
}

// slicesRedact hides the value of --password in an error message.
func slicesRedact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == "--password" && i+1 < len(out) {
			out[i+1] = "***"
		}
	}
	return out
}

// copyChart copies a chart's source, without its vendored dependencies and lock file.
func copyChart(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == "charts" || rel == "Chart.lock" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
