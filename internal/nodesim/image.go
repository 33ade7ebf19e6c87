package nodesim

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
)

// unpackedImage is an image the node pulled for its architecture and unpacked, as a container
// runtime keeps it: the root file system and the config.
type unpackedImage struct {
	id     string // repository@sha256:… of the platform's manifest, the container's imageID
	rootfs string
	config v1.Config
}

// imageError is a failure a kubelet reports as the container's waiting reason.
type imageError struct {
	reason string
	err    error
}

func (e *imageError) Error() string { return e.err.Error() }
func (e *imageError) Unwrap() error { return e.err }

// runsImage says whether image is one the node pulls, unpacks and runs for real.
func (n *Node) runsImage(image string) bool {
	_, ok := lookupImage(n.runImages, image)
	return ok
}

// arch is the node's architecture, the platform it picks from an image index.
func (n *Node) arch() string {
	if n.opts.Arch != "" {
		return n.opts.Arch
	}
	return runtime.GOARCH
}

// unpack pulls image with the pod's credentials, picks the manifest of the node's platform, and
// unpacks its layers once per manifest digest. A missing platform fails the pull, with CRI-O's message.
func (r *podRunner) unpack(ctx context.Context, image string) (*unpackedImage, error) {
	desc, err := r.fetch(ctx, image)
	if err != nil {
		return nil, &imageError{"ErrImagePull", err}
	}
	arch := r.n.arch()
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, &imageError{"ErrImagePull", err}
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, &imageError{"ErrImagePull", err}
		}
		for _, m := range im.Manifests {
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == arch {
				if img, err = idx.Image(m.Digest); err != nil {
					return nil, &imageError{"ErrImagePull", err}
				}
				break
			}
		}
		if img == nil {
			return nil, &imageError{"ErrImagePull", fmt.Errorf("choosing image instance: no image found in image index for architecture %q, variant \"\", OS \"linux\"", arch)}
		}
	} else if img, err = desc.Image(); err != nil {
		return nil, &imageError{"ErrImagePull", err}
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, &imageError{"ErrImagePull", err}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, &imageError{"ErrImagePull", err}
	}
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	u := &unpackedImage{id: repo + "@" + digest.String(), config: cf.Config,
		rootfs: filepath.Join(r.n.opts.Dir, "images", digest.Hex, "rootfs")}
	if cf.Architecture != "" && cf.Architecture != arch {
		// a single-platform image of another architecture pulls, and then cannot run
		return u, &imageError{"CreateContainerError", fmt.Errorf("container create failed: exec format error: the image is for %s/%s, the node is linux/%s", cf.OS, cf.Architecture, arch)}
	}
	r.n.unpackMu.Lock()
	defer r.n.unpackMu.Unlock()
	if _, err := os.Stat(u.rootfs); err == nil {
		return u, nil
	}
	tmp := u.rootfs + ".partial"
	_ = os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := untar(rc, tmp); err != nil {
		return nil, &imageError{"ErrImagePull", fmt.Errorf("unpacking %s: %w", u.id, err)}
	}
	if err := os.Rename(tmp, u.rootfs); err != nil {
		return nil, &imageError{"ErrImagePull", err}
	}
	return u, nil
}

// untar writes the flattened file system of an image under dir: directories, regular files and
// symbolic links (nothing of an image may point outside dir).
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// only links that stay inside the image, relative to their directory
			if filepath.IsAbs(h.Linkname) || !strings.HasPrefix(filepath.Join(filepath.Dir(name), h.Linkname), "/") ||
				strings.HasPrefix(filepath.Clean(filepath.Join(filepath.Dir(name), h.Linkname)), "/..") {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			_ = os.Symlink(h.Linkname, target)
		}
	}
}

// imageArgv is the process a container runtime starts for c from the image: the command (the
// container's, else the image's entrypoint) and the arguments (the container's, else the image's cmd
// when the container sets no command), the executable taken from the image's file system.
func (u *unpackedImage) argv(c corev1.Container) ([]string, error) {
	cmd, args := c.Command, c.Args
	if len(cmd) == 0 {
		cmd = u.config.Entrypoint
		if len(args) == 0 {
			args = u.config.Cmd
		}
	}
	argv := append(append([]string(nil), cmd...), args...)
	if len(argv) == 0 {
		return nil, &imageError{"CreateContainerError", errors.New("container create failed: no command specified")}
	}
	exe := argv[0]
	if !filepath.IsAbs(exe) {
		found := ""
		for _, d := range strings.Split(envValue(u.config.Env, "PATH"), ":") {
			if p := filepath.Join(d, exe); d != "" && isExecutable(filepath.Join(u.rootfs, p)) {
				found = p
				break
			}
		}
		if found == "" {
			return nil, &imageError{"CreateContainerError", fmt.Errorf("container create failed: exec: %q: executable file not found in $PATH", exe)}
		}
		exe = found
	}
	if !isExecutable(filepath.Join(u.rootfs, exe)) {
		return nil, &imageError{"CreateContainerError", fmt.Errorf("container create failed: exec: %q: stat %s: no such file or directory", exe, exe)}
	}
	argv[0] = filepath.Join(u.rootfs, exe)
	return argv, nil
}

// env is the image's environment with its file paths pointing into the unpacked file system, the
// way the process sees them inside the container.
func (u *unpackedImage) env() []string {
	var out []string
	for _, kv := range u.config.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" {
			var dirs []string
			for _, d := range strings.Split(v, ":") {
				dirs = append(dirs, filepath.Join(u.rootfs, d))
			}
			v = strings.Join(dirs, ":")
		} else if filepath.IsAbs(v) {
			if _, err := os.Stat(filepath.Join(u.rootfs, v)); err == nil {
				v = filepath.Join(u.rootfs, v)
			}
		}
		out = append(out, k+"="+v)
	}
	return out
}

// checkUser refuses, as the kubelet does, to run an image as root or as a user it cannot verify when
// the pod or container asks for runAsNonRoot and sets no numeric user of its own.
func (u *unpackedImage) checkUser(pod *corev1.Pod, c corev1.Container) error {
	nonRoot, uid := false, (*int64)(nil)
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		uid = sc.RunAsUser
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
	}
	if !nonRoot {
		return nil
	}
	if uid != nil {
		if *uid == 0 {
			return &imageError{"CreateContainerConfigError", errors.New("container's runAsUser breaks non-root policy")}
		}
		return nil
	}
	user, _, _ := strings.Cut(u.config.User, ":")
	if user == "" || user == "0" || user == "root" {
		return &imageError{"CreateContainerConfigError", fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", c.Name)}
	}
	if _, err := strconv.Atoi(user); err != nil {
		return &imageError{"CreateContainerConfigError", fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", c.Name)}
	}
	return nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
