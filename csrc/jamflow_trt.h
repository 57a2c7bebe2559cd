/*
 * jamflow_trt.h: the C ABI of jamflow's native TensorRT shim (the only interface between Rust and C++).
 *
 * Implemented by jamflow_trt.cpp (TensorRT 10.x: NvInfer.h / NvOnnxParser.h, libraries opened with
 * dlopen) and by jamflow_trt_mock.cpp (host-memory mock for CI); both share jamflow_trt_util.hpp (error
 * buffers, the exception guard, the version rule, ranks, atomic writes). All functions return JFT_OK (0) or
 * an error code and, when `err` is non-NULL, write a NUL-terminated message of at most `err_len` bytes
 * (the empty string on success). No C++ exception crosses this boundary. Strings are UTF-8. Device
 * pointers and the stream are CUDA handles owned by the caller. A NULL engine or path is JFT_ERR_ARG.
 */
#ifndef JAMFLOW_TRT_H
#define JAMFLOW_TRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: builds are always strongly typed (TensorRT 10.12+ deprecates the FP16/INT8 precision flags), TF32 off
 * unless asked for, jft_build reports what it built (jft_build_info), set_address reports failure. */
#define JFT_ABI_VERSION 2

enum jft_status {
    JFT_OK = 0,
    JFT_ERR_LIBRARY = 1, /* libnvinfer / libnvonnxparser missing or without the expected entry points */
    JFT_ERR_PARSE = 2,   /* the ONNX could not be parsed */
    JFT_ERR_BUILD = 3,   /* the builder failed, or one of its factories returned NULL */
    JFT_ERR_IO = 4,      /* reading or writing a file */
    JFT_ERR_ARG = 5,     /* a bad argument (unknown tensor, rank > JFT_MAX_DIMS, shape outside the profile) */
    JFT_ERR_RUNTIME = 6, /* deserialization, context creation or enqueue failed */
    JFT_ERR_VERSION = 7, /* the TensorRT found is not one this shim supports (not 10.x, or older than its headers) */
    JFT_ERR_INTERNAL = 8 /* a C++ exception (e.g. out of host memory) caught inside the shim */
};

/* Builder flags. Every network is strongly typed: the ONNX's own types (FP32, FP16 islands, Q/DQ) decide each
 * layer's precision. Bits 0 and 1 (ABI 1's weakly typed FP16 / INT8) are refused with JFT_ERR_ARG. */
#define JFT_FLAG_TF32 8u /* allow TF32 for FP32 tensors (TensorRT's default; jamflow keeps it off) */

/* Element types (the subset jamflow graphs use). */
enum jft_dtype { JFT_F32 = 0, JFT_F16 = 1, JFT_I8 = 2, JFT_I32 = 3, JFT_BOOL = 4, JFT_I64 = 5 };

/* = nvinfer1::Dims::MAX_DIMS (checked at compile time by the shim). */
#define JFT_MAX_DIMS 8

/* One input's optimization-profile range. */
typedef struct jft_profile_dim {
    const char *name;
    int32_t nb_dims;
    int64_t min[JFT_MAX_DIMS];
    int64_t opt[JFT_MAX_DIMS];
    int64_t max[JFT_MAX_DIMS];
} jft_profile_dim;

/* What jft_build made. */
typedef struct jft_build_info {
    int64_t plan_bytes;             /* size of the serialized engine */
    int64_t weight_bytes;           /* weights held by the engine (EngineStat::kTOTAL_WEIGHTS_SIZE), -1 unknown */
    int32_t timing_cache_discarded; /* 1: the timing cache file was unreadable by this TensorRT and was replaced */
    int32_t timing_cache_written;   /* 1: the timing cache was written back */
} jft_build_info;

typedef struct jft_engine jft_engine;

/* ABI version of the implementation (JFT_ABI_VERSION). */
int32_t jft_abi_version(void);

/* Open libnvinfer (TensorRT 10 only: JFT_ERR_VERSION otherwise); version as major*10000 + minor*100 + patch. */
int32_t jft_load(int32_t *version, char *err, size_t err_len);

/* Build and serialize an engine from an ONNX file (also opens libnvonnxparser): one optimization profile over
 * `dims`, a timing cache read from and written back to `timing_cache_path` (may be NULL), `workspace_bytes`
 * (0: default). The engine file is replaced atomically (written beside it, then renamed). `info` may be NULL. */
int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, jft_build_info *info,
                  char *err, size_t err_len);

/* Deserialize an engine and create its execution context (libnvinfer only). */
int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len);
void jft_engine_free(jft_engine *e);

/* I/O tensors: count (-1 for a NULL engine), then name / direction / element type of each. */
int32_t jft_engine_io_count(const jft_engine *e);
int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype);

/* Set an input's shape for the next enqueue; read a tensor's resolved shape afterwards (`dims` holds
 * JFT_MAX_DIMS values). */
int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len);
int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims);

/* Bind a device buffer to a tensor (JFT_ERR_ARG when TensorRT refuses it: unknown name, misaligned pointer);
 * enqueue on `stream` (a cudaStream_t; NULL: the default stream). */
int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr, char *err, size_t err_len);
int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* JAMFLOW_TRT_H */
