/* Compiled CPU loops for matcalc.fast, where a loop of small torch ops costs more in dispatch
 * than the memory traffic it does. Optional: without it matcalc.fast uses its torch tile loop,
 * which computes the same values (each entry is one addition, A[i][j] + A[j][i]).
 *
 * symmetric_sum(a, out, first, step): out = A + A^T for the rows of T x T tiles
 * first, first + step, ... (tiles i <= j of each tile row, each written to (i, j) and (j, i)), so
 * that `step` threads calling it with first = 0 .. step - 1 cover the matrix once. Both buffers
 * are C-contiguous n x n float64 or float32 of the same type; the GIL is released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#ifndef T
#define T 64 /* tile edge: two float64 tiles and the result fit a 128 KiB L2 slice */
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#define PAD 8 /* the local tiles' rows are T + PAD long: at a power-of-two stride they would share cache sets */

/* dst[c][r] = src[r * n + c] for r < rows, c < cols, in 8 x 8 blocks: each block reads 8 cache
 * lines of src and writes 8 of dst. Columns of a tile read directly would each touch another row
 * of A, n entries apart: at n = 8192 every one of them maps to the same cache set. */
#define TRANSPOSE(NAME, TYPE)                                                                       \
    static inline void NAME(const TYPE *restrict src, Py_ssize_t n, Py_ssize_t rows,              \
                            Py_ssize_t cols, TYPE dst[T][T + PAD]) {                               \
        for (Py_ssize_t r0 = 0; r0 < rows; r0 += 8)                                                \
            for (Py_ssize_t c0 = 0; c0 < cols; c0 += 8) {                                          \
                Py_ssize_t r1 = r0 + 8 < rows ? r0 + 8 : rows, c1 = c0 + 8 < cols ? c0 + 8 : cols; \
                for (Py_ssize_t r = r0; r < r1; r++)                                               \
                    for (Py_ssize_t c = c0; c < c1; c++) dst[c][r] = src[r * n + c];               \
            }                                                                                      \
    }

/* out[i0 + r][j0 + c] = A[i0 + r][j0 + c] + A[j0 + c][i0 + r] for the tile pair (i, j), and the
 * mirrored tile as A[j0 + c][i0 + r] + A[i0 + r][j0 + c]: the same sum, exactly. Every output row
 * is written with contiguous, vectorizable adds of a row of A and a row of a transposed tile. */
#define SYMMETRIC_SUM(NAME, TRANSPOSE_NAME, TYPE)                                                   \
    CLONES static void NAME(const TYPE *restrict a, TYPE *restrict out, Py_ssize_t n,             \
                            Py_ssize_t first, Py_ssize_t step) {                                   \
        static _Thread_local TYPE ta[T][T + PAD], tb[T][T + PAD];                                  \
        Py_ssize_t tiles = (n + T - 1) / T;                                                        \
        for (Py_ssize_t ti = first; ti < tiles; ti += step) {                                      \
            Py_ssize_t i0 = ti * T, ni = n - i0 < T ? n - i0 : T;                                   \
            for (Py_ssize_t j0 = i0; j0 < n; j0 += T) {                                            \
                Py_ssize_t nj = n - j0 < T ? n - j0 : T;                                           \
                TRANSPOSE_NAME(a + j0 * n + i0, n, nj, ni, tb); /* tb[r][c] = A[j0 + c][i0 + r] */  \
                for (Py_ssize_t r = 0; r < ni; r++) {                                              \
                    const TYPE *src = a + (i0 + r) * n + j0;                                       \
                    TYPE *dst = out + (i0 + r) * n + j0;                                           \
                    for (Py_ssize_t c = 0; c < nj; c++) dst[c] = src[c] + tb[r][c];                \
                }                                                                                  \
                if (j0 == i0) continue;                                                            \
                TRANSPOSE_NAME(a + i0 * n + j0, n, ni, nj, ta); /* ta[c][r] = A[i0 + r][j0 + c] */  \
                for (Py_ssize_t c = 0; c < nj; c++) {                                              \
                    const TYPE *src = a + (j0 + c) * n + i0;                                       \
                    TYPE *dst = out + (j0 + c) * n + i0;                                           \
                    for (Py_ssize_t r = 0; r < ni; r++) dst[r] = src[r] + ta[c][r];                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

TRANSPOSE(transpose_f64, double)
TRANSPOSE(transpose_f32, float)
SYMMETRIC_SUM(symmetric_sum_f64, transpose_f64, double)
SYMMETRIC_SUM(symmetric_sum_f32, transpose_f32, float)

static char format_of(const Py_buffer *b) {
    const char *f = b->format;
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    return (f[0] == 'd' || f[0] == 'f') && f[1] == '\0' ? f[0] : 0;
}

static PyObject *symmetric_sum(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *source, *target;
    Py_ssize_t first, step;
    if (!PyArg_ParseTuple(args, "OOnn", &source, &target, &first, &step)) return NULL;
    Py_buffer a, out;
    if (PyObject_GetBuffer(source, &a, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(target, &out, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    char fmt = format_of(&a);
    int square = a.ndim == 2 && a.shape[0] == a.shape[1];
    int same = out.ndim == 2 && out.shape[0] == a.shape[0] && out.shape[1] == a.shape[0] &&
               format_of(&out) == fmt;
    if (!fmt || !square || !same || first < 0 || step < 1 || a.buf == out.buf) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "symmetric_sum needs a square C-contiguous float64 or float32 "
                                          "a, a distinct out of the same shape and type, first >= 0, "
                                          "step >= 1");
        return NULL;
    }
    Py_ssize_t n = a.shape[0];
    Py_BEGIN_ALLOW_THREADS
    if (fmt == 'd')
        symmetric_sum_f64((const double *)a.buf, (double *)out.buf, n, first, step);
    else
        symmetric_sum_f32((const float *)a.buf, (float *)out.buf, n, first, step);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&a);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"symmetric_sum", symmetric_sum, METH_VARARGS,
     "symmetric_sum(a, out, first, step): out = a + a.T on the tile rows first, first + step, ..."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcpu", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fastcpu(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    if (m != NULL) PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
