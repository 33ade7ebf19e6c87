package mtccrds

// The structural schemas of the ten migration.openshift.io kinds that mig-controller serves, written
// from its API types (mig-controller release-1.8, pkg/apis/migration/v1alpha1/*_types.go; 1.7's are a
// subset): each spec field with its JSON name and type, and a field is required where its JSON tag has
// no omitempty, as controller-gen makes it. Their status is left open: mig-controller writes it with a
// plain update (these CRDs have no status subresource), and our hooks only read conditions from it.
// MigrationController is the ansible operator's and stays open in spec and status.

type jsonSchema = map[string]any

func object(props map[string]any, required ...string) jsonSchema {
	s := jsonSchema{"type": "object", "properties": props}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, f := range required {
			r[i] = f
		}
		s["required"] = r
	}
	return s
}

func str() jsonSchema     { return jsonSchema{"type": "string"} }
func boolean() jsonSchema { return jsonSchema{"type": "boolean"} }
func integer() jsonSchema { return jsonSchema{"type": "integer"} }
func int64s() jsonSchema  { return jsonSchema{"type": "integer", "format": "int64"} }

// base64s is a []byte field: base64 in JSON.
func base64s() jsonSchema               { return jsonSchema{"type": "string", "format": "byte"} }
func array(items jsonSchema) jsonSchema { return jsonSchema{"type": "array", "items": items} }
func strList() jsonSchema               { return array(str()) }
func stringMap() jsonSchema {
	return jsonSchema{"type": "object", "additionalProperties": str()}
}

// quantity is a resource.Quantity: a number or a string.
func quantity() jsonSchema {
	return jsonSchema{"anyOf": []any{jsonSchema{"type": "integer"}, jsonSchema{"type": "string"}}, "x-kubernetes-int-or-string": true}
}

func refFields() map[string]any {
	return map[string]any{
		"apiVersion": str(), "fieldPath": str(), "kind": str(), "name": str(),
		"namespace": str(), "resourceVersion": str(), "uid": str(),
	}
}

// ref is a corev1.ObjectReference.
func ref() jsonSchema {
	s := object(refFields())
	s["x-kubernetes-map-type"] = "atomic"
	return s
}

// labelSelector is a metav1.LabelSelector.
func labelSelector() jsonSchema {
	s := object(map[string]any{
		"matchLabels": stringMap(),
		"matchExpressions": array(object(map[string]any{
			"key": str(), "operator": str(), "values": strList(),
		}, "key", "operator")),
	})
	s["x-kubernetes-map-type"] = "atomic"
	return s
}

func withProps(base map[string]any, more map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// specs are the spec schemas of the kinds mig-controller serves, by kind.
var specs = map[string]jsonSchema{
	"MigStorage": object(map[string]any{
		"backupStorageProvider": str(),
		"backupStorageConfig": object(map[string]any{
			"credsSecretRef":        ref(),
			"awsBucketName":         str(),
			"awsRegion":             str(),
			"awsS3ForcePathStyle":   boolean(),
			"awsS3Url":              str(),
			"awsPublicUrl":          str(),
			"awsKmsKeyId":           str(),
			"awsSignatureVersion":   str(),
			"s3CustomCABundle":      base64s(),
			"azureStorageAccount":   str(),
			"azureStorageContainer": str(),
			"azureResourceGroup":    str(),
			"gcpBucket":             str(),
			"insecure":              boolean(),
		}),
		"volumeSnapshotProvider": str(),
		"volumeSnapshotConfig": object(map[string]any{
			"credsSecretRef":          ref(),
			"snapshotCreationTimeout": str(),
			"awsRegion":               str(),
			"azureApiTimeout":         str(),
			"azureResourceGroup":      str(),
		}),
		"refresh": boolean(),
	}, "backupStorageConfig", "backupStorageProvider"),

	"MigCluster": object(map[string]any{
		"isHostCluster":           boolean(),
		"url":                     str(),
		"serviceAccountSecretRef": ref(),
		"caBundle":                base64s(),
		"azureResourceGroup":      str(),
		"insecure":                boolean(),
		"restartRestic":           boolean(),
		"refresh":                 boolean(),
		"exposedRegistryPath":     str(),
	}, "isHostCluster"),

	"MigPlan": object(map[string]any{
		"persistentVolumes": array(object(map[string]any{
			"name":         str(),
			"capacity":     quantity(),
			"storageClass": str(),
			"supported":    object(map[string]any{"actions": strList(), "copyMethods": strList()}, "actions", "copyMethods"),
			"selection": object(map[string]any{
				"action": str(), "storageClass": str(), "accessMode": str(), "copyMethod": str(), "verify": boolean(),
			}),
			"pvc": object(map[string]any{
				"namespace": str(), "name": str(), "accessModes": strList(), "volumeMode": str(),
				"hasReference": boolean(), "ownerType": str(),
			}),
			"capacityConfirmed": boolean(),
			"proposedCapacity":  quantity(),
		}, "selection", "supported")),
		"namespaces":        strList(),
		"srcMigClusterRef":  ref(),
		"destMigClusterRef": ref(),
		"migStorageRef":     ref(),
		"closed":            boolean(),
		"hooks": array(object(map[string]any{
			"reference": ref(), "phase": str(), "executionNamespace": str(), "serviceAccount": str(),
		}, "executionNamespace", "phase", "reference", "serviceAccount")),
		"refresh":                 boolean(),
		"indirectImageMigration":  boolean(),
		"indirectVolumeMigration": boolean(),
		"includedResources":       array(object(map[string]any{"group": str(), "kind": str()}, "group", "kind")),
		"labelSelector":           labelSelector(),
		"liveMigrate":             boolean(),
	}),

	"MigMigration": object(map[string]any{
		"migPlanRef":      ref(),
		"stage":           boolean(),
		"migrateState":    boolean(),
		"quiescePods":     boolean(),
		"keepAnnotations": boolean(),
		"verify":          boolean(),
		"canceled":        boolean(),
		"rollback":        boolean(),
		"runAsRoot":       boolean(),
		"runAsUser":       int64s(),
		"runAsGroup":      int64s(),
	}, "stage"),

	"MigHook": object(map[string]any{
		"custom":                boolean(),
		"image":                 str(),
		"playbook":              str(),
		"targetCluster":         str(),
		"activeDeadlineSeconds": int64s(),
	}, "custom", "image", "targetCluster"),

	"MigAnalytic": object(map[string]any{
		"migPlanRef":                ref(),
		"analyzePVCapacity":         boolean(),
		"analyzeImageCount":         boolean(),
		"analyzeK8SResources":       boolean(),
		"listImages":                boolean(),
		"listImagesLimit":           integer(),
		"analyzeExtendedPVCapacity": boolean(),
		"refresh":                   boolean(),
	}, "analyzeImageCount", "analyzeK8SResources", "analyzePVCapacity", "migPlanRef"),

	"DirectVolumeMigration": object(map[string]any{
		"srcMigClusterRef":  ref(),
		"destMigClusterRef": ref(),
		"backOffLimit":      integer(),
		"persistentVolumeClaims": array(object(withProps(refFields(), map[string]any{
			"targetStorageClass": str(),
			"targetAccessModes":  strList(),
			"targetVolumeMode":   str(),
			"targetNamespace":    str(),
			"targetName":         str(),
			"verify":             boolean(),
		}), "targetAccessModes", "targetStorageClass")),
		"createDestinationNamespaces": boolean(),
		"deleteProgressReportingCRs":  boolean(),
		"liveMigrate":                 boolean(),
		"migrationType":               str(),
	}),

	"DirectVolumeMigrationProgress": object(map[string]any{
		"clusterRef":   ref(),
		"podRef":       ref(),
		"podNamespace": str(),
		"podSelector":  stringMap(),
	}),

	"DirectImageMigration": object(map[string]any{
		"srcMigClusterRef":  ref(),
		"destMigClusterRef": ref(),
		"namespaces":        strList(),
		"labelSelector":     labelSelector(),
	}),

	"DirectImageStreamMigration": object(map[string]any{
		"srcMigClusterRef":  ref(),
		"destMigClusterRef": ref(),
		"imageStreamRef":    ref(),
		"destNamespace":     str(),
	}),
}

// openSchema keeps every field: MigrationController's (the ansible role reads any key) and the
// stand-ins'.
func openSchema() jsonSchema {
	return jsonSchema{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
}

// kindSchema is the openAPIV3Schema of a kind mig-controller serves.
func kindSchema(spec jsonSchema) jsonSchema {
	return object(map[string]any{
		"apiVersion": str(),
		"kind":       str(),
		"metadata":   jsonSchema{"type": "object"},
		"spec":       spec,
		"status":     openSchema(),
	})
}
