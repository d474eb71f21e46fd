;; Reference types: ref.null, ref.is_null, ref.func, typed select, table.get,
;; table.set, table.size, table.grow, table.fill, multiple tables, externref.
(module
  (type $unop (func (param i32) (result i32)))
  (table $funcs 2 10 funcref)
  (table $externs 4 externref)
  (elem declare func $inc $dec)
  (global $fav (mut funcref) (ref.func $dec))
  (func $inc (type $unop) (i32.add (local.get 0) (i32.const 1)))
  (func $dec (type $unop) (i32.sub (local.get 0) (i32.const 1)))

  ;; store a function in table $funcs, call it through call_indirect
  (func (export "set_call") (param $which i32) (param $x i32) (result i32)
    (table.set $funcs (i32.const 1)
      (select (result funcref) (ref.func $inc) (global.get $fav) (local.get $which)))
    (call_indirect $funcs (type $unop) (local.get $x) (i32.const 1)))

  (func (export "is_null") (param $i i32) (result i32)
    (ref.is_null (table.get $funcs (local.get $i))))

  ;; grow, fill and size of a table
  (func (export "grow_fill") (param $n i32) (result i32)
    (local $old i32)
    (local.set $old (table.grow $funcs (ref.null func) (local.get $n)))
    (if (i32.ge_s (local.get $old) (i32.const 0))
      (then (table.fill $funcs (local.get $old) (ref.func $inc) (local.get $n))))
    (i32.add (i32.mul (local.get $old) (i32.const 100)) (table.size $funcs)))

  ;; externref round trip through a table
  (func (export "externs") (param $i i32) (result i32)
    (table.set $externs (local.get $i) (ref.null extern))
    (table.fill $externs (i32.const 0) (ref.null extern) (table.size $externs))
    (ref.is_null (table.get $externs (local.get $i))))

  (func (export "fav") (param $x i32) (result i32)
    (global.set $fav (ref.func $inc))
    (call_indirect $funcs (type $unop) (local.get $x)
      (block (result i32)
        (table.set $funcs (i32.const 0) (global.get $fav))
        (i32.const 0))))
)
