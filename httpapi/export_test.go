package httpapi

// SetBeforeProposeHook sets the hook that runs between a schema change's
// check and its proposal (nil removes it).
func SetBeforeProposeHook(h func(ns string)) {
	if h == nil {
		beforeProposeHook.Store(nil)
		return
	}
	beforeProposeHook.Store(&h)
}
