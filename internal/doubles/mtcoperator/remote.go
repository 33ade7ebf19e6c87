package mtcoperator

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// What mig-controller checks on a remote MigCluster once its url and token Secret are valid
// (migcluster/validation.go): it builds a client for the url with the token (and the caBundle, or
// insecure), which reads the remote's API discovery within 5 s, else TestConnectFailed; then two
// SelfSubjectAccessReviews for every verb on every resource of migration.openshift.io and of
// velero.io, else SaTokenNotPrivileged. An error of the reviews themselves fails the reconcile and
// sets nothing. The controller does this in its MigCluster reconciler; the double does it in the
// background so that a remote that does not answer holds up no other object.

// ConnectTimeout is the client timeout mig-controller gives the test connection.
const ConnectTimeout = 5 * time.Second

// RemoteRetest is how often a remote is tested again when nothing of it changed.
const RemoteRetest = 30 * time.Second

type remoteTest struct {
	digest    string
	secretRV  string
	at        time.Time
	running   bool
	done      bool
	found     []critical // the verdict when done; nil with done means reachable and privileged
	reviewErr error      // the reviews failed: no verdict
}

// remotes holds the last connection test of each remote MigCluster.
type remotes struct {
	mu    sync.Mutex
	tests map[types.UID]*remoteTest
}

// connectVerdict returns what the last test of the remote MigCluster found, and whether there is
// a verdict for its current spec and token; it starts a test when none is current.
func (d *Double) connectVerdict(c *unstructured.Unstructured, url string, token []byte, secretRV string) ([]critical, bool) {
	d.remotes.mu.Lock()
	defer d.remotes.mu.Unlock()
	t := d.remotes.tests[c.GetUID()]
	current := t != nil && t.digest == specDigest(c) && t.secretRV == secretRV
	if !current || (t.done && !t.running && time.Since(t.at) > RemoteRetest) {
		insecure, _, _ := unstructured.NestedBool(c.Object, "spec", "insecure")
		caB64, _, _ := unstructured.NestedString(c.Object, "spec", "caBundle")
		ca, _ := base64.StdEncoding.DecodeString(caB64)
		next := &remoteTest{digest: specDigest(c), secretRV: secretRV, running: true}
		if current {
			// keep the last verdict while it is tested again
			next.done, next.found, next.reviewErr = t.done, t.found, t.reviewErr
		}
		d.remotes.tests[c.GetUID()] = next
		name := c.GetNamespace() + "/" + c.GetName()
		go func() {
			found, err := testRemote(url, string(token), insecure, ca)
			d.remotes.mu.Lock()
			next.running, next.done, next.at, next.found, next.reviewErr = false, true, time.Now(), found, err
			d.remotes.mu.Unlock()
			if len(found) > 0 || err != nil {
				d.log.Info("the remote MigCluster's test failed", "migcluster", name, "found", fmt.Sprint(found), "error", err)
			}
		}()
		t = next
	}
	if !t.done || t.reviewErr != nil {
		return nil, false
	}
	return t.found, true
}

// unreachable says whether the last test of a remote MigCluster could not connect to it.
func (d *Double) unreachable(uid types.UID) bool {
	d.remotes.mu.Lock()
	defer d.remotes.mu.Unlock()
	t := d.remotes.tests[uid]
	if t == nil || !t.done {
		return true // no client for it yet
	}
	for _, f := range t.found {
		if f.typ == "TestConnectFailed" {
			return true
		}
	}
	return false
}

func testRemote(url, token string, insecure bool, ca []byte) ([]critical, error) {
	cfg := &rest.Config{Host: url, BearerToken: token, Timeout: ConnectTimeout}
	if insecure {
		cfg.TLSClientConfig = rest.TLSClientConfig{Insecure: true}
	} else {
		cfg.TLSClientConfig = rest.TLSClientConfig{CAData: ca}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err == nil {
		_, err = dc.ServerGroups()
	}
	if err != nil {
		return []critical{{"TestConnectFailed", fmt.Sprintf("Test connect failed: %s", err)}}, nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ConnectTimeout)
	defer cancel()
	for _, group := range []string{"migration.openshift.io", "velero.io"} {
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Group: group, Resource: "*", Verb: "*", Version: "*"}}}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		if !r.Status.Allowed {
			return []critical{{"SaTokenNotPrivileged", "The `saToken` has insufficient privileges."}}, nil
		}
	}
	return nil, nil
}
