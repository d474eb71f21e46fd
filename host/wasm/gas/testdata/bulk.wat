;; Bulk memory: memory.copy/fill/init, data.drop, table.init/copy, elem.drop.
(module
  (memory (export "memory") 1 4)
  (data $hello "hello, bulk memory!")
  (data $zeros "\00\00\00\00")
  (data (i32.const 1024) "active")
  (table 4 funcref)
  (elem $fs func $one $two)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))

  (func $sum (param $p i32) (param $n i32) (result i32)
    (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31)) (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $s))

  ;; fill n bytes at 0, copy them to 4096, return a checksum
  (func (export "fill_copy") (param $n i32) (result i32)
    (memory.fill (i32.const 0) (i32.const 0x5a) (local.get $n))
    (memory.copy (i32.const 4096) (i32.const 0) (local.get $n))
    (call $sum (i32.const 4096) (local.get $n)))

  ;; overlapping copy
  (func (export "overlap") (param $n i32) (result i32)
    (memory.init $hello (i32.const 100) (i32.const 0) (i32.const 19))
    (memory.copy (i32.const 102) (i32.const 100) (local.get $n))
    (call $sum (i32.const 100) (i32.const 30)))

  ;; init from a passive segment, then drop it: a second init traps
  (func (export "init_drop") (param $times i32) (result i32)
    (local $i i32)
    (loop $l
      (memory.init $hello (i32.const 200) (i32.const 0) (i32.const 19))
      (data.drop $hello)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $times))))
    (call $sum (i32.const 200) (i32.const 19)))

  ;; copy out of bounds: traps
  (func (export "copy_oob") (param $n i32) (result i32)
    (memory.copy (i32.const 0) (i32.const 65000) (local.get $n))
    (i32.const 0))

  ;; table.init, table.copy, elem.drop, call_indirect
  (func (export "tables") (param $x i32) (result i32)
    (table.init $fs (i32.const 0) (i32.const 0) (i32.const 2))
    (table.copy (i32.const 2) (i32.const 0) (i32.const 2))
    (elem.drop $fs)
    (call_indirect (result i32) (local.get $x)))

  (func (export "active") (result i32) (call $sum (i32.const 1024) (i32.const 6)))
)
