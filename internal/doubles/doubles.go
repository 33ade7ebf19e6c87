// Package doubles starts the test doubles that stand in for what cannot run on the local cluster:
// the OLM double (package olm) on clusters that serve OLM's API, and the MTC operator double
// (package mtcoperator) everywhere. Both are labelled as doubles on every object they create
// (annotation mtc-helm.dev/double).
package doubles

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/mtc-helm/mtc-helm/internal/doubles/mtcoperator"
	"github.com/mtc-helm/mtc-helm/internal/doubles/olm"
)

// Options configure Start.
type Options struct {
	// Config is an admin client configuration of the cluster.
	Config *rest.Config
	// Log receives what the doubles do; nil discards it.
	Log *slog.Logger
	// Interval is the polling period of both doubles (default 250ms).
	Interval time.Duration
	// Catalog is what the OLM double's CatalogSources serve; nil is olm.DefaultCatalog().
	Catalog olm.Catalog
	// CompleteMigrations makes the MTC operator double run new MigMigrations to Succeeded.
	CompleteMigrations bool
}

// Doubles are the running doubles; OLM is nil on clusters without OLM's API.
type Doubles struct {
	OLM      *olm.Double
	Operator *mtcoperator.Double
}

// Start starts the doubles.
func Start(ctx context.Context, opts Options) (*Doubles, error) {
	d := &Doubles{}
	dc, err := discovery.NewDiscoveryClientForConfig(opts.Config)
	if err != nil {
		return nil, err
	}
	if _, err := dc.ServerResourcesForGroupVersion("operators.coreos.com/v1alpha1"); err == nil {
		d.OLM, err = olm.Start(ctx, olm.Options{Config: opts.Config, Catalog: opts.Catalog, Interval: opts.Interval, Log: opts.Log})
		if err != nil {
			return nil, err
		}
	}
	d.Operator, err = mtcoperator.Start(ctx, mtcoperator.Options{Config: opts.Config, Interval: opts.Interval, Log: opts.Log,
		CompleteMigrations: opts.CompleteMigrations})
	if err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Stop ends the doubles. It may be called more than once.
func (d *Doubles) Stop() {
	if d == nil {
		return
	}
	if d.Operator != nil {
		d.Operator.Stop()
	}
	if d.OLM != nil {
		d.OLM.Stop()
	}
}
