package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// TestIntegrationConfigureRefusesWhatTheControllerRefuses installs the operator through the real OLM
// and runs configure, whose objects mig-controller's double (as its pod) tests as the real controller
// does: a MigStorage whose bucket does not exist, and then a remote MigCluster whose ServiceAccount
// token has no rights on migration.openshift.io and velero.io, are each refused with the controller's
// own condition, named in one sentence.
func TestIntegrationConfigureRefusesWhatTheControllerRefuses(t *testing.T) {
	e := doublesEnv(t, "ocp4:4.17")
	kc, dyn := e.Client, e.Dynamic
	w := newWorld(t, kc, dyn)
	w.namespace(ns)
	ctx := context.Background()
	st := e.Cluster.Storage
	if _, err := kc.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-credentials", Namespace: ns},
		StringData: map[string]string{"aws-access-key-id": st.S3.AccessKeyID, "aws-secret-access-key": st.S3.SecretAccessKey},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.obj(operatorGroups, "OperatorGroup", ns, ns, map[string]any{"targetNamespaces": []any{ns}}, nil)
	w.obj(kube.Subscriptions, "Subscription", ns, "mtc-operator",
		map[string]any{"name": "mtc-operator", "channel": "release-v1.8", "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"}, nil)
	configMap := func(objects string) {
		t.Helper()
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "mtc-configure", Namespace: ns},
			Data:       map[string]string{"operator.yaml": "{mode: olm, subscription: mtc-operator, line: \"1.8\"}", "objects.yaml": objects},
		}
		if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("a bucket that does not exist", func(t *testing.T) {
		configMap(strings.Replace(objectsFor(e), "awsBucketName: \""+st.S3.Bucket+"\"", "awsBucketName: \"no-such-bucket\"", 1))
		r := hooks(t, e.Cluster.Kubeconfig, "configure", "--interval", "300ms", "--timeout", "3m")
		wantExit(t, r, 1, "MigStorage openshift-migration/repo is not usable: ", "(BackupStorageProviderTestFailed)",
			"fix the credentials or settings in the values and run helm upgrade again")
	})

	t.Run("a remote token without rights", func(t *testing.T) {
		if _, err := kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "no-rights"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tok, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "no-rights", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kc.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "source-token", Namespace: ns},
			StringData: map[string]string{"saToken": tok.Status.Token},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The lab's API server plays the remote cluster.
		remote := `---
apiVersion: migration.openshift.io/v1alpha1
kind: MigCluster
metadata:
  name: source
  namespace: openshift-migration
spec:
  isHostCluster: false
  url: "` + e.Cluster.URL + `"
  caBundle: "` + base64.StdEncoding.EncodeToString(e.Cluster.Config.CAData) + `"
  serviceAccountSecretRef: {name: source-token, namespace: openshift-migration}
`
		configMap(objectsFor(e) + remote)
		r := hooks(t, e.Cluster.Kubeconfig, "configure", "--interval", "300ms", "--timeout", "3m")
		wantExit(t, r, 1, "MigCluster openshift-migration/source is not usable: ", "(SaTokenNotPrivileged)")
	})
}
