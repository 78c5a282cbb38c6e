package runbook

import "errors"

// Class is the kind of a step error; the engine's retry policy acts on it.
type Class int

// Error classes, from the most to the least recoverable.
const (
	// ClassFatal errors fail the step at once. Unclassified errors are fatal.
	ClassFatal Class = iota
	// ClassThrottled errors (API rate exceeded) are retried with backoff.
	ClassThrottled
	// ClassCapacity errors (no capacity for the requested type) trigger the step's Fallback.
	ClassCapacity
	// ClassNotFound errors fail the step.
	ClassNotFound
	// ClassConflict errors fail the step.
	ClassConflict
	// ClassTransient errors (timeouts, 5xx) are retried with backoff.
	ClassTransient
)

var classNames = [...]string{"fatal", "throttled", "capacity", "not-found", "conflict", "transient"}

// String returns the lower-case name of the class, e.g. "throttled".
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

// retryable reports whether the engine retries the class with backoff.
func (c Class) retryable() bool { return c == ClassThrottled || c == ClassTransient }

// classer is implemented by errors that know their class.
type classer interface{ Class() Class }

// Classify returns the class of err, found with errors.As on an error
// implementing Class() Class anywhere in its chain. Unclassified errors, and
// nil, are ClassFatal.
func Classify(err error) Class {
	var c classer
	if errors.As(err, &c) {
		return c.Class()
	}
	return ClassFatal
}

// classedError attaches a class to an error.
type classedError struct {
	class Class
	err   error
}

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }
func (e *classedError) Class() Class  { return e.class }

// WithClass wraps err so that Classify returns c. A nil err stays nil.
func WithClass(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &classedError{class: c, err: err}
}

// Throttled marks err as a throttling error (retried with backoff).
func Throttled(err error) error { return WithClass(ClassThrottled, err) }

// Capacity marks err as a capacity shortage (the step's Fallback is tried).
func Capacity(err error) error { return WithClass(ClassCapacity, err) }

// NotFound marks err as a missing resource (the step fails).
func NotFound(err error) error { return WithClass(ClassNotFound, err) }

// Conflict marks err as a conflicting state (the step fails).
func Conflict(err error) error { return WithClass(ClassConflict, err) }

// Transient marks err as a transient failure (retried with backoff).
func Transient(err error) error { return WithClass(ClassTransient, err) }

// Fatal marks err as fatal (the step fails); unclassified errors are fatal
// too, this makes the intent explicit.
func Fatal(err error) error { return WithClass(ClassFatal, err) }
