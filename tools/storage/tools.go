//go:build tools

// Package storage pins the object storage servers the lab runs on loopback, so that the replication
// repository check meets the real protocols: versitygw speaks S3 (SigV4, regions, its error codes) and
// fake-gcs-server speaks the GCS JSON API. Azure Blob comes from Azurite (tools/azurite, npm).
package storage

import (
	_ "github.com/fsouza/fake-gcs-server"
	_ "github.com/versity/versitygw/cmd/versitygw"
)
