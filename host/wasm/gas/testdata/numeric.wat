;; Numeric instructions: sign extension, saturating and trapping float-to-int
;; conversions, integer and float arithmetic.
(module
  (func (export "sign_ext") (param $x i32) (result i64)
    (i64.add
      (i64.extend_i32_s (i32.add (i32.extend8_s (local.get $x)) (i32.extend16_s (local.get $x))))
      (i64.add (i64.extend8_s (i64.extend_i32_u (local.get $x)))
        (i64.add (i64.extend16_s (i64.extend_i32_u (local.get $x)))
          (i64.extend32_s (i64.shl (i64.extend_i32_u (local.get $x)) (i64.const 3)))))))

  (func (export "sat") (param $x f64) (result i64)
    (i64.add
      (i64.extend_i32_s (i32.trunc_sat_f64_s (local.get $x)))
      (i64.add (i64.extend_i32_u (i32.trunc_sat_f64_u (local.get $x)))
        (i64.add (i64.trunc_sat_f64_s (local.get $x))
          (i64.add (i64.trunc_sat_f64_u (local.get $x))
            (i64.add (i64.extend_i32_s (i32.trunc_sat_f32_s (f32.demote_f64 (local.get $x))))
              (i64.add (i64.extend_i32_u (i32.trunc_sat_f32_u (f32.demote_f64 (local.get $x))))
                (i64.add (i64.trunc_sat_f32_s (f32.demote_f64 (local.get $x)))
                  (i64.trunc_sat_f32_u (f32.demote_f64 (local.get $x)))))))))))

  ;; trapping conversion: traps for NaN and out-of-range inputs
  (func (export "trunc") (param $x f64) (result i32)
    (i32.trunc_f64_s (local.get $x)))

  (func (export "arith") (param $a i64) (param $b i64) (result i64)
    (i64.xor
      (i64.add (i64.mul (local.get $a) (local.get $b)) (i64.rem_s (local.get $a) (i64.or (local.get $b) (i64.const 1))))
      (i64.add (i64.rotl (local.get $a) (i64.const 13))
        (i64.add (i64.popcnt (local.get $b))
          (i64.add (i64.clz (local.get $a)) (i64.ctz (local.get $b)))))))

  (func (export "floats") (param $a f64) (param $b f64) (result f64)
    (f64.add
      (f64.sqrt (f64.abs (f64.mul (local.get $a) (local.get $b))))
      (f64.add (f64.div (local.get $a) (f64.add (local.get $b) (f64.const 0.5)))
        (f64.add (f64.min (local.get $a) (local.get $b))
          (f64.add (f64.nearest (local.get $a))
            (f64.promote_f32 (f32.mul (f32.const 1.5) (f32.demote_f64 (local.get $b)))))))))

  (func (export "reinterpret") (param $x f64) (result i64)
    (i64.add (i64.reinterpret_f64 (local.get $x))
      (i64.extend_i32_u (i32.reinterpret_f32 (f32.demote_f64 (local.get $x))))))
)
