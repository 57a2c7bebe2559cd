// jamflow_trt.cpp: the native TensorRT shim (cargo feature `tensorrt-native`), implementing
// jamflow_trt.h over TensorRT 10.x (NvInfer.h / NvOnnxParser.h, as on JetPack 6).
//
// libnvinfer and libnvonnxparser are opened with dlopen on first use: the binary links and starts on a
// machine without TensorRT, and jft_load reports which library is missing. Only the C entry points
// (createInferBuilder_INTERNAL, createInferRuntime_INTERNAL, createNvOnnxParser_INTERNAL,
// getInferLibVersion) are resolved; everything else goes through the interfaces' vtables.

#include "jamflow_trt.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace nvinfer1;

namespace {

void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

class Logger : public ILogger {
  public:
    void log(Severity s, const char *msg) noexcept override {
        if (s <= Severity::kERROR) {
            std::lock_guard<std::mutex> g(mu);
            last = msg;
        }
        if (s <= Severity::kWARNING) std::fprintf(stderr, "[tensorrt] %s\n", msg);
    }
    std::string take() {
        std::lock_guard<std::mutex> g(mu);
        std::string s = last;
        last.clear();
        return s;
    }

  private:
    std::mutex mu;
    std::string last;
};

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

struct Libs {
    void *infer = nullptr, *parser = nullptr;
    BuilderFn builder = nullptr;
    RuntimeFn runtime = nullptr;
    ParserFn onnx = nullptr;
    VersionFn version = nullptr;
    std::string error;
};

Libs &libs() {
    static Libs l;
    static std::once_flag once;
    std::call_once(once, [] {
        const char *infer_names[] = {"libnvinfer.so.10", "libnvinfer.so"};
        const char *parser_names[] = {"libnvonnxparser.so.10", "libnvonnxparser.so"};
        for (auto n : infer_names)
            if ((l.infer = dlopen(n, RTLD_NOW | RTLD_GLOBAL))) break;
        if (!l.infer) {
            l.error = std::string("cannot open libnvinfer.so.10: ") + dlerror();
            return;
        }
        for (auto n : parser_names)
            if ((l.parser = dlopen(n, RTLD_NOW | RTLD_GLOBAL))) break;
        if (!l.parser) {
            l.error = std::string("cannot open libnvonnxparser.so.10: ") + dlerror();
            return;
        }
        l.builder = reinterpret_cast<BuilderFn>(dlsym(l.infer, "createInferBuilder_INTERNAL"));
        l.runtime = reinterpret_cast<RuntimeFn>(dlsym(l.infer, "createInferRuntime_INTERNAL"));
        l.version = reinterpret_cast<VersionFn>(dlsym(l.infer, "getInferLibVersion"));
        l.onnx = reinterpret_cast<ParserFn>(dlsym(l.parser, "createNvOnnxParser_INTERNAL"));
        if (!l.builder || !l.runtime || !l.version || !l.onnx) l.error = "TensorRT libraries lack the expected entry points";
    });
    return l;
}

bool read_file(const char *path, std::vector<char> &out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return true;
}

bool write_file(const char *path, const void *data, size_t n) {
    std::ofstream f(path, std::ios::binary);
    if (!f) return false;
    f.write(static_cast<const char *>(data), static_cast<std::streamsize>(n));
    return static_cast<bool>(f);
}

Dims to_dims(const int64_t *d, int32_t n) {
    Dims x{};
    x.nbDims = n;
    for (int32_t i = 0; i < n; i++) x.d[i] = d[i];
    return x;
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
    Libs &l = libs();
    if (!l.error.empty()) {
        set_err(err, err_len, "%s", l.error.c_str());
        return JFT_ERR_LIBRARY;
    }
    if (version) *version = l.version();
    return JFT_OK;
}

int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, char *err,
                  size_t err_len) {
    int32_t rc = jft_load(nullptr, err, err_len);
    if (rc != JFT_OK) return rc;
    Libs &l = libs();
    std::unique_ptr<IBuilder> builder(static_cast<IBuilder *>(l.builder(logger_ptr(), NV_TENSORRT_VERSION)));
    if (!builder) {
        set_err(err, err_len, "createInferBuilder failed: %s", logger().take().c_str());
        return JFT_ERR_BUILD;
    }
    const bool strong = flags & JFT_FLAG_STRONGLY_TYPED;
    const uint32_t net_flags =
        strong ? 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) : 0u;
    std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(net_flags));
    std::unique_ptr<nvonnxparser::IParser> parser(
        static_cast<nvonnxparser::IParser *>(l.onnx(network.get(), logger_ptr(), NV_ONNX_PARSER_VERSION)));
    if (!parser->parseFromFile(onnx_path, static_cast<int>(ILogger::Severity::kWARNING))) {
        std::string msg;
        for (int32_t i = 0; i < parser->getNbErrors(); i++) {
            msg += parser->getError(i)->desc();
            msg += "; ";
        }
        set_err(err, err_len, "%s: %s", onnx_path, msg.c_str());
        return JFT_ERR_PARSE;
    }
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    if (workspace_bytes) config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, workspace_bytes);
    if (!strong && (flags & JFT_FLAG_FP16)) config->setFlag(BuilderFlag::kFP16);
    if (!strong && (flags & JFT_FLAG_INT8)) config->setFlag(BuilderFlag::kINT8);
    IOptimizationProfile *profile = builder->createOptimizationProfile();
    for (int32_t i = 0; i < n_dims; i++) {
        const jft_profile_dim &d = dims[i];
        bool ok = profile->setDimensions(d.name, OptProfileSelector::kMIN, to_dims(d.min, d.nb_dims)) &&
                  profile->setDimensions(d.name, OptProfileSelector::kOPT, to_dims(d.opt, d.nb_dims)) &&
                  profile->setDimensions(d.name, OptProfileSelector::kMAX, to_dims(d.max, d.nb_dims));
        if (!ok) {
            set_err(err, err_len, "profile for input `%s` rejected: %s", d.name, logger().take().c_str());
            return JFT_ERR_ARG;
        }
    }
    config->addOptimizationProfile(profile);
    std::vector<char> cache_blob;
    if (timing_cache_path) read_file(timing_cache_path, cache_blob);
    std::unique_ptr<ITimingCache> cache(config->createTimingCache(cache_blob.data(), cache_blob.size()));
    if (cache) config->setTimingCache(*cache, false);
    std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
    if (!plan) {
        set_err(err, err_len, "engine build failed: %s", logger().take().c_str());
        return JFT_ERR_BUILD;
    }
    if (!write_file(engine_path, plan->data(), plan->size())) {
        set_err(err, err_len, "%s: cannot write engine", engine_path);
        return JFT_ERR_IO;
    }
    if (timing_cache_path) {
        if (const ITimingCache *c = config->getTimingCache()) {
            std::unique_ptr<IHostMemory> ser(c->serialize());
            if (ser) write_file(timing_cache_path, ser->data(), ser->size());
        }
    }
    return JFT_OK;
}

int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len) {
    int32_t rc = jft_load(nullptr, err, err_len);
    if (rc != JFT_OK) return rc;
    std::vector<char> blob;
    if (!read_file(engine_path, blob)) {
        set_err(err, err_len, "%s: cannot read engine", engine_path);
        return JFT_ERR_IO;
    }
    auto e = std::make_unique<jft_engine>();
    e->runtime.reset(static_cast<IRuntime *>(libs().runtime(logger_ptr(), NV_TENSORRT_VERSION)));
    if (!e->runtime) {
        set_err(err, err_len, "createInferRuntime failed: %s", logger().take().c_str());
        return JFT_ERR_RUNTIME;
    }
    e->engine.reset(e->runtime->deserializeCudaEngine(blob.data(), blob.size()));
    if (!e->engine) {
        set_err(err, err_len, "%s: cannot deserialize (built by another TensorRT version or device?): %s",
                engine_path, logger().take().c_str());
        return JFT_ERR_RUNTIME;
    }
    e->ctx.reset(e->engine->createExecutionContext());
    if (!e->ctx) {
        set_err(err, err_len, "createExecutionContext failed: %s", logger().take().c_str());
        return JFT_ERR_RUNTIME;
    }
    for (int32_t i = 0; i < e->engine->getNbIOTensors(); i++) e->names.emplace_back(e->engine->getIOTensorName(i));
    *out = e.release();
    return JFT_OK;
}

void jft_engine_free(jft_engine *e) { delete e; }

int32_t jft_engine_io_count(const jft_engine *e) { return static_cast<int32_t>(e->names.size()); }

int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype) {
    if (index < 0 || index >= static_cast<int32_t>(e->names.size())) return JFT_ERR_ARG;
    const char *n = e->names[index].c_str();
    *name = n;
    *is_input = e->engine->getTensorIOMode(n) == TensorIOMode::kINPUT;
    *dtype = dtype_of(e->engine->getTensorDataType(n));
    return JFT_OK;
}

int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len) {
    if (!e->ctx->setInputShape(name, to_dims(dims, nb_dims))) {
        set_err(err, err_len, "input `%s`: shape rejected (outside the optimization profile?): %s", name,
                logger().take().c_str());
        return JFT_ERR_ARG;
    }
    return JFT_OK;
}

int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims) {
    Dims d = e->ctx->getTensorShape(name);
    if (d.nbDims < 0) return JFT_ERR_ARG;
    *nb_dims = d.nbDims;
    for (int32_t i = 0; i < d.nbDims; i++) dims[i] = d.d[i];
    return JFT_OK;
}

int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr) {
    return e->ctx->setTensorAddress(name, device_ptr) ? JFT_OK : JFT_ERR_ARG;
}

int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len) {
    if (!e->ctx->enqueueV3(static_cast<cudaStream_t>(stream))) {
        set_err(err, err_len, "enqueueV3 failed: %s", logger().take().c_str());
        return JFT_ERR_RUNTIME;
    }
    return JFT_OK;
}

} // extern "C"
