/* host.c - what this process may use of its machine (include/pnp/host.h):
 * free memory (MemAvailable and cgroup memory limits) and CPUs (affinity mask
 * and cgroup CPU quota). The cgroup files are found by walking from this
 * process's cgroup (/proc/self/cgroup) up to the mount's root, v2 or v1. */
#include "pnp/host.h"

#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first word of DIR/NAME as a number; 0 when unreadable, -1 for "max"
 * (cgroup v2's "no limit"). A second number, if any, into *second. */
static double read_number(const char *dir, const char *name, double *second)
{
    char path[4200], word[64] = "", word2[64] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int got = fscanf(f, "%63s %63s", word, word2);
    fclose(f);
    if (second) *second = got == 2 ? strtod(word2, NULL) : 0;
    if (got < 1) return 0;
    return strcmp(word, "max") ? strtod(word, NULL) : -1;
}

/* Calls visit(dir, v2) for this process's cgroup of the given v1 controller
 * (or its v2 cgroup) and for every cgroup above it, up to the mount's root. */
static void cgroup_walk(const char *proc_cgroup, const char *fs_root, const char *v1_controller,
                        void (*visit)(const char *dir, bool v2, void *user), void *user)
{
    FILE *f = fopen(proc_cgroup, "r");
    if (!f) return;
    char line[4096], want[64];
    snprintf(want, sizeof want, ",%s,", v1_controller);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *first = strchr(line, ':'), *path = first ? strchr(first + 1, ':') : NULL;
        if (!path) continue;
        /* v1 controllers come comma-separated ("4:cpu,cpuacct:/x"): match a whole name */
        char controllers[256];
        snprintf(controllers, sizeof controllers, ",%.*s,", (int)(path - first - 1), first + 1);
        const bool v2 = !strncmp(line, "0::", 3), v1 = strstr(controllers, want) != NULL;
        if (!v2 && !v1) continue;
        char root[4200], rel[4096], dir[8400];
        if (v2) snprintf(root, sizeof root, "%s", fs_root);
        else snprintf(root, sizeof root, "%s/%.*s", fs_root, (int)(path - first - 1), first + 1);
        snprintf(rel, sizeof rel, "%s", path + 1);
        for (;;) { /* this cgroup, then each parent up to the mount's root */
            snprintf(dir, sizeof dir, "%s%s", root, rel);
            visit(dir, v2, user);
            char *slash = strrchr(rel, '/');
            if (!slash || slash == rel) {
                if (!rel[0] || !strcmp(rel, "/")) break;
                snprintf(rel, sizeof rel, "/");
                continue;
            }
            *slash = 0;
        }
    }
    fclose(f);
}

/* ------------------------------------------------------------- memory */

static void memory_visit(const char *dir, bool v2, void *user)
{
    size_t *room = user;
    const double lim = read_number(dir, v2 ? "memory.max" : "memory.limit_in_bytes", NULL);
    const double used = read_number(dir, v2 ? "memory.current" : "memory.usage_in_bytes", NULL);
    if (lim > 0 && lim < 1e18) { /* v1 writes "no limit" as a huge number */
        const size_t left = lim > used ? (size_t)(lim - used) : 0;
        if (left < *room) *room = left;
    }
}

size_t pnp_host_free_bytes(void)
{
    size_t avail = SIZE_MAX, kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) {
                avail = kb * 1024;
                break;
            }
        fclose(f);
    }
    size_t room = SIZE_MAX;
    cgroup_walk("/proc/self/cgroup", "/sys/fs/cgroup", "memory", memory_visit, &room);
    return room < avail ? room : avail;
}

/* ---------------------------------------------------------------- CPUs */

static void cpu_visit(const char *dir, bool v2, void *user)
{
    double *cpus = user, quota, period = 0;
    if (v2) {
        quota = read_number(dir, "cpu.max", &period); /* "max 100000" or "150000 100000" */
    } else {
        quota = read_number(dir, "cpu.cfs_quota_us", NULL); /* -1: none */
        period = read_number(dir, "cpu.cfs_period_us", NULL);
    }
    if (quota > 0 && period > 0 && (*cpus == 0 || quota / period < *cpus)) *cpus = quota / period;
}

double pnp_host_cgroup_cpus(const char *proc_cgroup, const char *fs_root)
{
    double cpus = 0;
    cgroup_walk(proc_cgroup, fs_root, "cpu", cpu_visit, &cpus);
    return cpus;
}

int pnp_host_cpus(char *why, size_t whylen)
{
    cpu_set_t set;
    int mask = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) mask = CPU_COUNT(&set);
    if (mask < 1) mask = 1;
    const double quota = pnp_host_cgroup_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
    const int by_quota = quota > 0 ? (int)ceil(quota - 1e-9) : 0;
    const int cpus = by_quota > 0 && by_quota < mask ? by_quota : mask;
    if (why) {
        char q[64] = "no cgroup CPU quota";
        if (quota > 0) snprintf(q, sizeof q, "a cgroup CPU quota of %.2f CPU%s", quota, quota == 1 ? "" : "s");
        snprintf(why, whylen, "%d CPU%s in this process's affinity mask, %s", mask, mask == 1 ? "" : "s", q);
    }
    return cpus < 1 ? 1 : cpus;
}

void pnp_host_cpuset_id(char *id, size_t len)
{
    cpu_set_t set;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the CPU numbers */
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) {
                h ^= (uint64_t)c + 1;
                h *= 1099511628211ull;
            }
    snprintf(id, len, "cpus-%016llx", (unsigned long long)h);
}

const char *pnp_format_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (!(bytes >= 1024)) {
        snprintf(buf, len, "%.0f B", bytes);
        return buf;
    }
    int u = 0;
    double v = bytes / 1024;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    snprintf(buf, len, u >= 2 ? "%.2f %s" : "%.1f %s", v, units[u]);
    return buf;
}
