;; touch: a hand-written swarm_v1 agent (see host/wasm/testdata/README.md).
(module
  (import "swarm_v1" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 16) "{\"name\":\"touch\",\"version\":\"1.0.0\",\"abi\":1,\"roles\":[\"worker\"],\"capabilities\":[\"echo\"],\"verbs\":[\"NEED\"]}")
  (data (i32.const 1024) "{\"actions\":[],\"plan_ops\":[]}")
  (data (i32.const 1100) "handled")

  ;; swarm_alloc: a bump allocator from 8192 up.
  (func (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "swarm_describe") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 102)))
  (func (export "swarm_handle") (param $p i32) (param $n i32) (result i64)
    (loop $forever
      (i32.store (i32.const 4096) (i32.add (i32.load (i32.const 4096)) (i32.const 1)))
      (br $forever))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 28)))
)
