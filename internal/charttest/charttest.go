// Package charttest renders the mtc charts with the real Helm CLIs for tests: it finds the repository
// root and bin/helm (Helm 3) or bin/helm4 (Helm 4), vendors the library chart, describes the values/
// overrides and the local cluster flavours they are meant for, and runs helm template.
package charttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// Charts are the versioned charts under charts/, by directory name.
var Charts = []string{"mtc-1.8", "mtc-1.7"}

// Namespace is the only namespace the charts install into.
const Namespace = kube.Namespace

// Flavour is a kind of cluster a values file is meant for, as Helm sees it offline: the Kubernetes
// version and the API versions discovery would report beyond Helm's built-in set.
type Flavour struct {
	Name        string
	KubeVersion string
	APIVersions []string
}

var ocp4Common = []string{
	"config.openshift.io/v1", "config.openshift.io/v1/ClusterVersion", "config.openshift.io/v1/Proxy",
	"operators.coreos.com/v1", "operators.coreos.com/v1/OperatorGroup",
	"operators.coreos.com/v1alpha1", "operators.coreos.com/v1alpha1/Subscription", "operators.coreos.com/v1alpha1/CatalogSource",
	"route.openshift.io/v1", "security.openshift.io/v1", "project.openshift.io/v1", "apiextensions.k8s.io/v1",
}

// Flavours are the local cluster flavours of the architecture (ocp4 on OVN-Kubernetes or OpenShiftSDN,
// OpenShift 3.11), keyed by the names values files use in their "# flavour:" header.
var Flavours = map[string]Flavour{
	"ocp4-ovn": {Name: "ocp4-ovn", KubeVersion: "1.30.0", APIVersions: append([]string{"k8s.ovn.org/v1", "k8s.ovn.org/v1/EgressFirewall"}, ocp4Common...)},
	"ocp4-sdn": {Name: "ocp4-sdn", KubeVersion: "1.29.0", APIVersions: append([]string{"network.openshift.io/v1", "network.openshift.io/v1/EgressNetworkPolicy"}, ocp4Common...)},
	"ocp3": {Name: "ocp3", KubeVersion: "1.11.0", APIVersions: []string{
		"route.openshift.io/v1", "project.openshift.io/v1", "security.openshift.io/v1", "apps.openshift.io/v1",
		"authorization.openshift.io/v1", "image.openshift.io/v1", "network.openshift.io/v1",
		"network.openshift.io/v1/EgressNetworkPolicy", "apiextensions.k8s.io/v1beta1",
	}},
}

// Args are the helm template flags that make Helm see this flavour.
func (f Flavour) Args() []string {
	args := []string{"--kube-version", f.KubeVersion}
	for _, v := range f.APIVersions {
		args = append(args, "--api-versions", v)
	}
	return args
}

// Root is repo.Root.
func Root() (string, error) { return repo.Root() }

// Helm returns the path of a Helm CLI in bin/ ("helm" is Helm 3, "helm4" is Helm 4), or an error that
// says how to build it.
func Helm(root, name string) (string, error) { return repo.Tool(filepath.Join(root, "bin"), name) }

// newestMod is the latest modification time of the files under dir (zero when there are none).
func newestMod(dir string) (time.Time, error) {
	var newest time.Time
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	return newest, err
}

var (
	depsOnce sync.Once
	depsErr  error
)

// BuildDependencies vendors the library chart into each chart (helm dependency build) when the vendored
// copy is missing or older than a file of charts/mtc-lib, once per process, so that renders use the
// library as it is in the working tree. An up-to-date copy is left alone: other test packages may be
// reading it at the same time.
func BuildDependencies(root, helm string) error {
	depsOnce.Do(func() {
		libChanged, err := newestMod(filepath.Join(root, "charts", "mtc-lib"))
		if err != nil {
			depsErr = err
			return
		}
		for _, chart := range Charts {
			dir := filepath.Join(root, "charts", chart)
			vendored, err := newestMod(filepath.Join(dir, "charts"))
			if err == nil && !vendored.IsZero() && vendored.After(libChanged) {
				continue
			}
			_ = os.Remove(filepath.Join(dir, "Chart.lock"))
			cmd := exec.Command(helm, "dependency", "build", dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				depsErr = fmt.Errorf("helm dependency build %s: %v\n%s", dir, err, out)
				return
			}
		}
	})
	return depsErr
}

// ValuesFile is one override under values/ with its header: the charts it is meant for and the
// cluster flavour it targets.
type ValuesFile struct {
	Name    string // file name without .yaml
	Path    string
	Charts  []string
	Flavour Flavour
}

// ValuesFiles reads the headers of every values/*.yaml: "# charts: mtc-1.8 mtc-1.7" and "# flavour: ocp4-ovn".
func ValuesFiles(root string) ([]ValuesFile, error) {
	paths, err := filepath.Glob(filepath.Join(root, "values", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var files []ValuesFile
	for _, p := range paths {
		header, err := Header(p)
		if err != nil {
			return nil, err
		}
		vf := ValuesFile{Name: strings.TrimSuffix(filepath.Base(p), ".yaml"), Path: p, Charts: strings.Fields(header["charts"])}
		flavour, ok := Flavours[header["flavour"]]
		if !ok || len(vf.Charts) == 0 {
			return nil, fmt.Errorf("%s: the header must name its charts (# charts: mtc-1.8 mtc-1.7) and a flavour (# flavour: ocp4-ovn, ocp4-sdn or ocp3)", p)
		}
		vf.Flavour = flavour
		files = append(files, vf)
	}
	return files, nil
}

// Header returns the "# key: value" lines at the top of a YAML file.
func Header(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "#") {
			break
		}
		key, value, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
		if ok && !strings.Contains(key, " ") {
			header[key] = strings.TrimSpace(value)
		}
	}
	return header, sc.Err()
}

// Template runs `helm template mtc charts/<chart> -n openshift-migration` with extra arguments and returns
// stdout, and stderr in the error on failure.
func Template(root, helm, chart string, args ...string) ([]byte, error) {
	full := append([]string{"template", "mtc", filepath.Join(root, "charts", chart), "--namespace", Namespace}, args...)
	cmd := exec.Command(helm, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &HelmError{Args: full, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// HelmError is a failed helm command with its stderr.
type HelmError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *HelmError) Error() string {
	return fmt.Sprintf("helm %s: %v\n%s", strings.Join(e.Args, " "), e.Err, e.Stderr)
}
