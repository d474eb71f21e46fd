;; wat2wasm-flags: --enable-memory64
;; Unsupported: memory64.
(module
  (memory i64 1)
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
)
