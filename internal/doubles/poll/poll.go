// Package poll runs a double's reconcile pass on a fixed interval until it is stopped, the way
// both doubles work: each pass reads the cluster afresh, so an apiserver restart only delays them.
package poll

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Loop is a running pass loop.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start calls pass every interval, the first time at once, until Stop.
func Start(interval time.Duration, pass func(ctx context.Context)) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		_ = wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
			pass(ctx)
			return false, nil
		})
	}()
	return l
}

// Stop ends the loop and waits for the running pass to return. It may be called more than once.
func (l *Loop) Stop() {
	l.once.Do(func() {
		l.cancel()
		<-l.done
	})
}
