package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Refusal is a deliberate "no": the hook looked at the cluster and decided not to go on. Its message is one
// sentence that says what is wrong and what to do. The CLI exits 1 on a refusal.
type Refusal struct {
	// Message is the whole sentence, remedy included.
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Refusef builds a Refusal from a format.
func Refusef(format string, args ...any) error {
	return &Refusal{Message: fmt.Sprintf(format, args...)}
}

// IsRefusal reports whether err is, or wraps, a Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// APIError is a failed API request explained in one sentence with its remedy; Unwrap gives the raw error.
type APIError struct {
	Sentence string
	Err      error
}

func (e *APIError) Error() string { return e.Sentence }
func (e *APIError) Unwrap() error { return e.Err }

// Explain turns the error of an API request into one sentence with a remedy. doing describes the request
// ("delete MigPlan openshift-migration/plan-a"); host is the API server URL. Errors it has no remedy for
// are wrapped with doing as context. A nil error stays nil; context errors pass through unchanged so that
// timeouts and SIGTERM keep their meaning.
func Explain(err error, doing, host string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var already *APIError
	if errors.As(err, &already) {
		return err
	}
	var sentence string
	switch {
	case apierrors.IsForbidden(err):
		sentence = fmt.Sprintf("cannot %s: the API server said %q; grant that verb to the hook's ServiceAccount (hooks/README.md lists what each hook needs) or run as a user who has it",
			doing, StatusMessage(err))
	case apierrors.IsUnauthorized(err):
		sentence = fmt.Sprintf("cannot %s: the API server at %s rejected the credentials (the token is missing, expired or revoked); log in again (oc login) or refresh the kubeconfig",
			doing, host)
	case isUnreachable(err):
		sentence = fmt.Sprintf("cannot %s: the API server at %s is unreachable (%s); check that the cluster is up and that the kubeconfig points at the right address",
			doing, host, rootCause(err))
	case isCertificate(err):
		sentence = fmt.Sprintf("cannot %s: the TLS certificate of %s is not trusted (%s); fix certificate-authority-data in the kubeconfig",
			doing, host, rootCause(err))
	default:
		return fmt.Errorf("failed to %s: %w", doing, err)
	}
	return &APIError{Sentence: sentence, Err: err}
}

// StatusMessage is the API server's message in err, or err's text.
func StatusMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

func isUnreachable(err error) bool {
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsNoRoutesError(err) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

func isCertificate(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) ||
		strings.Contains(err.Error(), "x509:")
}

func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// IsTransient reports whether an error is worth retrying in a wait loop: the API server restarting,
// overloaded or briefly unreachable. Such errors do not fail a wait; the wait's deadline still holds.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// Definite answers, even when they arrive as an unexpected (non-Status) body such as "404 page not found".
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsConflict(err) ||
		apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) ||
		apierrors.IsUnsupportedMediaType(err) || apierrors.IsGone(err) {
		return false
	}
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return true
	case utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err), utilnet.IsProbableEOF(err),
		utilnet.IsHTTP2ConnectionLost(err), utilnet.IsTimeout(err):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// During a restart the apiserver may briefly answer before it has loaded CRDs or RBAC.
	msg := err.Error()
	return strings.Contains(msg, "the server is currently unable to handle the request") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "apiserver not ready")
}

// IsNotServed reports whether err says the resource type itself does not exist on the server (its CRD is
// gone or its API group is not served), as opposed to one missing object.
func IsNotServed(err error) bool {
	if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
		return false
	}
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		if d := s.Status().Details; d != nil && d.Name != "" && !strings.Contains(s.Status().Message, "could not find the requested resource") {
			return false
		}
	}
	return strings.Contains(err.Error(), "could not find the requested resource") || apierrors.IsMethodNotSupported(err)
}
