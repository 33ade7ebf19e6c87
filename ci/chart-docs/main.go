// Command chart-docs writes the values reference of each chart's README from the comments in its
// values.yaml (see package internal/chartdocs), and with -check fails when a README is out of date or
// a key has no comment.
//
//	go run ./ci/chart-docs charts/mtc-1.8 charts/mtc-1.7         # rewrite the tables
//	go run ./ci/chart-docs -check charts/mtc-1.8 charts/mtc-1.7  # fail if they are stale
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtc-helm/mtc-helm/internal/chartdocs"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chart-docs:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chart-docs", flag.ContinueOnError)
	check := fs.Bool("check", false, "fail instead of writing when a README is out of date")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: chart-docs [-check] CHART_DIR...")
	}
	var stale []string
	for _, dir := range fs.Args() {
		changed, err := chartdocs.Document(dir, *check)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if changed {
			stale = append(stale, filepath.Join(dir, "README.md"))
		}
	}
	if len(stale) > 0 {
		if *check {
			return fmt.Errorf("values reference out of date in %s; run `ci/charts.sh docs` and commit the result", strings.Join(stale, ", "))
		}
		fmt.Fprintf(out, "updated %s\n", strings.Join(stale, ", "))
	}
	return nil
}
