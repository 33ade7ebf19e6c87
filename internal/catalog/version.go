package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// InRange reports whether version (major.minor.patch) satisfies versionRange, written as OLM
// writes olm.package.required and olm.skipRange values (blang/semver ranges): comparisons
// (>=, >, <=, <, =, !=) joined by spaces (and) and by "||" (or), such as ">=1.2.0 <1.3.0".
func InRange(version, versionRange string) (bool, error) {
	v, err := parseVersion(version)
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(versionRange) == "" {
		return false, fmt.Errorf("empty version range")
	}
	for _, alt := range strings.Split(versionRange, "||") {
		fields := strings.Fields(alt)
		if len(fields) == 0 {
			return false, fmt.Errorf("version range %q has an empty alternative", versionRange)
		}
		all := true
		for _, f := range fields {
			ok, err := compareTo(v, f)
			if err != nil {
				return false, fmt.Errorf("version range %q: %w", versionRange, err)
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

// compareTo evaluates one comparison such as ">=1.2.0" for v.
func compareTo(v [3]int, cmp string) (bool, error) {
	op := cmp[:len(cmp)-len(strings.TrimLeft(cmp, "<>=!"))]
	w, err := parseVersion(cmp[len(op):])
	if err != nil {
		return false, err
	}
	c := compareVersions(v, w)
	switch op {
	case ">=":
		return c >= 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	case "<":
		return c < 0, nil
	case "=", "==", "":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	}
	return false, fmt.Errorf("unknown comparison %q", cmp)
}

// parseVersion parses major.minor.patch (a leading v is allowed).
func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q is not major.minor.patch", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("version %q is not major.minor.patch", s)
		}
		v[i] = n
	}
	return v, nil
}

// compareVersions orders versions numerically: -1, 0 or 1.
func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
