// Command mtc-package packages the versioned charts (the library chart inside, Artifact Hub annotations,
// the hook image by digest), signs them when given a key, and pushes them to an OCI registry (make package).
//
//	go run ./cmd/mtc-package --out dist [--keyring secring.gpg --key NAME] [--push oci://HOST/charts --username U --plain-http]
//
// The registry password is read from MTC_REGISTRY_PASSWORD, never from the command line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mtc-helm/mtc-helm/internal/chartpkg"
	"github.com/mtc-helm/mtc-helm/internal/hookimage"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "dist", "directory the chart archives go to")
	helm := flag.String("helm", "", "Helm CLI (default: bin/helm)")
	layout := flag.String("image-layout", "bin/image/mtc-hooks", "OCI layout of the hook image (make image), for its digest")
	imageRepo := flag.String("image-repository", "quay.io/mtc-helm/mtc-hooks", "where the hook image is published")
	keyring := flag.String("keyring", "", "secret OpenPGP keyring to sign with (helm package --sign)")
	key := flag.String("key", "", "name of the signing key in --keyring")
	passphrase := flag.String("passphrase-file", "", "file holding the signing key's passphrase")
	push := flag.String("push", "", "oci:// reference to push the archives to, such as oci://quay.io/mtc-helm/charts")
	user := flag.String("username", "", "registry user for --push (password in MTC_REGISTRY_PASSWORD)")
	plain := flag.Bool("plain-http", false, "push over plain HTTP (a registry on loopback)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if *helm == "" {
		*helm = filepath.Join(root, "bin", "helm")
	}
	p := chartpkg.Package{Root: root, Helm: *helm, Out: *out}
	if !filepath.IsAbs(*layout) {
		*layout = filepath.Join(root, *layout)
	}
	d, err := hookimage.LayoutDigest(*layout)
	if err != nil {
		return fmt.Errorf("%w; run make image first", err)
	}
	p.HookImage = *imageRepo + "@" + d.String()
	if (*keyring == "") != (*key == "") {
		return fmt.Errorf("--keyring and --key go together: give both to sign, neither to skip signing")
	}
	if *keyring != "" {
		p.Sign = &chartpkg.Signer{Keyring: *keyring, Key: *key, PassphraseFile: *passphrase}
	}
	archives, err := p.Run(ctx)
	if err != nil {
		return err
	}
	for _, a := range archives {
		fmt.Printf("%s %s: %s", a.Chart, a.Version, a.Path)
		if a.Prov != "" {
			fmt.Printf(" (signed: %s)", a.Prov)
		}
		fmt.Println()
	}
	if *push == "" {
		return nil
	}
	pass := os.Getenv("MTC_REGISTRY_PASSWORD")
	if *user == "" || pass == "" {
		return fmt.Errorf("--push needs --username and the password in MTC_REGISTRY_PASSWORD")
	}
	digests, err := chartpkg.Push(ctx, *helm, archives, *push, *user, pass, *plain)
	if err != nil {
		return err
	}
	for i, a := range archives {
		fmt.Printf("pushed %s/%s:%s %s\n", *push, a.Chart, a.Version, digests[i])
	}
	return nil
}
