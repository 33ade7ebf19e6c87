package cleanup

import (
	"context"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// foreignMTC says why the MTC in the namespace is not the release's, or "" when it is, or when
// there is none. With a release name set (the chart's hooks pass it), the cleanup removes an MTC
// only when this release brought it:
//   - an mtc-operator Subscription that Helm does not manage for this release (a manual install,
//     or another release's) is not ours; Helm deletes our own before post-delete, so there a
//     remaining one is never ours;
//   - the same for a legacy operator Deployment outside OLM;
//   - a MigrationController without this release's instance label was made by someone else.
func (c *Cleanup) foreignMTC(ctx context.Context, ns string, objs []*unstructured.Unstructured) (string, error) {
	if c.Release == "" {
		return "", nil
	}
	var why []string
	subs, err := c.list(ctx, kube.Subscriptions, ns)
	if err != nil {
		return "", err
	}
	for i := range subs {
		pkg, _, _ := unstructured.NestedString(subs[i].Object, "spec", "name")
		if pkg != kube.OperatorPackage || subs[i].GetDeletionTimestamp() != nil {
			continue
		}
		if r := subs[i].GetAnnotations()[kube.HelmReleaseNameKey]; r != c.Release {
			why = append(why, "Subscription "+ns+"/"+subs[i].GetName()+" "+byWhom(r))
		}
	}
	dep, err := c.get(ctx, kube.Deployments, ns, kube.LegacyOperator)
	if err != nil {
		return "", err
	}
	if dep != nil && !kube.OLMOwned(dep) && dep.GetDeletionTimestamp() == nil {
		if r := dep.GetAnnotations()[kube.HelmReleaseNameKey]; r != c.Release {
			why = append(why, "Deployment "+ns+"/"+kube.LegacyOperator+" "+byWhom(r))
		}
	}
	for _, o := range objs {
		if o.GetKind() != "MigrationController" || o.GetNamespace() != ns || o.GetDeletionTimestamp() != nil {
			continue
		}
		if r := o.GetLabels()[kube.InstanceLabel]; r != c.Release {
			who := "was not made by a Helm release"
			if r != "" {
				who = "belongs to release " + r
			}
			why = append(why, "MigrationController "+ns+"/"+o.GetName()+" "+who)
		}
	}
	slices.Sort(why)
	return strings.Join(why, ", "), nil
}

func byWhom(release string) string {
	if release == "" {
		return "was not installed by Helm"
	}
	return "belongs to release " + release
}
