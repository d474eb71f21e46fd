;; Imported functions used as values: through a table, ref.func in code
;; (declared only by an export), a global's initialiser, and a re-export;
;; and a host function that calls back into the module (env.reenter(k) calls
;; the export "sum"(k)).
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "burn" (func $burn (param i64)))
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (type $bin (func (param i32 i32) (result i32)))
  (type $sink (func (param i64)))
  (table $t 2 funcref)
  (global $g funcref (ref.func $burn))
  (export "add" (func $add))
  (func (export "via_ref") (param $a i32) (param $b i32) (result i32)
    (table.set $t (i32.const 0) (ref.func $add))
    (call_indirect $t (type $bin) (local.get $a) (local.get $b) (i32.const 0)))
  (func (export "burn_via_global") (param $n i64) (result i64)
    (table.set $t (i32.const 1) (global.get $g))
    (call_indirect $t (type $sink) (local.get $n) (i32.const 1))
    (local.get $n))

  ;; recurses n deep, then has the host call sum(inner)
  (func $nest (export "nest") (param $n i32) (param $inner i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $reenter (local.get $inner)))
      (else (i32.add (i32.const 1)
        (call $nest (i32.sub (local.get $n) (i32.const 1)) (local.get $inner))))))
  ;; recursive sum of 1..n
  (func $sum (export "sum") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (local.get $n) (call $sum (i32.sub (local.get $n) (i32.const 1)))))))
)
