package schema

import (
	"runtime"
	"sync"

	"github.com/schemakv/schemakv/api"
)

// Validation runs on a few long-lived goroutines, not on the caller's.
//
// The library validates by deep recursion, which needs a stack of tens of
// KiB. A request goroutine starts each request on a small stack (the garbage
// collector shrinks the stacks of idle goroutines), so on a busy node every
// validation paid for growing and copying its stack several times. The
// workers' stacks stay grown between validations: only GOMAXPROCS of them
// regrow after a collection shrinks them, not one per connection.
//
// A validation is bounded CPU work that waits on nothing, so the pool cannot
// deadlock whoever calls it, from any pool of its own (imports validate on
// GOMAXPROCS-1 goroutines, which leaves a worker free for requests). With
// GOMAXPROCS workers it runs as many validations at once as there are
// cores, which is all the parallelism validation can use.

// validation is one call of Validate handed to a worker, and its answer.
type validation struct {
	s    *Schema
	doc  []byte
	done chan struct{}

	errs     []api.FieldError
	total    int
	err      error
	panicked any // a panic on the worker, re-raised on the caller
}

var (
	validations     chan *validation
	startValidators sync.Once
	validationPool  = sync.Pool{New: func() any { return &validation{done: make(chan struct{}, 1)} }}
)

// onWorker runs s.validate(doc) on a validation worker and waits for it.
func (s *Schema) onWorker(doc []byte) (errs []api.FieldError, total int, err error) {
	startValidators.Do(func() {
		n := runtime.GOMAXPROCS(0)
		validations = make(chan *validation, n)
		for range n {
			go validator()
		}
	})
	j := validationPool.Get().(*validation)
	j.s, j.doc = s, doc
	validations <- j
	<-j.done
	errs, total, err, panicked := j.errs, j.total, j.err, j.panicked
	*j = validation{done: j.done}
	validationPool.Put(j)
	if panicked != nil {
		panic(panicked)
	}
	return errs, total, err
}

// validator serves validations until the process exits.
func validator() {
	for j := range validations {
		j.run()
		j.done <- struct{}{}
	}
}

func (j *validation) run() {
	defer func() {
		if r := recover(); r != nil {
			j.panicked = r
		}
	}()
	j.errs, j.total, j.err = j.s.validate(j.doc)
}
