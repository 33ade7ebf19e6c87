package charttest

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// Every hook Job ends within its own timeout plus 30 s, once, retries included, and on a cluster
// with Job pod failure policies (Kubernetes 1.26 and later) a refusal, usage error or timeout of
// the hook fails the Job at once instead of being retried after Helm has reported the failure.
func TestHookJobsEndWithinTheirTimeout(t *testing.T) {
	root, helm := setup(t, "helm")
	for _, chart := range Charts {
		for _, fl := range []string{"ocp4-ovn", "ocp3"} {
			if chart == "mtc-1.8" && fl == "ocp3" {
				continue
			}
			t.Run(chart+"/"+fl, func(t *testing.T) {
				f := Flavours[fl]
				args := append(f.Args(), "--set", "remoteClusters=null")
				if fl == "ocp3" {
					args = append(args, "--set", "migrationController.uiClusterApiEndpoint=https://master.example.com:8443")
				}
				out, err := Template(root, helm, chart, args...)
				if err != nil {
					t.Fatal(err)
				}
				policies := fl != "ocp3"
				jobs := 0
				for _, d := range decodeDocs(out) {
					var j batchv1.Job
					if err := yaml.Unmarshal(d, &j); err != nil || j.Kind != "Job" {
						continue
					}
					jobs++
					c := j.Spec.Template.Spec.Containers[0]
					timeout := -1
					if i := slices.Index(c.Args, "--timeout"); i >= 0 && i+1 < len(c.Args) {
						timeout, _ = strconv.Atoi(strings.TrimSuffix(c.Args[i+1], "s"))
					}
					if slices.Contains(c.Args, "--and") {
						// the storage check runs first in the version-check Job and the pull test last,
						// each with its own timeout
						timeout = 0
						for i, a := range c.Args {
							if a == "--timeout" {
								n, _ := strconv.Atoi(strings.TrimSuffix(c.Args[i+1], "s"))
								timeout += n
							}
						}
					}
					if timeout < 0 {
						t.Fatalf("Job %s passes no --timeout: %v", j.Name, c.Args)
					}
					if d := j.Spec.ActiveDeadlineSeconds; d == nil || *d != int64(timeout+30) {
						t.Errorf("Job %s: activeDeadlineSeconds %v, want its timeout %ds + 30", j.Name, d, timeout)
					}
					p := j.Spec.PodFailurePolicy
					if !policies {
						if p != nil {
							t.Errorf("Job %s has a podFailurePolicy on Kubernetes %s, which does not know it", j.Name, f.KubeVersion)
						}
						continue
					}
					if p == nil || len(p.Rules) != 1 || p.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob || p.Rules[0].OnExitCodes == nil {
						t.Fatalf("Job %s: podFailurePolicy %+v, want FailJob on the hook's exit codes", j.Name, p)
					}
					ec := p.Rules[0].OnExitCodes
					if ec.ContainerName == nil || *ec.ContainerName != c.Name || ec.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn || !slices.Equal(ec.Values, []int32{1, 2, 124}) {
						t.Errorf("Job %s: exit-code rule %+v, want container %s In [1 2 124]", j.Name, ec, c.Name)
					}
				}
				if jobs < 3 {
					t.Fatalf("%d hook Jobs rendered, want the version check (with the pull test), configure and cleanup", jobs)
				}
			})
		}
	}
}

// The pull test runs last in the version-check Job when both are on (a Job less for Helm to wait
// for), with its pod rules in that Job's Role; with the version check off it has its own Job and
// Role; off, it is nowhere.
func TestPullTestPlacement(t *testing.T) {
	root, helm := setup(t, "helm")
	f := Flavours["ocp4-ovn"]
	for _, tc := range []struct {
		name, set       string
		jobWithPullTest string // "" none
	}{
		{"both on", "", "mtc-hook-version-check"},
		{"version check off", "hooks.versionCheck.enabled=false", "mtc-hook-pull-test"},
		{"pull test off", "hooks.pullTest.enabled=false", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(f.Args(), "--set", "remoteClusters=null")
			if tc.set != "" {
				args = append(args, "--set", tc.set)
			}
			out, err := Template(root, helm, "mtc-1.8", args...)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []string
			podRules := map[string]bool{} // Role name: may create pods
			for _, d := range decodeDocs(out) {
				var j batchv1.Job
				if err := yaml.Unmarshal(d, &j); err == nil && j.Kind == "Job" {
					if slices.Contains(j.Spec.Template.Spec.Containers[0].Args, "pull-test") {
						jobs = append(jobs, j.Name)
					}
					continue
				}
				var r rbacv1.Role
				if err := yaml.Unmarshal(d, &r); err == nil && r.Kind == "Role" {
					for _, rule := range r.Rules {
						if slices.Contains(rule.Resources, "pods") && slices.Contains(rule.Verbs, "create") {
							podRules[r.Name] = true
						}
					}
				}
			}
			want := []string{}
			if tc.jobWithPullTest != "" {
				want = []string{tc.jobWithPullTest}
			}
			if !slices.Equal(jobs, want) {
				t.Fatalf("Jobs running the pull test: %v, want %v", jobs, want)
			}
			if tc.jobWithPullTest != "" && !podRules[tc.jobWithPullTest] {
				t.Errorf("Role %s cannot create the test pod (Roles that can: %v)", tc.jobWithPullTest, podRules)
			}
		})
	}
}
