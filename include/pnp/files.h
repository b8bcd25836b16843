/* files.h - the files pnp reads and writes, checked before any work is done.
 *
 * An input the user names (configuration, image, weights) must exist, be a
 * regular file (a folder is named as such) and be readable. An output is
 * written under a temporary name beside its final one, FINAL.tmp-HOST-PID, and
 * renamed when complete, so no reader ever sees half a file; the temporary is
 * removed on an error (pnp_fatal) or a signal (include/pnp/error.h), and
 * temporaries that processes of this host left when they were killed (-9) are
 * removed by the next writer of the same file. Whether an output can be written
 * is checked at setup (pnp_output_check), not found after hours of work. */
#ifndef PNP_FILES_H
#define PNP_FILES_H

#include <stddef.h>

/* Create every missing folder above path (a path ending in '/' makes that folder
 * too). 0, or -1 with the folder named in err. */
int pnp_make_parent_dirs(const char *path, char *err, size_t errlen);

/* PATH is a readable regular file. 0, or -1 with err "PATH: no such file",
 * "PATH: is a folder, not a WHAT" or "PATH: cannot read: REASON"; what names the
 * file's role ("configuration file", "weights file", "PNG image"). */
int pnp_input_check(const char *path, const char *what, char *err, size_t errlen);

/* PATH can be written: its folder exists or is made (mkdir -p), a probe file
 * (PATH's temporary name) is created there and removed, and PATH is not a
 * folder. 0, or -1 with err naming the folder or file and the reason. */
int pnp_output_check(const char *path, char *err, size_t errlen);

/* tmp = FINAL.tmp-HOST-PID, this process's temporary name for final_path, after
 * removing the temporaries of final_path that processes of this host which no
 * longer run left behind. 0, or -1 when the name does not fit in len. */
int pnp_temp_path(const char *final_path, char *tmp, size_t len);

/* The protocol of every writer of a whole file at once (PNG, TIFF, FITS, NumPy,
 * include/pnp/image.h and imgfile.h): pnp_output_begin puts this process's
 * temporary name for `path` in tmp (pnp_temp_path) and registers it with
 * pnp_error_set_tempfile (a fatal error or a signal removes it); the writer
 * fills tmp; pnp_output_commit renames it onto `path` when ok, else removes it,
 * and clears the registration. 0, or -1 and err. */
int pnp_output_begin(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen);
int pnp_output_commit(const char *tmp, const char *path, int ok, char *err, size_t errlen);

#endif
