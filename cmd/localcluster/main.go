// Command localcluster starts a local control plane of one flavour, with the loopback registry
// and the simulated node, in the foreground, and prints the KUBECONFIG to use. ^C stops it.
//
//	go run ./cmd/localcluster --flavour ocp4:4.17:OVNKubernetes
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

// tryLines are the README's commands, made to work against this cluster: the values files name
// a placeholder remote cluster, which the local cluster cannot reach, so it is dropped.
func tryLines(f localcluster.Flavour, lab string) []string {
	switch f.Kind {
	case localcluster.OCP4:
		return []string{
			"helm install mtc charts/mtc-1.8 -n openshift-migration --create-namespace -f values/control.yaml -f " + lab,
			"helm upgrade mtc charts/mtc-1.8 -n openshift-migration -f values/control.yaml -f values/dvm-proxy.yaml -f " + lab,
			"helm uninstall mtc -n openshift-migration",
		}
	case localcluster.OCP3:
		return []string{
			"export KUBE_FEATURE_WatchListClient=false",
			"kubectl create namespace legacy-shop   # the namespace values/ocp3-remote.yaml migrates from",
			"helm install mtc charts/mtc-1.7 -n openshift-migration --create-namespace -f values/ocp3-remote.yaml",
			"helm upgrade mtc charts/mtc-1.7 -n openshift-migration -f values/ocp3-remote.yaml -f values/dvm-proxy.yaml",
			"helm uninstall mtc -n openshift-migration",
		}
	}
	return []string{"helm install mtc charts/mtc-1.8 -n openshift-migration --create-namespace   # refused: not OpenShift"}
}

func run() error {
	flavour := flag.String("flavour", "ocp4:4.17:OVNKubernetes", "kubernetes, ocp3, or ocp4[:version[:network]]")
	flag.Parse()
	f, err := localcluster.ParseFlavour(*flavour)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	// An OpenShift cluster pulls with its cluster-wide pull secret; plain Kubernetes has none. The
	// components that cannot run here (MTC operator, mig-controller) run as their doubles' pods.
	openshift := f.Kind != localcluster.Kubernetes
	e, err := testenv.Start(startCtx, testenv.Options{Flavour: f, Log: os.Stderr, NodePullSecret: openshift, Doubles: openshift, Storage: openshift})
	if err != nil {
		return err
	}
	defer e.Stop()
	// values/control.yaml names an example remote and an example bucket: the lab's override drops the
	// remote and points the replication repository at the cluster's own S3 bucket.
	var lab string
	if e.Cluster.Storage != nil {
		v := lifecycle.StorageOverride(e, "s3")
		v["remoteClusters"] = nil
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		lab = filepath.Join(e.Cluster.Dir, "lab-values.yaml")
		if err := os.WriteFile(lab, b, 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("%s is up after %s.\n", f, time.Since(start).Round(100*time.Millisecond))
	fmt.Printf("  node %q runs the pods; the MTC operator and mig-controller run as their doubles' pods\n", "sim-node")
	if f.Kind == localcluster.OCP4 {
		fmt.Printf("  OLM runs for real; CatalogSource openshift-marketplace/redhat-operators is served on %s\n", e.Cluster.CatalogAddress())
	}
	fmt.Printf("  registry %s (user %s, password %s) mirrors registry.redhat.io\n", e.Registry.Host, e.Registry.Username, e.Registry.Password)
	if s := e.Cluster.Storage; s != nil {
		fmt.Printf("  object storage: S3 %s (bucket %s, region %s), GCS %s, Azure Blob %s, CA %s\n", s.S3.URL, s.S3.Bucket, s.S3.Region, s.GCS.URL, s.Azure.BlobURL, s.CAFile)
		fmt.Printf("  %s points the chart at the S3 bucket (keys and CA inside)\n", lab)
	}
	fmt.Printf("  each component logs to its own file in %s (pods: %s)\n\n", e.Cluster.Dir, filepath.Join(e.Cluster.Dir, "node"))
	fmt.Printf("In another shell, from the repository root:\n\n  export KUBECONFIG=%s\n", e.Kubeconfig)
	fmt.Printf("  export PATH=\"$PWD/bin:$PATH\"   # helm (Helm 3), helm4 and kubectl, built by make tools\n")
	for _, l := range tryLines(f, lab) {
		fmt.Println("  " + l)
	}
	fmt.Printf("\nPress ^C to stop it.\n")
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}
