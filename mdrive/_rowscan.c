/* Thermo-row scanner for mdrive.logs, in C because no library reads whitespace-padded numeric rows and
 * stops cleanly at the first line that is not one: Arrow and polars need a one-byte delimiter, pandas and
 * numpy stop with an exception, and a per-line Python loop runs at ~20 MB/s.
 *
 * scan(buffer, start, stop, ncols) -> (values: bytearray of float64, rows, end)
 * reads whole lines from `start` (a line start) while each holds exactly `ncols` numbers; `end` is the
 * start of the first line that does not (or of a last line with no newline, which is torn), or of the
 * next row where the output is full. Numbers are
 * what Python's float() takes, bar underscores: decimal with optional sign, fraction and exponent, or
 * nan / inf / infinity. Exactness: up to 19 significant digits and |exponent| <= 22 go through one IEEE
 * multiply or divide of exact operands (correctly rounded); anything else through strtod.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* byte classes: a number ends at a blank or a newline */
enum { OTHER, BLANK, NEWLINE };
static unsigned char CLASS[256];

static void init_classes(void) {
    CLASS[' '] = CLASS['\t'] = CLASS['\r'] = CLASS['\v'] = CLASS['\f'] = BLANK;
    CLASS['\n'] = NEWLINE;
}

/* p..limit starts with `word` (lower case, matched case-insensitively) and the token ends there */
static const char *after_word(const char *p, const char *limit, const char *word) {
    for (; *word; word++, p++)
        if (p == limit || (*p | 0x20) != *word) return NULL;
    return p;
}

/* The number at p to *out; returns the byte after it, or NULL if the token there is not a number.
 * Read in one pass with the scan (no separate tokenising), which is most of this file's speed. */
static const char *parse_number(const char *p, const char *limit, double *out) {
    const char *token = p;
    int negative = 0;
    if (p < limit && (*p == '+' || *p == '-')) negative = (*p++ == '-');
    uint64_t mantissa = 0;
    int significant = 0, exp10 = 0, digits = 0, exact = 1;
    for (; p < limit && (unsigned)(*p - '0') < 10; p++, digits++) {
        if (significant < 19) {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            significant += mantissa != 0;
        } else {
            exact = 0;
        }
    }
    if (p < limit && *p == '.') {
        for (p++; p < limit && (unsigned)(*p - '0') < 10; p++, digits++) {
            if (significant < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                significant += mantissa != 0;
                exp10--;
            } else {
                exact = 0;
            }
        }
    }
    if (digits == 0) {
        const char *end;
        if ((end = after_word(p, limit, "nan")) != NULL) *out = NAN;
        else if ((end = after_word(p, limit, "infinity")) != NULL || (end = after_word(p, limit, "inf")) != NULL)
            *out = INFINITY;
        else return NULL;
        if (end < limit && CLASS[(unsigned char)*end] == OTHER) return NULL;
        if (negative) *out = -*out;
        return end;
    }
    if (p < limit && (*p == 'e' || *p == 'E')) {
        int exp_negative = 0, exp_digits = 0;
        long e = 0;
        p++;
        if (p < limit && (*p == '+' || *p == '-')) exp_negative = (*p++ == '-');
        for (; p < limit && (unsigned)(*p - '0') < 10; p++, exp_digits++)
            if (e < 100000) e = e * 10 + (*p - '0');
        if (exp_digits == 0) return NULL;
        exp10 += (int)(exp_negative ? -e : e);
    }
    if (p < limit && CLASS[(unsigned char)*p] == OTHER) return NULL;
    if (exact && mantissa <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double m = (double)mantissa;
        *out = exp10 < 0 ? m / POW10[-exp10] : m * POW10[exp10];
        if (negative) *out = -*out;
    } else {
        char copy[512];
        size_t n = (size_t)(p - token);
        if (n >= sizeof copy) return NULL;
        memcpy(copy, token, n);
        copy[n] = '\0';
        *out = strtod(copy, NULL);  /* keeps the sign itself */
    }
    return p;
}

/* The line at *p into row[0..ncols): 1 and *p past its newline if it holds exactly ncols numbers. */
static int parse_row(const char **line, const char *limit, Py_ssize_t ncols, double *row) {
    const char *p = *line;
    Py_ssize_t k = 0;
    uint64_t word;
    for (;;) {
        /* thermo columns are padded with runs of spaces: pass them eight at a time */
        while (limit - p >= 8 && (memcpy(&word, p, 8), word == 0x2020202020202020ULL)) p += 8;
        while (p < limit && CLASS[(unsigned char)*p] == BLANK) p++;
        if (p == limit) return 0;  /* no newline: a torn last line */
        if (*p == '\n') {
            *line = p + 1;
            return k == ncols;
        }
        if (k == ncols || (p = parse_number(p, limit, &row[k++])) == NULL) return 0;
    }
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer buffer;
    Py_ssize_t start, stop, ncols;
    if (!PyArg_ParseTuple(args, "y*nnn", &buffer, &start, &stop, &ncols)) return NULL;
    if (stop > buffer.len) stop = buffer.len;
    const char *text = (const char *)buffer.buf;
    /* room for as many rows as lines of the first one's length fit (thermo rows are near-equal); a
     * caller whose rows run past that calls again from `end` */
    Py_ssize_t capacity = 0, rows = 0, pos = start;
    if (start >= 0 && ncols > 0 && start < stop) {
        const char *eol = memchr(text + start, '\n', (size_t)(stop - start));
        capacity = eol == NULL ? 0 : (stop - start) / (eol - (text + start) + 1) + 1;
    }
    PyObject *out = PyByteArray_FromStringAndSize(NULL, capacity * ncols * (Py_ssize_t)sizeof(double));
    if (out == NULL) {
        PyBuffer_Release(&buffer);
        return NULL;
    }
    double *values = (double *)PyByteArray_AS_STRING(out);  /* a bytearray: numpy's view is writable */
    Py_BEGIN_ALLOW_THREADS
    while (rows < capacity) {
        const char *line = text + pos;
        if (!parse_row(&line, text + stop, ncols, values + rows * ncols)) break;
        rows++;
        pos = line - text;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buffer);
    if (PyByteArray_Resize(out, rows * ncols * (Py_ssize_t)sizeof(double)) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return Py_BuildValue("(Nnn)", out, rows, pos);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "scan(buffer, start, stop, ncols) -> (float64 bytearray, rows, end)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rowscan(void) {
    init_classes();
    return PyModule_Create(&module);
}
