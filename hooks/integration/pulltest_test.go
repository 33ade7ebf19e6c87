package integration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/registry"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// TestIntegrationPullTest pulls through the loopback mirror of registry.redhat.io with good and bad
// credentials, and a tag that does not exist; every run leaves no pod behind.
func TestIntegrationPullTest(t *testing.T) {
	f, err := localcluster.ParseFlavour("ocp4:4.17")
	if err != nil {
		t.Fatal(err)
	}
	env := envtest.ForTest(t, f)
	w := newWorld(t, env.Client, env.Dynamic)
	w.namespace(ns)
	ctx := context.Background()
	pullSecrets(t, env)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"good credentials", []string{"--image", "registry.redhat.io/ubi9:latest", "--pull-secret", "good-pull"}, 0, []string{"result:   ok"}},
		{"bad credentials", []string{"--image", "registry.redhat.io/ubi9:latest", "--pull-secret", "bad-pull"}, 1,
			[]string{"the node cannot pull registry.redhat.io/ubi9:latest", "put credentials for registry.redhat.io into the pull secret"}},
		{"missing tag", []string{"--image", "registry.redhat.io/ubi9:no-such-tag", "--pull-secret", "good-pull"}, 1,
			[]string{"the node cannot pull registry.redhat.io/ubi9:no-such-tag", "check the image name and tag"}},
		{"operator images too", []string{"--image", "registry.redhat.io/ubi9:latest", "--image", "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator:v1.8", "--pull-secret", "good-pull"}, 0,
			[]string{"result:   ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"pull-test", "--interval", "500ms", "--timeout", "90s"}, tc.args...)
			r := hooks(t, env.Kubeconfig, args...)
			wantExit(t, r, tc.code, tc.contains...)
			if r.elapsed > 60e9 {
				t.Errorf("the pull test took %s; it should fail fast", r.elapsed)
			}
			pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=pull-test"})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					t.Errorf("pod %s was left behind", p.Name)
				}
			}
			t.Logf("%s: exit %d in %s: %s", tc.name, r.code, r.elapsed, lastLine(r.stderr))
		})
	}
}

// pullSecrets creates the pull Secrets good-pull (the local registry's credentials for
// registry.redhat.io) and bad-pull (a wrong password) in the MTC namespace.
func pullSecrets(t *testing.T, env *testenv.Env) {
	t.Helper()
	for name, password := range map[string]string{"good-pull": env.Registry.Password, "bad-pull": "not-the-password"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: registry.DockerConfigJSON("registry.redhat.io", env.Registry.Username, password)}}
		if _, err := env.Client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
