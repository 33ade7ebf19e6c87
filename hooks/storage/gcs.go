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

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// GCSScope is the read-write scope mig-controller asks for (devstorage.read_write).
const GCSScope = "https://www.googleapis.com/auth/devstorage.read_write"

// gcsEndpoint is Google's JSON API host.
const gcsEndpoint = "https://storage.googleapis.com"

type gcsBucket struct {
	c      *Check
	client *http.Client
	base   string
}

// gcs is the client of provider gcp: the service account's JSON key signs a JWT that its token_uri
// exchanges for an access token with the read-write scope, as mig-controller and Velero's GCP plugin
// authenticate, then the GCS JSON API at Google's endpoint or the one given. The API is called with
// net/http and googleapi's error type: cloud.google.com/go/storage speaks the same protocol but
// would add 30 MiB (gRPC, OpenTelemetry, S2A) to a hook binary kept under 40 MB.
func (c *Check) gcs(ctx context.Context, creds map[string][]byte, hc *http.Client) (bucket, error) {
	key := creds[KeyGCP]
	var probe struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(key, &probe); err != nil || probe.Type != "service_account" || probe.ClientEmail == "" {
		return nil, kube.Refusef("storage-check: %s is not the JSON key of a GCP service account (type service_account, with client_email and private_key); put the key file's content in replicationRepository.credentials.gcpServiceAccountKey or the Secret",
			KeyGCP)
	}
	jwt, err := google.JWTConfigFromJSON(key, GCSScope)
	if err != nil {
		return nil, kube.Refusef("storage-check: the service account key of %s cannot sign requests (%s); create a new JSON key for it", probe.ClientEmail, lastColon(err.Error()))
	}
	// The token request goes through the same CA bundle and proxy as the bucket's.
	tokens := jwt.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc))
	base := gcsEndpoint
	if c.Endpoint != "" {
		base = strings.TrimSuffix(c.Endpoint, "/")
	}
	return &gcsBucket{c: c, base: base, client: &http.Client{Transport: &oauth2.Transport{Source: tokens, Base: hc.Transport}}}, nil
}

// call makes one JSON API request and returns the response body, or googleapi's error of it.
func (b *gcsBucket) call(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	u := b.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return nil, err
	}
	return io.ReadAll(resp.Body)
}

func (b *gcsBucket) objectPath(key string) string {
	return "/storage/v1/b/" + url.PathEscape(b.c.Bucket) + "/o/" + url.PathEscape(key)
}

func (b *gcsBucket) put(ctx context.Context, key string, data []byte) error {
	_, err := b.call(ctx, http.MethodPost, "/upload/storage/v1/b/"+url.PathEscape(b.c.Bucket)+"/o",
		url.Values{"uploadType": {"media"}, "name": {key}}, data)
	return err
}

func (b *gcsBucket) get(ctx context.Context, key string) ([]byte, error) {
	return b.call(ctx, http.MethodGet, b.objectPath(key), url.Values{"alt": {"media"}}, nil)
}

func (b *gcsBucket) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	q := url.Values{"prefix": {prefix}, "fields": {"items(name),nextPageToken"}}
	for {
		raw, err := b.call(ctx, http.MethodGet, "/storage/v1/b/"+url.PathEscape(b.c.Bucket)+"/o", q, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("the object list is not JSON: %w", err)
		}
		for _, o := range page.Items {
			keys = append(keys, o.Name)
		}
		if page.NextPageToken == "" {
			return keys, nil
		}
		q.Set("pageToken", page.NextPageToken)
	}
}

func (b *gcsBucket) remove(ctx context.Context, key string) error {
	_, err := b.call(ctx, http.MethodDelete, b.objectPath(key), nil, nil)
	return err
}

// explain names the OAuth error of the key, or the GCS JSON API's status and reason.
func (b *gcsBucket) explain(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	c := b.c
	var tokenErr *oauth2.RetrieveError
	if errors.As(err, &tokenErr) {
		code, desc := tokenErr.ErrorCode, tokenErr.ErrorDescription
		if code == "" {
			// The JWT flow leaves the OAuth error in the body.
			var body struct {
				Error string `json:"error"`
				Desc  string `json:"error_description"`
			}
			if json.Unmarshal(tokenErr.Body, &body) == nil && body.Error != "" {
				code, desc = body.Error, body.Desc
			} else if tokenErr.Response != nil {
				code = fmt.Sprintf("HTTP %d from the token endpoint", tokenErr.Response.StatusCode)
			} else {
				code = "a refusal of the token endpoint"
			}
		}
		return c.refuse(op, code, desc,
			"the service account key was refused: create a new JSON key for the service account and put it in "+KeyGCP+" (replicationRepository.credentials.gcpServiceAccountKey, or the key in existingSecret)")
	}
	var api *googleapi.Error
	if errors.As(err, &api) {
		reason := http.StatusText(api.Code)
		if len(api.Errors) > 0 && api.Errors[0].Reason != "" {
			reason = api.Errors[0].Reason
		}
		switch api.Code {
		case http.StatusNotFound:
			if op == opRead || op == opDelete {
				return c.refuse(op, reason, api.Message, "the object just written is gone; another writer or a lifecycle rule removes objects from the bucket, which MTC's backups would lose too")
			}
			return c.refuse(op, reason, api.Message, "create the bucket, or fix replicationRepository.bucket (--bucket); MTC does not create it")
		case http.StatusUnauthorized:
			return c.refuse(op, reason, api.Message, "the access token was refused: create a new JSON key for the service account")
		case http.StatusForbidden:
			return c.refuse(op, reason, api.Message, "grant the service account roles/storage.objectAdmin on the bucket (MTC's Velero writes, reads, lists and deletes objects)")
		}
		return c.refuse(op, reason, api.Message, "fix the bucket or the service account, and install again")
	}
	if r := c.transportRefusal(op, err); r != nil {
		return r
	}
	return c.refuse(op, "an error", err.Error(), "check the endpoint, the proxy and the service account key")
}
