package gas

import (
	"fmt"
	"unicode/utf8"
)

// reader decodes the primitive encodings of the binary format from buf[pos:end].
// Offsets in errors are absolute offsets in the module.
type reader struct {
	buf     []byte
	pos     int
	end     int
	section string
}

func (r *reader) errorf(format string, args ...any) error {
	return &DecodeError{Section: r.section, Offset: r.pos, Detail: fmt.Sprintf(format, args...)}
}

func (r *reader) unsupported(feature string, at int) error {
	return &UnsupportedFeatureError{Feature: feature, Offset: at}
}

func (r *reader) eof() bool { return r.pos >= r.end }

func (r *reader) byte() (byte, error) {
	if r.pos >= r.end {
		return 0, r.errorf("unexpected end")
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.end-r.pos {
		return nil, r.errorf("length %d exceeds the %d bytes left", n, r.end-r.pos)
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	if r.pos < r.end {
		if b := r.buf[r.pos]; b < 0x80 {
			r.pos++
			return uint32(b), nil
		}
	}
	var v uint32
	for i := 0; i < 5; i++ {
		if r.pos >= r.end {
			return 0, r.errorf("unexpected end in integer")
		}
		b := r.buf[r.pos]
		r.pos++
		if i == 4 && b&0xf0 != 0 {
			return 0, r.errorf("integer too large")
		}
		v |= uint32(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, r.errorf("integer representation too long")
}

// u64 reads an unsigned LEB128 of at most 64 bits.
func (r *reader) u64() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if r.pos >= r.end {
			return 0, r.errorf("unexpected end in integer")
		}
		b := r.buf[r.pos]
		r.pos++
		if i == 9 && b&0xfe != 0 {
			return 0, r.errorf("integer too large")
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, r.errorf("integer representation too long")
}

// count reads a vector length and checks that at least minSize bytes per
// element remain, so a hostile length cannot make us allocate.
func (r *reader) count(minSize int) (int, error) {
	at := r.pos
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if minSize > 0 && uint64(n)*uint64(minSize) > uint64(r.end-r.pos) {
		r.pos = at
		return 0, r.errorf("vector length %d exceeds the bytes left", n)
	}
	return int(n), nil
}

// signed reads a signed LEB128 of at most bits bits (32, 33 or 64).
func (r *reader) signed(bits uint) (int64, error) {
	var v int64
	var shift uint
	maxBytes := int((bits + 6) / 7)
	for i := 0; i < maxBytes; i++ {
		if r.pos >= r.end {
			return 0, r.errorf("unexpected end in integer")
		}
		b := r.buf[r.pos]
		r.pos++
		if i == maxBytes-1 {
			// The bits above the value's sign bit must all equal it.
			if b&0x80 != 0 {
				return 0, r.errorf("integer representation too long")
			}
			used := bits - shift // value bits in this byte, sign included
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if hi := b & mask; hi != 0 && hi != mask {
				return 0, r.errorf("integer too large")
			}
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b < 0x80 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, r.errorf("integer representation too long")
}

func (r *reader) s32() (int32, error) {
	v, err := r.signed(32)
	return int32(v), err
}

func (r *reader) s64() (int64, error) { return r.signed(64) }

func (r *reader) s33() (int64, error) { return r.signed(33) }

func (r *reader) name() (string, error) {
	n, err := r.count(1)
	if err != nil {
		return "", err
	}
	at := r.pos
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		r.pos = at
		return "", r.errorf("name is not valid UTF-8")
	}
	return string(b), nil
}
