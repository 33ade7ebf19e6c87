package charttest

import (
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// badCase is one file of testdata/bad: values that helm template must reject with the exact line in
// its "# error:" header, on each chart of "# charts:" (default: both), with the API of "# flavour:"
// (default: none, offline rendering).
type badCase struct {
	name, path, want string
	charts           []string
	args             []string
}

func badCases(t *testing.T) []badCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	var cases []badCase
	for _, p := range paths {
		header, err := Header(p)
		if err != nil {
			t.Fatal(err)
		}
		c := badCase{name: strings.TrimSuffix(filepath.Base(p), ".yaml"), path: p, want: header["error"], charts: strings.Fields(header["charts"])}
		if c.want == "" {
			t.Fatalf("%s has no \"# error: <the exact line helm prints>\" header", p)
		}
		if len(c.charts) == 0 {
			c.charts = Charts
		}
		if name := header["flavour"]; name != "" {
			f, ok := Flavours[name]
			if !ok {
				t.Fatalf("%s names unknown flavour %q", p, name)
			}
			c.args = f.Args()
		}
		cases = append(cases, c)
	}
	return cases
}

// TestBadValues renders every bad values file with Helm 3 and Helm 4 and expects the exact error line.
func TestBadValues(t *testing.T) {
	cases := badCases(t)
	if len(cases) < 30 {
		t.Errorf("testdata/bad holds %d cases; the corpus must keep at least 30", len(cases))
	}
	for _, helmName := range []string{"helm", "helm4"} {
		root, helm := setup(t, helmName)
		for _, c := range cases {
			for _, chart := range c.charts {
				t.Run(helmName+"/"+chart+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					abs, _ := filepath.Abs(c.path)
					_, err := Template(root, helm, chart, append([]string{"-f", abs}, c.args...)...)
					var he *HelmError
					if !errors.As(err, &he) {
						t.Fatalf("helm template accepted %s; want the error %q (err: %v)", c.path, c.want, err)
					}
					for _, line := range strings.Split(he.Stderr, "\n") {
						if strings.TrimSpace(line) == c.want {
							return
						}
					}
					t.Errorf("helm template rejected %s, but not with the line\n  %s\nit printed:\n%s", c.path, c.want, he.Stderr)
				})
			}
		}
	}
}
