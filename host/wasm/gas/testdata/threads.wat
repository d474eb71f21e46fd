;; wat2wasm-flags: --enable-threads
;; Unsupported: threads (a shared memory and atomics).
(module
  (memory 1 1 shared)
  (func (export "inc") (param $a i32) (result i32)
    (i32.atomic.rmw.add (i32.const 0) (local.get $a)))
)
