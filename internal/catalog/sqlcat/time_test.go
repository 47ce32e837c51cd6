package sqlcat

import (
	"testing"
	"time"
)

// The fast path reads what time.Parse reads, and refuses the rest to it.
func TestParseStoredTime(t *testing.T) {
	for _, s := range []string{
		"2024-02-29 23:59:59.123456", "2023-01-01 00:00:00", "2023-01-01 00:00:00.5",
		"2023-12-31 12:34:56.123456789", "1999-06-15 07:08:09.000000",
	} {
		want, err := time.Parse("2006-01-02 15:04:05.999999999", s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseStoredTime(s)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseStoredTime(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{
		"", "2023-02-29 00:00:00", "2023-13-01 00:00:00", "2023-01-01T00:00:00", "2023-01-01 24:00:00",
		"2023-01-01 00:00:00.", "2023-01-01 00:00:00.1234567890", "2023-01-01 00:00:00Z", "2023-01-0a 00:00:00",
	} {
		if got, ok := parseStoredTime(s); ok {
			t.Errorf("parseStoredTime(%q) = %v, want refused", s, got)
		}
	}
	// What the fast path refuses, parseTime still reads when it is a time.
	if got, err := parseTime("2023-01-01T10:00:00+02:00"); err != nil || !got.Equal(time.Date(2023, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("parseTime with a zone: %v, %v", got, err)
	}
}
