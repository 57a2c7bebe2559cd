// jamflow_trt.cpp: the native TensorRT shim (cargo feature `tensorrt-native`), implementing
// jamflow_trt.h over TensorRT 10.x (NvInfer.h / NvOnnxParser.h: 10.3 on JetPack 6.1/6.2, 10.x on JetPack 7).
//
// libnvinfer.so.10 is opened with dlopen on first use (libnvonnxparser.so.10 only when building): the binary
// links and starts on a machine without TensorRT, and jft_load reports which library is missing or which
// version was found. Only the C entry points (createInferBuilder_INTERNAL, createInferRuntime_INTERNAL,
// createNvOnnxParser_INTERNAL, getInferLibVersion, getInferLibMajorVersion) are resolved; everything else goes
// through the interfaces' vtables. Every entry point runs inside jft::guard (no exception crosses the ABI),
// every factory's NULL is an error, and the logger's last error is per thread and cleared per call.

#include "jamflow_trt.h"
#include "jamflow_trt_util.hpp"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace nvinfer1;

static_assert(JFT_MAX_DIMS == Dims::MAX_DIMS, "jamflow_trt.h's JFT_MAX_DIMS must equal nvinfer1::Dims::MAX_DIMS");

// EngineStat::kTOTAL_WEIGHTS_SIZE: in the 10.16 headers, not in 10.3's.
#if NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 16
#define JFT_HAVE_ENGINE_STAT 1
#else
#define JFT_HAVE_ENGINE_STAT 0
#endif

namespace {

// TensorRT's errors of the current thread since the last take(); warnings go to stderr (the journal).
class Logger : public ILogger {
  public:
    void log(Severity s, const char *msg) noexcept override {
        if (s <= Severity::kERROR) {
            try {
                if (!last_.empty()) last_ += "; ";
                last_ += msg;
            } catch (...) {
            }
        }
        if (s <= Severity::kWARNING) std::fprintf(stderr, "[tensorrt] %s\n", msg);
    }
    std::string take() {
        std::string s;
        s.swap(last_);
        return s;
    }
    void clear() { last_.clear(); }

  private:
    static thread_local std::string last_;
};
thread_local std::string Logger::last_;

Logger &logger() {
    static Logger l;
    return l;
}

// The factories take the logger as `void *` (an ILogger *).
void *logger_ptr() { return static_cast<ILogger *>(&logger()); }

using BuilderFn = void *(*)(void *, int32_t);
using RuntimeFn = void *(*)(void *, int32_t);
using ParserFn = void *(*)(void *, void *, int32_t);
using VersionFn = int32_t (*)();

struct Infer {
    void *lib = nullptr;
    BuilderFn builder = nullptr;
    RuntimeFn runtime = nullptr;
    int32_t version = 0; // normalized: major*10000 + minor*100 + patch
    int32_t status = JFT_OK;
    std::string error;
};

Infer &infer() {
    static Infer l;
    static std::once_flag once;
    std::call_once(once, [] {
        // Versioned name only: an unversioned libnvinfer.so may be TensorRT 8.6 (JetPack 6.0).
        const char *name = "libnvinfer.so.10";
        l.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!l.lib) {
            const char *why = dlerror();
            l.status = JFT_ERR_LIBRARY;
            l.error = std::string("cannot open ") + name + " (TensorRT 10): " + (why ? why : "not found");
            return;
        }
        auto version = reinterpret_cast<VersionFn>(dlsym(l.lib, "getInferLibVersion"));
        auto major = reinterpret_cast<VersionFn>(dlsym(l.lib, "getInferLibMajorVersion"));
        l.builder = reinterpret_cast<BuilderFn>(dlsym(l.lib, "createInferBuilder_INTERNAL"));
        l.runtime = reinterpret_cast<RuntimeFn>(dlsym(l.lib, "createInferRuntime_INTERNAL"));
        if (!version || !l.builder || !l.runtime) {
            l.status = JFT_ERR_LIBRARY;
            l.error = std::string(name) + " lacks TensorRT's entry points (getInferLibVersion, createInfer*_INTERNAL)";
            return;
        }
        l.version = jft::normalize_version(version(), major ? major() : -1);
        char buf[512];
        l.status = jft::check_version(l.version, NV_TENSORRT_MINOR, name, buf, sizeof buf);
        if (l.status != JFT_OK) l.error = buf;
    });
    return l;
}

struct Parser {
    void *lib = nullptr;
    ParserFn create = nullptr;
    std::string error;
};

Parser &parser_lib() {
    static Parser p;
    static std::once_flag once;
    std::call_once(once, [] {
        const char *name = "libnvonnxparser.so.10";
        p.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!p.lib) {
            const char *why = dlerror();
            p.error = std::string("cannot open ") + name + " (TensorRT 10's ONNX parser, needed to build engines): " +
                      (why ? why : "not found");
            return;
        }
        p.create = reinterpret_cast<ParserFn>(dlsym(p.lib, "createNvOnnxParser_INTERNAL"));
        if (!p.create) p.error = std::string(name) + " lacks createNvOnnxParser_INTERNAL";
    });
    return p;
}

int32_t load_infer(char *err, size_t len) {
    logger().clear();
    Infer &l = infer();
    if (l.status != JFT_OK) jft::set_err(err, len, "%s", l.error.c_str());
    return l.status;
}

// A factory returned NULL: the error names it and TensorRT's own message.
int32_t null_from(const char *what, int32_t code, char *err, size_t len) {
    jft::set_err(err, len, "%s returned NULL: %s", what, logger().take().c_str());
    return code;
}

int32_t to_dims(const char *name, const int64_t *d, int32_t n, Dims &x, char *err, size_t len) {
    int32_t rc = jft::check_rank(name, n, err, len);
    if (rc != JFT_OK) return rc;
    if (n > 0 && !d) {
        jft::set_err(err, len, "%s: NULL dims", name);
        return JFT_ERR_ARG;
    }
    x = Dims{};
    x.nbDims = n;
    for (int32_t i = 0; i < n; i++) x.d[i] = d[i];
    return JFT_OK;
}

int32_t dtype_of(DataType t) {
    switch (t) {
    case DataType::kFLOAT: return JFT_F32;
    case DataType::kHALF: return JFT_F16;
    case DataType::kINT8: return JFT_I8;
    case DataType::kINT32: return JFT_I32;
    case DataType::kBOOL: return JFT_BOOL;
    case DataType::kINT64: return JFT_I64;
    default: return -1;
    }
}

int32_t set_profile(IBuilder &builder, IBuilderConfig &config, const jft_profile_dim *dims, int32_t n_dims,
                    char *err, size_t len) {
    if (n_dims < 0 || (n_dims > 0 && !dims)) {
        jft::set_err(err, len, "%d profile inputs with NULL dims", n_dims);
        return JFT_ERR_ARG;
    }
    IOptimizationProfile *profile = builder.createOptimizationProfile(); // owned by the builder
    if (!profile) return null_from("createOptimizationProfile", JFT_ERR_BUILD, err, len);
    for (int32_t i = 0; i < n_dims; i++) {
        const jft_profile_dim &d = dims[i];
        Dims lo, mid, hi;
        int32_t rc = to_dims(d.name, d.min, d.nb_dims, lo, err, len);
        if (rc == JFT_OK) rc = to_dims(d.name, d.opt, d.nb_dims, mid, err, len);
        if (rc == JFT_OK) rc = to_dims(d.name, d.max, d.nb_dims, hi, err, len);
        if (rc != JFT_OK) return rc;
        if (!d.name || !profile->setDimensions(d.name, OptProfileSelector::kMIN, lo) ||
            !profile->setDimensions(d.name, OptProfileSelector::kOPT, mid) ||
            !profile->setDimensions(d.name, OptProfileSelector::kMAX, hi)) {
            jft::set_err(err, len, "profile for input `%s` rejected: %s", d.name ? d.name : "(null)",
                         logger().take().c_str());
            return JFT_ERR_ARG;
        }
    }
    if (!profile->isValid() || config.addOptimizationProfile(profile) < 0) {
        jft::set_err(err, len, "optimization profile rejected: %s", logger().take().c_str());
        return JFT_ERR_ARG;
    }
    return JFT_OK;
}

// The timing cache from `path` (missing: empty). A file this TensorRT cannot read (corrupt, another version) is
// replaced by an empty cache: it only saves build time. *discarded tells.
int32_t set_timing_cache(IBuilderConfig &config, const char *path, std::unique_ptr<ITimingCache> &cache,
                         int32_t *discarded, char *err, size_t len) {
    std::vector<char> blob;
    if (path && !jft::read_file(path, blob)) blob.clear();
    if (!blob.empty()) {
        cache.reset(config.createTimingCache(blob.data(), blob.size()));
        if (cache && config.setTimingCache(*cache, false)) return JFT_OK;
        std::fprintf(stderr, "[jamflow_trt] %s: timing cache not usable (%s); starting an empty one\n", path,
                     logger().take().c_str());
        *discarded = 1;
    }
    cache.reset(config.createTimingCache(nullptr, 0));
    if (!cache) return null_from("createTimingCache", JFT_ERR_BUILD, err, len);
    if (!config.setTimingCache(*cache, false)) {
        jft::set_err(err, len, "setTimingCache refused an empty cache: %s", logger().take().c_str());
        return JFT_ERR_BUILD;
    }
    return JFT_OK;
}

int32_t parse(INetworkDefinition &network, const char *onnx_path, std::unique_ptr<nvonnxparser::IParser> &parser,
              char *err, size_t len) {
    Parser &p = parser_lib();
    if (!p.error.empty()) {
        jft::set_err(err, len, "%s", p.error.c_str());
        return JFT_ERR_LIBRARY;
    }
    parser.reset(static_cast<nvonnxparser::IParser *>(p.create(&network, logger_ptr(), NV_ONNX_PARSER_VERSION)));
    if (!parser) return null_from("createNvOnnxParser", JFT_ERR_LIBRARY, err, len);
    if (!parser->parseFromFile(onnx_path, static_cast<int>(ILogger::Severity::kWARNING))) {
        std::string msg;
        for (int32_t i = 0; i < parser->getNbErrors(); i++) {
            const nvonnxparser::IParserError *e = parser->getError(i);
            if (!e) continue;
            msg += e->desc();
            msg += "; ";
        }
        jft::set_err(err, len, "%s: %s%s", onnx_path, msg.c_str(), logger().take().c_str());
        return JFT_ERR_PARSE;
    }
    return JFT_OK;
}

#if JFT_HAVE_ENGINE_STAT
int64_t weight_bytes(const IHostMemory &plan) {
    std::unique_ptr<IRuntime> rt(static_cast<IRuntime *>(infer().runtime(logger_ptr(), NV_TENSORRT_VERSION)));
    if (!rt) return -1;
    std::unique_ptr<ICudaEngine> e(rt->deserializeCudaEngine(plan.data(), plan.size()));
    return e ? e->getEngineStat(EngineStat::kTOTAL_WEIGHTS_SIZE) : -1;
}
#else
int64_t weight_bytes(const IHostMemory &) { return -1; }
#endif

int32_t build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
              const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, jft_build_info *info,
              char *err, size_t len) {
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
    int32_t rc = load_infer(err, len);
    if (rc != JFT_OK) return rc;
    std::unique_ptr<IBuilder> builder(static_cast<IBuilder *>(infer().builder(logger_ptr(), NV_TENSORRT_VERSION)));
    if (!builder) return null_from("createInferBuilder", JFT_ERR_BUILD, err, len);
    // Strongly typed: the graph's types decide (FP32, the fp16 pass's FP16 with FP32 islands, Q/DQ for int8),
    // and TensorRT may not pick a lower precision for any layer.
    const auto net_flags = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
    std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(net_flags));
    if (!network) return null_from("createNetworkV2", JFT_ERR_BUILD, err, len);
    std::unique_ptr<nvonnxparser::IParser> parser;
    if ((rc = parse(*network, onnx_path, parser, err, len)) != JFT_OK) return rc;
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    if (!config) return null_from("createBuilderConfig", JFT_ERR_BUILD, err, len);
    if (workspace_bytes) config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, workspace_bytes);
    // TF32 is on by default: FP32 layers (the fp32 engine, every FP32 island) would round inputs to 10 bits.
    if (!(flags & JFT_FLAG_TF32)) config->clearFlag(BuilderFlag::kTF32);
    if ((rc = set_profile(*builder, *config, dims, n_dims, err, len)) != JFT_OK) return rc;
    std::unique_ptr<ITimingCache> cache;
    rc = set_timing_cache(*config, timing_cache_path, cache, &out.timing_cache_discarded, err, len);
    if (rc != JFT_OK) return rc;
    std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
    if (!plan || !plan->data() || plan->size() == 0) {
        jft::set_err(err, len, "engine build failed: %s", logger().take().c_str());
        return JFT_ERR_BUILD;
    }
    std::string why;
    if (!jft::write_file_atomic(engine_path, plan->data(), plan->size(), why)) {
        jft::set_err(err, len, "%s: cannot write engine: %s", engine_path, why.c_str());
        return JFT_ERR_IO;
    }
    out.plan_bytes = static_cast<int64_t>(plan->size());
    out.weight_bytes = weight_bytes(*plan);
    if (timing_cache_path) {
        const ITimingCache *c = config->getTimingCache();
        std::unique_ptr<IHostMemory> ser(c ? c->serialize() : nullptr);
        if (ser && jft::write_file_atomic(timing_cache_path, ser->data(), ser->size(), why)) {
            out.timing_cache_written = 1;
        } else {
            std::fprintf(stderr, "[jamflow_trt] %s: timing cache not written: %s\n", timing_cache_path,
                         ser ? why.c_str() : "serialize returned NULL");
        }
    }
    return JFT_OK;
}

} // namespace

struct jft_engine {
    std::unique_ptr<IRuntime> runtime;
    std::unique_ptr<ICudaEngine> engine;
    std::unique_ptr<IExecutionContext> ctx;
    std::vector<std::string> names;
};

extern "C" {

int32_t jft_abi_version(void) { return JFT_ABI_VERSION; }

int32_t jft_load(int32_t *version, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&] {
        const int32_t rc = load_infer(err, err_len);
        if (version) *version = infer().version;
        return rc;
    });
}

int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, jft_build_info *info,
                  char *err, size_t err_len) {
    return jft::guard(err, err_len, [&] {
        return build(onnx_path, engine_path, timing_cache_path, flags, dims, n_dims, workspace_bytes, info, err,
                     err_len);
    });
}

int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!engine_path || !out) {
            jft::set_err(err, err_len, "NULL engine path or out-pointer");
            return JFT_ERR_ARG;
        }
        *out = nullptr;
        int32_t rc = load_infer(err, err_len);
        if (rc != JFT_OK) return rc;
        std::vector<char> blob;
        if (!jft::read_file(engine_path, blob) || blob.empty()) {
            jft::set_err(err, err_len, "%s: cannot read engine", engine_path);
            return JFT_ERR_IO;
        }
        auto e = std::make_unique<jft_engine>();
        e->runtime.reset(static_cast<IRuntime *>(infer().runtime(logger_ptr(), NV_TENSORRT_VERSION)));
        if (!e->runtime) return null_from("createInferRuntime", JFT_ERR_RUNTIME, err, err_len);
        e->engine.reset(e->runtime->deserializeCudaEngine(blob.data(), blob.size()));
        if (!e->engine) {
            jft::set_err(err, err_len, "%s: cannot deserialize (built by another TensorRT version or GPU?): %s",
                         engine_path, logger().take().c_str());
            return JFT_ERR_RUNTIME;
        }
        e->ctx.reset(e->engine->createExecutionContext());
        if (!e->ctx) return null_from("createExecutionContext", JFT_ERR_RUNTIME, err, err_len);
        for (int32_t i = 0; i < e->engine->getNbIOTensors(); i++) {
            const char *n = e->engine->getIOTensorName(i);
            if (!n) return null_from("getIOTensorName", JFT_ERR_RUNTIME, err, err_len);
            e->names.emplace_back(n);
        }
        *out = e.release();
        return JFT_OK;
    });
}

void jft_engine_free(jft_engine *e) { delete e; }

int32_t jft_engine_io_count(const jft_engine *e) { return e ? static_cast<int32_t>(e->names.size()) : -1; }

int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype) {
    if (!e || !name || !is_input || !dtype) return JFT_ERR_ARG;
    if (index < 0 || index >= static_cast<int32_t>(e->names.size())) return JFT_ERR_ARG;
    const char *n = e->names[index].c_str();
    *name = n;
    *is_input = e->engine->getTensorIOMode(n) == TensorIOMode::kINPUT;
    *dtype = dtype_of(e->engine->getTensorDataType(n));
    return JFT_OK;
}

int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!e || !name) {
            jft::set_err(err, err_len, "NULL engine or tensor name");
            return JFT_ERR_ARG;
        }
        logger().clear();
        Dims d;
        const int32_t rc = to_dims(name, dims, nb_dims, d, err, err_len);
        if (rc != JFT_OK) return rc;
        if (!e->ctx->setInputShape(name, d)) {
            jft::set_err(err, err_len, "input `%s`: shape rejected (outside the optimization profile?): %s", name,
                         logger().take().c_str());
            return JFT_ERR_ARG;
        }
        return JFT_OK;
    });
}

int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims) {
    return jft::guard(nullptr, 0, [&]() -> int32_t {
        if (!e || !name || !dims || !nb_dims) return JFT_ERR_ARG;
        const Dims d = e->ctx->getTensorShape(name);
        if (d.nbDims < 0 || d.nbDims > JFT_MAX_DIMS) return JFT_ERR_ARG;
        *nb_dims = d.nbDims;
        for (int32_t i = 0; i < d.nbDims; i++) dims[i] = d.d[i];
        return JFT_OK;
    });
}

int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!e || !name) {
            jft::set_err(err, err_len, "NULL engine or tensor name");
            return JFT_ERR_ARG;
        }
        logger().clear();
        if (!e->ctx->setTensorAddress(name, device_ptr)) {
            jft::set_err(err, err_len, "tensor `%s`: address refused: %s", name, logger().take().c_str());
            return JFT_ERR_ARG;
        }
        return JFT_OK;
    });
}

int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len) {
    return jft::guard(err, err_len, [&]() -> int32_t {
        if (!e) {
            jft::set_err(err, err_len, "NULL engine");
            return JFT_ERR_ARG;
        }
        logger().clear();
        if (!e->ctx->enqueueV3(static_cast<cudaStream_t>(stream))) {
            jft::set_err(err, err_len, "enqueueV3 failed: %s", logger().take().c_str());
            return JFT_ERR_RUNTIME;
        }
        return JFT_OK;
    });
}

} // extern "C"
