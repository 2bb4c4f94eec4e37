package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenPrefix starts every generated API token, so secret scanners and
// people can recognise one.
const TokenPrefix = "skv_"

// Token secrets supplied from outside (a bootstrap token from a file or the
// environment) must have at least MinTokenLen and at most MaxTokenLen
// printable, non-space ASCII characters.
const (
	MinTokenLen = 32
	MaxTokenLen = 256
)

// MaxTokenNameLen bounds a token's name.
const MaxTokenNameLen = 64

// TokenRecord is what the replicated state keeps of an API token.
type TokenRecord struct {
	ID   string
	Name string
	// Hash is the SHA-256 of the secret.
	Hash []byte
	// ExpiresAt is zero for a token that never expires.
	ExpiresAt time.Time
	Revoked   bool
}

// NewToken generates an API token: the secret to show once, and its id and
// hash to store.
func NewToken() (secret, id string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, fmt.Errorf("auth: generate token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	id, hash = HashToken(secret)
	return secret, id, hash, nil
}

// HashToken returns the id and the SHA-256 hash of a token secret. The id
// is "tk" and the first 8 bytes of the hash in hex: it names the token in
// listings and bindings without revealing anything usable of the secret.
func HashToken(secret string) (id string, hash []byte) {
	h := sha256.Sum256([]byte(secret))
	return "tk" + hex.EncodeToString(h[:8]), h[:]
}

// ValidateTokenSecret checks a token secret supplied from outside (a
// bootstrap token).
func ValidateTokenSecret(secret string) error {
	if len(secret) < MinTokenLen || len(secret) > MaxTokenLen {
		return fmt.Errorf("auth: a token must be %d to %d characters long", MinTokenLen, MaxTokenLen)
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= ' ' || c > '~' {
			return errors.New("auth: a token must be printable ASCII without spaces")
		}
	}
	if looksLikeJWT(secret) {
		return errors.New("auth: a token must not have the shape of a JWT (two '.')")
	}
	return nil
}

// ValidateTokenName checks a token's name: 1 to MaxTokenNameLen characters
// of a-z, A-Z, 0-9, '-', '_' and '.'.
func ValidateTokenName(name string) error {
	if name == "" || len(name) > MaxTokenNameLen {
		return fmt.Errorf("auth: token name must be 1 to %d characters", MaxTokenNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("auth: token name %q may hold only a-z, A-Z, 0-9, '-', '_' and '.'", name)
		}
	}
	return nil
}

// checkToken verifies an API token secret against the stored records.
func checkToken(secret string, lookup TokenLookup, now time.Time) (Principal, error) {
	if len(secret) > MaxTokenLen {
		return Principal{}, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	id, hash := HashToken(secret)
	rec, ok := lookup.Token(id)
	// The id is derived from the hash, so this comparison is almost always
	// of equal values; it is constant-time all the same.
	if !ok || subtle.ConstantTimeCompare(rec.Hash, hash) != 1 {
		return Principal{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if rec.Revoked {
		return Principal{}, fmt.Errorf("%w: token %s is revoked", ErrUnauthenticated, rec.ID)
	}
	if !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt) {
		return Principal{}, fmt.Errorf("%w: token %s expired at %s", ErrUnauthenticated, rec.ID, rec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return Principal{Kind: KindToken, ID: rec.ID, Name: rec.Name}, nil
}

func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }
