package localcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// BenchmarkStart measures a cold start to ready (flavour objects included) and the stop, per
// flavour: `go test -run '^$' -bench Start ./internal/localcluster`.
func BenchmarkStart(b *testing.B) {
	for _, f := range []localcluster.Flavour{{Kind: "kubernetes"}, {Kind: "ocp4", Version: "4.17", Network: "OVNKubernetes"}, {Kind: "ocp3"}} {
		b.Run(f.Kind, func(b *testing.B) {
			envtest.SkipIfShort(b)
			var stop time.Duration
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				c, err := localcluster.Start(ctx, localcluster.Options{Flavour: f, OnStart: testenv.Track})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				t := time.Now()
				if err := c.Stop(); err != nil {
					b.Fatal(err)
				}
				stop += time.Since(t)
			}
			b.ReportMetric(stop.Seconds()/float64(b.N), "s-stop/op")
		})
	}
}
