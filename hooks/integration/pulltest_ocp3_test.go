package integration

import (
	"context"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// TestIntegrationPullTestOCP3AndSIGTERM runs the pull test where OpenShift 3.11 users run it first
// (the seed's `oc run test --image registry.redhat.io/ubi9`), then stops the node so the test pod
// can never start and sends the hook SIGTERM while it waits: it must still delete its pod.
func TestIntegrationPullTestOCP3AndSIGTERM(t *testing.T) {
	env := envtest.ForTest(t, localcluster.Flavour{Kind: localcluster.OCP3})
	w := newWorld(t, env.Client, env.Dynamic)
	w.namespace(ns)
	ctx := context.Background()
	pullSecrets(t, env)
	leftovers := func() []string {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=pull-test"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				names = append(names, p.Name)
			}
		}
		return names
	}
	r := hooks(t, env.Kubeconfig, "pull-test", "--interval", "500ms", "--timeout", "90s", "--image", "registry.redhat.io/ubi9:latest", "--pull-secret", "good-pull")
	wantExit(t, r, 0, "result:   ok")
	r = hooks(t, env.Kubeconfig, "pull-test", "--interval", "500ms", "--timeout", "90s", "--image", "registry.redhat.io/ubi9:latest", "--pull-secret", "bad-pull")
	wantExit(t, r, 1, "the node cannot pull registry.redhat.io/ubi9:latest")
	if l := leftovers(); len(l) > 0 {
		t.Fatalf("pods left behind: %v", l)
	}

	// No kubelet any more: the pod stays Pending and the hook waits.
	env.Node.Stop()
	cmd, out, errb := hooksCmd(t, env.Kubeconfig, "pull-test", "--interval", "500ms", "--timeout", "2m", "--image", "registry.redhat.io/ubi9:latest", "--pull-secret", "good-pull")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Track("mtc-hooks", cmd.Process.Pid)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(leftovers()) > 0, nil
	})
	if err != nil {
		t.Fatalf("the pull test created no pod: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r = finish(t, cmd, out, errb, cmd.Wait(), start)
	if r.code == 0 {
		t.Fatalf("pull test killed while waiting exited 0:\n%s", r)
	}
	if l := leftovers(); len(l) > 0 {
		t.Fatalf("SIGTERM left the test pod %v behind:\n%s", l, r)
	}
	t.Logf("SIGTERM: exit %d after %s, pod deleted: %s", r.code, r.elapsed, lastLine(r.stderr))
}
