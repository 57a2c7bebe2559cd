/*
 * jamflow_trt_mock.c: a host-memory implementation of jamflow_trt.h for CI (cargo feature
 * `tensorrt-mock`). It builds no engine: `jft_build` checks its arguments and writes a small text file
 * recording the optimization profile; `jft_engine_load` reads it back. The "network" it runs is fixed
 * and easy to check: every input `noisy_<s>` (F32) yields an output `<s>_velocity` = 2 * input, so
 * the Rust side's shapes, bindings, copies and errors are exercised end to end.
 * Device pointers are host pointers here. Set JFT_MOCK_NO_LIBRARY=1 to simulate missing libraries.
 */
#include "jamflow_trt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 32
#define NAME_LEN 64

typedef struct {
    char name[NAME_LEN];
    int32_t is_input, dtype, nb;
    int64_t min[JFT_MAX_DIMS], max[JFT_MAX_DIMS], cur[JFT_MAX_DIMS];
    int32_t shape_set;
    void *ptr;
    int32_t src; /* for outputs: index of the input it doubles */
} io_t;

struct jft_engine {
    int32_t n;
    io_t io[MAX_IO];
};

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static int32_t dtype_of(const char *name) {
    if (strcmp(name, "text") == 0) return JFT_I64;
    if (strstr(name, "mask") || strcmp(name, "uncond") == 0 || strcmp(name, "motion_known") == 0) return JFT_BOOL;
    return JFT_F32;
}

int32_t jft_abi_version(void) { return JFT_ABI_VERSION; }

int32_t jft_load(int32_t *version, char *err, size_t err_len) {
    const char *no = getenv("JFT_MOCK_NO_LIBRARY");
    if (no && *no == '1') {
        set_err(err, err_len, "dlopen libnvinfer.so.10: cannot open shared object file (mock)");
        return JFT_ERR_LIBRARY;
    }
    if (version) *version = 100300; /* TensorRT 10.3.0 as on JetPack 6 */
    return JFT_OK;
}

int32_t jft_build(const char *onnx_path, const char *engine_path, const char *timing_cache_path, uint32_t flags,
                  const jft_profile_dim *dims, int32_t n_dims, uint64_t workspace_bytes, char *err,
                  size_t err_len) {
    (void)workspace_bytes;
    int32_t v;
    int32_t rc = jft_load(&v, err, err_len);
    if (rc != JFT_OK) return rc;
    FILE *f = fopen(onnx_path, "rb");
    if (!f) {
        set_err(err, err_len, "%s: cannot open ONNX file", onnx_path);
        return JFT_ERR_IO;
    }
    fclose(f);
    if (n_dims <= 0 || n_dims > MAX_IO) {
        set_err(err, err_len, "%d profile inputs (expected 1..%d)", n_dims, MAX_IO);
        return JFT_ERR_ARG;
    }
    FILE *o = fopen(engine_path, "wb");
    if (!o) {
        set_err(err, err_len, "%s: cannot write engine", engine_path);
        return JFT_ERR_IO;
    }
    fprintf(o, "JFTMOCK1 %u %d\n", flags, n_dims);
    for (int32_t i = 0; i < n_dims; i++) {
        const jft_profile_dim *d = &dims[i];
        if (d->nb_dims <= 0 || d->nb_dims > JFT_MAX_DIMS || strlen(d->name) >= NAME_LEN) {
            fclose(o);
            set_err(err, err_len, "input `%s`: bad rank %d", d->name, d->nb_dims);
            return JFT_ERR_ARG;
        }
        fprintf(o, "%s %d", d->name, d->nb_dims);
        for (int32_t k = 0; k < d->nb_dims; k++) {
            if (d->min[k] > d->opt[k] || d->opt[k] > d->max[k]) {
                fclose(o);
                set_err(err, err_len, "input `%s` dim %d: min %lld <= opt %lld <= max %lld violated", d->name, k,
                        (long long)d->min[k], (long long)d->opt[k], (long long)d->max[k]);
                return JFT_ERR_ARG;
            }
            fprintf(o, " %lld %lld", (long long)d->min[k], (long long)d->max[k]);
        }
        fprintf(o, "\n");
    }
    fclose(o);
    if (timing_cache_path) {
        FILE *t = fopen(timing_cache_path, "wb");
        if (t) {
            fputs("mock timing cache\n", t);
            fclose(t);
        }
    }
    return JFT_OK;
}

int32_t jft_engine_load(const char *engine_path, jft_engine **out, char *err, size_t err_len) {
    FILE *f = fopen(engine_path, "rb");
    if (!f) {
        set_err(err, err_len, "%s: cannot open engine", engine_path);
        return JFT_ERR_IO;
    }
    unsigned flags;
    int n;
    if (fscanf(f, "JFTMOCK1 %u %d\n", &flags, &n) != 2 || n <= 0 || n > MAX_IO / 2) {
        fclose(f);
        set_err(err, err_len, "%s: not a (mock) engine", engine_path);
        return JFT_ERR_RUNTIME;
    }
    jft_engine *e = calloc(1, sizeof(jft_engine));
    for (int i = 0; i < n; i++) {
        io_t *x = &e->io[e->n];
        if (fscanf(f, "%63s %d", x->name, &x->nb) != 2 || x->nb <= 0 || x->nb > JFT_MAX_DIMS) goto bad;
        for (int k = 0; k < x->nb; k++) {
            long long a, b;
            if (fscanf(f, " %lld %lld", &a, &b) != 2) goto bad;
            x->min[k] = a;
            x->max[k] = b;
        }
        x->is_input = 1;
        x->dtype = dtype_of(x->name);
        e->n++;
    }
    fclose(f);
    /* Outputs: <s>_velocity for every noisy_<s>. */
    int32_t ninputs = e->n;
    for (int32_t i = 0; i < ninputs; i++) {
        if (strncmp(e->io[i].name, "noisy_", 6) != 0) continue;
        char out_name[NAME_LEN + 16];
        snprintf(out_name, sizeof out_name, "%s_velocity", e->io[i].name + 6);
        if (strlen(out_name) >= NAME_LEN) continue; /* too long for the mock: no output */
        io_t *o = &e->io[e->n++];
        memcpy(o->name, out_name, strlen(out_name) + 1);
        o->is_input = 0;
        o->dtype = JFT_F32;
        o->src = i;
    }
    *out = e;
    return JFT_OK;
bad:
    fclose(f);
    free(e);
    set_err(err, err_len, "%s: truncated (mock) engine", engine_path);
    return JFT_ERR_RUNTIME;
}

void jft_engine_free(jft_engine *e) { free(e); }

int32_t jft_engine_io_count(const jft_engine *e) { return e->n; }

int32_t jft_engine_io(const jft_engine *e, int32_t index, const char **name, int32_t *is_input, int32_t *dtype) {
    if (index < 0 || index >= e->n) return JFT_ERR_ARG;
    *name = e->io[index].name;
    *is_input = e->io[index].is_input;
    *dtype = e->io[index].dtype;
    return JFT_OK;
}

static io_t *find(jft_engine *e, const char *name) {
    for (int32_t i = 0; i < e->n; i++)
        if (strcmp(e->io[i].name, name) == 0) return &e->io[i];
    return NULL;
}

int32_t jft_engine_set_input_shape(jft_engine *e, const char *name, const int64_t *dims, int32_t nb_dims,
                                   char *err, size_t err_len) {
    io_t *x = find(e, name);
    if (!x || !x->is_input) {
        set_err(err, err_len, "no input `%s` in the engine", name);
        return JFT_ERR_ARG;
    }
    if (nb_dims != x->nb) {
        set_err(err, err_len, "input `%s`: rank %d, the engine expects %d", name, nb_dims, x->nb);
        return JFT_ERR_ARG;
    }
    for (int32_t k = 0; k < nb_dims; k++) {
        if (dims[k] < x->min[k] || dims[k] > x->max[k]) {
            set_err(err, err_len, "input `%s` dim %d = %lld outside the profile [%lld, %lld]", name, k,
                    (long long)dims[k], (long long)x->min[k], (long long)x->max[k]);
            return JFT_ERR_ARG;
        }
        x->cur[k] = dims[k];
    }
    x->shape_set = 1;
    return JFT_OK;
}

int32_t jft_engine_get_shape(const jft_engine *e, const char *name, int64_t *dims, int32_t *nb_dims) {
    io_t *x = find((jft_engine *)e, name);
    if (!x) return JFT_ERR_ARG;
    const io_t *s = x->is_input ? x : &e->io[x->src];
    if (!s->shape_set) return JFT_ERR_ARG;
    *nb_dims = s->nb;
    for (int32_t k = 0; k < s->nb; k++) dims[k] = s->cur[k];
    return JFT_OK;
}

int32_t jft_engine_set_address(jft_engine *e, const char *name, void *device_ptr) {
    io_t *x = find(e, name);
    if (!x) return JFT_ERR_ARG;
    x->ptr = device_ptr;
    return JFT_OK;
}

int32_t jft_engine_enqueue(jft_engine *e, void *stream, char *err, size_t err_len) {
    (void)stream;
    for (int32_t i = 0; i < e->n; i++) {
        io_t *x = &e->io[i];
        if (!x->ptr) {
            set_err(err, err_len, "tensor `%s` has no bound address", x->name);
            return JFT_ERR_ARG;
        }
        if (x->is_input && !x->shape_set) {
            set_err(err, err_len, "input `%s` has no shape", x->name);
            return JFT_ERR_ARG;
        }
    }
    for (int32_t i = 0; i < e->n; i++) {
        io_t *o = &e->io[i];
        if (o->is_input) continue;
        const io_t *s = &e->io[o->src];
        int64_t n = 1;
        for (int32_t k = 0; k < s->nb; k++) n *= s->cur[k];
        const float *in = (const float *)s->ptr;
        float *out = (float *)o->ptr;
        for (int64_t j = 0; j < n; j++) out[j] = 2.0f * in[j];
    }
    return JFT_OK;
}
