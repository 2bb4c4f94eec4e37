package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Name and key limits of the data model (DESIGN.md §2).
const (
	MaxNameLen = 63
	MaxKeyLen  = 512
)

// Errors returned by the name and key checks. Each maps to one error code:
// ErrInvalidName → invalid_name, ErrInvalidKey → invalid_key, ErrKeyTooLong →
// key_too_long, ErrInvalidSchemaRef → invalid_schema_ref.
var (
	ErrInvalidName      = errors.New("invalid name")
	ErrInvalidKey       = errors.New("invalid key")
	ErrKeyTooLong       = errors.New("key too long")
	ErrInvalidSchemaRef = errors.New("invalid schema reference")
)

// ValidateName checks a namespace or schema name: a lowercase DNS label
// (RFC 1123): 1 to 63 characters of a-z, 0-9 and '-', starting and ending
// with a letter or digit.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrInvalidName, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return fmt.Errorf("%w: %q must be a lowercase DNS label (a-z, 0-9, '-' inside)", ErrInvalidName, name)
		}
	}
	return nil
}

// ValidateKey checks a config key: path-like segments separated by '/', at
// most MaxKeyLen bytes, no empty segment (so no leading, trailing or double
// '/'), no "." or ".." segment, and only printable ASCII letters, digits and
// the characters "-_.:@+=~" inside segments.
func ValidateKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, key)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, key, seg)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				strings.IndexByte("-_.:@+=~", c) >= 0
			if !ok {
				return fmt.Errorf("%w: %q contains %q (allowed: letters, digits, '/' and -_.:@+=~)", ErrInvalidKey, key, c)
			}
		}
	}
	return nil
}

// ParseSchemaRef splits "name" or "name@version". Version is 0 when the
// reference names no version (meaning: the latest).
func ParseSchemaRef(ref string) (name string, version int, err error) {
	name, v, hasVersion := strings.Cut(ref, "@")
	if err := ValidateName(name); err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrInvalidSchemaRef, ref, err)
	}
	if !hasVersion {
		return name, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || strconv.Itoa(n) != v {
		return "", 0, fmt.Errorf("%w: %q: version must be a positive integer", ErrInvalidSchemaRef, ref)
	}
	return name, n, nil
}

// SchemaRef formats a schema reference "name@version".
func SchemaRef(name string, version int) string {
	return name + "@" + strconv.Itoa(version)
}
