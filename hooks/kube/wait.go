package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// DefaultInterval is the poll interval when none is given.
const DefaultInterval = 2 * time.Second

// ProgressEvery is how often a wait logs that it is still waiting.
var ProgressEvery = 10 * time.Second

// Waiter polls conditions. The zero value polls every DefaultInterval with no deadline of its own: the
// caller's context (the --timeout) bounds it.
type Waiter struct {
	Interval time.Duration
	// Timeout bounds one wait; zero leaves only the context's deadline.
	Timeout time.Duration
	Log     *slog.Logger
}

// TimeoutError is a wait that ran out of time; errors.Is(err, context.DeadlineExceeded) holds for it.
type TimeoutError struct {
	What    string
	Waited  time.Duration
	Last    string
	Remedy  string
	wrapped error
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for %s", e.Waited.Round(time.Second), e.What)
	if e.Last != "" {
		msg += " (last seen: " + e.Last + ")"
	}
	if e.Remedy != "" {
		msg += "; " + e.Remedy
	}
	return msg
}

func (e *TimeoutError) Unwrap() error { return e.wrapped }

// Retry runs fn, and runs it again while it fails with a transient API error (an API server restart),
// within the wait's bound; it returns fn's last error, or the wait's when the bound ran out first.
func (w Waiter) Retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	var last error
	werr := w.Until(ctx, "the API server to "+what, "check that the API server is up", func(ctx context.Context) (bool, string, error) {
		last = fn(ctx)
		if last != nil && IsTransient(last) {
			return false, last.Error(), nil
		}
		return true, "", nil
	})
	if werr != nil {
		return werr
	}
	return last
}

// Condition is polled until it returns done, or an error that is not transient. The status it returns is
// logged as progress and quoted in the timeout message.
type Condition func(ctx context.Context) (done bool, status string, err error)

// Until polls cond until it is done. Transient API errors (an API server restart, overload, a dropped
// connection) are logged and retried; any other error stops the wait. On a deadline it returns a
// *TimeoutError naming what and the remedy; on cancellation (SIGTERM) the context's error.
func (w Waiter) Until(ctx context.Context, what, remedy string, cond Condition) error {
	return w.UntilWatching(ctx, what, remedy, nil, cond)
}

// Watch opens a watch on the objects a wait depends on (WatchNamed, WatchAll).
type Watch func(ctx context.Context) (watch.Interface, error)

// WatchNamed watches one object of a kind (ns "" for a cluster-scoped kind).
func WatchNamed(dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) Watch {
	return func(ctx context.Context) (watch.Interface, error) {
		return dyn.Resource(gvr).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: NameSelector(name)})
	}
}

// NameSelector is the field selector of the object called name: a list or watch of one object.
func NameSelector(name string) string {
	return fields.OneTermEqualSelector("metadata.name", name).String()
}

// WatchAll watches every object of a kind in ns.
func WatchAll(dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string) Watch {
	return func(ctx context.Context) (watch.Interface, error) {
		return dyn.Resource(gvr).Namespace(ns).Watch(ctx, metav1.ListOptions{})
	}
}

// UntilWatching is Until that also looks again as soon as a watched object changes, instead of at the
// next poll: what it waits for is seen when it happens. The polls go on beside the watches, so a watch
// that cannot be opened (a kind OLM has not served yet) or that the API server closes costs only time.
func (w Waiter) UntilWatching(ctx context.Context, what, remedy string, watches []Watch, cond Condition) error {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	return w.UntilWoken(ctx, what, remedy, watchAll(wctx, watches, cmp.Or(w.Interval, DefaultInterval)), cond)
}

// UntilWoken is Until that also looks again each time wake fires (a nil wake never fires).
func (w Waiter) UntilWoken(ctx context.Context, what, remedy string, wake <-chan struct{}, cond Condition) error {
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	log := w.Log
	if log == nil {
		log = slog.Default()
	}
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Timeout)
		defer cancel()
	}
	start := time.Now()
	lastLog := start
	var last string
	err := pollOrWake(ctx, interval, wake, func(ctx context.Context) (bool, error) {
		done, status, err := cond(ctx)
		if err != nil {
			if IsDeadlineSoon(err) {
				// The client refused to start a request it could not finish in time: let the deadline hit.
				return false, nil
			}
			if IsTransient(err) {
				log.Warn("retrying after a transient API error", "waitingFor", what, "error", err.Error())
				return false, nil
			}
			return false, err
		}
		if status != "" {
			last = status
		}
		if !done && time.Since(lastLog) >= ProgressEvery {
			lastLog = time.Now()
			log.Info("still waiting", "for", what, "status", last, "elapsed", time.Since(start).Round(time.Second).String())
		}
		return done, nil
	})
	if err == nil {
		log.Debug("done waiting", "for", what, "elapsed", time.Since(start).Round(time.Millisecond).String())
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{What: what, Waited: time.Since(start), Last: last, Remedy: remedy, wrapped: err}
	}
	return err
}

// IsDeadlineSoon reports whether err is client-go's rate limiter declining a request because the
// context's deadline would pass first; that is a timeout, reported in other words.
func IsDeadlineSoon(err error) bool {
	return err != nil && strings.Contains(err.Error(), "would exceed context deadline")
}

// pollOrWake runs cond at once, then at every interval and whenever wake fires, until it is done,
// fails, or ctx ends (then ctx's error).
func pollOrWake(ctx context.Context, interval time.Duration, wake <-chan struct{}, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, err := cond(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-wake:
		}
	}
}

// watchAll keeps each watch open until ctx ends, and signals on the channel it returns (without
// blocking: one pending signal is enough) each time one of them sees an event. A watch the API server
// refuses for good (Forbidden) is dropped; one it cannot open yet is tried again after retry.
func watchAll(ctx context.Context, watches []Watch, retry time.Duration) <-chan struct{} {
	if len(watches) == 0 {
		return nil
	}
	wake := make(chan struct{}, 1)
	for _, open := range watches {
		go func() {
			for ctx.Err() == nil {
				opened := time.Now()
				wi, err := open(ctx)
				if err != nil {
					if apierrors.IsForbidden(err) {
						return
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(retry):
					}
					continue
				}
				for range wi.ResultChan() {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
				wi.Stop()
				// A watch the API server ends at once is not opened again at once.
				select {
				case <-ctx.Done():
					return
				case <-time.After(retry - time.Since(opened)):
				}
			}
		}()
	}
	return wake
}
