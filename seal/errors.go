package seal

import "errors"

// Errors for what callers branch on. None of them, nor the errors that wrap
// them, holds a sealed value, a key or what a value holds.
var (
	// ErrTampered means a value is not one this package sealed, or was
	// altered since: it does not decode, or its authentication tag does
	// not verify (the key, the subject or the purpose it was sealed for
	// differs, or a byte changed).
	ErrTampered = errors.New("seal: the value was altered or was not sealed by these keys")

	// ErrUnknownKey means a value names a key ID that Keys does not hold:
	// it was sealed with a key since retired, or by another application.
	ErrUnknownKey = errors.New("seal: the value was sealed with a key these keys do not hold")

	// ErrExpired means a sealed flow's expiry has passed.
	ErrExpired = errors.New("seal: the sealed flow has expired")

	// ErrWrongPurpose means a sealed flow was sealed for another purpose
	// (another cookie name) than the one it was opened for.
	ErrWrongPurpose = errors.New("seal: the sealed flow was sealed for another purpose")
)
