// Package loadgen drives timed, bounded phases of concurrent requests
// against a service and summarises them, for the benchmark programs.
package loadgen

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Phase bounds a phase: it runs until it has lasted Dur and made MinOps
// requests, but never past Limit or MaxOps.
type Phase struct {
	Conc   int
	Dur    time.Duration
	MinOps int
	Limit  time.Duration
	MaxOps int
}

// Result is what a phase did.
type Result struct {
	OK, Errs int
	Lat      []time.Duration // of successful requests only, sorted
	Elapsed  time.Duration
	FirstErr string
}

// Rate is successful requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Run calls op from spec.Conc goroutines until the phase's bounds say stop.
func Run(ctx context.Context, spec Phase, op func(context.Context) error) Result {
	ctx, cancel := context.WithTimeout(ctx, spec.Limit)
	defer cancel()
	var started atomic.Int64
	var mu sync.Mutex
	var res Result
	var wg sync.WaitGroup
	start := time.Now()
	for range spec.Conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var firstErr string
			for ctx.Err() == nil {
				n := started.Add(1)
				if n > int64(spec.MaxOps) || (time.Since(start) >= spec.Dur && n > int64(spec.MinOps)) {
					break
				}
				t0 := time.Now()
				err := op(ctx)
				d := time.Since(t0)
				switch {
				case err == nil:
					lat = append(lat, d)
				case ctx.Err() != nil:
					// Cut off by the phase's time limit: not the service's fault.
				default:
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Lat = append(res.Lat, lat...)
			res.OK += len(lat)
			res.Errs += errs
			if res.FirstErr == "" {
				res.FirstErr = firstErr
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Lat)
	return res
}

// Percentile uses the nearest-rank method on sorted samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Median is the median of v (0 for none), leaving v as it was.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Tail is the last n bytes of the file at path (a server's log, for an
// error message).
func Tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
