// Command demo is `make demo`: the main job of mtc-helm on fresh local clusters, narrated step
// by step with timings (see internal/lifecycle). Everything it starts is stopped at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

func main() {
	helm := flag.String("helm", "helm", "Helm CLI in bin/ to use: helm (Helm 3) or helm4 (Helm 4)")
	verbose := flag.Bool("v", false, "print every command's whole output")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lab, err := lifecycle.NewLab(os.Stdout, *helm)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	lab.Verbose = *verbose
	err = lab.Demo(ctx)
	testenv.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
