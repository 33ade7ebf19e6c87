// Package nodesim plays the scheduler and the kubelet of one Ready node, so that Pods and Jobs
// really run on the local control plane.
//
// It binds every pending pod to its node. Containers whose image is one of Options.Binaries
// (our hook image) run as local processes of that binary, with the pod's command, args and env
// and a kubeconfig holding a token of the pod's ServiceAccount, so they act with exactly the
// RBAC the cluster gives them. Every other image is resolved against an OCI registry (through
// a mirror map and the pod's pull secrets); a good pull runs an idle process until the pod is
// deleted, a bad one gives the container the waiting reasons a kubelet gives (ErrImagePull, then
// ImagePullBackOff). Logs are served on the kubelet's containerLogs endpoint over TLS.
package nodesim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
)

// Options configure a node.
type Options struct {
	// Name of the Node object (default "sim-node").
	Name string
	// Config is an admin client configuration of the cluster.
	Config *rest.Config
	// Server is the apiserver URL and CA written into the kubeconfig of hook processes.
	Server string
	CAData []byte
	// Binaries maps an image repository path suffix to a local binary that plays that image.
	Binaries map[string]string
	// RunImages are repository path suffixes (such as "mtc-helm/mtc-hooks") of images the node runs
	// for real: pulled through the registry like any image, the manifest of the node's platform
	// picked from the index, the user checked against runAsNonRoot, and the entrypoint run from the
	// unpacked layers.
	RunImages []string
	// Arch is the node's architecture (default: this machine's).
	Arch string
	// Components maps an image repository path suffix (such as
	// "rhmtc/openshift-migration-rhel8-operator") to the command of the double that plays the
	// component that image holds. Such an image is pulled like any other (so a missing image or
	// credential fails as on a cluster), then the double runs in place of the image's entrypoint,
	// with the container's env and a kubeconfig of the pod's ServiceAccount: it acts with exactly
	// the RBAC the cluster gave that pod.
	Components map[string][]string
	// NodeDockerConfig is the node's own pull secret (a docker config JSON, as the cluster-wide
	// pull secret of OpenShift becomes on each node); the kubelet tries it along with the pod's.
	NodeDockerConfig []byte
	// Registry resolves all other images. Nil means every such pull fails as on a cluster
	// without network.
	Registry Puller
	// Dir holds per-container logs and work directories (default: a new temp dir).
	Dir string
	// LegacyTokens makes hook processes use the ServiceAccount token Secrets instead of the
	// TokenRequest API (Kubernetes 1.11, where TokenRequest is alpha).
	LegacyTokens bool
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// OnStart, when set, learns the pid of every container process the node starts.
	OnStart func(pid int)
}

// Puller checks that an image can be pulled with the given credentials.
type Puller interface {
	// Pull resolves image with the docker config JSON documents of the pod's pull secrets and
	// returns the digest, or an error carrying the registry's message.
	Pull(ctx context.Context, image string, dockerConfigs [][]byte) (string, error)
	// Get resolves image the same way and returns the registry's descriptor (manifest or index).
	Get(ctx context.Context, image string, dockerConfigs [][]byte) (*remote.Descriptor, error)
}

// Node is a running simulated node.
type Node struct {
	opts   Options
	cs     kubernetes.Interface
	log    *slog.Logger
	cancel context.CancelFunc
	srv    *http.Server
	port   int
	done   chan struct{}

	mu   sync.Mutex
	pods map[types.UID]*podRunner
	ips  int
	// stopped is set by Stop; bg counts the goroutines spawned for pods, which Stop waits for so
	// that none of them logs after the node's owner has gone.
	stopped bool
	bg      sync.WaitGroup

	// runImages holds Options.RunImages; unpackMu serialises unpacking into the image cache.
	runImages map[string]bool
	unpackMu  sync.Mutex
}

// Start registers the Node, starts its kubelet endpoint and begins running pods.
func Start(ctx context.Context, opts Options) (*Node, error) {
	if opts.Name == "" {
		opts.Name = "sim-node"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "mtc-nodesim-")
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, cs: cs, log: opts.Log.With("node", opts.Name), pods: map[types.UID]*podRunner{}, done: make(chan struct{}),
		runImages: map[string]bool{}}
	for _, img := range opts.RunImages {
		n.runImages[img] = true
	}
	if err := n.serve(); err != nil {
		return nil, err
	}
	if err := n.register(ctx); err != nil {
		n.srv.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	// A plain list and watch: the Kubernetes 1.11 apiserver of the ocp3 flavour ignores the
	// streaming watch-list request and would leave the informer unsynced.
	lw := listWatch{cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "pods", metav1.NamespaceAll, fields.Everything())}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { n.onPod(runCtx, o) },
		UpdateFunc: func(_, o any) { n.onPod(runCtx, o) },
		DeleteFunc: func(o any) { n.onDelete(o) },
	})
	go inf.Run(runCtx.Done())
	go func() {
		defer close(n.done)
		n.heartbeat(runCtx)
	}()
	syncCtx, c2 := context.WithTimeout(ctx, 30*time.Second)
	defer c2()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		n.Stop()
		return nil, errors.New("the node simulator could not list pods")
	}
	return n, nil
}

// Stop kills every container process the node runs and stops serving. The Node object stays,
// as when a kubelet stops.
func (n *Node) Stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.mu.Lock()
	n.stopped = true
	runners := make([]*podRunner, 0, len(n.pods))
	for _, r := range n.pods {
		runners = append(runners, r)
	}
	n.mu.Unlock()
	for _, r := range runners {
		r.kill(2 * time.Second)
	}
	<-n.done
	n.bg.Wait()
	n.srv.Close()
}

// spawn runs f in a goroutine that Stop waits for; once Stop has begun it runs nothing.
func (n *Node) spawn(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.bg.Go(f)
}

// Pids lists the container processes running now, for leak checks.
func (n *Node) Pids() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []int
	for _, r := range n.pods {
		out = append(out, r.pids()...)
	}
	return out
}

func (n *Node) serve() error {
	cert, err := localcluster.SelfSignedTLS()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("failed to open the kubelet port: %w", err)
	}
	n.port = l.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", n.serveLogs)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	n.srv = &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.ServeTLS(l, "", "") }()
	return nil
}

func (n *Node) nodeStatus() corev1.NodeStatus {
	now := metav1.Now()
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	res := corev1.ResourceList{corev1.ResourceCPU: q("16"), corev1.ResourceMemory: q("64Gi"), corev1.ResourcePods: q("250"), corev1.ResourceEphemeralStorage: q("200Gi")}
	return corev1.NodeStatus{
		Capacity:    res,
		Allocatable: res,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "node simulator is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: n.opts.Name}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem: "linux", Architecture: n.arch(), KubeletVersion: "v1.37.2-sim",
			ContainerRuntimeVersion: "sim://1.0", OSImage: "node simulator", KernelVersion: "sim",
			MachineID: "sim", SystemUUID: "sim", BootID: "sim",
		},
	}
}

func (n *Node) register(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.opts.Name, Labels: map[string]string{
			"kubernetes.io/hostname": n.opts.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"node-role.kubernetes.io/worker": "",
		}},
	}
	if _, err := n.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to register node %s: %w", n.opts.Name, err)
	}
	// The controller manager writes to a new Node too (taints, annotations), so read it afresh
	// and retry on a conflict, as a kubelet does.
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := n.cs.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = n.nodeStatus()
		_, err = n.cs.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to report node %s Ready: %w", n.opts.Name, err)
	}
	return nil
}

// heartbeat renews the node's Lease and Ready condition, as a kubelet does, until ctx ends.
func (n *Node) heartbeat(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		n.renewLease(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if node, err := n.cs.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{}); err == nil {
			node.Status = n.nodeStatus()
			_, _ = n.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		}
	}
}

func (n *Node) renewLease(ctx context.Context) {
	leases := n.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	d := int32(40)
	l, err := leases.Get(ctx, n.opts.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder := n.opts.Name
		_, _ = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.opts.Name},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &d, RenewTime: &now},
		}, metav1.CreateOptions{})
		return
	}
	if err != nil {
		return // 1.11 has no coordination.k8s.io/v1; nothing to renew there
	}
	l.Spec.RenewTime = &now
	_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
}

func (n *Node) onPod(ctx context.Context, o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName == "" {
		if pod.DeletionTimestamp == nil && (pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == corev1.DefaultSchedulerName) {
			n.spawn(func() { n.bind(ctx, pod) })
		}
		return
	}
	if pod.Spec.NodeName != n.opts.Name {
		return
	}
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	r := n.pods[pod.UID]
	if r == nil {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			n.mu.Unlock()
			if pod.DeletionTimestamp != nil {
				n.spawn(func() { n.finalDelete(ctx, pod) })
			}
			return
		}
		n.ips++
		r = newPodRunner(n, pod, fmt.Sprintf("10.128.%d.%d", n.ips/250, n.ips%250+2))
		n.pods[pod.UID] = r
		n.mu.Unlock()
		n.spawn(func() { r.run(ctx) })
	} else {
		n.mu.Unlock()
	}
	if pod.DeletionTimestamp != nil {
		r.requestDelete(pod)
	}
}

func (n *Node) onDelete(o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		if t, ok2 := o.(cache.DeletedFinalStateUnknown); ok2 {
			pod, ok = t.Obj.(*corev1.Pod)
		}
		if !ok {
			return
		}
	}
	n.mu.Lock()
	r := n.pods[pod.UID]
	delete(n.pods, pod.UID)
	n.mu.Unlock()
	if r != nil {
		n.spawn(func() { r.kill(0) })
	}
}

// bind plays the scheduler: pods without a node go to this one.
func (n *Node) bind(ctx context.Context, pod *corev1.Pod) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: n.opts.Name},
	}
	err := n.cs.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		n.log.Warn("bind failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// finalDelete removes a terminated pod whose deletion was requested (the kubelet's last word).
func (n *Node) finalDelete(ctx context.Context, pod *corev1.Pod) {
	zero := int64(0)
	uid := pod.UID
	err := n.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		n.log.Warn("final delete failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// serveLogs answers GET /containerLogs/<namespace>/<pod>/<container>.
func (n *Node) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 {
		http.Error(w, "want /containerLogs/<namespace>/<pod>/<container>", http.StatusBadRequest)
		return
	}
	ns, name, container := parts[0], parts[1], parts[2]
	n.mu.Lock()
	var found *podRunner
	for _, pr := range n.pods {
		if pr.pod.Namespace == ns && pr.pod.Name == name {
			found = pr
		}
	}
	n.mu.Unlock()
	var path string
	if found != nil {
		path = found.logPath(container)
	} else {
		// A pod that ended and whose runner is gone still has its logs on disk.
		matches, _ := filepath.Glob(filepath.Join(n.opts.Dir, ns+"_"+name+"_*", container+".log"))
		if len(matches) > 0 {
			path = matches[len(matches)-1]
		}
	}
	if path == "" {
		http.Error(w, fmt.Sprintf("container %q in pod %q is not known to this node", container, name), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	opts := logOptions{follow: q.Get("follow") == "true", timestamps: q.Get("timestamps") == "true", tail: -1}
	if t := q.Get("tailLines"); t != "" {
		fmt.Sscan(t, &opts.tail)
	}
	w.Header().Set("Content-Type", "text/plain")
	running := func() bool { return found != nil && found.containerRunning(container) }
	changed := func() <-chan struct{} {
		if found == nil {
			return nil
		}
		return found.logged.Wait()
	}
	if err := copyLog(r.Context(), w, path, opts, running, changed); err != nil && !errors.Is(err, context.Canceled) {
		n.log.Warn("serving logs failed", "path", path, "err", err)
	}
}

// WaitReady waits until the Node object reports Ready.
func (n *Node) WaitReady(ctx context.Context) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := n.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", n.opts.Name).String()})
		if err != nil || len(l.Items) == 0 {
			return false, nil
		}
		for _, c := range l.Items[0].Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// listWatch lists and watches without the watch-list semantics of newer apiservers.
type listWatch struct{ *cache.ListWatch }

func (listWatch) IsWatchListSemanticsUnSupported() bool { return true }
