// Package pulltest implements the pull-test hook: it starts a short-lived pod with the images to test and
// the configured pull secrets, reports as soon as the node has pulled them or failed to, and always deletes
// its pod.
package pulltest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// ComponentLabel marks the pods of this hook, so that a rerun removes what a killed run left behind.
const (
	ComponentLabel = "app.kubernetes.io/component"
	Component      = "pull-test"
	NameLabel      = "app.kubernetes.io/name"
	Name           = "mtc-hooks"
)

// DefaultCommand keeps the container alive long enough to be seen Running.
var DefaultCommand = []string{"sleep", "3600"}

// pullFailures are the waiting reasons that mean the image cannot be pulled.
var pullFailures = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true,
}

// pulledButNotRunning are waiting reasons that come after a successful pull: the image is there, the
// container just does not run (for example runAsNonRoot with an image that runs as root).
var pulledButNotRunning = map[string]bool{
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"CrashLoopBackOff": true, "ContainerCreating": false,
}

// PullTest is the pull-test action.
type PullTest struct {
	kube.Action
	// Images to pull; each becomes one container of the test pod.
	Images []string
	// PullSecrets are the names of image pull Secrets in the namespace.
	PullSecrets []string
	// Command overrides DefaultCommand.
	Command []string
}

// Report is the outcome of a pull test.
type Report struct {
	Cluster  string   `json:"cluster"`
	Images   []string `json:"images"`
	Pod      string   `json:"pod,omitempty"`
	Result   string   `json:"result"`
	Message  string   `json:"message,omitempty"`
	Duration string   `json:"duration"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	t := kube.NewText(10)
	t.Field("cluster:", "%s", r.Cluster)
	t.Each("image:", r.Images)
	if r.Pod != "" {
		t.Field("pod:", "%s (deleted)", r.Pod)
	}
	t.FieldIf("message:", r.Message)
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// Run creates the pod, waits until its images are pulled or fail to pull, and deletes it.
func (p *PullTest) Run(ctx context.Context) (rep *Report, err error) {
	start := time.Now()
	log := p.Logger()
	rep = &Report{Cluster: p.Host, Images: p.Images, Result: "failed"}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()
	ns := p.NS()
	pods := p.Kube.CoreV1().Pods(ns)

	// A run killed before its deferred delete leaves a pod behind; remove those first.
	p.deleteLeftovers(ctx, ns, log)

	pod, err := pods.Create(ctx, p.pod(ns), metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return rep, kube.Refusef("namespace %s does not exist, so the pull test has nowhere to run; create it with its pull secret (oc create namespace %s) or pass --namespace with an existing one", ns, ns)
		}
		if apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "cannot create resource") {
			return rep, kube.Refusef("the test pod was rejected by admission in %s (%s); let the namespace admit a restricted pod or use a namespace that does",
				ns, err.Error())
		}
		return rep, kube.Explain(err, "create the pull-test pod in "+ns, p.Host)
	}
	rep.Pod = pod.Name
	log.Info("pull-test pod created", "pod", ns+"/"+pod.Name, "images", strings.Join(p.Images, ","))
	// Always delete the pod, also when ctx is cancelled by SIGTERM or the timeout.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		derr := pods.Delete(dctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		if derr != nil && !apierrors.IsNotFound(derr) {
			log.Error("failed to delete the pull-test pod; delete it by hand", "pod", ns+"/"+pod.Name, "error", derr.Error())
			if err == nil {
				err = kube.Explain(derr, "delete pull-test pod "+ns+"/"+pod.Name, p.Host)
			}
			return
		}
		log.Info("pull-test pod deleted", "pod", ns+"/"+pod.Name)
	}()

	var failure error
	watchPod := func(ctx context.Context) (watch.Interface, error) {
		return pods.Watch(ctx, metav1.ListOptions{FieldSelector: kube.NameSelector(pod.Name)})
	}
	werr := p.Waiter.UntilWatching(ctx, fmt.Sprintf("pod %s/%s to pull %s", ns, pod.Name, strings.Join(p.Images, ", ")),
		"check that a node can schedule the pod and reach the registry, or raise --timeout", []kube.Watch{watchPod},
		func(ctx context.Context) (bool, string, error) {
			cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					return false, "", fmt.Errorf("the pull-test pod %s/%s disappeared while it was being watched; rerun the hook", ns, pod.Name)
				}
				return false, "", kube.Explain(err, "get pull-test pod "+ns+"/"+pod.Name, p.Host)
			}
			done, status, ferr := judge(cur)
			if ferr != nil {
				failure = ferr
				return true, status, nil
			}
			if done {
				rep.Message = status
			}
			return done, status, nil
		})
	if werr != nil {
		return rep, werr
	}
	if failure != nil {
		rep.Message = failure.Error()
		return rep, failure
	}
	rep.Result = "ok"
	return rep, nil
}

func (p *PullTest) deleteLeftovers(ctx context.Context, ns string, log *slog.Logger) {
	sel := fmt.Sprintf("%s=%s,%s=%s", NameLabel, Name, ComponentLabel, Component)
	list, err := p.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		log.Warn("cannot list leftover pull-test pods", "error", err.Error())
		return
	}
	for _, old := range list.Items {
		err := p.Kube.CoreV1().Pods(ns).Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Warn("cannot delete a leftover pull-test pod", "pod", ns+"/"+old.Name, "error", err.Error())
			continue
		}
		log.Info("deleted a pull-test pod left by an earlier run", "pod", ns+"/"+old.Name)
	}
}

// pod builds a pod that passes the restricted Pod Security level and OpenShift restricted-v2: no fixed UID,
// so OpenShift assigns one from the namespace's range.
func (p *PullTest) pod(ns string) *corev1.Pod {
	cmd := p.Command
	if len(cmd) == 0 {
		cmd = DefaultCommand
	}
	deadline := int64(600)
	if p.Waiter.Timeout > 0 {
		deadline = int64(p.Waiter.Timeout/time.Second) + 60
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "mtc-pull-test-",
			Namespace:    ns,
			Labels:       map[string]string{NameLabel: Name, ComponentLabel: Component},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			// A safety net: should the delete ever fail, the pod still stops.
			ActiveDeadlineSeconds: &deadline,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
	for _, s := range p.PullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	for i, img := range p.Images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name:            fmt.Sprintf("pull-%d", i),
			Image:           img,
			Command:         cmd,
			ImagePullPolicy: corev1.PullAlways,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		})
	}
	return pod
}

// judge reads the pod: done when every image is pulled, an error when one cannot be.
func judge(pod *corev1.Pod) (done bool, status string, err error) {
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded {
		return true, "pod " + string(pod.Status.Phase) + ": every image was pulled", nil
	}
	pulled := 0
	var waiting []string
	for _, cs := range pod.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && pullFailures[cs.State.Waiting.Reason]:
			return true, cs.State.Waiting.Reason, pullError(cs.Image, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Waiting != nil && pulledButNotRunning[cs.State.Waiting.Reason]:
			pulled++
		case cs.State.Running != nil || cs.State.Terminated != nil || cs.ImageID != "":
			pulled++
		case cs.State.Waiting != nil:
			waiting = append(waiting, cs.Name+": "+cs.State.Waiting.Reason)
		}
	}
	if n := len(pod.Spec.Containers); n > 0 && pulled == n {
		return true, "every image was pulled (the containers do not run, which does not matter for this test)", nil
	}
	if pod.Status.Phase == corev1.PodFailed {
		return true, "pod failed", fmt.Errorf("the pull-test pod failed before its images were pulled (%s: %s); look at its events with oc describe pod -n %s %s",
			pod.Status.Reason, pod.Status.Message, pod.Namespace, pod.Name)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return false, "not scheduled: " + c.Message, nil
		}
	}
	if len(waiting) > 0 {
		return false, strings.Join(waiting, ", "), nil
	}
	return false, "pod " + strings.ToLower(string(pod.Status.Phase)), nil
}

// pullError says what the registry answered and what to do about it, in one sentence.
func pullError(image, reason, message string) error {
	msg := strings.TrimSpace(message)
	if msg == "" {
		msg = reason
	}
	lower := strings.ToLower(msg)
	var remedy string
	switch {
	case reason == "InvalidImageName":
		remedy = "fix the image reference in the values (hooks.pullTest.image or the global registry override)"
	case containsAny(lower, "unauthorized", "authentication required", "denied", "forbidden", "401", "403", "credentials"):
		remedy = "put credentials for " + registryOf(image) + " into the pull secret the chart references (pullSecrets in the values) or link it to the namespace's default ServiceAccount"
	case containsAny(lower, "not found", "manifest unknown", "manifest_unknown", "unknown manifest", "name unknown", "name_unknown", "404"):
		remedy = "check the image name and tag, or mirror the image into your registry and set the global registry override"
	case containsAny(lower, "no such host", "i/o timeout", "connection refused", "network is unreachable", "tls", "x509", "deadline"):
		remedy = "make " + registryOf(image) + " reachable from the nodes, or on a disconnected cluster point the global registry override at your mirror"
	default:
		remedy = "check the image reference, the pull secret and that the nodes can reach " + registryOf(image)
	}
	return kube.Refusef("the node cannot pull %s (%s: %s); %s", image, reason, strings.TrimSuffix(msg, "."), remedy)
}

func registryOf(image string) string {
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
