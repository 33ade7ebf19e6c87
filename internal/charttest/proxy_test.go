package charttest

import (
	"strings"
	"testing"
)

// no_proxy reaches the MigrationController whenever it is set: with the cluster-wide Proxy the
// proxies come through the operator's environment and only the exceptions are the user's.
func TestNoProxyPassedWithoutAProxyInValues(t *testing.T) {
	root, helm := setup(t, "helm")
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			args := append(Flavours["ocp4-ovn"].Args(), "--set", "remoteClusters=null",
				"--set", "migrationController.proxy.noProxy=.cluster.local\\,10.0.0.0/8", "--show-only", "templates/configure-configmap.yaml")
			out, err := Template(root, helm, chart, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "no_proxy: .cluster.local,10.0.0.0/8") {
				t.Errorf("no_proxy is not in the MigrationController:\n%s", out)
			}
			if strings.Contains(string(out), "http_proxy") || strings.Contains(string(out), "https_proxy") {
				t.Errorf("a proxy the values did not set is in the MigrationController:\n%s", out)
			}
		})
	}
}
