// Command mtc-hooks runs the checks and steps of the MTC Helm charts' hooks: version-check, storage-check,
// pull-test, configure, cleanup and verify; preflight and restore from a workstation. docs/cli lists
// every action's flags.
package main

import "github.com/mtc-helm/mtc-helm/hooks/app"

func main() {
	app.Main()
}
