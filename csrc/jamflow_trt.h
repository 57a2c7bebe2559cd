/*
 * jamflow_trt.h: the C ABI of jamflow's native TensorRT shim (the only interface between Rust and C++).
 *
 * Implemented by jamflow_trt.cpp (TensorRT 10.x: NvInfer.h / NvOnnxParser.h, libraries opened with
 * dlopen) and by jamflow_trt_mock.c (host-memory mock for CI). All functions return JFT_OK (0) or an
 * error code and, when `err` is non-NULL, write a NUL-terminated message of at most `err_len` bytes.
 * Strings are UTF-8. Device pointers and the stream are CUDA handles owned by the caller.
 */
#ifndef JAMFLOW_TRT_H
#define JAMFLOW_TRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JFT_ABI_VERSION 1

enum jft_status {
    JFT_OK = 0,
    JFT_ERR_LIBRARY = 1, /* libnvinfer / libnvonnxparser missing or unusable */
    JFT_ERR_PARSE = 2,   /* the ONNX could not be parsed */
    JFT_ERR_BUILD = 3,   /* the builder failed */
    JFT_ERR_IO = 4,      /* reading or writing a file */
    JFT_ERR_ARG = 5,     /* a bad argument (unknown tensor, wrong rank, shape outside the profile) */
    JFT_ERR_RUNTIME = 6  /* deserialization or enqueue failed */
};

/* Builder flags. */
#define JFT_FLAG_FP16 1u           /* weakly typed: TensorRT may run float layers in FP16 */
#define JFT_FLAG_INT8 2u           /* the ONNX carries explicit Q/DQ: no calibrator */
#define JFT_FLAG_STRONGLY_TYPED 4u /* the ONNX's own types decide every layer's precision (no FP16/INT8 flags) */

/* Element types (the subset jamflow graphs use). */
enum jft_dtype { JFT_F32 = 0, JFT_F16 = 1, JFT_I8 = 2, JFT_I32 = 3, JFT_BOOL = 4, JFT_I64 = 5 };

#define JFT_MAX_DIMS 8

/* One input's optimization-profile range. */
typedef struct jft_profile_dim {
    const char *name;
    int32_t nb_dims;
    int64_t min[JFT_MAX_DIMS];
    int64_t opt[JFT_MAX_DIMS];
    int64_t max[JFT_MAX_DIMS];
} jft_profile_dim;

typedef struct jft_engine jft_engine;

/* ABI version of the implementation (JFT_ABI_VERSION). */
int32_t jft_abi_version(void);

/* Open the TensorRT libraries; version as major*10000 + minor*100 + patch in *version. */
int32_t jft_load(int32_t *version, char *err, size_t err_len);

/* Build and serialize an engine from an ONNX file: one optimization profile over `dims`, a timing cache
 * read from and written back to `timing_cache_path` (may be NULL), `workspace_bytes` (0: default). */
int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, char *err,
                  size_t err_len);

/* Deserialize an engine and create its execution context. */
int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len);
void jft_engine_free(jft_engine *e);

/* I/O tensors: count, then name / direction / element type of each. */
int32_t jft_engine_io_count(const jft_engine *e);
int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype);

/* Set an input's shape for the next enqueue; read an output's resolved shape afterwards. */
int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len);
int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims);

/* Bind a device buffer to a tensor; enqueue on `stream` (a cudaStream_t; NULL: the default stream). */
int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr);
int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* JAMFLOW_TRT_H */
