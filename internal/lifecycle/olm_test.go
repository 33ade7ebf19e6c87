package lifecycle_test

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
)

var subscriptionsGVR = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}

// Each OpenShift minor a chart supports installs, with default values, the newest bundle of the
// chart's channel in that minor's catalog, with OADP resolved by OLM, up to a reconciled
// MigrationController that helm test confirms.
func TestIntegrationInstallPerMinor(t *testing.T) {
	testCases := []struct {
		chart, line string
		minors      []string
	}{
		{"mtc-1.8", "1.8", []string{"4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20"}},
		{"mtc-1.7", "1.7", []string{"4.12", "4.13", "4.14", "4.15", "4.16", "4.17"}},
	}
	matrix, err := charts.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range testCases {
		compat := matrix[tc.line]
		for i, minor := range tc.minors {
			// Alternate the Helm CLIs so that both install every line.
			helm := []string{"helm", "helm4"}[i%2]
			t.Run(tc.chart+"/"+minor+"/"+helm, func(t *testing.T) {
				t.Parallel()
				cat, err := catalog.For(minor)
				if err != nil {
					t.Fatal(err)
				}
				head, ok := cat.Head(catalog.MTCPackage, compat.Channel)
				if !ok {
					t.Fatalf("the %s catalog has no channel %s", minor, compat.Channel)
				}
				l := lab(t, helm)
				ctx := ctxFor(t)
				e := cluster(t, l, localcluster.Flavour{Kind: localcluster.OCP4, Version: minor})
				if _, err := l.Install(ctx, e, tc.chart); err != nil {
					t.Fatal(err)
				}
				sub, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).Get(ctx, "mtc-operator", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV"); got != head.CSV {
					t.Errorf("installed %s, want the channel head %s", got, head.CSV)
				}
				if err := l.CheckInstalled(ctx, e, false); err != nil {
					t.Fatal(err)
				}
				out, err := l.Run(ctx, e, "helm", "test", "mtc", "-n", ns, "--logs", "--timeout", "2m")
				if err != nil {
					t.Fatalf("helm test: %v", err)
				}
				if !strings.Contains(out, "reconciled by operator "+head.Version) {
					t.Errorf("helm test does not report the MigrationController reconciled by %s:\n%s", head.Version, out)
				}
			})
		}
	}
}

// A user who pins OADP to a channel the catalog lacks is refused by the configure hook in one
// sentence naming the channel, well before Helm's timeout: the install runs with --timeout 30s,
// so a hook that only waited would fail with Helm's own timeout instead.
func TestIntegrationPinnedOADPChannelAbsent(t *testing.T) {
	const channel = "stable-1.1"
	cat, err := catalog.For("4.17")
	if err != nil {
		t.Fatal(err)
	}
	if cat.HasChannel(catalog.OADPPackage, channel) {
		t.Fatalf("the 4.17 catalog carries %s; pick a channel it lacks", channel)
	}
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace",
		"--set", "olm.oadp.channel="+channel, "--timeout", "30s")
	if err == nil {
		t.Fatalf("the install with OADP pinned to %s went through:\n%s", channel, out)
	}
	want := "OLM cannot resolve Subscription openshift-migration/mtc-operator ("
	var refusal string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, want) {
			refusal = line
		}
	}
	if refusal == "" || !strings.Contains(refusal, channel) {
		t.Fatalf("want the configure hook's refusal naming %s (%q…), got:\n%s", channel, want, out)
	}
	fmt.Fprintf(l.Out, "    refusal: %s\n", strings.TrimSpace(refusal))
}
