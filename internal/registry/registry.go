// Package registry runs a real OCI distribution registry on loopback (go-containerregistry's
// pkg/registry) behind basic auth, pushes images into it at start, and pulls from it as a
// node's container runtime would: through a mirror map and with docker config credentials.
package registry

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options configure a registry.
type Options struct {
	// Username and Password guard every request (default: mtc / mtc-secret).
	Username, Password string
	// Images are pushed at start, by repository path and tag as "ubi9/ubi-minimal:latest".
	Images []string
	// Public are repository path prefixes anyone may pull from without credentials, as a public
	// repository on quay.io (default: "mtc-helm/", where the hook image lives). Pushes always need them.
	Public []string
	// Mirrors maps a source registry host (such as registry.redhat.io) to this registry, as an
	// ImageContentSourcePolicy / ImageDigestMirrorSet does on a disconnected cluster. The zero
	// value mirrors registry.redhat.io, quay.io and registry.access.redhat.com.
	Mirrors []string
}

// Registry is a running registry.
type Registry struct {
	// Host is host:port of the registry.
	Host               string
	Username, Password string
	mirrors            map[string]bool
	public             []string
	srv                *http.Server
}

// Start serves a registry on a free loopback port and pushes the images.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Username == "" {
		opts.Username, opts.Password = "mtc", "mtc-secret"
	}
	if opts.Public == nil {
		opts.Public = []string{"mtc-helm/"}
	}
	if opts.Mirrors == nil {
		opts.Mirrors = []string{"registry.redhat.io", "quay.io", "registry.access.redhat.com"}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("failed to open a port for the registry: %w", err)
	}
	r := &Registry{Host: l.Addr().String(), Username: opts.Username, Password: opts.Password, mirrors: map[string]bool{}, public: opts.Public}
	for _, m := range opts.Mirrors {
		r.mirrors[m] = true
	}
	h := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	r.srv = &http.Server{Handler: r.auth(h), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	for _, img := range opts.Images {
		if err := r.Push(ctx, img); err != nil {
			r.Stop()
			return nil, err
		}
	}
	return r, nil
}

// Stop closes the registry.
func (r *Registry) Stop() { _ = r.srv.Close() }

func (r *Registry) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if (req.Method == http.MethodGet || req.Method == http.MethodHead) && r.isPublic(req.URL.Path) {
			next.ServeHTTP(w, req)
			return
		}
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.Username)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(r.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="mtc-helm local registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// isPublic says whether a /v2/ path reads a public repository.
func (r *Registry) isPublic(path string) bool {
	repo, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return false
	}
	for _, p := range r.public {
		if strings.HasPrefix(repo, p) {
			return true
		}
	}
	return false
}

// Push writes a small random image under repo:tag.
func (r *Registry) Push(ctx context.Context, repoTag string) error {
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		return fmt.Errorf("image %q is not a valid reference: %w", repoTag, err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password})); err != nil {
		return fmt.Errorf("failed to push %s: %w", ref, err)
	}
	return nil
}

// Delete removes the tag repo:tag, as a mirror that lost an image; Push brings a new one back.
func (r *Registry) Delete(ctx context.Context, repoTag string) error {
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		return fmt.Errorf("image %q is not a valid reference: %w", repoTag, err)
	}
	if err := remote.Delete(ref, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password})); err != nil {
		return fmt.Errorf("failed to delete %s: %w", ref, err)
	}
	return nil
}

// DockerConfigJSON returns a .dockerconfigjson document for host with the given credentials.
func DockerConfigJSON(host, user, password string) []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{
		"username": user, "password": password,
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}})
	return b
}

// Pull resolves image as a node's runtime does: a mirrored source registry is rewritten to
// this registry, and credentials are looked up, in order, for the original host and the mirror
// host in the docker configs. It returns the manifest digest or the registry's error.
func (r *Registry) Pull(ctx context.Context, image string, dockerConfigs [][]byte) (string, error) {
	desc, err := r.Get(ctx, image, dockerConfigs)
	if err != nil {
		return "", err
	}
	ref, _ := name.ParseReference(image)
	return ref.Context().Name() + "@" + desc.Digest.String(), nil
}

// Get resolves image as Pull does and returns the registry's descriptor, from which the image or the
// image index can be read with the same mirror and credentials.
func (r *Registry) Get(ctx context.Context, image string, dockerConfigs [][]byte) (*remote.Descriptor, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", image, err)
	}
	origHost := ref.Context().RegistryStr()
	target := image
	if r.mirrors[origHost] {
		target = r.Host + "/" + strings.TrimPrefix(ref.Name(), origHost+"/")
	} else if origHost != r.Host {
		return nil, fmt.Errorf("dial tcp: lookup %s: no such host (this cluster reaches only its mirror registry)", origHost)
	}
	mref, err := name.ParseReference(target, name.Insecure)
	if err != nil {
		return nil, err
	}
	auth := authn.Anonymous
	for _, host := range []string{origHost, r.Host} {
		if a := lookup(dockerConfigs, host); a != nil {
			auth = a
			break
		}
	}
	return remote.Get(mref, remote.WithContext(ctx), remote.WithAuth(auth))
}

// PushIndex writes an image index under repo:tag, as a release pushes a multi-platform image.
func (r *Registry) PushIndex(ctx context.Context, repoTag string, idx v1.ImageIndex) error {
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		return fmt.Errorf("image %q is not a valid reference: %w", repoTag, err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password})); err != nil {
		return fmt.Errorf("failed to push %s: %w", ref, err)
	}
	return nil
}

func lookup(configs [][]byte, host string) authn.Authenticator {
	for _, c := range configs {
		var cfg struct {
			Auths map[string]struct {
				Auth     string `json:"auth"`
				Username string `json:"username"`
				Password string `json:"password"`
			} `json:"auths"`
		}
		if json.Unmarshal(c, &cfg) != nil {
			continue
		}
		for k, v := range cfg.Auths {
			k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
			k = strings.TrimSuffix(strings.SplitN(k, "/", 2)[0], "/")
			if k != host {
				continue
			}
			user, pass := v.Username, v.Password
			if v.Auth != "" {
				if dec, err := base64.StdEncoding.DecodeString(v.Auth); err == nil {
					user, pass, _ = strings.Cut(string(dec), ":")
				}
			}
			return &authn.Basic{Username: user, Password: pass}
		}
	}
	return nil
}
