/* The masking kernel in C (RFC 6455 5.3): the compiled twin of the
 * pure-Python functions in _mask.py, with the same signatures and results
 * (tests/core/test_mask.py checks one against the other). Optional: when it
 * is not built, or TRIO_WS_NO_EXTENSIONS=1, _mask.py uses its own code.
 *
 *   mask(data, key) -> bytes           data XORed with the 4-byte key
 *   mask_in_place(buf, start, end, key) XOR buf[start:end] in place
 *   mask_slice(buf, start, end, key) -> bytes
 *                                      buf[start:end] XORed with the key
 *   mask_join(pieces, length, key, start) -> bytes
 *                                      the first length bytes of the pieces
 *                                      joined, those from start on XORed
 *
 * mask_slice and mask_join read their input and write the result in one
 * pass (their pure-Python twins may leave the input unmasked in place).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The key repeated to eight bytes, as one word. */
static uint64_t
word_of(const unsigned char *key)
{
    unsigned char k8[8];
    uint64_t word_key;

    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&word_key, k8, 8);
    return word_key;
}

/* XOR n bytes of src with the key repeated from its first byte, into dst
 * (which does not overlap src). Eight bytes at a time through memcpy,
 * which compilers turn into plain (unaligned-safe) loads and stores, and
 * vectorize (restrict: without an overlap check). */
static void
xor_copy(unsigned char *restrict dst, const unsigned char *restrict src,
         Py_ssize_t n, const unsigned char *key)
{
    uint64_t word_key = word_of(key);
    Py_ssize_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= word_key;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
}

/* The same in place, over one pointer: a two-pointer loop called with dst
 * equal to src fails the compiler's overlap check and runs its scalar
 * fallback (measured: 1.7x slower for 1 MiB). */
static void
xor_in_place(unsigned char *buf, Py_ssize_t n, const unsigned char *key)
{
    uint64_t word_key = word_of(key);
    Py_ssize_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        w ^= word_key;
        memcpy(buf + i, &w, 8);
    }
    for (; i < n; i++) {
        buf[i] ^= key[i & 3];
    }
}

static int
get_key(PyObject *obj, unsigned char key[4])
{
    Py_buffer view;

    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (view.len != 4) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "the masking key must be 4 bytes");
        return -1;
    }
    memcpy(key, view.buf, 4);
    PyBuffer_Release(&view);
    return 0;
}

static PyObject *
cmask_mask(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data;
    unsigned char key[4];
    PyObject *result;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "mask() takes data and key");
        return NULL;
    }
    if (get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL) {
        xor_copy((unsigned char *)PyBytes_AS_STRING(result),
                (const unsigned char *)data.buf, data.len, key);
    }
    PyBuffer_Release(&data);
    return result;
}

/* The arguments (buf, start, end, key) of mask_in_place() and
 * mask_slice(): fills buf (the caller releases it), start, end and key.
 * -1 with an exception set when they are wrong (buf then not held). */
static int
get_region(PyObject *const *args, Py_ssize_t nargs, const char *usage,
           int flags, Py_buffer *buf, Py_ssize_t *start, Py_ssize_t *end,
           unsigned char key[4])
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    *start = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (*start == -1 && PyErr_Occurred()) {
        return -1;
    }
    *end = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (*end == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (get_key(args[3], key) < 0) {
        return -1;
    }
    if (PyObject_GetBuffer(args[0], buf, flags) < 0) {
        return -1;
    }
    if (*start < 0 || *end > buf->len || *start > *end) {
        PyBuffer_Release(buf);
        PyErr_SetString(PyExc_ValueError, "start and end must be within buf");
        return -1;
    }
    return 0;
}

static PyObject *
cmask_mask_in_place(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    unsigned char key[4];
    Py_ssize_t start, end;

    if (get_region(args, nargs, "mask_in_place() takes buf, start, end and key",
                   PyBUF_WRITABLE, &buf, &start, &end, key) < 0) {
        return NULL;
    }
    xor_in_place((unsigned char *)buf.buf + start, end - start, key);
    PyBuffer_Release(&buf);
    Py_RETURN_NONE;
}

/* The key rotated to start at byte ``phase`` (0 to 3) of it. */
static void
rotate_key(unsigned char dst[4], const unsigned char key[4], Py_ssize_t phase)
{
    int i;

    for (i = 0; i < 4; i++) {
        dst[i] = key[(i + phase) & 3];
    }
}

static PyObject *
cmask_mask_slice(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    unsigned char key[4];
    Py_ssize_t start, end;
    PyObject *result;

    if (get_region(args, nargs, "mask_slice() takes buf, start, end and key",
                   PyBUF_SIMPLE, &buf, &start, &end, key) < 0) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, end - start);
    if (result != NULL) {
        xor_copy((unsigned char *)PyBytes_AS_STRING(result),
                (const unsigned char *)buf.buf + start, end - start, key);
    }
    PyBuffer_Release(&buf);
    return result;
}

static PyObject *
cmask_mask_join(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *result = NULL;
    PyObject **items;
    Py_ssize_t length, start, count, i, done = 0;
    unsigned char key[4], turned[4];
    unsigned char *out;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "mask_join() takes pieces, length, key and start");
        return NULL;
    }
    length = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (get_key(args[2], key) < 0) {
        return NULL;
    }
    start = PyNumber_AsSsize_t(args[3], PyExc_OverflowError);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (length < 0 || start < 0) {
        PyErr_SetString(PyExc_ValueError, "length and start must be >= 0");
        return NULL;
    }
    seq = PySequence_Fast(args[0], "mask_join() needs a sequence of pieces");
    if (seq == NULL) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, length);
    if (result == NULL) {
        goto done;
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    count = PySequence_Fast_GET_SIZE(seq);
    items = PySequence_Fast_ITEMS(seq);
    for (i = 0; i < count && done < length; i++) {
        Py_buffer piece;
        Py_ssize_t n, copied;
        const unsigned char *src;

        if (PyObject_GetBuffer(items[i], &piece, PyBUF_SIMPLE) < 0) {
            Py_CLEAR(result);
            goto done;
        }
        n = piece.len < length - done ? piece.len : length - done;
        src = (const unsigned char *)piece.buf;
        /* Before ``start``: copied as it is; from there on: XORed. */
        copied = start > done ? start - done : 0;
        if (copied > n) {
            copied = n;
        }
        memcpy(out + done, src, copied);
        if (copied < n) {
            rotate_key(turned, key, (done + copied) & 3);
            xor_copy(out + done + copied, src + copied, n - copied, turned);
        }
        done += n;
        PyBuffer_Release(&piece);
    }
    if (done < length) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "the pieces hold fewer than length bytes");
    }
done:
    Py_DECREF(seq);
    return result;
}

static PyMethodDef cmask_methods[] = {
    {"mask", (PyCFunction)(void (*)(void))cmask_mask, METH_FASTCALL,
     "mask(data, key) -> bytes: data XORed with the 4-byte key."},
    {"mask_in_place", (PyCFunction)(void (*)(void))cmask_mask_in_place,
     METH_FASTCALL,
     "mask_in_place(buf, start, end, key): XOR buf[start:end] in place."},
    {"mask_slice", (PyCFunction)(void (*)(void))cmask_mask_slice, METH_FASTCALL,
     "mask_slice(buf, start, end, key) -> bytes: buf[start:end] XORed."},
    {"mask_join", (PyCFunction)(void (*)(void))cmask_mask_join, METH_FASTCALL,
     "mask_join(pieces, length, key, start) -> bytes: the first length bytes\n"
     "of the pieces joined, those at offsets start and later XORed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cmask_module = {
    PyModuleDef_HEAD_INIT, "_cmask",
    "The masking kernel in C (see _mask.py for its pure-Python twin).", 0,
    cmask_methods,
};

PyMODINIT_FUNC
PyInit__cmask(void)
{
    return PyModuleDef_Init(&cmask_module);
}
