// jamflow_trt_mock.cpp: a host-memory implementation of jamflow_trt.h for CI (cargo feature `tensorrt-mock`).
// It builds no engine: `jft_build` checks its arguments and writes a small text file recording the
// optimization profile; `jft_engine_load` reads it back. The "network" it runs is fixed and easy to check:
// every input `noisy_<s>` (F32) yields an output `<s>_velocity` = 2 * input, so the Rust side's shapes,
// bindings, copies and errors are exercised end to end. Device pointers are host pointers here.
//
// It shares jamflow_trt_util.hpp with the real shim (the exception guard, the version rule, rank checks,
// atomic writes), and simulates the failures the shim must survive, by environment variable:
//   JFT_MOCK_NO_LIBRARY=1          libnvinfer.so.10 missing
//   JFT_MOCK_VERSION=RAW           getInferLibVersion() (default 100300 = 10.3.0; < 100000: TensorRT 8 encoding,
//                                  no getInferLibMajorVersion)
//   JFT_MOCK_NULL=FACTORY          that factory returns NULL (createInferBuilder, createNetworkV2,
//                                  createBuilderConfig, createOptimizationProfile, createInferRuntime,
//                                  createExecutionContext)
//   JFT_MOCK_THROW=build|load|enqueue   a C++ exception inside that entry point
// A timing cache that does not start with the mock's magic line is "corrupt": replaced, as the shim does.
#include "jamflow_trt.h"
#include "jamflow_trt_util.hpp"

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace {

constexpr int32_t kMaxIo = 32;
constexpr size_t kNameLen = 64;
constexpr int32_t kHeaderMinor = 3; // the mock stands for a shim compiled against the 10.3 headers
const char kCacheMagic[] = "JFTMOCK-TC1\n";

struct Io {
    char name[kNameLen] = {};
    int32_t is_input = 0, dtype = 0, nb = 0;
    int64_t min[JFT_MAX_DIMS] = {}, max[JFT_MAX_DIMS] = {}, cur[JFT_MAX_DIMS] = {};
    int32_t shape_set = 0;
    void *ptr = nullptr;
    int32_t src = 0; // for outputs: index of the input it doubles
};

bool env_is(const char *var, const char *value) {
    const char *v = std::getenv(var);
    return v && std::strcmp(v, value) == 0;
}

void maybe_throw(const char *where) {
    if (env_is("JFT_MOCK_THROW", where)) throw std::runtime_error(std::string("mock exception in ") + where);
}

// NULL when JFT_MOCK_NULL names this factory: the shim's error for it.
int32_t factory(const char *what, int32_t code, char *err, size_t len) {
    if (!env_is("JFT_MOCK_NULL", what)) return JFT_OK;
    jft::set_err(err, len, "%s returned NULL: (mock)", what);
    return code;
}

int32_t dtype_of(const char *name) {
    if (std::strcmp(name, "text") == 0) return JFT_I64;
    if (std::strstr(name, "mask") || std::strcmp(name, "uncond") == 0 || std::strcmp(name, "motion_known") == 0)
        return JFT_BOOL;
    return JFT_F32;
}

int32_t load(int32_t *version, char *err, size_t len) {
    if (env_is("JFT_MOCK_NO_LIBRARY", "1")) {
        jft::set_err(err, len, "cannot open libnvinfer.so.10 (TensorRT 10): cannot open shared object file (mock)");
        return JFT_ERR_LIBRARY;
    }
    const char *v = std::getenv("JFT_MOCK_VERSION");
    const int32_t raw = v ? std::atoi(v) : 100300;
    const int32_t major = raw >= 100000 ? raw / 10000 : -1; // TensorRT 8 has no getInferLibMajorVersion
    const int32_t norm = jft::normalize_version(raw, major);
    if (version) *version = norm;
    return jft::check_version(norm, kHeaderMinor, "libnvinfer.so.10", err, len);
}

// Read a timing cache; an unknown one is replaced (*discarded = 1). Write it back atomically.
void timing_cache(const char *path, jft_build_info &out) {
    std::vector<char> blob;
    if (jft::read_file(path, blob) && !blob.empty() &&
        (blob.size() < sizeof kCacheMagic - 1 || std::memcmp(blob.data(), kCacheMagic, sizeof kCacheMagic - 1) != 0))
        out.timing_cache_discarded = 1;
    std::string why;
    out.timing_cache_written = jft::write_file_atomic(path, kCacheMagic, sizeof kCacheMagic - 1, why) ? 1 : 0;
}

int32_t check_profile(const jft_profile_dim *dims, int32_t n_dims, std::string &text, char *err, size_t len) {
    if (n_dims <= 0 || n_dims > kMaxIo / 2 || !dims) {
        jft::set_err(err, len, "%d profile inputs (expected 1..%d)", n_dims, kMaxIo / 2);
        return JFT_ERR_ARG;
    }
    char line[256];
    for (int32_t i = 0; i < n_dims; i++) {
        const jft_profile_dim &d = dims[i];
        int32_t rc = jft::check_rank(d.name, d.nb_dims, err, len);
        if (rc != JFT_OK) return rc;
        if (!d.name || d.nb_dims == 0 || std::strlen(d.name) >= kNameLen) {
            jft::set_err(err, len, "input `%s`: bad name or rank %d", d.name ? d.name : "(null)", d.nb_dims);
            return JFT_ERR_ARG;
        }
        std::snprintf(line, sizeof line, "%s %d", d.name, d.nb_dims);
        text += line;
        for (int32_t k = 0; k < d.nb_dims; k++) {
            if (d.min[k] > d.opt[k] || d.opt[k] > d.max[k]) {
                jft::set_err(err, len, "input `%s` dim %d: min %lld <= opt %lld <= max %lld violated", d.name, k,
                             (long long)d.min[k], (long long)d.opt[k], (long long)d.max[k]);
                return JFT_ERR_ARG;
            }
            std::snprintf(line, sizeof line, " %lld %lld", (long long)d.min[k], (long long)d.max[k]);
            text += line;
        }
        text += "\n";
    }
    return JFT_OK;
}

int32_t build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
              const jft_profile_dim *dims, int32_t n_dims, jft_build_info *info, char *err, size_t len) {
    jft_build_info local{};
    jft_build_info &out = info ? *info : local;
    out = jft_build_info{0, -1, 0, 0};
    if (!onnx_path || !engine_path) {
        jft::set_err(err, len, "NULL ONNX or engine path");
        return JFT_ERR_ARG;
    }
    if (flags & ~JFT_FLAG_TF32) {
        jft::set_err(err, len, "builder flags 0x%x: only JFT_FLAG_TF32 exists (builds are strongly typed)", flags);
        return JFT_ERR_ARG;
    }
    int32_t rc = load(nullptr, err, len);
    if (rc != JFT_OK) return rc;
    maybe_throw("build");
    if ((rc = factory("createInferBuilder", JFT_ERR_BUILD, err, len))) return rc;
    if ((rc = factory("createNetworkV2", JFT_ERR_BUILD, err, len))) return rc;
    std::FILE *f = std::fopen(onnx_path, "rb");
    if (!f) {
        jft::set_err(err, len, "%s: cannot open ONNX file", onnx_path);
        return JFT_ERR_IO;
    }
    std::fclose(f);
    if ((rc = factory("createBuilderConfig", JFT_ERR_BUILD, err, len))) return rc;
    if ((rc = factory("createOptimizationProfile", JFT_ERR_BUILD, err, len))) return rc;
    char head[64];
    std::snprintf(head, sizeof head, "JFTMOCK2 %u %d\n", flags, n_dims);
    std::string text = head;
    if ((rc = check_profile(dims, n_dims, text, err, len))) return rc;
    std::string why;
    if (!jft::write_file_atomic(engine_path, text.data(), text.size(), why)) {
        jft::set_err(err, len, "%s: cannot write engine: %s", engine_path, why.c_str());
        return JFT_ERR_IO;
    }
    out.plan_bytes = static_cast<int64_t>(text.size());
    out.weight_bytes = 1000 * n_dims; // something the manifest can record
    if (timing_cache_path) timing_cache(timing_cache_path, out);
    return JFT_OK;
}

} // namespace

struct jft_engine {
    int32_t n = 0;
    Io io[kMaxIo];
};

namespace {

bool parse_engine(std::FILE *f, jft_engine &e) {
    unsigned flags;
    int n;
    if (std::fscanf(f, "JFTMOCK2 %u %d\n", &flags, &n) != 2 || n <= 0 || n > kMaxIo / 2) return false;
    for (int i = 0; i < n; i++) {
        Io &x = e.io[e.n];
        if (std::fscanf(f, "%63s %d", x.name, &x.nb) != 2 || x.nb <= 0 || x.nb > JFT_MAX_DIMS) return false;
        for (int k = 0; k < x.nb; k++) {
            long long a, b;
            if (std::fscanf(f, " %lld %lld", &a, &b) != 2) return false;
            x.min[k] = a;
            x.max[k] = b;
        }
        x.is_input = 1;
        x.dtype = dtype_of(x.name);
        e.n++;
    }
    // Outputs: <s>_velocity for every noisy_<s>.
    const int32_t ninputs = e.n;
    for (int32_t i = 0; i < ninputs; i++) {
        if (std::strncmp(e.io[i].name, "noisy_", 6) != 0) continue;
        char out_name[kNameLen + 16];
        std::snprintf(out_name, sizeof out_name, "%s_velocity", e.io[i].name + 6);
        if (std::strlen(out_name) >= kNameLen) continue; // too long for the mock: no output
        Io &o = e.io[e.n++];
        std::memcpy(o.name, out_name, std::strlen(out_name) + 1);
        o.dtype = JFT_F32;
        o.src = i;
    }
    return true;
}

Io *find(jft_engine *e, const char *name) {
    for (int32_t i = 0; i < e->n; i++)
        if (std::strcmp(e->io[i].name, name) == 0) return &e->io[i];
    return nullptr;
}

} // namespace

extern "C" {

int32_t jft_abi_version(void) { return JFT_ABI_VERSION; }

int32_t jft_load(int32_t *version, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&] { return load(version, err, err_len); });
}

int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, jft_build_info *info,
                  char *err, size_t err_len) {
    (void)workspace_bytes;
    return jft::guard(err, err_len, [&] {
        return build(onnx_path, engine_path, timing_cache_path, flags, dims, n_dims, info, err, err_len);
    });
}

int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!engine_path || !out) {
            jft::set_err(err, err_len, "NULL engine path or out-pointer");
            return JFT_ERR_ARG;
        }
        *out = nullptr;
        int32_t rc = load(nullptr, err, err_len);
        if (rc != JFT_OK) return rc;
        maybe_throw("load");
        std::FILE *f = std::fopen(engine_path, "rb");
        if (!f) {
            jft::set_err(err, err_len, "%s: cannot read engine", engine_path);
            return JFT_ERR_IO;
        }
        if ((rc = factory("createInferRuntime", JFT_ERR_RUNTIME, err, err_len))) {
            std::fclose(f);
            return rc;
        }
        auto e = std::make_unique<jft_engine>();
        const bool ok = parse_engine(f, *e);
        std::fclose(f);
        if (!ok) {
            jft::set_err(err, err_len, "%s: cannot deserialize (not a mock engine)", engine_path);
            return JFT_ERR_RUNTIME;
        }
        if ((rc = factory("createExecutionContext", JFT_ERR_RUNTIME, err, err_len))) return rc;
        *out = e.release();
        return JFT_OK;
    });
}

void jft_engine_free(jft_engine *e) { delete e; }

int32_t jft_engine_io_count(const jft_engine *e) { return e ? e->n : -1; }

int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype) {
    if (!e || !name || !is_input || !dtype || index < 0 || index >= e->n) return JFT_ERR_ARG;
    *name = e->io[index].name;
    *is_input = e->io[index].is_input;
    *dtype = e->io[index].dtype;
    return JFT_OK;
}

int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!e || !name) {
            jft::set_err(err, err_len, "NULL engine or tensor name");
            return JFT_ERR_ARG;
        }
        const int32_t rc = jft::check_rank(name, nb_dims, err, err_len);
        if (rc != JFT_OK) return rc;
        Io *x = find(e, name);
        if (!x || !x->is_input) {
            jft::set_err(err, err_len, "no input `%s` in the engine", name);
            return JFT_ERR_ARG;
        }
        if (nb_dims != x->nb) {
            jft::set_err(err, err_len, "input `%s`: rank %d, the engine expects %d", name, nb_dims, x->nb);
            return JFT_ERR_ARG;
        }
        for (int32_t k = 0; k < nb_dims; k++) {
            if (dims[k] < x->min[k] || dims[k] > x->max[k]) {
                jft::set_err(err, err_len, "input `%s` dim %d = %lld outside the profile [%lld, %lld]", name, k,
                             (long long)dims[k], (long long)x->min[k], (long long)x->max[k]);
                return JFT_ERR_ARG;
            }
            x->cur[k] = dims[k];
        }
        x->shape_set = 1;
        return JFT_OK;
    });
}

int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims) {
    if (!e || !name || !dims || !nb_dims) return JFT_ERR_ARG;
    Io *x = find(const_cast<jft_engine *>(e), name);
    if (!x) return JFT_ERR_ARG;
    const Io &s = x->is_input ? *x : e->io[x->src];
    if (!s.shape_set) return JFT_ERR_ARG;
    *nb_dims = s.nb;
    for (int32_t k = 0; k < s.nb; k++) dims[k] = s.cur[k];
    return JFT_OK;
}

int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        Io *x = e && name ? find(e, name) : nullptr;
        // TensorRT refuses unknown names and pointers not aligned for the tensor's type.
        if (!x || reinterpret_cast<uintptr_t>(device_ptr) % 4 != 0) {
            jft::set_err(err, err_len, "tensor `%s`: address refused (mock)", name ? name : "(null)");
            return JFT_ERR_ARG;
        }
        x->ptr = device_ptr;
        return JFT_OK;
    });
}

int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len) {
    (void)stream;
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!e) {
            jft::set_err(err, err_len, "NULL engine");
            return JFT_ERR_ARG;
        }
        maybe_throw("enqueue");
        for (int32_t i = 0; i < e->n; i++) {
            const Io &x = e->io[i];
            if (!x.ptr) {
                jft::set_err(err, err_len, "tensor `%s` has no bound address", x.name);
                return JFT_ERR_ARG;
            }
            if (x.is_input && !x.shape_set) {
                jft::set_err(err, err_len, "input `%s` has no shape", x.name);
                return JFT_ERR_ARG;
            }
        }
        for (int32_t i = 0; i < e->n; i++) {
            const Io &o = e->io[i];
            if (o.is_input) continue;
            const Io &s = e->io[o.src];
            int64_t n = 1;
            for (int32_t k = 0; k < s.nb; k++) n *= s.cur[k];
            const float *in = static_cast<const float *>(s.ptr);
            float *out = static_cast<float *>(o.ptr);
            for (int64_t j = 0; j < n; j++) out[j] = 2.0f * in[j];
        }
        return JFT_OK;
    });
}

} // extern "C"
