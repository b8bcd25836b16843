/* cli.c - what the subcommands share (include/pnp/cli.h): option parsing,
 * loading the configuration (a file, an installed one by name, or the embedded
 * default), the data files beside the program, and where a row's result file
 * goes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnp/cli.h"
#include "pnp/host.h"
#include "pnp/problem.h"

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "pnp: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    exit(2);
}

static int parse_int(const char *usage, const char *opt, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 1000000) usage_error(usage, "%s: expected a non-negative integer", opt);
    return (int)v;
}

int pnp_cli_parse(int argc, char **argv, const char *usage, pnp_cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->row = -1;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--set")) {
            if (!has_next) usage_error(usage, "%s needs KEY=VALUE", a);
            if (o->n_overrides == 64) usage_error(usage, "%s: too many overrides", a);
            o->overrides[o->n_overrides++] = argv[++i];
        } else if (!strcmp(a, "--row")) {
            if (!has_next) usage_error(usage, "%s needs a row number", a);
            o->row = parse_int(usage, a, argv[++i]);
        } else if (!strcmp(a, "--out")) {
            if (!has_next) usage_error(usage, "%s needs a path", a);
            o->out = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            if (!has_next) usage_error(usage, "%s needs a count", a);
            o->threads = parse_int(usage, a, argv[++i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            usage_error(usage, "unknown option '%s'", a);
        } else if (!o->config) {
            o->config = a;
            /* a bare name that is not here: an installed (or source tree) config */
            char rel[4200];
            const size_t n = strlen(a);
            snprintf(rel, sizeof rel, "configs/%s%s", a, n > 4 && !strcmp(a + n - 4, ".yml") ? "" : ".yml");
            if (!strchr(a, '/') && access(a, F_OK) != 0 &&
                pnp_cli_find_data(rel, o->config_found, sizeof o->config_found) == 0)
                o->config = o->config_found;
        } else {
            usage_error(usage, "unexpected argument '%s'", a);
        }
    }
    return 0;
}

int pnp_cli_find_data(const char *rel, char *out, size_t len)
{
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, len, "%s", rel);
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0'; /* the program's folder: PREFIX/bin or the build folder */
    const char *roots[2] = {"/../share/pnp/", "/../"};
    for (int k = 0; k < 2; ++k) {
        snprintf(out, len, "%s%s%s", exe, roots[k], rel);
        char *real = access(out, R_OK) == 0 ? realpath(out, NULL) : NULL;
        if (real) {
            snprintf(out, len, "%s", real);
            free(real);
            return 0;
        }
    }
    snprintf(out, len, "%s%s%s", exe, roots[1], rel);
    return -1;
}

int pnp_cli_check_row(const pnp_config *cfg, const pnp_row *row, char *err, size_t errlen)
{
    if (pnp_config_check_row(cfg, row, err, errlen)) return -1;
    char why[2048];
    if (!pnp_problem_check_files(row, why, sizeof why)) return 0;
    const pnp_mark m = row->dataset_mark;
    if (m.line > 0)
        snprintf(err, errlen, "%s:%d:%d: row %d: dataset %s: %s", cfg->path, m.line, m.col, row->index, row->dataset,
                 why);
    else
        snprintf(err, errlen, "%s: row %d: dataset %s: %s", cfg->path, row->index, row->dataset, why);
    return -1;
}

void pnp_cli_load_config(const pnp_cli_opts *o, pnp_config *cfg)
{
    char err[2048];
    int rc = o->config ? pnp_config_load_file(o->config, o->overrides, o->n_overrides, cfg, err, sizeof err)
                       : pnp_config_load_string("<embedded default>", pnp_default_config_yaml, o->overrides,
                                                o->n_overrides, cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "pnp: %s\n", err);
        exit(2);
    }
    if (o->row >= cfg->n_rows) {
        fprintf(stderr, "pnp: --row %d: %s has %d row%s (0..%d)\n", o->row, cfg->path, cfg->n_rows,
                cfg->n_rows == 1 ? "" : "s", cfg->n_rows - 1);
        exit(2);
    }
    for (int k = 0; k < cfg->n_rows; ++k)
        if ((o->row < 0 || o->row == k) && pnp_cli_check_row(cfg, &cfg->rows[k], err, sizeof err)) {
            fprintf(stderr, "pnp: %s\n", err);
            pnp_config_free(cfg);
            exit(2);
        }
}

int pnp_cli_threads(int asked, int sharers, char *err, size_t errlen)
{
    char why[256];
    const int cpus = pnp_host_cpus(why, sizeof why);
    if (asked > cpus) {
        snprintf(err, errlen, "--threads %d: this process may use %d CPU%s (%s)", asked, cpus, cpus == 1 ? "" : "s",
                 why);
        return -1;
    }
    if (asked > 0) return asked;
    const int share = cpus / (sharers > 1 ? sharers : 1);
    return share > 0 ? share : 1;
}

void pnp_cli_config_stem(const char *config, char *out, size_t len)
{
    if (!config) {
        snprintf(out, len, "default");
        return;
    }
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    snprintf(out, len, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

void pnp_cli_result_path(const char *config, const char *out, int row, char *buf, size_t len)
{
    char stem[256];
    pnp_cli_config_stem(config, stem, sizeof stem);
    snprintf(buf, len, "%s/%s_row%d.h5", out ? out : "results", stem, row);
}
