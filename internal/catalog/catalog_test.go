package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

func TestMinors(t *testing.T) {
	t.Parallel()
	want := []string{"4.12", "4.13", "4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20"}
	if got := catalog.Minors(); !slices.Equal(got, want) {
		t.Fatalf("Minors() = %v, want %v", got, want)
	}
	for _, m := range want {
		c, err := catalog.For(m)
		if err != nil || c.Minor() != m {
			t.Fatalf("For(%q) = %v, %v", m, c, err)
		}
	}
}

func TestForRefusesOtherMinors(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"4.11", "4.21", "3.11", "4.16.3", "4", "", "latest"} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			_, err := catalog.For(m)
			if err == nil {
				t.Fatalf("For(%q) gave a catalog", m)
			}
			if msg := err.Error(); !strings.Contains(msg, `"`+m+`"`) || !strings.Contains(msg, "4.12 to 4.20") || strings.Contains(msg, "\n") {
				t.Fatalf("For(%q): the error should name the minor and the supported ones in one sentence: %s", m, msg)
			}
		})
	}
}

// TestContents pins which channels each minor's catalog carries and their defaults.
func TestContents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor       string
		mtc         []string
		mtcDefault  string
		oadp        []string
		oadpDefault string
	}{
		{"4.12", []string{"release-v1.7"}, "release-v1.7", []string{"stable-1.0", "stable-1.1", "stable-1.2", "stable-1.3"}, "stable-1.3"},
		{"4.13", []string{"release-v1.7"}, "release-v1.7", []string{"stable-1.0", "stable-1.2", "stable-1.3"}, "stable-1.3"},
		{"4.14", []string{"release-v1.7", "release-v1.8"}, "release-v1.8", []string{"stable-1.0", "stable-1.2", "stable-1.3", "stable-1.4"}, "stable-1.4"},
		{"4.15", []string{"release-v1.7", "release-v1.8"}, "release-v1.8", []string{"stable-1.0", "stable-1.2", "stable-1.3", "stable-1.4"}, "stable-1.4"},
		{"4.16", []string{"release-v1.7", "release-v1.8"}, "release-v1.8", []string{"stable-1.0", "stable-1.4"}, "stable-1.4"},
		{"4.17", []string{"release-v1.7", "release-v1.8"}, "release-v1.8", []string{"stable-1.0", "stable-1.4"}, "stable-1.4"},
		{"4.18", []string{"release-v1.8"}, "release-v1.8", []string{"stable-1.4"}, "stable-1.4"},
		{"4.19", []string{"release-v1.8"}, "release-v1.8", []string{"stable"}, "stable"},
		{"4.20", []string{"release-v1.8"}, "release-v1.8", []string{"stable"}, "stable"},
	}
	for _, tt := range tests {
		t.Run(tt.minor, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, tt.minor)
			if got := c.Packages(); !slices.Equal(got, []string{catalog.MTCPackage, catalog.OADPPackage}) {
				t.Errorf("packages %v", got)
			}
			if got := c.Channels(catalog.MTCPackage); !slices.Equal(got, tt.mtc) {
				t.Errorf("mtc-operator channels %v, want %v", got, tt.mtc)
			}
			if got := c.DefaultChannel(catalog.MTCPackage); got != tt.mtcDefault {
				t.Errorf("mtc-operator default channel %q, want %q", got, tt.mtcDefault)
			}
			if got := c.Channels(catalog.OADPPackage); !slices.Equal(got, tt.oadp) {
				t.Errorf("redhat-oadp-operator channels %v, want %v", got, tt.oadp)
			}
			if got := c.DefaultChannel(catalog.OADPPackage); got != tt.oadpDefault {
				t.Errorf("redhat-oadp-operator default channel %q, want %q", got, tt.oadpDefault)
			}
			for _, ch := range tt.mtc {
				if !c.HasChannel(catalog.MTCPackage, ch) {
					t.Errorf("HasChannel(%s) is false", ch)
				}
			}
			if c.HasChannel(catalog.MTCPackage, "stable") || c.HasChannel("other", tt.mtcDefault) {
				t.Error("HasChannel is true for a channel the catalog does not carry")
			}
		})
	}
}

// TestHeads pins the newest bundle of each channel and MTC's OADP range.
func TestHeads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor, pkg, channel, csv, version, oadpRange string
	}{
		{"4.14", catalog.MTCPackage, "release-v1.7", "mtc-operator.v1.7.19", "1.7.19", ">=0.5.0 <1.1.0"},
		{"4.20", catalog.MTCPackage, "release-v1.8", "mtc-operator.v1.8.11", "1.8.11", ">=1.3.0 <1.6.0"},
		{"4.12", catalog.OADPPackage, "stable-1.0", "oadp-operator.v1.0.17", "1.0.17", ""},
		{"4.12", catalog.OADPPackage, "stable-1.1", "oadp-operator.v1.1.8", "1.1.8", ""},
		{"4.15", catalog.OADPPackage, "stable-1.2", "oadp-operator.v1.2.5", "1.2.5", ""},
		{"4.15", catalog.OADPPackage, "stable-1.3", "oadp-operator.v1.3.6", "1.3.6", ""},
		{"4.18", catalog.OADPPackage, "stable-1.4", "oadp-operator.v1.4.4", "1.4.4", ""},
		{"4.19", catalog.OADPPackage, "stable", "oadp-operator.v1.5.0", "1.5.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.minor+"/"+tt.channel, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, tt.minor)
			b, ok := c.Head(tt.pkg, tt.channel)
			if !ok {
				t.Fatalf("no head for %s/%s", tt.pkg, tt.channel)
			}
			if b.CSV != tt.csv || b.Version != tt.version || b.OADPRange != tt.oadpRange || b.Channel != tt.channel || b.Package != tt.pkg {
				t.Fatalf("head %+v, want CSV %s version %s OADP range %q", b, tt.csv, tt.version, tt.oadpRange)
			}
			if f, ok := c.Find(tt.csv); !ok || f.CSV != tt.csv {
				t.Fatalf("Find(%s) = %v, %v", tt.csv, f.CSV, ok)
			}
		})
	}
	c := mustFor(t, "4.12")
	if _, ok := c.Head(catalog.MTCPackage, "release-v1.8"); ok {
		t.Error("4.12 has a release-v1.8 head")
	}
	if _, ok := c.Find("mtc-operator.v1.8.0"); ok {
		t.Error("4.12 has mtc-operator.v1.8.0")
	}
}

// TestOADPRangeByZ pins the OADP dependency of every MTC 1.8.z and 1.7.z.
func TestOADPRangeByZ(t *testing.T) {
	t.Parallel()
	c := mustFor(t, "4.16")
	want := map[string]string{
		"1.8.0": ">=1.2.0 <1.3.0", "1.8.2": ">=1.2.0 <1.3.0",
		"1.8.3": ">=1.2.3 <1.4.0",
		"1.8.4": ">=1.3.0 <1.5.0", "1.8.7": ">=1.3.0 <1.5.0",
		"1.8.8": ">=1.3.0 <1.6.0", "1.8.11": ">=1.3.0 <1.6.0",
		"1.7.0": ">=0.5.0 <1.1.0", "1.7.19": ">=0.5.0 <1.1.0",
	}
	n := 0
	for _, ch := range c.Channels(catalog.MTCPackage) {
		for _, b := range c.Bundles(catalog.MTCPackage, ch) {
			if b.OADPRange == "" {
				t.Errorf("%s has no OADP dependency", b.CSV)
			}
			if w, ok := want[b.Version]; ok {
				n++
				if b.OADPRange != w {
					t.Errorf("%s requires OADP %q, want %q", b.CSV, b.OADPRange, w)
				}
			}
		}
	}
	if n != len(want) {
		t.Errorf("checked %d of %d versions", n, len(want))
	}
}

// TestNewestBundleOfEveryLineIsInstallable checks, for every minor, that OLM can resolve the OADP
// dependency of the head of every MTC channel the minor offers: the catalog carries an OADP
// version in its range.
func TestNewestBundleOfEveryLineIsInstallable(t *testing.T) {
	t.Parallel()
	for _, m := range catalog.Minors() {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, m)
			for _, ch := range c.Channels(catalog.MTCPackage) {
				head, _ := c.Head(catalog.MTCPackage, ch)
				providers, err := c.Satisfying(catalog.OADPPackage, head.OADPRange)
				if err != nil {
					t.Fatal(err)
				}
				if len(providers) == 0 {
					t.Errorf("OpenShift %s: %s requires %s %s, and the catalog's OADP channels %v hold none", m, head.CSV, catalog.OADPPackage, head.OADPRange, c.Channels(catalog.OADPPackage))
				}
			}
		})
	}
}

// TestOlderBundlesMayBeUnresolvable pins facts the consistency rule does not cover: KB 7088326
// (mtc-operator.v1.8.3 cannot be installed on 4.16) and OADP 1.2 being gone from 4.16.
func TestOlderBundlesMayBeUnresolvable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor, csv string
		resolvable bool
	}{
		{"4.14", "mtc-operator.v1.8.0", true},
		{"4.15", "mtc-operator.v1.8.3", true},
		{"4.16", "mtc-operator.v1.8.3", false},
		{"4.16", "mtc-operator.v1.8.0", false},
		{"4.16", "mtc-operator.v1.8.4", true},
		{"4.19", "mtc-operator.v1.8.7", false},
		{"4.19", "mtc-operator.v1.8.8", true},
	}
	for _, tt := range tests {
		t.Run(tt.minor+"/"+tt.csv, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, tt.minor)
			b, ok := c.Find(tt.csv)
			if !ok {
				t.Fatalf("%s is not in the %s catalog", tt.csv, tt.minor)
			}
			p, err := c.Satisfying(catalog.OADPPackage, b.OADPRange)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(p) > 0; got != tt.resolvable {
				t.Fatalf("%s on %s: resolvable %v, want %v (range %s, OADP channels %v)", tt.csv, tt.minor, got, tt.resolvable, b.OADPRange, c.Channels(catalog.OADPPackage))
			}
		})
	}
}

// TestUpgradeEdges checks the channel entries of every catalog: each bundle replaces the previous
// z, skips every earlier z and skips the range below itself, so the head replaces them all.
func TestUpgradeEdges(t *testing.T) {
	t.Parallel()
	for _, m := range catalog.Minors() {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, m)
			fbc := readFBC(t, c)
			for _, pkg := range c.Packages() {
				for _, ch := range c.Channels(pkg) {
					bs := c.Bundles(pkg, ch)
					entries := fbc.channels[pkg+"/"+ch]
					if len(entries) != len(bs) {
						t.Fatalf("%s/%s: %d FBC entries for %d bundles", pkg, ch, len(entries), len(bs))
					}
					for i, b := range bs {
						var replaces string
						var skips []string
						for _, p := range bs[:i] {
							skips = append(skips, p.CSV)
						}
						if i > 0 {
							replaces = bs[i-1].CSV
						}
						if pkg == catalog.OADPPackage {
							skips = nil // OADP's CSVs carry no spec.skips
						}
						if b.Replaces != replaces || !slices.Equal(b.Skips, skips) || b.SkipRange != ">=0.0.0 <"+b.Version {
							t.Errorf("%s: replaces %q skips %v skipRange %q", b.CSV, b.Replaces, b.Skips, b.SkipRange)
						}
						if i > 0 {
							if ok, _ := catalog.InRange(bs[i-1].Version, b.SkipRange); !ok {
								t.Errorf("%s: the previous version %s is outside its skipRange %s", b.CSV, bs[i-1].Version, b.SkipRange)
							}
						}
						e := entries[i]
						if e.Name != b.CSV || e.Replaces != b.Replaces || !slices.Equal(e.Skips, b.Skips) || e.SkipRange != b.SkipRange {
							t.Errorf("FBC entry %+v does not match bundle %+v", e, b)
						}
					}
				}
			}
		})
	}
	c := mustFor(t, "4.20")
	bs := c.Bundles(catalog.MTCPackage, "release-v1.8")
	for z := 1; z < len(bs); z++ {
		if want := "mtc-operator.v1.8." + strconv.Itoa(z-1); bs[z].Replaces != want {
			t.Errorf("%s replaces %q, want %q", bs[z].CSV, bs[z].Replaces, want)
		}
	}
	if len(bs) != 12 || bs[0].Replaces != "" {
		t.Errorf("release-v1.8 has %d bundles, the first replacing %q", len(bs), bs[0].Replaces)
	}
}

func TestWriteFBCIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"4.12", "4.16", "4.20"} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			a, b := t.TempDir(), t.TempDir()
			if err := mustFor(t, m).WriteFBC(a, ""); err != nil {
				t.Fatal(err)
			}
			if err := mustFor(t, m).WriteFBC(b, ""); err != nil {
				t.Fatal(err)
			}
			for _, pkg := range []string{catalog.MTCPackage, catalog.OADPPackage} {
				x, err := os.ReadFile(filepath.Join(a, pkg, "catalog.json"))
				if err != nil {
					t.Fatal(err)
				}
				y, err := os.ReadFile(filepath.Join(b, pkg, "catalog.json"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(x, y) {
					t.Errorf("%s: two writes of the same catalog differ", pkg)
				}
			}
		})
	}
}

// TestBundleObjects decodes every bundle's olm.bundle.object properties and checks what OLM acts
// on: the CSV's name, version, install modes, Deployment, ServiceAccounts and owned CRDs, and that
// the properties agree with it.
func TestBundleObjects(t *testing.T) {
	t.Parallel()
	for _, m := range catalog.Minors() {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			c := mustFor(t, m)
			fbc := readFBC(t, c)
			if len(fbc.bundles) == 0 {
				t.Fatal("no bundles")
			}
			for name, fb := range fbc.bundles {
				b, ok := c.Find(name)
				if !ok {
					t.Fatalf("FBC bundle %s is not in the catalog", name)
				}
				checkBundle(t, b, fb)
			}
		})
	}
}

func checkBundle(t *testing.T, b catalog.Bundle, fb fbcBundle) {
	t.Helper()
	if fb.Image != "" || fb.Package != b.Package {
		t.Errorf("%s: image %q package %q; want an inline bundle of %s", b.CSV, fb.Image, fb.Package, b.Package)
	}
	var pkgs, gvks, required, maxOCP []json.RawMessage
	var objs []map[string]any
	var csv csvDoc
	for _, p := range fb.Properties {
		var v bytes.Buffer
		if err := json.Compact(&v, p.Value); err != nil {
			t.Fatalf("%s: property %s: %v", b.CSV, p.Type, err)
		}
		p.Value = v.Bytes()
		switch p.Type {
		case "olm.package":
			pkgs = append(pkgs, p.Value)
		case "olm.gvk":
			gvks = append(gvks, p.Value)
		case "olm.package.required":
			required = append(required, p.Value)
		case "olm.maxOpenShiftVersion":
			maxOCP = append(maxOCP, p.Value)
		case "olm.bundle.object":
			var o struct{ Data []byte }
			if err := json.Unmarshal(p.Value, &o); err != nil {
				t.Fatalf("%s: %v", b.CSV, err)
			}
			var obj map[string]any
			if err := json.Unmarshal(o.Data, &obj); err != nil {
				t.Fatalf("%s: a bundle object is not JSON: %v", b.CSV, err)
			}
			if len(objs) == 0 {
				if err := json.Unmarshal(o.Data, &csv); err != nil {
					t.Fatalf("%s: %v", b.CSV, err)
				}
			}
			objs = append(objs, obj)
		default:
			t.Errorf("%s: unexpected property %s", b.CSV, p.Type)
		}
	}
	if want := `{"packageName":"` + b.Package + `","version":"` + b.Version + `"}`; len(pkgs) != 1 || string(pkgs[0]) != want {
		t.Errorf("%s: olm.package %s, want %s", b.CSV, pkgs, want)
	}
	switch {
	case b.Package == catalog.MTCPackage && (len(required) != 1 || string(required[0]) != `{"packageName":"redhat-oadp-operator","versionRange":"`+b.OADPRange+`"}`):
		t.Errorf("%s: olm.package.required %s, want OADP %s", b.CSV, required, b.OADPRange)
	case b.Package == catalog.OADPPackage && len(required) != 0:
		t.Errorf("%s: OADP requires %s", b.CSV, required)
	}
	if (b.MaxOpenShiftVersion == "") != (len(maxOCP) == 0) || (len(maxOCP) == 1 && string(maxOCP[0]) != `"`+b.MaxOpenShiftVersion+`"`) {
		t.Errorf("%s: olm.maxOpenShiftVersion %s, want %q", b.CSV, maxOCP, b.MaxOpenShiftVersion)
	}

	// The CSV comes first, then one CRD per owned kind (then OADP's ClusterRoles).
	if csv.Kind != "ClusterServiceVersion" || csv.APIVersion != "operators.coreos.com/v1alpha1" || csv.Metadata.Name != b.CSV || csv.Spec.Version != b.Version {
		t.Fatalf("%s: first object is %s %s %s version %s", b.CSV, csv.APIVersion, csv.Kind, csv.Metadata.Name, csv.Spec.Version)
	}
	if csv.Spec.Replaces != b.Replaces || !slices.Equal(csv.Spec.Skips, b.Skips) || csv.Metadata.Annotations["olm.skipRange"] != b.SkipRange {
		t.Errorf("%s: CSV edges replaces %q skips %v skipRange %q", b.CSV, csv.Spec.Replaces, csv.Spec.Skips, csv.Metadata.Annotations["olm.skipRange"])
	}
	modes := map[string]bool{}
	for _, im := range csv.Spec.InstallModes {
		modes[im.Type] = im.Supported
	}
	if len(modes) != 4 || !modes["OwnNamespace"] || modes["SingleNamespace"] || modes["MultiNamespace"] || modes["AllNamespaces"] {
		t.Errorf("%s: install modes %v, want OwnNamespace only", b.CSV, csv.Spec.InstallModes)
	}
	wantNS, wantName := catalog.OADPNamespace, catalog.OADPDisplayName
	if b.Package == catalog.MTCPackage {
		wantNS, wantName = catalog.MTCNamespace, catalog.MTCDisplayName
	}
	if csv.Metadata.Annotations["operatorframework.io/suggested-namespace"] != wantNS || csv.Spec.DisplayName != wantName {
		t.Errorf("%s: suggested namespace %q display name %q", b.CSV, csv.Metadata.Annotations["operatorframework.io/suggested-namespace"], csv.Spec.DisplayName)
	}
	if csv.Spec.Install.Strategy != "deployment" || len(csv.Spec.Install.Spec.Deployments) != 1 {
		t.Fatalf("%s: install strategy %q with %d deployments", b.CSV, csv.Spec.Install.Strategy, len(csv.Spec.Install.Spec.Deployments))
	}
	d := csv.Spec.Install.Spec.Deployments[0]
	pod := d.Spec.Template.Spec
	wantContainer := map[string]string{catalog.MTCPackage: "operator", catalog.OADPPackage: "manager"}[b.Package]
	if d.Name != b.Deployment || pod.ServiceAccountName != b.Deployment || len(pod.Containers) != 1 || pod.Containers[0].Name != wantContainer || pod.Containers[0].Image != b.Image {
		t.Errorf("%s: deployment %s (SA %s) containers %+v", b.CSV, d.Name, pod.ServiceAccountName, pod.Containers)
	} else {
		ctr := pod.Containers[0]
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
			ctr.SecurityContext == nil || ctr.SecurityContext.AllowPrivilegeEscalation == nil || *ctr.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("%s: the operator must run as non-root without privilege escalation", b.CSV)
		}
		if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 || !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%s: selector %v does not select the template labels %v", b.CSV, d.Spec.Selector, d.Spec.Template.Labels)
		}
		env := map[string]string{}
		for _, e := range ctr.Env {
			env[e.Name] = e.Value
		}
		if _, ok := env["WATCH_NAMESPACE"]; !ok {
			t.Errorf("%s: no WATCH_NAMESPACE", b.CSV)
		}
		if b.Package == catalog.MTCPackage {
			tag := "v" + b.Version[:3]
			if env["REGISTRY"] != "registry.redhat.io" || env["PROJECT"] != "rhmtc" || env["MIG_CONTROLLER_REPO"] != "openshift-migration-controller-rhel8" || env["MIG_CONTROLLER_TAG"] != tag {
				t.Errorf("%s: image environment %v", b.CSV, env)
			}
			if _, ok := env["VELERO_MTC_PLUGIN_REPO"]; ok != strings.HasPrefix(b.Version, "1.8.") {
				t.Errorf("%s: VELERO_MTC_PLUGIN_REPO set %v, want it on 1.8 only", b.CSV, ok)
			}
		}
	}
	var sas []string
	for _, ps := range [][]permissionsDoc{csv.Spec.Install.Spec.Permissions, csv.Spec.Install.Spec.ClusterPermissions} {
		for _, p := range ps {
			if !slices.Contains(sas, p.ServiceAccountName) {
				sas = append(sas, p.ServiceAccountName)
			}
			if len(p.Rules) == 0 {
				t.Errorf("%s: no rules for %s", b.CSV, p.ServiceAccountName)
			}
		}
	}
	slices.Sort(sas)
	wantSAs := slices.Sorted(slices.Values(b.ServiceAccounts))
	if !slices.Equal(sas, wantSAs) || b.ServiceAccounts[0] != b.Deployment {
		t.Errorf("%s: ServiceAccounts in the permissions %v, bundle says %v", b.CSV, sas, b.ServiceAccounts)
	}
	if b.Package == catalog.MTCPackage && !slices.Equal(wantSAs, []string{catalog.MTCControllerServiceAccount, catalog.MTCDeployment}) {
		t.Errorf("%s: ServiceAccounts %v", b.CSV, wantSAs)
	}

	// Owned CRDs: the CSV's list, the olm.gvk properties and the CRD objects agree.
	owned := csv.Spec.CustomResourceDefinitions.Owned
	if len(owned) != len(b.Owned) || len(gvks) != len(b.Owned) || len(objs) < 1+len(b.Owned) {
		t.Fatalf("%s: %d owned in the CSV, %d olm.gvk, %d objects for %d kinds", b.CSV, len(owned), len(gvks), len(objs), len(b.Owned))
	}
	for i, k := range b.Owned {
		o := owned[i]
		if o.Name != k.Name() || o.Kind != k.Kind || o.Version != k.Version || o.DisplayName == "" {
			t.Errorf("%s: owned %+v, want %s", b.CSV, o, k.Name())
		}
		if want := `{"group":"` + k.Group + `","kind":"` + k.Kind + `","version":"` + k.Version + `"}`; string(gvks[i]) != want {
			t.Errorf("%s: olm.gvk %s, want %s", b.CSV, gvks[i], want)
		}
		crd := objs[1+i]
		meta, _ := crd["metadata"].(map[string]any)
		if crd["kind"] != "CustomResourceDefinition" || crd["apiVersion"] != "apiextensions.k8s.io/v1" || meta["name"] != k.Name() {
			t.Errorf("%s: object %d is %v %v %v, want CRD %s", b.CSV, 1+i, crd["apiVersion"], crd["kind"], meta["name"], k.Name())
		}
	}
	for _, o := range objs[1+len(b.Owned):] {
		if b.Package != catalog.OADPPackage || o["kind"] != "ClusterRole" {
			t.Errorf("%s: unexpected object %v %v", b.CSV, o["kind"], o["metadata"])
		}
	}
	if b.Package == catalog.MTCPackage {
		for _, k := range b.Owned {
			if k.Group != "migration.openshift.io" {
				t.Errorf("%s owns %s: velero CRDs belong to OADP's bundle", b.CSV, k.Name())
			}
		}
	}
}

// TestOADPOwnsWhatMTCNeeds checks that every OADP bundle owns the kinds MTC's operator and
// controller use: DataProtectionApplication, CloudStorage and the velero.io kinds; 1.1 and 1.2 also
// own the datamover group (mtc-facts §11b).
func TestOADPOwnsWhatMTCNeeds(t *testing.T) {
	t.Parallel()
	for _, m := range catalog.Minors() {
		c := mustFor(t, m)
		for _, ch := range c.Channels(catalog.OADPPackage) {
			for _, b := range c.Bundles(catalog.OADPPackage, ch) {
				names := map[string]bool{}
				for _, k := range b.Owned {
					names[k.Name()] = true
				}
				for _, n := range []string{catalog.DataProtectionApplication.Name(), catalog.CloudStorage.Name(), "backups.velero.io", "restores.velero.io", "backupstoragelocations.velero.io", "podvolumebackups.velero.io"} {
					if !names[n] {
						t.Errorf("%s does not own %s", b.CSV, n)
					}
				}
				datamover := strings.HasPrefix(b.Version, "1.1.") || strings.HasPrefix(b.Version, "1.2.")
				if names["volumesnapshotbackups.datamover.oadp.openshift.io"] != datamover {
					t.Errorf("%s: owns the datamover group %v, want %v", b.CSV, !datamover, datamover)
				}
			}
		}
	}
}

// TestOperatorImagesAreInTheLabRegistry checks that the lab's registry holds every operator image
// a CSV names, so the simulated node can pull it.
func TestOperatorImagesAreInTheLabRegistry(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, m := range catalog.Minors() {
		c := mustFor(t, m)
		for _, pkg := range c.Packages() {
			for _, ch := range c.Channels(pkg) {
				for _, b := range c.Bundles(pkg, ch) {
					if seen[b.Image] {
						continue
					}
					seen[b.Image] = true
					ref, ok := strings.CutPrefix(b.Image, "registry.redhat.io/")
					if !ok || !slices.Contains(testenv.Images, ref) {
						t.Errorf("%s runs %s, which testenv.Images does not hold: add %q to it", b.CSV, b.Image, ref)
					}
				}
			}
		}
	}
}

// TestMTCOperatorCanCreateItsRole checks that the MTC operator may create the one RBAC object its
// role creates in OLM mode, Role prometheus-k8s (MO@release-1.8 templates/monitoring-role.yml.j2):
// the API server allows it only if migration-operator already holds the Role's rules.
func TestMTCOperatorCanCreateItsRole(t *testing.T) {
	t.Parallel()
	prometheus := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "pods"}, Verbs: []string{"get", "list", "watch"}}}
	c := mustFor(t, "4.16")
	fbc := readFBC(t, c)
	for _, ch := range c.Channels(catalog.MTCPackage) {
		head, _ := c.Head(catalog.MTCPackage, ch)
		csv := fbc.csv(t, head.CSV)
		var held []rbacv1.PolicyRule
		for _, p := range csv.Spec.Install.Spec.Permissions {
			if p.ServiceAccountName == catalog.MTCDeployment {
				held = append(held, p.Rules...)
			}
		}
		if !covers(held, prometheus[0]) {
			t.Errorf("%s: migration-operator may not create Role prometheus-k8s: its rules %v do not cover %v", head.CSV, held, prometheus)
		}
		if !covers(held, rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"create", "get", "update"}}) {
			t.Errorf("%s: migration-operator may not manage Roles and RoleBindings", head.CSV)
		}
	}
}

func TestInRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v, r string
		want bool
		err  bool
	}{
		{"1.2.0", ">=1.2.0 <1.3.0", true, false},
		{"1.3.0", ">=1.2.0 <1.3.0", false, false},
		{"1.10.0", ">=1.9.0 <1.11.0", true, false},
		{"1.0.17", ">=0.5.0 <1.1.0", true, false},
		{"1.5.0", ">=1.3.0 <1.5.0", false, false},
		{"1.4.0", "<1.0.0 || >=1.4.0", true, false},
		{"1.4.0", "=1.4.0", true, false},
		{"1.4.0", "!=1.4.0", false, false},
		{"1.4", ">=1.0.0", false, true},
		{"1.4.0", ">=x", false, true},
		{"1.4.0", "", false, true},
		{"1.4.0", "~1.4.0", false, true},
	}
	for _, tt := range tests {
		got, err := catalog.InRange(tt.v, tt.r)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("InRange(%q, %q) = %v, %v", tt.v, tt.r, got, err)
		}
	}
}

func mustFor(t *testing.T, minor string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.For(minor)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// covers reports whether one of rules grants everything r asks for (no aggregation across rules,
// which suffices for the rules checked here).
func covers(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	has := func(list []string, s string) bool { return slices.Contains(list, "*") || slices.Contains(list, s) }
	all := func(list, want []string) bool {
		for _, w := range want {
			if !has(list, w) {
				return false
			}
		}
		return true
	}
	for _, h := range rules {
		if all(h.APIGroups, r.APIGroups) && all(h.Resources, r.Resources) && all(h.Verbs, r.Verbs) && (len(h.ResourceNames) == 0 || all(h.ResourceNames, r.ResourceNames)) {
			return true
		}
	}
	return false
}

// The FBC as the tests read it back, with the parts of the CSV they check.

type fbcDoc struct {
	Schema, Name, Package, Image string
	Entries                      []fbcEntry
	Properties                   []struct {
		Type  string
		Value json.RawMessage
	}
}

type fbcBundle = fbcDoc

type fbcEntry struct {
	Name, Replaces, SkipRange string
	Skips                     []string
}

type fbcRead struct {
	channels map[string][]fbcEntry // by package/channel
	bundles  map[string]fbcBundle  // by name
}

type permissionsDoc struct {
	ServiceAccountName string
	Rules              []rbacv1.PolicyRule
}

type csvDoc struct {
	APIVersion, Kind string
	Metadata         struct {
		Name        string
		Annotations map[string]string
	}
	Spec struct {
		DisplayName  string
		Version      string
		Replaces     string
		Skips        []string
		InstallModes []struct {
			Type      string
			Supported bool
		}
		CustomResourceDefinitions struct {
			Owned []struct{ Name, Version, Kind, DisplayName string }
		}
		Install struct {
			Strategy string
			Spec     struct {
				Permissions, ClusterPermissions []permissionsDoc
				Deployments                     []struct {
					Name string
					Spec appsv1.DeploymentSpec
				}
			}
		}
	}
}

// readFBC writes c into a temporary directory and reads back every document.
func readFBC(t *testing.T, c *catalog.Catalog) fbcRead {
	t.Helper()
	dir := t.TempDir()
	if err := c.WriteFBC(dir, ""); err != nil {
		t.Fatal(err)
	}
	out := fbcRead{channels: map[string][]fbcEntry{}, bundles: map[string]fbcBundle{}}
	for _, pkg := range c.Packages() {
		f, err := os.Open(filepath.Join(dir, pkg, "catalog.json"))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(f)
		packages := 0
		for {
			var d fbcDoc
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", pkg, err)
			}
			switch d.Schema {
			case "olm.package":
				packages++
				if d.Name != pkg {
					t.Errorf("package %s in %s/catalog.json", d.Name, pkg)
				}
			case "olm.channel":
				out.channels[d.Package+"/"+d.Name] = d.Entries
			case "olm.bundle":
				out.bundles[d.Name] = d
			default:
				t.Errorf("unexpected schema %q", d.Schema)
			}
		}
		f.Close()
		if packages != 1 {
			t.Errorf("%s/catalog.json has %d olm.package documents", pkg, packages)
		}
	}
	return out
}

// csv decodes the CSV of a bundle.
func (r fbcRead) csv(t *testing.T, name string) csvDoc {
	t.Helper()
	for _, p := range r.bundles[name].Properties {
		if p.Type != "olm.bundle.object" {
			continue
		}
		var o struct{ Data []byte }
		var c csvDoc
		if err := json.Unmarshal(p.Value, &o); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(o.Data, &c); err != nil {
			t.Fatal(err)
		}
		if c.Kind == "ClusterServiceVersion" {
			return c
		}
	}
	t.Fatalf("no CSV in bundle %s", name)
	return csvDoc{}
}

// Every CRD a bundle of any minor's catalog owns is one the cleanup may delete: the MTC kinds, and
// the velero.io, oadp.openshift.io and datamover CRDs of every OADP bundle (hooks/kube lists them
// for the cleanup and its ClusterRole's resourceNames).
func TestCleanupKnowsEveryBundledCRD(t *testing.T) {
	t.Parallel()
	known := append(kube.MTCCRDs(), kube.SharedCRDs...)
	for _, minor := range catalog.Minors() {
		cat, err := catalog.For(minor)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range cat.Packages() {
			for _, ch := range cat.Channels(pkg) {
				for _, b := range cat.Bundles(pkg, ch) {
					for _, k := range b.Owned {
						if !slices.Contains(known, k.Name()) {
							t.Errorf("%s (%s) owns CRD %s, which the cleanup does not know", b.CSV, minor, k.Name())
						}
					}
				}
			}
		}
	}
}
