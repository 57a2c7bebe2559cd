/* shim_check.c: drives the real shim (jamflow_trt.cpp, linked in) against fake_nvinfer.cpp's libnvinfer.so.10
 * (scripts/check_trt_shim.sh). argv[1]: what to expect: "missing" (no library on the path), "version" (not
 * TensorRT 10: refused), "old" (older than the headers: refused), "null" (a usable version whose factories
 * return NULL). Exit 0 when the shim answered as expected. */
#include "jamflow_trt.h"

#include <stdio.h>
#include <string.h>

static int expect(const char *what, int32_t got, int32_t want, const char *err, const char *needle) {
    if (got != want || (needle && !strstr(err, needle))) {
        fprintf(stderr, "%s: code %d (expected %d), message \"%s\" (expected to contain \"%s\")\n", what, got, want,
                err, needle ? needle : "");
        return 1;
    }
    printf("%s: code %d, \"%s\"\n", what, got, err);
    return 0;
}

int main(int argc, char **argv) {
    char err[1024];
    int32_t v = 0;
    jft_engine *e = NULL;
    int bad = 0;
    if (argc != 2) return 2;
    if (strcmp(argv[1], "missing") == 0) {
        bad |= expect("load", jft_load(&v, err, sizeof err), JFT_ERR_LIBRARY, err, "libnvinfer.so.10");
        bad |= expect("engine_load", jft_engine_load("x.engine", &e, err, sizeof err), JFT_ERR_LIBRARY, err,
                      "libnvinfer.so.10");
    } else if (strcmp(argv[1], "version") == 0) {
        bad |= expect("load", jft_load(&v, err, sizeof err), JFT_ERR_VERSION, err, "jamflow needs TensorRT 10");
    } else if (strcmp(argv[1], "old") == 0) {
        bad |= expect("load", jft_load(&v, err, sizeof err), JFT_ERR_VERSION, err, "older than the TensorRT 10.");
    } else if (strcmp(argv[1], "null") == 0) {
        bad |= expect("load", jft_load(&v, err, sizeof err), JFT_OK, err, NULL);
        FILE *f = fopen("shim_check.engine", "wb");
        if (!f) return 2;
        fputs("not an engine", f);
        fclose(f);
        bad |= expect("engine_load", jft_engine_load("shim_check.engine", &e, err, sizeof err), JFT_ERR_RUNTIME,
                      err, "createInferRuntime returned NULL");
        bad |= expect("build", jft_build("m.onnx", "m.engine", NULL, 0, NULL, 0, 0, NULL, err, sizeof err),
                      JFT_ERR_BUILD, err, "createInferBuilder returned NULL");
        bad |= expect("build flags", jft_build("m.onnx", "m.engine", NULL, 1, NULL, 0, 0, NULL, err, sizeof err),
                      JFT_ERR_ARG, err, "strongly typed");
        int64_t dims[9] = {0};
        bad |= expect("null engine", jft_engine_set_input_shape(NULL, "x", dims, 9, err, sizeof err), JFT_ERR_ARG,
                      err, "NULL engine");
        remove("shim_check.engine");
    } else {
        return 2;
    }
    return bad;
}
