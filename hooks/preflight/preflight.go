// Package preflight implements the preflight command: the version check, the storage check and the pull
// test against one or more clusters (kubeconfig contexts), reported as one table per cluster. It changes
// nothing it does not undo: the pull test deletes its pod, the storage check its probe object.
package preflight

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/pulltest"
	"github.com/mtc-helm/mtc-helm/hooks/storage"
	"github.com/mtc-helm/mtc-helm/hooks/version"
)

// Preflight is the preflight action.
type Preflight struct {
	// Contexts are the kubeconfig contexts to check; empty means the current context.
	Contexts []string
	// Clients builds the clients for a context.
	Clients func(kubeContext string) (*kube.Clients, error)

	Namespace        string
	MTCVersion       string
	AllowUnsupported bool
	// Images are pulled by the pull test; empty skips it.
	Images      []string
	PullSecrets []string
	// Storage, when set, is the replication repository to check with each cluster's proxy and (with
	// --credentials-secret) that cluster's Secret: the source and target clusters' Velero use the
	// bucket as much as the control cluster.
	Storage *storage.Check
	Waiter  kube.Waiter
	Log     *slog.Logger
}

// Cluster is the outcome for one context.
type Cluster struct {
	Context      string           `json:"context"`
	Host         string           `json:"host,omitempty"`
	Version      *version.Report  `json:"versionCheck,omitempty"`
	VersionError string           `json:"versionCheckError,omitempty"`
	Pull         *pulltest.Report `json:"pullTest,omitempty"`
	PullError    string           `json:"pullTestError,omitempty"`
	Storage      *storage.Report  `json:"storageCheck,omitempty"`
	StorageError string           `json:"storageCheckError,omitempty"`
	OK           bool             `json:"ok"`
	err          error
}

// Report is the outcome for every context.
type Report struct {
	Clusters []*Cluster `json:"clusters"`
	Result   string     `json:"result"`
}

// WriteText prints one table per cluster.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, c := range r.Clusters {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		name := c.Context
		if name == "" {
			name = "(current context)"
		}
		fmt.Fprintf(tw, "== %s  %s\n", name, c.Host)
		fmt.Fprintf(tw, "CHECK\tRESULT\tDETAIL\n")
		if v := c.Version; v != nil && v.Platform.Name != "" {
			fmt.Fprintf(tw, "platform\tok\t%s\n", v.Platform)
		}
		switch {
		case c.VersionError != "":
			fmt.Fprintf(tw, "version-check\trefused\t%s\n", c.VersionError)
		case c.Version != nil:
			fmt.Fprintf(tw, "version-check\t%s\tMTC %s supports %s\n", c.Version.Result, c.Version.MTCVersion, c.Version.Supported)
			for _, warn := range c.Version.Warnings {
				fmt.Fprintf(tw, "\twarning\t%s\n", warn)
			}
		}
		if v := c.Version; v != nil && v.Installed != nil {
			fmt.Fprintf(tw, "installed\t-\t%s\n", v.Installed)
		}
		switch {
		case c.StorageError != "":
			fmt.Fprintf(tw, "storage-check\trefused\t%s\n", c.StorageError)
		case c.Storage != nil:
			fmt.Fprintf(tw, "storage-check\t%s\t%s bucket %s: %s in %s\n", c.Storage.Result, c.Storage.Provider, c.Storage.Bucket, strings.Join(c.Storage.Steps, ", "), c.Storage.Duration)
		}
		switch {
		case c.PullError != "":
			fmt.Fprintf(tw, "pull-test\tfailed\t%s\n", c.PullError)
		case c.Pull != nil:
			fmt.Fprintf(tw, "pull-test\t%s\t%s in %s\n", c.Pull.Result, strings.Join(c.Pull.Images, ", "), c.Pull.Duration)
		default:
			fmt.Fprintf(tw, "pull-test\tskipped\tno --image given\n")
		}
	}
	fmt.Fprintf(tw, "\nresult: %s\n", r.Result)
	return tw.Flush()
}

// Run checks every context in parallel. It returns the first refusal or failure, after every context
// was checked.
func (p *Preflight) Run(ctx context.Context) (*Report, error) {
	contexts := p.Contexts
	if len(contexts) == 0 {
		contexts = []string{""}
	}
	rep := &Report{Clusters: make([]*Cluster, len(contexts)), Result: "failed"}
	var wg sync.WaitGroup
	for i, kc := range contexts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Clusters[i] = p.one(ctx, kc)
		}()
	}
	wg.Wait()
	var failed []string
	var first error
	for _, c := range rep.Clusters {
		if !c.OK {
			name := c.Context
			if name == "" {
				name = "the current context"
			}
			failed = append(failed, name)
			if first == nil {
				first = c.err
			}
		}
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("preflight failed on %s: %w", strings.Join(failed, ", "), first)
	}
	rep.Result = "ok"
	return rep, nil
}

func (p *Preflight) one(ctx context.Context, kubeContext string) *Cluster {
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("context", kubeContext)
	c := &Cluster{Context: kubeContext}
	cl, err := p.Clients(kubeContext)
	if err != nil {
		c.VersionError, c.err = err.Error(), err
		return c
	}
	c.Host = cl.Host
	check := &version.Check{Action: cl.Action(p.Namespace, p.Waiter, log),
		MTCVersion: p.MTCVersion, AllowUnsupported: p.AllowUnsupported}
	c.Version, err = check.Run(ctx)
	if err != nil {
		c.VersionError, c.err = err.Error(), err
	}
	if p.Storage != nil {
		sc := *p.Storage
		sc.Kube, sc.Dynamic, sc.Host, sc.Log = cl.Kube, cl.Dynamic, cl.Host, log
		c.Storage, err = sc.Run(ctx)
		if err != nil {
			c.StorageError = err.Error()
			if c.err == nil {
				c.err = err
			}
		}
	}
	if len(p.Images) > 0 {
		pt := &pulltest.PullTest{Action: cl.Action(p.Namespace, p.Waiter, log), Images: p.Images,
			PullSecrets: p.PullSecrets}
		c.Pull, err = pt.Run(ctx)
		if err != nil {
			c.PullError = err.Error()
			if c.err == nil {
				c.err = err
			}
		}
	}
	c.OK = c.err == nil
	return c
}
