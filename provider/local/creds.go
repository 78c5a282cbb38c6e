package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// Credentials are the object-store keys shared by the local regions of one
// state directory. They are kept in STATE/credentials.json with mode 0600 and
// never logged.
type Credentials struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// String hides the secret so that credentials can never leak through %v.
func (c Credentials) String() string { return "Credentials{" + c.AccessKey + ", ***}" }

// ErrNoCredentials is returned by LoadCredentials when the state directory
// has no credentials yet (no local store was ever started there).
var ErrNoCredentials = errors.New("no local store credentials in the state directory (run 'pilotlight up' first)")

// LoadCredentials reads STATE/credentials.json without creating it.
func LoadCredentials(stateDir string) (Credentials, error) {
	path := filepath.Join(stateDir, "credentials.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, fmt.Errorf("local: %s: %w", stateDir, ErrNoCredentials)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("local: read credentials %s: %w", path, err)
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
		return Credentials{}, fmt.Errorf("local: read credentials %s: malformed file (delete it to generate new keys)", path)
	}
	return c, nil
}

// LoadOrCreateCredentials reads STATE/credentials.json, creating it with
// fresh random keys when it does not exist.
func LoadOrCreateCredentials(stateDir string) (Credentials, error) {
	path := filepath.Join(stateDir, "credentials.json")
	c, err := LoadCredentials(stateDir)
	if err == nil || !errors.Is(err, ErrNoCredentials) {
		return c, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return Credentials{}, fmt.Errorf("local: create state dir %s: %w", stateDir, err)
	}
	c.AccessKey, c.SecretKey = objstore.Generate()
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return Credentials{}, fmt.Errorf("local: write credentials: %w", err)
	}
	return c, nil
}

// writeFileAtomic writes data to a temporary file in the same directory,
// syncs it and renames it over path, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
