;; memory.grow: per-page charges, a grow bomb.
(module
  (memory (export "memory") 1 64)
  (func (export "grow") (param $n i32) (result i32)
    (i32.add (i32.mul (memory.grow (local.get $n)) (i32.const 1000)) (memory.size)))

  ;; grows one page at a time forever (memory.grow returns -1 at the limit)
  (func (export "grow_bomb") (param $x i32) (result i32)
    (loop $l
      (drop (memory.grow (i32.const 1)))
      (br $l))
    (i32.const 0))

  ;; asks for a huge number of pages at once: charged before it fails
  (func (export "grow_huge") (param $x i32) (result i32)
    (memory.grow (i32.const 0x7fffffff)))

  ;; touches memory after growing
  (func (export "grow_store") (param $n i32) (result i32)
    (local $old i32)
    (local.set $old (memory.grow (local.get $n)))
    (if (i32.ge_s (local.get $old) (i32.const 0))
      (then (i32.store (i32.mul (local.get $old) (i32.const 65536)) (i32.const 77))))
    (i32.load (i32.mul (local.get $old) (i32.const 65536))))
)
