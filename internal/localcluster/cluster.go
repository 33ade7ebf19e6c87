// Package localcluster starts a real Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager) as subprocesses on free loopback ports, and dresses it as the
// cluster our users run: OpenShift 4, OpenShift 3.11 or plain Kubernetes (see Flavour).
//
// RBAC and admission are on as on a real cluster and ServiceAccount tokens authenticate. There
// is no scheduler and no kubelet: internal/nodesim plays them.
package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// AdminToken is the bearer token of the cluster-admin user (group system:masters).
const AdminToken = "mtc-helm-admin-token"

// Options configure Start.
type Options struct {
	// Flavour selects what the cluster answers as; the zero value is plain Kubernetes.
	Flavour Flavour
	// BinDir holds etcd, kube-apiserver and kube-controller-manager (default: the repository's
	// bin/). The ocp3 flavour takes its apiserver and controller manager from BinDir/k8s-1.11.
	BinDir string
	// CRDDir holds the OpenShift and OLM CRD manifests copied from their Go modules
	// (default: BinDir/crds).
	CRDDir string
	// Dir is the work directory (data, certificates, logs). Default: a new temporary directory,
	// removed by Stop. A given Dir must not hold a previous cluster's data.
	Dir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// APIServerPort is the apiserver's port (default: a free one).
	APIServerPort int
	// ExtraAPIServerArgs are appended to the apiserver's flags.
	ExtraAPIServerArgs []string
	// OnStart, when set, learns the pid of every process the cluster starts.
	OnStart func(name string, pid int)
	// Storage starts the lab's object storage (S3, GCS, Azure Blob) with the cluster; see Storage.
	Storage bool
}

// Cluster is a running control plane.
type Cluster struct {
	// Config is an admin client configuration.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Dir is the work directory; logs are Dir/<component>.log.
	Dir string
	// Flavour is what the cluster answers as.
	Flavour Flavour
	// URL is the apiserver's https address.
	URL string
	// Storage is the lab's object storage when Options.Storage asked for it, else nil.
	Storage *Storage

	opts      Options
	ownDir    bool
	etcdURL   string
	procs     []*proc
	mu        sync.Mutex
	stopped   bool
	apiserver apiserverSpec
	// catalogAddr is where opm serves the redhat-operators catalog (ocp4).
	catalogAddr string
}

type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	log     string
	logFrom int64 // the log's size when this process started (a restart appends to the same file)
}

// Start starts a control plane of the given flavour and returns when it serves requests and
// the flavour's API objects exist. On any failure it stops what it started.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.Flavour.Validate(); err != nil {
		return nil, err
	}
	if opts.BinDir == "" {
		root, err := repo.Root()
		if err != nil {
			return nil, err
		}
		opts.BinDir = filepath.Join(root, "bin")
	}
	if opts.CRDDir == "" {
		opts.CRDDir = filepath.Join(opts.BinDir, "crds")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	c := &Cluster{opts: opts, Flavour: opts.Flavour}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "mtc-localcluster-")
		if err != nil {
			return nil, fmt.Errorf("failed to create the cluster's work directory: %w", err)
		}
		c.Dir, c.ownDir = d, true
	} else {
		if _, err := os.Stat(filepath.Join(opts.Dir, "etcd")); err == nil {
			return nil, fmt.Errorf("work directory %s holds a previous cluster's data: remove it or choose another Dir", opts.Dir)
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("failed to create work directory %s: %w", opts.Dir, err)
		}
		c.Dir = opts.Dir
	}
	if err := c.start(ctx); err != nil {
		// Keep the work directory: the error names a log in it.
		c.ownDir = false
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) bin(name string) (string, error) {
	dir := c.opts.BinDir
	if c.Flavour.Kind == OCP3 && name != "etcd" {
		dir = filepath.Join(dir, "k8s-1.11")
	}
	return repo.Tool(dir, name)
}

func (c *Cluster) start(ctx context.Context) error {
	certs, err := writeCerts(c.Dir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "tokens.csv"),
		[]byte(AdminToken+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return fmt.Errorf("failed to write the token file: %w", err)
	}

	// etcd
	etcdBin, err := c.bin("etcd")
	if err != nil {
		return err
	}
	err = onFreePorts(2, func(ports []int) error {
		c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		dataDir := filepath.Join(c.Dir, "etcd")
		if err := os.RemoveAll(dataDir); err != nil { // what an attempt on taken ports left
			return err
		}
		fmt.Fprintf(c.opts.Log, "starting etcd on %s\n", c.etcdURL)
		if err := c.run("etcd", etcdBin,
			"--name", "local",
			"--data-dir", dataDir,
			"--listen-client-urls", c.etcdURL, "--advertise-client-urls", c.etcdURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "local="+peerURL,
			"--unsafe-no-fsync", "--quota-backend-bytes", "4294967296",
			"--log-level", "warn",
		); err != nil {
			return err
		}
		return c.waitHTTP(ctx, "etcd", c.etcdURL+"/health", nil, 30*time.Second)
	})
	if err != nil {
		return err
	}

	// kube-apiserver
	apiBin, err := c.bin("kube-apiserver")
	if err != nil {
		return err
	}
	onPort := func(port int) error {
		c.apiserver = apiserverSpec{bin: apiBin, port: port, certs: certs}
		c.URL = "https://127.0.0.1:" + strconv.Itoa(port)
		return c.startAPIServer(ctx)
	}
	if c.opts.APIServerPort != 0 {
		err = onPort(c.opts.APIServerPort)
	} else {
		err = onFreePorts(1, func(ports []int) error { return onPort(ports[0]) })
	}
	if err != nil {
		return err
	}

	c.Config = &rest.Config{
		Host:            c.URL,
		BearerToken:     AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: certs.caPEM},
		QPS:             200,
		Burst:           400,
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, KubeconfigBytes(c.URL, certs.caPEM, "admin", AdminToken, "default"), 0o600); err != nil {
		return fmt.Errorf("failed to write the kubeconfig: %w", err)
	}

	// kube-controller-manager
	kcmBin, err := c.bin("kube-controller-manager")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "starting kube-controller-manager\n")
	kcmArgs := []string{
		"--kubeconfig", c.Kubeconfig,
		"--leader-elect=false",
		"--use-service-account-credentials",
		"--service-account-private-key-file", certs.saKey,
		"--root-ca-file", certs.caFile,
		"--controllers", "*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder",
	}
	if c.Flavour.Kind == OCP3 {
		kcmArgs = append(kcmArgs, "--port=0", "--master", c.URL)
	} else {
		kcmArgs = append(kcmArgs, "--secure-port=0")
	}
	if err := c.run("kube-controller-manager", kcmBin, kcmArgs...); err != nil {
		return err
	}

	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("failed to build a client: %w", err)
	}
	// The flavour's objects go in while the controller manager starts its controllers (seconds).
	fmt.Fprintf(c.opts.Log, "dressing the cluster as %s\n", c.Flavour)
	if err := c.dress(ctx); err != nil {
		return fmt.Errorf("failed to set up the %s flavour: %w", c.Flavour, err)
	}
	if c.Flavour.Kind == OCP4 {
		cfg := rest.CopyConfig(c.Config)
		cfg.WarningHandler = rest.NoWarnings{}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		if err := c.startOLM(ctx, dyn); err != nil {
			return err
		}
	}
	if c.opts.Storage {
		if err := c.startStorage(ctx); err != nil {
			return fmt.Errorf("failed to start the lab's object storage: %w", err)
		}
	}
	return c.waitDefaultServiceAccount(ctx, cs)
}

type apiserverSpec struct {
	bin   string
	port  int
	certs *certs
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	s := c.apiserver
	args := []string{
		"--etcd-servers", c.etcdURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(s.port),
		"--tls-cert-file", s.certs.servingCert,
		"--tls-private-key-file", s.certs.servingKey,
		"--client-ca-file", s.certs.caFile,
		"--token-auth-file", filepath.Join(c.Dir, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-account-key-file", s.certs.saPub,
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--endpoint-reconciler-type", "none",
		"--allow-privileged=true",
		"--kubelet-preferred-address-types", "InternalIP",
	}
	ready := "/readyz"
	if c.Flavour.Kind == OCP3 {
		args = append(args, "--insecure-port=0", "--storage-backend=etcd3")
		ready = "/healthz"
	} else {
		args = append(args,
			"--service-account-signing-key-file", s.certs.saKey,
			"--service-account-issuer", "https://kubernetes.default.svc",
			"--api-audiences", "https://kubernetes.default.svc",
			"--enable-admission-plugins", "PodSecurity",
		)
	}
	args = append(args, c.opts.ExtraAPIServerArgs...)
	fmt.Fprintf(c.opts.Log, "starting kube-apiserver on %s\n", c.URL)
	if err := c.run("kube-apiserver", s.bin, args...); err != nil {
		return err
	}
	return c.waitHTTP(ctx, "kube-apiserver", c.URL+ready, s.certs.caPEM, 90*time.Second)
}

// RestartAPIServer stops the apiserver (SIGTERM, then SIGKILL after a grace period) and starts
// it again on the same port, as an apiserver restart on a real cluster. Clients keep their
// configuration.
func (c *Cluster) RestartAPIServer(ctx context.Context, down time.Duration) error {
	c.mu.Lock()
	var p *proc
	for _, q := range c.procs {
		if q.name == "kube-apiserver" {
			p = q
		}
	}
	c.mu.Unlock()
	if p == nil {
		return errors.New("the apiserver is not running")
	}
	stopProc(p, 15*time.Second)
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.startAPIServer(ctx)
}

func (c *Cluster) run(name, bin string, args ...string) error {
	return c.runEnv(name, bin, nil, args...)
}

// runEnv starts a component with the given environment (nil: ours), logging to Dir/<name>.log.
func (c *Cluster) runEnv(name, bin string, env []string, args ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("cluster is stopping")
	}
	logPath := filepath.Join(c.Dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("failed to open %s: %w", logPath, err)
	}
	var logFrom int64
	if st, err := f.Stat(); err == nil {
		logFrom = st.Size()
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// A process group of its own, so a ^C in the terminal reaches us, not the children, and
	// Stop decides the order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("failed to start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath, logFrom: logFrom}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	if c.opts.OnStart != nil {
		c.opts.OnStart(name, cmd.Process.Pid)
	}
	return nil
}

func (c *Cluster) procByName(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.procs) - 1; i >= 0; i-- {
		if c.procs[i].name == name {
			return c.procs[i]
		}
	}
	return nil
}

// waitHTTP polls url until it answers 200, the process dies or the timeout passes.
func (c *Cluster) waitHTTP(ctx context.Context, name, url string, ca []byte, timeout time.Duration) error {
	client := httpClient(ca, AdminToken)
	p := c.procByName(name)
	deadline := time.Now().Add(timeout)
	var last string
	for {
		req, _ := newRequest(ctx, url)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return exitedAtStart(name, p)
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w (log: %s)", name, ctx.Err(), p.log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready after %s (last answer: %s): read %s", name, timeout, last, p.log)
		}
	}
}

// Pids returns the process ids of the running components, by name.
func (c *Cluster) Pids() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, p := range c.procs {
		select {
		case <-p.done:
		default:
			out[p.name] = p.cmd.Process.Pid
		}
	}
	return out
}

// Stop ends exactly the processes Start started, by pid: OLM's operators and catalog server,
// the controller manager, then the apiserver (an apiserver whose etcd is gone hangs on SIGTERM),
// then etcd, each with SIGTERM
// and SIGKILL after a grace period. It removes the work directory when Start created it.
// Stop may be called more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	c.Storage.close()
	for _, name := range append(storageNames, "olm-operator", "olm-catalog", "opm", "kube-controller-manager", "kube-apiserver", "etcd") {
		for _, p := range procs {
			if p.name == name {
				stopProc(p, 10*time.Second)
			}
		}
	}
	if c.ownDir && os.Getenv(KeepDirEnv) == "" {
		return os.RemoveAll(c.Dir)
	}
	return nil
}

// KeepDirEnv, when set to any value, keeps each cluster's work directory (component logs, pod
// logs under node/) after Stop, for reading after a failed test.
const KeepDirEnv = "MTC_KEEP_CLUSTER_DIRS"

func stopProc(p *proc, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago. A child process binds them
// later, so another cluster of a parallel test can take one first: start such a process through
// onFreePorts, which tries again with new ports. An in-process server listens with listenLoopback
// instead and never lets its port go.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenLoopback listens on a free loopback port.
func listenLoopback() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("failed to find a free loopback port: %w", err)
	}
	return l, nil
}

// errPortTaken marks a component that exited at start because a port given to it was bound by
// someone else between freePorts and its own bind.
var errPortTaken = errors.New("a port it was given was taken meanwhile")

// portAttempts is how many sets of ports onFreePorts tries.
const portAttempts = 5

// onFreePorts runs start with n free loopback ports, and again with new ones while it fails because
// one was taken meanwhile (errPortTaken), up to portAttempts times.
func onFreePorts(n int, start func(ports []int) error) error {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(n)
		if err != nil {
			return err
		}
		err = start(ports)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

// exitedAtStart describes a component that ended before it was ready, pointing at its log; when the
// log says a port was in use, the error wraps errPortTaken.
func exitedAtStart(name string, p *proc) error {
	err := fmt.Errorf("%s exited at start (%s): read %s", name, p.cmd.ProcessState, p.log)
	if b, rerr := os.ReadFile(p.log); rerr == nil && int64(len(b)) >= p.logFrom && bytes.Contains(b[p.logFrom:], []byte("address already in use")) {
		return fmt.Errorf("%w: %w", err, errPortTaken)
	}
	return err
}
