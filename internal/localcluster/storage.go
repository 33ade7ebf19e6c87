package localcluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/golang-jwt/jwt/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// Storage is the lab's object storage, on loopback over TLS signed by CA: an S3 server (versitygw),
// a GCS server (fake-gcs-server behind a front that, like Google, serves only requests with an
// access token its token endpoint issued for the service account's key) and Azure Blob (Azurite)
// with the two Azure services the key lookup goes through (a service principal login and Resource
// Manager's listKeys). Each holds one bucket (container), empty at start.
type Storage struct {
	// CA is the PEM of the CA that signed the three endpoints' certificates; CAFile holds it.
	CA     []byte
	CAFile string
	S3     S3Endpoint
	GCS    GCSEndpoint
	Azure  AzureEndpoint

	servers []*http.Server
}

// S3Endpoint is the S3 server: SigV4 with one account, in one region.
type S3Endpoint struct {
	URL, Region, Bucket, AccessKeyID, SecretAccessKey string
}

// GCSEndpoint is the GCS JSON API and the token endpoint of its service account.
type GCSEndpoint struct {
	URL, Bucket string
	// ServiceAccountKey is the JSON key file of the lab's service account (its token_uri is the lab's).
	ServiceAccountKey []byte
	// OtherKey is a JSON key of the same service account signed with a key the lab never issued.
	OtherKey []byte
	email    string
	public   *rsa.PublicKey
	tokens   sync.Map
}

// AzureEndpoint is a storage account of Azurite and the service principal that may list its keys.
type AzureEndpoint struct {
	BlobURL, AuthorityHost, ResourceManager              string
	TenantID, SubscriptionID, ClientID, ClientSecret     string
	ResourceGroup, StorageAccount, Container, AccountKey string
	tokens                                               sync.Map
}

// The lab's fixed names; the keys and secrets are new each start.
const (
	labBucket         = "mtc-replication"
	labS3Region       = "eu-west-1"
	labGCSProject     = "mtc-lab"
	labAzureAccount   = "mtclabstorage"
	labAzureGroup     = "mtc-lab-group"
	labAzureTenant    = "11111111-2222-3333-4444-555555555555"
	labAzureSub       = "66666666-7777-8888-9999-000000000000"
	labAzureClientID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	azuriteRelPath    = "azurite/node_modules/.bin/azurite-blob"
	storageStartLimit = 60 * time.Second
)

// StorageHost is a name the endpoints' certificate holds (with its subdomains) besides 127.0.0.1
// that no resolver knows: a test that reaches the storage by this name through its own proxy
// proves the proxy was used. Azurite reads the storage account from the first label of such a
// name, as Azure's <account>.blob.core.windows.net.
const StorageHost = "storage.lab.invalid"

// storageNames are the processes of the storage, for Stop.
var storageNames = []string{"versitygw", "fake-gcs-server", "azurite"}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startStorage starts the three endpoints and makes their buckets.
func (c *Cluster) startStorage(ctx context.Context) error {
	dir := filepath.Join(c.Dir, "storage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ca, err := newCA("mtc-helm lab object storage CA")
	if err != nil {
		return err
	}
	der, key, err := ca.serving("127.0.0.1", []string{"localhost", StorageHost, "*." + StorageHost}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	s := &Storage{CA: ca.pem(), CAFile: filepath.Join(dir, "ca.crt")}
	for p, b := range map[string][]byte{
		s.CAFile: s.CA,
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	c.Storage = s
	err = onFreePorts(1, func(ports []int) error { return c.startS3(ctx, s, dir, certFile, keyFile, ports[0]) })
	if err != nil {
		return err
	}
	if err := c.startGCS(ctx, s, dir, cert); err != nil {
		return err
	}
	if err := c.startAzure(ctx, s, dir, cert, certFile, keyFile); err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "object storage: S3 %s, GCS %s, Azure Blob %s (CA %s)\n", s.S3.URL, s.GCS.URL, s.Azure.BlobURL, s.CAFile)
	return nil
}

// client trusts the storage CA.
func (s *Storage) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CA)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Proxy = nil
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func (c *Cluster) startS3(ctx context.Context, s *Storage, dir, certFile, keyFile string, port int) error {
	bin, err := c.toolBin("versitygw")
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.S3 = S3Endpoint{URL: "https://" + addr, Region: labS3Region, Bucket: labBucket,
		AccessKeyID: "LAB" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20)}
	data, meta := filepath.Join(dir, "s3", "data"), filepath.Join(dir, "s3", "meta")
	for _, d := range []string{data, meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The root account's keys go through the environment, not the command line.
	env := append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.S3.AccessKeyID, "ROOT_SECRET_ACCESS_KEY="+s.S3.SecretAccessKey)
	if err := c.runEnv("versitygw", bin, env, "--region", labS3Region, "--port", addr, "--cert", certFile, "--key", keyFile,
		"--quiet", "posix", "--sidecar", meta, data); err != nil {
		return err
	}
	if err := c.waitTCP(ctx, "versitygw", addr, storageStartLimit); err != nil {
		return err
	}
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s.S3.AccessKeyID, s.S3.SecretAccessKey, ""),
		Secure: true, Region: labS3Region, BucketLookup: minio.BucketLookupPath, Transport: s.client().Transport})
	if err != nil {
		return err
	}
	if err := mc.MakeBucket(ctx, labBucket, minio.MakeBucketOptions{Region: labS3Region}); err != nil {
		return fmt.Errorf("failed to make the S3 bucket %s: %w (read %s)", labBucket, err, filepath.Join(c.Dir, "versitygw.log"))
	}
	return nil
}

func (c *Cluster) startGCS(ctx context.Context, s *Storage, dir string, cert tls.Certificate) error {
	bin, err := c.toolBin("fake-gcs-server")
	if err != nil {
		return err
	}
	// The front (token endpoint and the proxy to the server) is ours: it holds its port from now on.
	frontL, err := listenLoopback()
	if err != nil {
		return err
	}
	port := frontL.Addr().(*net.TCPAddr).Port
	front := "https://127.0.0.1:" + strconv.Itoa(port)
	var innerAddr string
	err = onFreePorts(1, func(inner []int) error {
		innerAddr = "127.0.0.1:" + strconv.Itoa(inner[0])
		if err := c.run("fake-gcs-server", bin, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(inner[0]),
			"-backend", "filesystem", "-filesystem-root", filepath.Join(dir, "gcs"), "-public-host", "127.0.0.1:"+strconv.Itoa(port),
			"-external-url", front, "-log-level", "warn"); err != nil {
			return err
		}
		return c.waitTCP(ctx, "fake-gcs-server", innerAddr, storageStartLimit)
	})
	if err != nil {
		frontL.Close()
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	g := &s.GCS
	g.URL, g.Bucket, g.email, g.public = front, labBucket, "mtc-replication@"+labGCSProject+".iam.gserviceaccount.com", &key.PublicKey
	g.ServiceAccountKey = serviceAccountKey(g.email, front+"/token", key)
	g.OtherKey = serviceAccountKey(g.email, front+"/token", other)
	target, _ := url.Parse("http://" + innerAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", g.token)
	publicHost := "127.0.0.1:" + strconv.Itoa(port)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Google serves a bucket under any of its API host names; the server knows only one.
		r.Host = publicHost
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, issued := g.tokens.Load(tok); !ok || !issued {
			googleError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
			return
		}
		proxy.ServeHTTP(w, r)
	})
	s.serve(mux, cert, frontL)
	// The bucket, made on the server itself.
	body := strings.NewReader(`{"name":"` + labBucket + `"}`)
	resp, err := http.Post("http://"+innerAddr+"/storage/v1/b?project="+labGCSProject, "application/json", body)
	if err != nil {
		return fmt.Errorf("failed to make the GCS bucket: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("failed to make the GCS bucket: %s (read %s)", resp.Status, filepath.Join(c.Dir, "fake-gcs-server.log"))
	}
	return nil
}

// serviceAccountKey renders a service account's JSON key file.
func serviceAccountKey(email, tokenURI string, key *rsa.PrivateKey) []byte {
	der := x509.MarshalPKCS1PrivateKey(key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": labGCSProject, "private_key_id": randomHex(20),
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1" + randomHex(10), "token_uri": tokenURI,
	})
	return b
}

// token is the OAuth 2.0 JWT bearer grant of Google's token endpoint: the assertion must be signed
// by the service account's key, name it as issuer and this endpoint as audience.
func (g *GCSEndpoint) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(*jwt.Token) (any, error) { return g.public, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(g.URL+"/token"), jwt.WithIssuer(g.email))
	if err != nil {
		desc := "Invalid JWT Signature."
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			desc = "Invalid JWT: " + err.Error()
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant", desc)
		return
	}
	tok := "ya29.lab-" + randomHex(24)
	g.tokens.Store(tok, true)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func (c *Cluster) startAzure(ctx context.Context, s *Storage, dir string, cert tls.Certificate, certFile, keyFile string) error {
	bin, err := c.toolBin(azuriteRelPath)
	if err != nil {
		return err
	}
	a := &s.Azure
	accountKey := make([]byte, 64)
	_, _ = rand.Read(accountKey)
	*a = AzureEndpoint{
		TenantID: labAzureTenant, SubscriptionID: labAzureSub,
		ClientID: labAzureClientID, ClientSecret: randomHex(16), ResourceGroup: labAzureGroup, StorageAccount: labAzureAccount,
		Container: labBucket, AccountKey: base64.StdEncoding.EncodeToString(accountKey),
	}
	// The login and Resource Manager, each at the root of a host of its own, as on Azure; ours, so
	// they hold their ports from now on.
	loginL, err := listenLoopback()
	if err != nil {
		return err
	}
	armL, err := listenLoopback()
	if err != nil {
		loginL.Close()
		return err
	}
	a.AuthorityHost = "https://" + loginL.Addr().String() + "/"
	a.ResourceManager = "https://" + armL.Addr().String() + "/"
	login := http.NewServeMux()
	login.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", a.openIDConfiguration)
	login.HandleFunc("POST /{tenant}/oauth2/v2.0/token", a.token)
	arm := http.NewServeMux()
	arm.HandleFunc("POST /subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}/listKeys", a.listKeys)
	s.serve(login, cert, loginL)
	s.serve(arm, cert, armL)
	env := append(os.Environ(), "AZURITE_ACCOUNTS="+labAzureAccount+":"+a.AccountKey)
	err = onFreePorts(1, func(ports []int) error {
		port := strconv.Itoa(ports[0])
		a.BlobURL = "https://127.0.0.1:" + port + "/" + labAzureAccount
		if err := c.runEnv("azurite", bin, env, "--blobHost", "127.0.0.1", "--blobPort", port,
			"--location", filepath.Join(dir, "azurite"), "--cert", certFile, "--key", keyFile, "--skipApiVersionCheck", "--disableTelemetry"); err != nil {
			return err
		}
		return c.waitTCP(ctx, "azurite", "127.0.0.1:"+port, storageStartLimit)
	})
	if err != nil {
		return err
	}
	shared, err := azblob.NewSharedKeyCredential(labAzureAccount, a.AccountKey)
	if err != nil {
		return err
	}
	bc, err := azblob.NewClientWithSharedKeyCredential(a.BlobURL+"/", shared, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: s.client()}})
	if err != nil {
		return err
	}
	if _, err := bc.CreateContainer(ctx, labBucket, nil); err != nil {
		return fmt.Errorf("failed to make the Azure container: %w (read %s)", err, filepath.Join(c.Dir, "azurite.log"))
	}
	return nil
}

// CredentialsFile is the azure-credentials text (the chart's Secret key, mig-controller's dotenv) of
// the lab's service principal with the given client secret.
func (a *AzureEndpoint) CredentialsFile(clientSecret string) string {
	return "AZURE_SUBSCRIPTION_ID=" + a.SubscriptionID + "\nAZURE_TENANT_ID=" + a.TenantID + "\nAZURE_CLIENT_ID=" + a.ClientID +
		"\nAZURE_CLIENT_SECRET=" + clientSecret + "\nAZURE_RESOURCE_GROUP=" + a.ResourceGroup + "\nAZURE_CLOUD_NAME=AzurePublicCloud\n"
}

// openIDConfiguration is the tenant's discovery document, which MSAL reads before it logs in.
func (a *AzureEndpoint) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	base := "https://" + r.Host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
	})
}

// token is the client credentials grant: the tenant, client and secret must be the lab's.
func (a *AzureEndpoint) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the grant_type parameter.")
		return
	}
	switch {
	case r.PathValue("tenant") != a.TenantID:
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
	case r.PostForm.Get("client_id") != a.ClientID:
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+r.PostForm.Get("client_id")+"' was not found in the directory.")
	case r.PostForm.Get("client_secret") != a.ClientSecret:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	default:
		tok := "eyJ0eXAi.lab-" + randomHex(24)
		a.tokens.Store(tok, true)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "ext_expires_in": 3599, "token_type": "Bearer"})
	}
}

// listKeys is Resource Manager's storageAccounts/listKeys for the one account of the lab.
func (a *AzureEndpoint) listKeys(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, ok := a.tokens.Load(tok); !ok {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	switch {
	case r.PathValue("sub") != a.SubscriptionID:
		armError(w, http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+r.PathValue("sub")+"' could not be found.")
	case !strings.EqualFold(r.PathValue("group"), a.ResourceGroup):
		armError(w, http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+r.PathValue("group")+"' could not be found.")
	case r.PathValue("account") != a.StorageAccount:
		armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Storage/storageAccounts/"+r.PathValue("account")+"' under resource group '"+r.PathValue("group")+"' was not found.")
	default:
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{
			{"keyName": "key1", "value": a.AccountKey, "permissions": "FULL"},
		}})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func googleError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg,
		"errors": []map[string]string{{"domain": "global", "reason": reason, "message": msg}}}})
}

// serve runs an in-process HTTPS server on the port until Stop.
func (s *Storage) serve(h http.Handler, cert tls.Certificate, l net.Listener) {
	l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
}

func (s *Storage) close() {
	if s == nil {
		return
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
}

// toolBin is a tool of BinDir that `make tools` installs.
func (c *Cluster) toolBin(rel string) (string, error) {
	return repo.Tool(c.opts.BinDir, rel)
}

// InstallODF makes the cluster look, to the Multicloud Object Gateway's readers, like one with OpenShift
// Data Foundation: NooBaa's CRD (from noobaa-operator's module) and its resource "noobaa" in
// openshift-storage, whose status names the lab's S3 endpoint as the S3 service's external address and
// the admin Secret noobaa-admin (the S3 account's keys), and the ingress CA in
// openshift-config-managed/default-ingress-cert (the lab's storage CA, which signed the endpoint).
func (c *Cluster) InstallODF(ctx context.Context) error {
	s := c.Storage
	if s == nil {
		return errors.New("InstallODF needs the cluster's object storage (Options.Storage)")
	}
	p := filepath.Join(c.opts.CRDDir, "odf", "noobaas.yaml")
	crd, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("CRD manifest %s is missing: run `make tools`", p)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := applyCRDs(ctx, dyn, "v1", [][]byte{crd}); err != nil {
		return err
	}
	for _, ns := range []string{"openshift-storage", "openshift-config-managed"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if _, err := cs.CoreV1().Secrets("openshift-storage").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "noobaa-admin"},
		StringData: map[string]string{"AWS_ACCESS_KEY_ID": s.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY": s.S3.SecretAccessKey,
			"email": "admin@noobaa.io", "password": randomHex(8), "system": "noobaa"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().ConfigMaps("openshift-config-managed").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "default-ingress-cert"}, Data: map[string]string{"ca-bundle.crt": string(s.CA)},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	nbGVR := gvr("noobaa.io", "v1alpha1", "noobaas")
	nb := obj("noobaa.io/v1alpha1", "NooBaa", "openshift-storage", "noobaa", map[string]any{"spec": map[string]any{}})
	created, err := dyn.Resource(nbGVR).Namespace("openshift-storage").Create(ctx, nb, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Object["status"] = map[string]any{
		"phase": "Ready",
		"services": map[string]any{
			"serviceMgmt": map[string]any{"internalDNS": []any{"https://noobaa-mgmt.openshift-storage.svc:443"}},
			"serviceS3": map[string]any{
				"externalDNS": []any{s.S3.URL},
				"internalDNS": []any{"https://s3.openshift-storage.svc:443"},
			},
		},
		"accounts": map[string]any{"admin": map[string]any{"secretRef": map[string]any{"name": "noobaa-admin", "namespace": "openshift-storage"}}},
	}
	_, err = dyn.Resource(nbGVR).Namespace("openshift-storage").UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}
