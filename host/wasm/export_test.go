package wasm

import "context"

// NewUnmeteredRuntime is a runtime that does not instrument what it loads,
// for differential tests only.
func NewUnmeteredRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	r, err := NewRuntime(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.unmetered = true
	return r, nil
}
