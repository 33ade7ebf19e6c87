// Command mtc-bump moves a chart to a new MTC z-stream in one step (make bump): chart version and
// appVersion, release note, the Containerfile's version, and the generated files.
//
//	go run ./cmd/mtc-bump --chart mtc-1.8 --version 1.8.12 --note "MTC 1.8.12" [--note …]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mtc-helm/mtc-helm/internal/bump"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

type notes []string

func (n *notes) String() string     { return fmt.Sprint(*n) }
func (n *notes) Set(v string) error { *n = append(*n, v); return nil }

func main() {
	chart := flag.String("chart", "", "chart directory under charts/ (mtc-1.8, mtc-1.7)")
	version := flag.String("version", "", "the new version, the MTC z-stream it installs (1.8.12)")
	var n notes
	flag.Var(&n, "note", "a release note entry (repeat for more)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := repo.Root()
	if err == nil {
		err = bump.Bump{Root: root, Chart: *chart, Version: *version, Notes: n, Regenerate: true}.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Printf("charts/%s is at %s; review git diff and commit\n", *chart, *version)
}
