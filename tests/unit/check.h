/* check.h - the unit tests' tiny harness. Each CHECK prints one line,
 * "ok - what" or "not ok - what: detail"; tests/run.sh counts them. A test
 * program returns non-zero when any check failed. Skips print "skip - what: why". */
#ifndef PNP_TEST_CHECK_H
#define PNP_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures __attribute__((unused)) = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            printf("ok - ");                                                    \
        } else {                                                                \
            printf("not ok - %s:%d: ", __FILE__, __LINE__);                     \
            ++check_failures;                                                   \
        }                                                                       \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
        fflush(stdout);                                                         \
    } while (0)

#define SKIP(...)                                                               \
    do {                                                                        \
        printf("skip - ");                                                      \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
    } while (0)

/* max |a - b| over n floats */
static inline double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d;
    }
    return m;
}

static inline double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

#define CHECK_DONE() return check_failures ? 1 : 0

#endif
