//go:build tools

// Package olm pins the commands `make tools` builds from this module: the OLM and catalog
// operators and opm, which serves the lab's file-based catalogs over gRPC.
package olm

import (
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
	_ "github.com/operator-framework/operator-registry/cmd/opm"
)
