/* Compiled CPU loops for matcalc.fast, where a loop of small torch ops costs more in dispatch
 * than the memory traffic it does. Optional: without it matcalc.fast uses its torch tile loop,
 * which computes the same values (each entry is one addition, A[i][j] + A[j][i]).
 *
 * symmetric_sum(a, out, first, step): out = A + A^T for the rows of T x T tiles
 * first, first + step, ... (tiles i <= j of each tile row, each written to (i, j) and (j, i)), so
 * that `step` threads calling it with first = 0 .. step - 1 cover the matrix once. Both buffers
 * are C-contiguous n x n float64 or float32 of the same type; the GIL is released.
 *
 * quadratic_gradient(a, x, ax, share, first, step): for the blocks of ROWS rows first, first + step,
 * ...: ax[i] = sum_j A[i][j] x[j], and share += x[i] A[i][:] (this thread's part of A^T x), each
 * row read once for both. The caller adds the threads' shares to ax.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#ifndef T
#define T 64 /* tile edge: two float64 tiles and the result fit a 128 KiB L2 slice */
#endif

/* target_clones needs ifunc: glibc has it, musl does not */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__GLIBC__)
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

#define ROWS 32

/* Four rows at a time, eight running sums per row in lanes (a vectorizable dot product that needs
 * no reassociation): each pass over `share` serves four rows of A. */
#define QUADRATIC_GRADIENT(NAME, TYPE)                                                              \
    CLONES static void NAME(const TYPE *restrict a, const TYPE *restrict x, TYPE *restrict ax,    \
                            TYPE *restrict share, Py_ssize_t n, Py_ssize_t first, Py_ssize_t step) { \
        Py_ssize_t body = n - n % 8;                                                               \
        for (Py_ssize_t i0 = first * ROWS; i0 < n; i0 += step * ROWS) {                            \
            Py_ssize_t i1 = i0 + ROWS < n ? i0 + ROWS : n;                                          \
            Py_ssize_t i = i0;                                                                     \
            for (; i + 4 <= i1; i += 4) {                                                          \
                const TYPE *r0 = a + i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;              \
                TYPE x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];                       \
                TYPE l0[8] = {0}, l1[8] = {0}, l2[8] = {0}, l3[8] = {0};                           \
                for (Py_ssize_t j = 0; j < body; j += 8)                                           \
                    for (int k = 0; k < 8; k++) {                                                  \
                        TYPE xj = x[j + k], v0 = r0[j + k], v1 = r1[j + k], v2 = r2[j + k],        \
                             v3 = r3[j + k];                                                       \
                        l0[k] += v0 * xj;                                                          \
                        l1[k] += v1 * xj;                                                          \
                        l2[k] += v2 * xj;                                                          \
                        l3[k] += v3 * xj;                                                          \
                        share[j + k] += ((x0 * v0 + x1 * v1) + (x2 * v2 + x3 * v3));               \
                    }                                                                              \
                TYPE d[4];                                                                         \
                TYPE *ls[4] = {l0, l1, l2, l3};                                                    \
                for (int q = 0; q < 4; q++)                                                        \
                    d[q] = ((ls[q][0] + ls[q][1]) + (ls[q][2] + ls[q][3])) +                       \
                           ((ls[q][4] + ls[q][5]) + (ls[q][6] + ls[q][7]));                        \
                for (Py_ssize_t j = body; j < n; j++) {                                            \
                    d[0] += r0[j] * x[j];                                                          \
                    d[1] += r1[j] * x[j];                                                          \
                    d[2] += r2[j] * x[j];                                                          \
                    d[3] += r3[j] * x[j];                                                          \
                    share[j] += ((x0 * r0[j] + x1 * r1[j]) + (x2 * r2[j] + x3 * r3[j]));           \
                }                                                                                  \
                ax[i] = d[0]; ax[i + 1] = d[1]; ax[i + 2] = d[2]; ax[i + 3] = d[3];                \
            }                                                                                      \
            for (; i < i1; i++) {                                                                  \
                const TYPE *row = a + i * n;                                                       \
                TYPE xi = x[i], dot = 0;                                                           \
                for (Py_ssize_t j = 0; j < n; j++) {                                               \
                    dot += row[j] * x[j];                                                          \
                    share[j] += xi * row[j];                                                       \
                }                                                                                  \
                ax[i] = dot;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }

QUADRATIC_GRADIENT(quadratic_gradient_f64, double)
QUADRATIC_GRADIENT(quadratic_gradient_f32, float)

/* Whether two buffers share any byte: the loops' restrict pointers promise they do not. */
static int overlap(const Py_buffer *p, const Py_buffer *q) {
    const char *a = (const char *)p->buf, *b = (const char *)q->buf;
    return a < b + q->len && b < a + p->len;
}

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
    if (!fmt || !square || !same || first < 0 || step < 1 || overlap(&a, &out)) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "symmetric_sum needs a square C-contiguous float64 or float32 "
                                          "a, an out of the same shape and type sharing no memory with "
                                          "it, first >= 0, step >= 1");
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

static int vector_like(const Py_buffer *b, const Py_buffer *a, char fmt) {
    return b->ndim == 1 && b->shape[0] == a->shape[0] && format_of(b) == fmt;
}

static PyObject *quadratic_gradient(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objs[4];
    Py_ssize_t first, step;
    if (!PyArg_ParseTuple(args, "OOOOnn", &objs[0], &objs[1], &objs[2], &objs[3], &first, &step))
        return NULL;
    Py_buffer b[4];
    int got = 0;
    for (; got < 4; got++) {
        int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (got >= 2 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[got], &b[got], flags) < 0) break;
    }
    int ok = got == 4;
    if (ok) {
        char fmt = format_of(&b[0]);
        ok = fmt && b[0].ndim == 2 && b[0].shape[0] == b[0].shape[1] && vector_like(&b[1], &b[0], fmt) &&
             vector_like(&b[2], &b[0], fmt) && vector_like(&b[3], &b[0], fmt) && first >= 0 && step >= 1;
        for (int p = 2; ok && p < 4; p++)  /* the written buffers touch no other */
            for (int q = 0; q < 4; q++)
                if (q != p && overlap(&b[p], &b[q])) ok = 0;
        if (!ok)
            PyErr_SetString(PyExc_ValueError, "quadratic_gradient needs a square C-contiguous float64 or "
                                              "float32 a, and x, ax, share: contiguous vectors of its size "
                                              "and type, ax and share sharing no memory with any other; "
                                              "first >= 0, step >= 1");
    }
    if (ok) {
        Py_ssize_t n = b[0].shape[0];
        char fmt = format_of(&b[0]);
        Py_BEGIN_ALLOW_THREADS
        if (fmt == 'd')
            quadratic_gradient_f64((const double *)b[0].buf, (const double *)b[1].buf, (double *)b[2].buf,
                                   (double *)b[3].buf, n, first, step);
        else
            quadratic_gradient_f32((const float *)b[0].buf, (const float *)b[1].buf, (float *)b[2].buf,
                                   (float *)b[3].buf, n, first, step);
        Py_END_ALLOW_THREADS
    }
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"symmetric_sum", symmetric_sum, METH_VARARGS,
     "symmetric_sum(a, out, first, step): out = a + a.T on the tile rows first, first + step, ..."},
    {"quadratic_gradient", quadratic_gradient, METH_VARARGS,
     "quadratic_gradient(a, x, ax, share, first, step): ax = A x and share += A^T x on the row blocks "
     "first, first + step, ..."},
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
