// Package app is the command line of mtc-hooks: one cobra command per action, each binding its flags to
// an options struct and calling the action's Run. It owns the exit codes: 0 success, 1 refused or failed,
// 2 usage, 124 timeout.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitTimeout = 124
)

// Main runs the command line with the process's arguments and exits. SIGTERM and SIGINT cancel the
// running action, which then cleans up after itself.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := Run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(code)
}

// AndSeparator joins actions on one command line: each runs in turn, and the first that does not
// succeed ends the run with its exit code.
const AndSeparator = "--and"

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// deadlineError is an error that happened because --timeout ran out.
type deadlineError struct{ err error }

func (d deadlineError) Error() string   { return d.err.Error() }
func (d deadlineError) Unwrap() []error { return []error{d.err, context.DeadlineExceeded} }

// globals are the flags every action shares.
type globals struct {
	kubeconfig string
	context    string
	namespace  string
	timeout    time.Duration
	interval   time.Duration
	output     string
	verbose    bool

	stdout, stderr io.Writer
	log            *slog.Logger
}

// report is what every action returns.
type report interface {
	WriteText(w io.Writer) error
}

// Run parses args, runs the action and returns the exit code. Tests call it directly.
func Run(ctx context.Context, stdout, stderr io.Writer, args []string) int {
	// "A --and B": run A, then B only when A succeeded, as one process (one hook Job runs several
	// checks: a Job costs Helm a second or two, a check a fraction of one).
	if i := slices.Index(args, AndSeparator); i >= 0 {
		if code := Run(ctx, stdout, stderr, args[:i]); code != ExitOK {
			return code
		}
		return Run(ctx, stdout, stderr, args[i+1:])
	}
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	msg := err.Error()
	if code == ExitUsage {
		msg += "; see mtc-hooks --help"
	}
	if code == ExitTimeout {
		var te *kube.TimeoutError
		if !errors.As(err, &te) {
			msg = fmt.Sprintf("gave up after --timeout %s: %s; raise --timeout or look at what it was waiting for", g.timeout, msg)
		}
	}
	if errors.Is(err, context.Canceled) {
		msg = "interrupted (SIGTERM or SIGINT) before the action finished; run it again to finish the job"
	}
	fmt.Fprintf(stderr, "error: %s\n", msg)
	return code
}

func exitCode(err error) int {
	var u usageError
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	case isCobraUsage(err):
		return ExitUsage
	default:
		return ExitFailed
	}
}

// isCobraUsage recognises the errors cobra returns for unknown commands and bad arguments.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "flag needs an argument", "invalid argument"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "mtc-hooks",
		Short: "Checks and steps of the MTC Helm charts' hooks, also usable from a workstation",
		Long: `mtc-hooks runs what the MTC charts' hook Jobs run: version-check, storage-check and pull-test before
an install or upgrade, configure after it, cleanup around an uninstall, verify for helm test. preflight
runs the checks against several clusters from a workstation; restore brings back a cleanup's export.
"mtc-hooks ACTION ... --and ACTION ..." runs the second action only when the first succeeded.

Exit codes: 0 success, 1 refused or failed, 2 usage, 124 timeout.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return usagef("--output %q is not text or json", g.output)
			}
			if g.timeout <= 0 || g.interval <= 0 {
				return usagef("--timeout and --interval must be positive")
			}
			level := slog.LevelInfo
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})).With("action", cmd.Name())
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("no action given; pick one of version-check, pull-test, storage-check, configure, cleanup, restore, preflight, verify")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the pod's ServiceAccount)")
	pf.StringVar(&g.context, "context", "", "kubeconfig context (default: the current one)")
	pf.StringVarP(&g.namespace, "namespace", "n", kube.Namespace, "namespace MTC runs in")
	pf.DurationVar(&g.timeout, "timeout", 5*time.Minute, "give up after this long (exit 124)")
	pf.DurationVar(&g.interval, "interval", kube.DefaultInterval, "poll interval while waiting")
	pf.StringVarP(&g.output, "output", "o", "text", "result format on stdout: text or json")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log more on stderr")

	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

// clients loads the client configuration from the global flags.
func (g *globals) clients() (*kube.Clients, error) {
	return kube.Load(kube.ConfigOptions{Kubeconfig: g.kubeconfig, Context: g.context})
}

// waiter paces the waits; the whole action is bounded by --timeout through the context.
func (g *globals) waiter() kube.Waiter {
	return kube.Waiter{Interval: g.interval, Log: g.log}
}

// run bounds the action by --timeout, runs it and prints its report (also a partial one on failure).
func run[R report](cmd *cobra.Command, g *globals, action func(ctx context.Context) (R, error)) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	start := time.Now()
	rep, err := action(ctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && (errors.Is(ctx.Err(), context.DeadlineExceeded) || kube.IsDeadlineSoon(err)) {
		// A request cut short by the deadline (the client's rate limiter says so in its own words).
		err = deadlineError{err}
	}
	g.log.Debug("finished", "elapsed", time.Since(start).Round(time.Millisecond).String())
	if perr := g.print(rep, err); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (g *globals) print(rep report, runErr error) error {
	if isNil(rep) {
		if g.output == "json" {
			return writeJSON(g.stdout, map[string]any{"ok": false, "error": errString(runErr)})
		}
		return nil
	}
	if g.output == "json" {
		return writeJSON(g.stdout, map[string]any{"ok": runErr == nil, "error": errString(runErr), "report": rep})
	}
	return rep.WriteText(g.stdout)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// isNil is true for a nil report, also a typed nil pointer.
func isNil(r report) bool {
	if r == nil {
		return true
	}
	rv := reflect.ValueOf(r)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
