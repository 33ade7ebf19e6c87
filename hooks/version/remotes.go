package version

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// RemotesKey is the key of the remotes Secret that holds the list.
const RemotesKey = "remotes.yaml"

// Remote is one entry of remotes.yaml: a remote cluster and its migration-controller token, inline or in
// another Secret of the namespace.
type Remote struct {
	Name      string     `json:"name"`
	URL       string     `json:"url"`
	CABundle  string     `json:"caBundle,omitempty"`
	Token     string     `json:"token,omitempty"`
	SecretRef *SecretRef `json:"secretRef,omitempty"`
	Insecure  bool       `json:"insecure,omitempty"`
}

// SecretRef points at a key of a Secret in the MTC namespace.
type SecretRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// RemoteResult is what the check saw on one remote.
type RemoteResult struct {
	Name      string     `json:"name"`
	URL       string     `json:"url"`
	Platform  *Platform  `json:"platform,omitempty"`
	Installed *Installed `json:"installed,omitempty"`
	// Problem is the refusal sentence for this remote; empty when it matches.
	Problem string `json:"problem,omitempty"`
}

// Summary is one line for the text report.
func (r RemoteResult) Summary() string {
	var s string
	if r.Platform != nil {
		s = r.Platform.String() + ", "
	}
	s += "installed " + r.Installed.String()
	if r.Problem != "" {
		return s + ": " + r.Problem
	}
	return s + ": ok"
}

// RemoteClients builds clients that authenticate to a remote with its bearer token.
func RemoteClients(r Remote) (*kube.Clients, error) {
	cfg := &rest.Config{Host: r.URL, BearerToken: r.Token, UserAgent: kube.UserAgent, QPS: 20, Burst: 40}
	ca, err := decodeCA(r.CABundle)
	if err != nil {
		return nil, fmt.Errorf("caBundle of remote %s: %w", r.Name, err)
	}
	cfg.TLSClientConfig.CAData = ca
	cfg.TLSClientConfig.Insecure = r.Insecure && len(ca) == 0
	return kube.NewClients(cfg)
}

// decodeCA accepts PEM or base64-encoded PEM (as MigCluster.spec.caBundle holds it).
func decodeCA(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "-----BEGIN") {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is neither PEM nor base64-encoded PEM")
	}
	return b, nil
}

func (c *Check) loadRemotes(ctx context.Context, ns string) ([]Remote, error) {
	sec, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, c.RemotesSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, kube.Refusef("Secret %s/%s that lists the remote clusters does not exist; the chart creates it as a hook before this Job, so check that the release's remoteClusters values rendered it, or drop --remotes-secret",
			ns, c.RemotesSecret)
	}
	if err != nil {
		return nil, kube.Explain(err, "get Secret "+ns+"/"+c.RemotesSecret, c.Host)
	}
	raw, ok := sec.Data[RemotesKey]
	if !ok {
		return nil, kube.Refusef("Secret %s/%s has no key %s; it must hold the list of remote clusters as the chart renders it", ns, c.RemotesSecret, RemotesKey)
	}
	var remotes []Remote
	if err := yaml.UnmarshalStrict(raw, &remotes); err != nil {
		return nil, kube.Refusef("key %s of Secret %s/%s is not a list of {name, url, caBundle, token or secretRef}: %v", RemotesKey, ns, c.RemotesSecret, err)
	}
	for i := range remotes {
		r := &remotes[i]
		if r.Name == "" || r.URL == "" {
			return nil, kube.Refusef("entry %d of %s in Secret %s/%s lacks a name or url; every remote needs both", i, RemotesKey, ns, c.RemotesSecret)
		}
		if r.Token != "" || r.SecretRef == nil {
			continue
		}
		ts, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, r.SecretRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, kube.Refusef("Secret %s/%s with the token of remote cluster %s does not exist; create it (key %s holding the migration-controller token) before installing",
				ns, r.SecretRef.Name, r.Name, r.SecretRef.Key)
		}
		if err != nil {
			return nil, kube.Explain(err, "get Secret "+ns+"/"+r.SecretRef.Name, c.Host)
		}
		tok := strings.TrimSpace(string(ts.Data[r.SecretRef.Key]))
		if tok == "" {
			return nil, kube.Refusef("Secret %s/%s has no token under key %s for remote cluster %s; put the remote's migration-controller token there",
				ns, r.SecretRef.Name, r.SecretRef.Key, r.Name)
		}
		r.Token = tok
	}
	return remotes, nil
}

// checkRemotes reads each remote's platform and MTC version. A remote on another MTC line, without MTC, or
// unreachable gets a Problem; an error is returned only when the list itself cannot be read.
func (c *Check) checkRemotes(ctx context.Context, ns string, want charts.Version, log *slog.Logger) ([]RemoteResult, error) {
	remotes, err := c.loadRemotes(ctx, ns)
	if err != nil {
		return nil, err
	}
	build := c.Remote
	if build == nil {
		build = RemoteClients
	}
	var results []RemoteResult
	for _, r := range remotes {
		res := RemoteResult{Name: r.Name, URL: r.URL}
		cl, err := build(r)
		if err != nil {
			res.Problem = fmt.Sprintf("cannot build a client for remote cluster %s: %v; fix its entry in Secret %s/%s", r.Name, err, ns, c.RemotesSecret)
			results = append(results, res)
			continue
		}
		p, err := Detector{Discovery: cl.Discovery, Dynamic: cl.Dynamic, Host: r.URL}.Detect(ctx)
		if err != nil {
			res.Problem = fmt.Sprintf("remote cluster %s: %v", r.Name, err)
			results = append(results, res)
			continue
		}
		res.Platform = &p
		inst, err := Inspector{Kube: cl.Kube, Dynamic: cl.Dynamic, Host: r.URL, Namespace: ns}.Inspect(ctx)
		if err != nil {
			res.Problem = fmt.Sprintf("remote cluster %s: %v", r.Name, err)
			results = append(results, res)
			continue
		}
		res.Installed = inst
		log.Info("remote cluster checked", "remote", r.Name, "platform", p.Version, "mtc", inst.Version)
		switch have, err := charts.ParseVersion(inst.Version); {
		case inst.Version == "":
			res.Problem = fmt.Sprintf("remote cluster %s (%s) runs no MTC that this check can see; install the mtc chart %s.z there first (role remote), then this one",
				r.Name, r.URL, want.Line())
		case err != nil:
			res.Problem = fmt.Sprintf("remote cluster %s reports MTC version %q, which cannot be read; check its %s", r.Name, inst.Version, inst.VersionSource)
		case have.Line() != want.Line():
			res.Problem = fmt.Sprintf("remote cluster %s runs MTC %s but this cluster would run %s, and migrations need the same MTC line on both sides; install the mtc chart %s.z on every cluster",
				r.Name, have, want, want.Line())
		}
		results = append(results, res)
	}
	return results, nil
}
