package app

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mtc-helm/mtc-helm/hooks/storage"
)

type storageCheckOptions struct {
	check        storage.Check
	caBundleFile string
}

func newStorageCheck(g *globals) *cobra.Command {
	o := &storageCheckOptions{}
	cmd := &cobra.Command{
		Use:   "storage-check --provider aws|s3|mcg|gcp|azure --bucket NAME [--credentials-secret NAME | --credentials-file FILE]",
		Short: "Write, read, list and delete a probe object in the replication repository with the MigStorage's credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := o.validated()
			if err != nil {
				return err
			}
			a.Namespace, a.Log = g.namespace, g.log
			// A credentials file needs no cluster; the cluster, when there is one, gives the
			// cluster-wide proxy.
			cl, err := g.clients()
			switch {
			case err == nil:
				a.Kube, a.Dynamic, a.Host = cl.Kube, cl.Dynamic, cl.Host
			case a.CredentialsSecret != "" || a.CABundleSecret != "" || a.MCGDiscover:
				return err
			default:
				g.log.Debug("no cluster to read the cluster-wide proxy from", "error", err)
			}
			return run(cmd, g, a.Run)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// validated checks the flags and reads --ca-bundle.
func (o *storageCheckOptions) validated() (*storage.Check, error) {
	a := &o.check
	if !slices.Contains(storage.Providers, a.Provider) {
		return nil, usagef("--provider %q is not one of %s", a.Provider, strings.Join(storage.Providers, ", "))
	}
	if !a.MCGDiscover && (a.CredentialsSecret == "") == (a.CredentialsFile == "") {
		return nil, usagef("give the credentials as exactly one of --credentials-secret NAME or --credentials-file FILE")
	}
	if o.caBundleFile != "" {
		ca, err := os.ReadFile(o.caBundleFile)
		if err != nil {
			return nil, usagef("--ca-bundle: %v", err)
		}
		a.CABundle = ca
	}
	return a, nil
}

func (o *storageCheckOptions) addFlags(f *pflag.FlagSet) {
	a := &o.check
	f.StringVar(&a.Provider, "provider", "", "replicationRepository.provider: "+strings.Join(storage.Providers, ", "))
	f.StringVar(&a.Bucket, "bucket", "", "bucket name (aws, s3, mcg, gcp)")
	f.StringVar(&a.Endpoint, "endpoint", "", "S3 endpoint URL (s3, mcg; optional for aws), GCS API URL (gcp) or Blob service URL (azure); empty: the provider's")
	f.StringVar(&a.Region, "region", "", "bucket region (aws, s3, mcg); empty: "+storage.DefaultRegion+", as MTC")
	f.BoolVar(&a.ForcePathStyle, "force-path-style", false, "path-style bucket URLs (Minio, Ceph, MCG)")
	f.BoolVar(&a.Insecure, "insecure", false, "skip TLS verification of the endpoint (tests only)")
	f.StringVar(&o.caBundleFile, "ca-bundle", "", "PEM file of the CA that signed the endpoint's certificate")
	f.StringVar(&a.CABundleSecret, "ca-bundle-secret", "", "Secret in --namespace whose key "+storage.KeyCABundle+" holds that CA")
	f.StringVar(&a.CredentialsSecret, "credentials-secret", "", "Secret in --namespace with the chart's credential keys ("+storage.KeyAccessKeyID+" and "+storage.KeySecretAccessKey+"; "+storage.KeyGCP+"; "+storage.KeyAzure+")")
	f.BoolVar(&a.MCGDiscover, "mcg-discover", false, "provider mcg: read the S3 endpoint (unless --endpoint) and the admin keys from OpenShift Data Foundation's NooBaa, as the MTC procedure tells a person to")
	f.StringVar(&a.CredentialsFile, "credentials-file", "", "YAML map file with the same keys as the credentials Secret")
	f.StringVar(&a.Proxy.HTTPProxy, "http-proxy", "", "HTTP proxy (default: the cluster-wide Proxy, else HTTP_PROXY)")
	f.StringVar(&a.Proxy.HTTPSProxy, "https-proxy", "", "HTTPS proxy (default: the cluster-wide Proxy, else HTTPS_PROXY)")
	f.StringVar(&a.Proxy.NoProxy, "no-proxy", "", "hosts reached without the proxy")
	f.StringVar(&a.Azure.ResourceGroup, "azure-resource-group", "", "resource group of the storage account (azure)")
	f.StringVar(&a.Azure.StorageAccount, "azure-storage-account", "", "storage account (azure)")
	f.StringVar(&a.Azure.Container, "azure-container", "", "Blob container (azure)")
	f.StringVar(&a.AzureCloud.AuthorityHost, "azure-authority-host", "", "where the service principal logs in (default: AZURE_CLOUD_NAME's)")
	f.StringVar(&a.AzureCloud.ResourceManager, "azure-resource-manager", "", "Azure Resource Manager URL (default: AZURE_CLOUD_NAME's)")
}
