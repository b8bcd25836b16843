/* test_reliability.c - the pieces behind pnp's refusals (issue 20), unit by unit:
 *  - PNGs read to a size row by row (pnp_png_read_fit) equal the whole decode
 *    followed by pnp_resize_bicubic bit for bit: 8 and 16 bits, RGB, gray and
 *    RGBA, plain and interlaced, down, up and same size; a header claiming
 *    100000x100000 is refused for the memory when read whole, and read by rows
 *    it fails as truncated, never allocating the 30 GB;
 *  - the CPU backend's clamp turns a NaN into 0 and counts NaN and infinities;
 *    the PSNR of an image holding NaN or Inf is NaN, of an exact one infinity;
 *  - cgroup CPU quotas (v1 and v2, the smallest up the tree) from fake trees;
 *  - sizes as text, the denoiser name grammar;
 *  - input checks (missing, folder), the output probe (a file in the path, a
 *    folder as file name; nothing left behind), and stale temporaries: a dead
 *    process's of this host removed, a live one's and another host's kept. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pnp/backend.h"
#include "pnp/config.h"
#include "pnp/files.h"
#include "pnp/host.h"
#include "pnp/image.h"

static char dir[] = "/tmp/pnp-test-reliability-XXXXXX";

/* A test PNG: pixel (y, x, channel c) = (37 y + 11 x + 101 c) mod 2^depth. */
static void write_png(const char *path, int w, int h, int color, int depth, int interlace)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png);
    const int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4 : 1, bytes = depth / 8;
    unsigned char *img = malloc((size_t)w * h * ch * bytes);
    png_bytep *rows = malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; ++y) {
        rows[y] = img + (size_t)y * w * ch * bytes;
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < ch; ++c) {
                const unsigned v = (unsigned)(37 * y + 11 * x + 101 * c) % (1u << depth);
                if (bytes == 2) ((uint16_t *)rows[y])[x * ch + c] = (uint16_t)v;
                else rows[y][x * ch + c] = (unsigned char)v;
            }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(rows);
    free(img);
}

static void test_png_fit(void)
{
    const struct {
        int color, depth, interlace;
        const char *name;
    } kinds[] = {{PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, "rgb8"},
                 {PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, "rgb16"},
                 {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, "gray8"},
                 {PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE, "rgba8"},
                 {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, "rgb8 interlaced"}};
    const int longer[] = {20, 90, 53, 7};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; ++k) {
        char path[256], err[512];
        snprintf(path, sizeof path, "%s/%zu.png", dir, k);
        write_png(path, 37, 53, kinds[k].color, kinds[k].depth, kinds[k].interlace);
        pnp_image whole;
        if (pnp_png_read(path, &whole, err, sizeof err)) {
            CHECK(0, "%s: read: %s", kinds[k].name, err);
            continue;
        }
        for (size_t l = 0; l < sizeof longer / sizeof *longer; ++l) {
            int h, w, sh = 0, sw = 0;
            pnp_fit_longer_side(whole.h, whole.w, longer[l], &h, &w);
            pnp_image ref = h == whole.h && w == whole.w ? whole : pnp_resize_bicubic(&whole, h, w), got;
            const int rc = pnp_png_read_fit(path, longer[l], &got, &sh, &sw, err, sizeof err);
            CHECK(rc == 0 && got.c == 3 && got.h == h && got.w == w && sh == 53 && sw == 37 &&
                      !memcmp(got.data, ref.data, sizeof(float) * pnp_image_numel(&ref)),
                  "%s 37x53 read to longer side %d (%dx%d): equal to decode + pnp_resize_bicubic, bit for bit%s%s",
                  kinds[k].name, longer[l], w, h, rc ? ": " : "", rc ? err : "");
            if (rc == 0) pnp_image_free(&got);
            if (ref.data != whole.data) pnp_image_free(&ref);
        }
        pnp_image_free(&whole);
    }
}

/* PNG's CRC-32 (ISO 3309), bit by bit. */
static unsigned long crc32_png(const unsigned char *p, size_t n)
{
    unsigned long c = 0xffffffffUL;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320UL ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffUL;
}

/* A 1x1 PNG whose header then claims 100000 x 100000 (CRC fixed): its data is truncated. */
static void test_png_huge_header(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/huge.png", dir);
    write_png(path, 1, 1, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    FILE *f = fopen(path, "r+b");
    unsigned char ihdr[17]; /* "IHDR" + 13 bytes of data, at offset 12 */
    fseek(f, 12, SEEK_SET);
    if (fread(ihdr, 1, 17, f) != 17) abort();
    const unsigned char big[4] = {0x00, 0x01, 0x86, 0xa0}; /* 100000 */
    memcpy(ihdr + 4, big, 4), memcpy(ihdr + 8, big, 4);
    const unsigned long crc = crc32_png(ihdr, 17);
    const unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
                                (unsigned char)crc};
    fseek(f, 12, SEEK_SET);
    fwrite(ihdr, 1, 17, f);
    fwrite(c, 1, 4, f);
    fclose(f);
    pnp_image im;
    int rc = pnp_png_read(path, &im, err, sizeof err);
    CHECK(rc != 0 && strstr(err, path) && strstr(err, "100000x100000") && strstr(err, "free memory"),
          "a PNG header claiming 100000x100000, read whole: refused for the memory before allocating: %s", err);
    rc = pnp_png_read_fit(path, 64, &im, NULL, NULL, err, sizeof err);
    CHECK(rc != 0 && strstr(err, path) && strstr(err, "truncated"),
          "the same read to 64 px, row by row: fails as truncated (holding kilobytes): %s", err);
}

static void test_nonfinite(void)
{
    pnp_backend *be = pnp_backend_cpu_create(2, false);
    float *x = be->ops->alloc(be, sizeof(float) * 7);
    const float in[7] = {NAN, INFINITY, -INFINITY, -1.0f, 0.5f, 2.0f, -NAN};
    const float want[7] = {0, 1, 0, 0, 0.5f, 1, 0};
    memcpy(x, in, sizeof in);
    const bool bad = be->ops->clamp01(be, x, 7);
    CHECK(bad && !memcmp(x, want, sizeof want), "cpu clamp01: NaN to 0, infinities clamped, non-finite input said");
    CHECK(!be->ops->clamp01(be, x, 7), "cpu clamp01 of a finite image: nothing non-finite");
    be->ops->free(be, x);
    pnp_backend_destroy(be);

    const float ref[3] = {0.1f, 0.2f, 0.3f}, nan_img[3] = {0.1f, NAN, 0.3f}, inf_img[3] = {0.1f, INFINITY, 0.3f};
    CHECK(isnan(pnp_psnr(nan_img, ref, 3)) && isnan(pnp_psnr(inf_img, ref, 3)),
          "PSNR of an image holding NaN or Inf is NaN (was infinity: a 'perfect' score)");
    CHECK(isinf(pnp_psnr(ref, ref, 3)) && pnp_psnr(ref, ref, 3) > 0, "PSNR of an exact image is +infinity");
}

static void write_text(const char *path, const char *text)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; ++p)
        if (*p == '/') *p = 0, mkdir(buf, 0755), *p = '/';
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_cgroup_cpus(void)
{
    char cg[512], fs[512], p[1024];
    snprintf(cg, sizeof cg, "%s/cgroup_v2", dir);
    snprintf(fs, sizeof fs, "%s/fs2", dir);
    write_text(cg, "0::/job/step\n");
    snprintf(p, sizeof p, "%s/job/step/cpu.max", fs), write_text(p, "max 100000\n");
    snprintf(p, sizeof p, "%s/job/cpu.max", fs), write_text(p, "150000 100000\n");
    snprintf(p, sizeof p, "%s/cpu.max", fs), write_text(p, "400000 100000\n");
    double q = pnp_host_cgroup_cpus(cg, fs);
    CHECK(fabs(q - 1.5) < 1e-12, "cgroup v2: the smallest cpu.max up the tree, 1.5 CPUs (got %g)", q);
    snprintf(cg, sizeof cg, "%s/cgroup_v1", dir);
    snprintf(fs, sizeof fs, "%s/fs1", dir);
    write_text(cg, "5:memory:/x\n4:cpu,cpuacct:/slurm/job1\n");
    snprintf(p, sizeof p, "%s/cpu,cpuacct/slurm/job1/cpu.cfs_quota_us", fs), write_text(p, "200000\n");
    snprintf(p, sizeof p, "%s/cpu,cpuacct/slurm/job1/cpu.cfs_period_us", fs), write_text(p, "100000\n");
    snprintf(p, sizeof p, "%s/cpu,cpuacct/slurm/cpu.cfs_quota_us", fs), write_text(p, "-1\n");
    q = pnp_host_cgroup_cpus(cg, fs);
    CHECK(fabs(q - 2) < 1e-12, "cgroup v1 (cpu,cpuacct): cfs_quota_us / cfs_period_us = 2 CPUs (got %g)", q);
    snprintf(cg, sizeof cg, "%s/cgroup_none", dir);
    write_text(cg, "3:cpuset:/\n");
    CHECK(pnp_host_cgroup_cpus(cg, fs) == 0, "no cpu controller: no quota");
    char why[256];
    const int n = pnp_host_cpus(why, sizeof why);
    CHECK(n >= 1 && strstr(why, "affinity mask"), "this process may use %d CPU(s): %s", n, why);
}

static void test_text(void)
{
    char b[32];
    CHECK(!strcmp(pnp_format_bytes(512, b, sizeof b), "512 B") && !strcmp(pnp_format_bytes(1024, b, sizeof b), "1.0 KiB") &&
              !strcmp(pnp_format_bytes(45.0 * 1048576, b, sizeof b), "45.0 MiB") &&
              !strcmp(pnp_format_bytes(3.0 * 1073741824, b, sizeof b), "3.00 GiB"),
          "sizes as text: 512 B, 1.0 KiB, 45.0 MiB, 3.00 GiB (--max-memory 1K was shown as 0.0 MiB)");
    const char *good[] = {"drunet", "drunet:8,16,32,64", "drunet:8,16,32,64:1", "dncnn", "ffdnet", "none"};
    const char *bad[] = {"unet", "drunet:8,16,32", "drunet:8,16,32,64xyz", "drunet:8,16,32,64:0", "drunet:0,16,32,64",
                         "DRUNet", ""};
    char arch[32], err[256];
    int w[4], nb, ok = 1;
    for (size_t i = 0; i < sizeof good / sizeof *good; ++i)
        ok &= pnp_denoiser_spec_parse(good[i], arch, sizeof arch, w, &nb, err, sizeof err) == 0;
    pnp_denoiser_spec_parse("drunet:8,16,32,64:2", arch, sizeof arch, w, &nb, err, sizeof err);
    CHECK(ok && !strcmp(arch, "drunet") && w[0] == 8 && w[3] == 64 && nb == 2, "denoiser names accepted");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        const int rc = pnp_denoiser_spec_parse(bad[i], arch, sizeof arch, w, &nb, err, sizeof err);
        CHECK(rc != 0 && strstr(err, bad[i]), "denoiser '%s' refused: %s", bad[i], err);
    }
}

static void test_files(void)
{
    char p[512], q[512], err[1024];
    snprintf(p, sizeof p, "%s/missing.h5", dir);
    CHECK(pnp_input_check(p, "weights file", err, sizeof err) && strstr(err, "no such file"), "missing: %s", err);
    CHECK(pnp_input_check(dir, "weights file", err, sizeof err) && strstr(err, "is a folder, not a weights file"),
          "a folder: %s", err);
    snprintf(p, sizeof p, "%s/afile", dir), write_text(p, "x");
    CHECK(!pnp_input_check(p, "weights file", err, sizeof err), "a readable file passes");
    snprintf(q, sizeof q, "%s/afile/sub/r.h5", dir);
    CHECK(pnp_output_check(q, err, sizeof err) && strstr(err, "a file of that name exists"),
          "output under a file: refused: %s", err);
    CHECK(pnp_output_check(dir, err, sizeof err) && strstr(err, "is a folder"), "output named as a folder: %s", err);
    snprintf(q, sizeof q, "%s/out/deeper/r.h5", dir);
    struct stat st;
    snprintf(p, sizeof p, "%s/out/deeper", dir);
    const int made = pnp_output_check(q, err, sizeof err) == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", p);
    CHECK(made && system(cmd) == 0, "output probe: folders made, nothing left in them");

    /* stale temporaries of out/deeper/r.h5 */
    char host[256] = "", dead[700], alive[700], other[700], tmp[700];
    gethostname(host, sizeof host - 1);
    const pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, NULL, 0);
    snprintf(dead, sizeof dead, "%s.tmp-%s-%ld", q, host, (long)gone), write_text(dead, "half");
    snprintf(alive, sizeof alive, "%s.tmp-%s-%ld", q, host, (long)child), write_text(alive, "half");
    snprintf(other, sizeof other, "%s.tmp-otherhost-%ld", q, (long)gone), write_text(other, "half");
    const int rc = pnp_temp_path(q, tmp, sizeof tmp);
    CHECK(rc == 0 && access(dead, F_OK) != 0 && access(alive, F_OK) == 0 && access(other, F_OK) == 0,
          "pnp_temp_path: a dead process's temporary removed, a live one's and another host's kept");
    CHECK(strstr(tmp, ".tmp-") && strstr(tmp, host), "temporary name %s names host and process", tmp);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_png_fit();
    test_png_huge_header();
    test_nonfinite();
    test_cgroup_cpus();
    test_text();
    test_files();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) perror("rm");
    return check_failures ? 1 : 0;
}
