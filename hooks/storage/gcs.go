package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	gcs "cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

type gcsBucket struct {
	c      *Check
	bucket *gcs.BucketHandle
}

// gcs is the client of provider gcp: the service account's JSON key signs a JWT that its token_uri
// exchanges for an access token with the read-write scope, as mig-controller and Velero's GCP plugin
// authenticate, and the JSON API at Google's endpoint or the one given.
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
	jwt, err := google.JWTConfigFromJSON(key, gcs.ScopeReadWrite)
	if err != nil {
		return nil, kube.Refusef("storage-check: the service account key of %s cannot sign requests (%s); create a new JSON key for it", probe.ClientEmail, lastColon(err.Error()))
	}
	// The token request goes through the same CA bundle and proxy as the bucket's.
	tokens := jwt.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc))
	authed := &http.Client{Transport: &oauth2.Transport{Source: tokens, Base: hc.Transport}}
	opts := []option.ClientOption{option.WithHTTPClient(authed)}
	if c.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(c.Endpoint, "/")+"/storage/v1/"))
	}
	client, err := gcs.NewClient(ctx, opts...)
	if err != nil {
		return nil, kube.Refusef("storage-check: cannot make a GCS client for endpoint %q: %v", c.Endpoint, err)
	}
	return &gcsBucket{c: c, bucket: client.Bucket(c.Bucket)}, nil
}

func (b *gcsBucket) put(ctx context.Context, key string, data []byte) error {
	w := b.bucket.Object(key).NewWriter(ctx)
	w.ContentType = "text/plain"
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func (b *gcsBucket) get(ctx context.Context, key string) ([]byte, error) {
	r, err := b.bucket.Object(key).NewReader(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (b *gcsBucket) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := b.bucket.Objects(ctx, &gcs.Query{Prefix: prefix})
	for {
		o, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return keys, nil
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, o.Name)
	}
}

func (b *gcsBucket) remove(ctx context.Context, key string) error {
	return b.bucket.Object(key).Delete(ctx)
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
			} else {
				code = fmt.Sprintf("HTTP %d from the token endpoint", tokenErr.Response.StatusCode)
			}
		}
		return c.refuse(op, code, desc,
			"the service account key was refused: create a new JSON key for the service account and put it in "+KeyGCP+" (replicationRepository.credentials.gcpServiceAccountKey, or the key in existingSecret)")
	}
	if errors.Is(err, gcs.ErrBucketNotExist) {
		return c.refuse(op, "notFound", "the bucket does not exist", "create the bucket, or fix replicationRepository.bucket (--bucket); MTC does not create it")
	}
	if errors.Is(err, gcs.ErrObjectNotExist) {
		return c.refuse(op, "notFound", "the object just written is gone", "another writer or a lifecycle rule removes objects from the bucket, which MTC's backups would lose too")
	}
	var api *googleapi.Error
	if errors.As(err, &api) {
		reason := http.StatusText(api.Code)
		if len(api.Errors) > 0 && api.Errors[0].Reason != "" {
			reason = api.Errors[0].Reason
		}
		switch api.Code {
		case http.StatusNotFound:
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
