package charttest

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The MigStorage options mig-controller passes to Velero (the AWS plugin's public URL, KMS key and
// signature version; the snapshot provider and timeouts) come from values.
func TestStorageOptionsReachTheMigStorage(t *testing.T) {
	root, helm := setup(t, "helm")
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			args := append(Flavours["ocp4-ovn"].Args(), "--set", "remoteClusters=null", "-f", root+"/values/storage-aws.yaml",
				"--set", "replicationRepository.aws.publicUrl=https://s3-public.example.com",
				"--set", "replicationRepository.aws.kmsKeyId=arn:aws:kms:us-east-2:111122223333:key/abcd",
				"--set-string", "replicationRepository.aws.signatureVersion=4",
				"--set", "replicationRepository.volumeSnapshot.provider=aws",
				"--set", "replicationRepository.volumeSnapshot.snapshotCreationTimeout=45m",
				"--show-only", "templates/configure-configmap.yaml")
			out, err := Template(root, helm, chart, args...)
			if err != nil {
				t.Fatal(err)
			}
			var cm struct {
				Data map[string]string `json:"data"`
			}
			if err := yaml.Unmarshal(out, &cm); err != nil {
				t.Fatal(err)
			}
			var spec map[string]any
			for _, doc := range strings.Split(cm.Data["objects.yaml"], "\n---\n") {
				var o struct {
					Kind string         `json:"kind"`
					Spec map[string]any `json:"spec"`
				}
				if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.Kind == "MigStorage" {
					spec = o.Spec
				}
			}
			if spec == nil {
				t.Fatalf("no MigStorage in:\n%s", cm.Data["objects.yaml"])
			}
			bs, _ := spec["backupStorageConfig"].(map[string]any)
			vs, _ := spec["volumeSnapshotConfig"].(map[string]any)
			for k, want := range map[string]string{"awsPublicUrl": "https://s3-public.example.com", "awsKmsKeyId": "arn:aws:kms:us-east-2:111122223333:key/abcd", "awsSignatureVersion": "4"} {
				if bs[k] != want {
					t.Errorf("backupStorageConfig.%s = %v, want %q", k, bs[k], want)
				}
			}
			if vs["snapshotCreationTimeout"] != "45m" || spec["volumeSnapshotProvider"] != "aws" {
				t.Errorf("volume snapshot: provider %v, config %v", spec["volumeSnapshotProvider"], vs)
			}
		})
	}
}
