package app

import (
	"strings"
	"testing"

	"github.com/mtc-helm/mtc-helm/hooks/cleanup"
	"github.com/mtc-helm/mtc-helm/hooks/configure"
	"github.com/mtc-helm/mtc-helm/hooks/pulltest"
	"github.com/mtc-helm/mtc-helm/hooks/storage"
	"github.com/mtc-helm/mtc-helm/hooks/verify"
	"github.com/mtc-helm/mtc-helm/internal/golden"
)

// TestReportsText pins the text report of each hook whose own tests do not (cleanup's, version-check's
// and preflight's have golden files of their own), with every optional line present.
func TestReportsText(t *testing.T) {
	const cluster = "https://api.control.example.com:6443"
	for name, r := range map[string]report{
		"configure": &configure.Report{Cluster: cluster, Operator: "OLM, CSV mtc-operator.v1.8.11 Succeeded", CRDs: 12,
			Objects: []configure.Applied{{Kind: "MigrationController", Name: "openshift-migration/migration-controller", Status: "reconciled by operator 1.8.11"},
				{Kind: "MigStorage", Name: "openshift-migration/repo", Status: "Ready"}},
			Pruned: []string{"MigStorage openshift-migration/old-repo"}, Kept: []string{"MigCluster openshift-migration/ocp3: MigPlan plan-a uses it"},
			Egress: []string{"EgressNetworkPolicy openshift-migration/default: rule for 10.0.0.0/8 added"}, Result: "ok", Duration: "3.2s"},
		"verify": &verify.Report{Cluster: cluster, Checks: []verify.Check{{What: "CSV", OK: true, Detail: "mtc-operator.v1.8.11 Succeeded"},
			{What: "MigStorage repo", OK: false, Detail: "not Ready: bucket mtc-repo does not exist"}}, Result: "failed", Duration: "1.1s"},
		"pull-test": &pulltest.Report{Cluster: cluster, Images: []string{"registry.redhat.io/ubi9:latest", "registry.redhat.io/ubi9/ubi-minimal:latest"},
			Pod: "mtc-pull-test-x7k2p", Message: "both images pulled", Result: "ok", Duration: "2.4s"},
		"storage": &storage.Report{Cluster: cluster, Provider: "aws", Bucket: "mtc-repo", Endpoint: "https://s3.example.com", Proxy: "http://proxy.example.com:3128",
			Object: "mtc-helm-check/abc", Steps: []string{"write", "read", "list", "delete"}, Result: "ok", Duration: "0.4s"},
		"restore": &cleanup.RestoreReport{Cluster: cluster, Export: "20260102-030405", Created: []string{"MigStorage openshift-migration/repo", "MigPlan openshift-migration/plan-a"},
			Existing: []string{"MigCluster openshift-migration/host"}, Skipped: []string{"MigMigration openshift-migration/mig-1: history is not restored"}, Result: "ok", Duration: "0.8s"},
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "report-"+name+".txt", b.String())
		})
	}
}
