package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// DefaultRegion is the region MTC (and so the check) signs with when replicationRepository.region is empty.
const DefaultRegion = "us-east-1"

type s3Bucket struct {
	c      *Check
	client *minio.Client
	region string
}

// s3 is the S3 client of providers aws, s3 and mcg: SigV4 with the static keys, the region (MTC's
// default us-east-1), path-style URLs when asked for, the endpoint or AWS's.
func (c *Check) s3(creds map[string][]byte, hc *http.Client) (bucket, error) {
	host, secure := "s3.amazonaws.com", true
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, kube.Refusef("storage-check: endpoint %q is not an http or https URL; set replicationRepository.endpoint (--endpoint) to the S3 endpoint, for example https://s3-openshift-storage.apps.example.com", c.Endpoint)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, kube.Refusef("storage-check: endpoint %q has a path (%s); give the S3 endpoint without the bucket or a path, and the bucket in replicationRepository.bucket", c.Endpoint, u.Path)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	region := c.Region
	if region == "" {
		region = DefaultRegion
	}
	lookup := minio.BucketLookupDNS
	if c.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	id := strings.TrimSpace(string(creds[KeyAccessKeyID]))
	secret := strings.TrimSpace(string(creds[KeySecretAccessKey]))
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(id, secret, ""),
		Secure:       secure,
		Region:       region,
		BucketLookup: lookup,
		Transport:    hc.Transport,
		MaxRetries:   1,
	})
	if err != nil {
		return nil, kube.Refusef("storage-check: cannot make an S3 client for endpoint %q: %v", c.Endpoint, err)
	}
	return &s3Bucket{c: c, client: client, region: region}, nil
}

func (b *s3Bucket) put(ctx context.Context, key string, data []byte) error {
	_, err := b.client.PutObject(ctx, b.c.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: "text/plain"})
	return err
}

func (b *s3Bucket) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := b.client.GetObject(ctx, b.c.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func (b *s3Bucket) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for o := range b.client.ListObjects(ctx, b.c.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		keys = append(keys, o.Key)
	}
	return keys, nil
}

func (b *s3Bucket) remove(ctx context.Context, key string) error {
	return b.client.RemoveObject(ctx, b.c.Bucket, key, minio.RemoveObjectOptions{})
}

// explain names the S3 error code and what to change.
func (b *s3Bucket) explain(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	c := b.c
	switch resp.Code {
	case "AccessDenied", "AllAccessDisabled":
		return c.refuse(op, resp.Code, resp.Message, "grant the credentials s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject on the bucket (MTC's Velero needs all four)")
	case "NoSuchBucket":
		return c.refuse(op, resp.Code, resp.Message, "create the bucket, or fix replicationRepository.bucket (--bucket); MTC does not create it")
	case "InvalidAccessKeyId", "XAdminUserNotFound":
		return c.refuse(op, resp.Code, resp.Message, "the endpoint does not know the access key ID; fix "+KeyAccessKeyID+" (replicationRepository.credentials.accessKeyId, or the key in existingSecret)")
	case "SignatureDoesNotMatch":
		return c.refuse(op, resp.Code, resp.Message, "the secret access key does not belong to the access key ID; fix "+KeySecretAccessKey+" (replicationRepository.credentials.secretAccessKey, or the key in existingSecret)")
	case "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "IllegalLocationConstraintException", "PermanentRedirect", "InvalidRegion":
		want := "the bucket's region"
		if resp.Region != "" && resp.Region != b.region {
			want = "the bucket's region, " + resp.Region
		}
		return c.refuse(op, resp.Code, resp.Message, fmt.Sprintf("the request was signed for region %s; set replicationRepository.region (--region) to %s", b.region, want))
	case "NoSuchKey":
		return c.refuse(op, resp.Code, resp.Message, "the object just written is gone; another writer, a lifecycle rule or a replication setup removes objects from the bucket, which MTC's backups would lose too")
	}
	if r := c.transportRefusal(op, err); r != nil {
		return r
	}
	if resp.Code != "" {
		return c.refuse(op, resp.Code, resp.Message, "see the S3 error code in the provider's documentation, fix the bucket or the credentials, and install again")
	}
	if resp.StatusCode != 0 {
		return c.refuse(op, fmt.Sprintf("HTTP %d", resp.StatusCode), resp.Message, "check that the endpoint is an S3 endpoint (for MCG the s3 Route of openshift-storage)")
	}
	return c.refuse(op, "an error", err.Error(), "check the endpoint, the proxy and the credentials")
}
