package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMillis(t *testing.T) {
	tests := []struct {
		name     string
		ttl, got time.Duration
	}{
		{"whole milliseconds are kept", 5 * time.Millisecond, 5 * time.Millisecond},
		{"a fraction of a millisecond rounds up, never cutting a claim short", 1500 * time.Microsecond, 2 * time.Millisecond},
		{"less than a millisecond becomes one", time.Nanosecond, time.Millisecond},
		{"whole seconds are kept", time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.got, millis(tt.ttl))
		})
	}
}
