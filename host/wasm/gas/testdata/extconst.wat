;; wat2wasm-flags: --enable-extended-const
;; Unsupported: extended constant expressions.
(module
  (global $g i32 (i32.add (i32.const 1) (i32.const 2)))
  (func (export "get") (result i32) (global.get $g))
)
