// jamflow_trt_util.hpp: what the TensorRT shim (jamflow_trt.cpp) and its host mock (jamflow_trt_mock.cpp)
// share, so that CI's mock tests exercise the same code: error buffers, the exception guard of every entry
// point, the TensorRT version rule, rank checks, file reads and atomic file writes.
#ifndef JAMFLOW_TRT_UTIL_HPP
#define JAMFLOW_TRT_UTIL_HPP

#include "jamflow_trt.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

namespace jft {

// The version the shim requires: TensorRT 10, at least the minor version of the headers it was compiled with
// (a 10.x library serves applications built against older 10.x headers, not newer ones).
constexpr int32_t kRequiredMajor = 10;

inline void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

inline void clear_err(char *err, size_t len) {
    if (err && len) err[0] = '\0';
}

// Run an entry point's body: the error buffer starts empty, and no exception leaves it.
template <class F> int32_t guard(char *err, size_t len, F &&body) noexcept {
    clear_err(err, len);
    try {
        return body();
    } catch (const std::bad_alloc &) {
        set_err(err, len, "out of host memory inside the TensorRT shim");
    } catch (const std::exception &ex) {
        set_err(err, len, "exception inside the TensorRT shim: %s", ex.what());
    } catch (...) {
        set_err(err, len, "unknown exception inside the TensorRT shim");
    }
    return JFT_ERR_INTERNAL;
}

// getInferLibVersion() -> major*10000 + minor*100 + patch. TensorRT 10 encodes (major*100 + minor)*100 + patch;
// TensorRT 8 (JetPack 6.0 ships 8.6) encoded major*1000 + minor*100 + patch and has no getInferLibMajorVersion
// (`major` < 0 then).
inline int32_t normalize_version(int32_t raw, int32_t major) {
    if (major < 0) major = raw >= 100000 ? raw / 10000 : raw / 1000;
    if (major >= 10) return raw;
    return major * 10000 + ((raw / 100) % 10) * 100 + raw % 100;
}

// JFT_OK when the library `version` (normalized) can serve headers of `header_minor`; else JFT_ERR_VERSION.
inline int32_t check_version(int32_t version, int32_t header_minor, const char *lib, char *err, size_t len) {
    const int32_t major = version / 10000, minor = (version / 100) % 100, patch = version % 100;
    if (major != kRequiredMajor) {
        set_err(err, len,
                "%s is TensorRT %d.%d.%d; jamflow needs TensorRT 10 (JetPack 6.1/6.2: 10.3, JetPack 7: 10.x; "
                "JetPack 6.0's TensorRT 8.6 is not supported)",
                lib, major, minor, patch);
        return JFT_ERR_VERSION;
    }
    if (minor < header_minor) {
        set_err(err, len,
                "%s is TensorRT %d.%d.%d, older than the TensorRT 10.%d headers this binary was compiled with "
                "(rebuild jamflow against this TensorRT's headers)",
                lib, major, minor, patch, header_minor);
        return JFT_ERR_VERSION;
    }
    return JFT_OK;
}

inline int32_t check_rank(const char *what, int32_t nb_dims, char *err, size_t len) {
    if (nb_dims < 0 || nb_dims > JFT_MAX_DIMS) {
        set_err(err, len, "%s: rank %d (TensorRT allows 0..%d dimensions)", what ? what : "(null)", nb_dims,
                JFT_MAX_DIMS);
        return JFT_ERR_ARG;
    }
    return JFT_OK;
}

inline bool read_file(const char *path, std::vector<char> &out) {
    std::FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    char buf[1 << 16];
    size_t n;
    out.clear();
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    const bool ok = !std::ferror(f);
    std::fclose(f);
    return ok;
}

// Write `path` atomically: `<path>.tmp-<pid>` is written, flushed to disk and renamed over `path`, so a reader
// (or a crash, or a full disk) never sees half an engine. On failure `why` holds strerror.
inline bool write_file_atomic(const char *path, const void *data, size_t n, std::string &why) {
    const std::string tmp = std::string(path) + ".tmp-" + std::to_string(static_cast<long>(getpid()));
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
        why = std::strerror(errno);
        return false;
    }
    bool ok = std::fwrite(data, 1, n, f) == n && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!ok) why = std::strerror(errno);
    if (std::fclose(f) != 0 && ok) {
        ok = false;
        why = std::strerror(errno);
    }
    if (ok && std::rename(tmp.c_str(), path) != 0) {
        ok = false;
        why = std::strerror(errno);
    }
    if (!ok) std::remove(tmp.c_str());
    return ok;
}

} // namespace jft

#endif // JAMFLOW_TRT_UTIL_HPP
