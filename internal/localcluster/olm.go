package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/mtc-helm/mtc-helm/internal/catalog"
)

// The OLM of the ocp4 flavour is the real one: the olm and catalog operators of
// operator-lifecycle-manager and opm of operator-registry, built by `make tools` into bin/.
// Each cluster serves its OpenShift minor's catalog (internal/catalog) with `opm serve` on a free
// loopback port; the CatalogSource redhat-operators points at that address with sourceType grpc,
// so the catalog operator needs no registry pod, and the bundles are inline, so it needs no
// unpack Job either.

// OLMNamespace is where OpenShift runs the OLM operators.
const OLMNamespace = "openshift-operator-lifecycle-manager"

// CatalogAddress is the gRPC address of the cluster's redhat-operators catalog (ocp4 only).
func (c *Cluster) CatalogAddress() string { return c.catalogAddr }

// startOLM serves the catalog and starts the catalog and olm operators.
func (c *Cluster) startOLM(ctx context.Context, dyn dynamic.Interface) error {
	cat, err := catalog.For(minorOf(c.Flavour.FullVersion()))
	if err != nil {
		return err
	}
	dir := filepath.Join(c.Dir, "catalog")
	if err := cat.WriteFBC(dir, c.opts.CRDDir); err != nil {
		return fmt.Errorf("failed to write the file-based catalog: %w", err)
	}
	opm, err := c.bin("opm")
	if err != nil {
		return err
	}
	// No --cache-dir: opm builds its cache in a temporary directory at start (well under a second
	// for these catalogs); --pprof-addr "" keeps it off the fixed profiling port :6060, which a
	// second cluster would find taken.
	err = onFreePorts(1, func(ports []int) error {
		c.catalogAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
		fmt.Fprintf(c.opts.Log, "serving the redhat-operators catalog of OpenShift %s on %s\n", minorOf(c.Flavour.FullVersion()), c.catalogAddr)
		if err := c.runEnv("opm", opm, olmEnv(""), "serve", dir, "-p", strconv.Itoa(ports[0]), "--pprof-addr", ""); err != nil {
			return err
		}
		return c.waitTCP(ctx, "opm", c.catalogAddr, 60*time.Second)
	})
	if err != nil {
		return err
	}
	cs := obj("operators.coreos.com/v1alpha1", "CatalogSource", catalog.CatalogNamespace, catalog.CatalogSourceName, map[string]any{
		"spec": map[string]any{
			"sourceType":  "grpc",
			"address":     c.catalogAddr,
			"displayName": "Red Hat Operators",
			"publisher":   "Red Hat",
		},
	})
	if _, err := dyn.Resource(gvr("operators.coreos.com", "v1alpha1", "catalogsources")).Namespace(catalog.CatalogNamespace).Create(ctx, cs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("failed to create CatalogSource %s: %w", catalog.CatalogSourceName, err)
	}
	catalogBin, err := c.bin("catalog")
	if err != nil {
		return err
	}
	olmBin, err := c.bin("olm")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "starting the OLM catalog and olm operators\n")
	// Both bind :8080 for health and metrics with no flag to move it; when several clusters run,
	// all but the first log "address already in use" and run on, which OLM tolerates.
	if err := c.runEnv("olm-catalog", catalogBin, olmEnv(c.Kubeconfig),
		"--kubeconfig", c.Kubeconfig, "--namespace", catalog.CatalogNamespace, "--writeStatusName", ""); err != nil {
		return err
	}
	if err := c.runEnv("olm-operator", olmBin, olmEnv(c.Kubeconfig),
		"--namespace", OLMNamespace, "--writeStatusName", ""); err != nil {
		return err
	}
	if err := c.waitCatalogReady(ctx, dyn); err != nil {
		return err
	}
	return c.waitOperatorGroups(ctx, dyn)
}

// waitOperatorGroups waits until the olm operator has made the admin, edit and view ClusterRoles of
// every OperatorGroup the flavour created. It makes them some seconds after start, on its second
// sync of the group; a snapshot taken before that would count them as made by the test.
func (c *Cluster) waitOperatorGroups(ctx context.Context, dyn dynamic.Interface) error {
	p := c.procByName("olm-operator")
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("the OLM olm operator exited at start (%s): read %s", p.cmd.ProcessState, p.log)
		default:
		}
		groups, err := dyn.Resource(gvr("operators.coreos.com", "v1", "operatorgroups")).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		missing = missing[:0]
		for _, g := range groups.Items {
			sel := "olm.owner.kind=OperatorGroup,olm.owner=" + g.GetName() + ",olm.owner.namespace=" + g.GetNamespace()
			roles, err := dyn.Resource(gvr("rbac.authorization.k8s.io", "v1", "clusterroles")).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return false, nil
			}
			if len(roles.Items) < 3 {
				missing = append(missing, g.GetNamespace()+"/"+g.GetName())
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("OLM did not make the ClusterRoles of OperatorGroups %v: %w (read %s)", missing, err, p.log)
	}
	return nil
}

// olmEnv is the environment of OLM's processes: ours without CI (OLM wraps its client in a
// validating round tripper when CI is set, which CI does) and with KUBECONFIG when given.
func olmEnv(kubeconfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CI=") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	return env
}

// waitTCP waits until addr accepts connections, or the process dies.
func (c *Cluster) waitTCP(ctx context.Context, name, addr string, timeout time.Duration) error {
	p := c.procByName(name)
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, exitedAtStart(name, p)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not listen on %s: %w (read %s)", name, addr, err, p.log)
	}
	return nil
}

// waitCatalogReady waits until the catalog operator reports the CatalogSource's connection READY,
// the sign that OLM runs and can resolve from it.
func (c *Cluster) waitCatalogReady(ctx context.Context, dyn dynamic.Interface) error {
	p := c.procByName("olm-catalog")
	var state string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("the OLM catalog operator exited at start (%s): read %s", p.cmd.ProcessState, p.log)
		default:
		}
		u, err := dyn.Resource(gvr("operators.coreos.com", "v1alpha1", "catalogsources")).Namespace(catalog.CatalogNamespace).Get(ctx, catalog.CatalogSourceName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		state, _, _ = unstructured.NestedString(u.Object, "status", "connectionState", "lastObservedState")
		return state == "READY", nil
	})
	if err != nil {
		return fmt.Errorf("CatalogSource %s/%s did not become READY (last state %q): %w (read %s)",
			catalog.CatalogNamespace, catalog.CatalogSourceName, state, err, p.log)
	}
	return nil
}
