/* config.c - benchopt-style YAML grid loader (see include/pnp/config.h).
 *
 * Pipeline: libyaml document -> per-block list of axes (a key, or a zipped
 * group of keys, with its options) -> cartesian product per block -> rows =
 * datasets x solvers -> --set overrides -> validation. Parameters are described
 * once in PARAMS below; typing, defaults, printing and errors all go through it. */
#include "pnp/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "pnp/error.h"
#include "pnp/files.h"

/* ------------------------------------------------------- parameter table */

/* T_NFLOAT: a number or null (stored as NaN: "not given", e.g. step_size: null);
 * T_AUTO_INT, T_AUTO_BOOL: an integer or boolean, or the string auto (stored as PNP_AUTO: pnp decides) */
typedef enum { T_INT, T_FLOAT, T_NFLOAT, T_BOOL, T_STRING, T_AUTO_INT, T_AUTO_BOOL } ptype;
typedef enum { SEC_DATASET, SEC_SOLVER } psection;
/* Which datasets a dataset parameter belongs to, which solvers a solver parameter (masks). */
enum { DS_HIGHRES = 1, DS_OBSERVED = 2, DS_ANY = 3 };
enum { SV_PNP = 1, SV_DPIR = 2, SV_ANY = 3 };

typedef struct {
    const char *name;
    const char *alias; /* accepted other spelling, or NULL */
    psection section;
    int owners;        /* DS_* mask (dataset parameters) or SV_* mask (solver parameters) */
    ptype type;
    size_t offset, size; /* size: capacity for strings */
    const char *def;     /* default, as YAML text */
    double min;          /* numeric lower bound (inclusive) */
} param;

#define P(nm, al, sec, own, ty, field, def, mn)                                              \
    { nm, al, sec, own, ty, offsetof(pnp_row, field), sizeof(((pnp_row *)0)->field), def, mn }
#define D(nm, ds, ty, field, def, mn) P(nm, NULL, SEC_DATASET, ds, ty, field, def, mn)
#define S(nm, al, ty, field, def, mn) P(nm, al, SEC_SOLVER, SV_ANY, ty, field, def, mn)
#define SV(nm, sv, ty, field, def, mn) P(nm, NULL, SEC_SOLVER, sv, ty, field, def, mn)

/* noise_level appears twice: one entry per dataset (its default differs), one
 * field; max_iter likewise per solver. Bounds that exclude zero (lambda > 0)
 * are checked in validate_solver, which can say so. */
static const param PARAMS[] = {
    D("image_size", DS_HIGHRES, T_INT, image_size, "2048", 8),
    D("num_operators", DS_HIGHRES, T_INT, num_operators, "8", 1),
    D("noise_level", DS_HIGHRES, T_FLOAT, noise_level, "0.1", 0),
    D("seed", DS_HIGHRES, T_INT, seed, "42", 0),
    D("image", DS_HIGHRES, T_STRING, image, "", 0),
    D("num_workers", DS_HIGHRES, T_INT, num_workers, "0", 0),
    D("measurements", DS_OBSERVED, T_STRING, measurements, "", 0),
    D("psfs", DS_OBSERVED, T_STRING, psfs, "", 0),
    D("reference", DS_OBSERVED, T_STRING, reference, "", 0),
    D("boundary", DS_OBSERVED, T_STRING, boundary, "pad", 0),
    D("noise_level", DS_OBSERVED, T_FLOAT, noise_level, "0", 0),
    S("denoiser", NULL, T_STRING, denoiser, "drunet", 0),
    S("weights", NULL, T_STRING, weights, "", 0),
    SV("denoiser_sigma", SV_PNP, T_FLOAT, denoiser_sigma, "0.005", 0),
    SV("step_size", SV_PNP, T_NFLOAT, step_size, "0.1", 0),
    SV("step_size_scale", SV_PNP, T_FLOAT, step_size_scale, "0.99", -1e300),
    SV("init_method", SV_PNP, T_STRING, init_method, "zeros", 0),
    SV("wiener_eps", SV_PNP, T_NFLOAT, wiener_eps, "null", -1e300),
    SV("denoiser_lambda_relaxation", SV_PNP, T_NFLOAT, denoiser_lambda_relaxation, "null", -1e300),
    SV("sigma_start", SV_DPIR, T_FLOAT, sigma_start, "0.19215686274509805", -1e300), /* 49/255 */
    SV("lambda", SV_DPIR, T_FLOAT, dpir_lambda, "0.23", -1e300),
    P("max_iter", "n_iter", SEC_SOLVER, SV_PNP, T_INT, max_iter, "10", 0),
    P("max_iter", "n_iter", SEC_SOLVER, SV_DPIR, T_INT, max_iter, "8", 0),
    S("tolerance", NULL, T_FLOAT, tolerance, "0", 0),
    S("save_every", NULL, T_INT, save_every, "0", 0),
    S("backend", NULL, T_STRING, backend, "auto", 0),
    S("force_cpu", NULL, T_BOOL, force_cpu, "false", 0),
    S("precision", NULL, T_STRING, precision, "fp32", 0),
    S("slurm_gres", NULL, T_STRING, slurm_gres, "", 0),
    S("slurm_ntasks_per_node", "slurm_tasks_per_node", T_INT, ntasks_per_node, "1", -1e300),
    S("slurm_nodes", NULL, T_INT, nodes, "1", -1e300),
    S("distribute_physics", NULL, T_BOOL, distribute_physics, "false", 0),
    S("distribute_denoiser", NULL, T_BOOL, distribute_denoiser, "false", 0),
    S("patch_size", NULL, T_AUTO_INT, patch_size, "0", -1e300),
    S("overlap", "receptive_field_size", T_INT, overlap, "0", -1e300),
    S("max_batch_size", NULL, T_INT, max_batch_size, "0", 0),
    S("comm_overlap", NULL, T_AUTO_BOOL, comm_overlap, "auto", 0),
    S("slurm_time", NULL, T_STRING, slurm_time, "", 0),
    S("slurm_partition", NULL, T_STRING, slurm_partition, "", 0),
    S("slurm_account", NULL, T_STRING, slurm_account, "", 0),
    S("slurm_cpus_per_task", NULL, T_INT, slurm_cpus_per_task, "0", 0),
    S("slurm_extra", NULL, T_STRING, slurm_extra, "", 0),
    S("torchrun_nproc_per_node", NULL, T_INT, torchrun_nproc_per_node, "1", 1),
    S("OMP_NUM_THREADS", NULL, T_INT, omp_num_threads, "0", 0),
    S("MKL_NUM_THREADS", NULL, T_INT, mkl_num_threads, "0", 0),
    S("name_prefix", NULL, T_STRING, name_prefix, "pnp", 0),
};
#define NPARAMS ((int)(sizeof PARAMS / sizeof PARAMS[0]))
_Static_assert(NPARAMS <= (int)(sizeof((pnp_row *)0)->marks / sizeof(pnp_mark)), "pnp_row.marks is too short");

static const char *const DATASETS[] = {"highres_color_image", "observed"};
static const char *const SOLVERS[] = {"PnP", "DPIR"};
static const char *const OBJECTIVES[] = {"psnr", "reconstruction_objective"};
/* benchopt run options allowed at top level; recorded verbatim, not used */
static const char *const RUN_OPTIONS[] = {"max-runs", "n-repetitions", "timeout", "plot", "html",
                                          "output", "n-jobs", "collect", "pdb", "profile", "env"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *type_name(ptype t)
{
    return t == T_INT || t == T_AUTO_INT ? "integer" : t == T_FLOAT || t == T_NFLOAT ? "number"
           : t == T_BOOL || t == T_AUTO_BOOL ? "boolean" : "string";
}

/* DS_* of a dataset name (0: unknown). */
static int dataset_mask(const char *name)
{
    return !strcmp(name, "highres_color_image") ? DS_HIGHRES : !strcmp(name, "observed") ? DS_OBSERVED : 0;
}

/* SV_* of a solver name (0: unknown). */
static int solver_mask(const char *name)
{
    return !strcmp(name, "PnP") ? SV_PNP : !strcmp(name, "DPIR") ? SV_DPIR : 0;
}

/* The parameter `key` of section sec that belongs to one of the owners (datasets or solvers) in mask. */
static const param *find_param(const char *key, psection sec, int mask, int *index)
{
    for (int i = 0; i < NPARAMS; ++i)
        if (PARAMS[i].section == sec && (PARAMS[i].owners & mask) &&
            (strcmp(PARAMS[i].name, key) == 0 || (PARAMS[i].alias && strcmp(PARAMS[i].alias, key) == 0))) {
            *index = i;
            return &PARAMS[i];
        }
    return NULL;
}

/* Whether a parameter before PARAMS[i] of the same section and owners has its name (max_iter per solver). */
static bool named_before(int i, psection sec, int mask)
{
    for (int j = 0; j < i; ++j)
        if (PARAMS[j].section == sec && (PARAMS[j].owners & mask) && !strcmp(PARAMS[j].name, PARAMS[i].name))
            return true;
    return false;
}

/* ------------------------------------------------------- error context */

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} ctx;

static int fail(ctx *c, pnp_mark m, const char *fmt, ...) PNP_PRINTF(3, 4);
static int fail(ctx *c, pnp_mark m, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m.line > 0)
        snprintf(c->err, c->errlen, "%s:%d:%d: %s", c->file, m.line, m.col, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
    return -1;
}

/* ---------------------------------------------- YAML 1.1 scalar resolution */

typedef enum { S_NULL, S_BOOL, S_INT, S_FLOAT, S_STRING } stype;
typedef struct {
    stype type;
    bool b;
    long long i;
    double f;
    const char *text;
    pnp_mark mark;
} scalar;

static bool one_of(const char *s, const char *const *list, int n)
{
    for (int i = 0; i < n; ++i)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

/* Digits with optional '_' separators in the given base; false if anything else. */
static bool parse_digits(const char *s, int base, long long *out)
{
    char buf[128];
    size_t n = 0;
    for (; *s; ++s) {
        if (*s == '_') continue;
        if (n + 1 >= sizeof buf) return false;
        buf[n++] = *s;
    }
    buf[n] = '\0';
    if (n == 0) return false;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, base);
    if (*end || errno) return false;
    *out = v;
    return true;
}

static scalar resolve_plain(const char *t, pnp_mark mark)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    scalar s = {S_STRING, false, 0, 0, t, mark};
    if (one_of(t, nulls, COUNT(nulls))) { s.type = S_NULL; return s; }
    if (one_of(t, trues, COUNT(trues))) { s.type = S_BOOL; s.b = true; return s; }
    if (one_of(t, falses, COUNT(falses))) { s.type = S_BOOL; s.b = false; return s; }

    const char *p = t;
    int sign = 1;
    if (*p == '+' || *p == '-') sign = (*p++ == '-') ? -1 : 1;
    long long v;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') ? parse_digits(p + 2, 16, &v)
        : p[0] == '0' && p[1] == 'b' ? parse_digits(p + 2, 2, &v)
        : p[0] == '0' && p[1] ? parse_digits(p + 1, 8, &v)
        : (isdigit((unsigned char)p[0]) && parse_digits(p, 10, &v))) {
        s.type = S_INT;
        s.i = sign * v;
        s.f = (double)s.i;
        return s;
    }
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        s.type = S_FLOAT; s.f = sign * INFINITY; return s;
    }
    if (!strcmp(t, ".nan") || !strcmp(t, ".NaN") || !strcmp(t, ".NAN")) {
        s.type = S_FLOAT; s.f = NAN; return s;
    }
    /* floats: YAML 1.1 wants a '.', we also take 1e-3 (what users mean) */
    if (isdigit((unsigned char)p[0]) || (p[0] == '.' && isdigit((unsigned char)p[1]))) {
        char buf[128];
        size_t n = 0;
        for (const char *q = t; *q && n + 1 < sizeof buf; ++q)
            if (*q != '_') buf[n++] = *q;
        buf[n] = '\0';
        char *end;
        double f = strtod(buf, &end);
        if (*end == '\0' && (strchr(buf, '.') || strchr(buf, 'e') || strchr(buf, 'E'))) {
            s.type = S_FLOAT;
            s.f = f;
        }
    }
    return s;
}

static const char *scalar_desc(const scalar *s)
{
    switch (s->type) {
    case S_NULL: return "null";
    case S_BOOL: return "boolean";
    case S_INT: return "integer";
    case S_FLOAT: return "number";
    default: return "string";
    }
}

/* Store scalar s into parameter p of row. */
static int set_param(ctx *c, pnp_row *row, int pi, const scalar *s)
{
    const param *p = &PARAMS[pi];
    char *field = (char *)row + p->offset;
    if ((p->type == T_AUTO_INT || p->type == T_AUTO_BOOL) && s->type == S_STRING && !strcmp(s->text, "auto")) {
        *(int *)field = PNP_AUTO;
        row->marks[pi] = s->mark;
        return 0;
    }
    switch (p->type) {
    case T_AUTO_BOOL:
        if (s->type != S_BOOL)
            return fail(c, s->mark, "key '%s' expects true, false or auto, got %s '%s'", p->name, scalar_desc(s),
                        s->text);
        *(int *)field = s->b;
        break;
    case T_AUTO_INT:
        if (s->type != S_INT)
            return fail(c, s->mark, "key '%s' expects an integer or auto, got %s '%s'", p->name, scalar_desc(s),
                        s->text);
        if (s->i < 0 || s->i > 2147483647LL)
            return fail(c, s->mark, "key '%s' must be auto or an integer >= 0, got %lld", p->name, s->i);
        *(int *)field = (int)s->i;
        break;
    case T_INT:
        if (s->type != S_INT)
            return fail(c, s->mark, "key '%s' expects an integer, got %s '%s'", p->name, scalar_desc(s), s->text);
        if ((double)s->i < p->min)
            return fail(c, s->mark, "key '%s' must be >= %g, got %lld", p->name, p->min, s->i);
        if (p->size == sizeof(int)) {
            if (s->i > 2147483647LL || s->i < -2147483647LL)
                return fail(c, s->mark, "key '%s': %lld is out of range", p->name, s->i);
            *(int *)field = (int)s->i;
        } else {
            *(long long *)field = s->i;
        }
        break;
    case T_NFLOAT:
    case T_FLOAT:
        if (p->type == T_NFLOAT && s->type == S_NULL) {
            *(double *)field = NAN;
            break;
        }
        if (s->type != S_INT && s->type != S_FLOAT)
            return fail(c, s->mark, "key '%s' expects a number%s, got %s '%s'", p->name,
                        p->type == T_NFLOAT ? " or null" : "", scalar_desc(s), s->text);
        if (!(s->f >= p->min) || !isfinite(s->f))
            return fail(c, s->mark, "key '%s' must be a finite number >= %g, got '%s'", p->name, p->min, s->text);
        *(double *)field = s->f;
        break;
    case T_BOOL:
        if (s->type != S_BOOL)
            return fail(c, s->mark, "key '%s' expects true or false, got %s '%s'", p->name, scalar_desc(s), s->text);
        *(bool *)field = s->b;
        break;
    case T_STRING:
        if (s->type == S_NULL) {
            field[0] = '\0';
        } else if (s->type == S_STRING) {
            if (strlen(s->text) >= p->size)
                return fail(c, s->mark, "key '%s': value longer than %zu characters", p->name, p->size - 1);
            strcpy(field, s->text);
        } else {
            return fail(c, s->mark, "key '%s' expects a string, got %s '%s'", p->name, scalar_desc(s), s->text);
        }
        break;
    }
    row->marks[pi] = s->mark;
    row->given[pi] = true;
    return 0;
}

/* ----------------------------------------------------- YAML navigation */

typedef struct {
    yaml_document_t doc;
} ydoc;

static pnp_mark node_mark(const yaml_node_t *n)
{
    pnp_mark m = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    return m;
}

static scalar node_scalar(const yaml_node_t *n)
{
    const char *t = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return resolve_plain(t, node_mark(n));
    scalar s = {S_STRING, false, 0, 0, t, node_mark(n)};
    return s;
}

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? "a scalar" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

/* Items of a node seen as a list: a sequence's items, or the node itself. */
static int as_list(yaml_document_t *d, yaml_node_t *n, yaml_node_t ***items)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        *items = pnp_malloc(sizeof(yaml_node_t *));
        (*items)[0] = n;
        return 1;
    }
    int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    *items = pnp_malloc(sizeof(yaml_node_t *) * (count ? count : 1));
    for (int i = 0; i < count; ++i) (*items)[i] = yaml_document_get_node(d, n->data.sequence.items.start[i]);
    return count;
}

/* Mapping keys must be scalars and unique. */
static int check_mapping(ctx *c, yaml_document_t *d, yaml_node_t *map)
{
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; ++a) {
        yaml_node_t *ka = yaml_document_get_node(d, a->key);
        if (ka->type != YAML_SCALAR_NODE) return fail(c, node_mark(ka), "mapping keys must be plain names");
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; ++b) {
            yaml_node_t *kb = yaml_document_get_node(d, b->key);
            if (!strcmp((char *)ka->data.scalar.value, (char *)kb->data.scalar.value))
                return fail(c, node_mark(ka), "duplicate key '%s' (first at line %d)",
                            (char *)ka->data.scalar.value, (int)kb->start_mark.line + 1);
        }
    }
    return 0;
}

/* For an unknown slurm_* key: where other sbatch options go. */
static const char *slurm_hint(const char *key)
{
    return strncmp(key, "slurm_", 6) == 0
               ? "; other sbatch options go in slurm_extra, e.g. slurm_extra: \"--qos=high --constraint=a100\""
               : "";
}

/* ------------------------------------------------- parameter blocks */

/* One axis of a product: a key (or zipped keys) and its options. */
typedef struct {
    int nkeys;
    int pidx[64];             /* parameter index per key */
    int noptions;
    yaml_node_t **options;    /* [noptions * nkeys] scalar nodes */
} axis;

typedef struct {
    int naxes;
    axis axes[64];
} block;

static void block_free(block *b)
{
    for (int i = 0; i < b->naxes; ++i) free(b->axes[i].options);
    b->naxes = 0;
}

static void trim(char *s)
{
    char *a = s;
    while (isspace((unsigned char)*a)) ++a;
    memmove(s, a, strlen(a) + 1);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

static int need_scalar(ctx *c, yaml_node_t *n, const char *key)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, node_mark(n), "key '%s': expected a value, got %s", key, kind_name(n));
    return 0;
}

/* Parse the mapping of parameters of one dataset or solver into axes. */
static int parse_block(ctx *c, yaml_document_t *d, yaml_node_t *map, psection sec, const char *owner, block *b)
{
    b->naxes = 0;
    if (map == NULL) return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, node_mark(map), "parameters of '%s' must be a mapping of key: values", owner);
    if (check_mapping(c, d, map)) return -1;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; ++pr) {
        yaml_node_t *kn = yaml_document_get_node(d, pr->key), *vn = yaml_document_get_node(d, pr->value);
        if (b->naxes == COUNT(b->axes)) return fail(c, node_mark(kn), "too many parameter keys");
        axis *ax = &b->axes[b->naxes];
        ax->nkeys = 0;
        ax->noptions = 0;
        ax->options = NULL;
        /* split "a, b, c" */
        char keys[1024];
        snprintf(keys, sizeof keys, "%s", (char *)kn->data.scalar.value);
        for (char *save = NULL, *tok = strtok_r(keys, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            trim(tok);
            int pi;
            const int ds = sec == SEC_DATASET ? dataset_mask(owner) : solver_mask(owner);
            if (!find_param(tok, sec, ds, &pi)) {
                char known[2048] = "";
                for (int i = 0; i < NPARAMS; ++i)
                    if (PARAMS[i].section == sec && (PARAMS[i].owners & ds) && !named_before(i, sec, ds)) {
                        strcat(known, known[0] ? ", " : "");
                        strcat(known, PARAMS[i].name);
                    }
                return fail(c, node_mark(kn), "unknown key '%s' for %s '%s' (known: %s)%s", tok,
                            sec == SEC_DATASET ? "dataset" : "solver", owner, known, slurm_hint(tok));
            }
            for (int j = 0; j < ax->nkeys; ++j)
                if (ax->pidx[j] == pi) return fail(c, node_mark(kn), "key '%s' repeated", tok);
            for (int a = 0; a < b->naxes; ++a)
                for (int j = 0; j < b->axes[a].nkeys; ++j)
                    if (b->axes[a].pidx[j] == pi)
                        return fail(c, node_mark(kn), "key '%s' given twice in '%s'", PARAMS[pi].name, owner);
            if (ax->nkeys == 64) return fail(c, node_mark(kn), "too many zipped keys");
            ax->pidx[ax->nkeys++] = pi;
        }
        if (ax->nkeys == 0) return fail(c, node_mark(kn), "empty key");
        const char *kname = (char *)kn->data.scalar.value;

        yaml_node_t **items;
        int n = as_list(d, vn, &items);
        ax->options = pnp_malloc(sizeof(yaml_node_t *) * (size_t)(n ? n : 1) * ax->nkeys);
        b->naxes++; /* owned by b from here: freed by block_free on error */
        if (n == 0) {
            free(items);
            return fail(c, node_mark(vn), "key '%s': empty list of values", kname);
        }
        for (int o = 0; o < n; ++o) {
            yaml_node_t *it = items[o];
            if (ax->nkeys == 1) {
                if (need_scalar(c, it, kname)) { free(items); return -1; }
                ax->options[o] = it;
                continue;
            }
            if (it->type != YAML_SEQUENCE_NODE) {
                free(items);
                return fail(c, node_mark(it), "zipped keys '%s' take a list of rows, each a list of %d values",
                            kname, ax->nkeys);
            }
            int len = (int)(it->data.sequence.items.top - it->data.sequence.items.start);
            if (len != ax->nkeys) {
                free(items);
                return fail(c, node_mark(it), "zipped row %d has %d values, expected %d (%s)", o + 1, len,
                            ax->nkeys, kname);
            }
            for (int k = 0; k < len; ++k) {
                yaml_node_t *v = yaml_document_get_node(d, it->data.sequence.items.start[k]);
                if (need_scalar(c, v, PARAMS[ax->pidx[k]].name)) { free(items); return -1; }
                ax->options[o * ax->nkeys + k] = v;
            }
        }
        ax->noptions = n;
        free(items);
    }
    return 0;
}

static long long block_size(const block *b)
{
    long long n = 1;
    for (int i = 0; i < b->naxes; ++i) n *= b->axes[i].noptions;
    return n;
}

/* Apply combination `combo` (last axis fastest, as itertools.product) to row. */
static int apply_combo(ctx *c, const block *b, long long combo, pnp_row *row)
{
    for (int a = b->naxes - 1; a >= 0; --a) {
        const axis *ax = &b->axes[a];
        int o = (int)(combo % ax->noptions);
        combo /= ax->noptions;
        for (int k = 0; k < ax->nkeys; ++k) {
            scalar s = node_scalar(ax->options[o * ax->nkeys + k]);
            if (set_param(c, row, ax->pidx[k], &s)) return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------ named entries */

typedef struct {
    const char *name;
    pnp_mark mark;
    block params;
} entry;

/* dataset: / solver: -> list of entries "name" or {name: {params}}. */
static int parse_entries(ctx *c, yaml_document_t *d, yaml_node_t *n, psection sec, const char *const *known,
                         int nknown, entry **out, int *count)
{
    const char *what = sec == SEC_DATASET ? "dataset" : "solver";
    yaml_node_t **items;
    int n_items = as_list(d, n, &items);
    *out = pnp_calloc((size_t)(n_items ? n_items : 1), sizeof(entry));
    *count = 0;
    int rc = 0;
    if (n_items == 0) rc = fail(c, node_mark(n), "'%s' lists nothing", what);
    for (int i = 0; i < n_items && rc == 0; ++i) {
        yaml_node_t *it = items[i], *pn = NULL, *nn = it;
        if (it->type == YAML_MAPPING_NODE) {
            int np = (int)(it->data.mapping.pairs.top - it->data.mapping.pairs.start);
            if (np != 1) {
                rc = fail(c, node_mark(it), "each %s entry is 'name: {parameters}' (one name per list item)", what);
                break;
            }
            nn = yaml_document_get_node(d, it->data.mapping.pairs.start[0].key);
            pn = yaml_document_get_node(d, it->data.mapping.pairs.start[0].value);
            if (pn->type == YAML_SCALAR_NODE && pn->data.scalar.value[0] == '\0' &&
                pn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
                pn = NULL; /* "name:" with nothing after it */
        } else if (it->type != YAML_SCALAR_NODE) {
            rc = fail(c, node_mark(it), "a %s entry must be a name or 'name: {parameters}', got %s", what,
                      kind_name(it));
            break;
        }
        if (nn->type != YAML_SCALAR_NODE) {
            rc = fail(c, node_mark(nn), "%s name must be a plain name", what);
            break;
        }
        const char *name = (char *)nn->data.scalar.value;
        if (!one_of(name, known, nknown)) {
            char list[256] = "";
            for (int k = 0; k < nknown; ++k)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", known[k]);
            rc = fail(c, node_mark(nn), "unknown %s '%s' (known: %s)", what, name, list);
            break;
        }
        entry *e = &(*out)[(*count)++];
        e->name = name;
        e->mark = node_mark(nn);
        rc = parse_block(c, d, pn, sec, name, &e->params);
    }
    free(items);
    return rc;
}

static void entries_free(entry *e, int n)
{
    for (int i = 0; i < n; ++i) block_free(&e[i].params);
    free(e);
}

/* ------------------------------------------------------- validation */

/* Whether PARAMS[i] is a parameter of row r (its dataset's or its solver's). */
static bool param_of_row(int i, const pnp_row *r)
{
    const int mask = PARAMS[i].section == SEC_DATASET ? dataset_mask(r->dataset) : solver_mask(r->solver);
    return (PARAMS[i].owners & mask) != 0;
}

/* The index of row r's parameter `name` (for its mark). */
static int param_index(const pnp_row *r, const char *name)
{
    for (int i = 0; i < NPARAMS; ++i)
        if (!strcmp(PARAMS[i].name, name) && param_of_row(i, r)) return i;
    pnp_fatal("internal: no parameter named %s for %s / %s", name, r->dataset, r->solver);
}

static int validate_solver(ctx *c, const pnp_row *r); /* below: PnP's and DPIR's keys */

static int validate_slurm(ctx *c, const pnp_row *r); /* below: the Slurm keys */

static int validate_row(ctx *c, pnp_row *r)
{
#define MARK(nm) r->marks[param_index(r, nm)]
    if (r->torchrun_nproc_per_node > 1) { /* a workstation row: N ranks on one node */
        if (r->ntasks_per_node != 1 && r->ntasks_per_node != r->torchrun_nproc_per_node)
            return fail(c, MARK("torchrun_nproc_per_node"),
                        "row %d: torchrun_nproc_per_node %d and slurm_ntasks_per_node %d disagree on the ranks "
                        "per node", r->index, r->torchrun_nproc_per_node, r->ntasks_per_node);
        if (r->nodes != 1)
            return fail(c, MARK("torchrun_nproc_per_node"),
                        "row %d: torchrun_nproc_per_node runs on one node, but slurm_nodes is %d", r->index,
                        r->nodes);
        r->ntasks_per_node = r->torchrun_nproc_per_node;
    }
    if (r->force_cpu) {
        if (!strcmp(r->backend, "cuda"))
            return fail(c, MARK("force_cpu"), "row %d: force_cpu: true contradicts backend: cuda", r->index);
        snprintf(r->backend, sizeof r->backend, "cpu");
    }
    if (r->slurm_gres[0]) {
        /* gpu:N or gpu:TYPE:N */
        const char *last = strrchr(r->slurm_gres, ':');
        char *end = NULL;
        long n = last ? strtol(last + 1, &end, 10) : 0;
        if (strncmp(r->slurm_gres, "gpu:", 4) || !last || end == last + 1 || *end || n < 1)
            return fail(c, MARK("slurm_gres"), "row %d: slurm_gres '%s' is not of the form gpu:N (N >= 1)",
                        r->index, r->slurm_gres);
        r->gres_gpus = (int)n;
        if (r->gres_gpus != r->ntasks_per_node)
            return fail(c, MARK("slurm_ntasks_per_node"),
                        "row %d: slurm_ntasks_per_node is %d but slurm_gres '%s' asks for %d GPUs; pnp runs one "
                        "rank per GPU, so they must be equal",
                        r->index, r->ntasks_per_node, r->slurm_gres, r->gres_gpus);
    }
    if (r->ntasks_per_node < 1)
        return fail(c, MARK("slurm_ntasks_per_node"), "row %d: slurm_ntasks_per_node must be >= 1, got %d",
                    r->index, r->ntasks_per_node);
    if (r->nodes < 1)
        return fail(c, MARK("slurm_nodes"), "row %d: slurm_nodes must be >= 1, got %d", r->index, r->nodes);
    if (r->distribute_denoiser && r->patch_size != PNP_AUTO && (r->patch_size <= 0 || r->patch_size % 8 != 0))
        return fail(c, MARK("patch_size"),
                    "row %d: patch_size must be auto or a positive multiple of 8 when distribute_denoiser is true, "
                    "got %d", r->index, r->patch_size);
    if (r->overlap < 0)
        return fail(c, MARK("overlap"), "row %d: overlap must be >= 0, got %d", r->index, r->overlap);
    if (strcmp(r->backend, "auto") && strcmp(r->backend, "cpu") && strcmp(r->backend, "cuda"))
        return fail(c, MARK("backend"), "row %d: backend must be 'auto', 'cpu' or 'cuda', got '%s'", r->index,
                    r->backend);
    if (strcmp(r->precision, "fp32") && strcmp(r->precision, "bf16"))
        return fail(c, MARK("precision"), "row %d: precision must be 'fp32' or 'bf16', got '%s'", r->index,
                    r->precision);
    if (!strcmp(r->dataset, "observed")) {
        if (!r->measurements[0])
            return fail(c, r->dataset_mark,
                        "row %d: dataset 'observed' needs 'measurements' (a glob such as data/blurred_*.png, or one "
                        "file holding all)", r->index);
        if (!r->psfs[0])
            return fail(c, r->dataset_mark,
                        "row %d: dataset 'observed' needs 'psfs' (a glob or one file, as many PSFs as measurements)",
                        r->index);
        if (strcmp(r->boundary, "pad") && strcmp(r->boundary, "circular"))
            return fail(c, MARK("boundary"), "row %d: boundary must be 'pad' or 'circular', got '%s'", r->index,
                        r->boundary);
    }
    char arch[32], why[512];
    int widths[4], blocks;
    if (pnp_denoiser_spec_parse(r->denoiser, arch, sizeof arch, widths, &blocks, why, sizeof why))
        return fail(c, MARK("denoiser"), "row %d: %s", r->index, why);
    if (!strcmp(arch, "none") && r->weights[0])
        return fail(c, MARK("weights"), "row %d: weights '%s' given with denoiser 'none'", r->index, r->weights);
    if (validate_solver(c, r)) return -1;
    return validate_slurm(c, r);
#undef MARK
}

static int validate_solver(ctx *c, const pnp_row *r)
{
#define MARK(nm) r->marks[param_index(r, nm)]
#define GIVEN(nm) r->given[param_index(r, nm)]
    if (r->noise_level > 1) /* the dataset's key, checked here beside its use */
        return fail(c, MARK("noise_level"), "row %d: noise_level %g: pnp's images are in [0,1], so the noise's "
                    "standard deviation is in those units (8-bit units: divide by 255, e.g. 5/255 = 0.0196)",
                    r->index, r->noise_level);
    if (!strcmp(r->solver, "DPIR")) {
        if (!(r->sigma_start > 0))
            return fail(c, MARK("sigma_start"), "row %d: key 'sigma_start' (DPIR's first denoiser level) must be > 0, "
                        "got %g", r->index, r->sigma_start);
        if (!(r->dpir_lambda > 0))
            return fail(c, MARK("lambda"), "row %d: key 'lambda' (DPIR's rho_k = lambda noise^2 / sigma_k^2) must be "
                        "> 0, got %g", r->index, r->dpir_lambda);
        if (!(r->noise_level > 0))
            return fail(c, GIVEN("noise_level") ? MARK("noise_level") : r->dataset_mark,
                        "row %d: solver DPIR needs the noise level of the measurements (its denoiser levels go from "
                        "sigma_start down to it): key 'noise_level' of dataset '%s' is %s", r->index, r->dataset,
                        GIVEN("noise_level") ? "0" : "not given");
        if (r->sigma_start < r->noise_level)
            return fail(c, MARK("sigma_start"), "row %d: DPIR's denoiser levels go from sigma_start %g down to the "
                        "noise level %g; sigma_start must be at least the noise level", r->index, r->sigma_start,
                        r->noise_level);
        return 0;
    }
    if (strcmp(r->init_method, "zeros") && strcmp(r->init_method, "pseudo_inverse") && strcmp(r->init_method, "wiener"))
        return fail(c, MARK("init_method"), "row %d: init_method must be 'zeros', 'pseudo_inverse' or 'wiener', got '%s'",
                    r->index, r->init_method);
    if (!(r->step_size_scale > 0))
        return fail(c, MARK("step_size_scale"), "row %d: key 'step_size_scale' must be > 0, got %g", r->index,
                    r->step_size_scale);
    if (!isnan(r->step_size) && GIVEN("step_size_scale"))
        return fail(c, MARK("step_size_scale"),
                    "row %d: key 'step_size_scale' scales 1/L only with 'step_size: null', but this row has an "
                    "explicit step_size %g: give one or the other", r->index, r->step_size);
    if (!isnan(r->denoiser_lambda_relaxation) && !(r->denoiser_lambda_relaxation > 0))
        return fail(c, MARK("denoiser_lambda_relaxation"),
                    "row %d: key 'denoiser_lambda_relaxation' must be > 0 (or null: no relaxation), got %g", r->index,
                    r->denoiser_lambda_relaxation);
    if (!isnan(r->wiener_eps) && !(r->wiener_eps > 0))
        return fail(c, MARK("wiener_eps"), "row %d: key 'wiener_eps' must be > 0 (or null: from noise_level), got %g",
                    r->index, r->wiener_eps);
    if (!strcmp(r->init_method, "wiener") && isnan(r->wiener_eps) && !(r->noise_level > 0))
        return fail(c, MARK("init_method"),
                    "row %d: init_method 'wiener' needs 'wiener_eps' or the dataset's noise_level (its default "
                    "eps), and dataset '%s' gives no noise level", r->index, r->dataset);
    return 0;
#undef GIVEN
#undef MARK
}

int pnp_denoiser_spec_parse(const char *spec, char *arch, size_t archlen, int widths[4], int *blocks, char *err,
                            size_t errlen)
{
    static const int DRUNET_WIDTHS[4] = {64, 128, 256, 512};
    memcpy(widths, DRUNET_WIDTHS, sizeof DRUNET_WIDTHS);
    *blocks = 4;
    const int gray = !strncmp(spec, "drunet_gray", 11);
    const char *base = gray ? "drunet_gray" : "drunet", *opt = spec + strlen(base); /* ":W0,..." or "" */
    if (!strncmp(spec, base, strlen(base)) && (opt[0] == '\0' || opt[0] == ':')) {
        int used = 0, nb = 4, got = 0;
        if (opt[0] == ':') { /* W0,W1,W2,W3 and an optional :NB, nothing after them */
            got = sscanf(opt + 1, "%d,%d,%d,%d%n", &widths[0], &widths[1], &widths[2], &widths[3], &used);
            if (got == 4 && opt[1 + used] == ':') {
                int more = 0;
                got = sscanf(opt + 2 + used, "%d%n", &nb, &more) == 1 ? 5 : 0;
                used += 1 + more;
            }
        }
        if (opt[0] == ':' && (got < 4 || opt[1 + used] != '\0' || widths[0] < 1 || widths[1] < 1 ||
                              widths[2] < 1 || widths[3] < 1 || nb < 1 || nb > 16)) {
            snprintf(err, errlen, "denoiser '%s': expected %s:W0,W1,W2,W3[:NB] with positive widths (NB 1..16)",
                     spec, base);
            return -1;
        }
        *blocks = nb;
        snprintf(arch, archlen, "%s", base);
        return 0;
    }
    if (!strcmp(spec, "dncnn") || !strcmp(spec, "ffdnet") || !strcmp(spec, "dncnn_gray") ||
        !strcmp(spec, "ffdnet_gray") || !strcmp(spec, "none")) {
        snprintf(arch, archlen, "%s", spec);
        return 0;
    }
    snprintf(err, errlen,
             "unknown denoiser '%s' (known: drunet, drunet:W0,W1,W2,W3[:NB], dncnn, ffdnet, their grey versions "
             "drunet_gray[:W0,W1,W2,W3[:NB]], dncnn_gray, ffdnet_gray, and none)", spec);
    return -1;
}

int pnp_config_check_row(const pnp_config *cfg, const pnp_row *row, char *err, size_t errlen)
{
    ctx c = {cfg->path, err, errlen};
    const struct {
        const char *key, *path, *what;
    } files[] = {{"image", row->image, "PNG image"}, {"weights", row->weights, "weights file"}};
    for (size_t k = 0; k < sizeof files / sizeof *files; ++k) {
        char why[2048];
        if (files[k].path[0] && pnp_input_check(files[k].path, files[k].what, why, sizeof why))
            return fail(&c, row->marks[param_index(row, files[k].key)], "row %d: %s: %s", row->index, files[k].key, why);
    }
    return 0;
}

/* Options pnp grid writes into every script from other keys (or by itself). */
static const struct {
    const char *lng, *shrt, *key; /* key NULL: pnp grid sets it itself */
} SBATCH_OWN[] = {
    {"--gres", NULL, "slurm_gres"},
    {"--ntasks-per-node", NULL, "slurm_ntasks_per_node"},
    {"--nodes", "-N", "slurm_nodes"},
    {"--ntasks", "-n", "slurm_ntasks_per_node and slurm_nodes"},
    {"--time", "-t", "slurm_time"},
    {"--partition", "-p", "slurm_partition"},
    {"--account", "-A", "slurm_account"},
    {"--cpus-per-task", "-c", "slurm_cpus_per_task"},
    {"--job-name", "-J", NULL},
    {"--output", "-o", NULL},
    {"--signal", NULL, NULL},
};

static int extra_error(char *err, size_t errlen, const char *fmt, ...) PNP_PRINTF(3, 4);
static int extra_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int pnp_slurm_extra_options(const char *extra, char (*opts)[PNP_SLURM_OPT_LEN], int max, char *err, size_t errlen)
{
    int n = 0;
    bool has_value = false; /* the last option already carries its value */
    for (const char *p = extra; *p;) {
        if (isspace((unsigned char)*p) || *p == ';') {
            ++p;
            continue;
        }
        const char *w = p;
        while (*p && !isspace((unsigned char)*p) && *p != ';') ++p;
        char word[PNP_SLURM_OPT_LEN];
        if ((size_t)(p - w) >= sizeof word) return extra_error(err, errlen, "an option is too long");
        memcpy(word, w, (size_t)(p - w));
        word[p - w] = '\0';
        for (const char *q = word; *q; ++q)
            if (strchr("'\"\\`", *q) || iscntrl((unsigned char)*q))
                return extra_error(err, errlen,
                                   "'%s': quotes, backslashes and control characters are not supported "
                                   "(options are separated by spaces or ';', e.g. \"--qos=high --constraint=a100\")",
                                   word);
        if (word[0] != '-') { /* the value of the option before: "--qos high", "-C a100" */
            if (n == 0)
                return extra_error(err, errlen, "'%s' is not an sbatch option (options start with '-', e.g. "
                                                "--qos=high)", word);
            if (has_value)
                return extra_error(err, errlen, "'%s' follows '%s', which already has its value", word, opts[n - 1]);
            if (strlen(opts[n - 1]) + 1 + strlen(word) >= PNP_SLURM_OPT_LEN)
                return extra_error(err, errlen, "an option is too long");
            strcat(opts[n - 1], " ");
            strcat(opts[n - 1], word);
            has_value = true;
            continue;
        }
        char name[PNP_SLURM_OPT_LEN];
        snprintf(name, sizeof name, "%s", word);
        name[strcspn(name, "=")] = '\0';
        for (int i = 0; i < COUNT(SBATCH_OWN); ++i) {
            const bool lng = !strcmp(name, SBATCH_OWN[i].lng);
            const bool shrt = SBATCH_OWN[i].shrt && !strncmp(word, SBATCH_OWN[i].shrt, 2);
            if (!lng && !shrt) continue;
            if (SBATCH_OWN[i].key)
                return extra_error(err, errlen, "'%s': pnp grid writes %s from %s; set that instead", word,
                                   SBATCH_OWN[i].lng, SBATCH_OWN[i].key);
            return extra_error(err, errlen, "'%s': pnp grid writes %s itself (job name, log file, USR1 before the "
                                            "time limit)", word, SBATCH_OWN[i].lng);
        }
        if (n == max) return extra_error(err, errlen, "more than %d options", max);
        snprintf(opts[n++], PNP_SLURM_OPT_LEN, "%s", word);
        has_value = strchr(word, '=') != NULL || (word[1] != '-' && word[2] != '\0');
    }
    return n;
}

/* Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; or infinite/unlimited. */
static bool slurm_time_ok(const char *t)
{
    if (!strcasecmp(t, "infinite") || !strcasecmp(t, "unlimited")) return true;
    const char *p = t;
    int groups = 0;
    bool days = false;
    for (;;) {
        if (!isdigit((unsigned char)*p)) return false;
        while (isdigit((unsigned char)*p)) ++p;
        ++groups;
        if (*p == '\0') return groups <= 3;
        if (*p == '-' && groups == 1 && !days) {
            days = true;
            groups = 0;
        } else if (*p != ':') {
            return false;
        }
        ++p;
    }
}

/* A gres, partition or account name: one word of printable characters, no quotes. */
static bool slurm_word_ok(const char *s)
{
    for (; *s; ++s)
        if (!isgraph((unsigned char)*s) || strchr("'\"\\`#", *s)) return false;
    return true;
}

static int validate_slurm(ctx *c, const pnp_row *r)
{
#define MARK(nm) r->marks[param_index(r, nm)]
    if (!slurm_word_ok(r->slurm_gres))
        return fail(c, MARK("slurm_gres"), "row %d: slurm_gres '%s' must be one word (no spaces or quotes)", r->index,
                    r->slurm_gres);
    if (r->slurm_time[0] && !slurm_time_ok(r->slurm_time))
        return fail(c, MARK("slurm_time"),
                    "row %d: slurm_time '%s' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM "
                    "or D-HH:MM:SS; quote it in YAML: \"02:00:00\")",
                    r->index, r->slurm_time);
    if (!slurm_word_ok(r->slurm_partition))
        return fail(c, MARK("slurm_partition"), "row %d: slurm_partition '%s' must be one word (no spaces or quotes)",
                    r->index, r->slurm_partition);
    if (!slurm_word_ok(r->slurm_account))
        return fail(c, MARK("slurm_account"), "row %d: slurm_account '%s' must be one word (no spaces or quotes)",
                    r->index, r->slurm_account);
    char opts[PNP_SLURM_EXTRA_MAX][PNP_SLURM_OPT_LEN], why[1024];
    if (pnp_slurm_extra_options(r->slurm_extra, opts, PNP_SLURM_EXTRA_MAX, why, sizeof why) < 0)
        return fail(c, MARK("slurm_extra"), "row %d: slurm_extra: %s", r->index, why);
    return 0;
#undef MARK
}

/* ------------------------------------------------------------ driver */

/* A row of the named dataset and solver with every default. */
static void row_defaults(pnp_row *r, const char *dataset, pnp_mark dataset_mark, const char *solver)
{
    ctx c = {"<defaults>", NULL, 0};
    char err[256];
    c.err = err;
    c.errlen = sizeof err;
    memset(r, 0, sizeof *r);
    snprintf(r->dataset, sizeof r->dataset, "%s", dataset);
    snprintf(r->solver, sizeof r->solver, "%s", solver);
    r->dataset_mark = dataset_mark;
    for (int i = 0; i < NPARAMS; ++i) {
        if (!param_of_row(i, r)) continue;
        pnp_mark none = {0, 0};
        scalar s = resolve_plain(PARAMS[i].def, none);
        if (PARAMS[i].type == T_STRING) s.type = S_STRING;
        if (set_param(&c, r, i, &s)) pnp_fatal("internal: bad default for %s: %s", PARAMS[i].name, err);
    }
    memset(r->given, 0, sizeof r->given);
}

static int apply_override(ctx *c, pnp_config *cfg, const char *kv)
{
    char key[256];
    const char *eq = strchr(kv, '=');
    pnp_mark none = {0, 0};
    ctx oc = *c;
    char where[300];
    snprintf(where, sizeof where, "--set %s", kv);
    oc.file = where;
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) return fail(&oc, none, "expected KEY=VALUE");
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    trim(key);
    int pi, applied = 0;
    if (!find_param(key, SEC_DATASET, DS_ANY, &pi) && !find_param(key, SEC_SOLVER, SV_ANY, &pi))
        return fail(&oc, none, "unknown key '%s'%s", key, slurm_hint(key));
    for (int r = 0; r < cfg->n_rows; ++r) { /* a key goes to the rows whose dataset or solver has it */
        if (!find_param(key, SEC_DATASET, dataset_mask(cfg->rows[r].dataset), &pi) &&
            !find_param(key, SEC_SOLVER, solver_mask(cfg->rows[r].solver), &pi))
            continue;
        scalar s = resolve_plain(eq + 1, none);
        if (PARAMS[pi].type == T_STRING && s.type != S_NULL) s.type = S_STRING; /* a path like 123 stays text */
        if (set_param(&oc, &cfg->rows[r], pi, &s)) return -1;
        ++applied;
    }
    if (!applied)
        return fail(&oc, none, "key '%s' is not a parameter of the dataset%s or solver%s of this grid (%s, %s)", key,
                    cfg->n_rows > 1 ? "s" : "", cfg->n_rows > 1 ? "s" : "", cfg->n_rows ? cfg->rows[0].dataset : "none",
                    cfg->n_rows ? cfg->rows[0].solver : "none");
    return 0;
}

static int load_doc(ctx *c, yaml_document_t *doc, pnp_config *cfg, const char *const *overrides, int n_overrides)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    pnp_mark top = {1, 1};
    if (!root) return fail(c, top, "empty configuration");
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, node_mark(root), "the top level must be a mapping (objective, dataset, solver)");
    if (check_mapping(c, doc, root)) return -1;

    yaml_node_t *dsn = NULL, *svn = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        const char *key = (char *)k->data.scalar.value;
        if (!strcmp(key, "dataset")) {
            dsn = v;
        } else if (!strcmp(key, "solver")) {
            svn = v;
        } else if (!strcmp(key, "objective")) {
            yaml_node_t **items;
            int n = as_list(doc, v, &items);
            for (int i = 0; i < n; ++i) {
                if (items[i]->type != YAML_SCALAR_NODE ||
                    !one_of((char *)items[i]->data.scalar.value, OBJECTIVES, COUNT(OBJECTIVES))) {
                    pnp_mark m = node_mark(items[i]);
                    free(items);
                    return fail(c, m, "unknown objective (known: psnr, reconstruction_objective)");
                }
            }
            free(items);
        } else if (!one_of(key, RUN_OPTIONS, COUNT(RUN_OPTIONS))) {
            return fail(c, node_mark(k), "unknown top-level key '%s' (known: objective, dataset, solver, and "
                                         "benchopt's run options such as max-runs, n-repetitions, plot, html)",
                        key);
        }
    }
    if (!dsn) return fail(c, top, "no 'dataset' section");
    if (!svn) return fail(c, top, "no 'solver' section");

    entry *ds = NULL, *sv = NULL;
    int nds = 0, nsv = 0, rc;
    rc = parse_entries(c, doc, dsn, SEC_DATASET, DATASETS, COUNT(DATASETS), &ds, &nds);
    if (rc == 0) rc = parse_entries(c, doc, svn, SEC_SOLVER, SOLVERS, COUNT(SOLVERS), &sv, &nsv);
    if (rc == 0) {
        long long total = 0;
        for (int i = 0; i < nds; ++i)
            for (int j = 0; j < nsv; ++j) total += block_size(&ds[i].params) * block_size(&sv[j].params);
        if (total > 100000) rc = fail(c, top, "the grid expands to %lld rows (more than 100000)", total);
        else {
            cfg->rows = pnp_calloc((size_t)total, sizeof(pnp_row));
            cfg->n_rows = 0;
            for (int i = 0; i < nds && rc == 0; ++i)
                for (long long a = 0; a < block_size(&ds[i].params) && rc == 0; ++a)
                    for (int j = 0; j < nsv && rc == 0; ++j)
                        for (long long b = 0; b < block_size(&sv[j].params) && rc == 0; ++b) {
                            pnp_row *r = &cfg->rows[cfg->n_rows];
                            row_defaults(r, ds[i].name, ds[i].mark, sv[j].name);
                            r->index = cfg->n_rows++;
                            rc = apply_combo(c, &ds[i].params, a, r);
                            if (rc == 0) rc = apply_combo(c, &sv[j].params, b, r);
                        }
        }
    }
    if (ds) entries_free(ds, nds);
    if (sv) entries_free(sv, nsv);
    for (int i = 0; i < n_overrides && rc == 0; ++i) rc = apply_override(c, cfg, overrides[i]);
    for (int r = 0; r < cfg->n_rows && rc == 0; ++r) rc = validate_row(c, &cfg->rows[r]);
    return rc;
}

/* text into doc; 0, or -1 with "FILE:LINE:COL: YAML syntax error ..." */
static int parse_yaml(ctx *c, const char *text, yaml_document_t *doc)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) pnp_fatal("libyaml: cannot initialise a parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        pnp_mark m = {(int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1};
        if (parser.context)
            rc = fail(c, m, "YAML syntax error: %s (%s that starts at line %d, column %d)",
                      parser.problem ? parser.problem : "unknown", parser.context,
                      (int)parser.context_mark.line + 1, (int)parser.context_mark.column + 1);
        else
            rc = fail(c, m, "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* The whole of a text file, NUL-terminated (malloc'd), or NULL with err (no
 * such file, a folder, unreadable, NUL bytes); what names its role. */
static char *read_text(const char *path, const char *what, char *err, size_t errlen)
{
    if (pnp_input_check(path, what, err, errlen)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = pnp_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
        if (!buf) pnp_fatal("out of memory reading %s", path);
    }
    const int bad = ferror(f) ? errno : 0;
    fclose(f);
    buf[n] = '\0';
    if (bad || strlen(buf) != n) {
        free(buf);
        snprintf(err, errlen, "%s: %s%s", path, bad ? "read error: " : "contains NUL bytes (not a YAML text file)",
                 bad ? strerror(bad) : "");
        return NULL;
    }
    return buf;
}

int pnp_config_read_text(const char *path, char **text, char *err, size_t errlen)
{
    *text = read_text(path, "configuration file", err, errlen);
    return *text ? 0 : -1;
}

int pnp_config_load_string(const char *name, const char *text, const char *const *overrides, int n_overrides,
                           pnp_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = pnp_strdup(name);
    cfg->text = pnp_strdup(text);
    ctx c = {cfg->path, err, errlen};
    yaml_document_t doc;
    int rc = parse_yaml(&c, cfg->text, &doc);
    if (!rc) {
        rc = load_doc(&c, &doc, cfg, overrides, n_overrides);
        yaml_document_delete(&doc);
    }
    if (rc) pnp_config_free(cfg);
    return rc;
}

int pnp_config_load_file(const char *path, const char *const *overrides, int n_overrides, pnp_config *cfg,
                         char *err, size_t errlen)
{
    char *buf = read_text(path, "configuration file", err, errlen);
    if (!buf) {
        memset(cfg, 0, sizeof *cfg);
        return -1;
    }
    int rc = pnp_config_load_string(path, buf, overrides, n_overrides, cfg, err, errlen);
    free(buf);
    return rc;
}

void pnp_config_free(pnp_config *cfg)
{
    free(cfg->path);
    free(cfg->text);
    free(cfg->rows);
    memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------ the parallel config */

/* A scalar as text: plain integers and floats keep their spelling. */
static int pc_text(ctx *c, yaml_node_t *n, const char *key, char *out, size_t len)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, node_mark(n), "%s: expected a single value, got %s", key, kind_name(n));
    const char *t = (const char *)n->data.scalar.value;
    if (strlen(t) >= len) return fail(c, node_mark(n), "%s: value too long (%zu characters)", key, strlen(t));
    if (!slurm_word_ok(t)) return fail(c, node_mark(n), "%s: '%s' must be one word (no spaces or quotes)", key, t);
    snprintf(out, len, "%s", t);
    return 0;
}

/* slurm_time: whole minutes (submitit's unit) or Slurm's own "[D-]H:MM:SS". */
static int pc_time(ctx *c, yaml_node_t *n, pnp_parallel_config *pc)
{
    if (n->type == YAML_SCALAR_NODE) {
        const scalar v = node_scalar(n);
        if (v.type == S_INT && v.i > 0) {
            snprintf(pc->slurm_time, sizeof pc->slurm_time, "%lld:%02lld:00", v.i / 60, v.i % 60);
            return 0;
        }
        if (v.type == S_STRING && slurm_time_ok(v.text) && strlen(v.text) < sizeof pc->slurm_time) {
            snprintf(pc->slurm_time, sizeof pc->slurm_time, "%s", v.text);
            return 0;
        }
    }
    return fail(c, node_mark(n), "slurm_time: expected minutes (a positive integer) or H:MM:SS");
}

/* One slurm_additional_parameters entry: a key pnp writes itself fills it, else an #SBATCH option. */
static int pc_additional(ctx *c, const char *key, yaml_node_t *v, pnp_parallel_config *pc)
{
    static const char *const owned[] = {"nodes", "N", "ntasks-per-node", "ntasks", "n", "gres", "job-name", "J",
                                        "output", "o", "error", "e", "signal"};
    if (one_of(key, owned, COUNT(owned)))
        return fail(c, node_mark(v), "slurm_additional_parameters: '%s' is set by pnp grid from the grid row "
                    "(slurm_nodes, slurm_ntasks_per_node, slurm_gres) or by itself", key);
    const scalar s = node_scalar(v);
    if (!strcmp(key, "cpus-per-task") || !strcmp(key, "c")) {
        if (s.type != S_INT || s.i < 1) return fail(c, node_mark(v), "cpus-per-task: expected a positive integer");
        pc->slurm_cpus_per_task = (int)s.i;
    } else if (!strcmp(key, "time") || !strcmp(key, "t")) {
        return pc_time(c, v, pc);
    } else if (!strcmp(key, "partition") || !strcmp(key, "p")) {
        return pc_text(c, v, key, pc->slurm_partition, sizeof pc->slurm_partition);
    } else if (!strcmp(key, "account") || !strcmp(key, "A")) {
        return pc_text(c, v, key, pc->slurm_account, sizeof pc->slurm_account);
    } else if (!strcmp(key, "mem")) {
        return pc_text(c, v, key, pc->slurm_mem, sizeof pc->slurm_mem);
    } else {
        char val[PNP_SLURM_OPT_LEN - 64];
        if (pc_text(c, v, key, val, sizeof val)) return -1;
        if (pc->n_sbatch == PNP_SLURM_EXTRA_MAX)
            return fail(c, node_mark(v), "slurm_additional_parameters: more than %d options", PNP_SLURM_EXTRA_MAX);
        char *opt = pc->sbatch[pc->n_sbatch++];
        if (s.type == S_BOOL && s.b) snprintf(opt, PNP_SLURM_OPT_LEN, "--%s", key);
        else if (s.type == S_BOOL) --pc->n_sbatch; /* false: the option is not given */
        else snprintf(opt, PNP_SLURM_OPT_LEN, "--%s=%s", key, val);
    }
    return 0;
}

static int pc_walk(ctx *c, yaml_document_t *d, pnp_parallel_config *pc)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    if (!root || root->type != YAML_MAPPING_NODE)
        return fail(c, root ? node_mark(root) : (pnp_mark){0, 0},
                    "a parallel config is a mapping (backend: submitit, slurm_time: ..., ...)");
    bool have_backend = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = yaml_document_get_node(d, p->key), *v = yaml_document_get_node(d, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        char text[256];
        if (!strcmp(key, "backend")) {
            if (pc_text(c, v, key, text, sizeof text)) return -1;
            if (strcmp(text, "submitit"))
                return fail(c, node_mark(v), "backend: '%s': pnp grid runs the submitit backend (Slurm) only; "
                            "for this machine use pnp grid --local", text);
            have_backend = true;
        } else if (!strcmp(key, "slurm_time")) {
            if (pc_time(c, v, pc)) return -1;
        } else if (!strcmp(key, "slurm_partition")) {
            if (pc_text(c, v, key, pc->slurm_partition, sizeof pc->slurm_partition)) return -1;
        } else if (!strcmp(key, "slurm_account")) {
            if (pc_text(c, v, key, pc->slurm_account, sizeof pc->slurm_account)) return -1;
        } else if (!strcmp(key, "slurm_mem")) {
            if (pc_text(c, v, key, pc->slurm_mem, sizeof pc->slurm_mem)) return -1;
        } else if (!strcmp(key, "slurm_cpus_per_task")) {
            const scalar s = v->type == YAML_SCALAR_NODE ? node_scalar(v) : (scalar){0};
            if (s.type != S_INT || s.i < 1) return fail(c, node_mark(v), "slurm_cpus_per_task: expected a positive integer");
            pc->slurm_cpus_per_task = (int)s.i;
        } else if (!strcmp(key, "slurm_stderr_to_stdout")) {
            const scalar s = v->type == YAML_SCALAR_NODE ? node_scalar(v) : (scalar){0};
            if (s.type != S_BOOL) return fail(c, node_mark(v), "slurm_stderr_to_stdout: expected true or false");
            pc->stderr_to_stdout = s.b;
        } else if (!strcmp(key, "slurm_additional_parameters")) {
            if (v->type != YAML_MAPPING_NODE)
                return fail(c, node_mark(v), "slurm_additional_parameters: expected a mapping (option: value)");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; ++q) {
                yaml_node_t *qk = yaml_document_get_node(d, q->key), *qv = yaml_document_get_node(d, q->value);
                if (qk->type != YAML_SCALAR_NODE || !slurm_word_ok((const char *)qk->data.scalar.value))
                    return fail(c, node_mark(qk), "slurm_additional_parameters: a key must be one word");
                if (pc_additional(c, (const char *)qk->data.scalar.value, qv, pc)) return -1;
            }
        } else if (!strcmp(key, "slurm_setup")) {
            yaml_node_t **items;
            const int n = as_list(d, v, &items);
            for (int i = 0; i < n; ++i) {
                if (items[i]->type != YAML_SCALAR_NODE || pc->n_setup == PNP_SLURM_EXTRA_MAX ||
                    strchr((const char *)items[i]->data.scalar.value, '\n') ||
                    strlen((const char *)items[i]->data.scalar.value) >= PNP_SLURM_OPT_LEN) {
                    free(items);
                    return fail(c, node_mark(items[i]), "slurm_setup: expected a list of at most %d one-line "
                                "shell commands", PNP_SLURM_EXTRA_MAX);
                }
                snprintf(pc->setup[pc->n_setup++], PNP_SLURM_OPT_LEN, "%s", (const char *)items[i]->data.scalar.value);
            }
            free(items);
        } else {
            return fail(c, node_mark(k), "unknown key '%s' in a parallel config (known: backend, slurm_time, "
                        "slurm_partition, slurm_account, slurm_cpus_per_task, slurm_mem, "
                        "slurm_additional_parameters, slurm_setup, slurm_stderr_to_stdout)", key);
        }
    }
    if (!have_backend) return fail(c, (pnp_mark){0, 0}, "no 'backend: submitit' (a benchopt parallel config names its backend)");
    return 0;
}

int pnp_parallel_config_load(const char *path, pnp_parallel_config *pc, char *err, size_t errlen)
{
    memset(pc, 0, sizeof *pc);
    pc->stderr_to_stdout = true; /* submitit's default */
    snprintf(pc->path, sizeof pc->path, "%s", path);
    char *text = read_text(path, "parallel config", err, errlen);
    if (!text) return -1;
    ctx c = {path, err, errlen};
    yaml_document_t doc;
    int rc = parse_yaml(&c, text, &doc);
    if (!rc) {
        rc = pc_walk(&c, &doc, pc);
        yaml_document_delete(&doc);
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------ printing */

static void value_text(const pnp_row *row, const param *p, char *buf, size_t len)
{
    const char *field = (const char *)row + p->offset;
    switch (p->type) {
    case T_INT:
        if (p->size == sizeof(int)) snprintf(buf, len, "%d", *(const int *)field);
        else snprintf(buf, len, "%lld", *(const long long *)field);
        break;
    case T_FLOAT:
    case T_NFLOAT: { /* shortest text that reads back to the same double; NaN: null */
        const double v = *(const double *)field;
        if (isnan(v)) {
            snprintf(buf, len, "null");
            break;
        }
        for (int prec = 6; prec <= 17; ++prec) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
        break;
    }
    case T_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); break;
    case T_STRING: snprintf(buf, len, "%s", field); break;
    case T_AUTO_INT:
    case T_AUTO_BOOL: {
        const int v = *(const int *)field;
        if (v == PNP_AUTO) snprintf(buf, len, "auto");
        else if (p->type == T_AUTO_INT) snprintf(buf, len, "%d", v);
        else snprintf(buf, len, "%s", v ? "true" : "false");
        break;
    }
    }
}

void pnp_row_visit(const pnp_row *row, pnp_row_visit_fn fn, void *user)
{
    fn(user, "dataset", "string", row->dataset);
    fn(user, "solver", "string", row->solver);
    for (int i = 0; i < NPARAMS; ++i) {
        if (!param_of_row(i, row)) continue;
        char v[1100];
        value_text(row, &PARAMS[i], v, sizeof v);
        fn(user, PARAMS[i].name, strcmp(v, "auto") ? type_name(PARAMS[i].type) : "string", v);
    }
}

typedef struct {
    char *buf;
    size_t len, used;
} fmt_state;

static void append_kv(void *user, const char *name, const char *type, const char *value)
{
    (void)type;
    fmt_state *s = user;
    if (s->used >= s->len) return;
    int n = snprintf(s->buf + s->used, s->len - s->used, "%s%s=%s", s->used ? " " : "", name, value);
    if (n > 0) s->used += (size_t)n;
}

void pnp_row_format(const pnp_row *row, char *buf, size_t len)
{
    fmt_state s = {buf, len, 0};
    buf[0] = '\0';
    pnp_row_visit(row, append_kv, &s);
}
