package integration

import (
	"testing"

	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// TestIntegrationVersionCheck runs version-check on each cluster flavour against both MTC lines.
func TestIntegrationVersionCheck(t *testing.T) {
	envtest.SkipIfShort(t)
	tests := []struct {
		flavour string
		cases   []struct {
			mtc      string
			code     int
			contains []string
		}
	}{
		{flavour: "ocp4:4.12", cases: []struct {
			mtc      string
			code     int
			contains []string
		}{
			{"1.8.8", 1, []string{"MTC 1.8 supports OCP 4.14 and later", "runs OCP 4.12.0", "install the mtc chart 1.7.z instead"}},
			{"1.7.19", 0, []string{"result:    ok"}},
		}},
		{flavour: "ocp4:4.17", cases: []struct {
			mtc      string
			code     int
			contains []string
		}{
			{"1.8.8", 0, []string{"platform:  OCP 4.17.0", "result:    ok"}},
			{"1.7.19", 0, []string{"result:    ok"}},
		}},
		{flavour: "ocp3", cases: []struct {
			mtc      string
			code     int
			contains []string
		}{
			{"1.7.19", 0, []string{"platform:  OCP 3.11", "result:    ok"}},
			{"1.8.8", 1, []string{"runs OCP 3.11", "install the mtc chart 1.7.z instead"}},
		}},
		{flavour: "kubernetes", cases: []struct {
			mtc      string
			code     int
			contains []string
		}{
			{"1.8.8", 1, []string{"is plain Kubernetes", "not OpenShift"}},
			{"1.7.19", 1, []string{"is plain Kubernetes"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.flavour, func(t *testing.T) {
			cluster := controlPlane(t, tc.flavour)
			for _, c := range tc.cases {
				t.Run("mtc-"+c.mtc, func(t *testing.T) {
					r := hooks(t, cluster.Kubeconfig, "version-check", "--mtc-version", c.mtc)
					wantExit(t, r, c.code, c.contains...)
				})
			}
		})
	}
}
