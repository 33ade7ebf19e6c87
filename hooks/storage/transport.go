package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"golang.org/x/net/http/httpproxy"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Proxy is an HTTP proxy setting: the chart's proxy values, or the cluster-wide Proxy object's status.
type Proxy struct {
	HTTPProxy, HTTPSProxy, NoProxy string
	// Source says where the setting came from, for the report.
	Source string
}

func (p Proxy) empty() bool { return p.HTTPProxy == "" && p.HTTPSProxy == "" }

// describe names the proxy for the report, without any user:password it may hold.
func (p Proxy) describe() string {
	if p.empty() {
		return ""
	}
	u := p.HTTPSProxy
	if u == "" {
		u = p.HTTPProxy
	}
	if parsed, err := url.Parse(u); err == nil && parsed.User != nil {
		parsed.User = nil
		u = parsed.String()
	}
	if p.Source != "" {
		return u + " (" + p.Source + ")"
	}
	return u
}

// clusterProxy is config.openshift.io/v1 Proxy, whose object "cluster" holds the cluster-wide proxy.
var clusterProxy = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "proxies"}

// proxy picks the proxy: the flags (the chart's values), else the cluster-wide Proxy object's
// status (what OLM gives the operator, and so Velero), else the environment.
func (c *Check) proxy(ctx context.Context) (Proxy, error) {
	if !c.Proxy.empty() {
		p := c.Proxy
		if p.Source == "" {
			p.Source = "the chart's proxy values"
		}
		return p, nil
	}
	if c.Dynamic != nil {
		obj, err := c.Dynamic.Resource(clusterProxy).Get(ctx, "cluster", metav1.GetOptions{})
		switch {
		case err == nil:
			status, _ := obj.Object["status"].(map[string]any)
			str := func(k string) string { s, _ := status[k].(string); return s }
			p := Proxy{HTTPProxy: str("httpProxy"), HTTPSProxy: str("httpsProxy"), NoProxy: str("noProxy"), Source: "the cluster-wide Proxy"}
			if !p.empty() {
				return p, nil
			}
		case apierrors.IsNotFound(err) || kube.IsNotServed(err):
		case apierrors.IsForbidden(err):
			return Proxy{}, kube.Explain(err, "read the cluster-wide Proxy object (proxies.config.openshift.io cluster)", c.Host)
		default:
			return Proxy{}, kube.Explain(err, "read the cluster-wide Proxy object", c.Host)
		}
	}
	env := httpproxy.FromEnvironment()
	return Proxy{HTTPProxy: env.HTTPProxy, HTTPSProxy: env.HTTPSProxy, NoProxy: env.NoProxy, Source: "the environment"}, nil
}

// httpClient is the client every provider's library gets: the CA bundle added to the system roots,
// TLS verification off only when insecure is asked for, and the proxy.
func httpClient(caPEM []byte, insecure bool, p Proxy) (*http.Client, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if len(strings.TrimSpace(string(caPEM))) > 0 && !roots.AppendCertsFromPEM(caPEM) {
		return nil, kube.Refusef("storage-check: the CA bundle holds no PEM certificate; set replicationRepository.caBundle (--ca-bundle) to the PEM of the CA that signed the endpoint's certificate")
	}
	cfg := httpproxy.Config{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: p.NoProxy}
	proxyFunc := cfg.ProxyFunc()
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // insecure is the user's explicit choice
	t.Proxy = func(r *http.Request) (*url.URL, error) { return proxyFunc(r.URL) }
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}, nil
}

// transportRefusal explains errors below the provider's protocol: DNS, connection, TLS, proxy.
func (c *Check) transportRefusal(op string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return c.refuse(op, "a TLS error", lastColon(msg),
			"set replicationRepository.caBundle (--ca-bundle) to the CA that signed the endpoint's certificate, or fix the endpoint's host name")
	case strings.Contains(msg, "no such host") || strings.Contains(msg, "server misbehaving"):
		return c.refuse(op, "a DNS error", lastColon(msg), "fix the endpoint's host name, or let the cluster's DNS resolve it")
	case strings.Contains(msg, "proxyconnect"):
		return c.refuse(op, "a proxy error", lastColon(msg), "fix the proxy (the chart's proxy values or the cluster-wide Proxy), or add the endpoint to noProxy")
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "connection reset"):
		return c.refuse(op, "a connection error", lastColon(msg), "check the endpoint URL and that the cluster may reach it (firewall, proxy, EgressNetworkPolicy)")
	}
	return nil
}

func lastColon(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return strings.TrimSpace(msg[i+2:])
	}
	return msg
}
