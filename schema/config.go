package schema

import "fmt"

// Config sets the limits of a Cache. A zero field means its default.
type Config struct {
	// MaxSchemaBytes is the largest schema text, in bytes, that Compile
	// accepts; a longer one is ErrTooLarge. Schemas already registered (read
	// back by Get or loaded through a $ref) are not re-checked, so lowering
	// the limit never breaks existing versions. Default 256 KiB.
	MaxSchemaBytes int
	// MaxErrors is the most FieldErrors one Validate returns; the total is
	// reported separately. Default 100.
	MaxErrors int
}

// Defaults of Config.
const (
	defaultMaxSchemaBytes = 256 << 10
	defaultMaxErrors      = 100
)

// DefaultConfig returns the default limits.
func DefaultConfig() Config {
	return Config{MaxSchemaBytes: defaultMaxSchemaBytes, MaxErrors: defaultMaxErrors}
}

// Validate reports a negative limit. Zero is allowed and means the default.
func (c Config) Validate() error {
	if c.MaxSchemaBytes < 0 {
		return fmt.Errorf("schema: MaxSchemaBytes must be >= 0 (0 means %d), got %d", defaultMaxSchemaBytes, c.MaxSchemaBytes)
	}
	if c.MaxErrors < 0 {
		return fmt.Errorf("schema: MaxErrors must be >= 0 (0 means %d), got %d", defaultMaxErrors, c.MaxErrors)
	}
	return nil
}

// withDefaults replaces zero (and, defensively, negative) limits by their
// defaults.
func (c Config) withDefaults() Config {
	if c.MaxSchemaBytes <= 0 {
		c.MaxSchemaBytes = defaultMaxSchemaBytes
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = defaultMaxErrors
	}
	return c
}
