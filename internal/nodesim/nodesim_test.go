package nodesim_test

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/mtc-helm/mtc-helm/internal/hookimage"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/registry"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

const hookImage = "quay.io/mtc-helm/mtc-hooks:latest"

// restrictedNamespace creates a namespace that enforces PodSecurity "restricted".
func restrictedNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// serviceAccount creates a ServiceAccount bound to a ClusterRole with the given rules.
func serviceAccount(t *testing.T, cs kubernetes.Interface, ns, name string, rules []rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if rules == nil {
		return
	}
	role := ns + "-" + name
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// restrictedPod is a pod spec that passes PodSecurity "restricted" and OpenShift restricted-v2.
func restrictedPod(sa, image string, args ...string) corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName: sa,
		RestartPolicy:      corev1.RestartPolicyNever,
		SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "main", Image: image, Args: args,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// runJob creates a Job and waits until it Completes or Fails; it returns the pod's logs as
// `kubectl logs` reads them (through the apiserver, from the node's kubelet endpoint).
func runJob(t *testing.T, e *testenv.Env, ns, name string, spec corev1.PodSpec) (*batchv1.Job, string) {
	t.Helper()
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(int32(0)),
			Template:     corev1.PodTemplateSpec{Spec: spec},
		},
	}
	if _, err := e.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create job: %v", err)
	}
	var got *batchv1.Job
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		j, err := e.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = j
		return j.Status.Succeeded > 0 || j.Status.Failed > 0, nil
	})
	if err != nil {
		t.Fatalf("job %s/%s did not finish: %v (status %+v)", ns, name, err, got.Status)
	}
	out, err := exec.Command(envtest.Tool(t, e, "kubectl"), "--kubeconfig", e.Kubeconfig, "-n", ns, "logs", "job/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl logs job/%s: %v\n%s", name, err, out)
	}
	return got, string(out)
}

var readEverything = []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}}}

func TestIntegrationJobRunsOnEachFlavour(t *testing.T) {
	for _, tc := range []struct {
		flavour localcluster.Flavour
		mtc     string
		want    string
	}{
		{localcluster.Flavour{Kind: "ocp4", Version: "4.17", Network: "OVNKubernetes"}, "1.8.11", "4.17"},
		{localcluster.Flavour{Kind: "ocp3"}, "1.7.19", "3.11"},
	} {
		t.Run(tc.flavour.Kind, func(t *testing.T) {
			e := envtest.ForTest(t, tc.flavour)
			restrictedNamespace(t, e.Client, "hooks")
			serviceAccount(t, e.Client, "hooks", "reader", readEverything)
			job, logs := runJob(t, e, "hooks", "version", restrictedPod("reader", hookImage, "version-check", "--mtc-version", tc.mtc, "--namespace", "hooks"))
			if job.Status.Succeeded != 1 {
				t.Fatalf("job status %+v, want one Succeeded pod; logs:\n%s", job.Status, logs)
			}
			if !strings.Contains(logs, tc.want) {
				t.Errorf("kubectl logs does not name the OpenShift version %s:\n%s", tc.want, logs)
			}
		})
	}
}

// RBAC is real: a hook whose ServiceAccount lacks a verb gets Forbidden from the apiserver.
func TestIntegrationHookWithoutVerbIsForbidden(t *testing.T) {
	e := envtest.ForTest(t, localcluster.Flavour{Kind: "ocp4", Version: "4.17"})
	restrictedNamespace(t, e.Client, "hooks")
	serviceAccount(t, e.Client, "hooks", "nobody", nil)
	job, logs := runJob(t, e, "hooks", "version", restrictedPod("nobody", hookImage, "version-check", "--mtc-version", "1.8.11", "--namespace", "hooks"))
	if job.Status.Failed != 1 {
		t.Fatalf("job status %+v, want one Failed pod; logs:\n%s", job.Status, logs)
	}
	if !strings.Contains(strings.ToLower(logs), "forbidden") && !strings.Contains(logs, "not allowed") {
		t.Errorf("logs do not report the apiserver's refusal:\n%s", logs)
	}
}

// A restricted namespace refuses a pod that asks for privileges: PodSecurity admission is on.
func TestIntegrationPodSecurityEnforced(t *testing.T) {
	e := envtest.ForTest(t, localcluster.Flavour{Kind: "kubernetes"})
	restrictedNamespace(t, e.Client, "strict")
	spec := restrictedPod("default", "registry.redhat.io/ubi9:latest")
	spec.HostNetwork = true
	_, err := e.Client.CoreV1().Pods("strict").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv"}, Spec: spec}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("privileged pod in a restricted namespace: err = %v, want Forbidden by PodSecurity", err)
	}
}

func waitPod(t *testing.T, cs kubernetes.Interface, ns, name string, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return ok(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s never %s: last status %+v", ns, name, what, last.Status)
	}
	return last
}

func waitingReason(p *corev1.Pod) (string, string) {
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting != nil {
			return c.State.Waiting.Reason, c.State.Waiting.Message
		}
	}
	return "", ""
}

func TestIntegrationImagePulls(t *testing.T) {
	e := envtest.ForTest(t, localcluster.Flavour{Kind: "ocp4", Version: "4.17"})
	ctx := context.Background()
	ns := "pulls"
	restrictedNamespace(t, e.Client, ns)
	for name, cfg := range map[string][]byte{
		"wrong": registry.DockerConfigJSON("registry.redhat.io", "mtc", "not-the-password"),
		"right": registry.DockerConfigJSON("registry.redhat.io", e.Registry.Username, e.Registry.Password),
	} {
		_, err := e.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name, image, secret string) {
		spec := restrictedPod("default", image)
		spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: secret}}
		// requests equal to limits: a Guaranteed pod, whose QoS class the apiserver fixes at creation
		res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
		spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: res, Limits: res}
		if _, err := e.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("bad-creds", "registry.redhat.io/ubi9:latest", "wrong")
	pod("missing", "registry.redhat.io/ubi9/nothing-here:latest", "right")
	pod("good", "registry.redhat.io/ubi9:latest", "right")

	p := waitPod(t, e.Client, ns, "bad-creds", "reached ImagePullBackOff", func(p *corev1.Pod) bool { r, _ := waitingReason(p); return r == "ImagePullBackOff" })
	if _, msg := waitingReason(p); !strings.Contains(msg, "UNAUTHORIZED") {
		t.Errorf("ImagePullBackOff message %q does not carry the registry's UNAUTHORIZED", msg)
	}
	p = waitPod(t, e.Client, ns, "missing", "failed to pull", func(p *corev1.Pod) bool {
		r, _ := waitingReason(p)
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	if _, msg := waitingReason(p); !strings.Contains(msg, "MANIFEST_UNKNOWN") && !strings.Contains(msg, "NAME_UNKNOWN") {
		t.Errorf("missing image message %q does not carry the registry's answer", msg)
	}
	p = waitPod(t, e.Client, ns, "good", "ran", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if p.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Errorf("qosClass %q, want Guaranteed", p.Status.QOSClass)
	}
	if id := p.Status.ContainerStatuses[0].ImageID; !strings.Contains(id, "@sha256:") {
		t.Errorf("imageID %q is not a digest", id)
	}
	// Deleting a running pod ends its process and removes the pod, as a kubelet does.
	if err := e.Client.CoreV1().Pods(ns).Delete(ctx, "good", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(2))}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().Pods(ns).Get(ctx, "good", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("deleted pod still exists: %v", err)
	}
}

// activeDeadlineSeconds ends a pod that runs too long, with the kubelet's reason.
func TestIntegrationActiveDeadline(t *testing.T) {
	e := envtest.ForTest(t, localcluster.Flavour{Kind: "kubernetes"})
	ctx := context.Background()
	cfg := registry.DockerConfigJSON("registry.redhat.io", e.Registry.Username, e.Registry.Password)
	if _, err := e.Client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := restrictedPod("default", "registry.redhat.io/ubi9:latest")
	spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	spec.ActiveDeadlineSeconds = ptr.To(int64(2))
	spec.TerminationGracePeriodSeconds = ptr.To(int64(1))
	if _, err := e.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "slow"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, e.Client, "default", "slow", "failed with DeadlineExceeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "DeadlineExceeded" {
		t.Errorf("reason %q, want DeadlineExceeded", p.Status.Reason)
	}
	if n := len(e.Node.Pids()); n != 0 {
		t.Errorf("%d container processes still run after the deadline", n)
	}
}

// The hook image runs as a kubelet runs an image: pulled by the chart's reference through the mirror,
// the manifest of the node's platform picked from the index, the user checked against runAsNonRoot,
// the entrypoint taken from the image's layer. An index without the node's platform, an entrypoint
// the image lacks and an image that would run as root fail with the kubelet's reason and message.
func TestIntegrationHookImageRunsFromItsLayers(t *testing.T) {
	e := envtest.ForTest(t, localcluster.Flavour{Kind: "ocp4", Version: "4.17"})
	ctx := context.Background()
	ns := "hook-image"
	restrictedNamespace(t, e.Client, ns)
	serviceAccount(t, e.Client, ns, "reader", readEverything)
	versions, err := hookimage.ChartVersions(e.Root)
	if err != nil {
		t.Fatal(err)
	}
	hook := "quay.io/" + testenv.HookImage + ":" + versions[0]

	job, logs := runJob(t, e, ns, "good", restrictedPod("reader", hook, "version-check", "--help"))
	if job.Status.Succeeded != 1 || !strings.Contains(logs, "version-check") {
		t.Fatalf("the hook image did not run its entrypoint: %+v\n%s", job.Status, logs)
	}
	pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=good"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of job good: %v %v", pods, err)
	}
	if id := pods.Items[0].Status.ContainerStatuses[0].ImageID; !strings.HasPrefix(id, "quay.io/"+testenv.HookImage+"@sha256:") {
		t.Errorf("imageID %q is not the platform manifest's digest", id)
	}

	// Variants of the image, each pushed under a tag of its own.
	variant := func(tag, arch string, edit func(*v1.Config)) string {
		ref, err := testenv.PushHookVariant(ctx, e.Registry, tag, arch, edit)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct {
		name, image, reason, message string
	}{
		{"no-platform", variant("other-arch", other, func(*v1.Config) {}), "ErrImagePull",
			`no image found in image index for architecture "` + runtime.GOARCH + `"`},
		{"bad-entrypoint", variant("bad-entrypoint", runtime.GOARCH, func(c *v1.Config) { c.Entrypoint = []string{"/usr/local/bin/mtc-hookz"} }),
			"CreateContainerError", `exec: "/usr/local/bin/mtc-hookz": stat /usr/local/bin/mtc-hookz: no such file or directory`},
		{"root-user", variant("root", runtime.GOARCH, func(c *v1.Config) { c.User = "" }),
			"CreateContainerConfigError", "container has runAsNonRoot and image will run as root"},
	} {
		spec := restrictedPod("reader", tc.image, "version-check")
		if _, err := e.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, e.Client, ns, tc.name, "reported "+tc.reason, func(p *corev1.Pod) bool { r, _ := waitingReason(p); return r == tc.reason })
		if _, msg := waitingReason(p); !strings.Contains(msg, tc.message) {
			t.Errorf("%s: %s message %q, want it to say %q", tc.name, tc.reason, msg, tc.message)
		}
	}
}
