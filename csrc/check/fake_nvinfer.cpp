// fake_nvinfer.cpp: a stand-in libnvinfer.so.10 for scripts/test.sh's check of the real shim's loading code
// (no GPU, no TensorRT): it exports the C entry points the shim resolves, reports the version in
// $FAKE_TRT_VERSION (getInferLibVersion's encoding) and returns NULL from every factory. Built without
// getInferLibMajorVersion when FAKE_TRT_NO_MAJOR is defined (as TensorRT 8 is).
#include <cstdint>
#include <cstdlib>

extern "C" {
int32_t getInferLibVersion() {
    const char *v = std::getenv("FAKE_TRT_VERSION");
    return v ? std::atoi(v) : 100300;
}
#ifndef FAKE_TRT_NO_MAJOR
int32_t getInferLibMajorVersion() { return getInferLibVersion() / 10000; }
#endif
void *createInferBuilder_INTERNAL(void *, int32_t) { return nullptr; }
void *createInferRuntime_INTERNAL(void *, int32_t) { return nullptr; }
}
