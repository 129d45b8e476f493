/* The rollout loop of mlgo_env at the floor of LLVM's MLGO pipe protocol (see mlgo_env/rollout_loop.py).
 *
 * drive() reads decisions from the compiler's B.out, answers each with a built-in policy (or a
 * Python callback given the raw record), writes the advice to B.in and copies the record and the
 * advice into preallocated buffers. It holds the GIL only to call back into Python. It returns
 * when the compiler closes B.out, when the buffers are full (the caller grows them and calls
 * again), or with an error status; it never raises for the protocol, the caller does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Statuses drive() returns (0 inside: go on; -1: a Python exception is set). */
enum { ST_EOF = 1, ST_FULL = 2, ST_TIMEOUT = 3, ST_PROTOCOL = 4, ST_INVALID = 5 };
enum { P_CONSTANT = 0, P_FEATURE = 1, P_FIRST_LEGAL = 2, P_LAST_LEGAL = 3, P_REPLAY = 4, P_CALLBACK = 5 };

typedef struct {
    int kind;
    Py_ssize_t offset;      /* P_FEATURE: the feature's byte offset; P_*_LEGAL, P_REPLAY: the mask's (-1: none) */
    Py_ssize_t mask_count;  /* elements of the mask */
    Py_ssize_t mask_size;   /* bytes per mask element */
    Py_buffer constant;     /* P_CONSTANT: the advice bytes */
    Py_buffer replay;       /* P_REPLAY: the advice bytes of every decision, in order */
    PyObject *callback;     /* P_CALLBACK: raw record (bytes) -> advice (bytes) */
} Policy;

typedef struct {
    int out_fd, in_fd;
    double timeout;
    PyObject *alive;
    char *buf;
    size_t len, cap;
    int eof;
    char message[256];
} Reader;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Read what is available; 1: got bytes, 0: nothing now, -1: EOF, -2: error (message set). Called without the GIL. */
static int read_some(Reader *r) {
    if (r->cap - r->len < 65536) {
        size_t cap = r->cap * 2 + 65536;
        char *grown = realloc(r->buf, cap);
        if (!grown) {
            snprintf(r->message, sizeof r->message, "out of memory");
            return -2;
        }
        r->buf = grown;
        r->cap = cap;
    }
    ssize_t n = read(r->out_fd, r->buf + r->len, r->cap - r->len);
    if (n > 0) {
        r->len += (size_t)n;
        return 1;
    }
    if (n == 0) return -1;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    snprintf(r->message, sizeof r->message, "reading the compiler's pipe: %s", strerror(errno));
    return -2;
}

/* Whether the compiler still runs (asks Python); -1 on a Python error. Called without the GIL. */
static int still_alive(Reader *r) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *result = PyObject_CallNoArgs(r->alive);
    int alive = result ? PyObject_IsTrue(result) : -1;
    Py_XDECREF(result);
    PyGILState_Release(gil);
    return alive;
}

/* Fill until `need` bytes are buffered. 0: done, ST_EOF, ST_TIMEOUT, ST_PROTOCOL (message set), -1: Python error. */
static int fill(Reader *r, size_t need, double deadline) {
    while (r->len < need) {
        if (r->eof) return ST_EOF;
        double remaining = deadline - now();
        if (remaining <= 0) {
            snprintf(r->message, sizeof r->message, "the compiler sent nothing for %.0f s", r->timeout);
            return ST_TIMEOUT;
        }
        struct pollfd p = {.fd = r->out_fd, .events = POLLIN};
        int wait_ms = remaining < 0.05 ? (int)(remaining * 1000) + 1 : 50;
        int ready = poll(&p, 1, wait_ms);
        if (ready < 0 && errno != EINTR) {
            snprintf(r->message, sizeof r->message, "poll: %s", strerror(errno));
            return ST_PROTOCOL;
        }
        if (ready <= 0) {
            int alive = still_alive(r);
            if (alive < 0) return -1;
            if (!alive) {
                int got = read_some(r);  /* data written just before exit */
                if (got == -2) return ST_PROTOCOL;
                if (got <= 0) r->eof = 1;
            }
            continue;
        }
        int got = read_some(r);
        if (got == -2) return ST_PROTOCOL;
        if (got == -1) r->eof = 1;
    }
    return 0;
}

static void consume(Reader *r, size_t n) {
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

/* Read up to and including the next observation line. 0: an observation follows, ST_EOF, or an error. */
static int next_observation(Reader *r, double deadline) {
    for (;;) {
        char *newline = memchr(r->buf, '\n', r->len);
        if (!newline) {
            size_t before = r->len;
            int st = fill(r, r->len + 1, deadline);
            if (st == ST_EOF) {
                if (before == 0) return ST_EOF;
                snprintf(r->message, sizeof r->message, "the compiler stopped mid-line (%zu bytes)", before);
                return ST_PROTOCOL;
            }
            if (st) return st;
            continue;
        }
        size_t n = (size_t)(newline - r->buf) + 1;
        int observation = n >= 16 && memcmp(r->buf, "{\"observation\":", 15) == 0;
        int context = n >= 12 && memcmp(r->buf, "{\"context\":", 11) == 0;
        if (!observation && !context) {
            snprintf(r->message, sizeof r->message, "unexpected line from the compiler: %.*s",
                     (int)(n > 120 ? 120 : n - 1), r->buf);
            return ST_PROTOCOL;
        }
        consume(r, n);
        if (observation) return 0;
    }
}

static int mask_at(const char *record, const Policy *p, Py_ssize_t i) {
    const char *at = record + p->offset + i * p->mask_size;
    for (Py_ssize_t b = 0; b < p->mask_size; b++)
        if (at[b]) return 1;
    return 0;
}

/* The advice for one record, into `advice`. 0, ST_INVALID (message set) or -1 (Python error). */
static int decide(const Policy *p, const char *record, Py_ssize_t record_nbytes, char *advice,
                  Py_ssize_t advice_nbytes, Py_ssize_t index, char *message, size_t message_size) {
    int64_t chosen = -1;
    switch (p->kind) {
    case P_CONSTANT:
        memcpy(advice, p->constant.buf, advice_nbytes);
        return 0;
    case P_FEATURE:
        memcpy(advice, record + p->offset, advice_nbytes);
        return 0;
    case P_FIRST_LEGAL:
        for (Py_ssize_t i = 0; i < p->mask_count && chosen < 0; i++)
            if (mask_at(record, p, i)) chosen = i;
        break;
    case P_LAST_LEGAL:
        for (Py_ssize_t i = p->mask_count - 1; i >= 0 && chosen < 0; i--)
            if (mask_at(record, p, i)) chosen = i;
        break;
    case P_REPLAY: {
        if ((index + 1) * advice_nbytes > p->replay.len) {
            snprintf(message, message_size, "the replayed sequence has %zd actions but the compiler asks more",
                     p->replay.len / advice_nbytes);
            return ST_INVALID;
        }
        memcpy(advice, (const char *)p->replay.buf + index * advice_nbytes, advice_nbytes);
        if (p->offset >= 0) {
            int64_t action;
            memcpy(&action, advice, sizeof action);
            if (action < 0 || action >= p->mask_count || !mask_at(record, p, action)) {
                snprintf(message, message_size, "replayed action %lld of decision %zd is masked out",
                         (long long)action, index);
                return ST_INVALID;
            }
        }
        return 0;
    }
    case P_CALLBACK: {
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject *raw = PyBytes_FromStringAndSize(record, record_nbytes);
        PyObject *result = raw ? PyObject_CallOneArg(p->callback, raw) : NULL;
        Py_XDECREF(raw);
        int status = 0;
        if (!result) {
            status = -1;
        } else if (!PyBytes_Check(result) || PyBytes_GET_SIZE(result) != advice_nbytes) {
            PyErr_Format(PyExc_TypeError, "the policy callback must return %zd advice bytes", advice_nbytes);
            status = -1;
        } else {
            memcpy(advice, PyBytes_AS_STRING(result), advice_nbytes);
        }
        Py_XDECREF(result);
        PyGILState_Release(gil);
        return status;
    }
    }
    if (chosen < 0) {
        snprintf(message, message_size, "no legal action in the mask of decision %zd", index);
        return ST_INVALID;
    }
    memset(advice, 0, advice_nbytes);
    memcpy(advice, &chosen, advice_nbytes < 8 ? advice_nbytes : 8);
    return 0;
}

static int write_all(int fd, const char *data, Py_ssize_t n, char *message, size_t message_size) {
    while (n > 0) {
        ssize_t written = write(fd, data, n);
        if (written < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            snprintf(message, message_size, "writing the advice: %s", strerror(errno));
            return ST_PROTOCOL;
        }
        data += written;
        n -= written;
    }
    return 0;
}

static PyObject *drive(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs) {
    static char *names[] = {"out_fd", "in_fd", "pending", "record_nbytes", "advice_nbytes", "timeout", "alive",
                            "kind", "offset", "mask_count", "mask_size", "constant", "replay", "callback",
                            "records", "actions", "start", NULL};
    Reader r = {0};
    Policy p = {0};
    Py_buffer pending = {0}, records = {0}, actions = {0};
    Py_ssize_t record_nbytes, advice_nbytes, start;
    PyObject *records_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iiy*nndOinnny*y*OOw*n", names, &r.out_fd, &r.in_fd, &pending,
                                     &record_nbytes, &advice_nbytes, &r.timeout, &r.alive, &p.kind, &p.offset,
                                     &p.mask_count, &p.mask_size, &p.constant, &p.replay, &p.callback,
                                     &records_obj, &actions, &start))
        return NULL;
    int status = 0;
    PyObject *result = NULL;
    if (records_obj != Py_None && PyObject_GetBuffer(records_obj, &records, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        goto done;
    if (record_nbytes <= 0 || advice_nbytes <= 0 || advice_nbytes > 8 ||
        (p.kind == P_CONSTANT && p.constant.len != advice_nbytes) ||
        (p.offset >= 0 && p.offset + (p.kind == P_FEATURE ? advice_nbytes : p.mask_count * p.mask_size) > record_nbytes)) {
        PyErr_SetString(PyExc_ValueError, "inconsistent rollout loop arguments");
        goto done;
    }
    Py_ssize_t capacity = actions.len / advice_nbytes;
    if (records.buf && records.len / record_nbytes < capacity) capacity = records.len / record_nbytes;
    r.cap = (size_t)pending.len + 65536;
    r.buf = malloc(r.cap);
    if (!r.buf) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(r.buf, pending.buf, pending.len);
    r.len = (size_t)pending.len;
    Py_ssize_t n = start;
    char advice[8];
    Py_BEGIN_ALLOW_THREADS
    for (; n < capacity; n++) {
        double deadline = now() + r.timeout;
        status = next_observation(&r, deadline);
        if (status) break;
        status = fill(&r, (size_t)record_nbytes + 1, deadline);
        if (status == ST_EOF) {
            snprintf(r.message, sizeof r.message, "the compiler stopped mid-record (%zu of %zd bytes)", r.len,
                     record_nbytes + 1);
            status = ST_PROTOCOL;
        }
        if (status) break;
        if (r.buf[record_nbytes] != '\n') {
            snprintf(r.message, sizeof r.message, "observation record not terminated by a newline");
            status = ST_PROTOCOL;
            break;
        }
        status = decide(&p, r.buf, record_nbytes, advice, advice_nbytes, n, r.message, sizeof r.message);
        if (status) break;
        status = write_all(r.in_fd, advice, advice_nbytes, r.message, sizeof r.message);
        if (status) break;
        if (records.buf) memcpy((char *)records.buf + n * record_nbytes, r.buf, record_nbytes);
        memcpy((char *)actions.buf + n * advice_nbytes, advice, advice_nbytes);
        consume(&r, (size_t)record_nbytes + 1);
    }
    if (n == capacity && !status) status = ST_FULL;
    Py_END_ALLOW_THREADS
    if (status >= 0)
        result = Py_BuildValue("(iny#s)", status, n, r.buf, (Py_ssize_t)r.len, r.message);
done:
    free(r.buf);
    PyBuffer_Release(&pending);
    PyBuffer_Release(&p.constant);
    PyBuffer_Release(&p.replay);
    if (records.obj) PyBuffer_Release(&records);
    PyBuffer_Release(&actions);
    return result;
}

static PyMethodDef methods[] = {
    {"drive", (PyCFunction)(void (*)(void))drive, METH_VARARGS | METH_KEYWORDS,
     "drive(...) -> (status, decisions, leftover bytes, message): answer decisions until EOF or full buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_rollout", .m_doc = "The native MLGO rollout loop.", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__rollout(void) { return PyModule_Create(&module); }
