package image

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it. Each API maps
// a Kind to its own status code in one place (internal/api/httperr).
type Kind int

// The kinds of domain errors. Their order is not meaningful.
const (
	Internal Kind = iota
	NotFound
	Conflict
	Forbidden
	Invalid
	TooLarge
	Unsupported
	Unavailable
	Unauthorized
	Gone
	RangeNotSatisfiable
	NotAllowed
)

var kindNames = map[Kind]string{
	Internal:            "internal",
	NotFound:            "not found",
	Conflict:            "conflict",
	Forbidden:           "forbidden",
	Invalid:             "invalid",
	TooLarge:            "too large",
	Unsupported:         "unsupported media type",
	Unavailable:         "unavailable",
	Unauthorized:        "unauthorized",
	Gone:                "gone",
	RangeNotSatisfiable: "range not satisfiable",
	NotAllowed:          "method not allowed",
}

func (k Kind) String() string { return kindNames[k] }

// Error is a domain error: Op names where it happened, Msg is the
// explanation shown to the client (Glance's wording), Err the cause that is
// only logged. Detail, when set, is shown after the status's generic
// explanation instead: Glance words some refusals that way and clients
// print the body as it comes.
type Error struct {
	Op     string
	Kind   Kind
	Msg    string
	Detail string
	Err    error
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error whose client-facing message is formatted from format
// and args.
func E(op string, kind Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// D builds an *Error shown as the status's generic explanation followed by
// a detail line.
func D(op string, kind Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// KindOf reports the Kind of the outermost *Error in err's chain, Internal
// when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries the given kind.
func Is(kind Kind, err error) bool { return err != nil && KindOf(err) == kind }

// Message is the client-facing explanation carried by err, empty when err is
// not a domain error (an internal failure whose text must not leak).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Msg
	}
	return ""
}
