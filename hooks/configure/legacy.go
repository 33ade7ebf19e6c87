package configure

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// legacyRefusal returns the API server's refusal that the legacy operator's pods logged last, or
// "" when they logged none (or their log cannot be read). The legacy operator runs with
// manageStatus off, so a task the API server refuses shows nowhere else.
func (c *Configure) legacyRefusal(ctx context.Context, ns, deployment string) string {
	d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil || d.Spec.Selector == nil {
		return ""
	}
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
	if err != nil {
		return ""
	}
	tail := int64(50)
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		b, err := c.Kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if m := refusalIn(lines[i]); m != "" {
				return m
			}
		}
	}
	return ""
}

// refusalIn extracts an API server's Forbidden message from a log line: the error field when the
// line has one, without the rule dump that an escalation refusal appends.
func refusalIn(line string) string {
	if !strings.Contains(line, " is forbidden: ") {
		return ""
	}
	quoted := false
	if j := strings.Index(line, `err="`); j >= 0 {
		line, quoted = line[j+len(`err="`):], true
	}
	line = strings.ReplaceAll(line, `\"`, `"`)
	if j := strings.Index(line, " user=&{"); j >= 0 {
		line = line[:j]
	}
	line = strings.TrimSpace(line)
	if quoted {
		line = strings.TrimSuffix(line, `"`)
	}
	if len(line) > 400 {
		line = line[:400] + "…"
	}
	return line
}
