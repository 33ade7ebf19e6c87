// Package repo finds the repository and the tools `make tools` builds into its bin/: the one place
// that knows where they live and says how to get a missing one.
package repo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Module is the module path the root's go.mod declares.
const Module = "github.com/mtc-helm/mtc-helm"

// Root is the repository root: MTC_HELM_ROOT when set, else the nearest directory above the working
// directory whose go.mod declares Module.
func Root() (string, error) {
	if r := os.Getenv("MTC_HELM_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(mod, []byte("module "+Module+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the mtc-helm repository root above the working directory: set MTC_HELM_ROOT")
		}
		dir = parent
	}
}

// Tool is the path of name (a file or a path below dir, the bin/ directory `make tools` fills), or an
// error that names it and says to run make tools.
func Tool(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is missing: run `make tools` to build it", p)
	}
	return p, nil
}
