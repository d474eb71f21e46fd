// Command goprog is a Go wasip1 reactor used as a corpus module by the gas
// instrumenter's tests and benchmarks. Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o goprog.wasm .
package main

import (
	"encoding/json"
	"sort"
	"strconv"
)

func main() {}

//go:wasmexport fib
func fib(n int32) int64 {
	if n < 2 {
		return int64(n)
	}
	return fib(n-1) + fib(n-2)
}

//go:wasmexport sum_loop
func sumLoop(n int32) int64 {
	var s int64
	for i := int32(0); i < n; i++ {
		s += int64(i) * int64(i) % 7
	}
	return s
}

type record struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Score float64           `json:"score"`
	Attrs map[string]string `json:"attrs"`
}

// jsonWork encodes and decodes n records and returns a checksum of the bytes.
//
//go:wasmexport json_work
func jsonWork(n int32) int64 {
	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{
			ID:    i,
			Name:  "agent-" + strconv.Itoa(i),
			Tags:  []string{"a", "b", strconv.Itoa(i % 5)},
			Score: float64(i) / 3,
			Attrs: map[string]string{"k": strconv.Itoa(i * 7)},
		}
	}
	b, err := json.Marshal(recs)
	if err != nil {
		return -1
	}
	var back []record
	if err := json.Unmarshal(b, &back); err != nil {
		return -2
	}
	var sum int64
	for _, c := range b {
		sum = sum*31 + int64(c)
	}
	return sum + int64(len(back))
}

// sortWork sorts n pseudo-random integers and returns a checksum.
//
//go:wasmexport sort_work
func sortWork(n int32) int64 {
	xs := make([]int, n)
	x := uint32(2463534242)
	for i := range xs {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		xs[i] = int(x % 100000)
	}
	sort.Ints(xs)
	var s int64
	for i, v := range xs {
		s += int64(i) * int64(v)
	}
	return s
}

// recurse recurses n deep with a little work per frame.
//
//go:wasmexport recurse
func recurse(n int32) int64 {
	if n <= 0 {
		return 0
	}
	var buf [4]int64
	buf[n%4] = int64(n)
	return buf[n%4] + recurse(n-1)
}

// copyWork copies a buffer around n times (memmove in Go's runtime).
//
//go:wasmexport copy_work
func copyWork(n int32) int64 {
	a := make([]byte, 1<<16)
	b := make([]byte, 1<<16)
	for i := range a {
		a[i] = byte(i)
	}
	var s int64
	for i := int32(0); i < n; i++ {
		copy(b[int(i)%64:], a)
		s += int64(b[int(i)%1000])
	}
	return s
}
