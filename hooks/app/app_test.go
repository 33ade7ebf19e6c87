package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n", server)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
	}))
	t.Cleanup(unauthorized.Close)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Plain Kubernetes: no OpenShift groups, so version-check refuses quickly; configure waits instead.
		switch r.URL.Path {
		case "/api/v1/namespaces/openshift-migration/configmaps/mtc-configure":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"mtc-configure","namespace":"openshift-migration"},"data":{"operator.yaml":"{mode: legacy, deployment: migration-operator}","objects.yaml":""}}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"details":{"name":"migration-operator"},"message":"not found"}`)
		}
	}))
	t.Cleanup(hanging.Close)

	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no action", nil, ExitUsage, "no action given"},
		{"unknown action", []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"unknown flag", []string{"cleanup", "--frob"}, ExitUsage, "unknown flag: --frob"},
		{"bad output", []string{"cleanup", "-o", "yaml"}, ExitUsage, `--output "yaml" is not text or json`},
		{"missing mtc version", []string{"version-check"}, ExitUsage, "--mtc-version is required"},
		{"mtc version not a version", []string{"version-check", "--mtc-version", "foo"}, ExitUsage, `--mtc-version "foo" is not an MTC version`},
		{"mtc version of an unknown line", []string{"version-check", "--mtc-version", "1.9"}, ExitUsage, "--mtc-version 1.9 is not a line this binary knows; pass one of 1.7, 1.8"},
		{"preflight mtc version not a version", []string{"preflight", "--mtc-version", "1"}, ExitUsage, `--mtc-version "1" is not an MTC version`},
		{"bad phase", []string{"cleanup", "--phase", "later"}, ExitUsage, `--phase "later"`},
		{"removed --force", []string{"cleanup", "--force"}, ExitUsage, "--force is gone: it mixed three risks; choose --during-migration"},
		{"bad platform", []string{"version-check", "--mtc-version", "1.8", "--platform", "eks"}, ExitUsage, `--platform "eks"`},
		{"bad egress kind", []string{"version-check", "--mtc-version", "1.8", "--egress-namespaces", "shop", "--egress-kind", "NetworkPolicy"}, ExitUsage, `--egress-kind "NetworkPolicy" is not EgressNetworkPolicy or EgressFirewall`},
		{"missing kubeconfig", []string{"version-check", "--mtc-version", "1.8", "--kubeconfig", "/nonexistent/kubeconfig"}, ExitFailed, "cannot read kubeconfig /nonexistent/kubeconfig"},
		{"unreachable API server", []string{"version-check", "--mtc-version", "1.8", "--kubeconfig", kubeconfig(t, closedPort(t))}, ExitFailed, "is unreachable"},
		{"expired token", []string{"version-check", "--mtc-version", "1.8", "--kubeconfig", kubeconfig(t, unauthorized.URL)}, ExitFailed, "rejected the credentials"},
		{"--and stops at the first failure", []string{"version-check", "--and", "frobnicate"}, ExitUsage, "--mtc-version is required"},
		{"--and runs the next after a success", []string{"--help", "--and", "frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"storage-check without credentials", []string{"storage-check", "--provider", "s3", "--bucket", "b"}, ExitUsage, "exactly one of --credentials-secret NAME or --credentials-file FILE"},
		{"storage-check bad provider", []string{"storage-check", "--provider", "ibm", "--bucket", "b"}, ExitUsage, `--provider "ibm" is not one of aws, s3, mcg, gcp, azure`},
		{"timeout", []string{"configure", "--timeout", "300ms", "--interval", "50ms", "--kubeconfig", kubeconfig(t, hanging.URL)}, ExitTimeout, "timed out after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := Run(context.Background(), &out, &errb, tc.args)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			last := lastLine(errb.String())
			if !strings.Contains(last, tc.contains) || !strings.HasPrefix(last, "error: ") {
				t.Fatalf("last stderr line %q does not contain %q", last, tc.contains)
			}
		})
	}
}

func TestRunJSONOutput(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := Run(context.Background(), &out, &errb, []string{"version-check", "--mtc-version", "1.8", "-o", "json", "--kubeconfig", kubeconfig(t, closedPort(t))})
	if code != ExitFailed {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if doc.OK || !strings.Contains(doc.Error, "unreachable") {
		t.Fatalf("got %+v", doc)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"mtc-configure"},"data":{"operator.yaml":"{mode: olm, subscription: mtc-operator}","objects.yaml":""}}`)
	}))
	t.Cleanup(srv.Close)
	code := Run(ctx, &out, &errb, []string{"configure", "--interval", "20ms", "--kubeconfig", kubeconfig(t, srv.URL)})
	if code != ExitFailed || !strings.Contains(errb.String(), "interrupted (SIGTERM or SIGINT)") {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
