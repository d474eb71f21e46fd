package gas

import "math/bits"

// feature is one WebAssembly feature (a proposal merged into the spec or
// not); features is a set of them.
type feature uint8

const (
	featMVP feature = iota
	featMutableGlobals
	featSignExt
	featSatConv
	featBulkMemory
	featMultiValue
	featReferenceTypes
	// Everything from here on is unsupported by the instrumenter.
	featSIMD
	featRelaxedSIMD
	featThreads
	featExceptions
	featTailCall
	featMemory64
	featMultiMemory
	featGC
	featFuncRefs
	featExtendedConst
	featWideArithmetic
	featCustomPageSizes
	numFeatures
)

var featureNames = [numFeatures]string{
	featMVP:             "mvp",
	featMutableGlobals:  "mutable-globals",
	featSignExt:         "sign-extension",
	featSatConv:         "saturating-float-to-int",
	featBulkMemory:      "bulk-memory",
	featMultiValue:      "multi-value",
	featReferenceTypes:  "reference-types",
	featSIMD:            "simd",
	featRelaxedSIMD:     "relaxed-simd",
	featThreads:         "threads",
	featExceptions:      "exception-handling",
	featTailCall:        "tail-call",
	featMemory64:        "memory64",
	featMultiMemory:     "multi-memory",
	featGC:              "gc",
	featFuncRefs:        "function-references",
	featExtendedConst:   "extended-const",
	featWideArithmetic:  "wide-arithmetic",
	featCustomPageSizes: "custom-page-sizes",
}

func (f feature) String() string { return featureNames[f] }

// supported reports whether Instrument accepts modules using f.
func (f feature) supported() bool { return f < featSIMD }

type features uint32

func (s *features) add(f feature)        { *s |= 1 << f }
func (s features) has(f feature) bool    { return s&(1<<f) != 0 }
func (s features) unsupported() features { return s &^ (1<<featSIMD - 1) }
func (s features) first() feature        { return feature(bits.TrailingZeros32(uint32(s))) }
func (s features) names() []string {
	var out []string
	for f := feature(0); f < numFeatures; f++ {
		if s.has(f) {
			out = append(out, f.String())
		}
	}
	return out
}
