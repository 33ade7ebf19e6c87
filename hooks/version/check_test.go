package version

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/kube/kubefake"
	"github.com/mtc-helm/mtc-helm/internal/golden"
)

// cluster is a fixture builder for a fake cluster.
type cluster struct {
	minor     string
	groups    []string
	objects   []runtime.Object // typed objects for the Kubernetes clientset
	unstrs    []runtime.Object // objects for the dynamic client
	hint      string
	clientset *fake.Clientset
}

func ocp4(v string) *cluster {
	c := &cluster{minor: "30", groups: []string{"config.openshift.io", "route.openshift.io", "operators.coreos.com"}}
	cv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
		"metadata": map[string]any{"name": "version"},
		"status": map[string]any{
			"desired": map[string]any{"version": v},
			"history": []any{
				map[string]any{"state": "Partial", "version": "9.9.9"},
				map[string]any{"state": "Completed", "version": v},
			},
		},
	}}
	c.unstrs = append(c.unstrs, cv)
	return c
}

func ocp3() *cluster {
	return &cluster{minor: "11+", groups: []string{"project.openshift.io", "route.openshift.io", "security.openshift.io"}}
}

func plain() *cluster { return &cluster{minor: "30", groups: []string{"apps", "batch"}} }

func (c *cluster) with(objs ...runtime.Object) *cluster {
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok {
			c.unstrs = append(c.unstrs, o)
		} else {
			c.objects = append(c.objects, o)
		}
	}
	return c
}

func (c *cluster) check(mtc string) *Check {
	c.clientset = fake.NewClientset(c.objects...)
	disc := c.clientset.Discovery().(*fakediscovery.FakeDiscovery)
	disc.FakedServerVersion = &version.Info{Major: "1", Minor: c.minor, GitVersion: "v1." + strings.TrimSuffix(c.minor, "+") + ".0"}
	disc.Resources = nil
	for _, g := range c.groups {
		disc.Resources = append(disc.Resources, &metav1.APIResourceList{GroupVersion: g + "/v1"})
	}
	dyn := kubefake.Dynamic(c.unstrs...)
	hint := c.hint
	return &Check{
		Action:               kube.Action{Kube: c.clientset, Dynamic: dyn, Discovery: disc, Host: "https://api.test:6443", Namespace: kube.Namespace},
		MTCVersion:           mtc,
		OpenShiftVersionHint: func(context.Context) (string, error) { return hint, nil },
	}
}

func subscription(ns, name, release string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"name": "mtc-operator", "channel": "release-v1.8"},
	}}
	if release != "" {
		u.SetAnnotations(map[string]string{kube.HelmReleaseNameKey: release, kube.HelmReleaseNSKey: ns})
	}
	return u
}

func csv(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": name, "namespace": ns},
	}}
}

func migrationController(version string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigrationController",
		"metadata": map[string]any{"name": "migration-controller", "namespace": kube.Namespace},
		"spec":     map[string]any{"version": version},
	}}
}

func legacyDeployment(release, image string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "migration-operator", Namespace: kube.Namespace}}
	if release != "" {
		d.Annotations = map[string]string{kube.HelmReleaseNameKey: release}
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "operator", Image: image}}
	return d
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cluster     *cluster
		mtc         string
		release     string
		allow       bool
		platform    string
		role        string
		wantRefusal string // substring; empty means success
		wantResult  string
		wantPlat    string
	}{
		{name: "1.8 on 4.17", cluster: ocp4("4.17.3"), mtc: "1.8.8", wantResult: "ok", wantPlat: "4.17.3"},
		{name: "1.8 on 4.14", cluster: ocp4("4.14.0"), mtc: "1.8", wantResult: "ok"},
		{name: "1.8 on 4.12 refused", cluster: ocp4("4.12.9"), mtc: "1.8.8",
			wantRefusal: "MTC 1.8 supports OCP 4.14 and later, but https://api.test:6443 runs OCP 4.12.9; install the mtc chart 1.7.z instead"},
		{name: "1.8 on 4.12 allowed unsupported", cluster: ocp4("4.12.9"), mtc: "1.8.8", allow: true, wantResult: "ok with warnings"},
		{name: "1.7 on 4.17", cluster: ocp4("4.17.0"), mtc: "1.7.19", wantResult: "ok"},
		{name: "1.7 on 4.18 refused", cluster: ocp4("4.18.1"), mtc: "1.7.19", wantRefusal: "install the mtc chart 1.8.z instead"},
		{name: "1.7 on 3.11", cluster: ocp3(), mtc: "1.7", wantResult: "ok", wantPlat: "3.11"},
		{name: "1.8 on 3.11 refused", cluster: ocp3(), mtc: "1.8", wantRefusal: "runs OCP 3.11; install the mtc chart 1.7.z"},
		{name: "forced platform mismatch", cluster: ocp4("4.17.0"), mtc: "1.7", platform: "ocp3",
			wantRefusal: "the values set platform ocp3, but https://api.test:6443 is OCP 4.17.0 (Kubernetes v1.30.0)"},
		{name: "forced platform matches", cluster: ocp3(), mtc: "1.7", platform: "ocp3", wantResult: "ok"},
		{name: "control on ocp3 refused", cluster: ocp3(), mtc: "1.7", role: "control", wantRefusal: "can only be a migration source; install it with role remote"},
		{name: "control on ocp3 allowed unsupported", cluster: ocp3(), mtc: "1.7", role: "control", allow: true, wantResult: "ok with warnings"},
		{name: "remote on ocp3", cluster: ocp3(), mtc: "1.7", role: "remote", wantResult: "ok"},
		{name: "plain kubernetes refused", cluster: plain(), mtc: "1.8", wantRefusal: "is plain Kubernetes v1.30.0, not OpenShift"},
		{name: "openshift groups on new kubernetes refused", cluster: &cluster{minor: "30", groups: []string{"route.openshift.io"}}, mtc: "1.7",
			wantRefusal: "neither OCP 3 nor OCP 4"},
		{name: "subscription in another namespace", mtc: "1.8", release: "mtc",
			cluster:     ocp4("4.17.0").with(subscription("other", "mtc-operator", "")),
			wantRefusal: "Subscription other/mtc-operator already exists outside openshift-migration"},
		{name: "foreign subscription in our namespace", mtc: "1.8", release: "mtc",
			cluster:     ocp4("4.17.0").with(subscription(kube.Namespace, "mtc-operator", ""), csv(kube.Namespace, "mtc-operator.v1.8.5")),
			wantRefusal: "which Helm release mtc does not own (it was not installed with Helm)"},
		{name: "our subscription upgrades", mtc: "1.8.8", release: "mtc", wantResult: "ok",
			cluster: ocp4("4.17.0").with(subscription(kube.Namespace, "mtc", "mtc"), csv(kube.Namespace, "mtc-operator.v1.8.5"))},
		{name: "our 1.7 subscription moves to 1.8", mtc: "1.8.8", release: "mtc", wantResult: "ok",
			cluster: ocp4("4.17.0").with(subscription(kube.Namespace, "mtc", "mtc"), csv(kube.Namespace, "mtc-operator.v1.7.19"))},
		{name: "downgrade refused", mtc: "1.8.2", release: "mtc",
			cluster:     ocp4("4.17.0").with(subscription(kube.Namespace, "mtc", "mtc"), csv(kube.Namespace, "mtc-operator.v1.8.5")),
			wantRefusal: "MTC 1.8.5 is installed (CSV mtc-operator.v1.8.5) and 1.8.2 would be a downgrade"},
		{name: "line downgrade refused", mtc: "1.7", release: "mtc",
			cluster:     ocp4("4.17.0").with(subscription(kube.Namespace, "mtc", "mtc"), migrationController("1.8.8")),
			wantRefusal: "would be a downgrade"},
		{name: "legacy operator on ocp4 refused", mtc: "1.8",
			cluster:     ocp4("4.17.0").with(legacyDeployment("", "quay.io/konveyor/mig-legacy-operator-container:release-1.7.14")),
			wantRefusal: "the legacy MTC operator (Deployment openshift-migration/migration-operator) runs on this OCP 4 cluster"},
		{name: "foreign legacy operator on ocp3 refused", mtc: "1.7", release: "mtc",
			cluster:     ocp3().with(legacyDeployment("", "registry.redhat.io/rhmtc/openshift-migration-legacy-rhel8-operator:v1.7")),
			wantRefusal: "Helm release mtc does not own it"},
		{name: "our legacy operator on ocp3", mtc: "1.7.19", release: "mtc", wantResult: "ok",
			cluster: ocp3().with(legacyDeployment("mtc", "registry.redhat.io/rhmtc/openshift-migration-legacy-rhel8-operator:v1.7"))},
		{name: "leftover csv", mtc: "1.8", release: "mtc",
			cluster:     ocp4("4.17.0").with(csv(kube.Namespace, "mtc-operator.v1.8.5")),
			wantRefusal: "is left over without a Subscription"},
		{name: "no release: foreign install only warns about the line", mtc: "1.8", wantResult: "ok with warnings",
			cluster: ocp4("4.17.0").with(subscription(kube.Namespace, "mtc", ""), csv(kube.Namespace, "mtc-operator.v1.7.19"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cluster.check(tc.mtc)
			c.Release, c.AllowUnsupported, c.Platform, c.Role = tc.release, tc.allow, tc.platform, tc.role
			rep, err := c.Run(context.Background())
			if tc.wantRefusal != "" {
				var r *kube.Refusal
				if !errors.As(err, &r) {
					t.Fatalf("want a refusal containing %q, got %v", tc.wantRefusal, err)
				}
				if !strings.Contains(r.Message, tc.wantRefusal) {
					t.Fatalf("refusal %q\ndoes not contain %q", r.Message, tc.wantRefusal)
				}
				if strings.Count(r.Message, ". ") > 0 {
					t.Errorf("refusal is more than one sentence: %q", r.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if rep.Result != tc.wantResult {
				t.Errorf("result %q, want %q (warnings %v)", rep.Result, tc.wantResult, rep.Warnings)
			}
			if tc.wantPlat != "" && rep.Platform.Version != tc.wantPlat {
				t.Errorf("platform version %q, want %q", rep.Platform.Version, tc.wantPlat)
			}
			var sb strings.Builder
			if err := rep.WriteText(&sb); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "check/"+golden.Name(tc.name)+".txt", golden.Stable(sb.String()))
		})
	}
}

func TestCheckRejectsUnknownLine(t *testing.T) {
	t.Parallel()
	_, err := ocp4("4.17.0").check("2.0").Run(context.Background())
	if err == nil || kube.IsRefusal(err) || !strings.Contains(err.Error(), "not a line this binary knows") {
		t.Fatalf("got %v", err)
	}
}

func TestOCP3VersionHint(t *testing.T) {
	t.Parallel()
	tests := map[string]string{"v3.11.248": "3.11.248", "": "3.11", "v4.1.0": "3.11", "garbage": "3.11"}
	for hint, want := range tests {
		t.Run(hint, func(t *testing.T) {
			t.Parallel()
			c := ocp3()
			c.hint = hint
			rep, err := c.check("1.7").Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Platform.Version != want {
				t.Fatalf("version %q, want %q", rep.Platform.Version, want)
			}
		})
	}
}

func TestRemotes(t *testing.T) {
	t.Parallel()
	remotesSecret := func(yaml string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mtc-version-check-remotes", Namespace: kube.Namespace},
			Data: map[string][]byte{RemotesKey: []byte(yaml)}}
	}
	tokenSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ocp3-token", Namespace: kube.Namespace},
		Data: map[string][]byte{"saToken": []byte("tok-from-ref\n")}}
	tests := []struct {
		name        string
		secret      *corev1.Secret
		remote      *cluster
		wantRefusal string
		wantToken   string
	}{
		{name: "same line", secret: remotesSecret("- {name: east, url: 'https://east:6443', token: abc}\n"),
			remote: ocp4("4.16.0").with(csv(kube.Namespace, "mtc-operator.v1.8.3")), wantToken: "abc"},
		{name: "token from secretRef", secret: remotesSecret("- {name: old, url: 'https://old:8443', secretRef: {name: ocp3-token, key: saToken}}\n"),
			remote: ocp4("4.16.0").with(migrationController("1.8.1")), wantToken: "tok-from-ref"},
		{name: "other line", secret: remotesSecret("- {name: east, url: 'https://east:6443', token: abc}\n"),
			remote:      ocp4("4.16.0").with(csv(kube.Namespace, "mtc-operator.v1.7.19")),
			wantRefusal: "remote cluster east runs MTC 1.7.19 but this cluster would run 1.8, and migrations need the same MTC line"},
		{name: "no mtc on remote", secret: remotesSecret("- {name: east, url: 'https://east:6443', token: abc}\n"),
			remote: ocp4("4.16.0"), wantRefusal: "runs no MTC that this check can see"},
		{name: "missing secret", remote: ocp4("4.16.0"), wantRefusal: "Secret openshift-migration/mtc-version-check-remotes that lists the remote clusters does not exist"},
		{name: "bad yaml", secret: remotesSecret("name: x\n"), remote: ocp4("4.16.0"), wantRefusal: "is not a list of"},
		{name: "missing token secret", secret: remotesSecret("- {name: old, url: 'https://old:8443', secretRef: {name: nope, key: saToken}}\n"),
			remote: ocp4("4.16.0"), wantRefusal: "Secret openshift-migration/nope with the token of remote cluster old does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			local := ocp4("4.17.0").with(tokenSecret)
			if tc.secret != nil {
				local.with(tc.secret)
			}
			c := local.check("1.8")
			c.RemotesSecret = "mtc-version-check-remotes"
			remote := tc.remote.check("1.8")
			var gotToken string
			c.Remote = func(r Remote) (*kube.Clients, error) {
				gotToken = r.Token
				return &kube.Clients{Kube: remote.Kube, Dynamic: remote.Dynamic, Discovery: remote.Discovery, Host: r.URL}, nil
			}
			rep, err := c.Run(context.Background())
			if tc.wantRefusal != "" {
				if err == nil || !kube.IsRefusal(err) || !strings.Contains(err.Error(), tc.wantRefusal) {
					t.Fatalf("want refusal %q, got %v", tc.wantRefusal, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotToken != tc.wantToken {
				t.Errorf("token %q, want %q", gotToken, tc.wantToken)
			}
			if len(rep.Remotes) != 1 || rep.Remotes[0].Problem != "" {
				t.Errorf("remotes %+v", rep.Remotes)
			}
		})
	}
}
