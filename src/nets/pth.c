/* pth.c - PyTorch checkpoint reader (include/pnp/pth.h): the file is read into
 * memory whole, then
 *   zip format:    the central directory (zip64 too) is indexed; the pickle
 *                  ARCHIVE/data.pkl is run; storage KEY is the entry
 *                  ARCHIVE/data/KEY (stored, i.e. uncompressed: torch.save
 *                  never compresses); ARCHIVE/byteorder says the byte order;
 *   legacy format: pickles magic, protocol 1001, sys_info, the object, the
 *                  list of storage keys; then per key an int64 element count
 *                  and the raw bytes.
 * The pickle machine is iterative (no recursion), keeps every value in one
 * list freed at the end, and checks every read against the end of its buffer.
 * Persistent ids ('storage', StorageType, key, location, numel[, view]) become
 * storage references; torch._utils._rebuild_tensor_v2/v3 (and v1) become tensor
 * descriptions (storage, offset, size, stride, dtype), copied out to float32
 * only once all storages are known. */
#include "pnp/pth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"

#define MAX_DIM 8
#define MAX_VALUES (1u << 24)            /* pickle values per file: a guard, not a real limit */
#define MAX_OVERLAP_NUMEL ((int64_t)1 << 28) /* elements of a view larger than its storage (stride 0) */

/* ------------------------------------------------------------ context */

enum dtype { DT_NONE, DT_F32, DT_F16, DT_BF16, DT_F64, DT_I64, DT_I32, DT_I16, DT_I8, DT_U8, DT_BOOL, DT_C64, DT_C128 };

static const struct {
    const char *storage, *dtype, *alias; /* torch.XStorage, torch.<dtype>, torch.<alias> */
    int size;
} dtypes[] = {
    [DT_NONE] = {"", "", "", 0},
    [DT_F32] = {"FloatStorage", "float32", "float", 4},
    [DT_F16] = {"HalfStorage", "float16", "half", 2},
    [DT_BF16] = {"BFloat16Storage", "bfloat16", "bfloat16", 2},
    [DT_F64] = {"DoubleStorage", "float64", "double", 8},
    [DT_I64] = {"LongStorage", "int64", "long", 8},
    [DT_I32] = {"IntStorage", "int32", "int", 4},
    [DT_I16] = {"ShortStorage", "int16", "short", 2},
    [DT_I8] = {"CharStorage", "int8", "int8", 1},
    [DT_U8] = {"ByteStorage", "uint8", "uint8", 1},
    [DT_BOOL] = {"BoolStorage", "bool", "bool", 1},
    [DT_C64] = {"ComplexFloatStorage", "complex64", "cfloat", 8},
    [DT_C128] = {"ComplexDoubleStorage", "complex128", "cdouble", 16},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* a string key -> int map (open addressing); keys are not copied */
typedef struct {
    const uint8_t *s;
    size_t n;
    int v;
} hslot;
typedef struct {
    hslot *slot;
    size_t cap, count;
} hmap;

typedef struct {
    const uint8_t *key; /* storage key, e.g. "0" or "94731051526624" */
    size_t keylen;
    int dtype;          /* element type the file declares (UntypedStorage: DT_U8) */
    int64_t numel;      /* elements, from the persistent id */
    const uint8_t *data; /* raw bytes in the file buffer, once found */
    int64_t nbytes;     /* bytes available at data */
    int found;
} storage_rec;

enum kind { V_NONE, V_BOOL, V_INT, V_BIGINT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_OBJ };
static const char *kind_name[] = {"None",     "a bool",  "an int",    "an int",   "a float",  "a string", "a tuple",
                                  "a list",   "a dict",  "a global", "a storage", "a tensor", "an object"};

typedef struct tref {
    int storage;      /* index into ctx.storages */
    int64_t view_off; /* bytes into the storage (legacy storage views) */
    int64_t view_len; /* bytes of the view, -1: to the end */
    int dtype;
    int64_t offset;   /* in elements of dtype */
    int ndim;         /* may exceed MAX_DIM: refused when converted */
    int64_t size[MAX_DIM], stride[MAX_DIM];
} tref;

typedef struct val val;
struct val {
    val *next;  /* every value, for freeing */
    int kind;
    int64_t i;  /* INT, BOOL; STORAGE: view byte offset; FLOAT: the bits */
    int64_t j;  /* STORAGE: view bytes, -1 whole; storage index in sidx */
    int sidx;
    const uint8_t *s, *s2; /* STR, BIGINT: bytes; GLOBAL: module, name; OBJ: the callable's (module, name) */
    size_t n, n2;
    val **items; /* TUPLE, LIST, DICT (key, value, key, value, ...) */
    size_t len, cap;
    tref *t;     /* TENSOR */
};

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    int failed;
    /* values */
    val *all;
    size_t nvalues;
    /* storages */
    storage_rec *st;
    int nst;
    size_t capst;
    hmap stmap;
} ctx;

PNP_PRINTF(2, 3) static int fail(ctx *c, const char *fmt, ...)
{
    if (c->failed) return -1; /* keep the first message */
    c->failed = 1;
    int k = snprintf(c->err, c->errlen, "%s: ", c->path);
    if (k < 0) k = 0;
    if ((size_t)k < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + k, c->errlen - k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* grow *p (elements of el bytes) to hold need; 0 or -1 (out of memory) */
static int grow(ctx *c, void *pp, size_t *cap, size_t need, size_t el)
{
    void **p = pp;
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / el) return fail(c, "out of memory");
        nc *= 2;
    }
    void *q = realloc(*p, nc * el);
    if (!q) return fail(c, "out of memory");
    *p = q;
    *cap = nc;
    return 0;
}

/* ---------------------------------------------------------- hash map */

static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static int hmap_get(const hmap *m, const uint8_t *s, size_t n)
{
    if (!m->cap) return -1;
    for (size_t i = hash_bytes(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const hslot *e = &m->slot[i];
        if (!e->s) return -1;
        if (e->n == n && !memcmp(e->s, s, n)) return e->v;
    }
}

/* insert or overwrite */
static int hmap_put(ctx *c, hmap *m, const uint8_t *s, size_t n, int v)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        hslot *ns = calloc(nc, sizeof *ns);
        if (!ns) return fail(c, "out of memory");
        for (size_t k = 0; k < m->cap; ++k) {
            if (!m->slot[k].s) continue;
            size_t i = hash_bytes(m->slot[k].s, m->slot[k].n) & (nc - 1);
            while (ns[i].s) i = (i + 1) & (nc - 1);
            ns[i] = m->slot[k];
        }
        free(m->slot);
        m->slot = ns;
        m->cap = nc;
    }
    static const uint8_t empty = 0;
    if (!s) s = &empty; /* an empty key still needs a non-NULL pointer */
    size_t i = hash_bytes(s, n) & (m->cap - 1);
    for (; m->slot[i].s; i = (i + 1) & (m->cap - 1))
        if (m->slot[i].n == n && !memcmp(m->slot[i].s, s, n)) {
            m->slot[i].v = v;
            return 0;
        }
    m->slot[i] = (hslot){s, n, v};
    m->count++;
    return 0;
}

static void hmap_free(hmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ values */

static val *new_val(ctx *c, int kind)
{
    if (c->nvalues >= MAX_VALUES) {
        fail(c, "pickle too large (more than %u values)", MAX_VALUES);
        return NULL;
    }
    val *v = calloc(1, sizeof *v);
    if (!v) {
        fail(c, "out of memory");
        return NULL;
    }
    v->kind = kind;
    v->next = c->all;
    c->all = v;
    c->nvalues++;
    return v;
}

static void free_values(ctx *c)
{
    for (val *v = c->all, *nx; v; v = nx) {
        nx = v->next;
        free(v->items);
        free(v->t);
        free(v);
    }
    c->all = NULL;
    c->nvalues = 0;
}

static int push_item(ctx *c, val *container, val *item)
{
    if (grow(c, &container->items, &container->cap, container->len + 1, sizeof(val *))) return -1;
    container->items[container->len++] = item;
    return 0;
}

static int str_is(const val *v, const char *s)
{
    return v && v->kind == V_STR && v->n == strlen(s) && !memcmp(v->s, s, v->n);
}

static int global_is(const val *v, const char *mod, const char *name)
{
    return v && v->kind == V_GLOBAL && v->n == strlen(mod) && !memcmp(v->s, mod, v->n) && v->n2 == strlen(name) &&
           !memcmp(v->s2, name, v->n2);
}

/* "module.name" of a global or an object's callable, for messages */
static void describe(const val *v, char *buf, size_t len)
{
    if (v && (v->kind == V_GLOBAL || v->kind == V_OBJ) && v->s)
        snprintf(buf, len, "%s %.*s.%.*s", v->kind == V_OBJ ? "an object made by" : "the global", (int)(v->n > 80 ? 80 : v->n),
                 (const char *)v->s, (int)(v->n2 > 80 ? 80 : v->n2), (const char *)v->s2);
    else
        snprintf(buf, len, "%s", v ? kind_name[v->kind] : "a missing value");
}

static uint32_t rd_u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd_u32(const uint8_t *p) { return rd_u16(p) | (uint32_t)rd_u16(p + 2) << 16; }
static uint64_t rd_u64(const uint8_t *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }

/* -------------------------------------------- torch-specific callables */

static int dtype_from_storage_global(const val *g)
{
    if (!g || g->kind != V_GLOBAL) return -1;
    int torch_mod = (g->n == 5 && !memcmp(g->s, "torch", 5)) || (g->n == 13 && !memcmp(g->s, "torch.storage", 13));
    if (!torch_mod) return -1;
    if (g->n2 == 14 && !memcmp(g->s2, "UntypedStorage", 14)) return DT_U8;
    if (g->n2 == 12 && !memcmp(g->s2, "_UntypedStorage", 12)) return DT_U8;
    for (int d = 1; d < N_DTYPES; ++d)
        if (g->n2 == strlen(dtypes[d].storage) && !memcmp(g->s2, dtypes[d].storage, g->n2)) return d;
    return -1;
}

static int dtype_from_dtype_global(const val *g)
{
    if (!g || g->kind != V_GLOBAL || g->n != 5 || memcmp(g->s, "torch", 5)) return -1;
    for (int d = 1; d < N_DTYPES; ++d)
        if ((g->n2 == strlen(dtypes[d].dtype) && !memcmp(g->s2, dtypes[d].dtype, g->n2)) ||
            (g->n2 == strlen(dtypes[d].alias) && !memcmp(g->s2, dtypes[d].alias, g->n2)))
            return d;
    return -1;
}

static int get_int(ctx *c, const val *v, int64_t *out, const char *what)
{
    if (!v || (v->kind != V_INT && v->kind != V_BOOL)) {
        char d[200];
        describe(v, d, sizeof d);
        return fail(c, "bad tensor record: %s is %s, not an integer", what, d);
    }
    *out = v->i;
    return 0;
}

/* persistent id ('storage', StorageType, key, location, numel[, view_metadata]) */
static val *persistent_load(ctx *c, val *pid)
{
    char d[200];
    if (!pid || pid->kind != V_TUPLE || pid->len < 5 || !str_is(pid->items[0], "storage")) {
        describe(pid, d, sizeof d);
        fail(c, "unsupported persistent id (%s; expected a ('storage', ...) tuple)", d);
        return NULL;
    }
    val *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    int dt = dtype_from_storage_global(type);
    if (dt < 0) {
        describe(type, d, sizeof d);
        fail(c, "unsupported storage type (%s)", d);
        return NULL;
    }
    if (!key || key->kind != V_STR) {
        fail(c, "storage key is not a string");
        return NULL;
    }
    int64_t ne = 0;
    if (get_int(c, numel, &ne, "storage size")) return NULL;
    if (ne < 0) {
        fail(c, "storage %.*s has negative size", (int)(key->n > 40 ? 40 : key->n), (const char *)key->s);
        return NULL;
    }
    int idx = hmap_get(&c->stmap, key->s, key->n);
    if (idx < 0) {
        if (c->nst >= INT32_MAX - 1) {
            fail(c, "too many storages");
            return NULL;
        }
        if (grow(c, &c->st, &c->capst, (size_t)c->nst + 1, sizeof(storage_rec))) return NULL;
        idx = c->nst++;
        c->st[idx] = (storage_rec){key->s, key->n, dt, ne, NULL, 0, 0};
        if (hmap_put(c, &c->stmap, key->s, key->n, idx)) return NULL;
    }
    val *r = new_val(c, V_STORAGE);
    if (!r) return NULL;
    r->sidx = idx;
    r->i = 0;
    r->j = -1;
    val *view = pid->len >= 6 ? pid->items[5] : NULL;
    if (view && view->kind != V_NONE) {
        /* old storage views: (view_key, offset, view_size) in storage elements */
        int64_t off = 0, sz = 0;
        if (view->kind != V_TUPLE || view->len != 3 || get_int(c, view->items[1], &off, "view offset") ||
            get_int(c, view->items[2], &sz, "view size")) {
            fail(c, "bad storage view metadata");
            return NULL;
        }
        int es = dtypes[c->st[idx].dtype].size;
        if (off < 0 || sz < 0 || off > INT64_MAX / 16 || sz > INT64_MAX / 16) {
            fail(c, "bad storage view metadata");
            return NULL;
        }
        r->i = off * es;
        r->j = sz * es;
    }
    return r;
}

static int tuple_of_ints(ctx *c, const val *v, int64_t *out, int *n, const char *what)
{
    if (!v || (v->kind != V_TUPLE && v->kind != V_LIST)) {
        char d[200];
        describe(v, d, sizeof d);
        return fail(c, "bad tensor record: %s is %s, not a tuple", what, d);
    }
    if (v->len > 64) return fail(c, "bad tensor record: %s has %zu entries", what, v->len);
    *n = (int)v->len;
    for (size_t k = 0; k < v->len; ++k) {
        int64_t x = 0;
        if (get_int(c, v->items[k], &x, what)) return -1;
        if (k < MAX_DIM) out[k] = x;
    }
    return 0;
}

/* _rebuild_tensor(storage, offset, size, stride), _v2(..., requires_grad,
 * backward_hooks[, metadata]), _v3(..., requires_grad, backward_hooks, dtype[, metadata]) */
static val *rebuild_tensor(ctx *c, val *args, int version)
{
    size_t need = version == 1 ? 4 : version == 2 ? 6 : 7;
    if (!args || args->kind != V_TUPLE || args->len < need) {
        fail(c, "bad tensor record (_rebuild_tensor%s with %zu arguments)", version == 1 ? "" : version == 2 ? "_v2" : "_v3",
             args && args->kind == V_TUPLE ? args->len : 0);
        return NULL;
    }
    val *st = args->items[0];
    if (!st || st->kind != V_STORAGE) {
        char d[200];
        describe(st, d, sizeof d);
        fail(c, "bad tensor record: storage is %s", d);
        return NULL;
    }
    tref *t = calloc(1, sizeof *t);
    if (!t) {
        fail(c, "out of memory");
        return NULL;
    }
    val *r = new_val(c, V_TENSOR);
    if (!r) {
        free(t);
        return NULL;
    }
    r->t = t;
    t->storage = st->sidx;
    t->view_off = st->i;
    t->view_len = st->j;
    t->dtype = c->st[st->sidx].dtype;
    int ns = 0, nd = 0;
    if (get_int(c, args->items[1], &t->offset, "storage offset") ||
        tuple_of_ints(c, args->items[2], t->size, &ns, "size") ||
        tuple_of_ints(c, args->items[3], t->stride, &nd, "stride"))
        return NULL;
    if (ns != nd) {
        fail(c, "bad tensor record: %d sizes but %d strides", ns, nd);
        return NULL;
    }
    t->ndim = ns;
    if (version == 3) {
        int dt = dtype_from_dtype_global(args->items[6]);
        if (dt < 0) {
            char d[200];
            describe(args->items[6], d, sizeof d);
            fail(c, "unsupported dtype (%s)", d);
            return NULL;
        }
        t->dtype = dt;
    }
    return r;
}

/* REDUCE: callable(*args) */
static val *call(ctx *c, val *fn, val *args)
{
    if (global_is(fn, "collections", "OrderedDict") || global_is(fn, "builtins", "dict") ||
        global_is(fn, "__builtin__", "dict")) {
        /* OrderedDict() or OrderedDict([(k, v), ...]) */
        val *d = new_val(c, V_DICT);
        if (!d) return NULL;
        if (args && args->kind == V_TUPLE && args->len == 1 && args->items[0] && args->items[0]->kind == V_LIST) {
            val *l = args->items[0];
            for (size_t k = 0; k < l->len; ++k) {
                val *p = l->items[k];
                if (!p || p->kind != V_TUPLE || p->len != 2) {
                    fail(c, "OrderedDict built from a list that is not of pairs");
                    return NULL;
                }
                if (push_item(c, d, p->items[0]) || push_item(c, d, p->items[1])) return NULL;
            }
        }
        return d;
    }
    if (global_is(fn, "torch._utils", "_rebuild_tensor_v2")) return rebuild_tensor(c, args, 2);
    if (global_is(fn, "torch._utils", "_rebuild_tensor_v3")) return rebuild_tensor(c, args, 3);
    if (global_is(fn, "torch._utils", "_rebuild_tensor")) return rebuild_tensor(c, args, 1);
    if ((global_is(fn, "torch._utils", "_rebuild_parameter") ||
         global_is(fn, "torch._utils", "_rebuild_parameter_with_state")) &&
        args && args->kind == V_TUPLE && args->len >= 1)
        return args->items[0]; /* nn.Parameter(data, ...): the data */
    if (global_is(fn, "torch", "Size") && args && args->kind == V_TUPLE && args->len == 1 && args->items[0] &&
        args->items[0]->kind == V_TUPLE)
        return args->items[0];
    /* anything else (e.g. inside metadata): an opaque object, an error only if used as a tensor */
    val *o = new_val(c, V_OBJ);
    if (!o) return NULL;
    if (fn && (fn->kind == V_GLOBAL || fn->kind == V_OBJ)) {
        o->s = fn->s, o->n = fn->n, o->s2 = fn->s2, o->n2 = fn->n2;
    }
    return o;
}

/* ----------------------------------------------------- pickle machine */

typedef struct {
    val **v;
    size_t n, cap;
    size_t *marks;
    size_t nmarks, capmarks;
    val **memo;
    size_t memocap, memocount; /* memo slots allocated; entries set (MEMOIZE's next index) */
} vm;

static val none_v = {.kind = V_NONE}, true_v = {.kind = V_BOOL, .i = 1}, false_v = {.kind = V_BOOL, .i = 0};

static int push(ctx *c, vm *m, val *v)
{
    if (!v) return -1;
    if (grow(c, &m->v, &m->cap, m->n + 1, sizeof(val *))) return -1;
    m->v[m->n++] = v;
    return 0;
}

static val *pop(ctx *c, vm *m)
{
    size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->n <= floor) {
        fail(c, "corrupt pickle (stack underflow)");
        return NULL;
    }
    return m->v[--m->n];
}

static val *top(ctx *c, vm *m)
{
    size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->n <= floor) {
        fail(c, "corrupt pickle (stack underflow)");
        return NULL;
    }
    return m->v[m->n - 1];
}

/* pop everything above the last mark into items (pointer into the stack, valid until the next push) */
static int pop_mark(ctx *c, vm *m, val ***items, size_t *count)
{
    if (!m->nmarks) return fail(c, "corrupt pickle (no mark)");
    size_t k = m->marks[--m->nmarks];
    *items = m->v + k;
    *count = m->n - k;
    m->n = k;
    return 0;
}

static int memo_put(ctx *c, vm *m, uint64_t idx, size_t pkl_len)
{
    val *v = top(c, m);
    if (!v) return -1;
    if (idx > pkl_len + 256) return fail(c, "corrupt pickle (memo index %llu)", (unsigned long long)idx);
    size_t old = m->memocap;
    if (grow(c, &m->memo, &m->memocap, (size_t)idx + 1, sizeof(val *))) return -1;
    for (size_t k = old; k < m->memocap; ++k) m->memo[k] = NULL;
    if (!m->memo[idx]) m->memocount++;
    m->memo[idx] = v;
    return 0;
}

static val *memo_get(ctx *c, vm *m, uint64_t idx)
{
    if (idx >= m->memocap || !m->memo[idx]) {
        fail(c, "corrupt pickle (memo entry %llu not set)", (unsigned long long)idx);
        return NULL;
    }
    return m->memo[idx];
}

static val *make_str(ctx *c, const uint8_t *s, size_t n)
{
    val *v = new_val(c, V_STR);
    if (v) v->s = s, v->n = n;
    return v;
}

static val *make_int(ctx *c, int64_t x)
{
    val *v = new_val(c, V_INT);
    if (v) v->i = x;
    return v;
}

/* LONG1/LONG4: n bytes little-endian two's complement */
static val *make_long(ctx *c, const uint8_t *p, size_t n)
{
    if (n <= 8) {
        uint64_t u = 0;
        for (size_t k = 0; k < n; ++k) u |= (uint64_t)p[k] << (8 * k);
        if (n && n < 8 && (p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        return make_int(c, (int64_t)u);
    }
    val *v = new_val(c, V_BIGINT);
    if (v) v->s = p, v->n = n;
    return v;
}

static val *make_tuple(ctx *c, val **items, size_t n)
{
    val *t = new_val(c, V_TUPLE);
    if (!t) return NULL;
    if (n) {
        t->items = malloc(n * sizeof(val *));
        if (!t->items) {
            fail(c, "out of memory");
            return NULL;
        }
        memcpy(t->items, items, n * sizeof(val *));
        t->len = t->cap = n;
    }
    return t;
}

/* text line (GLOBAL, INT, PUT, GET): up to '\n' */
static int read_line(ctx *c, const uint8_t *p, size_t *pos, size_t len, const uint8_t **s, size_t *n)
{
    const uint8_t *nl = memchr(p + *pos, '\n', len - *pos);
    if (!nl) return fail(c, "truncated file (pickle ends inside a text argument)");
    *s = p + *pos;
    *n = (size_t)(nl - *s);
    *pos += *n + 1;
    return 0;
}

static int parse_decimal(const uint8_t *s, size_t n, int64_t *out)
{
    size_t k = 0;
    int neg = 0;
    if (k < n && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
    if (k == n || n - k > 18) return -1;
    int64_t x = 0;
    for (; k < n; ++k) {
        if (s[k] < '0' || s[k] > '9') return -1;
        x = x * 10 + (s[k] - '0');
    }
    *out = neg ? -x : x;
    return 0;
}

/* Run one pickle from p[*pos] to its STOP; the result or NULL (error in c). */
static val *unpickle(ctx *c, const uint8_t *p, size_t len, size_t *pos)
{
    vm m = {0};
    val *result = NULL;
    size_t at = *pos;
#define NEED(k)                                                                                               \
    do {                                                                                                      \
        if (len - at < (size_t)(k)) {                                                                         \
            fail(c, "truncated file (pickle ends inside opcode 0x%02x at byte %zu)", op, opat);               \
            goto out;                                                                                         \
        }                                                                                                     \
    } while (0)
#define TRY(x)                                                                                                \
    do {                                                                                                      \
        if ((x) < 0) goto out;                                                                                \
    } while (0)
#define PUSH(x) TRY(push(c, &m, (x)))
    for (;;) {
        if (at >= len) {
            fail(c, "truncated file (pickle ends without STOP at byte %zu)", at);
            goto out;
        }
        size_t opat = at;
        int op = p[at++];
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            if (p[at] > 5) {
                fail(c, "unsupported pickle protocol %d", p[at]);
                goto out;
            }
            at += 1;
            break;
        case 0x95: /* FRAME: a length hint only */
            NEED(8);
            at += 8;
            break;
        case '.': { /* STOP */
            val *v = pop(c, &m);
            if (!v) goto out;
            result = v;
            *pos = at;
            goto out;
        }
        case '(': /* MARK */
            TRY(grow(c, &m.marks, &m.capmarks, m.nmarks + 1, sizeof(size_t)));
            m.marks[m.nmarks++] = m.n;
            break;
        case '0': /* POP: a value, or the mark when nothing is above it */
            if (m.nmarks && m.n == m.marks[m.nmarks - 1])
                m.nmarks--;
            else if (!pop(c, &m))
                goto out;
            break;
        case '1': { /* POP_MARK */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            break;
        }
        case '2': { /* DUP */
            val *v = top(c, &m);
            if (!v) goto out;
            PUSH(v);
            break;
        }
        case 'N': PUSH(&none_v); break;
        case 0x88: PUSH(&true_v); break;
        case 0x89: PUSH(&false_v); break;
        case 'J': /* BININT */
            NEED(4);
            PUSH(make_int(c, (int32_t)rd_u32(p + at)));
            at += 4;
            break;
        case 'K': /* BININT1 */
            NEED(1);
            PUSH(make_int(c, p[at]));
            at += 1;
            break;
        case 'M': /* BININT2 */
            NEED(2);
            PUSH(make_int(c, rd_u16(p + at)));
            at += 2;
            break;
        case 0x8a: { /* LONG1 */
            NEED(1);
            size_t n = p[at++];
            NEED(n);
            PUSH(make_long(c, p + at, n));
            at += n;
            break;
        }
        case 0x8b: { /* LONG4 */
            NEED(4);
            int32_t n = (int32_t)rd_u32(p + at);
            at += 4;
            if (n < 0) {
                fail(c, "corrupt pickle (negative length)");
                goto out;
            }
            NEED(n);
            PUSH(make_long(c, p + at, (size_t)n));
            at += (size_t)n;
            break;
        }
        case 'I': { /* INT (text): I01 / I00 are True / False */
            const uint8_t *s = NULL;
            size_t n = 0;
            int64_t x = 0;
            TRY(read_line(c, p, &at, len, &s, &n));
            if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1')) {
                PUSH(s[1] == '1' ? &true_v : &false_v);
            } else {
                if (parse_decimal(s, n, &x)) {
                    fail(c, "corrupt pickle (bad INT at byte %zu)", opat);
                    goto out;
                }
                PUSH(make_int(c, x));
            }
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            NEED(8);
            val *v = new_val(c, V_FLOAT);
            if (!v) goto out;
            uint64_t u = 0;
            for (int k = 0; k < 8; ++k) u = u << 8 | p[at + k];
            v->i = (int64_t)u;
            at += 8;
            PUSH(v);
            break;
        }
        case 'X': case 'T': case 'B': { /* BINUNICODE, BINSTRING, BINBYTES: 4-byte length */
            NEED(4);
            uint32_t n = rd_u32(p + at);
            at += 4;
            if (op == 'T' && (int32_t)n < 0) {
                fail(c, "corrupt pickle (negative length)");
                goto out;
            }
            NEED(n);
            PUSH(make_str(c, p + at, n));
            at += n;
            break;
        }
        case 0x8c: case 'U': case 'C': { /* SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES */
            NEED(1);
            size_t n = p[at++];
            NEED(n);
            PUSH(make_str(c, p + at, n));
            at += n;
            break;
        }
        case 0x8d: case 0x8e: case 0x96: { /* BINUNICODE8, BINBYTES8, BYTEARRAY8 */
            NEED(8);
            uint64_t n = rd_u64(p + at);
            at += 8;
            NEED(n);
            PUSH(make_str(c, p + at, (size_t)n));
            at += (size_t)n;
            break;
        }
        case ')': PUSH(make_tuple(c, NULL, 0)); break;
        case 't': case 'l': { /* TUPLE, LIST */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            val *t = make_tuple(c, items, n);
            if (!t) goto out;
            if (op == 'l') t->kind = V_LIST;
            PUSH(t);
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = (size_t)(op - 0x84);
            size_t floor = m.nmarks ? m.marks[m.nmarks - 1] : 0;
            if (m.n - floor < n) {
                fail(c, "corrupt pickle (stack underflow)");
                goto out;
            }
            val *t = make_tuple(c, m.v + m.n - n, n);
            if (!t) goto out;
            m.n -= n;
            PUSH(t);
            break;
        }
        case ']': PUSH(new_val(c, V_LIST)); break;
        case 0x8f: PUSH(new_val(c, V_LIST)); break; /* EMPTY_SET: a list will do */
        case '}': PUSH(new_val(c, V_DICT)); break;
        case 'd': { /* DICT */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            if (n % 2) {
                fail(c, "corrupt pickle (odd DICT)");
                goto out;
            }
            val *t = make_tuple(c, items, n);
            if (!t) goto out;
            t->kind = V_DICT;
            PUSH(t);
            break;
        }
        case 0x91: { /* FROZENSET */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            PUSH(make_tuple(c, items, n));
            break;
        }
        case 'a': { /* APPEND */
            val *x = pop(c, &m), *l = x ? top(c, &m) : NULL;
            if (!l) goto out;
            if (l->kind == V_LIST) {
                TRY(push_item(c, l, x));
            } else if (l->kind != V_OBJ) {
                fail(c, "corrupt pickle (APPEND to %s)", kind_name[l->kind]);
                goto out;
            }
            break;
        }
        case 'e': case 0x90: { /* APPENDS, ADDITEMS */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            val *l = top(c, &m);
            if (!l) goto out;
            if (l->kind == V_LIST) {
                for (size_t k = 0; k < n; ++k) TRY(push_item(c, l, items[k]));
            } else if (l->kind != V_OBJ) {
                fail(c, "corrupt pickle (APPENDS to %s)", kind_name[l->kind]);
                goto out;
            }
            break;
        }
        case 's': { /* SETITEM */
            val *v = pop(c, &m), *k = v ? pop(c, &m) : NULL, *d = k ? top(c, &m) : NULL;
            if (!d) goto out;
            if (d->kind == V_DICT) {
                TRY(push_item(c, d, k));
                TRY(push_item(c, d, v));
            } else if (d->kind != V_OBJ) {
                fail(c, "corrupt pickle (SETITEM on %s)", kind_name[d->kind]);
                goto out;
            }
            break;
        }
        case 'u': { /* SETITEMS */
            val **items = NULL;
            size_t n = 0;
            TRY(pop_mark(c, &m, &items, &n));
            if (n % 2) {
                fail(c, "corrupt pickle (odd SETITEMS)");
                goto out;
            }
            val *d = top(c, &m);
            if (!d) goto out;
            if (d->kind == V_DICT) {
                for (size_t k = 0; k < n; ++k) TRY(push_item(c, d, items[k]));
            } else if (d->kind != V_OBJ) {
                fail(c, "corrupt pickle (SETITEMS on %s)", kind_name[d->kind]);
                goto out;
            }
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            val *g = new_val(c, V_GLOBAL);
            if (!g) goto out;
            TRY(read_line(c, p, &at, len, &g->s, &g->n));
            TRY(read_line(c, p, &at, len, &g->s2, &g->n2));
            PUSH(g);
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            val *name = pop(c, &m), *mod = name ? pop(c, &m) : NULL;
            if (!mod) goto out;
            if (mod->kind != V_STR || name->kind != V_STR) {
                fail(c, "corrupt pickle (STACK_GLOBAL of non-strings)");
                goto out;
            }
            val *g = new_val(c, V_GLOBAL);
            if (!g) goto out;
            g->s = mod->s, g->n = mod->n, g->s2 = name->s, g->n2 = name->n;
            PUSH(g);
            break;
        }
        case 'R': { /* REDUCE */
            val *args = pop(c, &m), *fn = args ? pop(c, &m) : NULL;
            if (!fn) goto out;
            PUSH(call(c, fn, args));
            break;
        }
        case 0x81: case 0x92: { /* NEWOBJ cls args, NEWOBJ_EX cls args kwargs */
            if (op == 0x92 && !pop(c, &m)) goto out;
            val *args = pop(c, &m), *cls = args ? pop(c, &m) : NULL;
            if (!cls) goto out;
            val *o = new_val(c, V_OBJ);
            if (!o) goto out;
            if (cls->kind == V_GLOBAL) o->s = cls->s, o->n = cls->n, o->s2 = cls->s2, o->n2 = cls->n2;
            PUSH(o);
            break;
        }
        case 'b': /* BUILD: state (e.g. a state_dict's _metadata) is ignored */
            if (!pop(c, &m) || !top(c, &m)) goto out;
            break;
        case 'Q': { /* BINPERSID */
            val *pid = pop(c, &m);
            if (!pid) goto out;
            PUSH(persistent_load(c, pid));
            break;
        }
        case 'q': /* BINPUT */
            NEED(1);
            TRY(memo_put(c, &m, p[at], len));
            at += 1;
            break;
        case 'r': /* LONG_BINPUT */
            NEED(4);
            TRY(memo_put(c, &m, rd_u32(p + at), len));
            at += 4;
            break;
        case 0x94: /* MEMOIZE */
            TRY(memo_put(c, &m, m.memocount, len));
            break;
        case 'p': case 'g': { /* PUT, GET (text) */
            const uint8_t *s = NULL;
            size_t n = 0;
            int64_t x = 0;
            TRY(read_line(c, p, &at, len, &s, &n));
            if (parse_decimal(s, n, &x) || x < 0) {
                fail(c, "corrupt pickle (bad memo index at byte %zu)", opat);
                goto out;
            }
            if (op == 'p') TRY(memo_put(c, &m, (uint64_t)x, len));
            else PUSH(memo_get(c, &m, (uint64_t)x));
            break;
        }
        case 'h': /* BINGET */
            NEED(1);
            PUSH(memo_get(c, &m, p[at]));
            at += 1;
            break;
        case 'j': /* LONG_BINGET */
            NEED(4);
            PUSH(memo_get(c, &m, rd_u32(p + at)));
            at += 4;
            break;
        default:
            fail(c, "%s (pickle opcode 0x%02x at byte %zu)",
                 opat == *pos ? "not a PyTorch checkpoint" : "unsupported or corrupt pickle", op, opat);
            goto out;
        }
    }
out:
#undef NEED
#undef TRY
#undef PUSH
    free(m.v);
    free(m.marks);
    free(m.memo);
    return c->failed ? NULL : result;
}

/* ------------------------------------------------------------- zip */

typedef struct {
    const uint8_t *name;
    size_t namelen;
    int method, flags;
    uint64_t csize, usize, local;
} zentry;

typedef struct {
    zentry *e;
    size_t n, cap;
    hmap byname;
} zdir;

static int zip_index(ctx *c, const uint8_t *b, size_t len, zdir *z)
{
    /* end of central directory: 22 bytes + comment, within the last 64 KiB */
    size_t eocd = SIZE_MAX;
    if (len >= 22)
        for (size_t k = len - 22;; --k) {
            if (rd_u32(b + k) == 0x06054b50 && k + 22 + rd_u16(b + k + 20) <= len) {
                eocd = k;
                break;
            }
            if (k == 0 || len - k > 22 + 65535) break;
        }
    if (eocd == SIZE_MAX)
        return fail(c, "truncated file (zip archive without its end-of-central-directory record)");
    uint64_t count = rd_u16(b + eocd + 10), cdsize = rd_u32(b + eocd + 12), cdoff = rd_u32(b + eocd + 16);
    if (eocd >= 20 && rd_u32(b + eocd - 20) == 0x07064b50) { /* zip64 locator */
        uint64_t z64 = rd_u64(b + eocd - 20 + 8);
        if (z64 > len || len - z64 < 56 || rd_u32(b + z64) != 0x06064b50)
            return fail(c, "corrupt zip archive (bad zip64 end-of-central-directory record)");
        count = rd_u64(b + z64 + 32);
        cdsize = rd_u64(b + z64 + 40);
        cdoff = rd_u64(b + z64 + 48);
    }
    if (cdoff > len || cdsize > len - cdoff) return fail(c, "truncated file (zip central directory out of range)");
    if (count > cdsize / 46) return fail(c, "corrupt zip archive (%llu entries in %llu bytes)", (unsigned long long)count,
                                         (unsigned long long)cdsize);
    const uint8_t *p = b + cdoff, *end = b + cdoff + cdsize;
    for (uint64_t k = 0; k < count; ++k) {
        if (end - p < 46 || rd_u32(p) != 0x02014b50) return fail(c, "corrupt zip central directory (entry %llu)", (unsigned long long)k);
        zentry e = {0};
        e.flags = (int)rd_u16(p + 8);
        e.method = (int)rd_u16(p + 10);
        e.csize = rd_u32(p + 20);
        e.usize = rd_u32(p + 24);
        size_t nl = rd_u16(p + 28), xl = rd_u16(p + 30), cl = rd_u16(p + 32);
        e.local = rd_u32(p + 42);
        if ((size_t)(end - p) < 46 + nl + xl + cl) return fail(c, "corrupt zip central directory (entry %llu)", (unsigned long long)k);
        e.name = p + 46;
        e.namelen = nl;
        /* zip64 extra field: the 64-bit values of the fields that are 0xffffffff, in order */
        const uint8_t *x = p + 46 + nl, *xe = x + xl;
        while (xe - x >= 4) {
            size_t id = rd_u16(x), sz = rd_u16(x + 2);
            if ((size_t)(xe - x - 4) < sz) break;
            if (id == 0x0001) {
                const uint8_t *q = x + 4, *qe = q + sz;
                if (e.usize == 0xffffffffu && qe - q >= 8) e.usize = rd_u64(q), q += 8;
                if (e.csize == 0xffffffffu && qe - q >= 8) e.csize = rd_u64(q), q += 8;
                if (e.local == 0xffffffffu && qe - q >= 8) e.local = rd_u64(q), q += 8;
            }
            x += 4 + sz;
        }
        if (grow(c, &z->e, &z->cap, z->n + 1, sizeof(zentry))) return -1;
        z->e[z->n] = e;
        if (z->n > INT32_MAX - 1) return fail(c, "too many zip entries");
        if (hmap_put(c, &z->byname, e.name, e.namelen, (int)z->n)) return -1;
        z->n++;
        p += 46 + nl + xl + cl;
    }
    return 0;
}

/* the bytes of an entry (stored only) */
static int zip_data(ctx *c, const uint8_t *b, size_t len, const zentry *e, const uint8_t **data, uint64_t *size)
{
    int nl = (int)(e->namelen > 200 ? 200 : e->namelen);
    if (e->flags & 1) return fail(c, "zip entry %.*s is encrypted", nl, (const char *)e->name);
    if (e->method != 0)
        return fail(c, "zip entry %.*s is compressed (method %d); torch.save stores entries uncompressed, "
                       "only those are supported",
                    nl, (const char *)e->name, e->method);
    if (e->csize != e->usize) return fail(c, "corrupt zip entry %.*s (stored sizes differ)", nl, (const char *)e->name);
    if (e->local > len || len - e->local < 30 || rd_u32(b + e->local) != 0x04034b50)
        return fail(c, "truncated file (zip entry %.*s: local header out of range)", nl, (const char *)e->name);
    uint64_t off = e->local + 30 + rd_u16(b + e->local + 26) + rd_u16(b + e->local + 28);
    if (off > len || len - off < e->csize)
        return fail(c, "truncated file (zip entry %.*s: data out of range)", nl, (const char *)e->name);
    *data = b + off;
    *size = e->csize;
    return 0;
}

static val *read_zip(ctx *c, const uint8_t *b, size_t len, int *big_endian)
{
    zdir z = {0};
    val *root = NULL;
    if (zip_index(c, b, len, &z)) goto out;
    /* ARCHIVE/data.pkl, ARCHIVE the first path component */
    const zentry *pkl = NULL;
    size_t plen = 0;
    for (size_t k = 0; k < z.n && !pkl; ++k) {
        const zentry *e = &z.e[k];
        const uint8_t *slash = memchr(e->name, '/', e->namelen);
        if (slash && (size_t)(e->name + e->namelen - slash) == 9 && !memcmp(slash, "/data.pkl", 9)) {
            pkl = e;
            plen = (size_t)(slash - e->name);
        }
    }
    if (!pkl) {
        fail(c, "not a PyTorch checkpoint (zip archive without ARCHIVE/data.pkl)");
        goto out;
    }
    /* byte order: ARCHIVE/byteorder, "little" when absent */
    char nm[4096];
    *big_endian = 0;
    if (plen > sizeof nm - 64) {
        fail(c, "zip entry name too long");
        goto out;
    }
    memcpy(nm, pkl->name, plen);
    memcpy(nm + plen, "/byteorder", 10);
    int bo = hmap_get(&z.byname, (const uint8_t *)nm, plen + 10);
    if (bo >= 0) {
        const uint8_t *d;
        uint64_t n;
        if (zip_data(c, b, len, &z.e[bo], &d, &n)) goto out;
        if (n == 3 && !memcmp(d, "big", 3))
            *big_endian = 1;
        else if (!(n == 6 && !memcmp(d, "little", 6))) {
            fail(c, "unknown byte order '%.*s'", (int)(n > 20 ? 20 : n), (const char *)d);
            goto out;
        }
    }
    const uint8_t *pd;
    uint64_t pn;
    if (zip_data(c, b, len, pkl, &pd, &pn)) goto out;
    size_t pos = 0;
    root = unpickle(c, pd, (size_t)pn, &pos);
    if (!root) goto out;
    /* storages: ARCHIVE/data/KEY */
    for (int s = 0; s < c->nst; ++s) {
        storage_rec *r = &c->st[s];
        if (r->keylen > sizeof nm - plen - 16) {
            fail(c, "storage key too long");
            goto out;
        }
        memcpy(nm + plen, "/data/", 6);
        memcpy(nm + plen + 6, r->key, r->keylen);
        int k = hmap_get(&z.byname, (const uint8_t *)nm, plen + 6 + r->keylen);
        if (k < 0) continue; /* reported as missing if a tensor uses it */
        uint64_t n;
        if (zip_data(c, b, len, &z.e[k], &r->data, &n)) goto out;
        r->nbytes = (int64_t)n;
        r->found = 1;
    }
out:
    free(z.e);
    hmap_free(&z.byname);
    return c->failed ? NULL : root;
}

/* ---------------------------------------------------------- legacy */

static val *read_legacy(ctx *c, const uint8_t *b, size_t len, int *big_endian)
{
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    size_t pos = 0;
    val *v = unpickle(c, b, len, &pos);
    if (!v) return NULL;
    if (v->kind != V_BIGINT || v->n != 10 || memcmp(v->s, magic, 10)) {
        fail(c, "not a PyTorch checkpoint (a pickle without torch.save's magic number)");
        return NULL;
    }
    v = unpickle(c, b, len, &pos);
    if (!v) return NULL;
    if (v->kind != V_INT || v->i != 1001) {
        fail(c, "unsupported legacy checkpoint protocol (expected 1001)");
        return NULL;
    }
    val *info = unpickle(c, b, len, &pos);
    if (!info) return NULL;
    *big_endian = 0;
    if (info->kind == V_DICT)
        for (size_t k = 0; k + 1 < info->len; k += 2)
            if (str_is(info->items[k], "little_endian") && info->items[k + 1]->kind == V_BOOL)
                *big_endian = !info->items[k + 1]->i;
    val *root = unpickle(c, b, len, &pos);
    if (!root) return NULL;
    val *keys = unpickle(c, b, len, &pos);
    if (!keys) return NULL;
    if (keys->kind != V_LIST) {
        fail(c, "corrupt legacy checkpoint (no list of storage keys after the object)");
        return NULL;
    }
    for (size_t k = 0; k < keys->len; ++k) {
        val *key = keys->items[k];
        if (!key || key->kind != V_STR) {
            fail(c, "corrupt legacy checkpoint (storage key is not a string)");
            return NULL;
        }
        int s = hmap_get(&c->stmap, key->s, key->n);
        if (s < 0) {
            fail(c, "corrupt legacy checkpoint (storage %.*s listed but never used)", (int)(key->n > 40 ? 40 : key->n),
                 (const char *)key->s);
            return NULL;
        }
        storage_rec *r = &c->st[s];
        if (len - pos < 8) {
            fail(c, "truncated file (storage %.*s missing: file ends at byte %zu)", (int)(key->n > 40 ? 40 : key->n),
                 (const char *)key->s, len);
            return NULL;
        }
        uint64_t ne = rd_u64(b + pos);
        if (*big_endian) {
            uint64_t be = 0;
            for (int q = 0; q < 8; ++q) be = be << 8 | b[pos + q];
            ne = be;
        }
        pos += 8;
        uint64_t es = (uint64_t)dtypes[r->dtype].size;
        if (ne > (len - pos) / es) {
            fail(c, "truncated file (storage %.*s: %llu elements of %d bytes, %zu bytes left)",
                 (int)(key->n > 40 ? 40 : key->n), (const char *)key->s, (unsigned long long)ne, (int)es, len - pos);
            return NULL;
        }
        r->data = b + pos;
        r->nbytes = (int64_t)(ne * es);
        r->found = 1;
        pos += (size_t)(ne * es);
    }
    return root;
}

/* ---------------------------------------------------------- tensors */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, ex = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (ex == 0) {
        float f = (float)man * 5.9604644775390625e-8f; /* man * 2^-24, exact */
        return sign ? -f : f;
    }
    if (ex == 31)
        bits = sign | 0x7f800000u | man << 13;
    else
        bits = sign | (ex + 112) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float load_elem(const uint8_t *p, int dt, int big)
{
    uint8_t q[8];
    int es = dtypes[dt].size;
    for (int k = 0; k < es; ++k) q[k] = p[big ? es - 1 - k : k]; /* little-endian order in q */
    switch (dt) {
    case DT_F32: {
        uint32_t u = rd_u32(q);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case DT_F16: return half_to_float((uint16_t)rd_u16(q));
    case DT_BF16: {
        uint32_t u = rd_u16(q) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: { /* DT_F64 */
        uint64_t u = rd_u64(q);
        double d;
        memcpy(&d, &u, 8);
        return (float)d;
    }
    }
}

static int host_little(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* copy one tensor record out as contiguous float32 */
static int convert(ctx *c, const tref *t, const char *name, int big, pnp_tensor *out)
{
    if (t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16 && t->dtype != DT_F64)
        return fail(c, "tensor '%s': unsupported dtype %s (only float32, float16, bfloat16, float64)", name,
                    dtypes[t->dtype].dtype);
    if (t->ndim > MAX_DIM) return fail(c, "tensor '%s' has %d dimensions (at most %d supported)", name, t->ndim, MAX_DIM);
    const storage_rec *r = &c->st[t->storage];
    if (!r->found)
        return fail(c, "tensor '%s': missing storage %.*s", name, (int)(r->keylen > 40 ? 40 : r->keylen),
                    (const char *)r->key);
    const int es = dtypes[t->dtype].size;
    int64_t vbytes = r->nbytes - t->view_off;
    if (t->view_off > r->nbytes) vbytes = 0;
    if (t->view_len >= 0 && t->view_len < vbytes) vbytes = t->view_len;
    const int64_t avail = vbytes / es; /* elements of the tensor's dtype */
    const uint8_t *base = r->data + (t->view_off <= r->nbytes ? t->view_off : 0);
    int64_t numel = 1, maxrel = 0;
    for (int d = 0; d < t->ndim; ++d) {
        if (t->size[d] < 0 || t->stride[d] < 0)
            return fail(c, "tensor '%s': negative size or stride in dimension %d", name, d);
        if (__builtin_mul_overflow(numel, t->size[d], &numel))
            return fail(c, "tensor '%s': size overflows", name);
    }
    if (t->offset < 0) return fail(c, "tensor '%s': negative storage offset", name);
    if (numel > 0) {
        for (int d = 0; d < t->ndim; ++d) {
            int64_t span;
            if (__builtin_mul_overflow(t->size[d] - 1, t->stride[d], &span) ||
                __builtin_add_overflow(maxrel, span, &maxrel))
                return fail(c, "tensor '%s': strides overflow", name);
        }
        int64_t last;
        if (__builtin_add_overflow(t->offset, maxrel, &last) || last >= avail)
            return fail(c, "tensor '%s': view (offset %lld, last element %lld) beyond its storage %.*s of %lld elements%s",
                        name, (long long)t->offset, (long long)last, (int)(r->keylen > 40 ? 40 : r->keylen),
                        (const char *)r->key, (long long)avail,
                        r->nbytes / dtypes[r->dtype].size < r->numel ? " (shorter than declared: damaged file?)" : "");
        if (numel > avail && numel > MAX_OVERLAP_NUMEL)
            return fail(c, "tensor '%s': %lld elements viewing only %lld stored ones", name, (long long)numel,
                        (long long)avail);
    }
    if ((uint64_t)numel > SIZE_MAX / sizeof(float)) return fail(c, "tensor '%s' too large", name);
    float *data = malloc(numel ? (size_t)numel * sizeof(float) : 1);
    if (!data) return fail(c, "tensor '%s': out of memory (%lld elements)", name, (long long)numel);
    if (numel > 0) {
        /* the stride of a size-1 dimension is never used: zero it (it may be anything) */
        int64_t stride[MAX_DIM];
        int contiguous = 1;
        int64_t expect = 1; /* <= numel: no overflow */
        for (int d = t->ndim - 1; d >= 0; --d) {
            stride[d] = t->size[d] == 1 ? 0 : t->stride[d];
            if (t->size[d] != 1 && stride[d] != expect) contiguous = 0;
            expect *= t->size[d];
        }
        if (contiguous && t->dtype == DT_F32 && !big && host_little()) {
            memcpy(data, base + t->offset * 4, (size_t)numel * 4);
        } else {
            /* odometer over the output; src stays within [offset, last] */
            int64_t idx[MAX_DIM] = {0}, src = t->offset;
            const int nd = t->ndim;
            for (int64_t e = 0; e < numel; ++e) {
                data[e] = load_elem(base + src * es, t->dtype, big);
                for (int d = nd - 1; d >= 0; --d) {
                    src += stride[d];
                    if (++idx[d] < t->size[d]) break;
                    src -= stride[d] * t->size[d];
                    idx[d] = 0;
                }
            }
        }
    }
    out->ndim = t->ndim;
    for (int d = 0; d < MAX_DIM; ++d) out->shape[d] = d < t->ndim ? t->size[d] : 0;
    out->data = data;
    return 0;
}

/* ------------------------------------------------------------- API */


static int read_file(ctx *c, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(c->path, "rb");
    if (!f) return fail(c, "cannot open checkpoint: %s", strerror(errno));
    size_t cap = 0, n = 0;
    uint8_t *b = NULL;
    for (;;) {
        if (grow(c, &b, &cap, n + (1 << 20), 1)) {
            free(b);
            fclose(f);
            return -1;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return fail(c, "read error");
    }
    *buf = b;
    *len = n;
    return 0;
}

int pnp_pth_read(const char *path, pnp_state_dict *sd, char *err, size_t errlen)
{
    ctx c = {0};
    c.path = path;
    c.err = err;
    c.errlen = errlen;
    memset(sd, 0, sizeof *sd);
    if (errlen) err[0] = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_file(&c, &buf, &len)) return -1;

    int big = 0;
    val *root = NULL;
    if (len == 0)
        fail(&c, "empty file, not a PyTorch checkpoint");
    else if (len >= 4 && !memcmp(buf, "PK\x03\x04", 4))
        root = read_zip(&c, buf, len, &big);
    else if (len >= 1 && buf[0] == 0x80 && (len == 1 || buf[1] <= 5))
        root = read_legacy(&c, buf, len, &big);
    else if (len < 4 && !memcmp(buf, "PK\x03\x04", len))
        fail(&c, "truncated file (%zu bytes of a zip archive)", len);
    else if (len >= 262 && !memcmp(buf + 257, "ustar", 5))
        fail(&c, "old tar-format PyTorch checkpoint (torch < 0.4): not supported, re-save it with a newer torch");
    else
        fail(&c, "not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save pickle)");

    if (root && root->kind != V_DICT) {
        char d[200];
        describe(root, d, sizeof d);
        fail(&c, "not a state_dict: the checkpoint holds %s, not a dict of tensors", d);
    }
    hmap seen = {0};
    if (root && !c.failed) {
        size_t npairs = root->len / 2;
        if (npairs > INT32_MAX) fail(&c, "too many entries");
        else if (npairs == 0) fail(&c, "empty state_dict (no tensors)");
        else if (!(sd->t = calloc(npairs, sizeof(pnp_tensor)))) fail(&c, "out of memory");
        for (size_t k = 0; k < npairs && !c.failed; ++k) {
            val *key = root->items[2 * k], *v = root->items[2 * k + 1];
            if (!key || key->kind != V_STR) {
                char d[200];
                describe(key, d, sizeof d);
                fail(&c, "not a state_dict: a key is %s, not a string", d);
                break;
            }
            char *name = malloc(key->n + 1);
            if (!name) {
                fail(&c, "out of memory");
                break;
            }
            memcpy(name, key->s, key->n);
            name[key->n] = 0;
            if (!v || v->kind != V_TENSOR) {
                char d[200];
                describe(v, d, sizeof d);
                fail(&c, "not a state_dict of tensors: entry '%s' is %s", name, d);
                free(name);
                break;
            }
            pnp_tensor t = {0};
            if (convert(&c, v->t, name, big, &t)) {
                free(name);
                break;
            }
            t.name = name;
            int at = hmap_get(&seen, key->s, key->n);
            if (at >= 0) { /* a repeated key replaces the value in place, as in Python */
                free(sd->t[at].name);
                free(sd->t[at].data);
                sd->t[at] = t;
            } else {
                sd->t[sd->count++] = t;
                if (hmap_put(&c, &seen, key->s, key->n, sd->count - 1)) break;
            }
        }
    }
    hmap_free(&seen);
    free_values(&c);
    hmap_free(&c.stmap);
    free(c.st);
    free(buf);
    if (c.failed) {
        pnp_weights_free(sd);
        return -1;
    }
    return 0;
}
