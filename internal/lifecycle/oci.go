package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mtc-helm/mtc-helm/internal/chartpkg"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// chartPrefix marks a chart argument that Run turns into the OCI reference of that chart in the
// cluster's registry, with its version and the flags to verify its signature.
const chartPrefix = "chart:"

// Chart names a versioned chart (mtc-1.8, mtc-1.7) as users install it: Run turns it into
// oci://<registry>/charts/mtc --version <its version> --verify, the archive packaged and signed
// from this tree and pushed to the cluster's registry on first use.
func (l *Lab) Chart(name string) string { return chartPrefix + name }

// ChartDir is a chart's source directory, for the stories that install from the tree.
func (l *Lab) ChartDir(name string) string { return filepath.Join(l.Root, "charts", name) }

// signedCharts are the archives packaged and signed once per process, and the keyring that verifies
// them.
var signedCharts struct {
	once     sync.Once
	dir      string
	keys     chartpkg.Keyring
	archives map[string]chartpkg.Archive // by chart directory
	err      error
}

func (l *Lab) packageCharts(ctx context.Context) error {
	signedCharts.once.Do(func() {
		dir, err := os.MkdirTemp("", "mtc-charts-")
		if err != nil {
			signedCharts.err = err
			return
		}
		testenv.RemoveAtExit(dir)
		signedCharts.dir = dir
		keys, err := chartpkg.GenerateKeyring(dir, "mtc-helm lab", "lab@mtc-helm.invalid")
		if err != nil {
			signedCharts.err = err
			return
		}
		archives, err := chartpkg.Package{Root: l.Root, Helm: filepath.Join(l.Root, "bin", "helm"), Out: filepath.Join(dir, "dist"),
			Sign: &chartpkg.Signer{Keyring: keys.Secret, Key: keys.Name}}.Run(ctx)
		if err != nil {
			signedCharts.err = err
			return
		}
		signedCharts.keys = keys
		signedCharts.archives = map[string]chartpkg.Archive{}
		for i, a := range archives {
			signedCharts.archives[chartpkg.Charts[i]] = a
		}
	})
	return signedCharts.err
}

// chartArgs replaces a chart:<name> argument of helm install, upgrade or template with the chart's
// OCI reference, version and verification flags, pushing the signed archives to the cluster's
// registry and logging Helm in to it on first use.
func (l *Lab) chartArgs(ctx context.Context, e *testenv.Env, args []string) ([]string, error) {
	i := -1
	for j, a := range args {
		if strings.HasPrefix(a, chartPrefix) {
			i = j
		}
	}
	if i < 0 {
		return args, nil
	}
	name := strings.TrimPrefix(args[i], chartPrefix)
	if err := l.packageCharts(ctx); err != nil {
		return nil, fmt.Errorf("packaging the charts: %w", err)
	}
	a, ok := signedCharts.archives[name]
	if !ok {
		return nil, fmt.Errorf("no chart %q (the charts are %v)", name, chartpkg.Charts)
	}
	if err := l.publish(ctx, e); err != nil {
		return nil, err
	}
	out := append([]string(nil), args[:i]...)
	out = append(out, "oci://"+e.Registry.Host+"/charts/"+a.Chart)
	out = append(out, args[i+1:]...)
	out = append(out, "--version", a.Version, "--plain-http")
	if args[0] == "install" || args[0] == "upgrade" {
		out = append(out, "--verify", "--keyring", signedCharts.keys.Public)
	}
	return out, nil
}

// publish pushes the signed charts to the cluster's registry and logs the Helm CLI in to it, once per
// cluster (each cluster has a registry of its own).
func (l *Lab) publish(ctx context.Context, e *testenv.Env) error {
	marker := filepath.Join(e.Cluster.Dir, "charts-published")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	var all []chartpkg.Archive
	for _, c := range chartpkg.Charts {
		all = append(all, signedCharts.archives[c])
	}
	if _, err := chartpkg.Push(ctx, filepath.Join(l.Root, "bin", "helm"), all, "oci://"+e.Registry.Host+"/charts",
		e.Registry.Username, e.Registry.Password, true); err != nil {
		return err
	}
	if _, err := l.helmQuiet(ctx, e, "registry", "login", e.Registry.Host, "--username", e.Registry.Username,
		"--password", e.Registry.Password, "--plain-http"); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}
