package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var gr = schema.GroupResource{Group: "migration.openshift.io", Resource: "migplans"}

func TestIsTransient(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "x"}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("get: %w", syscall.ECONNREFUSED), true},
		{"net op error", refused, true},
		{"service unavailable", apierrors.NewServiceUnavailable("starting"), true},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), true},
		{"not found", apierrors.NewNotFound(gr, "plan-a"), false},
		{"404 page not found (unexpected body)", apierrors.NewGenericServerResponse(404, "get", gr, "", "404 page not found", 0, true), false},
		{"forbidden", apierrors.NewForbidden(gr, "plan-a", errors.New("no")), false},
		{"context deadline", context.DeadlineExceeded, false},
		{"unexpected 503 body", apierrors.NewGenericServerResponse(503, "get", gr, "", "upstream connect error", 0, true), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsTransient(tc.err); got != tc.want {
				t.Fatalf("IsTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestIsNotServed(t *testing.T) {
	t.Parallel()
	if !IsNotServed(apierrors.NewGenericServerResponse(404, "list", gr, "", "404 page not found", 0, true)) {
		t.Error("a 404 for the resource type is not served")
	}
	if IsNotServed(apierrors.NewNotFound(gr, "plan-a")) {
		t.Error("a missing object is not a missing type")
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	host := "https://api.example:6443"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"forbidden", apierrors.NewForbidden(gr, "plan-a", errors.New(`User "system:serviceaccount:openshift-migration:mtc-hook-cleanup" cannot delete resource`)),
			"cannot delete MigPlan x: the API server said"},
		{"unauthorized", apierrors.NewUnauthorized("token expired"), "rejected the credentials (the token is missing, expired or revoked); log in again"},
		{"unreachable", fmt.Errorf("get: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "is unreachable"},
		{"other", errors.New("boom"), "failed to delete MigPlan x: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Explain(tc.err, "delete MigPlan x", host)
			if !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("got %q, want it to contain %q", got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Error("the raw error is not kept for errors.Is")
			}
			if strings.Count(got.Error(), ". ") > 0 {
				t.Errorf("more than one sentence: %q", got)
			}
		})
	}
	if Explain(context.Canceled, "x", host) != context.Canceled {
		t.Error("context errors must pass through")
	}
}
