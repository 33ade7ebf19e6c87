package olm

import (
	"fmt"
	rbacv1 "k8s.io/api/rbac/v1"
	"sort"
	"strconv"
	"strings"

	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

var everything = []rbacv1.PolicyRule{
	{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{NonResourceURLs: []string{"*"}, Verbs: []string{"get"}},
}

// Bundle is one operator version a catalog serves: its CSV, what it owns and what it needs.
type Bundle struct {
	Package     string
	CSV         string
	Version     string
	DisplayName string
	// Deployment is the operator Deployment the CSV installs; Image its one container's image.
	Deployment string
	Image      string
	// ServiceAccounts are created for the CSV's permissions and owned by it.
	ServiceAccounts []string
	// ClusterRules are the CSV's clusterPermissions: rules OLM grants cluster-wide to a
	// ServiceAccount, through a ClusterRole and ClusterRoleBinding it labels with the CSV.
	ClusterRules map[string][]rbacv1.PolicyRule
	// Owned are the CRDs the bundle ships (OLM creates them and never deletes them).
	Owned []mtccrds.Kind
	// Depends are olm.package dependencies, resolved in the same namespace.
	Depends []Dependency
}

// Dependency is an olm.package dependency: a package and a version range [Min, Max).
type Dependency struct {
	Package  string
	Min, Max string
}

func (d Dependency) String() string {
	return fmt.Sprintf("%s >=%s <%s", d.Package, d.Min, d.Max)
}

// Satisfied reports whether version v is in the range.
func (d Dependency) Satisfied(v string) bool {
	return compare(v, d.Min) >= 0 && compare(v, d.Max) < 0
}

// Package is a catalog package: channels of bundles, oldest first, the last being the head.
type Package struct {
	Name           string
	DefaultChannel string
	Channels       map[string][]Bundle
}

// Catalog is what every healthy CatalogSource serves, by package name. The double does not read
// index images: any CatalogSource that exists serves this content.
type Catalog map[string]*Package

// Head returns the newest bundle of a channel.
func (p *Package) Head(channel string) (Bundle, bool) {
	bs := p.Channels[channel]
	if len(bs) == 0 {
		return Bundle{}, false
	}
	return bs[len(bs)-1], true
}

// Find returns the bundle of a CSV name in a channel.
func (p *Package) Find(channel, csv string) (Bundle, bool) {
	for _, b := range p.Channels[channel] {
		if b.CSV == csv {
			return b, true
		}
	}
	return Bundle{}, false
}

// ChannelNames lists the channels, the default one first.
func (p *Package) ChannelNames() []string {
	var out []string
	for c := range p.Channels {
		if c != p.DefaultChannel {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return append([]string{p.DefaultChannel}, out...)
}

// BundleByCSV finds a CSV name in any package and channel.
func (c Catalog) BundleByCSV(csv string) (Bundle, bool) {
	for _, p := range c {
		for _, bs := range p.Channels {
			for _, b := range bs {
				if b.CSV == csv {
					return b, true
				}
			}
		}
	}
	return Bundle{}, false
}

// OADP's CRDs besides Velero's: DataProtectionApplication and CloudStorage.
var (
	DataProtectionApplication = mtccrds.Kind{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "DataProtectionApplication", Plural: "dataprotectionapplications", Short: "dpa"}
	CloudStorage              = mtccrds.Kind{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "CloudStorage", Plural: "cloudstorages"}
)

// Package and Deployment names of the default catalog.
const (
	MTCPackage        = "mtc-operator"
	OADPPackage       = "redhat-oadp-operator"
	MTCDeployment     = "migration-operator"
	OADPDeployment    = "openshift-adp-controller-manager"
	MTCDisplayName    = "Migration Toolkit for Containers Operator"
	OADPDisplayName   = "OADP Operator"
	mtcImageRepo      = "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator"
	oadpImageRepoRH8  = "registry.redhat.io/oadp/oadp-rhel8-operator"
	oadpImageRepoRHE9 = "registry.redhat.io/oadp/oadp-rhel9-operator"
)

// DefaultCatalog is the part of the redhat-operators index that MTC needs:
//
//   - mtc-operator, channels release-v1.8 (1.8.0 … 1.8.11, the default) and release-v1.7
//     (1.7.0 … 1.7.19). 1.8 depends on redhat-oadp-operator >=1.2.0 <1.3.0, 1.7 on OADP
//     >=0.5.0 <1.1.0 (mtc-facts §3). Upstream's 1.7 dependencies.yaml names the package
//     oadp-operator; the Red Hat index publishes OADP only as redhat-oadp-operator, so this catalog
//     takes the 1.7 dependency as renamed downstream like the MTC package itself (crane-operator →
//     mtc-operator). Change Depends here to play the upstream name.
//   - redhat-oadp-operator, channels stable-1.0 … stable-1.4 (default stable-1.4). The patch numbers
//     of OADP heads are illustrative.
//
// Each channel's head replaces every older bundle (MTC's CSVs carry an olm.skipRange below the head),
// so an upgrade goes straight to the head.
func DefaultCatalog() Catalog {
	mtc := &Package{Name: MTCPackage, DefaultChannel: "release-v1.8", Channels: map[string][]Bundle{}}
	for _, line := range []struct {
		minor, head int
		channel     string
		dep         Dependency
	}{
		{8, 11, "release-v1.8", Dependency{OADPPackage, "1.2.0", "1.3.0"}},
		{7, 19, "release-v1.7", Dependency{OADPPackage, "0.5.0", "1.1.0"}},
	} {
		for z := 0; z <= line.head; z++ {
			v := fmt.Sprintf("1.%d.%d", line.minor, z)
			mtc.Channels[line.channel] = append(mtc.Channels[line.channel], Bundle{
				Package: MTCPackage, CSV: "mtc-operator.v" + v, Version: v, DisplayName: MTCDisplayName,
				Deployment: MTCDeployment, Image: fmt.Sprintf("%s:v1.%d", mtcImageRepo, line.minor),
				ServiceAccounts: []string{MTCDeployment, "migration-controller"},
				// Both accounts are broad in the MTC CSV: the controller reads and writes every
				// kind on the clusters it migrates, which is also what a remote token grants.
				ClusterRules: map[string][]rbacv1.PolicyRule{
					MTCDeployment:          everything,
					"migration-controller": everything,
				},
				Owned: mtccrds.MTC, Depends: []Dependency{line.dep},
			})
		}
	}
	oadp := &Package{Name: OADPPackage, DefaultChannel: "stable-1.4", Channels: map[string][]Bundle{}}
	for _, line := range []struct{ minor, head int }{{0, 17}, {1, 7}, {2, 5}, {3, 6}, {4, 4}} {
		repo := oadpImageRepoRH8
		if line.minor >= 3 {
			repo = oadpImageRepoRHE9
		}
		ch := fmt.Sprintf("stable-1.%d", line.minor)
		for z := 0; z <= line.head; z++ {
			v := fmt.Sprintf("1.%d.%d", line.minor, z)
			oadp.Channels[ch] = append(oadp.Channels[ch], Bundle{
				Package: OADPPackage, CSV: "oadp-operator.v" + v, Version: v, DisplayName: OADPDisplayName,
				Deployment: OADPDeployment, Image: fmt.Sprintf("%s:v1.%d", repo, line.minor),
				ServiceAccounts: []string{OADPDeployment, "velero"},
				Owned:           append(append([]mtccrds.Kind{}, mtccrds.Velero...), DataProtectionApplication, CloudStorage),
			})
		}
	}
	return Catalog{MTCPackage: mtc, OADPPackage: oadp}
}

// compare orders dotted versions numerically ("1.10.0" > "1.9.3"); a leading v is ignored.
func compare(a, b string) int {
	pa := strings.Split(strings.TrimPrefix(a, "v"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
