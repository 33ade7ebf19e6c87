// Package testenv brings up what the tests and the demo run against: a local control plane of
// one flavour, a loopback OCI registry with the images our charts pull, and a simulated node
// that runs pods (the hook image, built from the freshly built mtc-hooks binary and pushed to the registry,
// runs from its own layer).
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/internal/doubles/mtcoperator"
	"github.com/mtc-helm/mtc-helm/internal/hookimage"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/nodesim"
	"github.com/mtc-helm/mtc-helm/internal/registry"

	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// HookImage is the repository path suffix of our hook image; the node runs it as mtc-hooks.
const HookImage = "mtc-helm/mtc-hooks"

// Images pushed into the local registry at start: what the charts and the tests pull through
// the registry.redhat.io mirror.
var Images = []string{
	"ubi9:latest",
	"ubi9/ubi-minimal:latest",
	"rhmtc/openshift-migration-legacy-rhel8-operator:v1.7",
	"rhmtc/openshift-migration-rhel8-operator:v1.8",
	// What the doubles (internal/doubles) deploy: the OLM operator of each line, its operands, the
	// legacy Velero and the OADP operator.
	"rhmtc/openshift-migration-rhel8-operator:v1.7",
	"rhmtc/openshift-migration-controller-rhel8:v1.8",
	"rhmtc/openshift-migration-controller-rhel8:v1.7",
	"rhmtc/openshift-migration-ui-rhel8:v1.8",
	"rhmtc/openshift-migration-ui-rhel8:v1.7",
	"rhmtc/openshift-migration-log-reader-rhel8:v1.8",
	"rhmtc/openshift-migration-log-reader-rhel8:v1.7",
	"rhmtc/openshift-migration-velero-rhel8:v1.7",
	"oadp/oadp-rhel8-operator:v1.0",
	"oadp/oadp-rhel8-operator:v1.1",
	"oadp/oadp-rhel8-operator:v1.2",
	"oadp/oadp-rhel9-operator:v1.3",
	"oadp/oadp-rhel9-operator:v1.4",
	"oadp/oadp-rhel9-operator:v1.5",
}

// Options configure Start.
type Options struct {
	Flavour localcluster.Flavour
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// HookBinary plays the hook image; default: mtc-hooks built fresh from ./cmd/mtc-hooks.
	HookBinary string
	// NodePullSecret gives the node credentials for registry.redhat.io, as the cluster-wide pull
	// secret does on OpenShift; without it only the pods' own pull secrets count.
	NodePullSecret bool
	// Doubles makes the node play the components that cannot run here (the MTC operator and
	// mig-controller) with their doubles (internal/doubles/cmd/mtc-double), as the pods of their
	// images, each with its pod's ServiceAccount. It implies NodePullSecret: the Deployments OLM
	// creates carry no pull secrets, as on OpenShift.
	Doubles bool
	// Storage starts the lab's object storage with the cluster (localcluster.Storage).
	Storage bool
}

// Components are the images whose component a double plays (the role given to mtc-double).
var Components = map[string]string{
	"rhmtc/openshift-migration-rhel8-operator":        mtcoperator.RoleOperator,
	"rhmtc/openshift-migration-legacy-rhel8-operator": mtcoperator.RoleOperator,
	"rhmtc/openshift-migration-controller-rhel8":      mtcoperator.RoleController,
}

// Env is a running environment.
type Env struct {
	Cluster    *localcluster.Cluster
	Registry   *registry.Registry
	Node       *nodesim.Node
	Kubeconfig string
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	HookBinary string
	// Root is the repository root; Bin its bin/ directory (kubectl, helm, helm4).
	Root, Bin string

	nodeLog *os.File
}

// Start brings the environment up; Stop takes it down.
func Start(ctx context.Context, opts Options) (*Env, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	e := &Env{Root: root, Bin: filepath.Join(root, "bin")}
	if opts.HookBinary == "" {
		opts.HookBinary, err = HookBinary()
		if err != nil {
			return nil, err
		}
	}
	e.HookBinary = opts.HookBinary
	if opts.Doubles {
		opts.NodePullSecret = true
	}
	e.Registry, err = registry.Start(ctx, registry.Options{Images: Images})
	if err != nil {
		return nil, err
	}
	if err := pushHookImage(ctx, e.Registry, root, opts.HookBinary); err != nil {
		e.Stop()
		return nil, err
	}
	e.Cluster, err = localcluster.Start(ctx, localcluster.Options{Flavour: opts.Flavour, BinDir: e.Bin, Log: opts.Log, OnStart: Track, Storage: opts.Storage})
	if err != nil {
		e.Stop()
		return nil, err
	}
	e.Kubeconfig = e.Cluster.Kubeconfig
	e.Client = kubernetes.NewForConfigOrDie(e.Cluster.Config)
	e.Dynamic = dynamic.NewForConfigOrDie(e.Cluster.Config)
	var components map[string][]string
	if opts.Doubles {
		double, err := DoubleBinary()
		if err != nil {
			e.Stop()
			return nil, err
		}
		components = map[string][]string{}
		for image, role := range Components {
			components[image] = []string{double, role}
			if st := e.Cluster.Storage; st != nil && role == mtcoperator.RoleController {
				// The lab's stand-ins for Google's and Azure's endpoints, which the controller's
				// bucket test of gcp and azure MigStorages calls.
				components[image] = append(components[image], "--gcs-endpoint", st.GCS.URL, "--azure-blob-endpoint", st.Azure.BlobURL,
					"--azure-authority-host", st.Azure.AuthorityHost, "--azure-resource-manager", st.Azure.ResourceManager, "--cloud-ca-file", st.CAFile)
			}
		}
	}
	// The node's own log (failed status writes, pulls) goes to node.log in the cluster directory, kept
	// with the other components' logs under MTC_KEEP_CLUSTER_DIRS, and to opts.Log.
	nodeLog, err := os.Create(filepath.Join(e.Cluster.Dir, "node.log"))
	if err != nil {
		e.Stop()
		return nil, err
	}
	e.nodeLog = nodeLog
	e.Node, err = nodesim.Start(ctx, nodesim.Options{
		Config:     e.Cluster.Config,
		Server:     e.Cluster.URL,
		CAData:     e.Cluster.Config.CAData,
		RunImages:  []string{HookImage},
		Components: components,
		Registry:   e.Registry,
		NodeDockerConfig: func() []byte {
			if opts.NodePullSecret {
				return registry.DockerConfigJSON("registry.redhat.io", e.Registry.Username, e.Registry.Password)
			}
			return nil
		}(),
		Dir:          filepath.Join(e.Cluster.Dir, "node"),
		LegacyTokens: opts.Flavour.Kind == localcluster.OCP3,
		Log:          slog.New(slog.NewTextHandler(io.MultiWriter(opts.Log, nodeLog), &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnStart:      func(pid int) { Track("container", pid) },
	})
	if err != nil {
		e.Stop()
		return nil, err
	}
	if err := e.Node.WaitReady(ctx); err != nil {
		e.Stop()
		return nil, fmt.Errorf("the simulated node did not become Ready: %w", err)
	}
	return e, nil
}

// Stop ends everything Start started.
func (e *Env) Stop() {
	if e.Node != nil {
		e.Node.Stop()
	}
	if e.nodeLog != nil {
		_ = e.nodeLog.Close()
	}
	if e.Cluster != nil {
		_ = e.Cluster.Stop()
	}
	if e.Registry != nil {
		e.Registry.Stop()
	}
}

// HookBinary builds ./cmd/mtc-hooks once per process into a temporary directory (or returns
// MTC_HOOKS_BIN when set) so that the node runs the code under test.
func HookBinary() (string, error) {
	if p := os.Getenv("MTC_HOOKS_BIN"); p != "" {
		return p, nil
	}
	return hooksBuild.build()
}

// DoubleBinary builds ./internal/doubles/cmd/mtc-double once per process (or returns
// MTC_DOUBLE_BIN when set): the node runs it as the pods of the components it plays.
func DoubleBinary() (string, error) {
	if p := os.Getenv("MTC_DOUBLE_BIN"); p != "" {
		return p, nil
	}
	return doubleBuild.build()
}

var (
	hooksBuild  = &goBuild{pkg: "./cmd/mtc-hooks", name: "mtc-hooks"}
	doubleBuild = &goBuild{pkg: "./internal/doubles/cmd/mtc-double", name: "mtc-double"}
)

// goBuild builds one command of this module, once per process, into a temporary directory
// that Main removes.
type goBuild struct {
	pkg, name string
	once      sync.Once
	path      string
	err       error
}

func (b *goBuild) build() (string, error) {
	b.once.Do(func() {
		root, err := repo.Root()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", b.name+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, b.name)
		cmd := exec.Command("go", "build", "-o", b.path, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("failed to build %s: %v\n%s", b.name, err, out)
		}
	})
	return b.path, b.err
}

var (
	trackMu sync.Mutex
	tracked = map[int]string{}
)

// Track records a process that a test started, for the leak check of Main.
func Track(name string, pid int) {
	trackMu.Lock()
	defer trackMu.Unlock()
	tracked[pid] = name
}

// Leaked lists the processes started through this package that still run (zombies excluded).
func Leaked() []string {
	trackMu.Lock()
	defer trackMu.Unlock()
	var out []string
	for pid, name := range tracked {
		if alive(pid) {
			out = append(out, fmt.Sprintf("%s (pid %d)", name, pid))
		}
	}
	return out
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// field 3 is the state; Z is a zombie that only waits to be reaped
	for i := 0; i < len(b); i++ {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}

var atExit struct {
	mu    sync.Mutex
	dirs  []string
	funcs []func()
}

// AtExit registers a function for Cleanup to run first, such as stopping a cluster that the tests
// of a package share.
func AtExit(f func()) {
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	atExit.funcs = append(atExit.funcs, f)
}

// RemoveAtExit registers a temporary directory of the process for Cleanup.
func RemoveAtExit(dir string) {
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	atExit.dirs = append(atExit.dirs, dir)
}

// Cleanup removes the process's temporary builds and the directories given to RemoveAtExit. Main
// calls it; a command that starts environments (the demo) calls it before it exits.
func Cleanup() {
	atExit.mu.Lock()
	funcs := atExit.funcs
	atExit.funcs = nil
	atExit.mu.Unlock()
	for _, f := range funcs {
		f()
	}
	for _, b := range []*goBuild{hooksBuild, doubleBuild} {
		if b.path != "" {
			os.RemoveAll(filepath.Dir(b.path))
		}
	}
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	for _, d := range atExit.dirs {
		os.RemoveAll(d)
	}
	atExit.dirs = nil
}

// hookIndex is the hook image index built from the binary under test, once per process.
var hookIndex struct {
	once sync.Once
	idx  v1.ImageIndex
	err  error
}

// labHookIndex builds the hook image index of this machine's architecture from binary, once per process.
func labHookIndex(binary string) (v1.ImageIndex, error) {
	hookIndex.once.Do(func() {
		hookIndex.idx, hookIndex.err = hookimage.Build(hookimage.Options{
			Binaries: map[string]string{runtime.GOARCH: binary}, Version: "lab", Revision: "lab",
			Created: time.Unix(0, 0).UTC()})
	})
	if hookIndex.err != nil {
		return nil, fmt.Errorf("the lab's hook image: %w", hookIndex.err)
	}
	return hookIndex.idx, nil
}

// pushHookImage pushes the hook image, built as make image builds it but for this machine's
// architecture only and from the binary under test, under every chart version's tag and latest, where the
// charts' hook Jobs pull it from (quay.io/mtc-helm/mtc-hooks, mirrored to this registry).
func pushHookImage(ctx context.Context, reg *registry.Registry, root, binary string) error {
	idx, err := labHookIndex(binary)
	if err != nil {
		return err
	}
	tags, err := hookimage.ChartVersions(root)
	if err != nil {
		return err
	}
	for _, t := range append(tags, "latest") {
		if err := reg.PushIndex(ctx, HookImage+":"+t, idx); err != nil {
			return err
		}
	}
	return nil
}

// PushHookVariant pushes, under HookImage:tag in reg, the lab's hook image for one architecture with its
// config changed by edit (a wrong entrypoint, a root user, another architecture), as a broken release
// would publish it. It returns the reference the charts would render for that tag.
func PushHookVariant(ctx context.Context, reg *registry.Registry, tag, arch string, edit func(*v1.Config)) (string, error) {
	bin, err := HookBinary()
	if err != nil {
		return "", err
	}
	base, err := labHookIndex(bin)
	if err != nil {
		return "", err
	}
	im, err := base.IndexManifest()
	if err != nil {
		return "", err
	}
	img, err := base.Image(im.Manifests[0].Digest)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	edit(&cf.Config)
	changed, err := mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: changed, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	if err := reg.PushIndex(ctx, HookImage+":"+tag, idx); err != nil {
		return "", err
	}
	return "quay.io/" + HookImage + ":" + tag, nil
}
