package storage_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/preflight"
	"github.com/mtc-helm/mtc-helm/hooks/storage"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

var (
	labOnce sync.Once
	lab     *localcluster.Cluster
	labErr  error
)

// labCluster is one plain Kubernetes control plane with the lab's object storage, shared by the
// tests of this package (each uses its own probe object and Secrets of its own names).
func labCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	envtest.SkipIfShort(t)
	labOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		lab, labErr = localcluster.Start(ctx, localcluster.Options{Flavour: localcluster.Flavour{Kind: localcluster.Kubernetes}, Storage: true, OnStart: testenv.Track})
		if labErr == nil {
			testenv.AtExit(func() { _ = lab.Stop() })
		}
	})
	if labErr != nil {
		t.Fatal(labErr)
	}
	return lab
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// secret writes the credentials into a Secret of the namespace and returns its name.
func secret(t *testing.T, c *localcluster.Cluster, name string, data map[string][]byte, labels map[string]string) string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(c.Config)
	ctx := ctxFor(t)
	_, _ = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kube.Namespace}}, metav1.CreateOptions{})
	_, err := cs.CoreV1().Secrets(kube.Namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func s3Creds(c *localcluster.Cluster) map[string][]byte {
	return map[string][]byte{storage.KeyAccessKeyID: []byte(c.Storage.S3.AccessKeyID), storage.KeySecretAccessKey: []byte(c.Storage.S3.SecretAccessKey)}
}

func azureCreds(a *localcluster.AzureEndpoint, secret string) map[string][]byte {
	return map[string][]byte{storage.KeyAzure: []byte(a.CredentialsFile(secret))}
}

// check builds the action for a provider of the lab, with the credentials in a new Secret.
func check(t *testing.T, c *localcluster.Cluster, provider string, creds map[string][]byte) *storage.Check {
	t.Helper()
	s := c.Storage
	name := "creds-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.Trim(strings.ReplaceAll(name, "_", "-"), "-")
	a := &storage.Check{Action: kube.Action{Kube: kubernetes.NewForConfigOrDie(c.Config), Host: c.URL, Namespace: kube.Namespace}, Provider: provider,
		CABundle: s.CA, CredentialsSecret: secret(t, c, name, creds, nil)}
	switch provider {
	case "aws", "s3", "mcg":
		a.Bucket, a.Endpoint, a.Region, a.ForcePathStyle = s.S3.Bucket, s.S3.URL, s.S3.Region, true
	case "gcp":
		a.Bucket, a.Endpoint = s.GCS.Bucket, s.GCS.URL
	case "azure":
		a.Endpoint = s.Azure.BlobURL
		a.Azure = storage.Azure{ResourceGroup: s.Azure.ResourceGroup, StorageAccount: s.Azure.StorageAccount, Container: s.Azure.Container}
		a.AzureCloud = storage.AzureCloud{AuthorityHost: s.Azure.AuthorityHost, ResourceManager: s.Azure.ResourceManager}
	}
	// The environment's proxy must not decide these tests.
	a.Proxy = storage.Proxy{NoProxy: "*"}
	return a
}

func goodCreds(c *localcluster.Cluster, provider string) map[string][]byte {
	switch provider {
	case "gcp":
		return map[string][]byte{storage.KeyGCP: c.Storage.GCS.ServiceAccountKey}
	case "azure":
		return azureCreds(&c.Storage.Azure, c.Storage.Azure.ClientSecret)
	}
	return s3Creds(c)
}

// For each provider the check writes, reads, lists and deletes its probe, and leaves nothing.
func TestIntegrationGoodCredentialsPass(t *testing.T) {
	c := labCluster(t)
	for _, p := range storage.Providers {
		t.Run(p, func(t *testing.T) {
			a := check(t, c, p, goodCreds(c, p))
			rep, err := a.Run(ctxFor(t))
			if err != nil {
				t.Fatalf("refused with good credentials: %v", err)
			}
			if rep.Result != "ok" || strings.Join(rep.Steps, ",") != "write,read,list,delete" || !strings.HasPrefix(rep.Object, storage.ProbePrefix) {
				t.Fatalf("report %+v", rep)
			}
			// A second check of the same bucket passes too, with a probe key of its own.
			again, err := a.Run(ctxFor(t))
			if err != nil || again.Object == rep.Object {
				t.Fatalf("second run: %+v, %v", again, err)
			}
		})
	}
}

// Each wrong setting is refused with the provider's own error code, in one sentence.
func TestIntegrationWrongSettingsRefused(t *testing.T) {
	c := labCluster(t)
	s := c.Storage
	cases := []struct {
		name, provider string
		edit           func(a *storage.Check)
		creds          map[string][]byte
		want           []string
	}{
		{name: "s3 wrong secret key", provider: "s3", creds: map[string][]byte{storage.KeyAccessKeyID: []byte(s.S3.AccessKeyID), storage.KeySecretAccessKey: []byte("wrong" + s.S3.SecretAccessKey)},
			want: []string{"SignatureDoesNotMatch", "writing a probe object to s3 bucket " + s.S3.Bucket, "secretAccessKey"}},
		{name: "mcg unknown access key", provider: "mcg", creds: map[string][]byte{storage.KeyAccessKeyID: []byte("NOSUCHKEY"), storage.KeySecretAccessKey: []byte(s.S3.SecretAccessKey)},
			want: []string{"mcg bucket", "accessKeyId"}},
		{name: "aws missing bucket", provider: "aws", edit: func(a *storage.Check) { a.Bucket = "no-such-bucket" },
			want: []string{"NoSuchBucket", "aws bucket no-such-bucket", "replicationRepository.bucket"}},
		{name: "s3 wrong region", provider: "s3", edit: func(a *storage.Check) { a.Region = "us-west-2" },
			want: []string{"AuthorizationHeaderMalformed", "signed for region us-west-2", "replicationRepository.region", s.S3.Region}},
		{name: "s3 untrusted certificate", provider: "s3", edit: func(a *storage.Check) { a.CABundle = nil },
			want: []string{"a TLS error", "caBundle"}},
		{name: "gcp key the account never had", provider: "gcp", creds: map[string][]byte{storage.KeyGCP: s.GCS.OtherKey},
			want: []string{"invalid_grant", "Invalid JWT Signature", "gcp bucket", "gcpServiceAccountKey"}},
		{name: "gcp missing bucket", provider: "gcp", edit: func(a *storage.Check) { a.Bucket = "no-such-bucket" },
			want: []string{"notFound", "gcp bucket no-such-bucket"}},
		{name: "azure wrong client secret", provider: "azure", creds: azureCreds(&s.Azure, "wrong"),
			want: []string{"invalid_client", "AADSTS7000215", "AZURE_CLIENT_SECRET"}},
		{name: "azure missing container", provider: "azure", edit: func(a *storage.Check) { a.Azure.Container = "no-such-container" },
			want: []string{"ContainerNotFound", "azure container " + s.Azure.StorageAccount + "/no-such-container"}},
		{name: "azure wrong resource group", provider: "azure", edit: func(a *storage.Check) { a.Azure.ResourceGroup = "other-group" },
			want: []string{"ResourceGroupNotFound", "resource group other-group"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			creds := tc.creds
			if creds == nil {
				creds = goodCreds(c, tc.provider)
			}
			a := check(t, c, tc.provider, creds)
			if tc.edit != nil {
				tc.edit(a)
			}
			rep, err := a.Run(ctxFor(t))
			if err == nil {
				t.Fatalf("passed: %+v", rep)
			}
			if !kube.IsRefusal(err) {
				t.Fatalf("not a refusal: %v", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("refusal lacks %q:\n%s", w, msg)
				}
			}
			if strings.Count(msg, "\n") > 0 || !strings.HasPrefix(msg, "storage-check: ") {
				t.Errorf("not one sentence: %q", msg)
			}
			for _, v := range creds {
				for _, line := range strings.Split(string(v), "\n") {
					if _, val, ok := strings.Cut(line, "="); ok {
						line = val
					}
					if len(line) > 6 && strings.Contains(msg, line) {
						t.Errorf("the refusal holds a credential: %s", msg)
					}
				}
			}
		})
	}
}

// The chart's copy of the credentials (with the CA bundle in it) is deleted once read, whether the
// check passes or refuses; the user's own Secret is not.
func TestIntegrationHookSecretIsDeletedOnceRead(t *testing.T) {
	c := labCluster(t)
	cs := kubernetes.NewForConfigOrDie(c.Config)
	a := check(t, c, "s3", s3Creds(c))
	user := a.CredentialsSecret
	hookCopy := func(name string) string {
		data := s3Creds(c)
		data[storage.KeyCABundle] = c.Storage.CA
		return secret(t, c, name, data, map[string]string{"app.kubernetes.io/component": storage.HookComponent})
	}
	gone := func(name string) {
		t.Helper()
		if _, err := cs.CoreV1().Secrets(kube.Namespace).Get(ctxFor(t), name, metav1.GetOptions{}); err == nil {
			t.Fatalf("the hook's copy %s is still there", name)
		}
	}
	a.CABundle = nil
	a.CredentialsSecret = hookCopy("hook-copy-1")
	a.CABundleSecret = a.CredentialsSecret
	a.Bucket = "no-such-bucket"
	if _, err := a.Run(ctxFor(t)); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("want NoSuchBucket, got %v", err)
	}
	gone("hook-copy-1")
	a.CredentialsSecret = hookCopy("hook-copy-2")
	a.CABundleSecret, a.Bucket = a.CredentialsSecret, c.Storage.S3.Bucket
	if _, err := a.Run(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	gone("hook-copy-2")
	// existingSecret with the CA in the hook's copy: only the copy goes.
	a.CredentialsSecret, a.CABundleSecret = user, hookCopy("hook-copy-3")
	if _, err := a.Run(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	gone("hook-copy-3")
	if _, err := cs.CoreV1().Secrets(kube.Namespace).Get(ctxFor(t), user, metav1.GetOptions{}); err != nil {
		t.Fatalf("the user's Secret is gone: %v", err)
	}
}

// connectProxy is an HTTP CONNECT proxy that alone knows where localcluster.StorageHost is.
type connectProxy struct {
	tunnels atomic.Int32
	mu      sync.Mutex
	targets []string
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.mu.Unlock()
	host, port, _ := net.SplitHostPort(r.Host)
	if host == localcluster.StorageHost || strings.HasSuffix(host, "."+localcluster.StorageHost) {
		host = "127.0.0.1"
	}
	up, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.tunnels.Add(1)
	w.WriteHeader(http.StatusOK)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	go func() {
		defer up.Close()
		defer conn.Close()
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Peek(n)
			_, _ = up.Write(b)
		}
		done := make(chan struct{})
		go func() { _, _ = io.Copy(up, conn); close(done) }()
		_, _ = io.Copy(conn, up)
		<-done
	}()
}

// startProxy serves a connectProxy on loopback until the test ends and returns it with its address.
func startProxy(t *testing.T) (*connectProxy, string) {
	t.Helper()
	p := &connectProxy{}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p, l.Addr().String()
}

// Through a proxy the check reaches the bucket by a name only the proxy resolves: without the
// proxy the same check fails on DNS.
func TestIntegrationProxyIsTheOnlyWay(t *testing.T) {
	c := labCluster(t)
	p, addr := startProxy(t)
	for _, provider := range []string{"s3", "gcp", "azure"} {
		t.Run(provider, func(t *testing.T) {
			a := check(t, c, provider, goodCreds(c, provider))
			viaName := func(u string) string { return strings.Replace(u, "127.0.0.1", localcluster.StorageHost, 1) }
			a.Endpoint = viaName(a.Endpoint)
			if provider == "azure" {
				// Azure's own form: the account in the host name.
				a.Endpoint = strings.Replace(strings.TrimSuffix(a.Endpoint, "/"+a.Azure.StorageAccount), "://", "://"+a.Azure.StorageAccount+".", 1)
				a.AzureCloud = storage.AzureCloud{AuthorityHost: viaName(a.AzureCloud.AuthorityHost), ResourceManager: viaName(a.AzureCloud.ResourceManager)}
			}
			if _, err := a.Run(ctxFor(t)); err == nil || !strings.Contains(err.Error(), "DNS") {
				t.Fatalf("without the proxy: want a DNS error, got %v", err)
			}
			before := p.tunnels.Load()
			a.Proxy = storage.Proxy{HTTPSProxy: "http://" + addr}
			rep, err := a.Run(ctxFor(t))
			if err != nil {
				t.Fatalf("through the proxy: %v", err)
			}
			if p.tunnels.Load() == before || !strings.Contains(rep.Proxy, addr) {
				t.Fatalf("the proxy carried no tunnel (report %+v)", rep)
			}
		})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, target := range p.targets {
		if host, _, _ := net.SplitHostPort(target); host != localcluster.StorageHost && !strings.HasSuffix(host, "."+localcluster.StorageHost) {
			t.Errorf("the proxy was asked for %s", target)
		}
	}
}

// A credentials file (the CLI's other source) works like the Secret; a file that is not a map is
// refused without echoing its content.
func TestIntegrationCredentialsFile(t *testing.T) {
	c := labCluster(t)
	a := check(t, c, "s3", s3Creds(c))
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(storage.KeyAccessKeyID+": "+c.Storage.S3.AccessKeyID+"\n"+storage.KeySecretAccessKey+": "+c.Storage.S3.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.CredentialsSecret, a.CredentialsFile, a.Kube = "", good, nil
	if _, err := a.Run(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- "+c.Storage.S3.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.CredentialsFile = bad
	_, err := a.Run(ctxFor(t))
	if err == nil || !strings.Contains(err.Error(), "not a YAML map") || strings.Contains(err.Error(), c.Storage.S3.SecretAccessKey) {
		t.Fatalf("want a refusal without the file's content, got %v", err)
	}
	var buf bytes.Buffer
	_ = (&storage.Report{Provider: "s3", Bucket: "b", Result: "refused"}).WriteText(&buf)
	if !strings.Contains(buf.String(), "storage:  s3 bucket b") {
		t.Fatalf("report text: %s", buf.String())
	}
}

// preflight runs the storage check on each cluster it is given, next to the version check.
func TestIntegrationPreflightRunsTheStorageCheck(t *testing.T) {
	c := labCluster(t)
	a := check(t, c, "s3", s3Creds(c))
	a.Kube = nil
	p := &preflight.Preflight{
		Clients: func(string) (*kube.Clients, error) {
			return &kube.Clients{Kube: kubernetes.NewForConfigOrDie(c.Config), Dynamic: dynamic.NewForConfigOrDie(c.Config),
				Discovery: discovery.NewDiscoveryClientForConfigOrDie(c.Config), Host: c.URL}, nil
		},
		Namespace: kube.Namespace, MTCVersion: "1.8", Storage: a,
	}
	rep, _ := p.Run(ctxFor(t))
	if len(rep.Clusters) != 1 || rep.Clusters[0].Storage == nil || rep.Clusters[0].Storage.Result != "ok" || rep.Clusters[0].StorageError != "" {
		t.Fatalf("want the storage check's ok in the preflight report, got %+v", rep.Clusters[0])
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "storage-check  ok") {
		t.Fatalf("table lacks the storage check:\n%s", buf.String())
	}
	a.Bucket = "no-such-bucket"
	rep, err := p.Run(ctxFor(t))
	if err == nil || !strings.Contains(rep.Clusters[0].StorageError, "NoSuchBucket") {
		t.Fatalf("want NoSuchBucket in the preflight, got %v / %+v", err, rep.Clusters[0])
	}
}

// provider mcg without credentials reads the endpoint and the admin keys from OpenShift Data
// Foundation's NooBaa, and is refused in one sentence where there is none.
func TestIntegrationMCGFromODF(t *testing.T) {
	c := labCluster(t)
	a := &storage.Check{Action: kube.Action{Kube: kubernetes.NewForConfigOrDie(c.Config), Dynamic: dynamic.NewForConfigOrDie(c.Config), Host: c.URL, Namespace: kube.Namespace}, Provider: "mcg", Bucket: c.Storage.S3.Bucket, Region: c.Storage.S3.Region, ForcePathStyle: true,
		MCGDiscover: true, Proxy: storage.Proxy{NoProxy: "*"}}
	_, err := a.Run(ctxFor(t))
	if err == nil || !kube.IsRefusal(err) || !strings.Contains(err.Error(), "has no NooBaa openshift-storage/noobaa") || strings.Count(err.Error(), "\n") > 0 {
		t.Fatalf("want the one-sentence refusal without OpenShift Data Foundation, got %v", err)
	}
	if err := c.InstallODF(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Run(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Endpoint != c.Storage.S3.URL || rep.Result != "ok" {
		t.Fatalf("report %+v, want the NooBaa's S3 address %s", rep, c.Storage.S3.URL)
	}
	m, err := storage.DiscoverMCG(ctxFor(t), a.Kube, a.Dynamic, c.URL)
	if err != nil || m.AccessKeyID != c.Storage.S3.AccessKeyID || string(m.CA) != string(c.Storage.CA) {
		t.Fatalf("discovered %+v, %v", m, err)
	}
}

// Without proxy flags the check takes the cluster-wide Proxy object's status, as OLM gives the
// operator and so Velero: the endpoint's name resolves only through that proxy.
func TestIntegrationClusterWideProxy(t *testing.T) {
	c := labCluster(t)
	ctx := ctxFor(t)
	dyn := dynamic.NewForConfigOrDie(c.Config)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "bin", "crds", "openshift", "proxies.yaml"))
	if err != nil {
		t.Fatalf("%v: run make tools", err)
	}
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	proxies := schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "proxies"}
	p, addr := startProxy(t)
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "Proxy", "metadata": map[string]any{"name": "cluster"}, "spec": map[string]any{}}}
	var created *unstructured.Unstructured
	// The CRD is served a moment after its creation.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		created, err = dyn.Resource(proxies).Create(ctx, obj, metav1.CreateOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("Proxy cluster: %v", err)
	}
	// The other tests of the package share the cluster and expect no cluster-wide proxy.
	t.Cleanup(func() { _ = dyn.Resource(proxies).Delete(context.Background(), "cluster", metav1.DeleteOptions{}) })
	created.Object["status"] = map[string]any{"httpsProxy": "http://" + addr, "httpProxy": "http://" + addr, "noProxy": "127.0.0.1,localhost"}
	if _, err := dyn.Resource(proxies).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := check(t, c, "s3", s3Creds(c))
	a.Dynamic, a.Proxy = dyn, storage.Proxy{}
	a.Endpoint = strings.Replace(a.Endpoint, "127.0.0.1", localcluster.StorageHost, 1)
	rep, err := a.Run(ctx)
	if err != nil {
		t.Fatalf("through the cluster-wide proxy: %v", err)
	}
	if p.tunnels.Load() == 0 || !strings.Contains(rep.Proxy, "the cluster-wide Proxy") {
		t.Fatalf("the cluster-wide proxy was not used (report %+v)", rep)
	}
}
