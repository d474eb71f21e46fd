;; fresh: a hand-written swarm_v1 agent (see host/wasm/testdata/README.md)
;; that traps unless its memory from 16 KiB up to 8 pages reads as zeros,
;; then fills that memory with 0xff: an instance that inherits an earlier
;; instance's memory fails.
(module
  (memory (export "memory") 2 8)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 16) "{\"name\":\"fresh\",\"version\":\"1.0.0\",\"abi\":1,\"roles\":[\"worker\"],\"capabilities\":[\"echo\"],\"verbs\":[\"NEED\"]}")
  (data (i32.const 1024) "{\"actions\":[],\"plan_ops\":[]}")

  (func (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "swarm_describe") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 102)))
  (func (export "swarm_handle") (param $p i32) (param $n i32) (result i64)
    (local $a i32)
    (if (i32.lt_u (memory.size) (i32.const 8))
      (then (drop (memory.grow (i32.sub (i32.const 8) (memory.size))))))
    ;; every byte from 16 KiB to the end is zero
    (local.set $a (i32.const 16384))
    (loop $scan
      (if (i64.ne (i64.load (local.get $a)) (i64.const 0)) (then unreachable))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br_if $scan (i32.lt_u (local.get $a) (i32.const 524288))))
    ;; leave it dirty for whoever gets this memory next
    (local.set $a (i32.const 16384))
    (loop $fill
      (i64.store (local.get $a) (i64.const -1))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br_if $fill (i32.lt_u (local.get $a) (i32.const 524288))))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 28)))
)
