/* Counter-based normal and uniform draws for matcalc.sampling: Philox4x32-10 bits, then a
 * Box-Muller transform written with IEEE basic operations only (+ - * / sqrt, exact conversions,
 * no fused multiply-add), so that every build of this file and the numpy reference in
 * matcalc/philox.py produce the same bits. matcalc/philox.py documents the algorithm; this file
 * is its fast path and must stay in step with it.
 *
 * Compiled with -ffp-contract=off (setup.py): a fused a*b+c would round once and change the bits.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* One build for every x86-64 CPU, each running the widest vectors it has: the loops below are
 * written for the autovectorizer (measured: 2x faster Philox on x86-64-v4 than on the default). */
/* target_clones needs ifunc: glibc has it, musl does not */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__GLIBC__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#define BLOCK 64 /* counters per block: 256 outputs */

static const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

/* Philox4x32-10 of counters (lo32(j), hi32(j), stream, 0) for j = first .. first + BLOCK - 1,
 * round by round over the block so that each round is one vectorizable loop. */
CLONES static void philox_block(uint64_t first, uint32_t stream, uint32_t key0, uint32_t key1,
                                uint32_t *restrict x0, uint32_t *restrict x1, uint32_t *restrict x2,
                                uint32_t *restrict x3) {
    for (int i = 0; i < BLOCK; i++) {
        uint64_t j = first + (uint64_t)i;
        x0[i] = (uint32_t)j; x1[i] = (uint32_t)(j >> 32); x2[i] = stream; x3[i] = 0;
    }
    uint32_t k0 = key0, k1 = key1;
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < BLOCK; i++) {
            uint64_t p0 = (uint64_t)M0 * x0[i], p1 = (uint64_t)M1 * x2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ x1[i] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ x3[i] ^ k1;
            x1[i] = (uint32_t)p1;
            x3[i] = (uint32_t)p0;
            x0[i] = n0;
            x2[i] = n2;
        }
        k0 += W0;
        k1 += W1;
    }
}

static inline float from_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/* Constants: float32 values, in hex so that they match matcalc/philox.py exactly. */
#define LN2 0x1.62e430p-1f
#define INV3 0x1.555556p-2f
#define INV5 0x1.99999ap-3f
#define INV7 0x1.24924ap-3f
#define INV9 0x1.c71c72p-4f
#define S1 0x1.921fb6p+0f
#define S3 -0x1.4abbcep-1f
#define S5 0x1.466bc6p-4f
#define S7 -0x1.32d2ccp-8f
#define S9 0x1.507834p-13f
#define C2 -0x1.3bd3ccp+0f
#define C4 0x1.03c1f0p-2f
#define C6 -0x1.55d3c8p-6f
#define C8 0x1.e1f506p-11f
#define C10 -0x1.a6d1f2p-16f

/* Two standard normals from two 32-bit words: radius from a, angle from b. */
CLONES static void box_muller(const uint32_t *restrict a, const uint32_t *restrict b, float *restrict z0,
                              float *restrict z1, int n) {
    for (int i = 0; i < n; i++) {
        float u = ((float)a[i] + 0.5f) * 0x1p-32f; /* (0, 1] */
        uint32_t bits = to_bits(u);
        int32_t e = (int32_t)(bits >> 23) - 127;
        uint32_t mb = (bits & 0x7FFFFFu) | 0x3F800000u;
        int big = mb > 0x3FB504F3u; /* mantissa above sqrt(2): halve it */
        mb = big ? mb - 0x00800000u : mb;
        e = big ? e + 1 : e;
        float m = from_bits(mb);
        float s = (m - 1.0f) / (m + 1.0f);
        float s2 = s * s;
        float t = INV9;
        t = t * s2 + INV7;
        t = t * s2 + INV5;
        t = t * s2 + INV3;
        float logm = (s + s * (s2 * t)) * 2.0f;
        float logu = (float)e * LN2 + logm;
        float w = logu * -2.0f;
        w = w > 0.0f ? w : 0.0f;
        float r = sqrtf(w);

        uint32_t k = b[i] >> 8;
        uint32_t q = k >> 22;
        float y = (float)((int32_t)(k & 0x3FFFFFu) - 0x200000) * 0x1p-22f; /* [-1/2, 1/2) */
        float y2 = y * y;
        float sn = S9;
        sn = sn * y2 + S7;
        sn = sn * y2 + S5;
        sn = sn * y2 + S3;
        sn = sn * y2 + S1;
        sn = sn * y;
        float cs = C10;
        cs = cs * y2 + C8;
        cs = cs * y2 + C6;
        cs = cs * y2 + C4;
        cs = cs * y2 + C2;
        cs = cs * y2 + 1.0f;
        /* angle (pi/2)(q + y): rotate (cos, sin) of (pi/2) y by q quarter turns */
        float c = (q & 1u) ? sn : cs;
        float d = (q & 1u) ? cs : sn;
        c = (q == 1u || q == 2u) ? -c : c;
        d = (q >= 2u) ? -d : d;
        z0[i] = r * c;
        z1[i] = r * d;
    }
}

CLONES static void uniform_words(const uint32_t *restrict x, float *restrict u, int n) {
    for (int i = 0; i < n; i++) u[i] = (float)(x[i] >> 8) * 0x1p-24f; /* [0, 1) */
}

CLONES static void widen(const float *restrict v, double *restrict o, Py_ssize_t n) {
    for (Py_ssize_t t = 0; t < n; t++) o[t] = (double)v[t];
}

/* out[0 .. n) = the stream's outputs from block `first` on. Block b is counters 64b .. 64b + 63;
 * its 256 outputs are word 0 of each counter, then word 1, word 2, word 3 (for normals: the
 * cosines of pairs (x0, x1), their sines, then the same for (x2, x3)). */
static void fill(int normal, uint64_t key, uint64_t first, Py_ssize_t n, char fmt, void *out) {
    uint32_t x[4][BLOCK];
    float v[4][BLOCK];
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (Py_ssize_t done = 0; done < n; first++) {
        philox_block(first * BLOCK, normal ? 0u : 1u, k0, k1, x[0], x[1], x[2], x[3]);
        if (normal) {
            box_muller(x[0], x[1], v[0], v[1], BLOCK);
            box_muller(x[2], x[3], v[2], v[3], BLOCK);
        } else {
            for (int w = 0; w < 4; w++) uniform_words(x[w], v[w], BLOCK);
        }
        Py_ssize_t take = n - done < 4 * BLOCK ? n - done : 4 * BLOCK;
        if (fmt == 'd')
            widen((const float *)v, (double *)out + done, take);
        else
            memcpy((float *)out + done, v, (size_t)take * sizeof(float));
        done += take;
    }
}

/* matcalc/philox.py checks key, first and the buffer before calling; the checks here only keep
 * a direct caller from writing out of bounds. */
static PyObject *draw(PyObject *args, int normal) {
    PyObject *target;
    Py_buffer buf;
    unsigned long long key, first;
    if (!PyArg_ParseTuple(args, "OKK", &target, &key, &first)) return NULL;
    if (PyObject_GetBuffer(target, &buf, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return NULL;
    const char *f = buf.format;
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    char fmt = f[0];
    if ((fmt != 'd' && fmt != 'f') || f[1] != '\0') {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_TypeError, "out must be a C-contiguous float64 or float32 buffer");
        return NULL;
    }
    Py_ssize_t n = buf.len / buf.itemsize;
    Py_BEGIN_ALLOW_THREADS
    fill(normal, (uint64_t)key, (uint64_t)first, n, fmt, buf.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    Py_RETURN_NONE;
}

static PyObject *normal(PyObject *self, PyObject *args) { (void)self; return draw(args, 1); }
static PyObject *uniform(PyObject *self, PyObject *args) { (void)self; return draw(args, 0); }

static PyMethodDef methods[] = {
    {"normal", normal, METH_VARARGS, "normal(out, key, first_block): fill out with N(0, 1) draws."},
    {"uniform", uniform, METH_VARARGS, "uniform(out, key, first_block): fill out with U[0, 1) draws."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_philox", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__philox(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    /* no shared state: safe without the GIL on free-threaded builds */
    if (m != NULL) PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
