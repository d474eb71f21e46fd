;; CPU-bound workloads for the overhead benchmark: an arithmetic loop,
;; recursion, a byte-copy loop, bulk copies and a sieve.
(module
  (memory (export "memory") 4)

  (func (export "loop_sum") (param $n i32) (result i64)
    (local $i i32) (local $s i64)
    (loop $l
      (local.set $s (i64.add (local.get $s)
        (i64.extend_i32_u (i32.xor (i32.mul (local.get $i) (local.get $i)) (i32.shr_u (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s))

  (func $fib (export "fib") (param $n i32) (result i64)
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else (i64.add
        (call $fib (i32.sub (local.get $n) (i32.const 1)))
        (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; copies 64 KiB byte by byte, n times
  (func (export "copy_loop") (param $n i32) (result i32)
    (local $i i32) (local $k i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $i (i32.const 0))
        (loop $inner
          (i32.store8 offset=65536 (local.get $i)
            (i32.add (i32.load8_u (local.get $i)) (local.get $k)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $i) (i32.const 65536))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $outer)))
    (i32.load8_u offset=65536 (i32.const 1000)))

  ;; memory.copy and memory.fill of 64 KiB, n times
  (func (export "bulk_copy") (param $n i32) (result i32)
    (local $k i32)
    (loop $l
      (memory.fill (i32.const 0) (local.get $k) (i32.const 65536))
      (memory.copy (i32.const 65536) (i32.const 0) (i32.const 65536))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (local.get $n))))
    (i32.load8_u offset=65536 (i32.const 7)))

  ;; sieve of Eratosthenes below n (n <= 65536): counts the primes
  (func (export "sieve") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count))
)
