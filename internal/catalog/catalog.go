// Package catalog generates the part of OpenShift's redhat-operators catalog that MTC needs, as
// the file-based catalog (FBC) that operator-registry's `opm serve` serves to the real OLM: one
// catalog per OpenShift minor 4.12 … 4.20, holding the packages mtc-operator (channels
// release-v1.7 and release-v1.8) and redhat-oadp-operator (channels stable-1.0 … stable-1.4 and
// stable), built from a fact table (facts.go, rbac.go) in which every fact names its source or is
// marked uncertain.
//
// Every bundle is inline: its image is "" and its olm.bundle.object properties hold the CSV and the
// CRDs (and OADP's ClusterRoles), so opm serves them inside the bundle and OLM turns them into
// InstallPlan steps without pulling a bundle image or running an unpack Job
// (operator-lifecycle-manager v0.38.0: resolver/source_registry.go keeps the embedded bundle when
// its path is empty, and step_resolver.go builds the steps from it with NewStepsFromBundle). The
// CRDs are the stand-ins of internal/mtccrds. The operator images are among testenv.Images, so
// the lab's node can pull them.
//
// Use:
//
//	cat, err := catalog.For("4.16")
//	err = cat.WriteFBC(dir) // dir/mtc-operator/catalog.json, dir/redhat-oadp-operator/catalog.json
//	// then `opm serve dir -p <port>` and a CatalogSource CatalogSourceName in CatalogNamespace
//	// of sourceType grpc pointing at it.
//
// Queries for tests: Channels, DefaultChannel, HasChannel, Bundles, Head, Find, Satisfying, and
// InRange for OLM's version ranges.
package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// Names the catalogs and the CSVs use.
const (
	// CatalogSourceName and CatalogNamespace name the CatalogSource that serves these catalogs on
	// OpenShift (mtc-facts §3).
	CatalogSourceName = "redhat-operators"
	CatalogNamespace  = "openshift-marketplace"

	// MTCPackage is the MTC operator's package; its CSVs are mtc-operator.v1.<y>.<z>.
	MTCPackage     = "mtc-operator"
	MTCDisplayName = "Migration Toolkit for Containers Operator"
	// MTCNamespace is the suggested (and only workable) namespace of MTC.
	MTCNamespace = kube.Namespace
	// MTCDeployment is the MTC operator's Deployment and ServiceAccount.
	MTCDeployment = "migration-operator"
	// MTCControllerServiceAccount is the second ServiceAccount of the MTC CSV, that of
	// mig-controller (cluster permissions only).
	MTCControllerServiceAccount = "migration-controller"
	// MTC channels.
	MTCChannel17 = "release-v1.7"
	MTCChannel18 = "release-v1.8"

	// OADPPackage is the OADP operator's package (an OLM dependency of MTC); its CSVs are
	// oadp-operator.v1.<y>.<z>.
	OADPPackage     = "redhat-oadp-operator"
	OADPDisplayName = "OADP Operator"
	// OADPNamespace is OADP's suggested namespace (as a dependency of MTC it is installed in
	// MTC's namespace).
	OADPNamespace = "openshift-adp"
	// OADPDeployment is the OADP operator's Deployment and ServiceAccount.
	OADPDeployment = "openshift-adp-controller-manager"
)

// Bundle is one operator version in a catalog.
type Bundle struct {
	// Package and Channel hold the bundle; CSV is its name (mtc-operator.v1.8.11), Version its
	// version (1.8.11).
	Package, Channel, CSV, Version string
	// Replaces, Skips and SkipRange are its upgrade edges (the olm.channel entry).
	Replaces  string
	Skips     []string
	SkipRange string
	// OADPRange is the versionRange of its olm.package.required on redhat-oadp-operator ("" when
	// it has none, as OADP's bundles).
	OADPRange string
	// MaxOpenShiftVersion is its olm.maxOpenShiftVersion ("" when none).
	MaxOpenShiftVersion string
	// Image is the operator image of its Deployment, whose name is Deployment.
	Image, Deployment string
	// ServiceAccounts are those OLM creates for its permissions, the Deployment's first.
	ServiceAccounts []string
	// Owned are the CRDs it owns.
	Owned []mtccrds.Kind

	y, z int
}

// Catalog is the redhat-operators catalog of one OpenShift minor.
type Catalog struct {
	minor    int
	packages []*pkg
}

type pkg struct {
	name, defaultChannel string
	channels             []channel // by name
}

type channel struct {
	name    string
	bundles []Bundle // oldest first; the last is the head
}

// Minors lists the OpenShift minors that have a catalog, "4.12" to "4.20".
func Minors() []string {
	var out []string
	for m := firstMinor; m <= lastMinor; m++ {
		out = append(out, "4."+strconv.Itoa(m))
	}
	return out
}

// For returns the catalog of an OpenShift minor such as "4.16".
func For(ocpMinor string) (*Catalog, error) {
	m, err := strconv.Atoi(strings.TrimPrefix(ocpMinor, "4."))
	if !strings.HasPrefix(ocpMinor, "4.") || err != nil || m < firstMinor || m > lastMinor {
		return nil, fmt.Errorf("there is no catalog for OpenShift %q: the catalogs cover OpenShift 4.%d to 4.%d", ocpMinor, firstMinor, lastMinor)
	}
	c := &Catalog{minor: m}
	mtc := &pkg{name: MTCPackage}
	for _, l := range mtcLines {
		if l.ocp.has(m) {
			mtc.channels = append(mtc.channels, channel{l.channel, mtcBundles(l)})
			mtc.defaultChannel = l.channel // the newest line offered
		}
	}
	oadp := &pkg{name: OADPPackage}
	for _, l := range oadpLines {
		if l.ocp.has(m) {
			oadp.channels = append(oadp.channels, channel{l.channel, oadpBundles(l)})
			oadp.defaultChannel = l.channel
		}
	}
	for _, p := range []*pkg{mtc, oadp} {
		slices.SortFunc(p.channels, func(a, b channel) int { return strings.Compare(a.name, b.name) })
		c.packages = append(c.packages, p)
	}
	return c, nil
}

// mtcBundles lists the bundles of an MTC line, oldest first.
func mtcBundles(l mtcLine) []Bundle {
	var out []Bundle
	for z := 0; z <= l.head; z++ {
		b := bundle(MTCPackage, l.channel, "mtc-operator.v", l.y, z, out)
		for _, r := range l.oadp {
			if z >= r.fromZ {
				b.OADPRange = r.versionRange
			}
		}
		b.Image, b.Deployment, b.Owned = l.image, MTCDeployment, mtccrds.MTC
		ns, cluster := mtcPermissions(l.y, z)
		b.ServiceAccounts = serviceAccounts(MTCDeployment, ns, cluster)
		out = append(out, b)
	}
	return out
}

// oadpBundles lists the bundles of an OADP line, oldest first. OADP's CSVs carry no spec.skips.
func oadpBundles(l oadpLine) []Bundle {
	var out []Bundle
	for z := 0; z <= l.head; z++ {
		b := bundle(OADPPackage, l.channel, "oadp-operator.v", l.y, z, out)
		b.Skips = nil
		if l.maxOCP != "" && z >= l.maxOCPFromZ {
			b.MaxOpenShiftVersion = l.maxOCP
		}
		b.Image, b.Deployment, b.Owned = l.image, OADPDeployment, l.owned
		ns, cluster := oadpPermissions(l.y)
		b.ServiceAccounts = serviceAccounts(OADPDeployment, ns, cluster)
		out = append(out, b)
	}
	return out
}

// bundle builds version 1.<y>.<z> of a channel whose older bundles are prev: it replaces the
// previous z, skips all earlier ones and skips the range below itself.
func bundle(pkgName, ch, csvPrefix string, y, z int, prev []Bundle) Bundle {
	v := fmt.Sprintf("1.%d.%d", y, z)
	b := Bundle{Package: pkgName, Channel: ch, CSV: csvPrefix + v, Version: v, SkipRange: ">=0.0.0 <" + v, y: y, z: z}
	if len(prev) > 0 {
		b.Replaces = prev[len(prev)-1].CSV
	}
	for _, p := range prev {
		b.Skips = append(b.Skips, p.CSV)
	}
	return b
}

// serviceAccounts lists the ServiceAccounts of the permissions, first the Deployment's.
func serviceAccounts(first string, perms ...[]permissions) []string {
	out := []string{first}
	for _, ps := range perms {
		for _, p := range ps {
			if !slices.Contains(out, p.ServiceAccountName) {
				out = append(out, p.ServiceAccountName)
			}
		}
	}
	return out
}

// Minor is the catalog's OpenShift minor, such as "4.16".
func (c *Catalog) Minor() string { return "4." + strconv.Itoa(c.minor) }

// Packages lists the catalog's packages.
func (c *Catalog) Packages() []string {
	var out []string
	for _, p := range c.packages {
		out = append(out, p.name)
	}
	return out
}

func (c *Catalog) pkg(name string) *pkg {
	for _, p := range c.packages {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (c *Catalog) channel(pkgName, ch string) *channel {
	if p := c.pkg(pkgName); p != nil {
		for i := range p.channels {
			if p.channels[i].name == ch {
				return &p.channels[i]
			}
		}
	}
	return nil
}

// Channels lists a package's channels by name (none for an unknown package).
func (c *Catalog) Channels(pkgName string) []string {
	var out []string
	if p := c.pkg(pkgName); p != nil {
		for _, ch := range p.channels {
			out = append(out, ch.name)
		}
	}
	return out
}

// DefaultChannel is a package's default channel: the newest line the minor offers ("" for an
// unknown package).
func (c *Catalog) DefaultChannel(pkgName string) string {
	if p := c.pkg(pkgName); p != nil {
		return p.defaultChannel
	}
	return ""
}

// HasChannel reports whether the catalog offers a package's channel.
func (c *Catalog) HasChannel(pkgName, ch string) bool { return c.channel(pkgName, ch) != nil }

// Bundles lists a channel's bundles, oldest first.
func (c *Catalog) Bundles(pkgName, ch string) []Bundle {
	if x := c.channel(pkgName, ch); x != nil {
		return slices.Clone(x.bundles)
	}
	return nil
}

// Head returns the newest bundle of a channel, the one a Subscription to it installs.
func (c *Catalog) Head(pkgName, ch string) (Bundle, bool) {
	x := c.channel(pkgName, ch)
	if x == nil || len(x.bundles) == 0 {
		return Bundle{}, false
	}
	return x.bundles[len(x.bundles)-1], true
}

// Find returns the bundle of a CSV name.
func (c *Catalog) Find(csv string) (Bundle, bool) {
	for _, p := range c.packages {
		for _, ch := range p.channels {
			for _, b := range ch.bundles {
				if b.CSV == csv {
					return b, true
				}
			}
		}
	}
	return Bundle{}, false
}

// Satisfying lists the bundles of a package whose version is in versionRange, by channel and
// oldest first: what OLM may pick for an olm.package.required of that range.
func (c *Catalog) Satisfying(pkgName, versionRange string) ([]Bundle, error) {
	var out []Bundle
	p := c.pkg(pkgName)
	if p == nil {
		return nil, nil
	}
	for _, ch := range p.channels {
		for _, b := range ch.bundles {
			ok, err := InRange(b.Version, versionRange)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, b)
			}
		}
	}
	return out, nil
}
