;; v1_missing_start: v1 exports without watm_start_v1, and watm_accept_v1
;; with the wrong type: rejected at load, naming both.
(module
  (memory (export "memory") 1)
  (func (export "watm_init_v1") (result i32) (i32.const 0))
  (func (export "watm_ctrlpipe_v1") (param i32) (result i32) (i32.const 0))
  (func (export "watm_accept_v1") (param i32 i32) (result i32) (i32.const 0))
)
