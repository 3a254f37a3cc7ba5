"""ctypes binding of src/main/cpp/fitprune.h for the GPU check (no torch needed to import).

The shared object is linked on the machine that runs the check from the static archives of
src/main/native/build.sh (see check.sh). Pointers are passed as plain integers (torch's
data_ptr(), numpy's ctypes.data), so host and device memory go through the same calls.
"""
import ctypes
import math
from ctypes import c_char_p, c_float, c_int, c_int32, c_int64, c_void_p, POINTER

FP_OK, FP_ERR_ARG, FP_ERR_INDEX, FP_ERR_NOMEM, FP_ERR_CUDA, FP_ERR_UNAVAILABLE, FP_ERR_VALUE = range(7)


def status_word(code, where):
    """The value a status word holds for one error (see fitprune.h)."""
    return (code << 24) | min(where, 0xFFFFFF)
DTYPES = {"fp32": 0, "fp16": 1, "bf16": 2}


class FitPruneError(RuntimeError):
    def __init__(self, status, message):
        super().__init__(f"status {status}: {message}")
        self.status = status


class Lib:
    def __init__(self, path):
        L = ctypes.CDLL(path)
        self.L = L
        sig = {
            "fp_version": (c_char_p, []),
            "fp_last_error": (c_char_p, []),
            "fp_cpu_threads": (c_int, []),
            "fp_cpu_attention_f32": (c_int, [c_void_p] * 3 + [c_int64, c_int32, c_int32, c_int32, c_void_p, c_void_p]),
            "fp_cpu_scores_f32": (c_int, [c_void_p] * 3 + [c_int64, c_int32, c_int32, c_int32, c_int64, c_int64,
                                                          c_void_p, c_void_p]),
            "fp_select_keep": (c_int, [c_void_p, c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p]),
            "fp_cuda_compiled": (c_int, []),
            "fp_cuda_device_count": (c_int, []),
            "fp_cuda_describe": (c_char_p, []),
            "fp_cuda_synchronize": (c_int, []),
            "fp_cuda_set_option": (c_int, [c_char_p, c_int32]),
            "fp_cuda_attention": (c_int, [c_void_p] * 3 + [c_int64, c_int32, c_int32, c_int32, c_int32, c_float,
                                                          c_void_p, c_void_p, c_void_p]),
            "fp_cuda_scores": (c_int, [c_void_p] * 3 + [c_int64, c_int32, c_int32, c_int32, c_int32, c_float, c_int64,
                                                       c_int64, c_void_p, c_void_p, c_void_p]),
            "fp_cuda_select_keep": (c_int, [c_void_p, c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p,
                                            c_void_p]),
            "fp_cuda_select_keep_async": (c_int, [c_void_p, c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p,
                                                  c_void_p, c_void_p]),
            "fp_cuda_gather_rows": (c_int, [c_void_p, c_int64, c_int64, c_void_p, c_int64, c_void_p, c_void_p,
                                            c_void_p]),
            "fp_cuda_status_check": (c_int, [c_void_p, c_void_p]),
            # packed batches and decode: cu_seqlens, spans, cu_q, kv_len and the cache-pointer arrays are host arrays
            "fp_cuda_attention_varlen": (c_int, [c_void_p] * 3 + [POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                                                 c_int32, c_float, c_void_p, c_void_p, c_void_p]),
            "fp_cuda_scores_varlen": (c_int, [c_void_p] * 3 + [POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                                              c_int32, c_float, POINTER(c_int64), c_void_p, c_void_p,
                                                              c_void_p]),
            "fp_cuda_decode_attention": (c_int, [c_void_p, POINTER(c_int64), c_int64, c_int32, c_int32, c_int32, c_int32,
                                                 c_float, POINTER(c_void_p), POINTER(c_void_p), POINTER(c_int64),
                                                 c_void_p, c_void_p, c_void_p]),
            # paged: pools [blocks, block_size, G, d] on the device; block_table [B, max_blocks] int32 on the host
            "fp_cuda_paged_decode_attention": (c_int, [c_void_p, POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                                       c_int32, c_float, c_void_p, c_void_p, c_int64, c_int32,
                                                       POINTER(c_int32), c_int64, POINTER(c_int64), c_void_p, c_void_p,
                                                       c_void_p]),
            "fp_cuda_kv_append_paged": (c_int, [c_void_p, c_void_p, c_int64, c_int32, c_int32, c_int32, c_void_p,
                                                c_void_p, c_int64, c_int32, POINTER(c_int64), c_void_p]),
            "fp_cuda_kv_append": (c_int, [c_void_p, c_void_p, POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                          POINTER(c_void_p), POINTER(c_void_p), POINTER(c_int64), POINTER(c_int64),
                                          c_void_p]),
            # prefill over a cached prefix: cu_seqlens_q and cu_seqlens_k host arrays; out_dtype = dtype
            "fp_cuda_attention_varlen_kv": (c_int, [c_void_p] * 3 + [POINTER(c_int64), POINTER(c_int64), c_int64,
                                                                    c_int32, c_int32, c_int32, c_int32, c_float,
                                                                    c_void_p, c_int32, c_void_p, c_void_p]),
            "fp_cpu_attention_varlen": (c_int, [c_void_p] * 3 + [POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                                                c_int32, c_float, c_void_p, c_int32, c_void_p]),
            "fp_cpu_decode_attention_f32": (c_int, [c_void_p, POINTER(c_int64), c_int64, c_int32, c_int32, c_int32,
                                                    POINTER(c_void_p), POINTER(c_void_p), POINTER(c_int64), c_void_p,
                                                    c_void_p]),
        }
        for name, (res, args) in sig.items():
            f = getattr(L, name)
            f.restype = res
            f.argtypes = args

    def _check(self, status):
        if status != FP_OK:
            raise FitPruneError(status, self.L.fp_last_error().decode())

    def version(self):
        return self.L.fp_version().decode()

    def cuda_describe(self):
        return self.L.fp_cuda_describe().decode()

    def cuda_devices(self):
        return self.L.fp_cuda_device_count()

    # ---- CPU backend (host pointers) ----
    def cpu_attention(self, q, k, v, n, H, G, d, out, lse):
        self._check(self.L.fp_cpu_attention_f32(q, k, v, n, H, G, d, out, lse))

    def cpu_scores(self, q, k, lse, n, H, G, d, P, V, self_s, cross_s):
        self._check(self.L.fp_cpu_scores_f32(q, k, lse, n, H, G, d, P, V, self_s, cross_s))

    def cpu_select(self, self_s, cross_s, n, P, V, drop, keep):
        self._check(self.L.fp_select_keep(self_s, cross_s, n, P, V, drop, keep))

    # ---- CUDA backend (device pointers; stream None = legacy default stream) ----
    # scale: the softmax scale (None: default_scale(d)); the scores take the attention's.
    def cuda_attention(self, q, k, v, n, H, G, d, dtype, out, lse, stream=None, scale=None):
        self._check(self.L.fp_cuda_attention(q, k, v, n, H, G, d, DTYPES[dtype], _scale(scale, d), out, lse, stream))

    def cuda_scores(self, q, k, lse, n, H, G, d, dtype, P, V, self_s, cross_s, stream=None, scale=None):
        self._check(self.L.fp_cuda_scores(q, k, lse, n, H, G, d, DTYPES[dtype], _scale(scale, d), P, V, self_s,
                                          cross_s, stream))

    def cuda_select(self, self_s, cross_s, n, P, V, drop, keep, stream=None):
        self._check(self.L.fp_cuda_select_keep(self_s, cross_s, n, P, V, drop, keep, stream))

    def cuda_select_async(self, self_s, cross_s, n, P, V, drop, keep, status, stream=None):
        self._check(self.L.fp_cuda_select_keep_async(self_s, cross_s, n, P, V, drop, keep, status, stream))

    def cuda_gather(self, src, rows, row_bytes, index, count, dst, status=None, stream=None):
        """Enqueues the gather; a bad index is recorded in the status word (device int32)."""
        self._check(self.L.fp_cuda_gather_rows(src, rows, row_bytes, index, count, dst, status, stream))

    def cuda_status_check(self, status, stream=None):
        """Waits for the stream, raises FitPruneError for a recorded error, clears the word."""
        self._check(self.L.fp_cuda_status_check(status, stream))

    def cuda_attention_varlen(self, q, k, v, cu, H, G, d, dtype, out, lse, stream=None, scale=None):
        self._check(self.L.fp_cuda_attention_varlen(q, k, v, _i64(cu), len(cu) - 1, H, G, d, DTYPES[dtype],
                                                    _scale(scale, d), out, lse, stream))

    def cuda_scores_varlen(self, q, k, lse, cu, H, G, d, dtype, spans, self_s, cross_s, stream=None, scale=None):
        flat = [x for span in spans for x in span]
        self._check(self.L.fp_cuda_scores_varlen(q, k, lse, _i64(cu), len(cu) - 1, H, G, d, DTYPES[dtype],
                                                 _scale(scale, d), _i64(flat), self_s, cross_s, stream))

    def cuda_decode(self, q, cu_q, H, G, d, dtype, k_caches, v_caches, kv_len, out, lse, stream=None, scale=None):
        B = len(cu_q) - 1
        self._check(self.L.fp_cuda_decode_attention(q, _i64(cu_q), B, H, G, d, DTYPES[dtype], _scale(scale, d),
                                                    _ptrs(k_caches),
                                                    _ptrs(v_caches), _i64(kv_len), out, lse, stream))

    def cuda_paged_decode(self, q, cu_q, H, G, d, dtype, scale, k_pool, v_pool, num_blocks, block_size, table,
                          max_blocks, kv_len, out, lse, stream=None):
        B = len(cu_q) - 1
        self._check(self.L.fp_cuda_paged_decode_attention(q, _i64(cu_q), B, H, G, d, DTYPES[dtype], scale, k_pool,
                                                          v_pool, num_blocks, block_size, (c_int32 * len(table))(*table),
                                                          max_blocks, _i64(kv_len), out, lse, stream))

    def cuda_kv_append_paged(self, k, v, n, G, d, dtype, k_pool, v_pool, num_blocks, block_size, slots, stream=None):
        self._check(self.L.fp_cuda_kv_append_paged(k, v, n, G, d, DTYPES[dtype], k_pool, v_pool, num_blocks, block_size,
                                                   _i64(slots), stream))

    def cuda_kv_append(self, k, v, cu_q, G, d, dtype, k_caches, v_caches, capacity, kv_len, stream=None):
        self._check(self.L.fp_cuda_kv_append(k, v, _i64(cu_q), len(cu_q) - 1, G, d, DTYPES[dtype], _ptrs(k_caches),
                                             _ptrs(v_caches), _i64(capacity), _i64(kv_len), stream))

    def cuda_attention_varlen_kv(self, q, k, v, cu_q, cu_k, H, G, d, dtype, scale, out, lse, stream=None):
        self._check(self.L.fp_cuda_attention_varlen_kv(q, k, v, _i64(cu_q), _i64(cu_k), len(cu_q) - 1, H, G, d,
                                                       DTYPES[dtype], scale, out, DTYPES[dtype], lse, stream))

    def cuda_set_option(self, name, value):
        self._check(self.L.fp_cuda_set_option(name.encode(), value))

    def cuda_synchronize(self):
        self._check(self.L.fp_cuda_synchronize())


def default_scale(d):
    """1/sqrt(d) as the library's default, 1.f / sqrtf(d): the float the kernels recognise bit for bit."""
    return c_float(1.0 / c_float(math.sqrt(d)).value).value


def _scale(scale, d):
    return default_scale(d) if scale is None else scale


def _i64(values):
    return (c_int64 * max(1, len(values)))(*values)


def _ptrs(values):
    return (c_void_p * max(1, len(values)))(*values)


def _selftest(path):
    """CPU-only self-test (numpy): runs here, without torch or a GPU."""
    import numpy as np
    lib = Lib(path)
    rng = np.random.default_rng(1)
    n, H, G, d, P, V = 90, 4, 2, 64, 5, 60
    q = rng.standard_normal((n, H, d), dtype=np.float32)
    k = rng.standard_normal((n, G, d), dtype=np.float32)
    v = rng.standard_normal((n, G, d), dtype=np.float32)
    out = np.empty((n, H, d), np.float32)
    lse = np.empty((H, n), np.float32)
    lib.cpu_attention(q.ctypes.data, k.ctypes.data, v.ctypes.data, n, H, G, d, out.ctypes.data, lse.ctypes.data)
    s = np.empty(V, np.float32)
    c = np.empty(V, np.float32)
    lib.cpu_scores(q.ctypes.data, k.ctypes.data, lse.ctypes.data, n, H, G, d, P, V, s.ctypes.data, c.ctypes.data)
    keep = np.empty(n - 20, np.int32)
    lib.cpu_select(s.ctypes.data, c.ctypes.data, n, P, V, 20, keep.ctypes.data)
    assert np.all(np.diff(keep) > 0) and keep[0] == 0 and keep[-1] == n - 1
    assert np.all(np.isfinite(s)) and np.all(s > 0) and np.all(np.isfinite(c)), (s, c)
    print("fplib selftest ok:", lib.version(), "|", lib.cuda_describe())
    try:
        lib.cuda_attention(None, None, None, 1, 1, 1, 64, "fp16", None, None)
    except FitPruneError as e:
        print("cuda_attention without inputs fails cleanly:", e)


if __name__ == "__main__":
    import sys
    _selftest(sys.argv[1])
