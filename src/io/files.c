/* files.c - checking inputs and outputs before use, temporary names and the
 * removal of stale temporaries (include/pnp/files.h). */
#include "pnp/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pnp/error.h"

int pnp_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        struct stat st;
        if (mkdir(buf, 0775) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create folder: %s", buf, strerror(errno));
            return -1;
        }
        if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: cannot create a folder there: a file of that name exists", buf);
            return -1;
        }
        *p = '/';
    }
    return 0;
}

int pnp_input_check(const char *path, const char *what, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a folder, not a %s", path, what);
        return -1;
    }
    const int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* "DIR/BASE" -> dir "DIR" ("." without a slash) and base "BASE". */
static void split_path(const char *path, char *dir, size_t dirlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) snprintf(dir, dirlen, ".");
    else if (slash == path) snprintf(dir, dirlen, "/");
    else snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
}

/* This host's name as it goes into temporary names (no '/', never empty). */
static void host_word(char *host, size_t len)
{
    if (gethostname(host, len - 1) != 0 || !host[0]) snprintf(host, len, "host");
    host[len - 1] = '\0';
    for (char *p = host; *p; ++p)
        if (*p == '/') *p = '_';
}

/* Remove DIR/BASE.tmp-HOST-PID for every PID of this host that no longer runs. */
static void remove_stale_temps(const char *dir, const char *base, const char *host)
{
    char prefix[4400];
    const int plen = snprintf(prefix, sizeof prefix, "%s.tmp-%s-", base, host);
    if (plen <= 0 || (size_t)plen >= sizeof prefix) return;
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
        char *end = NULL;
        const long pid = strtol(e->d_name + plen, &end, 10);
        if (pid <= 0 || *end || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        char stale[8800];
        snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
        if (unlink(stale) == 0) fprintf(stderr, "pnp: removed %s, left by process %ld, which ended\n", stale, pid);
    }
    closedir(d);
}

int pnp_temp_path(const char *final_path, char *tmp, size_t len)
{
    char dir[4096], host[256];
    const char *base;
    split_path(final_path, dir, sizeof dir, &base);
    host_word(host, sizeof host);
    remove_stale_temps(dir, base, host);
    return snprintf(tmp, len, "%s.tmp-%s-%ld", final_path, host, (long)getpid()) < (int)len ? 0 : -1;
}

int pnp_output_check(const char *path, char *err, size_t errlen)
{
    char tmp[4400];
    struct stat st;
    if (!path[0] || path[strlen(path) - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "%s: is a folder, not a file name", path);
        return -1;
    }
    if (pnp_make_parent_dirs(path, err, errlen)) return -1;
    if (pnp_temp_path(path, tmp, sizeof tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        char dir[4096];
        const char *base;
        split_path(path, dir, sizeof dir, &base);
        snprintf(err, errlen, "%s: cannot create a file in %s: %s", path, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(tmp);
    return 0;
}

int pnp_output_begin(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    if (pnp_temp_path(path, tmp, tmplen)) {
        snprintf(err, errlen, "%s: output path too long", path);
        return -1;
    }
    pnp_error_set_tempfile(tmp); /* before it exists: a signal meanwhile removes it too */
    return 0;
}

int pnp_output_commit(const char *tmp, const char *path, int ok, char *err, size_t errlen)
{
    int rc = ok ? 0 : -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(tmp);
    pnp_error_set_tempfile(NULL);
    return rc;
}
