// Command localcluster starts a local control plane of one flavour, with the loopback registry
// and the simulated node, in the foreground, and prints the KUBECONFIG to use. ^C stops it.
//
//	go run ./cmd/localcluster --flavour ocp4:4.17:OVNKubernetes
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
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
	// An OpenShift cluster pulls with its cluster-wide pull secret; plain Kubernetes has none.
	e, err := testenv.Start(startCtx, testenv.Options{Flavour: f, Log: os.Stderr, NodePullSecret: f.Kind != localcluster.Kubernetes})
	if err != nil {
		return err
	}
	defer e.Stop()
	fmt.Printf("%s is up after %s (node %q runs pods; registry %s, user %s, password %s mirrors registry.redhat.io).\n",
		f, time.Since(start).Round(100*time.Millisecond), "sim-node", e.Registry.Host, e.Registry.Username, e.Registry.Password)
	fmt.Printf("Logs: %s\n\nexport KUBECONFIG=%s\n\nPress ^C to stop it.\n", e.Cluster.Dir, e.Kubeconfig)
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}
