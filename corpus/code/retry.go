// Package retry runs an operation again after transient failures, waiting a
// little longer after each attempt (exponential backoff with jitter).
//
// Network calls fail for reasons that often fix themselves within seconds: a
// connection reset, a server that is restarting, a rate limit. Retrying
// immediately in a tight loop makes things worse, especially when thousands of
// clients do it at once. Backoff spreads retries out, and random jitter stops
// clients from retrying in synchronised waves.
//
// Example:
//
//	err := retry.Do(ctx, retry.Policy{Attempts: 5, Base: 200 * time.Millisecond}, func(ctx context.Context) error {
//		return client.Ping(ctx)
//	})
package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"time"
)

// Policy controls how many times and how patiently Do retries.
type Policy struct {
	Attempts int           // total attempts including the first; values below 1 mean 1
	Base     time.Duration // delay before the second attempt
	Max      time.Duration // upper bound for any single delay; 0 means no bound
	// Retryable reports whether an error is worth retrying. If nil, every
	// error except a Permanent one is retried.
	Retryable func(error) bool
}

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that Do returns it at once instead of retrying,
// for example for "404 not found" or "invalid credentials".
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Backoff returns the delay before retry number n (n = 1 for the first
// retry), using "full jitter": a random duration in [0, Base * 2^(n-1)),
// where the upper bound is capped at Max.
func (p Policy) Backoff(n int, rng *rand.Rand) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	ceiling := p.Base
	for i := 1; i < n; i++ {
		if p.Max > 0 && ceiling >= p.Max {
			break
		}
		if ceiling > math.MaxInt64/2 { // doubling again would overflow
			break
		}
		ceiling *= 2
	}
	if p.Max > 0 && ceiling > p.Max {
		ceiling = p.Max
	}
	return time.Duration(rng.Int63n(int64(ceiling)))
}

// Do calls op until it succeeds, returns a permanent error, the policy's
// attempts are used up, or ctx is cancelled. It returns the last error.
func Do(ctx context.Context, p Policy, op func(context.Context) error) error {
	attempts := p.Attempts
	if attempts < 1 {
		attempts = 1
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))

	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		if err = op(ctx); err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if p.Retryable != nil && !p.Retryable(err) {
			return err
		}
		if attempt == attempts {
			break
		}
		timer := time.NewTimer(p.Backoff(attempt, rng))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-timer.C:
		}
	}
	return err
}
