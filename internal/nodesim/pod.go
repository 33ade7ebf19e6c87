package nodesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
)

// podRunner plays the kubelet for one pod.
type podRunner struct {
	n   *Node
	pod *corev1.Pod
	ip  string
	dir string

	mu       sync.Mutex
	status   corev1.PodStatus
	procs    map[string]*exec.Cmd        // running processes by container name
	exited   map[*exec.Cmd]chan struct{} // closed when the process has been waited for
	running  map[string]bool
	deleting bool
	grace    time.Duration
	stopAll  chan struct{} // closed when containers must stop for good
	stopOnce sync.Once
	dirty    chan struct{}
	// gen counts the changes of status; written is the last one the writer wrote, and wrote fires
	// after each write and when the writer ends.
	gen        int
	written    int
	wrote      signal
	writerDone chan struct{}
	// logged fires after each line a container writes and when a container ends.
	logged     signal
	finished   chan struct{} // closed when every container has ended for good
	kubeconfig string
}

func newPodRunner(n *Node, pod *corev1.Pod, ip string) *podRunner {
	return &podRunner{
		n: n, pod: pod.DeepCopy(), ip: ip,
		dir:        filepath.Join(n.opts.Dir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		procs:      map[string]*exec.Cmd{},
		exited:     map[*exec.Cmd]chan struct{}{},
		running:    map[string]bool{},
		stopAll:    make(chan struct{}),
		dirty:      make(chan struct{}, 1),
		finished:   make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

func (r *podRunner) logPath(container string) string {
	return filepath.Join(r.dir, container+".log")
}

func (r *podRunner) containerRunning(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name]
}

func (r *podRunner) pids() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, c := range r.procs {
		if c.Process != nil {
			out = append(out, c.Process.Pid)
		}
	}
	return out
}

// update changes the desired status under the lock and schedules a write.
func (r *podRunner) update(f func(s *corev1.PodStatus)) {
	r.mu.Lock()
	f(&r.status)
	r.gen++
	r.mu.Unlock()
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

func (r *podRunner) setContainer(init bool, cs corev1.ContainerStatus) {
	r.update(func(s *corev1.PodStatus) {
		list := &s.ContainerStatuses
		if init {
			list = &s.InitContainerStatuses
		}
		for i := range *list {
			if (*list)[i].Name == cs.Name {
				(*list)[i] = cs
				return
			}
		}
		*list = append(*list, cs)
	})
}

func (r *podRunner) getContainer(init bool, name string) corev1.ContainerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.status.ContainerStatuses
	if init {
		list = r.status.InitContainerStatuses
	}
	for _, c := range list {
		if c.Name == name {
			return *c.DeepCopy()
		}
	}
	return corev1.ContainerStatus{Name: name}
}

// writer pushes the desired status to the apiserver, coalescing bursts. When ctx ends it still writes
// the last change (a pod's terminal phase among them) before it returns: each write runs on a context
// of its own, so that ending the writer never cuts the final write short.
func (r *podRunner) writer(ctx context.Context) {
	defer func() { close(r.writerDone); r.wrote.Fire() }()
	pods := r.n.cs.CoreV1().Pods(r.pod.Namespace)
	written := 0
	// After a failed write the writer tries again on the next change or when the backoff has passed:
	// 100 ms, doubling to 5 s, back to the start after a write that worked.
	backoff := 100 * time.Millisecond
	for {
		stopping := false
		select {
		case <-r.dirty:
		case <-ctx.Done():
			stopping = true
		}
		r.mu.Lock()
		gen := r.gen
		want := *r.status.DeepCopy()
		r.mu.Unlock()
		if gen == written {
			if stopping {
				return
			}
			continue
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := retry.OnError(retry.DefaultBackoff, func(err error) bool { return apierrors.IsConflict(err) || isTransient(err) }, func() error {
			cur, err := pods.Get(wctx, r.pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.UID != r.pod.UID {
				return apierrors.NewNotFound(corev1.Resource("pods"), r.pod.Name)
			}
			// Keep conditions that other controllers own (DisruptionTarget, readiness gates).
			mine := map[corev1.PodConditionType]bool{corev1.PodScheduled: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true}
			st := *want.DeepCopy()
			for _, c := range cur.Status.Conditions {
				if !mine[c.Type] {
					st.Conditions = append(st.Conditions, c)
				}
			}
			cur.Status = st
			_, err = pods.UpdateStatus(wctx, cur, metav1.UpdateOptions{})
			return err
		})
		cancel()
		switch {
		case err == nil:
			written = gen
			backoff = 100 * time.Millisecond
			r.mu.Lock()
			r.written = gen
			r.mu.Unlock()
			r.wrote.Fire()
			r.n.log.Info("status written", "pod", r.pod.Namespace+"/"+r.pod.Name, "phase", want.Phase)
		case apierrors.IsNotFound(err):
			return // the pod is gone: nothing more to report
		default:
			r.n.log.Warn("status update failed", "pod", r.pod.Namespace+"/"+r.pod.Name, "err", err)
			if stopping {
				return
			}
			time.AfterFunc(backoff, func() {
				select {
				case r.dirty <- struct{}{}:
				default:
				}
			})
			backoff = min(2*backoff, 5*time.Second)
		}
		if stopping {
			// one more round for a change made during this write
			r.mu.Lock()
			more := r.gen != written
			r.mu.Unlock()
			if !more {
				return
			}
			select {
			case r.dirty <- struct{}{}:
			default:
			}
		}
	}
}

func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

func cond(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
		reason = ""
	}
	return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: metav1.Now()}
}

func (r *podRunner) setConditions(initialized, ready bool) {
	r.update(func(s *corev1.PodStatus) {
		s.Conditions = []corev1.PodCondition{
			cond(corev1.PodScheduled, true, ""),
			cond(corev1.PodInitialized, initialized, "ContainersNotInitialized"),
			cond(corev1.ContainersReady, ready, "ContainersNotReady"),
			cond(corev1.PodReady, ready, "ContainersNotReady"),
		}
	})
}

// run plays the pod's whole life on this node.
func (r *podRunner) run(ctx context.Context) {
	wctx, stopWriter := context.WithCancel(ctx)
	go r.writer(wctx)
	defer func() {
		// the writer writes the last status before it ends
		stopWriter()
		<-r.writerDone
	}()
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.n.log.Warn("pod directory", "err", err)
		return
	}
	start := metav1.Now()
	r.update(func(s *corev1.PodStatus) {
		s.Phase = corev1.PodPending
		s.HostIP, s.PodIP = "127.0.0.1", r.ip
		s.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
		s.PodIPs = []corev1.PodIP{{IP: r.ip}}
		s.StartTime = &start
		s.QOSClass = qosClass(r.pod)
	})
	for _, c := range r.pod.Spec.InitContainers {
		r.setContainer(true, waiting(c, "PodInitializing", ""))
	}
	for _, c := range r.pod.Spec.Containers {
		r.setContainer(false, waiting(c, "ContainerCreating", ""))
	}
	r.setConditions(len(r.pod.Spec.InitContainers) == 0, false)

	if d := r.pod.Spec.ActiveDeadlineSeconds; d != nil {
		deadline := time.Duration(*d) * time.Second
		go func() {
			select {
			case <-time.After(deadline):
				r.deadlineExceeded()
			case <-r.finished:
			case <-ctx.Done():
			}
		}()
	}

	policy := r.pod.Spec.RestartPolicy
	initOK := true
	for _, c := range r.pod.Spec.InitContainers {
		if !r.runContainer(ctx, c, true, policyForInit(policy)) {
			initOK = false
			break
		}
	}
	if !initOK {
		r.finish(ctx, false)
		return
	}
	r.setConditions(true, false)
	var wg sync.WaitGroup
	results := make([]bool, len(r.pod.Spec.Containers))
	for i, c := range r.pod.Spec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.runContainer(ctx, c, false, policy)
		}()
	}
	wg.Wait()
	ok := true
	for _, res := range results {
		ok = ok && res
	}
	r.finish(ctx, ok)
}

func policyForInit(p corev1.RestartPolicy) corev1.RestartPolicy {
	if p == corev1.RestartPolicyAlways {
		return corev1.RestartPolicyOnFailure
	}
	return p
}

// finish records the terminal phase and, when deletion was requested, removes the pod.
func (r *podRunner) finish(ctx context.Context, ok bool) {
	r.stop()
	r.update(func(s *corev1.PodStatus) {
		if s.Phase == corev1.PodFailed && s.Reason == "DeadlineExceeded" {
			return
		}
		if ok {
			s.Phase = corev1.PodSucceeded
		} else {
			s.Phase = corev1.PodFailed
		}
	})
	r.setConditionsKeepInit(false)
	close(r.finished)
	r.mu.Lock()
	deleting := r.deleting
	r.mu.Unlock()
	if deleting {
		r.statusWritten(ctx) // the terminal status lands before the pod goes
		r.n.finalDelete(ctx, r.pod)
	}
}

// statusWritten waits until the writer has written every status change made so far, or has ended,
// for at most 30 s (an apiserver that refuses every write does not keep the pod forever).
func (r *podRunner) statusWritten(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r.mu.Lock()
	want := r.gen
	r.mu.Unlock()
	for {
		wrote := r.wrote.Wait()
		r.mu.Lock()
		done := r.written >= want
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-wrote:
		case <-r.writerDone:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (r *podRunner) setConditionsKeepInit(ready bool) {
	r.update(func(s *corev1.PodStatus) {
		for i := range s.Conditions {
			switch s.Conditions[i].Type {
			case corev1.ContainersReady, corev1.PodReady:
				if (s.Conditions[i].Status == corev1.ConditionTrue) != ready {
					s.Conditions[i] = cond(s.Conditions[i].Type, ready, "PodCompleted")
				}
			}
		}
	})
}

func (r *podRunner) stop() {
	r.stopOnce.Do(func() { close(r.stopAll) })
}

func (r *podRunner) deadlineExceeded() {
	r.update(func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Reason = "DeadlineExceeded"
		s.Message = "Pod was active on the node longer than the specified deadline"
	})
	r.n.event(r.pod, corev1.EventTypeNormal, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
	r.kill(r.terminationGrace())
}

func (r *podRunner) terminationGrace() time.Duration {
	if g := r.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// requestDelete starts a graceful termination after the apiserver marked the pod for deletion.
func (r *podRunner) requestDelete(pod *corev1.Pod) {
	r.mu.Lock()
	if r.deleting {
		r.mu.Unlock()
		return
	}
	r.deleting = true
	grace := r.terminationGrace()
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	r.grace = grace
	r.mu.Unlock()
	select {
	case <-r.finished:
		r.n.spawn(func() { r.n.finalDelete(context.Background(), r.pod) })
	default:
		r.n.spawn(func() { r.kill(grace) })
	}
}

// kill stops every container: SIGTERM to each process group, SIGKILL after grace.
func (r *podRunner) kill(grace time.Duration) {
	r.stop()
	r.mu.Lock()
	procs := make(map[*exec.Cmd]chan struct{}, len(r.procs))
	for _, c := range r.procs {
		procs[c] = r.exited[c]
	}
	r.mu.Unlock()
	for c := range procs {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		}
	}
	expired := time.NewTimer(max(grace, 0))
	defer expired.Stop()
	spent := false // the grace is spent for every process left
	for c, exited := range procs {
		if !spent {
			select {
			case <-exited:
				continue
			case <-expired.C:
				spent = true
			}
		}
		select {
		case <-exited:
			continue
		default:
		}
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
}

func (r *podRunner) stopping() bool {
	select {
	case <-r.stopAll:
		return true
	default:
		return false
	}
}

func waiting(c corev1.Container, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: "",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
	}
}

// runContainer runs one container until it ends for good under the restart policy, and says
// whether it ended successfully.
func (r *podRunner) runContainer(ctx context.Context, c corev1.Container, init bool, policy corev1.RestartPolicy) bool {
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		if r.stopping() {
			return r.lastExitOK(init, c.Name)
		}
		argv, env, imageID, err := r.prepare(ctx, c, init)
		if err != nil {
			if r.sleepOrStop(backoff) {
				return false
			}
			backoff = min(backoff*2, 20*time.Second)
			attempt--
			continue
		}
		code, started, finished, startErr := r.exec(c, init, argv, env, imageID, attempt)
		st := r.getContainer(init, c.Name)
		term := &corev1.ContainerStateTerminated{ExitCode: int32(code), StartedAt: started, FinishedAt: finished, ContainerID: st.ContainerID}
		switch {
		case startErr != nil:
			term.Reason, term.Message = "StartError", startErr.Error()
		case code == 0:
			term.Reason = "Completed"
		default:
			term.Reason = "Error"
		}
		st.State = corev1.ContainerState{Terminated: term}
		st.Ready = false
		f := false
		st.Started = &f
		r.setContainer(init, st)
		ok := code == 0 && startErr == nil
		restart := !r.stopping() && (policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && !ok))
		if !restart {
			return ok
		}
		st.LastTerminationState = corev1.ContainerState{Terminated: term}
		st.RestartCount++
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, c.Name, r.pod.Name, r.pod.Namespace, r.pod.UID)}}
		r.setContainer(init, st)
		r.n.event(r.pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container "+c.Name+" in pod "+r.pod.Name)
		if r.sleepOrStop(backoff) {
			return ok
		}
		backoff = min(backoff*2, 20*time.Second)
	}
}

func (r *podRunner) lastExitOK(init bool, name string) bool {
	st := r.getContainer(init, name)
	return st.State.Terminated != nil && st.State.Terminated.ExitCode == 0
}

func (r *podRunner) sleepOrStop(d time.Duration) bool {
	select {
	case <-time.After(d):
		return false
	case <-r.stopAll:
		return true
	}
}

// prepare resolves the container's image and environment into an argv, or records why the
// container cannot start (image pull or configuration errors) and returns an error.
func (r *podRunner) prepare(ctx context.Context, c corev1.Container, init bool) ([]string, []string, string, error) {
	st := r.getContainer(init, c.Name)
	if r.n.runsImage(c.Image) {
		return r.prepareImage(ctx, c, init, st)
	}
	bin, isBinary := r.n.binaryFor(c.Image)
	var argv []string
	imageID := ""
	if isBinary {
		cmd := c.Command
		if len(cmd) > 0 && filepath.Base(cmd[0]) != filepath.Base(bin) {
			// The hook image holds only its binary: anything else cannot be executed there.
			msg := fmt.Sprintf("failed to create containerd task: exec: %q: stat %s: no such file or directory", cmd[0], cmd[0])
			st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: msg}}
			r.setContainer(init, st)
			return nil, nil, "", errors.New(msg)
		}
		argv = []string{bin}
		if len(cmd) > 1 {
			argv = append(argv, cmd[1:]...)
		}
		argv = append(argv, c.Args...)
		imageID = "sim://" + bin
	} else {
		r.n.event(r.pod, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
		digest, err := r.pull(ctx, c.Image)
		if err != nil {
			msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
			st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: msg}}
			r.setContainer(init, st)
			r.n.event(r.pod, corev1.EventTypeWarning, "Failed", msg)
			if r.sleepOrStop(time.Second) {
				return nil, nil, "", err
			}
			st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
				Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %v", c.Image, err)}}
			r.setContainer(init, st)
			r.n.event(r.pod, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.Image))
			return nil, nil, "", err
		}
		r.n.event(r.pod, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q", c.Image))
		imageID = digest
		if cmd, ok := r.n.componentFor(c.Image); ok {
			// A component's double plays the image; it acts as the pod's ServiceAccount.
			argv = append([]string(nil), cmd...)
			isBinary = true
		} else {
			// Any other pulled image runs as an idle process until the pod is deleted.
			argv = []string{"sleep", "infinity"}
		}
	}
	env, err := r.env(ctx, c)
	if err != nil {
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}}
		r.setContainer(init, st)
		r.n.event(r.pod, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return nil, nil, "", err
	}
	for i := range argv[1:] {
		argv[i+1] = expand(argv[i+1], env)
	}
	if isBinary {
		kc, err := r.credentials(ctx)
		if err != nil {
			st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}}
			r.setContainer(init, st)
			return nil, nil, "", err
		}
		if kc != "" {
			env = append(env, "KUBECONFIG="+kc)
		}
	}
	return argv, env, imageID, nil
}

// prepareImage readies a container whose image the node runs for real: pulled for the node's
// platform, its user checked against runAsNonRoot, its entrypoint taken from the unpacked layers. A
// failure leaves the container waiting with the kubelet's reason and message.
func (r *podRunner) prepareImage(ctx context.Context, c corev1.Container, init bool, st corev1.ContainerStatus) ([]string, []string, string, error) {
	fail := func(err error) ([]string, []string, string, error) {
		reason := "CreateContainerError"
		var ie *imageError
		if errors.As(err, &ie) {
			reason = ie.reason
		}
		msg := err.Error()
		if reason == "ErrImagePull" {
			msg = fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		}
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
		r.setContainer(init, st)
		r.n.event(r.pod, corev1.EventTypeWarning, "Failed", "Error: "+msg)
		return nil, nil, "", err
	}
	r.n.event(r.pod, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
	img, err := r.unpack(ctx, c.Image)
	if err != nil {
		return fail(err)
	}
	r.n.event(r.pod, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q", c.Image))
	if err := img.checkUser(r.pod, c); err != nil {
		return fail(err)
	}
	argv, err := img.argv(c)
	if err != nil {
		return fail(err)
	}
	env, err := r.env(ctx, c)
	if err != nil {
		return fail(&imageError{"CreateContainerConfigError", err})
	}
	env = append(img.env(), env...)
	for i := range argv[1:] {
		argv[i+1] = expand(argv[i+1], env)
	}
	kc, err := r.credentials(ctx)
	if err != nil {
		return fail(&imageError{"CreateContainerConfigError", err})
	}
	if kc != "" {
		env = append(env, "KUBECONFIG="+kc)
	}
	return argv, env, img.id, nil
}

// qosClass is the pod's QoS class: what the apiserver already recorded (newer apiservers set it
// at creation and refuse to change it), else computed as a kubelet does.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	any, guaranteed := false, true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			any = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			limit, ok := c.Resources.Limits[r]
			if !ok {
				guaranteed = false
				continue
			}
			if req, ok := c.Resources.Requests[r]; ok && req.Cmp(limit) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}

// credentials writes the kubeconfig a container of the hook image reads: a token of the pod's
// ServiceAccount, bound to the pod (TokenRequest), or the ServiceAccount's token Secret on
// clusters without TokenRequest. It returns "" when the pod opts out of a token.
func (r *podRunner) credentials(ctx context.Context) (string, error) {
	r.mu.Lock()
	if r.kubeconfig != "" {
		defer r.mu.Unlock()
		return r.kubeconfig, nil
	}
	r.mu.Unlock()
	saName := r.pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa, err := r.n.cs.CoreV1().ServiceAccounts(r.pod.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("serviceaccount %q not found: %v", saName, err)
	}
	automount := true
	if sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if r.pod.Spec.AutomountServiceAccountToken != nil {
		automount = *r.pod.Spec.AutomountServiceAccountToken
	}
	if !automount {
		return "", nil
	}
	var token string
	if r.n.opts.LegacyTokens {
		token, err = r.legacyToken(ctx, saName)
	} else {
		exp := int64(3600)
		var tr *authenticationv1.TokenRequest
		tr, err = r.n.cs.CoreV1().ServiceAccounts(r.pod.Namespace).CreateToken(ctx, saName, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				ExpirationSeconds: &exp,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: r.pod.Name, UID: r.pod.UID},
			},
		}, metav1.CreateOptions{})
		if err == nil {
			token = tr.Status.Token
		}
	}
	if err != nil {
		return "", fmt.Errorf("failed to get a token for serviceaccount %q: %v", saName, err)
	}
	path := filepath.Join(r.dir, "kubeconfig")
	if err := os.WriteFile(path, localcluster.KubeconfigBytes(r.n.opts.Server, r.n.opts.CAData, "system:serviceaccount:"+r.pod.Namespace+":"+saName, token, r.pod.Namespace), 0o600); err != nil {
		return "", err
	}
	r.mu.Lock()
	r.kubeconfig = path
	r.mu.Unlock()
	return path, nil
}

func (r *podRunner) legacyToken(ctx context.Context, saName string) (string, error) {
	// The tokens controller writes the token Secret shortly after the ServiceAccount appears: watch
	// for it (a plain list and watch, which the 1.11 apiserver understands), for at most 30 s.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sel := fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken))
	lw := listWatch{cache.NewListWatchFromClient(r.n.cs.CoreV1().RESTClient(), "secrets", r.pod.Namespace, sel)}
	var token string
	_, err := watchtools.UntilWithSync(wctx, lw, &corev1.Secret{}, nil, func(ev watch.Event) (bool, error) {
		s, ok := ev.Object.(*corev1.Secret)
		if ok && ev.Type != watch.Deleted && s.Annotations[corev1.ServiceAccountNameKey] == saName && len(s.Data["token"]) > 0 {
			token = string(s.Data["token"])
			return true, nil
		}
		return false, nil
	})
	switch {
	case err == nil:
		return token, nil
	case ctx.Err() != nil:
		return "", ctx.Err()
	case wctx.Err() != nil:
		return "", fmt.Errorf("no token Secret for serviceaccount %q appeared within 30s", saName)
	}
	return "", err
}

// fetch resolves an image with the pod's pull secrets, then the node's, and returns the registry's
// descriptor.
func (r *podRunner) fetch(ctx context.Context, image string) (*remote.Descriptor, error) {
	if r.n.opts.Registry == nil {
		return nil, fmt.Errorf("dial tcp: lookup %s: no such host", strings.SplitN(image, "/", 2)[0])
	}
	desc, err := r.n.opts.Registry.Get(ctx, image, r.pullSecrets(ctx))
	if err != nil && len(r.n.opts.NodeDockerConfig) > 0 {
		if d, err2 := r.n.opts.Registry.Get(ctx, image, [][]byte{r.n.opts.NodeDockerConfig}); err2 == nil {
			return d, nil
		}
	}
	return desc, err
}

// pull resolves an image with the pod's pull secrets.
func (r *podRunner) pull(ctx context.Context, image string) (string, error) {
	if r.n.opts.Registry == nil {
		return "", fmt.Errorf("dial tcp: lookup %s: no such host", strings.SplitN(image, "/", 2)[0])
	}
	configs := r.pullSecrets(ctx)
	digest, err := r.n.opts.Registry.Pull(ctx, image, configs)
	if err != nil && len(r.n.opts.NodeDockerConfig) > 0 {
		// the kubelet's keyring holds the node's credentials too and tries them as well
		if d, err2 := r.n.opts.Registry.Pull(ctx, image, [][]byte{r.n.opts.NodeDockerConfig}); err2 == nil {
			return d, nil
		}
	}
	return digest, err
}

// pullSecrets are the docker configs of the pod's image pull secrets.
func (r *podRunner) pullSecrets(ctx context.Context) [][]byte {
	var configs [][]byte
	for _, ref := range r.pod.Spec.ImagePullSecrets {
		s, err := r.n.cs.CoreV1().Secrets(r.pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			// the kubelet warns and pulls without it
			r.n.event(r.pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
				fmt.Sprintf("Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", ref.Name))
			continue
		}
		if b := s.Data[corev1.DockerConfigJsonKey]; len(b) > 0 {
			configs = append(configs, b)
		} else if b := s.Data[corev1.DockerConfigKey]; len(b) > 0 {
			var auths map[string]any
			if json.Unmarshal(b, &auths) == nil {
				wrapped, _ := json.Marshal(map[string]any{"auths": auths})
				configs = append(configs, wrapped)
			}
		}
	}
	return configs
}

// env resolves the container's environment as a kubelet does.
func (r *podRunner) env(ctx context.Context, c corev1.Container) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := r.n.cs.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", ef.ConfigMapRef.Name)
			}
			for k, v := range cm.Data {
				set(ef.Prefix+k, v)
			}
		case ef.SecretRef != nil:
			s, err := r.n.cs.CoreV1().Secrets(r.pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if ef.SecretRef.Optional != nil && *ef.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", ef.SecretRef.Name)
			}
			for k, v := range s.Data {
				set(ef.Prefix+k, string(v))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, mapEnv(vals)))
			continue
		}
		v, skip, err := r.valueFrom(ctx, c, e.ValueFrom)
		if err != nil {
			return nil, err
		}
		if !skip {
			set(e.Name, v)
		}
	}
	set("HOSTNAME", r.pod.Name)
	set("HOME", r.dir)
	if _, ok := vals["PATH"]; !ok {
		set("PATH", "/usr/local/bin:/usr/bin:/bin")
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func mapEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func (r *podRunner) valueFrom(ctx context.Context, c corev1.Container, vf *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		p := r.pod
		switch fp := vf.FieldRef.FieldPath; {
		case fp == "metadata.name":
			return p.Name, false, nil
		case fp == "metadata.namespace":
			return p.Namespace, false, nil
		case fp == "metadata.uid":
			return string(p.UID), false, nil
		case fp == "spec.nodeName":
			return r.n.opts.Name, false, nil
		case fp == "spec.serviceAccountName":
			return p.Spec.ServiceAccountName, false, nil
		case fp == "status.hostIP":
			return "127.0.0.1", false, nil
		case fp == "status.podIP":
			return r.ip, false, nil
		case strings.HasPrefix(fp, "metadata.labels['"):
			return p.Labels[strings.TrimSuffix(strings.TrimPrefix(fp, "metadata.labels['"), "']")], false, nil
		case strings.HasPrefix(fp, "metadata.annotations['"):
			return p.Annotations[strings.TrimSuffix(strings.TrimPrefix(fp, "metadata.annotations['"), "']")], false, nil
		default:
			return "", false, fmt.Errorf("unsupported fieldPath %q", fp)
		}
	case vf.ResourceFieldRef != nil:
		q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(strings.TrimPrefix(vf.ResourceFieldRef.Resource, "limits."), "requests."))]
		if strings.HasPrefix(vf.ResourceFieldRef.Resource, "requests.") {
			q = c.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(vf.ResourceFieldRef.Resource, "requests."))]
		}
		return q.String(), false, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := r.n.cs.CoreV1().Secrets(r.pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return string(v), false, nil
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := r.n.cs.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return v, false, nil
	}
	return "", true, nil
}

var refRE = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand replaces $(VAR) references as the kubelet does; $$ escapes a dollar.
func expand(s string, env []string) string {
	m := map[string]string{}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return refRE.ReplaceAllStringFunc(s, func(ref string) string {
		if ref == "$$" {
			return "$"
		}
		name := ref[2 : len(ref)-1]
		if v, ok := m[name]; ok {
			return v
		}
		return ref
	})
}

// event records a kubelet event about the pod.
func (n *Node) event(pod *corev1.Pod, typ, reason, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
		Reason:         reason, Message: msg, Type: typ,
		Source:         corev1.EventSource{Component: "kubelet", Host: n.opts.Name},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = n.cs.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	}()
}

// binaryFor says whether image is played by a local binary.
func (n *Node) binaryFor(image string) (string, bool) {
	return lookupImage(n.opts.Binaries, image)
}

// componentFor says whether image holds a component that a double plays, and its command.
func (n *Node) componentFor(image string) ([]string, bool) {
	return lookupImage(n.opts.Components, image)
}

// lookupImage finds the entry whose key is a suffix of the image's repository path (any
// registry, tag or digest).
func lookupImage[V any](m map[string]V, image string) (V, bool) {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for suffix, v := range m {
		if repo == suffix || strings.HasSuffix(repo, "/"+suffix) {
			return v, true
		}
	}
	var zero V
	return zero, false
}
