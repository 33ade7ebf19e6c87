package kube

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "ns"}}}
}

// A wait that watches what it waits for looks again when it changes: with a poll interval of an hour,
// only the watch event of the create can make the wait look again, and the wait ends.
func TestUntilWatchingWakesOnAnEvent(t *testing.T) {
	t.Parallel()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme.Scheme, map[schema.GroupVersionResource]string{configMaps: "ConfigMapList"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var looks atomic.Int32
	looked, created := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(created)
		<-looked // the first look has found nothing before the object comes
		if _, err := dyn.Resource(configMaps).Namespace("ns").Create(ctx, configMap("ready"), metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	w := Waiter{Interval: time.Hour}
	err := w.UntilWatching(ctx, "configmap ready", "", []Watch{WatchAll(dyn, configMaps, "ns")}, func(ctx context.Context) (bool, string, error) {
		if looks.Add(1) == 1 {
			defer close(looked)
		}
		_, err := dyn.Resource(configMaps).Namespace("ns").Get(ctx, "ready", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not there", nil
		}
		return err == nil, "", err
	})
	<-created
	if err != nil {
		t.Fatalf("the wait did not end on the create: %v", err)
	}
}

// A watch the API server forbids does not stop the wait: it goes on polling until its condition holds.
func TestUntilWatchingFallsBackToPolling(t *testing.T) {
	t.Parallel()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme.Scheme, map[schema.GroupVersionResource]string{configMaps: "ConfigMapList"})
	var opened atomic.Int32
	dyn.PrependWatchReactor("configmaps", func(k8stesting.Action) (bool, watch.Interface, error) {
		opened.Add(1)
		return true, nil, apierrors.NewForbidden(configMaps.GroupResource(), "", errors.New("no watch"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	looks := 0
	w := Waiter{Interval: 10 * time.Millisecond}
	err := w.UntilWatching(ctx, "the third look", "", []Watch{WatchAll(dyn, configMaps, "ns")}, func(context.Context) (bool, string, error) {
		looks++
		return looks >= 3 && opened.Load() > 0, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if looks < 3 {
		t.Fatalf("looked %d times, want 3 or more", looks)
	}
}
