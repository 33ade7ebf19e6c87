// Package charts exposes the compatibility matrix of the versioned MTC charts to Go code.
//
// Each versioned chart carries a compat.yaml that says which OpenShift versions its MTC line supports. The
// chart templates read that file with .Files.Get; this package embeds the very same files, so the hook binary
// and the charts cannot disagree about the matrix.
package charts

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

//go:embed mtc-1.8/compat.yaml mtc-1.7/compat.yaml
var compatFiles embed.FS

// Platform names used as keys under `platforms` in compat.yaml.
const (
	PlatformOCP3 = "ocp3"
	PlatformOCP4 = "ocp4"
)

// Range bounds the supported versions of one platform; an empty bound is open.
type Range struct {
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
}

// Compat is one chart's compat.yaml.
type Compat struct {
	// Chart is the chart directory the file came from, for example "mtc-1.8".
	Chart string `json:"-"`
	// Line is the MTC y-stream the chart installs, for example "1.8".
	Line string `json:"line"`
	// Channel is the OLM channel of the mtc-operator package.
	Channel string `json:"channel"`
	// Platforms maps a platform name to its supported range; absent means unsupported.
	Platforms map[string]Range `json:"platforms"`
}

// Matrix is the compatibility matrix of every versioned chart, keyed by MTC line.
type Matrix map[string]Compat

// LoadMatrix parses every embedded compat.yaml.
func LoadMatrix() (Matrix, error) {
	return loadMatrix(compatFiles)
}

func loadMatrix(fsys fs.FS) (Matrix, error) {
	paths, err := fs.Glob(fsys, "*/compat.yaml")
	if err != nil {
		return nil, fmt.Errorf("failed to list compat.yaml files: %w", err)
	}
	m := Matrix{}
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", p, err)
		}
		var c Compat
		if err := yaml.UnmarshalStrict(data, &c); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", p, err)
		}
		c.Chart = strings.SplitN(p, "/", 2)[0]
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("invalid %s: %w", p, err)
		}
		if prev, dup := m[c.Line]; dup {
			return nil, fmt.Errorf("charts %s and %s both claim MTC line %s", prev.Chart, c.Chart, c.Line)
		}
		m[c.Line] = c
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no compat.yaml embedded")
	}
	return m, nil
}

func (c Compat) validate() error {
	if _, err := ParseVersion(c.Line); err != nil {
		return fmt.Errorf("line: %w", err)
	}
	if c.Channel == "" {
		return fmt.Errorf("channel is empty")
	}
	if len(c.Platforms) == 0 {
		return fmt.Errorf("platforms is empty")
	}
	for name, r := range c.Platforms {
		if name != PlatformOCP3 && name != PlatformOCP4 {
			return fmt.Errorf("unknown platform %q (want %s or %s)", name, PlatformOCP3, PlatformOCP4)
		}
		for _, b := range []string{r.Min, r.Max} {
			if b == "" {
				continue
			}
			if _, err := ParseVersion(b); err != nil {
				return fmt.Errorf("platforms.%s: %w", name, err)
			}
		}
	}
	return nil
}

// Lines returns the MTC lines of the matrix in ascending order.
func (m Matrix) Lines() []string {
	lines := make([]string, 0, len(m))
	for l := range m {
		lines = append(lines, l)
	}
	sort.Slice(lines, func(i, j int) bool {
		a, _ := ParseVersion(lines[i])
		b, _ := ParseVersion(lines[j])
		return a.Compare(b) < 0
	})
	return lines
}

// Supports reports whether the given platform version is inside the line's range for that platform.
func (c Compat) Supports(platform string, version Version) bool {
	r, ok := c.Platforms[platform]
	if !ok {
		return false
	}
	mm := Version{Major: version.Major, Minor: version.Minor, Parts: 2}
	if r.Min != "" {
		min, _ := ParseVersion(r.Min)
		if mm.Compare(min) < 0 {
			return false
		}
	}
	if r.Max != "" {
		max, _ := ParseVersion(r.Max)
		if mm.Compare(max) > 0 {
			return false
		}
	}
	return true
}

// Describe renders the supported platforms of the line in words, for messages: "OCP 4.14 and later".
func (c Compat) Describe() string {
	var parts []string
	for _, p := range []string{PlatformOCP3, PlatformOCP4} {
		r, ok := c.Platforms[p]
		if !ok {
			continue
		}
		name := "OCP " + strings.TrimPrefix(p, "ocp")
		switch {
		case r.Min != "" && r.Min == r.Max:
			parts = append(parts, "OCP "+r.Min)
		case r.Min != "" && r.Max != "":
			parts = append(parts, fmt.Sprintf("OCP %s to %s", r.Min, r.Max))
		case r.Min != "":
			parts = append(parts, fmt.Sprintf("OCP %s and later", r.Min))
		case r.Max != "":
			parts = append(parts, fmt.Sprintf("%s up to %s", name, r.Max))
		default:
			parts = append(parts, "any "+name)
		}
	}
	return strings.Join(parts, " and ")
}

// Version is a dotted version with up to three numeric parts; a leading "v" and any suffix after "-" or "+"
// are ignored ("v1.8.8", "4.17.3", "3.11", "1.7.19-rc1").
type Version struct {
	Major, Minor, Patch int
	// Parts is how many parts were given (1 to 3); Compare only looks at the parts both sides have.
	Parts int
}

// ParseVersion parses s as a Version.
func ParseVersion(s string) (Version, error) {
	raw := s
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+ "); i >= 0 {
		s = s[:i]
	}
	fields := strings.Split(s, ".")
	if s == "" || len(fields) > 3 {
		return Version{}, fmt.Errorf("version %q is not of the form X.Y or X.Y.Z", raw)
	}
	var n [3]int
	for i, f := range fields {
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("version %q is not of the form X.Y or X.Y.Z", raw)
		}
		n[i] = v
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], Parts: len(fields)}, nil
}

// Line returns the "X.Y" of the version.
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) String() string {
	switch v.Parts {
	case 1:
		return strconv.Itoa(v.Major)
	case 2:
		return v.Line()
	default:
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
}

// Compare returns -1, 0 or 1. Only the parts both versions have are compared, so "1.8" equals "1.8.8".
func (v Version) Compare(o Version) int {
	parts := min(v.Parts, o.Parts)
	a := [3]int{v.Major, v.Minor, v.Patch}
	b := [3]int{o.Major, o.Minor, o.Patch}
	for i := 0; i < parts; i++ {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}
