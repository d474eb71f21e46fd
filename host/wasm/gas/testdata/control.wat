;; Every control construct and block type: block/loop/if/else with empty,
;; single-value and type-index (multi-value) block types, br, br_if, br_table,
;; return, nested loops, unreachable.
(module
  (type $i_ii (func (param i32) (result i32 i32)))
  (type $ii_i (func (param i32 i32) (result i32)))
  (type $i_i (func (param i32) (result i32)))

  ;; if/else with an empty, a single-value and a type-index block type
  (func (export "if_else") (param $x i32) (result i32)
    (local $acc i32)
    (if (i32.gt_s (local.get $x) (i32.const 10))
      (then (local.set $acc (i32.const 100)))
      (else (local.set $acc (i32.const 200))))
    (local.set $acc
      (i32.add (local.get $acc)
        (if (result i32) (i32.and (local.get $x) (i32.const 1))
          (then (i32.const 1))
          (else (i32.const 2)))))
    (local.get $acc)
    (local.get $x)
    (i32.lt_u (local.get $x) (i32.const 5))
    (if (type $i_ii) (param i32) (result i32 i32)
      (then (i32.const 3))
      (else (i32.const 4)))
    (i32.mul)
    (i32.add)
    ;; one-armed if
    (if (i32.eqz (local.get $x)) (then (local.set $acc (i32.const -1))))
    (local.get $acc)
    (i32.add))

  ;; nested loops: sum of i*j for i, j < n
  (func (export "nested_loops") (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $s i64)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (loop $inner
          (if (i32.lt_s (local.get $j) (local.get $n))
            (then
              (local.set $s (i64.add (local.get $s)
                (i64.extend_i32_s (i32.mul (local.get $i) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $inner))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $s))

  ;; br_table: a switch with a default
  (func (export "switch") (param $x i32) (result i32)
    (block $default
      (block $c3
        (block $c2
          (block $c1
            (block $c0
              (br_table $c0 $c1 $c2 $c3 $default (local.get $x)))
            (return (i32.const 10)))
          (return (i32.const 11)))
        (return (i32.const 12)))
      (return (i32.const 13)))
    (i32.const 99))

  ;; br_table carrying a value out of a block
  (func (export "switch_value") (param $x i32) (result i32)
    (block $a (result i32)
      (block $b (result i32)
        (br_table $a $b $a (i32.const 7) (local.get $x)))
      (i32.const 100)
      (i32.add)))

  ;; early return from deep inside loops and blocks
  (func (export "find_first_multiple") (param $k i32) (result i32)
    (local $i i32)
    (if (i32.eqz (local.get $k)) (then (return (i32.const -1))))
    (loop $l
      (block $skip
        (br_if $skip (i32.rem_u (local.get $i) (local.get $k)))
        (if (i32.gt_u (local.get $i) (i32.const 0))
          (then (return (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.const -2))

  ;; a branch out of a loop to an enclosing block, past code that must not be charged
  (func (export "break_out") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $exit
      (block $mid
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $exit (i32.gt_u (local.get $i) (local.get $n)))
          (br_if $mid (i32.eq (local.get $i) (i32.const 7)))
          (local.set $acc (i32.add (local.get $acc) (local.get $i)))
          (br $l)))
      (local.set $acc (i32.mul (local.get $acc) (i32.const 3))))
    (local.get $acc))

  ;; blocks and loops with type-index block types taking parameters
  (func (export "block_params") (param $x i32) (result i32)
    (local.get $x)
    (i32.const 5)
    (block (type $ii_i) (param i32 i32) (result i32)
      (i32.add))
    (loop (type $i_i) (param i32) (result i32)
      (i32.const 1)
      (i32.add)
      (local.tee $x)
      (local.get $x)
      (i32.const 20)
      (i32.lt_s)
      (br_if 0)))

  ;; unreachable after some work
  (func (export "trap_if_big") (param $x i32) (result i32)
    (if (i32.gt_s (local.get $x) (i32.const 3)) (then unreachable))
    (i32.mul (local.get $x) (i32.const 2)))

  ;; integer division: traps on zero
  (func (export "div") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))

  ;; nop, drop, select and an empty block
  (func (export "misc") (param $x i32) (result i32)
    nop
    (block)
    (loop)
    (drop (i32.const 5))
    (select (i32.const 1) (i32.const 2) (local.get $x)))

  ;; a loop and a block with a single-value block type
  (func (export "loop_value") (param $n i32) (result i32)
    (local $i i32)
    (block (result i32)
      (loop $l (result i32)
        (local.set $i (i32.add (local.get $i) (i32.const 3)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
        (local.get $i))))

  ;; a block whose value is branched to from an if arm
  (func (export "if_br") (param $x i32) (result i32)
    (block $out (result i32)
      (if (local.get $x)
        (then (br $out (i32.const 42))))
      (i32.const 24)))
)
