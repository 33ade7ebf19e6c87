// Command mtc-double plays one component that cannot run on the local cluster, as the pod
// OpenShift would run: the node simulator starts it in place of the component's image, with the
// container's environment and a kubeconfig (KUBECONFIG) holding the pod ServiceAccount's token,
// so the API server judges every request by the RBAC that OLM or the chart granted that pod.
//
//	mtc-double mtc-operator     the MTC operator (OLM 1.7/1.8, or the legacy 1.7 operator)
//	mtc-double mig-controller   the parts of mig-controller that installs and uninstalls see
//	    [--gcs-endpoint URL] [--azure-blob-endpoint URL] [--azure-authority-host URL]
//	    [--azure-resource-manager URL] [--cloud-ca-file FILE]   where its bucket tests of gcp and
//	    azure MigStorages go in place of Google's and Azure's public endpoints
//
// It logs to stderr (the container log) and stops on SIGTERM, as a container does.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/mtc-helm/mtc-helm/internal/doubles/mtcoperator"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mtc-double:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 || (args[0] != mtcoperator.RoleOperator && args[0] != mtcoperator.RoleController) {
		return fmt.Errorf("usage: mtc-double %s|%s [flags]", mtcoperator.RoleOperator, mtcoperator.RoleController)
	}
	// The lab's stand-ins for Google's and Azure's public endpoints (the node passes them from the
	// cluster's object storage), for the controller's bucket test of gcp and azure MigStorages.
	var clouds mtcoperator.Clouds
	var caFile string
	fs := flag.NewFlagSet("mtc-double", flag.ContinueOnError)
	fs.StringVar(&clouds.GCS, "gcs-endpoint", "", "GCS JSON API in place of Google's")
	fs.StringVar(&clouds.AzureBlob, "azure-blob-endpoint", "", "Blob service of the storage accounts in place of Azure's")
	fs.StringVar(&clouds.AzureAuthority, "azure-authority-host", "", "service-principal login in place of Azure's")
	fs.StringVar(&clouds.AzureResourceManager, "azure-resource-manager", "", "Resource Manager in place of Azure's")
	fs.StringVar(&caFile, "cloud-ca-file", "", "PEM of the CA that signed those endpoints")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		clouds.CA = ca
	}
	kc := os.Getenv("KUBECONFIG")
	if kc == "" {
		return fmt.Errorf("KUBECONFIG is not set: the node gives every pod of this image its ServiceAccount's kubeconfig")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", kc, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := mtcoperator.Start(ctx, mtcoperator.Options{Config: cfg, Log: log, Role: args[0], Clouds: clouds})
	if err != nil {
		return err
	}
	log.Info("started", "double", args[0])
	<-ctx.Done()
	d.Stop()
	log.Info("stopped", "double", args[0])
	return nil
}
