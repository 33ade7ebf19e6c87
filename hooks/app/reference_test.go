package app

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"

	"github.com/mtc-helm/mtc-helm/internal/golden"
)

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
	if golden.Updating() {
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

// hooks/README.md names the function behind each RBAC verb as `hooks/<pkg>/<file>.go: Recv.name`: each
// such name must be declared in that file, so the table cannot point at code that moved or went.
func TestReadmeNamesDeclaredFunctions(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile("`(hooks/[a-z]+/[a-z0-9_]+\\.go): ([A-Za-z]\\w*(?:\\.\\w+)?)").FindAllStringSubmatch(string(readme), -1)
	if len(refs) < 20 {
		t.Fatalf("found only %d references in hooks/README.md; has the table's form changed?", len(refs))
	}
	for _, r := range refs {
		src, err := os.ReadFile(filepath.Join("..", "..", r[1]))
		if err != nil {
			t.Errorf("hooks/README.md names %s, which does not exist", r[1])
			continue
		}
		recv, name, ok := strings.Cut(r[2], ".")
		decl := `(?m)^(func ` + regexp.QuoteMeta(r[2]) + `\(|(var|const|type) ` + regexp.QuoteMeta(r[2]) + `\b|\t` + regexp.QuoteMeta(r[2]) + `\s+=)`
		if ok {
			decl = `(?m)^func \(\w+ \*?` + regexp.QuoteMeta(recv) + `\) ` + regexp.QuoteMeta(name) + `\(`
		}
		if !regexp.MustCompile(decl).Match(src) {
			t.Errorf("hooks/README.md names %s in %s, which does not declare it", r[2], r[1])
		}
	}
}
