package kube

import (
	"fmt"
	"io"
	"strings"
)

// Text builds a hook's report for people: one "label: value" line per field, with the values of a
// report in one column. Every hook's report is written through it, so they all read alike.
type Text struct {
	b     strings.Builder
	width int
}

// NewText starts a report whose values begin at column width (the label, its colon and the padding);
// a label as long as that, or a width of 0, is followed by one space.
func NewText(width int) *Text { return &Text{width: width} }

// Field writes one line: label padded to the report's column, then the formatted value.
func (t *Text) Field(label, format string, args ...any) {
	t.b.WriteString(label)
	t.b.WriteString(strings.Repeat(" ", max(t.width-len(label), 1)))
	fmt.Fprintf(&t.b, format+"\n", args...)
}

// Each writes one Field line per value, all under the same label.
func (t *Text) Each(label string, values []string) {
	for _, v := range values {
		t.Field(label, "%s", v)
	}
}

// FieldIf writes the Field line only when value is not empty.
func (t *Text) FieldIf(label, value string) {
	if value != "" {
		t.Field(label, "%s", value)
	}
}

// Line writes a line of its own shape (an indented step, a banner).
func (t *Text) Line(format string, args ...any) {
	fmt.Fprintf(&t.b, format+"\n", args...)
}

// Print writes the report in one write.
func (t *Text) Print(w io.Writer) error {
	_, err := io.WriteString(w, t.b.String())
	return err
}
