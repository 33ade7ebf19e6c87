package chartpkg

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keyring is a generated signing key: the secret keyring helm package --sign reads and the public
// keyring helm install --verify reads.
type Keyring struct {
	Name, Secret, Public string
}

// GenerateKeyring writes a new RSA signing key for name to dir, as binary OpenPGP keyrings without a
// passphrase (the lab's key; a release uses the maintainers' own).
func GenerateKeyring(dir, name, email string) (Keyring, error) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 3072, DefaultHash: crypto.SHA512}
	e, err := openpgp.NewEntity(name, "mtc-helm chart signing", email, cfg)
	if err != nil {
		return Keyring{}, fmt.Errorf("failed to generate the signing key: %w", err)
	}
	k := Keyring{Name: name, Secret: filepath.Join(dir, "secring.gpg"), Public: filepath.Join(dir, "pubring.gpg")}
	sec, err := os.OpenFile(k.Secret, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return Keyring{}, err
	}
	if err := e.SerializePrivate(sec, cfg); err != nil {
		sec.Close()
		return Keyring{}, err
	}
	if err := sec.Close(); err != nil {
		return Keyring{}, err
	}
	pub, err := os.Create(k.Public)
	if err != nil {
		return Keyring{}, err
	}
	if err := e.Serialize(pub); err != nil {
		pub.Close()
		return Keyring{}, err
	}
	return k, pub.Close()
}
