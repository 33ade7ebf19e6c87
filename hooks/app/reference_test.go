package app

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra/doc"
)

var update = flag.Bool("update", false, "rewrite docs/cli from the command definitions")

// The CLI reference under docs/cli is generated from the command definitions: it cannot say
// anything the binary's help does not. Rewrite it with go test ./hooks/app -run TestCLIReference -update.
func TestCLIReference(t *testing.T) {
	gen := t.TempDir()
	root := newRoot(&globals{})
	root.DisableAutoGenTag = true
	for _, c := range root.Commands() {
		c.DisableAutoGenTag = true
	}
	if err := doc.GenMarkdownTree(root, gen); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "cli")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dir, os.DirFS(gen)); err != nil {
			t.Fatal(err)
		}
	}
	want, err := filepath.Glob(filepath.Join(gen, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	have, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	base := func(l []string) []string {
		out := make([]string, len(l))
		for i, p := range l {
			out[i] = filepath.Base(p)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(base(want), base(have)) {
		t.Fatalf("docs/cli holds %v, the commands make %v; run go test ./hooks/app -run TestCLIReference -update", base(have), base(want))
	}
	for _, p := range want {
		g, _ := os.ReadFile(p)
		h, err := os.ReadFile(filepath.Join(dir, filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, h) {
			t.Errorf("docs/cli/%s differs from the command definitions; run go test ./hooks/app -run TestCLIReference -update", filepath.Base(p))
		}
	}
}
