/* The fast cost model's per-instruction work in C (see mlgo_env/blocks/features.py, the reference).
 *
 * features.py defines every rule in Python and NumPy; this module does the same work at native
 * speed on the same inputs, and tests check that both give identical features on every shipped
 * block. Instruction texts are capstone's cs_insn mnemonic and op_str fields, adjacent in one
 * fixed-size record (mlgo_env.x86.LiteBatch.text): `itemsize` bytes per record, the operand string
 * from byte `mnemonic_size`.
 *
 *   clear_after_nul(text, itemsize, mnemonic_size)       zero each field's bytes after its NUL, in place
 *   shape_hash(text, out, itemsize, mnemonic_size)       a 64-bit hash per record, numbers left out
 *   parse_rows(text, out, itemsize, mnemonic_size, token_ids, unknown)
 *                                                         [U, 6] uint64 rows: mnemonic token, form token,
 *                                                         registers read, written, loads, stores
 *   chains(block, reads, writes, out, at)                register-dependency chains of blocks run twice
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_OPERANDS 16
#define NAME_SIZE 64

/* features._REGISTERS, in bit order. */
static const char *const REGISTERS[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
    "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31",
    "flags", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", NULL,
};
#define FLAGS_BIT 48
#define RSP_BIT 7

static const char *const NO_DEST_WRITE[] = {"cmp", "test", "bt", "ucomis", "comis", "vucomis", "vcomis", "ptest",
                                            "vptest", "push", NULL};
static const char *const DEST_NOT_READ[] = {
    "mov", "vmov", "lea", "set", "cvt", "vcvt", "pop", "vbroadcast", "vpbroadcast", "pmovzx", "pmovsx", "vpmovzx",
    "vpmovsx", "bsf", "bsr", "lzcnt", "tzcnt", "popcnt", "pshufd", "vpshufd", "sqrt", "vsqrt", "rcp", "vrcp",
    "rsqrt", "vrsqrt", "cmov", NULL};
static const char *const ZERO_IDIOMS[] = {"xor", "sub", "pxor", "xorps", "xorpd", "vpxor", "vxorps", "vxorpd",
                                          "psub", "vpsub", "sbb", NULL};
static const char *const FLAG_READERS[] = {"adc", "sbb", "cmov", "set", "rcl", "rcr", NULL};
static const char *const FLAG_WRITERS[] = {
    "add", "sub", "and", "or", "xor", "inc", "dec", "neg", "cmp", "test", "imul", "mul", "shl", "shr", "sar",
    "sal", "rol", "ror", "adc", "sbb", "bt", "bsf", "bsr", "lzcnt", "tzcnt", "popcnt", "ucomis", "comis",
    "vucomis", "vcomis", "ptest", "vptest", "andn", "blsr", "bzhi", NULL};
static const char *const RDX_RAX[] = {"mul", "imul", "div", "idiv", "cqo", "cdq", "cwd", "cdqe", "cwde", NULL};

typedef struct {
    const char *s;
    size_t n;
} Str;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_word(char c) { return is_digit(c) || is_lower(c); }
static int is_number_char(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || c == 'x'; }
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int starts_with_any(Str s, const char *const *prefixes) {
    for (; *prefixes; prefixes++) {
        size_t n = strlen(*prefixes);
        if (n <= s.n && memcmp(s.s, *prefixes, n) == 0) return 1;
    }
    return 0;
}

static int equals_any(Str s, const char *const *names) {
    for (; *names; names++)
        if (strlen(*names) == s.n && memcmp(s.s, *names, s.n) == 0) return 1;
    return 0;
}

static int equals(Str s, const char *name) { return strlen(name) == s.n && memcmp(s.s, name, s.n) == 0; }

static int all_digits(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t k = 0; k < n; k++)
        if (!is_digit(s[k])) return 0;
    return 1;
}

/* x86.canonical_register into `out` (NAME_SIZE bytes, NUL-terminated; too long names are cut, which
 * only happens to names no register has). Returns its length. */
static size_t canonical_register(Str name, char *out) {
    const char *s = name.s;
    size_t n = name.n;
    if (equals(name, "rflags") || equals(name, "eflags") || equals(name, "flags")) return (size_t)snprintf(out, NAME_SIZE, "flags");
    if (n > 3 && (s[0] == 'x' || s[0] == 'y' || s[0] == 'z') && s[1] == 'm' && s[2] == 'm' && all_digits(s + 3, n - 3))
        return (size_t)snprintf(out, NAME_SIZE, "v%.*s", (int)(n - 3), s + 3);
    /* r(\d+)[dwb]? */
    if (n >= 2 && s[0] == 'r' && is_digit(s[1])) {
        size_t end = n;
        if (s[n - 1] == 'd' || s[n - 1] == 'w' || s[n - 1] == 'b') end = n - 1;
        if (all_digits(s + 1, end - 1)) return (size_t)snprintf(out, NAME_SIZE, "r%.*s", (int)(end - 1), s + 1);
    }
    /* [re]?([abcd])[xlh] */
    {
        size_t k = (n == 3 && (s[0] == 'r' || s[0] == 'e')) ? 1 : 0;
        if (n == k + 2 && s[k] >= 'a' && s[k] <= 'd' && (s[k + 1] == 'x' || s[k + 1] == 'l' || s[k + 1] == 'h'))
            return (size_t)snprintf(out, NAME_SIZE, "r%cx", s[k]);
    }
    /* [re]?(si|di|bp|sp)l? */
    for (size_t k = 0; k <= 1; k++) {
        if (k == 1 && !(n > 0 && (s[0] == 'r' || s[0] == 'e'))) break;
        size_t rest = n - k;
        if (rest != 2 && !(rest == 3 && s[n - 1] == 'l')) continue;
        const char *p = s + k;
        if ((p[0] == 's' && p[1] == 'i') || (p[0] == 'd' && p[1] == 'i') || (p[0] == 'b' && p[1] == 'p') ||
            (p[0] == 's' && p[1] == 'p'))
            return (size_t)snprintf(out, NAME_SIZE, "r%c%c", p[0], p[1]);
    }
    size_t m = n < NAME_SIZE - 1 ? n : NAME_SIZE - 1;
    memcpy(out, s, m);
    out[m] = 0;
    return m;
}

/* Bit of a canonical register name in REGISTERS, or 0 (not one features tracks). */
static uint64_t register_bit(const char *canonical, size_t n) {
    for (int k = 0; REGISTERS[k]; k++)
        if (strlen(REGISTERS[k]) == n && memcmp(REGISTERS[k], canonical, n) == 0) return (uint64_t)1 << k;
    return 0;
}

typedef struct {
    char form[16]; /* "r64", "m128", "v256", "k", "i" */
    uint64_t mask; /* registers it names (memory: its address registers) */
    int memory;
} Operand;

/* features._operand. */
static void parse_operand(Str text, Operand *op) {
    op->mask = 0;
    op->memory = 0;
    const char *bracket = memchr(text.s, '[', text.n);
    if (bracket) {
        op->memory = 1;
        const char *space = memchr(text.s, ' ', text.n);
        Str first = {text.s, space ? (size_t)(space - text.s) : text.n};
        static const char *const names[] = {"byte", "word", "dword", "qword", "tbyte", "xmmword", "ymmword", "zmmword"};
        static const int bits[] = {8, 16, 32, 64, 80, 128, 256, 512};
        int size = 0;
        for (int k = 0; k < 8; k++)
            if (equals(first, names[k])) size = bits[k];
        snprintf(op->form, sizeof op->form, "m%d", size);
        const char *s = bracket, *end = text.s + text.n;
        char canonical[NAME_SIZE];
        while (s < end) {  /* words: [a-z][a-z0-9]* not after a letter or digit (not the x1f of 0x1f) */
            if (is_lower(*s) && (s == bracket || !is_word(s[-1]))) {
                const char *w = s;
                while (s < end && is_word(*s)) s++;
                Str word = {w, (size_t)(s - w)};
                op->mask |= register_bit(canonical, canonical_register(word, canonical));
            } else {
                s++;
            }
        }
        return;
    }
    while (text.n && is_space(text.s[0])) text.s++, text.n--;
    while (text.n && is_space(text.s[text.n - 1])) text.n--;
    if (text.n && (is_digit(text.s[0]) || text.s[0] == '-')) {
        snprintf(op->form, sizeof op->form, "i");
        return;
    }
    char canonical[NAME_SIZE];
    size_t cn = canonical_register(text, canonical);
    op->mask = register_bit(canonical, cn);
    if (cn && canonical[0] == 'v') {
        int width = text.n && text.s[0] == 'y' ? 256 : text.n && text.s[0] == 'z' ? 512 : 128;
        snprintf(op->form, sizeof op->form, "v%d", width);
        return;
    }
    if (cn && canonical[0] == 'k' && all_digits(canonical + 1, cn - 1)) {
        snprintf(op->form, sizeof op->form, "k");
        return;
    }
    const char *s = text.s;
    size_t n = text.n;
    int bits = n && s[0] == 'r' ? 64 : n && s[0] == 'e' ? 32 : n == 2 ? 16 : 8;
    if (n >= 2 && s[0] == 'r' && is_digit(s[1])) {
        char last = s[n - 1];
        bits = last == 'd' ? 32 : last == 'w' ? 16 : last == 'b' ? 8 : bits;
    }
    snprintf(op->form, sizeof op->form, "r%d", bits);
}

/* One field of a record: its bytes up to the first NUL. */
static Str field(const char *s, size_t size) {
    const char *nul = memchr(s, 0, size);
    Str out = {s, nul ? (size_t)(nul - s) : size};
    return out;
}

static PyObject *token_id(PyObject *token_ids, const char *name, size_t n, uint64_t unknown, uint64_t *out) {
    PyObject *key = PyBytes_FromStringAndSize(name, (Py_ssize_t)n);
    if (!key) return NULL;
    PyObject *value = PyDict_GetItemWithError(token_ids, key);
    Py_DECREF(key);
    if (!value) {
        if (PyErr_Occurred()) return NULL;
        *out = unknown;
        return Py_None;
    }
    unsigned long long id = PyLong_AsUnsignedLongLong(value);
    if (id == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    *out = id;
    return Py_None;
}

/* features._Parser.parse for one record, with the token ids of its mnemonic and form. */
static int parse_one(const char *record, Py_ssize_t itemsize, Py_ssize_t mnemonic_size, PyObject *token_ids,
                     uint64_t unknown, uint64_t *row) {
    Str mnemonic = field(record, (size_t)mnemonic_size);
    Str op_str = field(record + mnemonic_size, (size_t)(itemsize - mnemonic_size));
    Str base = mnemonic; /* the last word: "movsb" of "rep movsb" */
    while (base.n && is_space(base.s[base.n - 1])) base.n--;
    for (size_t k = base.n; k > 0; k--)
        if (is_space(base.s[k - 1])) {
            base.s += k, base.n -= k;
            break;
        }

    Operand ops[MAX_OPERANDS];
    int count = 0;
    for (size_t start = 0; op_str.n && start <= op_str.n;) {
        const char *comma = NULL;
        for (size_t k = start; k + 1 < op_str.n; k++)
            if (op_str.s[k] == ',' && op_str.s[k + 1] == ' ') {
                comma = op_str.s + k;
                break;
            }
        size_t end = comma ? (size_t)(comma - op_str.s) : op_str.n;
        if (count == MAX_OPERANDS) {
            PyErr_Format(PyExc_ValueError, "more than %d operands in %.*s", MAX_OPERANDS, (int)op_str.n, op_str.s);
            return -1;
        }
        Str text = {op_str.s + start, end - start};
        parse_operand(text, &ops[count++]);
        if (!comma) break;
        start = end + 2;
    }

    int stack = equals(base, "push") || equals(base, "pop") || equals(base, "call") || equals(base, "ret");
    int writes_first = !starts_with_any(base, NO_DEST_WRITE);
    int reads_first = !starts_with_any(base, DEST_NOT_READ);
    int vex3 = base.n && base.s[0] == 'v' && !(base.n >= 3 && memcmp(base.s, "vfm", 3) == 0);
    int zero = starts_with_any(base, ZERO_IDIOMS);
    int lea = equals(base, "lea");
    int keeps_dest = reads_first && !(vex3 && count >= 3);
    uint64_t reads = 0, writes = 0;
    int loads = equals(base, "pop"), stores = equals(base, "push");
    for (int k = 0; k < count; k++) {
        int dest = k == 0 && writes_first;
        if (ops[k].memory) {
            reads |= ops[k].mask; /* the address */
            if (!lea && dest) stores = 1;
            if (!lea && (!dest || reads_first)) loads = 1;
        } else {
            if (!dest || keeps_dest) reads |= ops[k].mask;
            if (dest) writes |= ops[k].mask;
        }
    }
    if (zero && count >= 2) {
        Operand *last = &ops[count - 1], *second = &ops[count - 2];
        if (!last->memory && !second->memory && last->mask && last->mask == second->mask) reads &= ~last->mask;
    }
    uint64_t flags = (uint64_t)1 << FLAGS_BIT, rsp = stack ? (uint64_t)1 << RSP_BIT : 0;
    reads |= (starts_with_any(base, FLAG_READERS) ? flags : 0) | rsp;
    writes |= (starts_with_any(base, FLAG_WRITERS) ? flags : 0) | rsp;
    if (equals_any(base, RDX_RAX) && count <= 1) {
        uint64_t rdx_rax = (uint64_t)1 << 0 | (uint64_t)1 << 3;
        reads |= rdx_rax;
        writes |= rdx_rax;
    }

    char form[512]; /* "add r64,m64": the mnemonic, a space, the operand forms */
    size_t n = (size_t)snprintf(form, sizeof form, "%.*s ", (int)mnemonic.n, mnemonic.s);
    for (int k = 0; k < count && n < sizeof form; k++)
        n += (size_t)snprintf(form + n, sizeof form - n, "%s%s", k ? "," : "", ops[k].form);
    if (n >= sizeof form) {
        PyErr_Format(PyExc_ValueError, "instruction form too long: %.*s", (int)mnemonic.n, mnemonic.s);
        return -1;
    }
    if (!token_id(token_ids, mnemonic.s, mnemonic.n, unknown, &row[0])) return -1;
    if (!token_id(token_ids, form, n, unknown, &row[1])) return -1;
    row[2] = reads;
    row[3] = writes;
    row[4] = (uint64_t)loads;
    row[5] = (uint64_t)stores;
    return 0;
}

/* Checks a records buffer against its layout; returns the record count or -1. */
static Py_ssize_t records(Py_buffer *text, Py_ssize_t itemsize, Py_ssize_t mnemonic_size) {
    if (itemsize <= 0 || mnemonic_size <= 0 || mnemonic_size >= itemsize || text->len % itemsize) {
        PyErr_SetString(PyExc_ValueError, "text is not whole records of itemsize bytes with the mnemonic first");
        return -1;
    }
    return text->len / itemsize;
}

/* Releases a call's two buffers: None where it succeeded, else NULL (its exception is set). */
static PyObject *finish(Py_buffer *text, Py_buffer *out, int ok) {
    PyBuffer_Release(text);
    PyBuffer_Release(out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static int check_out(Py_buffer *out, Py_ssize_t bytes) {
    if (out->len != bytes) {
        PyErr_Format(PyExc_ValueError, "out has %zd bytes, %zd expected", out->len, bytes);
        return -1;
    }
    return 0;
}

static PyObject *parse_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer text, out;
    Py_ssize_t itemsize, mnemonic_size;
    PyObject *token_ids;
    unsigned long long unknown;
    if (!PyArg_ParseTuple(args, "y*w*nnO!K", &text, &out, &itemsize, &mnemonic_size, &PyDict_Type, &token_ids,
                          &unknown))
        return NULL;
    Py_ssize_t n = records(&text, itemsize, mnemonic_size);
    if (n < 0 || check_out(&out, n * 6 * (Py_ssize_t)sizeof(uint64_t))) return finish(&text, &out, 0);
    uint64_t *rows = out.buf;
    for (Py_ssize_t k = 0; k < n; k++)
        if (parse_one((const char *)text.buf + k * itemsize, itemsize, mnemonic_size, token_ids, unknown, rows + 6 * k))
            return finish(&text, &out, 0);
    return finish(&text, &out, 1);
}

#define HASH_BASE 0x100000001B3ULL
#define HASH_START 0xCBF29CE484222325ULL

static PyObject *shape_hash(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer text, out;
    Py_ssize_t itemsize, mnemonic_size;
    if (!PyArg_ParseTuple(args, "y*w*nn", &text, &out, &itemsize, &mnemonic_size)) return NULL;
    Py_ssize_t n = records(&text, itemsize, mnemonic_size);
    if (n < 0 || check_out(&out, n * (Py_ssize_t)sizeof(uint64_t))) return finish(&text, &out, 0);
    uint64_t *hashes = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n; k++) {
        const char *record = (const char *)text.buf + k * itemsize;
        Str mnemonic = field(record, (size_t)mnemonic_size);
        Str op_str = field(record + mnemonic_size, (size_t)(itemsize - mnemonic_size));
        uint64_t h = HASH_START;
        for (size_t j = 0; j < mnemonic.n; j++) h = (h ^ (uint8_t)mnemonic.s[j]) * HASH_BASE;
        h = (h ^ 0xFF) * HASH_BASE; /* keeps the operands apart from the mnemonic */
        int in_number = 0, previous_word = 0;
        for (size_t j = 0; j < op_str.n; j++) { /* numbers: [0-9a-fx] runs from a digit not after a letter or digit */
            char c = op_str.s[j];
            in_number = is_number_char(c) && (in_number || (is_digit(c) && !previous_word));
            previous_word = is_word(c);
            if (!in_number) h = (h ^ (uint8_t)c) * HASH_BASE;
        }
        hashes[k] = h;
    }
    Py_END_ALLOW_THREADS
    return finish(&text, &out, 1);
}

static PyObject *clear_after_nul(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer text;
    Py_ssize_t itemsize, mnemonic_size;
    if (!PyArg_ParseTuple(args, "w*nn", &text, &itemsize, &mnemonic_size)) return NULL;
    Py_ssize_t n = records(&text, itemsize, mnemonic_size);
    if (n >= 0) {
        for (Py_ssize_t k = 0; k < n; k++) {
            char *record = (char *)text.buf + k * itemsize;
            Str fields[2] = {field(record, (size_t)mnemonic_size),
                             field(record + mnemonic_size, (size_t)(itemsize - mnemonic_size))};
            size_t sizes[2] = {(size_t)mnemonic_size, (size_t)(itemsize - mnemonic_size)};
            for (int f = 0; f < 2; f++) memset((char *)fields[f].s + fields[f].n, 0, sizes[f] - fields[f].n);
        }
    }
    PyBuffer_Release(&text);
    if (n < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *chains(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer block, reads, writes, out, at;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*", &block, &reads, &writes, &out, &at)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = block.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_blocks = out.len / (Py_ssize_t)(2 * sizeof(float));
    if (block.len % (Py_ssize_t)sizeof(int64_t) || reads.len != n * 8 || writes.len != n * 8 || at.len != n * 8 ||
        out.len % (Py_ssize_t)(2 * sizeof(float))) {
        PyErr_SetString(PyExc_ValueError, "chains: block int64 [I], reads and writes uint64 [I], out float32 [B, 2], "
                                          "at float32 [I, 2]");
        goto done;
    }
    const int64_t *owner = block.buf;
    const uint64_t *r = reads.buf, *w = writes.buf;
    float *o = out.buf, *a = at.buf;
    memset(o, 0, (size_t)out.len);
    for (Py_ssize_t start = 0, end; start < n; start = end) {
        int64_t b = owner[start];
        if (b < 0 || b >= n_blocks || (start && owner[start - 1] > b)) {
            PyErr_SetString(PyExc_ValueError, "chains: blocks out of range or not ascending");
            goto done;
        }
        for (end = start; end < n && owner[end] == b; end++) {}
        int32_t depth[64] = {0};
        for (int iteration = 0; iteration < 2; iteration++) {
            for (Py_ssize_t i = start; i < end; i++) {
                int32_t longest = 0;
                for (uint64_t m = r[i]; m; m &= m - 1) {
                    int32_t d = depth[__builtin_ctzll(m)];
                    if (d > longest) longest = d;
                }
                int32_t chain = longest + 1;
                for (uint64_t m = w[i]; m; m &= m - 1) depth[__builtin_ctzll(m)] = chain;
                a[2 * i + iteration] = (float)chain;
            }
            int32_t deepest = 0;
            for (int k = 0; k < 64; k++)
                if (depth[k] > deepest) deepest = depth[k];
            o[2 * b + iteration] = (float)deepest;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&block);
    PyBuffer_Release(&reads);
    PyBuffer_Release(&writes);
    PyBuffer_Release(&out);
    PyBuffer_Release(&at);
    return result;
}

static PyMethodDef methods[] = {
    {"clear_after_nul", clear_after_nul, METH_VARARGS, "Zeroes each record field's bytes after its NUL, in place."},
    {"shape_hash", shape_hash, METH_VARARGS, "64-bit hash of each record with its numbers left out, into out."},
    {"parse_rows", parse_rows, METH_VARARGS, "[U, 6] uint64 rows of records into out (features._Parser rules)."},
    {"chains", chains, METH_VARARGS, "Register-dependency chains of blocks run twice, into out and at."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_blocks", "The fast cost model's features in C.", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__blocks(void) { return PyModule_Create(&module); }
