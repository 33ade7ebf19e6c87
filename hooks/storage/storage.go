// Package storage implements the storage-check action: before MTC is installed, it writes, reads,
// lists and deletes a probe object in the replication repository's bucket with the credentials the
// MigStorage will use, through the provider's own protocol, and refuses in one sentence naming the
// provider's error when any step fails. mig-controller makes the same test (a write, a read and a
// delete of one object) only after the install, and reports it as BackupStorageProviderTestFailed.
package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Providers are the values of --provider (replicationRepository.provider): mcg and s3 speak S3 like aws.
var Providers = []string{"aws", "s3", "mcg", "gcp", "azure"}

// The keys of the credentials Secret, the same as the chart's replication repository Secret.
const (
	KeyAccessKeyID     = "aws-access-key-id"
	KeySecretAccessKey = "aws-secret-access-key"
	KeyGCP             = "gcp-credentials"
	KeyAzure           = "azure-credentials"
	// KeyCABundle is where a CA bundle may be given in the Secret named by CABundleSecret.
	KeyCABundle = "ca-bundle.pem"
	// HookComponent labels the Secret the chart renders for the hook alone; the check deletes such a
	// Secret once it has read it, so that no copy of the credentials outlives the check.
	HookComponent = "hook-storage-check"
	// ProbePrefix is where the probe objects go; each run writes one object under it and deletes it.
	ProbePrefix = "mtc-helm-storage-check/"
)

// Check is the storage-check action.
type Check struct {
	kube.Action

	Provider string
	Bucket   string
	// Endpoint is the S3 endpoint URL (s3, mcg; optional for aws), the GCS JSON API URL (gcp, empty
	// for Google's) or the Blob service URL (azure, empty for https://<account>.blob.<cloud suffix>).
	Endpoint       string
	Region         string
	ForcePathStyle bool
	Insecure       bool
	// CABundle is PEM that signed the endpoint's certificate, added to the system roots.
	CABundle []byte
	// CABundleSecret names a Secret in Namespace whose key ca-bundle.pem holds the CA bundle.
	CABundleSecret string
	// CredentialsSecret names a Secret in Namespace; CredentialsFile a YAML map with the same keys.
	CredentialsSecret, CredentialsFile string
	// MCGDiscover (provider mcg) takes the credentials, and the endpoint when Endpoint is empty, from
	// OpenShift Data Foundation (DiscoverMCG) instead.
	MCGDiscover bool
	// Azure names the storage account and container (and the resource group, for the key lookup).
	Azure Azure
	// AzureCloud overrides the endpoints AZURE_CLOUD_NAME selects (Azure Stack Hub, a lab).
	AzureCloud AzureCloud
	// Proxy is the proxy to reach the endpoint through; empty takes the cluster-wide Proxy object's
	// status, and without one the environment (HTTPS_PROXY, NO_PROXY).
	Proxy Proxy
}

// Azure are the replication repository's Azure fields.
type Azure struct {
	ResourceGroup, StorageAccount, Container string
}

// Report is the outcome of a storage check. It holds no credential.
type Report struct {
	Cluster  string `json:"cluster"`
	Provider string `json:"provider"`
	Bucket   string `json:"bucket"`
	Endpoint string `json:"endpoint,omitempty"`
	Proxy    string `json:"proxy,omitempty"`
	Object   string `json:"object,omitempty"`
	// Steps are the operations that succeeded, in order.
	Steps    []string `json:"steps"`
	Result   string   `json:"result"`
	Duration string   `json:"duration"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	t := kube.NewText(10)
	t.FieldIf("cluster:", r.Cluster)
	t.Field("storage:", "%s bucket %s", r.Provider, r.Bucket)
	t.FieldIf("endpoint:", r.Endpoint)
	t.FieldIf("proxy:", r.Proxy)
	if len(r.Steps) > 0 {
		t.Field("check:", "%s of %s", strings.Join(r.Steps, ", "), r.Object)
	}
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// bucket is one provider's client, bound to the bucket (or Azure container) under test.
type bucket interface {
	put(ctx context.Context, key string, data []byte) error
	get(ctx context.Context, key string) ([]byte, error)
	list(ctx context.Context, prefix string) ([]string, error)
	remove(ctx context.Context, key string) error
	// explain turns the provider's error of an operation into one sentence with its remedy.
	explain(op string, err error) error
}

// The operations of a check, named as the report and the refusals name them.
const (
	opWrite  = "write"
	opRead   = "read"
	opList   = "list"
	opDelete = "delete"
	// Azure's key lookup comes first: the service principal's login, then Resource Manager's listKeys.
	opLogin    = "login"
	opListKeys = "listKeys"
)

// Run checks the bucket and returns the report; a refusal names the provider, the bucket, the
// operation and the provider's error code.
func (c *Check) Run(ctx context.Context) (rep *Report, err error) {
	start := time.Now()
	log := c.Logger()
	rep = &Report{Cluster: c.Host, Provider: c.Provider, Bucket: c.target(), Endpoint: c.Endpoint, Result: "refused"}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()
	if err := c.validate(); err != nil {
		return rep, err
	}
	creds, ca, err := c.inputs(ctx)
	if err != nil {
		return rep, err
	}
	if c.MCGDiscover {
		m, err := DiscoverMCG(ctx, c.Kube, c.Dynamic, c.Host)
		if err != nil {
			return rep, err
		}
		creds, ca = m.Credentials(), append(ca, m.CA...)
		if c.Endpoint == "" {
			c.Endpoint, rep.Endpoint = m.Endpoint, m.Endpoint
		}
	}
	proxy, err := c.proxy(ctx)
	if err != nil {
		return rep, err
	}
	rep.Proxy = proxy.describe()
	client, err := httpClient(ca, c.Insecure, proxy)
	if err != nil {
		return rep, err
	}
	b, err := c.newBucket(ctx, creds, client)
	if err != nil {
		return rep, err
	}
	key, err := probeKey()
	if err != nil {
		return rep, err
	}
	rep.Object = key
	payload := []byte("mtc-helm storage-check probe " + key + "\n")
	log.Debug("writing the probe object", "provider", c.Provider, "bucket", c.target(), "object", key)
	if err := b.put(ctx, key, payload); err != nil {
		return rep, b.explain(opWrite, err)
	}
	rep.Steps = append(rep.Steps, opWrite)
	// From here on the probe exists: delete it whatever happens next.
	deleted := false
	defer func() {
		if !deleted {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = b.remove(dctx, key)
		}
	}()
	got, err := b.get(ctx, key)
	if err != nil {
		return rep, b.explain(opRead, err)
	}
	if !bytes.Equal(got, payload) {
		return rep, kube.Refusef("storage-check: %s bucket %s gave back %d bytes that differ from the %d written to %s; the endpoint or a proxy in between alters objects, which would corrupt migrated data",
			c.Provider, c.target(), len(got), len(payload), key)
	}
	rep.Steps = append(rep.Steps, opRead)
	keys, err := b.list(ctx, ProbePrefix)
	if err != nil {
		return rep, b.explain(opList, err)
	}
	if !slices.Contains(keys, key) {
		return rep, kube.Refusef("storage-check: %s bucket %s did not list the probe object %s just written; the endpoint serves another bucket than the one written to, or lists with a delay MTC's Velero cannot work with",
			c.Provider, c.target(), key)
	}
	rep.Steps = append(rep.Steps, opList)
	if err := b.remove(ctx, key); err != nil {
		return rep, b.explain(opDelete, err)
	}
	deleted = true
	rep.Steps = append(rep.Steps, opDelete)
	rep.Result = "ok"
	return rep, nil
}

func (c *Check) newBucket(ctx context.Context, creds map[string][]byte, client *http.Client) (bucket, error) {
	switch c.Provider {
	case "aws", "s3", "mcg":
		return c.s3(creds, client)
	case "gcp":
		return c.gcs(ctx, creds, client)
	case "azure":
		return c.azure(ctx, creds, client)
	}
	return nil, kube.Refusef("storage-check: provider %q is not one of %s", c.Provider, strings.Join(Providers, ", "))
}

// ControllerTest is mig-controller's provider test (pkg/cloudprovider: one object of one byte under a
// random key at the bucket's root, written, read back and deleted), returning the provider's own
// error, not a refusal: for a double of the controller, which puts that error in the MigStorage's
// BackupStorageProviderTestFailed condition. creds is the data of the MigStorage's Secret; the
// proxy is c.Proxy alone.
func (c *Check) ControllerTest(ctx context.Context, creds map[string][]byte) error {
	client, err := httpClient(c.CABundle, c.Insecure, c.Proxy)
	if err != nil {
		return err
	}
	b, err := c.newBucket(ctx, creds, client)
	if err != nil {
		return err
	}
	key, err := randomHex(16)
	if err != nil {
		return err
	}
	if err := b.put(ctx, key, []byte{0}); err != nil {
		return err
	}
	defer func() { _ = b.remove(context.WithoutCancel(ctx), key) }()
	got, err := b.get(ctx, key)
	if err != nil {
		return err
	}
	if len(got) != 1 {
		return fmt.Errorf("read %d bytes of the 1-byte test object %s", len(got), key)
	}
	return nil
}

// target is the bucket, or for Azure the storage account and container.
func (c *Check) target() string {
	if c.Provider == "azure" {
		return c.Azure.StorageAccount + "/" + c.Azure.Container
	}
	return c.Bucket
}

func (c *Check) validate() error {
	if !slices.Contains(Providers, c.Provider) {
		return kube.Refusef("storage-check: provider %q is not one of %s; set replicationRepository.provider (--provider) to one of them", c.Provider, strings.Join(Providers, ", "))
	}
	if c.Provider == "azure" {
		if c.Azure.StorageAccount == "" || c.Azure.Container == "" {
			return kube.Refusef("storage-check: provider azure needs the storage account and the container; set replicationRepository.azure.storageAccount and storageContainer (--azure-storage-account, --azure-container)")
		}
	} else if c.Bucket == "" {
		return kube.Refusef("storage-check: provider %s needs a bucket; set replicationRepository.bucket (--bucket)", c.Provider)
	}
	if c.MCGDiscover {
		if c.Provider != "mcg" || c.CredentialsSecret != "" || c.CredentialsFile != "" {
			return kube.Refusef("storage-check: --mcg-discover reads the credentials of provider mcg from OpenShift Data Foundation; use it with --provider mcg and without --credentials-secret or --credentials-file")
		}
		return nil
	}
	if (c.Provider == "s3" || c.Provider == "mcg") && c.Endpoint == "" {
		return kube.Refusef("storage-check: provider %s needs the S3 endpoint URL; set replicationRepository.endpoint (--endpoint), for example https://s3-openshift-storage.apps.example.com", c.Provider)
	}
	if c.CredentialsSecret != "" && c.CredentialsFile != "" {
		return kube.Refusef("storage-check: give the credentials once, as --credentials-secret or as --credentials-file, not both")
	}
	if c.CredentialsSecret == "" && c.CredentialsFile == "" {
		return kube.Refusef("storage-check: no credentials to test; pass --credentials-secret NAME (a Secret in %s) or --credentials-file FILE", c.NS())
	}
	return nil
}

// inputs reads the credentials and the CA bundle. A Secret the chart made for this hook alone is
// deleted once read, whatever comes next, so that no copy of the credentials outlives the check.
func (c *Check) inputs(ctx context.Context) (creds map[string][]byte, ca []byte, err error) {
	hookSecrets := map[string]bool{}
	defer func() {
		for name := range hookSecrets {
			derr := c.Kube.CoreV1().Secrets(c.NS()).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
			if derr != nil && !apierrors.IsNotFound(derr) && err == nil {
				err = kube.Explain(derr, "delete the hook's copy of the credentials, Secret "+c.NS()+"/"+name, c.Host)
			}
		}
	}()
	read := func(name, purpose string) (map[string][]byte, error) {
		ns := c.NS()
		s, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, kube.Refusef("storage-check: the %s Secret %s/%s does not exist; create it or fix replicationRepository.existingSecret", purpose, ns, name)
		}
		if err != nil {
			return nil, kube.Explain(err, "read Secret "+ns+"/"+name, c.Host)
		}
		if s.Labels["app.kubernetes.io/component"] == HookComponent {
			hookSecrets[name] = true
		}
		return s.Data, nil
	}
	ca = slices.Clone(c.CABundle)
	if c.CABundleSecret != "" {
		data, err := read(c.CABundleSecret, "CA bundle")
		if err != nil {
			return nil, nil, err
		}
		ca = append(ca, data[KeyCABundle]...)
	}
	switch {
	case c.MCGDiscover:
		return nil, ca, nil
	case c.CredentialsFile != "":
		creds, err = c.credentialsFile()
	default:
		creds, err = read(c.CredentialsSecret, "credentials")
	}
	if err != nil {
		return nil, nil, err
	}
	var need []string
	switch c.Provider {
	case "gcp":
		need = []string{KeyGCP}
	case "azure":
		need = []string{KeyAzure}
	default:
		need = []string{KeyAccessKeyID, KeySecretAccessKey}
	}
	for _, k := range need {
		if len(bytes.TrimSpace(creds[k])) == 0 {
			return nil, nil, kube.Refusef("storage-check: the credentials (%s) lack key %s, which provider %s needs; put it in the Secret or set the matching replicationRepository.credentials value",
				c.credentialsSource(), k, c.Provider)
		}
	}
	return creds, ca, nil
}

// credentialsFile reads --credentials-file, a YAML map of the Secret's keys.
func (c *Check) credentialsFile() (map[string][]byte, error) {
	raw, err := os.ReadFile(c.CredentialsFile)
	if err != nil {
		return nil, kube.Refusef("storage-check: cannot read the credentials file: %v", err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, kube.Refusef("storage-check: the credentials file %s is not a YAML map of strings (keys %s, %s, %s or %s): %s",
			c.CredentialsFile, KeyAccessKeyID, KeySecretAccessKey, KeyGCP, KeyAzure, yamlErrorWithoutValues(err))
	}
	data := map[string][]byte{}
	for k, v := range m {
		data[k] = []byte(v)
	}
	return data, nil
}

func (c *Check) credentialsSource() string {
	if c.CredentialsFile != "" {
		return "file " + c.CredentialsFile
	}
	return "Secret " + c.NS() + "/" + c.CredentialsSecret
}

func probeKey() (string, error) {
	k, err := randomHex(8)
	return ProbePrefix + k, err
}

// randomHex is n random bytes in hex: the object keys of the probes.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// yamlErrorWithoutValues keeps a parse error from echoing the file's content, which holds secrets.
func yamlErrorWithoutValues(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot unmarshal"); i >= 0 {
		return "a value is not a string"
	}
	if line := strings.Index(msg, "line "); line >= 0 {
		return "syntax error at " + strings.SplitN(msg[line:], ":", 2)[0]
	}
	return "syntax error"
}

// refuse builds the one-sentence refusal of a failed operation.
func (c *Check) refuse(op, code, detail, remedy string) error {
	what := map[string]string{
		opWrite: "writing a probe object to", opRead: "reading the probe object back from",
		opList: "listing", opDelete: "deleting the probe object from",
		opLogin: "logging in to Azure for", opListKeys: "listing the storage account keys for",
	}[op]
	where := "bucket " + c.target()
	if c.Provider == "azure" {
		where = "container " + c.target()
	}
	if detail != "" {
		detail = " (" + strings.TrimSuffix(detail, ".") + ")"
	}
	return kube.Refusef("storage-check: %s %s %s failed with %s%s; %s", what, c.Provider, where, code, detail, remedy)
}
