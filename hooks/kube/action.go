package kube

import (
	"log/slog"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// Action is what every action of the hook binary works with, one value handed to each (as Helm's
// actions share one action.Configuration): the clients of the cluster, its name for messages, the MTC
// namespace, the waiter that paces and bounds the polls, and the logger.
type Action struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// Metadata lists metadata only; nil makes the lists that would use it read whole objects.
	Metadata metadata.Interface
	// Host names the cluster in messages (its API server URL).
	Host string
	// Namespace is the MTC namespace; empty means Namespace (openshift-migration).
	Namespace string
	Waiter    Waiter
	// Log receives progress; nil means slog.Default().
	Log *slog.Logger
}

// NS is the MTC namespace the action works in.
func (a *Action) NS() string {
	if a.Namespace == "" {
		return Namespace
	}
	return a.Namespace
}

// Logger is the action's logger.
func (a *Action) Logger() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

// Action is the Action for these clients, with the namespace, the waiter and the logger of the run.
func (c *Clients) Action(namespace string, w Waiter, log *slog.Logger) Action {
	return Action{Kube: c.Kube, Dynamic: c.Dynamic, Discovery: c.Discovery, Metadata: c.Metadata, Host: c.Host, Namespace: namespace, Waiter: w, Log: log}
}
