// Command testdigest reads `go test -json` on its standard input, prints the test output as `go test` would
// without -v (a test's output only when it fails; with -v, all of it as it comes), and ends with a digest of
// every failed test: the messages its test code logged (file:line lines, panics), without the component logs
// that run between them. CI keeps the head and the tail of a long run's output; the digest puts why each test
// failed in the tail.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// event is the part of test2json's output the digest reads (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

const (
	keepPerTest = 40  // the last messages kept for a failed test
	keepPerPkg  = 30  // the last lines kept for a package that failed outside its tests
	lineWidth   = 400 // a longer line is cut in the digest (never in the output itself)
)

// message is a line the testing package writes for t.Log, t.Error or t.Fatal: an indented file.go:line: prefix.
var message = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

type key struct{ pkg, test string }

type digest struct {
	verbose    bool
	held       map[key][]string // a running test's output, printed if it fails (without verbose)
	lines      map[key][]string
	inMessage  map[key]bool
	inPanic    map[key]bool
	started    []key
	ended      map[key]bool
	failed     []key
	failedPkgs []string
	pkgOutput  map[string][]string
}

func newDigest(verbose bool) *digest {
	return &digest{verbose: verbose, held: map[key][]string{}, lines: map[key][]string{}, inMessage: map[key]bool{}, inPanic: map[key]bool{}, ended: map[key]bool{}, pkgOutput: map[string][]string{}}
}

// add records one event, and returns the text to print for it.
func (d *digest) add(e event) string {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output", "build-output":
		d.note(k, e.Output)
		if d.verbose {
			return e.Output
		}
		if e.Test == "" {
			if e.Output == "PASS\n" {
				return "" // go test prints it with -v only
			}
			return e.Output
		}
		d.held[k] = append(d.held[k], e.Output)
	case "run":
		d.started = append(d.started, k)
	case "pass", "skip":
		d.ended[k] = true
		delete(d.held, k)
	case "fail":
		d.ended[k] = true
		if e.Test != "" {
			d.failed = append(d.failed, k)
			return d.release(func(h key) bool { return h == k })
		} else if e.Package != "" {
			d.failedPkgs = append(d.failedPkgs, e.Package)
			// what the tests still running when the package ended said
			return d.release(func(h key) bool { return h.pkg == e.Package })
		}
	}
	return ""
}

// release returns the held output of the tests that match, in the order they started, and forgets it.
func (d *digest) release(match func(key) bool) string {
	var b strings.Builder
	for _, k := range d.started {
		if out, ok := d.held[k]; ok && match(k) {
			b.WriteString(strings.Join(out, ""))
			delete(d.held, k)
		}
	}
	return b.String()
}

func (d *digest) note(k key, out string) {
	line := strings.TrimRight(out, "\n")
	if k.test == "" {
		d.pkgOutput[k.pkg] = tail(append(d.pkgOutput[k.pkg], cut(line)), keepPerPkg)
		return
	}
	switch {
	case message.MatchString(line):
		d.inMessage[k], d.inPanic[k] = true, false
	case strings.HasPrefix(line, "panic:"):
		// a panic, or the timeout's, which names the tests still running on lines led by tabs
		d.inMessage[k], d.inPanic[k] = true, true
	case d.inMessage[k] && strings.HasPrefix(line, "        "):
		// a message's continuation line: the testing package indents it further
	case d.inPanic[k] && strings.HasPrefix(line, "\t"):
	default:
		d.inMessage[k], d.inPanic[k] = false, false
		return
	}
	d.lines[k] = tail(append(d.lines[k], cut(line)), keepPerTest)
}

// write prints the digest, or nothing when every test passed.
func (d *digest) write(w io.Writer) {
	if len(d.failed) == 0 && len(d.failedPkgs) == 0 {
		return
	}
	fmt.Fprintln(w, "\n=== digest: what each failed test said")
	withTests := map[string]bool{}
	for _, k := range d.failed {
		withTests[k.pkg] = true
		msgs := d.lines[k]
		if len(msgs) == 0 {
			continue // a parent whose subtests failed: they are listed
		}
		fmt.Fprintf(w, "--- FAIL: %s (%s)\n", k.test, k.pkg)
		for _, l := range msgs {
			fmt.Fprintln(w, l)
		}
	}
	for _, p := range d.failedPkgs {
		// The tests a package was still running when it ended (a timeout, a panic) have no end of
		// their own: what they said is what there is.
		for _, k := range d.started {
			if k.pkg != p || d.ended[k] || len(d.lines[k]) == 0 {
				continue
			}
			withTests[p] = true
			fmt.Fprintf(w, "--- UNFINISHED: %s (%s)\n", k.test, k.pkg)
			for _, l := range d.lines[k] {
				fmt.Fprintln(w, l)
			}
		}
		if withTests[p] {
			continue
		}
		fmt.Fprintf(w, "--- FAIL: package %s, outside its tests:\n", p)
		for _, l := range d.pkgOutput[p] {
			fmt.Fprintln(w, l)
		}
	}
}

func tail(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func cut(s string) string {
	if len(s) > lineWidth {
		return s[:lineWidth] + " …"
	}
	return s
}

func run(in io.Reader, out io.Writer, verbose bool) error {
	d := newDigest(verbose)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, sc.Text()) // not test2json: go's own messages, passed through
			continue
		}
		if s := d.add(e); s != "" {
			io.WriteString(out, s)
		}
	}
	io.WriteString(out, d.release(func(key) bool { return true })) // a stream cut short
	d.write(out)
	return sc.Err()
}

func main() {
	verbose := flag.Bool("v", false, "print every test's output as it comes, as go test -v does")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "testdigest:", err)
		os.Exit(1)
	}
}
