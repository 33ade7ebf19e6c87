package charttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NamespacesValues writes a values file with n namespaces of NetworkPolicies (narrow mode: an ingress
// policy per target namespace and an egress policy per source namespace) and of egress policies, and
// returns its path.
func NamespacesValues(dir string, n int) (string, error) {
	var b strings.Builder
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app-%04d", i)
	}
	list := "[" + strings.Join(names, ", ") + "]"
	fmt.Fprintf(&b, "networkPolicies:\n  mode: narrow\n  sourceNamespaces: %s\n  targetNamespaces: %s\n", list, list)
	b.WriteString("  narrow:\n    targetRouterCIDRs: [198.51.100.0/24]\n")
	fmt.Fprintf(&b, "egressPolicies:\n  networkType: OVNKubernetes\n  namespaces: %s\n", list)
	b.WriteString("  peers:\n    target: {cidrs: [198.51.100.0/24, 198.51.101.0/24]}\n    source: {cidrs: [203.0.113.0/24], dnsNames: [api.source.example.com]}\n")
	path := filepath.Join(dir, fmt.Sprintf("namespaces-%d.yaml", n))
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// BenchmarkTemplateNamespaces times helm template (the whole process, as users run it) with 100, 250
// and 500 namespaces of network and egress policies; ci/bench-template.sh reports how it grows.
func BenchmarkTemplateNamespaces(b *testing.B) {
	root, helm := setup(b, "helm")
	for _, chart := range Charts {
		for _, n := range []int{100, 250, 500} {
			path, err := NamespacesValues(b.TempDir(), n)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/namespaces=%d", chart, n), func(b *testing.B) {
				var size int
				for b.Loop() {
					out, err := Template(root, helm, chart, "-f", path)
					if err != nil {
						b.Fatal(err)
					}
					size = len(out)
				}
				b.ReportMetric(float64(size)/1024, "KiB/render")
			})
		}
	}
}
