package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/joho/godotenv"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// AzureCloud is one Azure cloud's endpoints: where service principals log in, Resource Manager, and
// the suffix of storage accounts' Blob endpoints.
type AzureCloud struct {
	AuthorityHost, ResourceManager, StorageSuffix string
}

// AzureClouds are the clouds AZURE_CLOUD_NAME names, as mig-controller resolves them.
var AzureClouds = map[string]AzureCloud{
	"azurepubliccloud":       {"https://login.microsoftonline.com/", "https://management.azure.com/", "core.windows.net"},
	"azureusgovernmentcloud": {"https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/", "core.usgovcloudapi.net"},
	"azurechinacloud":        {"https://login.chinacloudapi.cn/", "https://management.chinacloudapi.cn/", "core.chinacloudapi.cn"},
}

// listKeysAPIVersion is the Resource Manager API version of the storage accounts' listKeys.
const listKeysAPIVersion = "2023-05-01"

type azureBucket struct {
	c         *Check
	client    *azblob.Client
	container string
	// stage is opLogin or opListKeys while the key is looked up, so that explain names that step.
	stage string
}

// azure is the client of provider azure, authenticated as mig-controller does: the service
// principal of azure-credentials logs in, Resource Manager lists the storage account's keys (in
// replicationRepository.azure.resourceGroup), and the Blob service is called with Shared Key.
// c.AzureCloud overrides the cloud's endpoints (Azure Stack Hub, the lab).
func (c *Check) azure(ctx context.Context, creds map[string][]byte, hc *http.Client) (bucket, error) {
	env, err := godotenv.Unmarshal(string(creds[KeyAzure]))
	if err != nil {
		return nil, kube.Refusef("storage-check: %s is not KEY=value lines (AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET); fix it in the Secret", KeyAzure)
	}
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
		if strings.TrimSpace(env[k]) == "" {
			return nil, kube.Refusef("storage-check: %s lacks %s, which the service principal login needs; set replicationRepository.credentials.azure (or the line in existingSecret)", KeyAzure, k)
		}
	}
	if c.Azure.ResourceGroup == "" {
		return nil, kube.Refusef("storage-check: provider azure needs the storage account's resource group to look up its key; set replicationRepository.azure.resourceGroup (--azure-resource-group)")
	}
	cl := c.AzureCloud
	if cl.AuthorityHost == "" || cl.ResourceManager == "" {
		name := strings.ToLower(strings.TrimSpace(env["AZURE_CLOUD_NAME"]))
		if name == "" {
			name = "azurepubliccloud"
		}
		known, ok := AzureClouds[name]
		if !ok {
			return nil, kube.Refusef("storage-check: AZURE_CLOUD_NAME %q is not AzurePublicCloud, AzureUSGovernmentCloud or AzureChinaCloud; fix it in replicationRepository.credentials.azure.cloudName", env["AZURE_CLOUD_NAME"])
		}
		if cl.AuthorityHost == "" {
			cl.AuthorityHost = known.AuthorityHost
		}
		if cl.ResourceManager == "" {
			cl.ResourceManager = known.ResourceManager
		}
		if cl.StorageSuffix == "" {
			cl.StorageSuffix = known.StorageSuffix
		}
	}
	b := &azureBucket{c: c, container: c.Azure.Container, stage: opLogin}
	opts := azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: cl.AuthorityHost,
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: cl.ResourceManager, Audience: cl.ResourceManager}},
		},
		Transport: hc,
		Retry:     policy.RetryOptions{MaxRetries: 1},
	}
	cred, err := azidentity.NewClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		return nil, kube.Refusef("storage-check: the service principal in %s cannot log in (%s); fix AZURE_TENANT_ID and AZURE_CLIENT_ID", KeyAzure, lastColon(err.Error()))
	}
	key, err := listKeys(ctx, hc, cred, cl.ResourceManager, env["AZURE_SUBSCRIPTION_ID"], c.Azure.ResourceGroup, c.Azure.StorageAccount, b)
	if err != nil {
		return nil, b.explain(b.stage, err)
	}
	b.stage = ""
	shared, err := azblob.NewSharedKeyCredential(c.Azure.StorageAccount, key)
	if err != nil {
		return nil, kube.Refusef("storage-check: Resource Manager gave a key of storage account %s that is not base64; regenerate the account's keys", c.Azure.StorageAccount)
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = fmt.Sprintf("https://%s.blob.%s/", c.Azure.StorageAccount, cl.StorageSuffix)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(endpoint, shared, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc, Retry: policy.RetryOptions{MaxRetries: 1}}})
	if err != nil {
		return nil, kube.Refusef("storage-check: cannot make a Blob client for %q: %v", endpoint, err)
	}
	b.client = client
	return b, nil
}

// armError is Resource Manager's error body.
type armError struct {
	Status int
	Code   string `json:"code"`
	Msg    string `json:"message"`
}

func (e *armError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

// listKeys calls Resource Manager's listKeys of the storage account and returns the first key with
// FULL permissions.
func listKeys(ctx context.Context, hc *http.Client, cred azcore.TokenCredential, arm, subscription, group, account string, b *azureBucket) (string, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{strings.TrimSuffix(arm, "/") + "/.default"}})
	if err != nil {
		return "", err
	}
	b.stage = opListKeys
	u := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s/listKeys?api-version=%s",
		strings.TrimSuffix(arm, "/"), url.PathEscape(subscription), url.PathEscape(group), url.PathEscape(account), listKeysAPIVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(nil))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error armError `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		e.Error.Status = resp.StatusCode
		if e.Error.Code == "" {
			e.Error.Code = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return "", &e.Error
	}
	var keys struct {
		Keys []struct {
			Value       string `json:"value"`
			Permissions string `json:"permissions"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &keys); err != nil {
		return "", fmt.Errorf("the listKeys answer is not JSON: %w", err)
	}
	for _, k := range keys.Keys {
		if strings.EqualFold(k.Permissions, "full") && k.Value != "" {
			return k.Value, nil
		}
	}
	return "", &armError{Status: http.StatusOK, Code: "NoFullKey", Msg: "the storage account has no key with FULL permissions"}
}

func (b *azureBucket) put(ctx context.Context, key string, data []byte) error {
	_, err := b.client.UploadBuffer(ctx, b.container, key, data, nil)
	return err
}

func (b *azureBucket) get(ctx context.Context, key string) ([]byte, error) {
	resp, err := b.client.DownloadStream(ctx, b.container, key, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func (b *azureBucket) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	pager := b.client.NewListBlobsFlatPager(b.container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name != nil {
				keys = append(keys, *item.Name)
			}
		}
	}
	return keys, nil
}

func (b *azureBucket) remove(ctx context.Context, key string) error {
	_, err := b.client.DeleteBlob(ctx, b.container, key, nil)
	return err
}

// explain names the step (login, key lookup, Blob operation) and the service's error code.
func (b *azureBucket) explain(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	c := b.c
	if r := c.transportRefusal(op, err); r != nil {
		return r
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		code, detail := "the login failure", lastColon(firstLine(err.Error()))
		if authErr.RawResponse != nil {
			code = fmt.Sprintf("HTTP %d", authErr.RawResponse.StatusCode)
			if authErr.RawResponse.Request != nil {
				detail = authErr.RawResponse.Request.URL.Path
			}
			var body struct {
				Error string `json:"error"`
				Desc  string `json:"error_description"`
			}
			raw, _ := io.ReadAll(authErr.RawResponse.Body)
			if json.Unmarshal(raw, &body) == nil && body.Error != "" {
				code, detail = body.Error, firstLine(body.Desc)
			}
		}
		return kube.Refusef("storage-check: the service principal of %s could not log in to Azure: %s (%s); fix AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (replicationRepository.credentials.azure, or existingSecret) or create a new client secret",
			KeyAzure, code, detail)
	}
	var arm *armError
	if errors.As(err, &arm) {
		remedy := "fix replicationRepository.azure.resourceGroup and storageAccount, or AZURE_SUBSCRIPTION_ID"
		if arm.Code == "AuthorizationFailed" {
			remedy = "give the service principal a role that may list the storage account's keys (Microsoft.Storage/storageAccounts/listKeys/action), such as Storage Account Contributor"
		}
		return kube.Refusef("storage-check: Azure Resource Manager refused to list the keys of storage account %s in resource group %s with %s (%s); %s",
			c.Azure.StorageAccount, c.Azure.ResourceGroup, arm.Code, firstLine(arm.Msg), remedy)
	}
	var resp *azcore.ResponseError
	if errors.As(err, &resp) {
		code := resp.ErrorCode
		if code == "" {
			code = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		switch code {
		case "ContainerNotFound":
			return c.refuse(op, code, "", "create the container, or fix replicationRepository.azure.storageContainer; MTC does not create it")
		case "AuthenticationFailed", "AuthorizationFailure", "InvalidAuthenticationInfo":
			return c.refuse(op, code, "", "the storage account rejected the key Resource Manager gave; check replicationRepository.azure.storageAccount and the Blob endpoint (a key rotated since, or another account's endpoint)")
		case "AuthorizationPermissionMismatch", "AccountIsDisabled":
			return c.refuse(op, code, "", "enable the storage account and allow Shared Key access on it")
		case "BlobNotFound":
			return c.refuse(op, code, "", "another writer or a lifecycle rule removes blobs from the container, which MTC's backups would lose too")
		}
		return c.refuse(op, code, "", "fix the storage account or the container, and install again")
	}
	if r := c.transportRefusal(op, err); r != nil {
		return r
	}
	return c.refuse(op, "an error", err.Error(), "check the endpoint, the proxy and the service principal")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s, _, _ = strings.Cut(s, "\r")
	return strings.TrimSuffix(strings.TrimSpace(s), ".")
}
