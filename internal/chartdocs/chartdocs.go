// Package chartdocs turns the comments of a chart's values.yaml into the values reference of its
// README.md. Every key carries a comment on the line(s) above it that starts with the key's own name,
// then " -- " and the description. The table sits between the markers <!-- values:start --> and
// <!-- values:end -->; the rest of the README is written by hand.
package chartdocs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	startMarker = "<!-- values:start -->"
	endMarker   = "<!-- values:end -->"
)

// Document renders the table of one chart and reports whether README.md differs from it; unless
// checkOnly, it also writes the new README.
func Document(dir string, checkOnly bool) (bool, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return false, err
	}
	rows, err := Rows(raw)
	if err != nil {
		return false, err
	}
	readmePath := filepath.Join(dir, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return false, err
	}
	updated, err := Splice(readme, Table(rows))
	if err != nil {
		return false, fmt.Errorf("README.md: %w", err)
	}
	if bytes.Equal(updated, readme) {
		return false, nil
	}
	if checkOnly {
		return true, nil
	}
	return true, os.WriteFile(readmePath, updated, 0o644)
}

// Row is one documented key.
type Row struct {
	Path, Type, Default, Description string
}

// Rows walks values.yaml and returns one row per key, in file order. A key without a comment
// that starts with its name is an error.
func Rows(values []byte) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(values, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("values.yaml is not a map")
	}
	var rows []Row
	var problems []string
	walk(doc.Content[0], "", &rows, &problems)
	if len(problems) > 0 {
		return nil, fmt.Errorf("keys without a comment that starts with their name: %s", strings.Join(problems, ", "))
	}
	return rows, nil
}

func walk(m *yaml.Node, prefix string, rows *[]Row, problems *[]string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], m.Content[i+1]
		path := key.Value
		if prefix != "" {
			path = prefix + "." + key.Value
		}
		desc, ok := describe(key.HeadComment, key.Value)
		if !ok {
			*problems = append(*problems, path)
		}
		nested := value.Kind == yaml.MappingNode && value.Style&yaml.FlowStyle == 0 && len(value.Content) > 0
		row := Row{Path: path, Type: kind(value), Description: desc}
		if !nested {
			row.Default = render(value)
		}
		*rows = append(*rows, row)
		if nested {
			walk(value, path, rows, problems)
		}
	}
}

// describe finds the comment line that starts with "name -- " (the last one, so that commented
// examples above it do not count) and returns the description from there to the key.
func describe(comment, name string) (string, bool) {
	var lines []string
	for _, line := range strings.Split(comment, "\n") {
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")))
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], name+" -- "); ok {
			return strings.Join(append([]string{rest}, lines[i+1:]...), " "), true
		}
	}
	return "", false
}

func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	}
	switch n.Tag {
	case "!!bool":
		return "bool"
	case "!!int":
		return "int"
	case "!!float":
		return "number"
	}
	return "string"
}

func render(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!str" {
			return fmt.Sprintf("%q", n.Value)
		}
		return n.Value
	}
	c := *n
	c.Style = yaml.FlowStyle
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	out, err := yaml.Marshal(&c)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// Table renders rows as a Markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
	for _, r := range rows {
		def := ""
		if r.Default != "" {
			def = "`" + strings.ReplaceAll(r.Default, "|", `\|`) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Path, r.Type, def, strings.ReplaceAll(r.Description, "|", `\|`))
	}
	return b.String()
}

// Splice replaces what lies between the markers of readme with table.
func Splice(readme []byte, table string) ([]byte, error) {
	s := string(readme)
	start := strings.Index(s, startMarker)
	end := strings.Index(s, endMarker)
	if start < 0 || end < start {
		return nil, fmt.Errorf("missing %s ... %s markers", startMarker, endMarker)
	}
	return []byte(s[:start+len(startMarker)] + "\n" + table + s[end:]), nil
}
