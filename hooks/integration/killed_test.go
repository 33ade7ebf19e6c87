package integration

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/hooks/cleanup"
)

// lineWatch collects a process's output and closes seen when a line holds want.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (l *lineWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if strings.Contains(l.buf.String(), l.want) {
		l.once.Do(func() { close(l.seen) })
	}
	return len(p), nil
}

func (l *lineWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Cleanup stopped at each of its points (while it writes the export, and as each of its seven steps
// begins), by SIGTERM (what Kubernetes sends a hook pod that is deleted) and by SIGKILL, then run again,
// ends as one uninterrupted run does: nothing of MTC left, the user's roles kept, and one complete
// export holding every MTC object the first run found.
func TestIntegrationCleanupKilledAtEveryStep(t *testing.T) {
	cluster := controlPlane(t, "ocp4:4.17")
	w := newWorld(t, kubernetes.NewForConfigOrDie(cluster.Config), dynamic.NewForConfigOrDie(cluster.Config))
	points := []string{`msg="exporting the MTC objects"`}
	for n := 1; n <= 7; n++ {
		points = append(points, fmt.Sprintf(`msg="cleanup step" action=cleanup step=%d `, n))
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for i, point := range points {
			t.Run(fmt.Sprintf("%s at point %d", sig, i), func(t *testing.T) {
				w.t = t
				for _, cm := range w.exports() {
					if err := w.kube.CoreV1().ConfigMaps(ns).Delete(w.ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				w.installMTC(3)
				cmd, out, _ := hooksCmd(t, cluster.Kubeconfig, "cleanup", "--step-timeout", "30s")
				lw := &lineWatch{want: point, seen: make(chan struct{})}
				cmd.Stderr = lw
				start := time.Now()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case <-lw.seen:
					_ = cmd.Process.Signal(sig)
				case err := <-exited:
					t.Fatalf("the cleanup ended (%v) before it reached %s:\n%s", err, point, lw)
				}
				r := finish(t, cmd, out, &bytes.Buffer{}, <-exited, start)
				if r.code == 0 && sig == syscall.SIGKILL {
					t.Fatalf("the cleanup exited 0 after SIGKILL:\n%s", r)
				}
				rerun := hooks(t, cluster.Kubeconfig, "cleanup", "--step-timeout", "30s")
				wantExit(t, rerun, 0, "result: ok")
				w.assertClean()
				exports := w.exports()
				stamps := map[string]bool{}
				var objects strings.Builder
				for _, cm := range exports {
					stamps[cm.Labels[cleanup.ExportLabel]] = true
					if cm.Labels[cleanup.ExportCompleteLabel] != "true" {
						t.Errorf("export ConfigMap %s is not complete", cm.Name)
					}
					objects.WriteString(cm.Data[cleanup.ExportKey])
				}
				if len(stamps) != 1 {
					t.Fatalf("want one export after the rerun, got %d (%v)", len(stamps), stamps)
				}
				for kind, n := range map[string]int{"MigPlan": 3, "MigMigration": 3, "MigStorage": 1, "MigrationController": 1} {
					if got := strings.Count(objects.String(), "\nkind: "+kind+"\n"); got != n {
						t.Errorf("the export holds %d %ss, want %d", got, kind, n)
					}
				}
			})
		}
	}
}
