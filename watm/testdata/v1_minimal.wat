;; v1_minimal: the smallest v1 module: memory plus the required trio
;; watm_init_v1: () -> i32, watm_start_v1: () -> i32 (returns 0 at once) and
;; watm_ctrlpipe_v1: (i32) -> i32. No imports, no v0 exports.
;; Expected: detected as v1 (not v0). A host that supports only v0 rejects it
;; at load with an error saying it is a v1 module / v1 is not supported.
(module
  (memory (export "memory") 1)
  (func (export "watm_init_v1") (result i32) (i32.const 0))
  (func (export "watm_ctrlpipe_v1") (param i32) (result i32) (i32.const 0))
  (func (export "watm_start_v1") (result i32) (i32.const 0))
)
