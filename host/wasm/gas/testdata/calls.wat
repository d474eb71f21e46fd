;; Calls, recursion, call_indirect and host calls.
(module
  (import "env" "add" (func $host_add (param i32 i32) (result i32)))
  (import "env" "burn" (func $host_burn (param i64)))
  (type $unop (func (param i32) (result i32)))
  (type $binop (func (param i32 i32) (result i32)))
  (table $t 8 funcref)
  (elem (table $t) (i32.const 0) func $double $square $host_add_one $neg)
  (elem (table $t) (i32.const 5) func $host_add)

  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add
        (call $fib (i64.sub (local.get $n) (i64.const 1)))
        (call $fib (i64.sub (local.get $n) (i64.const 2)))))))

  (func $even (export "is_even") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (call $odd (i32.sub (local.get $n) (i32.const 1))))))
  (func $odd (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (call $even (i32.sub (local.get $n) (i32.const 1))))))

  (func $double (type $unop) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $unop) (i32.mul (local.get 0) (local.get 0)))
  (func $neg (type $unop) (i32.sub (i32.const 0) (local.get 0)))
  (func $host_add_one (type $unop) (call $host_add (local.get 0) (i32.const 1)))

  ;; call_indirect: traps for an empty slot, an out-of-bounds index or a signature mismatch (slot 5)
  (func (export "apply") (param $f i32) (param $x i32) (result i32)
    (call_indirect (type $unop) (local.get $x) (local.get $f)))

  ;; the imported function through the table (a thunk in the instrumented module)
  (func (export "apply2") (param $a i32) (param $b i32) (result i32)
    (call_indirect (type $binop) (local.get $a) (local.get $b) (i32.const 5)))

  ;; a host function that charges gas itself
  (func (export "burn") (param $n i64) (result i64)
    (call $host_burn (local.get $n))
    (i64.add (local.get $n) (i64.const 1)))

  ;; unbounded recursion with a few locals
  (func $recurse (export "recurse") (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $c f64)
    (local.set $a (i64.mul (local.get $n) (i64.const 3)))
    (local.set $b (i64.add (local.get $a) (i64.const 1)))
    (local.set $c (f64.convert_i64_s (local.get $b)))
    (i64.add (call $recurse (i64.add (local.get $n) (i64.const 1)))
      (i64.trunc_f64_s (local.get $c))))

  ;; bounded recursion: depth n
  (func $down (export "down") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $down (i32.sub (local.get $n) (i32.const 1)))))))

  ;; an infinite loop
  (func (export "spin") (param $x i32) (result i32)
    (loop $l
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (br $l))
    (local.get $x))

  ;; an exported function also called internally
  (func $sq (export "sq") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "sum_sq") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (call $sq (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s))
)
