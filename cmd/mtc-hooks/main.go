// Command mtc-hooks runs the checks and steps of the MTC Helm charts' hooks: version-check, pull-test,
// configure and cleanup, and preflight from a workstation.
package main

import "github.com/mtc-helm/mtc-helm/hooks/app"

func main() {
	app.Main()
}
