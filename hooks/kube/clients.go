// Package kube holds what every mtc-hooks action shares: building API clients from a kubeconfig or the
// in-cluster ServiceAccount, turning API errors into one sentence with a remedy, bounded polling that
// survives an API server restart, and the group/version/resources of the objects MTC and OLM define.
package kube

import (
	"fmt"
	"os"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// UserAgent is sent with every request, so audit logs show which hook acted.
const UserAgent = "mtc-hooks"

// ConfigOptions says where the client configuration comes from.
type ConfigOptions struct {
	// Kubeconfig is an explicit kubeconfig file; empty means $KUBECONFIG, then ~/.kube/config, then in-cluster.
	Kubeconfig string
	// Context selects a kubeconfig context; empty means the current one.
	Context string
}

// Clients are the three clients an action may use, built from one rest.Config.
type Clients struct {
	Config    *rest.Config
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// Metadata lists objects' metadata only (PartialObjectMetadata): a list of CRDs or cluster roles
	// without their schemas and rules.
	Metadata metadata.Interface
	// Host is the API server URL, for messages.
	Host string
}

// RESTConfig loads the client configuration: --kubeconfig, else KUBECONFIG or ~/.kube/config, else the
// in-cluster ServiceAccount.
func RESTConfig(o ConfigOptions) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("cannot read kubeconfig %s: %w; pass an existing file with --kubeconfig", o.Kubeconfig, err)
		}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no kubeconfig found and not running in a pod; set KUBECONFIG or pass --kubeconfig")
		}
		return nil, fmt.Errorf("cannot load the client configuration: %w; check --kubeconfig and --context", err)
	}
	cfg.UserAgent = UserAgent
	// The hooks make a handful of requests; keep the default rate limits from slowing the waits down.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// NewClients builds the typed, dynamic, discovery and metadata clients for cfg.
func NewClients(cfg *rest.Config) (*Clients, error) {
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to build the Kubernetes client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to build the dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to build the discovery client: %w", err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to build the metadata client: %w", err)
	}
	return &Clients{Config: cfg, Kube: kc, Dynamic: dc, Discovery: disc, Metadata: mc, Host: cfg.Host}, nil
}

// Load is RESTConfig followed by NewClients.
func Load(o ConfigOptions) (*Clients, error) {
	cfg, err := RESTConfig(o)
	if err != nil {
		return nil, err
	}
	return NewClients(cfg)
}
