package gas

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestInspectFeatures(t *testing.T) {
	cases := []struct {
		file        string
		features    []string
		unsupported []string
	}{
		{"bench", []string{"mvp", "bulk-memory"}, nil},
		{"bulk", []string{"mvp", "bulk-memory"}, nil},
		{"calls", []string{"mvp"}, nil},
		{"control", []string{"mvp", "multi-value"}, nil},
		{"hostref", []string{"mvp", "reference-types"}, nil},
		{"memgrow", []string{"mvp"}, nil},
		{"multivalue", []string{"mvp", "multi-value"}, nil},
		{"numeric", []string{"mvp", "sign-extension", "saturating-float-to-int"}, nil},
		{"reftypes", []string{"mvp", "bulk-memory", "reference-types"}, nil},
		{"start", []string{"mvp"}, nil},
		{"simd", []string{"mvp", "simd"}, []string{"simd"}},
		{"threads", []string{"mvp", "threads"}, []string{"threads"}},
		{"tailcall", []string{"mvp", "tail-call"}, []string{"tail-call"}},
		{"memory64", []string{"mvp", "memory64"}, []string{"memory64"}},
		{"multimemory", []string{"mvp", "multi-memory"}, []string{"multi-memory"}},
		{"exceptions", []string{"mvp", "exception-handling"}, []string{"exception-handling"}},
		{"extconst", []string{"mvp", "extended-const"}, []string{"extended-const"}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.file] = true
		wasm, err := os.ReadFile(filepath.Join("testdata", tc.file+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(wasm)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !slices.Equal(info.Features, tc.features) || !slices.Equal(info.Unsupported, tc.unsupported) {
			t.Errorf("%s: features %q unsupported %q; want %q, %q", tc.file, info.Features, info.Unsupported, tc.features, tc.unsupported)
		}
	}
	files, _ := filepath.Glob("testdata/*.wasm")
	for _, f := range files {
		if name := filepath.Base(f[:len(f)-len(".wasm")]); !covered[name] {
			t.Errorf("fixture %s has no expected features here", name)
		}
	}
}

// InspectInterface says what Inspect says of every fixture but the features
// the bodies use, which it does not read.
func TestInspectInterfaceIsInspectWithoutFeatures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.wasm")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		full, err := Inspect(wasm)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		iface, err := InspectInterface(wasm)
		if err != nil {
			t.Fatalf("%s: InspectInterface: %v", f, err)
		}
		if iface.Features != nil || iface.Unsupported != nil {
			t.Errorf("%s: InspectInterface lists features %q %q", f, iface.Features, iface.Unsupported)
		}
		full.Features, full.Unsupported = nil, nil
		if !reflect.DeepEqual(full, iface) {
			t.Errorf("%s: Inspect %+v\nInspectInterface %+v", f, full, iface)
		}
	}
}

func TestInspectDetails(t *testing.T) {
	wasm, err := os.ReadFile("testdata/calls.wasm")
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(wasm)
	if err != nil {
		t.Fatal(err)
	}
	wantImports := []Import{
		{Module: "env", Name: "add", Kind: "func", Signature: "func(i32, i32) -> i32"},
		{Module: "env", Name: "burn", Kind: "func", Signature: "func(i64)"},
	}
	if !reflect.DeepEqual(info.Imports, wantImports) {
		t.Errorf("imports %+v", info.Imports)
	}
	if info.Functions != 15 || info.Start || len(info.Tables) != 1 || info.Tables[0] != (Table{Elem: "funcref", Min: 8}) {
		t.Errorf("functions %d, start %v, tables %+v", info.Functions, info.Start, info.Tables)
	}
	if i := slices.IndexFunc(info.Exports, func(e Export) bool { return e.Name == "fib" }); i < 0 || info.Exports[i].Signature != "func(i64) -> i64" {
		t.Errorf("exports %+v", info.Exports)
	}

	wasm, _ = os.ReadFile("testdata/multivalue.wasm")
	info, _ = Inspect(wasm)
	if i := slices.IndexFunc(info.Exports, func(e Export) bool { return e.Name == "triple" }); i < 0 || info.Exports[i].Signature != "func(i32) -> (i32, i32, i32)" {
		t.Errorf("exports %+v", info.Exports)
	}

	wasm, _ = os.ReadFile("testdata/threads.wasm")
	info, _ = Inspect(wasm)
	if len(info.Memories) != 1 || info.Memories[0] != (Memory{MinPages: 1, MaxPages: 1, HasMax: true, Shared: true}) {
		t.Errorf("memories %+v", info.Memories)
	}

	info, err = Inspect(buildGoModule(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.CustomSections, "name") || len(info.Memories) != 1 || info.Memories[0].MinPages == 0 {
		t.Errorf("go module: custom sections %q, memories %+v", info.CustomSections, info.Memories)
	}
	if i := slices.IndexFunc(info.Exports, func(e Export) bool { return e.Name == "_initialize" }); i < 0 || info.Exports[i].Kind != "func" {
		t.Errorf("go module exports %+v", info.Exports)
	}
	if len(info.Unsupported) != 0 {
		t.Errorf("go module uses unsupported features %q", info.Unsupported)
	}
}
