package catalog

import "github.com/mtc-helm/mtc-helm/internal/mtccrds"

// The fact table. Every fact carries its source; "uncertain:" marks a choice the sources do not
// settle. Source keys are those of mtc-facts.md (../shared/reference/mtc-facts.md): MO@<branch> is
// github.com/migtools/mig-operator, OADP@<branch> is github.com/openshift/oadp-operator, DOCS:<module>
// is github.com/openshift/openshift-docs, KB <n> is a Red Hat knowledge-base article.

// firstMinor and lastMinor bound the OpenShift minors that have a catalog: 4.<firstMinor> to
// 4.<lastMinor>.
const (
	firstMinor = 12
	lastMinor  = 20
)

// span is a range of OpenShift 4 minors, both ends included.
type span struct{ from, to int }

func (s span) has(minor int) bool { return minor >= s.from && minor <= s.to }

// oadpReq is the OADP dependency (olm.package.required on redhat-oadp-operator) of the bundles of
// an MTC line from z fromZ on, up to the next oadpReq.
type oadpReq struct {
	fromZ        int
	versionRange string
}

// mtcLine is one MTC y-stream as the redhat-operators catalogs ship it: bundles 1.<y>.0 to
// 1.<y>.<head> in one channel.
type mtcLine struct {
	y, head int
	channel string
	image   string
	ocp     span
	oadp    []oadpReq
}

// mtcLines are the MTC lines, oldest first.
//
// Common to both (mtc-facts §3, MO@release-1.7 and MO@release-1.8 CSVs): downstream package
// mtc-operator (upstream crane-operator), CSV mtc-operator.v1.<y>.<z>, display name "Migration
// Toolkit for Containers Operator", suggested namespace openshift-migration, install mode
// OwnNamespace only, Deployment migration-operator with ServiceAccount migration-operator and one
// container "operator". Upgrade edges: each CSV carries olm.skipRange '>=0.0.0 <1.<y>.<z>' and
// spec.skips of every earlier z of its line (the 1.8.8 CSV skips mtc-operator.v1.8.0 … v1.8.7, the
// 1.7.19 CSV every 1.7.z before it; the 1.8.0 CSV has the skipRange and no skips).
// uncertain: the upstream CSVs carry no spec.replaces; each bundle here also replaces the previous z,
// as a downstream channel of consecutive releases does (it changes nothing OLM picks: the skips
// already cover that edge).
// No olm.maxOpenShiftVersion, minKubeVersion or com.redhat.openshift.versions was found for MTC
// (mtc-facts §3, §9): none is set.
var mtcLines = []mtcLine{
	{
		y: 7, head: 19, // 1.7.0 … 1.7.19 (mtc-facts §7a; 1.7.19 is the release-1.7 tip)
		channel: MTCChannel17, // MO@release-1.7 bundle annotations
		// uncertain: the downstream tag; the legacy docs use the floating tag v1.7 and Red Hat pins
		// digests. It is one of testenv.Images.
		image: "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator:v1.7",
		// charts/mtc-1.7/compat.yaml: ocp4 max 4.17, no min (the first catalog here is 4.12).
		// DOCS:mtc-operator-supported lists 4.12–4.15 in one version and 4.14–4.16 in another.
		ocp: span{firstMinor, 17},
		oadp: []oadpReq{
			// MO@release-1.7 dependencies.yaml: oadp-operator >=0.5.0 <1.1.0, i.e. OADP 1.0.z.
			// Assumption: the Red Hat bundle names the package redhat-oadp-operator, as the downstream
			// build renames crane-operator to mtc-operator and Red Hat's upgrade page shows a
			// redhat-oadp-operator-stable-1.0-… Subscription in openshift-migration (mtc-facts §11a).
			{0, ">=0.5.0 <1.1.0"},
		},
	},
	{
		y: 8, head: 11, // 1.8.0 … 1.8.11 (mtc-facts §7a: docs PR #102587; 1.8.9–1.8.11 only in docs)
		channel: MTCChannel18,                                                       // downstream channel (upstream bundle says development), mtc-facts §3
		image:   "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator:v1.8", // MO@release-1.8 .tekton; tag as for 1.7
		ocp:     span{14, lastMinor},                                                // charts/mtc-1.8/compat.yaml: ocp4 min 4.14, no max
		oadp: []oadpReq{
			// MO@release-1.8 dependencies.yaml; docs: "MTC 1.8.x by default installs OADP 1.2.x".
			// uncertain: whether the Red Hat 1.8.0–1.8.2 bundles already widened it.
			{0, ">=1.2.0 <1.3.0"},
			// KB 7088326: "mtc-operator.v1.8.3 requires redhat-oadp-operator >=1.2.3 <1.4.0", with the
			// install failing on 4.16 (no OADP 1.2 or 1.3 there, see oadpLines).
			{3, ">=1.2.3 <1.4.0"},
			// DOCS:migration-mtc-support: MTC 1.8.4+ runs with OADP 1.3.z (OpenShift <= 4.15) and with
			// OADP 1.4.z (4.13+). uncertain: the exact downstream range; whether 1.2 is still allowed.
			{4, ">=1.3.0 <1.5.0"},
			// MO@release-1.8 commit 0cf2b62 (2025-05-08, first released in 1.8.8) makes the role
			// handle OADP >= 1.5 (nodeAgent), and OADP 1.5 is the only line of 4.19+, where 1.8 is
			// offered. uncertain: the exact downstream range (not public), and whether 1.8.11 allows
			// OADP 1.6.
			{8, ">=1.3.0 <1.6.0"},
		},
	},
}

// oadpLine is one OADP y-stream: bundles 1.<y>.0 to 1.<y>.<head> in one channel.
type oadpLine struct {
	y, head int
	channel string
	image   string
	ocp     span
	// owned are the CRDs the bundle owns (OADP@oadp-1.<y> bundle/manifests).
	owned []mtccrds.Kind
	// maxOCP is the bundle's olm.maxOpenShiftVersion from z maxOCPFromZ on ("" for none).
	maxOCP      string
	maxOCPFromZ int
}

// oadpLines are the OADP lines, oldest first.
//
// Common to all (OADP@oadp-1.0 … oadp-1.5 CSVs): package redhat-oadp-operator (Red Hat's name;
// upstream oadp-operator), CSV oadp-operator.v1.<y>.<z>, display name "OADP Operator" (the name MO's
// role looks for, mtc-facts §3), suggested namespace openshift-adp, install mode OwnNamespace only
// (SingleNamespace, MultiNamespace and AllNamespaces false in every line), Deployment
// openshift-adp-controller-manager with ServiceAccount openshift-adp-controller-manager and one
// container "manager"; the CSVs also grant ServiceAccount velero (and from 1.5 non-admin-controller)
// cluster permissions. Each bundle replaces the previous z and carries olm.skipRange
// '>=0.0.0 <1.<y>.<z>' (the form of the 1.2–1.5 CSVs; 1.2 also has spec.replaces).
// Which channels each minor's catalog carries is the ocp span of each line; the default channel is
// the newest one the minor carries. The z heads are illustrative: the newest z named by the docs'
// attributes when this was written (openshift-docs PRs 76482, 94679), 1.0.17 taken from the old
// double without a source.
var oadpLines = []oadpLine{
	{
		y: 0, head: 17, channel: "stable-1.0", image: "registry.redhat.io/oadp/oadp-rhel8-operator:v1.0",
		// uncertain: OADP 1.0 support ended 14 Jun 2023 (DOCS:oadp-operator-supported), and the docs
		// list stable-1.0 as "deprecated and not supported" without saying which catalogs still carry
		// it. MTC 1.7's only dependency range (>=0.5.0 <1.1.0) needs it, and MTC 1.7 is documented for
		// 4.14–4.16 (DOCS:mtc-operator-supported) and promised to 4.17 (the procedure), so it is kept
		// through 4.17: with it gone, MTC 1.7 could not be installed there at all.
		ocp:   span{firstMinor, 17},
		owned: oadpOwned(mtccrds.Velero, false, false),
	},
	{
		y: 1, head: 8, channel: "stable-1.1", image: "registry.redhat.io/oadp/oadp-rhel8-operator:v1.1",
		// uncertain: the OKD version table gives 1.1.6+ as "4.11 and later" with no upper bound; the
		// channel is deprecated (about-oadp-update-channels). Kept in 4.12 only, illustrative.
		ocp:   span{firstMinor, 12},
		owned: oadpOwned(mtccrds.Velero, true, false), // 1.1 adds the datamover group
	},
	{
		y: 2, head: 5, channel: "stable-1.2", image: "registry.redhat.io/oadp/oadp-rhel8-operator:v1.2",
		// OKD version table: 4.11 and later; docs: 1.2.3 tested on 4.12–4.15; KB 7088326: an install
		// needing OADP <1.4.0 fails on 4.16. uncertain: exactly where the channel ends.
		ocp: span{firstMinor, 15},
		// mtc-facts §11b: the 1.2 bundle owns backuprepositories.velero.io (resticrepositories is gone)
		// and the datamover.oadp.openshift.io group (volumesnapshotbackups, volumesnapshotrestores).
		owned: oadpOwned(veleroRepo, true, false),
	},
	{
		y: 3, head: 6, channel: "stable-1.3", image: "registry.redhat.io/oadp/oadp-rhel9-operator:v1.3",
		ocp:   span{firstMinor, 15}, // support matrix: 4.12–4.15 (DOCS:oadp-operator-supported)
		owned: oadpOwned(veleroRepo, false, true),
		// OADP@oadp-1.3 commit 11aba28a (2024-09-13, OADP-4803) sets olm.maxOpenShiftVersion 4.15.
		// uncertain: the first z that shipped it; taken as 1.3.4.
		maxOCP: "4.15", maxOCPFromZ: 4,
	},
	{
		y: 4, head: 4, channel: "stable-1.4", image: "registry.redhat.io/oadp/oadp-rhel9-operator:v1.4",
		// OKD version table: 4.14–4.18; the Red Hat matrix said 4.14–4.17 before 4.18 shipped.
		ocp:   span{14, 18},
		owned: oadpOwned(veleroRepo, false, true),
	},
	{
		// about-oadp-update-channels: from OADP 1.5 on OpenShift 4.19 the channel is `stable` again,
		// holding the one OADP version supported on that OpenShift version.
		y: 5, head: 0, channel: "stable",
		// uncertain: the image name follows 1.3 and 1.4 (rhel9); it is not among testenv.Images yet.
		image: "registry.redhat.io/oadp/oadp-rhel9-operator:v1.5",
		// uncertain: 4.20 may carry OADP 1.6 in `stable`; 1.5 is kept there so MTC 1.8's range holds.
		ocp:   span{19, lastMinor},
		owned: append(oadpOwned(veleroRepo, false, true), oadpNonAdmin...),
	},
}

// Kinds OADP owns besides mtccrds.Velero (OADP@oadp-1.<y> bundle/manifests; stand-ins rendered by
// mtccrds.CRD, so only names, groups, versions, kinds and short names are real).
var (
	// DataProtectionApplication is OADP's configuration of Velero; MTC creates one named velero.
	DataProtectionApplication = mtccrds.Kind{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "DataProtectionApplication", Plural: "dataprotectionapplications", Short: "dpa"}
	// CloudStorage is OADP's bucket request.
	CloudStorage = mtccrds.Kind{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "CloudStorage", Plural: "cloudstorages"}

	backupRepository = mtccrds.Kind{Group: "velero.io", Version: "v1", Kind: "BackupRepository", Plural: "backuprepositories"}
	dataUpload       = mtccrds.Kind{Group: "velero.io", Version: "v2alpha1", Kind: "DataUpload", Plural: "datauploads"}
	dataDownload     = mtccrds.Kind{Group: "velero.io", Version: "v2alpha1", Kind: "DataDownload", Plural: "datadownloads"}
	datamover        = []mtccrds.Kind{
		{Group: "datamover.oadp.openshift.io", Version: "v1alpha1", Kind: "VolumeSnapshotBackup", Plural: "volumesnapshotbackups", Short: "vsb"},
		{Group: "datamover.oadp.openshift.io", Version: "v1alpha1", Kind: "VolumeSnapshotRestore", Plural: "volumesnapshotrestores", Short: "vsr"},
	}
	// oadpNonAdmin are the kinds OADP 1.5 adds (non-admin backup and the data protection test).
	oadpNonAdmin = []mtccrds.Kind{
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "DataProtectionTest", Plural: "dataprotectiontests", Short: "dpt"},
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "NonAdminBackup", Plural: "nonadminbackups", Short: "nab"},
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "NonAdminBackupStorageLocationRequest", Plural: "nonadminbackupstoragelocationrequests", Short: "nabslrequest"},
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "NonAdminBackupStorageLocation", Plural: "nonadminbackupstoragelocations", Short: "nabsl"},
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "NonAdminDownloadRequest", Plural: "nonadmindownloadrequests", Short: "nadr"},
		{Group: "oadp.openshift.io", Version: "v1alpha1", Kind: "NonAdminRestore", Plural: "nonadminrestores", Short: "nar"},
	}
	// veleroRepo is mtccrds.Velero with ResticRepository replaced by BackupRepository (Velero 1.10+,
	// OADP 1.2+).
	veleroRepo = func() []mtccrds.Kind {
		var out []mtccrds.Kind
		for _, k := range mtccrds.Velero {
			if k.Kind == "ResticRepository" {
				k = backupRepository
			}
			out = append(out, k)
		}
		return out
	}()
)

// oadpOwned lists the CRDs of an OADP bundle: the velero.io kinds, DataProtectionApplication and
// CloudStorage, the datamover group (1.1, 1.2) and DataUpload/DataDownload (1.3+).
func oadpOwned(velero []mtccrds.Kind, withDatamover, withDataMovement bool) []mtccrds.Kind {
	out := append([]mtccrds.Kind{}, velero...)
	if withDataMovement {
		out = append(out, dataUpload, dataDownload)
	}
	out = append(out, DataProtectionApplication, CloudStorage)
	if withDatamover {
		out = append(out, datamover...)
	}
	return out
}
