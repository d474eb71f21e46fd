;; reuse: a hand-written swarm_v1 agent (see host/wasm/testdata/README.md)
;; that traps unless its call counter (a global) and a cell of its memory
;; are still as instantiation left them, then changes both, and allocates
;; from a bump pointer that never goes back: an instance that starts a call
;; with an earlier call's state fails. Its memory never grows.
(module
  (memory (export "memory") 1 1)
  (global $heap (mut i32) (i32.const 8192))
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 16) "{\"name\":\"reuse\",\"version\":\"1.0.0\",\"abi\":1,\"roles\":[\"worker\"],\"capabilities\":[\"echo\"],\"verbs\":[\"NEED\"]}")
  (data (i32.const 1024) "{\"actions\":[],\"plan_ops\":[]}")

  (func (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32)
    (if (i32.ne (global.get $heap) (i32.const 8192)) (then unreachable))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "swarm_describe") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 102)))
  (func (export "swarm_handle") (param $p i32) (param $n i32) (result i64)
    (if (i32.ne (global.get $calls) (i32.const 0)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 4096)) (i32.const 0)) (then unreachable))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 4096) (i32.const 1))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 28)))
)
