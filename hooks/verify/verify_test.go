package verify

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/kube/kubefake"
)

const ns = "openshift-migration"

func u(gvr schema.GroupVersionResource, kind, name string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind}}
	for k, v := range fields {
		o.Object[k] = v
	}
	o.SetName(name)
	o.SetNamespace(ns)
	return o
}

func deployment(name string, available int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Status: appsv1.DeploymentStatus{Replicas: 1, AvailableReplicas: available}}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	configMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mtc-configure", Namespace: ns},
		Data: map[string]string{"operator.yaml": "mode: olm\nsubscription: mtc-operator\n"}}
	sub := u(kube.Subscriptions, "Subscription", "mtc-operator", map[string]any{"status": map[string]any{"installedCSV": "mtc-operator.v1.8.11"}})
	csv := func(phase string) *unstructured.Unstructured {
		return u(kube.CSVs, "ClusterServiceVersion", "mtc-operator.v1.8.11", map[string]any{"status": map[string]any{"phase": phase}})
	}
	mc := u(kube.MigrationControllers, "MigrationController", "migration-controller", map[string]any{"spec": map[string]any{
		"version": "1.8.11", "migration_controller": true, "migration_ui": true, "migration_velero": true}})
	tests := []struct {
		name    string
		objects []runtime.Object
		deps    []runtime.Object
		wantErr string
	}{
		{"all up", []runtime.Object{sub, csv("Succeeded"), mc}, []runtime.Object{deployment("migration-controller", 1), deployment("migration-ui", 1), deployment("migration-log-reader", 1)}, ""},
		{"csv installing", []runtime.Object{sub, csv("Installing"), mc}, []runtime.Object{deployment("migration-controller", 1), deployment("migration-ui", 1), deployment("migration-log-reader", 1)}, "operator: CSV mtc-operator.v1.8.11 is Installing"},
		{"web console down", []runtime.Object{sub, csv("Succeeded"), mc}, []runtime.Object{deployment("migration-controller", 1), deployment("migration-ui", 0), deployment("migration-log-reader", 1)}, "web console: Deployment migration-ui has 0 of 1 replicas available"},
		{"no controller deployment", []runtime.Object{sub, csv("Succeeded"), mc}, []runtime.Object{deployment("migration-ui", 1), deployment("migration-log-reader", 1)}, "migration controller: Deployment migration-controller does not exist"},
		{"no MigrationController", []runtime.Object{sub, csv("Succeeded")}, nil, "MigrationController: migration-controller does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dyn := kubefake.Dynamic(tt.objects...)
			k := fake.NewSimpleClientset(append([]runtime.Object{configMap}, tt.deps...)...)
			v := &Verify{Action: kube.Action{Kube: k, Dynamic: dyn, Host: "https://api.example:6443", Namespace: ns}}
			rep, err := v.Run(context.Background())
			if tt.wantErr == "" {
				if err != nil || rep.Result != "ok" {
					t.Fatalf("Run() = %+v, %v; want ok", rep, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
