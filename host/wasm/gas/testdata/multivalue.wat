;; Multi-value: functions returning several values, block types as type
;; indices with parameters and several results.
(module
  (type $pair (func (result i32 i64)))
  (func $divmod (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_u (local.get $a) (local.get $b))
    (i32.rem_u (local.get $a) (local.get $b)))

  (func $swap (param i32 i64) (result i64 i32)
    (local.get 1) (local.get 0))

  (func $triple (export "triple") (param $x i32) (result i32 i32 i32)
    (if (i32.eqz (local.get $x)) (then (return (i32.const 0) (i32.const 0) (i32.const 0))))
    (local.get $x)
    (i32.add (local.get $x) (i32.const 1))
    (i32.add (local.get $x) (i32.const 2)))

  (func (export "use_divmod") (param $a i32) (param $b i32) (result i32)
    (call $divmod (local.get $a) (local.get $b))
    (i32.mul (i32.const 1000))
    (i32.add))

  (func (export "use_swap") (param $x i32) (result i64)
    (call $swap (local.get $x) (i64.const 7))
    (i64.extend_i32_u)
    (i64.add))

  (func (export "sum_triple") (param $x i32) (result i32)
    (call $triple (local.get $x))
    (i32.add)
    (i32.add))

  ;; a block producing two values, and a loop threading two values through iterations
  (func (export "fib_pair") (param $n i32) (result i64)
    (local $a i64) (local $b i64)
    (block (type $pair) (result i32 i64)
      (i32.const 1) (i64.const 2))
    (local.set $a)
    (drop)
    (i64.const 0) (i64.const 1)
    (loop $l (param i64 i64) (result i64 i64)
      (local.set $b)
      (local.set $a)
      (local.get $b)
      (i64.add (local.get $a) (local.get $b))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
    (drop))

  ;; an if with parameters and two results, then a return of both
  (func (export "if_multi") (param $x i32) (result i32 i32)
    (local.get $x)
    (local.get $x)
    (if (param i32) (result i32 i32) (i32.lt_s (local.get $x) (i32.const 10))
      (then (i32.const 1))
      (else (i32.const 2)))
    (return))
)
