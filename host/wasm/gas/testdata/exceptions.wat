;; wat2wasm-flags: --enable-exceptions
;; Unsupported: exception handling.
(module
  (tag $e (param i32))
  (func (export "throw") (param i32) (throw $e (local.get 0)))
)
