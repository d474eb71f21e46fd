;; wat2wasm-flags: --enable-multi-memory
;; Unsupported: multi-memory.
(module
  (memory $a 1)
  (memory $b 1)
  (func (export "copy") (param i32) (result i32) (i32.load $b (local.get 0)))
)
