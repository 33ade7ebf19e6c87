// Package chartgen makes each chart's values.yaml and values.schema.json from the one source both
// charts share (charts/shared) and the chart's own line data, and says where a chart's files drifted
// from what that source makes.
//
// The shared files are the whole of a chart's files but for two marker lines and one placeholder:
//   - a line holding only MarkerValues (values.yaml) or MarkerSchema (values.schema.json) takes the
//     chart's values.line.yaml, or the members of its values.line.schema.json object (written with
//     the indentation they get in place); a chart without such a file gets nothing there;
//   - AppVersion stands for the chart's appVersion.
//
// The line files are kept out of the packaged chart by its .helmignore.
package chartgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// The marker lines and the placeholder of the shared sources.
const (
	MarkerValues = "#@ values.line.yaml"
	MarkerSchema = `"@": "values.line.schema.json",`
	AppVersion   = "@appVersion@"
)

// Files are what a chart's generated files must hold.
type Files struct {
	Values, Schema []byte
}

// Generate makes the values.yaml and values.schema.json of the chart in chartDir from the shared
// sources in sharedDir.
func Generate(sharedDir, chartDir string) (Files, error) {
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return Files{}, err
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil || chart.AppVersion == "" {
		return Files{}, fmt.Errorf("%s/Chart.yaml: no appVersion (%v)", chartDir, err)
	}
	values, err := fill(filepath.Join(sharedDir, "values.yaml"), MarkerValues, filepath.Join(chartDir, "values.line.yaml"), chart.AppVersion, nil)
	if err != nil {
		return Files{}, err
	}
	schema, err := fill(filepath.Join(sharedDir, "values.schema.json"), MarkerSchema, filepath.Join(chartDir, "values.line.schema.json"), chart.AppVersion, members)
	if err != nil {
		return Files{}, err
	}
	return Files{Values: values, Schema: schema}, nil
}

// members turns a JSON object file into its member lines followed by a comma, for insertion
// before the next member of the shared schema's object.
func members(path string, b []byte) ([]byte, error) {
	var probe map[string]any
	if err := yaml.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 3 || strings.TrimSpace(lines[0]) != "{" || strings.TrimSpace(lines[len(lines)-1]) != "}" {
		return nil, fmt.Errorf("%s: want a JSON object with its braces alone on the first and last lines", path)
	}
	inner := lines[1 : len(lines)-1]
	inner[len(inner)-1] += ","
	return []byte(strings.Join(inner, "\n") + "\n"), nil
}

// fill reads the shared source, puts the line file (transformed by conv) where the marker line
// stands, and the chart's appVersion for the placeholder.
func fill(source, marker, lineFile, appVersion string, conv func(string, []byte) ([]byte, error)) ([]byte, error) {
	src, err := os.ReadFile(source)
	if err != nil {
		return nil, err
	}
	insert, err := os.ReadFile(lineFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		insert = nil
	case err != nil:
		return nil, err
	case conv != nil:
		if insert, err = conv(lineFile, insert); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	found := 0
	for line := range strings.Lines(string(src)) {
		if strings.TrimSpace(line) == marker {
			found++
			out.Write(insert)
			continue
		}
		out.WriteString(strings.ReplaceAll(line, AppVersion, appVersion))
	}
	if found != 1 {
		return nil, fmt.Errorf("%s: want the marker line %q once, found it %d times", source, marker, found)
	}
	return out.Bytes(), nil
}

// Check says where the chart's values.yaml and values.schema.json differ from what the shared
// sources make: the first differing line of each, with the remedy.
func Check(sharedDir, chartDir string) error {
	want, err := Generate(sharedDir, chartDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range []struct {
		name string
		want []byte
	}{{"values.yaml", want.Values}, {"values.schema.json", want.Schema}} {
		have, err := os.ReadFile(filepath.Join(chartDir, f.name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n, h, w, differ := firstDifference(have, f.want); differ {
			errs = append(errs, fmt.Errorf("%s line %d is %q where the shared source makes %q: edit charts/shared/%s (or the chart's %s) and run ci/charts.sh values",
				filepath.Join(chartDir, f.name), n, h, w, f.name, lineName(f.name)))
		}
	}
	return errors.Join(errs...)
}

// Write makes the chart's files from the shared sources.
func Write(sharedDir, chartDir string) error {
	f, err := Generate(sharedDir, chartDir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(chartDir, "values.yaml"), f.Values, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(chartDir, "values.schema.json"), f.Schema, 0o644)
}

func lineName(file string) string {
	return strings.Replace(file, "values.", "values.line.", 1)
}

// firstDifference gives the 1-based number of the first line where a and b differ, with both lines.
func firstDifference(a, b []byte) (int, string, string, bool) {
	if bytes.Equal(a, b) {
		return 0, "", "", false
	}
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return i + 1, x, y, true
		}
	}
}
