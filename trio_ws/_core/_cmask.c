/* The masking kernel in C (RFC 6455 5.3): the compiled twin of the
 * pure-Python functions in _mask.py, with the same signatures and results
 * (tests/core/test_mask.py checks one against the other). Optional: when it
 * is not built, or TRIO_WS_NO_EXTENSIONS=1, _mask.py uses its own code.
 *
 *   mask(data, key) -> bytes           data XORed with the 4-byte key
 *   mask_in_place(buf, start, end, key) XOR buf[start:end] in place
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* XOR n bytes of src with the key repeated from its first byte, into dst
 * (dst may be src). Eight bytes at a time through memcpy, which compilers
 * turn into plain (unaligned-safe) loads and stores, and vectorize. */
static void
xor_key(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
        const unsigned char *key)
{
    uint64_t word_key;
    unsigned char k8[8];
    Py_ssize_t i = 0;

    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&word_key, k8, 8);
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
        xor_key((unsigned char *)PyBytes_AS_STRING(result),
                (const unsigned char *)data.buf, data.len, key);
    }
    PyBuffer_Release(&data);
    return result;
}

static PyObject *
cmask_mask_in_place(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    unsigned char key[4];
    Py_ssize_t start, end;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "mask_in_place() takes buf, start, end and key");
        return NULL;
    }
    start = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    end = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (get_key(args[3], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    if (start < 0 || end > buf.len || start > end) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "start and end must be within buf");
        return NULL;
    }
    xor_key((unsigned char *)buf.buf + start,
            (const unsigned char *)buf.buf + start, end - start, key);
    PyBuffer_Release(&buf);
    Py_RETURN_NONE;
}

static PyMethodDef cmask_methods[] = {
    {"mask", (PyCFunction)(void (*)(void))cmask_mask, METH_FASTCALL,
     "mask(data, key) -> bytes: data XORed with the 4-byte key."},
    {"mask_in_place", (PyCFunction)(void (*)(void))cmask_mask_in_place,
     METH_FASTCALL,
     "mask_in_place(buf, start, end, key): XOR buf[start:end] in place."},
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
