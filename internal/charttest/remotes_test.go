package charttest

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/version"
)

// A remote's insecure: true reaches the version check as it reaches the MigCluster: without it the
// check cannot connect to a remote whose API certificate the values do not give.
func TestRemoteInsecureReachesVersionCheck(t *testing.T) {
	root, helm := setup(t, "helm")
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			args := append(Flavours["ocp4-ovn"].Args(),
				"--set", "remoteClusters.source.url=https://api.source.example.com:6443", "--set", "remoteClusters.source.token=t0ken",
				"--set", "remoteClusters.source.insecure=true", "--set", "remoteClusters.target.url=https://api.target.example.com:6443",
				"--set", "remoteClusters.target.token=t0ken", "--show-only", "templates/hook-version-check-remotes-secret.yaml")
			out, err := Template(root, helm, chart, args...)
			if err != nil {
				t.Fatal(err)
			}
			var s corev1.Secret
			if err := yaml.Unmarshal(out, &s); err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(string(s.Data[version.RemotesKey]))
			if err != nil {
				raw = s.Data[version.RemotesKey]
			}
			var remotes []version.Remote
			if err := yaml.Unmarshal(raw, &remotes); err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			got := map[string]bool{}
			for _, r := range remotes {
				got[r.Name] = r.Insecure
			}
			if len(got) != 2 || !got["source"] || got["target"] {
				t.Errorf("insecure by remote %v, want source true and target false", got)
			}
		})
	}
}
