// Command mtc-image builds the mtc-hooks image for every OpenShift platform as one OCI image index,
// without a container engine, and writes it as an OCI layout (make image).
//
//	go run ./cmd/mtc-image --out bin/image/mtc-hooks [--arch amd64,arm64]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mtc-helm/mtc-helm/internal/hookimage"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

func main() {
	out := flag.String("out", "bin/image/mtc-hooks", "directory of the OCI layout to write (replaced)")
	arch := flag.String("arch", "", "comma-separated architectures to build (default: amd64,arm64,ppc64le,s390x)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := repo.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	m := hookimage.Make{Root: root, Out: *out}
	if *arch != "" {
		m.Archs = strings.Split(*arch, ",")
	}
	r, err := m.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
}
