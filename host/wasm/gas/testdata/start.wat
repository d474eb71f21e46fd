;; A start function: metered at instantiation like an export.
(module
  (global $g (mut i32) (i32.const 0))
  (func $init
    (local $i i32)
    (loop $l
      (global.set $g (i32.add (global.get $g) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))
  (start $init)
  (func (export "get") (param $x i32) (result i32) (i32.add (global.get $g) (local.get $x)))
)
