/* The dataset readers on small synthetic files of every format, written
 * here byte by byte as the official releases lay them out (IDX plain and
 * gzipped, CIFAR-10/100, STL-10, ImageNet32 npz with stored and deflated
 * members built by hand): every pixel and label read back, detection,
 * --limit, one test per kind of bad file (the message must name the file
 * and the problem), a truncate-and-flip pass that must never crash, and the
 * real Fashion-MNIST test split when Debian's package is installed. */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mc_dataset.h"
#include "peak.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- the temporary directory (one per test: Criterion forks each) ------------------------ */

static char tdir[256];

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/mc_datasets_XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
}

static void teardown(void) { rm_tree(tdir); }

TestSuite(datasets, .init = setup, .fini = teardown);

/* A fresh directory tdir/name. */
static const char *subdir(const char *name)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/%s", tdir, name);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
    return p;
}

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char p[1024];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "open %s", p);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void write_gz(const char *dir, const char *name, const void *data, size_t len)
{
    char p[1024];
    path_of(p, sizeof p, dir, name);
    gzFile g = gzopen(p, "wb9");
    cr_assert_not_null(g, "gzopen %s", p);
    cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(g), Z_OK);
}

static uint8_t *read_whole(const char *dir, const char *name, size_t *len)
{
    char p[1024];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void remove_file(const char *dir, const char *name)
{
    char p[1024];
    path_of(p, sizeof p, dir, name);
    cr_assert_eq(unlink(p), 0, "unlink %s", p);
}

/* Loads and expects failure whose message names dir/file and says what. */
static void expect_error(const char *dir, const char *ds, int test, const char *file, const char *what)
{
    mc_dataset d;
    char err[512] = "";
    int rc = mc_dataset_load(dir, mc_dataset_info_named(ds), test, 0, &d, err, sizeof err);
    cr_assert_eq(rc, -1, "loading %s should fail with '%s'", dir, what);
    cr_assert_null(d.images);
    cr_assert_null(d.labels);
    char p[1024];
    path_of(p, sizeof p, dir, file);
    cr_assert_not_null(strstr(err, p), "message '%s' does not name %s", err, p);
    cr_assert_not_null(strstr(err, what), "message '%s' does not say '%s'", err, what);
    cr_assert_null(strchr(err, '\n'), "message '%s' is not one line", err);
}

static void load_ok(const char *dir, const char *ds, int test, long limit, mc_dataset *d)
{
    char err[512] = "";
    int rc = mc_dataset_load(dir, ds ? mc_dataset_info_named(ds) : NULL, test, limit, d, err, sizeof err);
    cr_assert_eq(rc, 0, "load %s: %s", dir, err);
}

/* ---- IDX --------------------------------------------------------------------------------- */

static uint8_t idx_pixel(int i, int k) { return (uint8_t)(i * 31 + k * 7 + 3); }
static int idx_label(int i) { return (i * 3) % 10; }

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t *idx_images(int n, int rows, int cols, int seed, size_t *len)
{
    *len = 16 + (size_t)n * rows * cols;
    uint8_t *b = malloc(*len);
    be32(b, 0x803);
    be32(b + 4, (uint32_t)n);
    be32(b + 8, (uint32_t)rows);
    be32(b + 12, (uint32_t)cols);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < rows * cols; k++)
            b[16 + (size_t)i * rows * cols + k] = idx_pixel(i + seed, k);
    return b;
}

static uint8_t *idx_labels(int n, int seed, size_t *len)
{
    *len = 8 + (size_t)n;
    uint8_t *b = malloc(*len);
    be32(b, 0x801);
    be32(b + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        b[8 + i] = (uint8_t)idx_label(i + seed);
    return b;
}

/* Training split of 5 images (seed 0), test split of 3 (seed 100). */
static void make_idx(const char *dir, int gz)
{
    void (*put)(const char *, const char *, const void *, size_t) = gz ? write_gz : write_file;
    const char *sfx = gz ? ".gz" : "";
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    for (int t = 0; t < 2; t++) {
        int n = t ? 3 : 5, seed = t ? 100 : 0;
        size_t li, ll;
        uint8_t *im = idx_images(n, 28, 28, seed, &li), *lb = idx_labels(n, seed, &ll);
        char name[64];
        snprintf(name, sizeof name, "%s%s", names[2 * t], sfx);
        put(dir, name, im, li);
        snprintf(name, sizeof name, "%s%s", names[2 * t + 1], sfx);
        put(dir, name, lb, ll);
        free(im);
        free(lb);
    }
}

static void check_idx(const mc_dataset *d, int n, int seed)
{
    cr_assert_eq(d->n, n);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(d->labels[i], idx_label(i + seed), "label %d", i);
        for (int k = 0; k < 784; k++)
            cr_assert_eq(d->images[(size_t)i * 784 + k], idx_pixel(i + seed, k), "image %d byte %d", i, k);
    }
}

static void idx_roundtrip(int gz)
{
    const char *dir = subdir("mnist");
    make_idx(dir, gz);
    mc_dataset d;
    load_ok(dir, NULL, 0, 0, &d);
    cr_assert_eq(d.info, mc_dataset_info_named("mnist"));
    cr_assert_str_eq(d.info->name, "mnist");
    check_idx(&d, 5, 0);
    mc_dataset_free(&d);
    cr_assert_null(d.images);
    load_ok(dir, "mnist", 1, 0, &d);
    check_idx(&d, 3, 100);
    mc_dataset_free(&d);
    load_ok(dir, "fashion-mnist", 0, 2, &d);
    cr_assert_str_eq(d.info->name, "fashion-mnist");
    check_idx(&d, 2, 0);
    mc_dataset_free(&d);
}

Test(datasets, idx_plain) { idx_roundtrip(0); }
Test(datasets, idx_gzipped) { idx_roundtrip(1); }

Test(datasets, idx_fashion_detected_by_directory_name)
{
    const char *dir = subdir("My-FaShIoN-data");
    make_idx(dir, 1);
    char err[256];
    const mc_dataset_info *info = mc_dataset_detect(dir, err, sizeof err);
    cr_assert_not_null(info, "%s", err);
    cr_assert_str_eq(info->name, "fashion-mnist");
    /* "." inside it too: the resolved path counts. */
    char cwd[1024];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    info = mc_dataset_detect(".", err, sizeof err);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_not_null(info, "%s", err);
    cr_assert_str_eq(info->name, "fashion-mnist");
}

Test(datasets, idx_errors)
{
    const char *dir = subdir("m");
    size_t li, ll;
    uint8_t *im = idx_images(5, 28, 28, 0, &li), *lb = idx_labels(5, 0, &ll);

    write_file(dir, "train-images-idx3-ubyte", im, li);
    expect_error(dir, "mnist", 0, "train-labels-idx1-ubyte[.gz]", "missing");

    write_file(dir, "train-labels-idx1-ubyte", lb, ll - 1); /* 5 in the header, 4 present */
    expect_error(dir, "mnist", 0, "train-labels-idx1-ubyte", "12 bytes, expected 13");

    uint8_t *lb4 = idx_labels(4, 0, &ll);
    write_file(dir, "train-labels-idx1-ubyte", lb4, ll);
    expect_error(dir, "mnist", 0, "train-labels-idx1-ubyte", "4 labels but train-images-idx3-ubyte has 5 images");
    free(lb4);

    lb[8 + 2] = 10;
    write_file(dir, "train-labels-idx1-ubyte", lb, 8 + 5);
    expect_error(dir, "mnist", 0, "train-labels-idx1-ubyte", "record 2 has label 10, expected 0..9");
    lb[8 + 2] = 1;
    write_file(dir, "train-labels-idx1-ubyte", lb, 8 + 5);

    write_file(dir, "train-images-idx3-ubyte", im, li - 100);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte", "3836 bytes, expected 3936");

    write_file(dir, "train-images-idx3-ubyte", lb, ll); /* a label file where the images should be */
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte",
                 "magic number 0x00000801, expected 0x00000803 (IDX images)");

    write_file(dir, "train-images-idx3-ubyte", im, 3);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte", "too short");

    uint8_t *im27 = idx_images(2, 27, 28, 0, &li);
    write_file(dir, "train-images-idx3-ubyte", im27, li);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte", "images are 27x28, expected 28x28");
    free(im27);

    free(im);
    free(lb);
}

/* ---- gzip -------------------------------------------------------------------------------- */

/* The gzip file as raw bytes, for cutting and corrupting. */
static uint8_t *gz_bytes(const char *dir, const void *data, size_t len, size_t *gzlen)
{
    write_gz(dir, "tmp.gz", data, len);
    uint8_t *b = read_whole(dir, "tmp.gz", gzlen);
    remove_file(dir, "tmp.gz");
    return b;
}

Test(datasets, gzip_errors)
{
    const char *dir = subdir("g");
    size_t li, ll, gl;
    uint8_t *im = idx_images(5, 28, 28, 0, &li), *lb = idx_labels(5, 0, &ll);
    write_gz(dir, "train-labels-idx1-ubyte.gz", lb, ll);
    uint8_t *g = gz_bytes(dir, im, li, &gl);

    write_file(dir, "train-images-idx3-ubyte.gz", g, gl / 2);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte.gz", "truncated gzip stream");
    write_file(dir, "train-images-idx3-ubyte.gz", g, gl - 3); /* inside the trailer */
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte.gz", "truncated gzip stream");

    g[gl - 6] ^= 0x55; /* the CRC */
    write_file(dir, "train-images-idx3-ubyte.gz", g, gl);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte.gz", "corrupt gzip data");
    g[gl - 6] ^= 0x55;

    uint8_t *tail = malloc(gl + 4);
    memcpy(tail, g, gl);
    memcpy(tail + gl, "junk", 4);
    write_file(dir, "train-images-idx3-ubyte.gz", tail, gl + 4);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte.gz", "garbage after the gzip stream");
    memset(tail + gl, 0, 4); /* zero padding is fine */
    write_file(dir, "train-images-idx3-ubyte.gz", tail, gl + 4);
    mc_dataset d;
    load_ok(dir, "mnist", 0, 0, &d);
    check_idx(&d, 5, 0);
    mc_dataset_free(&d);
    free(tail);

    /* Two members, as `cat a.gz b.gz` makes: one stream of bytes. */
    size_t g1, g2;
    uint8_t *p1 = gz_bytes(dir, im, 1000, &g1), *p2 = gz_bytes(dir, im + 1000, li - 1000, &g2);
    uint8_t *both = malloc(g1 + g2);
    memcpy(both, p1, g1);
    memcpy(both + g1, p2, g2);
    write_file(dir, "train-images-idx3-ubyte.gz", both, g1 + g2);
    load_ok(dir, "mnist", 0, 0, &d);
    check_idx(&d, 5, 0);
    cr_assert_eq(d.info->c, 1);
    mc_dataset_free(&d);
    free(both);
    free(p1);
    free(p2);

    /* The size message says which size it means. */
    uint8_t *short_g = gz_bytes(dir, im, li - 1, &gl);
    write_file(dir, "train-images-idx3-ubyte.gz", short_g, gl);
    expect_error(dir, "mnist", 0, "train-images-idx3-ubyte.gz", "3935 bytes after gunzip, expected 3936");
    free(short_g);
    free(g);
    free(im);
    free(lb);
}

/* ---- CIFAR ------------------------------------------------------------------------------- */

static uint8_t cifar_pixel(int i, int k) { return (uint8_t)(i * 13 + k * 5 + 1); }
static int c10_label(int i) { return (i * 7) % 10; }
static int c100_coarse(int i) { return i % 20; }
static int c100_fine(int i) { return (i * 7 + 3) % 100; }

/* n records starting at global index first; label_bytes 1 (CIFAR-10) or 2. */
static uint8_t *cifar_records(int first, int n, int label_bytes, size_t *len)
{
    size_t rec = (size_t)label_bytes + 3072;
    *len = rec * (size_t)n;
    uint8_t *b = malloc(*len);
    for (int r = 0; r < n; r++) {
        int i = first + r;
        uint8_t *p = b + rec * (size_t)r;
        if (label_bytes == 1) {
            p[0] = (uint8_t)c10_label(i);
        } else {
            p[0] = (uint8_t)c100_coarse(i);
            p[1] = (uint8_t)c100_fine(i);
        }
        for (int k = 0; k < 3072; k++)
            p[label_bytes + k] = cifar_pixel(i, k);
    }
    return b;
}

/* Five training batches of 3 records, and a test batch of 2 from 1000. */
static void make_cifar10(const char *dir)
{
    size_t len;
    for (int b = 0; b < 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        uint8_t *d = cifar_records(3 * b, 3, 1, &len);
        write_file(dir, name, d, len);
        free(d);
    }
    uint8_t *d = cifar_records(1000, 2, 1, &len);
    write_file(dir, "test_batch.bin", d, len);
    free(d);
}

static void make_cifar100(const char *dir)
{
    size_t len;
    uint8_t *d = cifar_records(0, 4, 2, &len);
    write_file(dir, "train.bin", d, len);
    free(d);
    d = cifar_records(500, 2, 2, &len);
    write_file(dir, "test.bin", d, len);
    free(d);
}

static void check_cifar(const mc_dataset *d, int n, int first, int c100)
{
    cr_assert_eq(d->n, n);
    for (int r = 0; r < n; r++) {
        int i = first + r;
        cr_assert_eq(d->labels[r], c100 ? c100_fine(i) : c10_label(i), "label %d", r);
        for (int k = 0; k < 3072; k++)
            cr_assert_eq(d->images[(size_t)r * 3072 + k], cifar_pixel(i, k), "image %d byte %d", r, k);
    }
}

Test(datasets, cifar10)
{
    const char *dir = subdir("c10");
    make_cifar10(dir);
    mc_dataset d;
    load_ok(dir, NULL, 0, 0, &d);
    cr_assert_str_eq(d.info->name, "cifar10");
    check_cifar(&d, 15, 0, 0);
    mc_dataset_free(&d);
    load_ok(dir, "cifar10", 1, 0, &d);
    check_cifar(&d, 2, 1000, 0);
    mc_dataset_free(&d);
    load_ok(dir, "cifar10", 0, 4, &d); /* spans two batch files */
    check_cifar(&d, 4, 0, 0);
    mc_dataset_free(&d);
    load_ok(dir, "cifar10", 0, 1000, &d);
    check_cifar(&d, 15, 0, 0);
    mc_dataset_free(&d);
}

Test(datasets, cifar100)
{
    const char *dir = subdir("c100");
    make_cifar100(dir);
    mc_dataset d;
    load_ok(dir, NULL, 0, 0, &d);
    cr_assert_str_eq(d.info->name, "cifar100");
    cr_assert_eq(d.info->classes, 100);
    check_cifar(&d, 4, 0, 1);
    mc_dataset_free(&d);
    load_ok(dir, NULL, 1, 0, &d);
    check_cifar(&d, 2, 500, 1);
    mc_dataset_free(&d);
}

Test(datasets, cifar_errors)
{
    const char *dir = subdir("c10");
    make_cifar10(dir);
    size_t len;
    uint8_t *d = cifar_records(0, 3, 1, &len);
    write_file(dir, "data_batch_3.bin", d, len - 1);
    expect_error(dir, "cifar10", 0, "data_batch_3.bin", "9218 bytes, not a whole number of 3073-byte records");
    write_file(dir, "data_batch_3.bin", d, 0);
    expect_error(dir, "cifar10", 0, "data_batch_3.bin", "empty file");
    remove_file(dir, "data_batch_3.bin");
    expect_error(dir, "cifar10", 0, "data_batch_3.bin", "missing (CIFAR-10 training needs");
    free(d);

    d = cifar_records(0, 2, 1, &len);
    d[3073] = 12;
    write_file(dir, "test_batch.bin", d, len);
    expect_error(dir, "cifar10", 1, "test_batch.bin", "record 1 has label 12, expected 0..9");
    free(d);

    const char *dir100 = subdir("c100");
    make_cifar100(dir100);
    d = cifar_records(0, 2, 2, &len);
    d[3074] = 20;
    write_file(dir100, "test.bin", d, len);
    expect_error(dir100, "cifar100", 1, "test.bin", "record 1 has coarse label 20, expected 0..19");
    d[3074] = 0;
    d[3075] = 100;
    write_file(dir100, "test.bin", d, len);
    expect_error(dir100, "cifar100", 1, "test.bin", "record 1 has label 100, expected 0..99");
    write_file(dir100, "test.bin", d, 3073 * 2); /* CIFAR-10 records in a CIFAR-100 file */
    expect_error(dir100, "cifar100", 1, "test.bin", "not a whole number of 3074-byte records");
    free(d);
    remove_file(dir100, "train.bin");
    expect_error(dir100, "cifar100", 0, "train.bin", "missing");
}

/* ---- STL-10 ------------------------------------------------------------------------------ */

#define STL_PLANE (96 * 96)
#define STL_IMAGE (3 * STL_PLANE)

/* Asymmetric in x and y, so a missed or doubled transpose shows. */
static uint8_t stl_pixel(int i, int p, int y, int x) { return (uint8_t)(i * 17 + p * 59 + y * 3 + x * 7 + (x > y)); }
static int stl_label(int i) { return 1 + (i * 3) % 10; } /* as on disk */

static void make_stl_split(const char *dir, const char *xname, const char *yname, int first, int n)
{
    uint8_t *x = malloc((size_t)n * STL_IMAGE), *y = malloc((size_t)n);
    for (int r = 0; r < n; r++) {
        for (int p = 0; p < 3; p++)
            for (int row = 0; row < 96; row++)
                for (int col = 0; col < 96; col++) /* column-major planes */
                    x[(size_t)r * STL_IMAGE + p * STL_PLANE + col * 96 + row] = stl_pixel(first + r, p, row, col);
        y[r] = (uint8_t)stl_label(first + r);
    }
    write_file(dir, xname, x, (size_t)n * STL_IMAGE);
    write_file(dir, yname, y, (size_t)n);
    free(x);
    free(y);
}

static void make_stl(const char *dir)
{
    make_stl_split(dir, "train_X.bin", "train_y.bin", 0, 3);
    make_stl_split(dir, "test_X.bin", "test_y.bin", 10, 2);
}

static void check_stl(const mc_dataset *d, int n, int first)
{
    cr_assert_eq(d->n, n);
    for (int r = 0; r < n; r++) {
        cr_assert_eq(d->labels[r], stl_label(first + r) - 1);
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < 96; y++)
                for (int x = 0; x < 96; x++)
                    cr_assert_eq(d->images[(size_t)r * STL_IMAGE + p * STL_PLANE + y * 96 + x],
                                 stl_pixel(first + r, p, y, x), "image %d plane %d row %d col %d", r, p, y, x);
    }
}

Test(datasets, stl10)
{
    const char *dir = subdir("stl");
    make_stl(dir);
    mc_dataset d;
    load_ok(dir, NULL, 0, 0, &d);
    cr_assert_str_eq(d.info->name, "stl10");
    cr_assert_eq(d.info->h, 96);
    cr_assert_eq(d.info->batch, 64);
    check_stl(&d, 3, 0);
    mc_dataset_free(&d);
    load_ok(dir, NULL, 1, 0, &d);
    check_stl(&d, 2, 10);
    mc_dataset_free(&d);
    load_ok(dir, NULL, 0, 1, &d);
    check_stl(&d, 1, 0);
    mc_dataset_free(&d);
}

Test(datasets, stl10_errors)
{
    const char *dir = subdir("stl");
    make_stl(dir);
    size_t xl, yl;
    uint8_t *x = read_whole(dir, "test_X.bin", &xl), *y = read_whole(dir, "test_y.bin", &yl);
    write_file(dir, "test_y.bin", y, 1);
    expect_error(dir, "stl10", 1, "test_y.bin", "1 labels but test_X.bin has 2 images");
    y[1] = 11;
    write_file(dir, "test_y.bin", y, yl);
    expect_error(dir, "stl10", 1, "test_y.bin", "record 1 has label 11, expected 1..10");
    y[1] = 0;
    write_file(dir, "test_y.bin", y, yl);
    expect_error(dir, "stl10", 1, "test_y.bin", "record 1 has label 0, expected 1..10");
    write_file(dir, "test_X.bin", x, xl - 5);
    expect_error(dir, "stl10", 1, "test_X.bin", "55291 bytes, not a whole number of 27648-byte images");
    remove_file(dir, "test_y.bin");
    expect_error(dir, "stl10", 1, "test_y.bin", "missing");
    remove_file(dir, "train_X.bin");
    expect_error(dir, "stl10", 0, "train_X.bin", "missing");
    free(x);
    free(y);
}

/* ---- ImageNet32 npz ---------------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void put_le(buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

/* A .npy file: dict is the header's text, padded as numpy pads it. */
static buf npy(int version, const char *dict, const void *payload, size_t plen)
{
    buf b = {0};
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
    size_t pad = (64 - (pre + dl + 1) % 64) % 64;
    put(&b, "\x93NUMPY", 6);
    put_le(&b, (uint64_t)version, 1);
    put_le(&b, 0, 1);
    put_le(&b, dl + pad + 1, version == 1 ? 2 : 4);
    put(&b, dict, dl);
    for (size_t i = 0; i < pad; i++)
        put(&b, " ", 1);
    put(&b, "\n", 1);
    put(&b, payload, plen);
    return b;
}

static buf deflate_raw(const buf *in)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    buf out = {0};
    out.cap = deflateBound(&zs, (uLong)in->len);
    out.p = malloc(out.cap);
    zs.next_in = in->p;
    zs.avail_in = (uInt)in->len;
    zs.next_out = out.p;
    zs.avail_out = (uInt)out.cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

typedef struct zmember {
    const char *name;
    buf data;
    int deflate;
    size_t cut; /* drop this many bytes off the end of the compressed stream */
} zmember;

enum { ZIP_LOCAL64 = 1, ZIP_CD64 = 2, ZIP_COMMENT = 4 };

/* A zip the way Python's zipfile writes one: ZIP_LOCAL64 is numpy's
 * force_zip64 (placeholder sizes in the local header), ZIP_CD64 puts the
 * sizes and offsets in zip64 fields and adds the zip64 end records. */
static buf make_zip(const zmember *m, int count, int flags)
{
    buf z = {0};
    uint64_t off[8];
    uint32_t crc[8];
    buf comp[8];
    for (int i = 0; i < count; i++) {
        crc[i] = (uint32_t)crc32(0L, m[i].data.p, (uInt)m[i].data.len);
        if (m[i].deflate) {
            comp[i] = deflate_raw(&m[i].data);
        } else {
            comp[i] = (buf){0};
            put(&comp[i], m[i].data.p, m[i].data.len);
        }
        comp[i].len -= m[i].cut;
        off[i] = z.len;
        size_t nl = strlen(m[i].name);
        put_le(&z, 0x04034b50, 4);
        put_le(&z, flags & ZIP_LOCAL64 ? 45 : 20, 2);
        put_le(&z, 0, 2);
        put_le(&z, m[i].deflate ? 8 : 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0x21, 2);
        put_le(&z, crc[i], 4);
        put_le(&z, flags & ZIP_LOCAL64 ? 0xffffffffu : comp[i].len, 4);
        put_le(&z, flags & ZIP_LOCAL64 ? 0xffffffffu : m[i].data.len, 4);
        put_le(&z, nl, 2);
        put_le(&z, flags & ZIP_LOCAL64 ? 20 : 0, 2);
        put(&z, m[i].name, nl);
        if (flags & ZIP_LOCAL64) {
            put_le(&z, 1, 2);
            put_le(&z, 16, 2);
            put_le(&z, m[i].data.len, 8);
            put_le(&z, comp[i].len, 8);
        }
        put(&z, comp[i].p, comp[i].len);
    }
    uint64_t cd_off = z.len;
    int z64 = (flags & ZIP_CD64) != 0;
    for (int i = 0; i < count; i++) {
        size_t nl = strlen(m[i].name);
        put_le(&z, 0x02014b50, 4);
        put_le(&z, 20, 2);
        put_le(&z, 20, 2);
        put_le(&z, 0, 2);
        put_le(&z, m[i].deflate ? 8 : 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0x21, 2);
        put_le(&z, crc[i], 4);
        put_le(&z, z64 ? 0xffffffffu : comp[i].len, 4);
        put_le(&z, z64 ? 0xffffffffu : m[i].data.len, 4);
        put_le(&z, nl, 2);
        put_le(&z, z64 ? 28 : 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0, 2);
        put_le(&z, 0, 4);
        put_le(&z, z64 ? 0xffffffffu : off[i], 4);
        put(&z, m[i].name, nl);
        if (z64) {
            put_le(&z, 1, 2);
            put_le(&z, 24, 2);
            put_le(&z, m[i].data.len, 8);
            put_le(&z, comp[i].len, 8);
            put_le(&z, off[i], 8);
        }
        free(comp[i].p);
    }
    uint64_t cd_size = z.len - cd_off;
    if (z64) {
        uint64_t rec = z.len;
        put_le(&z, 0x06064b50, 4);
        put_le(&z, 44, 8);
        put_le(&z, 45, 2);
        put_le(&z, 45, 2);
        put_le(&z, 0, 4);
        put_le(&z, 0, 4);
        put_le(&z, (uint64_t)count, 8);
        put_le(&z, (uint64_t)count, 8);
        put_le(&z, cd_size, 8);
        put_le(&z, cd_off, 8);
        put_le(&z, 0x07064b50, 4);
        put_le(&z, 0, 4);
        put_le(&z, rec, 8);
        put_le(&z, 1, 4);
    }
    static const char comment[] = "made by test_datasets";
    size_t cl = flags & ZIP_COMMENT ? sizeof comment - 1 : 0;
    put_le(&z, 0x06054b50, 4);
    put_le(&z, 0, 2);
    put_le(&z, 0, 2);
    put_le(&z, z64 ? 0xffff : (uint64_t)count, 2);
    put_le(&z, z64 ? 0xffff : (uint64_t)count, 2);
    put_le(&z, z64 ? 0xffffffffu : cd_size, 4);
    put_le(&z, z64 ? 0xffffffffu : cd_off, 4);
    put_le(&z, cl, 2);
    put(&z, comment, cl);
    return z;
}

static void write_zip(const char *dir, const char *name, zmember *m, int count, int flags)
{
    buf z = make_zip(m, count, flags);
    write_file(dir, name, z.p, z.len);
    free(z.p);
    for (int i = 0; i < count; i++)
        free(m[i].data.p);
}

static uint8_t in_pixel(int i, int k) { return (uint8_t)(i * 29 + k * 11 + 5); }
static int64_t in_label(int i) { return 1 + (i * 37) % 250; } /* fits every dtype, uint8 included */

/* The pixels of records [first, first + n). */
static buf in_data_npy(int version, int first, int n, int chw)
{
    uint8_t *px = malloc((size_t)n * 3072 + 1);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < 3072; k++)
            px[(size_t)r * 3072 + k] = in_pixel(first + r, k);
    char dict[128];
    if (chw)
        snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 3, 32, 32), }", n);
    else
        snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 3072), }", n);
    buf b = npy(version, dict, px, (size_t)n * 3072);
    free(px);
    return b;
}

/* Labels as dtype ("<i8", "<i4", "<u2", "|u1"). */
static buf in_labels_npy(const char *dtype, const int64_t *v, int n)
{
    int size = dtype[2] - '0';
    buf pay = {0};
    for (int i = 0; i < n; i++)
        put_le(&pay, (uint64_t)v[i], size);
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }", dtype, n);
    buf b = npy(1, dict, pay.p, pay.len);
    free(pay.p);
    return b;
}

static const char *const label_dtypes[4] = {"<i8", "<i4", "<u2", "|u1"};

/* train_data_batch_1..10 with 1, 2, 3, 1, 2, ... records (19 in all),
 * varying every option between files; val_data with 3 records from 1000
 * whose labels are 1000, 1 and 500. */
static void make_imagenet(const char *dir)
{
    int first = 0;
    for (int f = 0; f < 10; f++) {
        int n = f % 3 + 1;
        int64_t lab[3];
        for (int r = 0; r < n; r++)
            lab[r] = in_label(first + r);
        zmember m[3];
        int count = 0;
        if (f == 1) { /* the release's files may carry the mean image too */
            uint8_t mean[3072] = {0};
            m[count++] = (zmember){"mean.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3072), }",
                                                  mean, sizeof mean), 1, 0};
        }
        int version = f == 0 ? 2 : f == 4 ? 3 : 1;
        m[count++] = (zmember){"data.npy", in_data_npy(version, first, n, f == 6), f % 2, 0};
        m[count++] = (zmember){"labels.npy", in_labels_npy(label_dtypes[f % 4], lab, n), f % 2, 0};
        int flags = f == 2 ? ZIP_CD64 : f == 3 ? ZIP_LOCAL64 : f == 5 ? (ZIP_CD64 | ZIP_LOCAL64 | ZIP_COMMENT) : 0;
        if (f == 7) { /* labels first */
            zmember t = m[0];
            m[0] = m[1];
            m[1] = t;
        }
        char name[40];
        snprintf(name, sizeof name, "train_data_batch_%d.npz", f + 1);
        write_zip(dir, name, m, count, flags);
        first += n;
    }
    int64_t vlab[3] = {1000, 1, 500};
    zmember v[2] = {{"data.npy", in_data_npy(1, 1000, 3, 0), 1, 0}, {"labels.npy", in_labels_npy("<i8", vlab, 3), 1, 0}};
    write_zip(dir, "val_data.npz", v, 2, 0);
}

static void check_imagenet(const mc_dataset *d, int n, int first, const int64_t *labels)
{
    cr_assert_eq(d->n, n);
    for (int r = 0; r < n; r++) {
        int64_t want = labels ? labels[r] : in_label(first + r);
        cr_assert_eq(d->labels[r], want - 1, "label %d: %d, expected %lld", r, d->labels[r], (long long)want - 1);
        for (int k = 0; k < 3072; k++)
            cr_assert_eq(d->images[(size_t)r * 3072 + k], in_pixel(first + r, k), "image %d byte %d", r, k);
    }
}

Test(datasets, imagenet32_npz)
{
    const char *dir = subdir("in32");
    make_imagenet(dir);
    mc_dataset d;
    load_ok(dir, NULL, 0, 0, &d);
    cr_assert_str_eq(d.info->name, "imagenet32");
    cr_assert_eq(d.info->classes, 1000);
    cr_assert_eq(d.info->augment, 0);
    cr_assert_eq(d.info->epochs, 50);
    check_imagenet(&d, 19, 0, NULL);
    mc_dataset_free(&d);
    int64_t vlab[3] = {1000, 1, 500};
    load_ok(dir, NULL, 1, 0, &d);
    check_imagenet(&d, 3, 1000, vlab);
    mc_dataset_free(&d);
    load_ok(dir, NULL, 0, 4, &d); /* 1 + 2 + the first of 3 */
    check_imagenet(&d, 4, 0, NULL);
    mc_dataset_free(&d);
    load_ok(dir, NULL, 1, 2, &d);
    check_imagenet(&d, 2, 1000, vlab);
    mc_dataset_free(&d);
}

static const char *const in_data_dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3072), }";

/* val_data.npz with these two members (stored). */
static void write_val(const char *dir, buf data, buf labels)
{
    zmember m[2] = {{"data.npy", data, 0, 0}, {"labels.npy", labels, 0, 0}};
    write_zip(dir, "val_data.npz", m, 2, 0);
}

static buf two_labels(int64_t a, int64_t b)
{
    int64_t v[2] = {a, b};
    return in_labels_npy("<i8", v, 2);
}

static buf data_with(const char *dict)
{
    uint8_t px[2 * 3072] = {0};
    return npy(1, dict, px, sizeof px);
}

Test(datasets, npz_errors)
{
    const char *dir = subdir("in32");
    uint8_t junk[1000];
    for (int i = 0; i < 1000; i++)
        junk[i] = (uint8_t)(i * 7 + 1);
    write_file(dir, "val_data.npz", junk, sizeof junk);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "not a zip file");
    write_file(dir, "val_data.npz", junk, 5);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "not a zip file (5 bytes, too short)");

    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3072), }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: fortran_order is True, expected False");
    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3071), }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: shape (2, 3071), expected (N, 3072)");
    write_val(dir, data_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3072), }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: dtype is not uint8");
    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': False, }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: bad .npy header (missing one of");
    write_val(dir, data_with("hello"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: bad .npy header (not a dict)");
    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': False, 'shape': (2, -3072), }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: bad .npy header");
    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999, 3072), }"),
              two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "a dimension is too large");
    write_val(dir, data_with("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 3072), }"), two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: 6144 bytes of array data, expected 9216");

    buf bad = data_with(in_data_dict);
    bad.p[1] = 'X';
    write_val(dir, bad, two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: not a .npy file");
    bad = data_with(in_data_dict);
    bad.p[6] = 4;
    write_val(dir, bad, two_labels(1, 2));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: unsupported .npy version 4.0");

    int64_t one = 1;
    write_val(dir, data_with(in_data_dict), in_labels_npy("<i8", &one, 1));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: 1 labels but data.npy has 2 images");
    write_val(dir, data_with(in_data_dict), two_labels(1, 0));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: record 1 has label 0, expected 1..1000");
    write_val(dir, data_with(in_data_dict), two_labels(1001, 1));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: record 0 has label 1001, expected 1..1000");
    write_val(dir, data_with(in_data_dict), two_labels(-1, 1));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: record 0 has label -1, expected 1..1000");
    uint8_t f8[16] = {0};
    write_val(dir, data_with(in_data_dict),
              npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8, sizeof f8));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: dtype is not an integer");
    write_val(dir, data_with(in_data_dict),
              npy(1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", f8, sizeof f8));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: big-endian");
    write_val(dir, data_with(in_data_dict),
              npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", f8, sizeof f8));
    expect_error(dir, "imagenet32", 1, "val_data.npz", "labels.npy: shape (2, 1), expected (N,)");

    zmember only[1] = {{"data.npy", data_with(in_data_dict), 1, 0}};
    write_zip(dir, "val_data.npz", only, 1, 0);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "no labels.npy in the archive");
    zmember twice[3] = {{"data.npy", data_with(in_data_dict), 0, 0},
                        {"labels.npy", two_labels(1, 2), 0, 0},
                        {"data.npy", data_with(in_data_dict), 0, 0}};
    write_zip(dir, "val_data.npz", twice, 3, 0);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "holds data.npy twice");
    zmember cut[2] = {{"data.npy", data_with(in_data_dict), 1, 3}, {"labels.npy", two_labels(1, 2), 1, 0}};
    write_zip(dir, "val_data.npz", cut, 2, 0);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: compressed data ends early");

    /* A flipped pixel: only the CRC can tell. */
    write_val(dir, data_with(in_data_dict), two_labels(1, 2));
    size_t len;
    uint8_t *z = read_whole(dir, "val_data.npz", &len);
    z[30 + 8 + 128 + 100] ^= 1; /* local header, name, .npy header, into the pixels */
    write_file(dir, "val_data.npz", z, len);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "data.npy: CRC mismatch");
    write_file(dir, "val_data.npz", z, len - 10);
    expect_error(dir, "imagenet32", 1, "val_data.npz", "not a zip file (no end-of-central-directory record)");
    free(z);

    const char *tdir2 = subdir("in32train");
    make_imagenet(tdir2);
    remove_file(tdir2, "train_data_batch_7.npz");
    expect_error(tdir2, "imagenet32", 0, "train_data_batch_7.npz", "missing (ImageNet32 training needs");
}

/* ---- memory bombs: small files that claim or inflate to gigabytes ---------------------- */

typedef struct load_args {
    const char *dir, *ds;
    int test;
} load_args;

static int load_in_child(void *arg, char *msg, size_t len)
{
    const load_args *a = arg;
    mc_dataset d;
    int rc = mc_dataset_load(a->dir, mc_dataset_info_named(a->ds), a->test, 0, &d, msg, len);
    mc_dataset_free(&d);
    return rc == 0;
}

/* Loads in a child: refused with what, naming dir/file, in under limit_kb. */
static void expect_bomb_refused(const char *dir, const char *ds, int test, const char *file, const char *what,
                                long limit_kb)
{
    load_args a = {dir, ds, test};
    char msg[512], p[1024];
    int status = -1;
    long kb = peak_run(load_in_child, &a, msg, sizeof msg, &status);
    cr_log_info("%ld kB peak: %s", kb, msg);
    cr_assert(kb > 0 && status == 0, "the child failed (status %d): %s", status, msg);
    path_of(p, sizeof p, dir, file);
    cr_assert_not_null(strstr(msg, p), "message '%s' does not name %s", msg, p);
    cr_assert_not_null(strstr(msg, what), "message '%s' does not say '%s'", msg, what);
    cr_assert_null(strchr(msg, '\n'), "message '%s' is not one line", msg);
    cr_assert(kb < limit_kb, "%ld kB peak to refuse %s, expected under %ld", kb, p, limit_kb);
}

/* An IDX header announcing 3 images, then 256 MiB of zeros: 250 kB gzipped.
 * Inflated only as far as the header announces, plus a byte (it took 1 GB
 * and 5.4 s for 1 GiB of zeros when it was inflated in full first). */
Test(datasets, gzip_bomb)
{
    const char *dir = subdir("gzbomb");
    size_t ll;
    uint8_t *lb = idx_labels(3, 0, &ll);
    write_gz(dir, "train-labels-idx1-ubyte.gz", lb, ll);
    free(lb);
    char p[1024];
    path_of(p, sizeof p, dir, "train-images-idx3-ubyte.gz");
    gzFile g = gzopen(p, "wb1");
    cr_assert_not_null(g);
    uint8_t hdr[16];
    be32(hdr, 0x803), be32(hdr + 4, 3), be32(hdr + 8, 28), be32(hdr + 12, 28);
    cr_assert_eq(gzwrite(g, hdr, sizeof hdr), (int)sizeof hdr);
    uint8_t *zeros = calloc(1, 1 << 20);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(gzwrite(g, zeros, 1 << 20), 1 << 20);
    free(zeros);
    cr_assert_eq(gzclose(g), Z_OK);
    expect_bomb_refused(dir, "mnist", 0, "train-images-idx3-ubyte.gz",
                        "more than 2368 bytes after gunzip, expected 2368", 32 * 1024);

    /* A header announcing more than the compressed bytes can ever inflate
     * to is a lie told before anything is allocated for it. */
    uint8_t liar[16 + 4096] = {0};
    be32(liar, 0x803), be32(liar + 4, 3000000), be32(liar + 8, 28), be32(liar + 12, 28);
    write_gz(dir, "train-images-idx3-ubyte.gz", liar, sizeof liar);
    expect_bomb_refused(dir, "mnist", 0, "train-images-idx3-ubyte.gz",
                        "the header announces 2352000016 bytes, more than", 32 * 1024);
}

/* A deflated data.npy whose zip directory and .npy header claim 1 million
 * images (3 GB) from a few hundred compressed bytes: refused before the
 * dataset is allocated from that claim. */
Test(datasets, npz_size_lie)
{
    const char *dir = subdir("npzbomb");
    buf data = data_with("{'descr': '|u1', 'fortran_order': False, 'shape': (1000000, 3072), }");
    uint32_t claim = (uint32_t)(data.len - 2 * 3072 + 1000000u * 3072);
    zmember m[2] = {{"data.npy", data, 1, 0}, {"labels.npy", two_labels(1, 2), 0, 0}};
    buf z = make_zip(m, 2, 0);
    /* The uncompressed size in data.npy's local header and its directory
     * entry (the directory's offset is in the end record's last fields). */
    uint8_t *cd = z.p + (z.p[z.len - 6] | z.p[z.len - 5] << 8 | z.p[z.len - 4] << 16 | (uint32_t)z.p[z.len - 3] << 24);
    for (int i = 0; i < 4; i++)
        z.p[22 + i] = cd[24 + i] = (uint8_t)(claim >> (8 * i));
    write_file(dir, "val_data.npz", z.p, z.len);
    free(z.p);
    free(m[0].data.p);
    free(m[1].data.p);
    expect_bomb_refused(dir, "imagenet32", 1, "val_data.npz", "more than deflate can produce", 32 * 1024);
}

/* ---- names, detection, the API's edges ---------------------------------------------------- */

Test(datasets, info_named)
{
    static const char *const names[6] = {"mnist", "fashion-mnist", "cifar10", "cifar100", "stl10", "imagenet32"};
    for (int i = 0; i < 6; i++) {
        const mc_dataset_info *info = mc_dataset_info_named(names[i]);
        cr_assert_not_null(info, "%s", names[i]);
        cr_assert_str_eq(info->name, names[i]);
        cr_assert_eq((int)info->kind, i);
        cr_assert_eq(info->augment, i != MC_DS_IMAGENET32);
        cr_assert_eq(info->epochs, i == MC_DS_IMAGENET32 ? 50 : 300);
        cr_assert_eq(info->batch, i == MC_DS_STL10 ? 64 : 128);
        cr_assert_eq(info->c, i <= MC_DS_FASHION_MNIST ? 1 : 3);
    }
    cr_assert_eq(mc_dataset_info_named("CIFAR-10"), mc_dataset_info_named("cifar10"));
    cr_assert_eq(mc_dataset_info_named("Fashion_MNIST"), mc_dataset_info_named("fashion-mnist"));
    cr_assert_null(mc_dataset_info_named("cifar1000"));
    cr_assert_null(mc_dataset_info_named(""));
    cr_assert_null(mc_dataset_info_named(NULL));
    cr_assert_null(mc_dataset_info_named("mnis"));
    const mc_dataset_info *f = mc_dataset_info_named("fashion-mnist");
    cr_assert_float_eq(f->mean[0], 0.2860f, 1e-7);
    cr_assert_float_eq(f->std[0], 0.3530f, 1e-7);
    const mc_dataset_info *m = mc_dataset_info_named("mnist");
    cr_assert_float_eq(m->mean[0], 0.1307f, 1e-7);
    cr_assert_float_eq(m->std[0], 0.3081f, 1e-7);
    const mc_dataset_info *c100 = mc_dataset_info_named("cifar100");
    cr_assert_float_eq(c100->mean[2], 0.4408f, 1e-7);
    cr_assert_float_eq(c100->std[1], 0.2565f, 1e-7);
    const mc_dataset_info *s = mc_dataset_info_named("stl10"), *c10 = mc_dataset_info_named("cifar10");
    cr_assert_eq(memcmp(s->mean, c10->mean, sizeof s->mean), 0);
    cr_assert_eq(memcmp(s->std, c10->std, sizeof s->std), 0);
    cr_assert_float_eq(c10->mean[1], 0.4824f, 1e-7);
    cr_assert_float_eq(c10->std[2], 0.2616f, 1e-7);
    const mc_dataset_info *in = mc_dataset_info_named("imagenet32");
    cr_assert_float_eq(in->mean[0], 0.485f, 1e-7);
    cr_assert_float_eq(in->std[2], 0.225f, 1e-7);
    mc_dataset_free(NULL);
}

static void expect_detect(const char *dir, const char *name)
{
    char err[512] = "";
    const mc_dataset_info *info = mc_dataset_detect(dir, err, sizeof err);
    cr_assert_not_null(info, "%s: %s", dir, err);
    cr_assert_str_eq(info->name, name);
}

static void expect_no_detect(const char *dir, const char *what)
{
    char err[512] = "";
    cr_assert_null(mc_dataset_detect(dir, err, sizeof err));
    cr_assert_not_null(strstr(err, dir), "'%s' does not name %s", err, dir);
    cr_assert_not_null(strstr(err, what), "'%s' does not say '%s'", err, what);
    mc_dataset d;
    cr_assert_eq(mc_dataset_load(dir, NULL, 0, 0, &d, err, sizeof err), -1);
    cr_assert_null(d.images);
}

Test(datasets, detection)
{
    const char *m = subdir("m"), *c10 = subdir("c10"), *c100 = subdir("c100"), *s = subdir("s"),
               *in = subdir("i");
    make_idx(m, 0);
    make_cifar10(c10);
    make_cifar100(c100);
    make_stl(s);
    make_imagenet(in);
    expect_detect(m, "mnist");
    expect_detect(c10, "cifar10");
    expect_detect(c100, "cifar100");
    expect_detect(s, "stl10");
    expect_detect(in, "imagenet32");
    /* Only the test split present is still that dataset. */
    remove_file(c10, "data_batch_1.bin");
    expect_detect(c10, "cifar10");
    expect_error(c10, "cifar10", 0, "data_batch_1.bin", "missing");

    make_stl(c100);
    expect_no_detect(c100, "two datasets");
    expect_no_detect(subdir("empty"), "no dataset files found");
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/nowhere", tdir);
    expect_no_detect(nowhere, "No such file or directory");
    char file[600];
    snprintf(file, sizeof file, "%s/data_batch_2.bin", c10);
    expect_no_detect(file, "not a directory");

    /* A dataset named by the user but absent says which file it expected. */
    expect_error(m, "imagenet32", 1, "val_data.npz", "missing");
    expect_error(m, "stl10", 0, "train_X.bin", "missing");
    expect_error(c10, "mnist", 1, "t10k-images-idx3-ubyte[.gz]", "missing");
}

Test(datasets, null_and_tiny_buffers)
{
    const char *dir = subdir("c10");
    make_cifar10(dir);
    mc_dataset d;
    cr_assert_eq(mc_dataset_load(NULL, NULL, 0, 0, &d, NULL, 0), -1);
    cr_assert_eq(mc_dataset_load(dir, NULL, 0, 0, NULL, NULL, 0), -1);
    char err[8];
    cr_assert_eq(mc_dataset_load(dir, mc_dataset_info_named("stl10"), 0, 0, &d, err, sizeof err), -1);
    cr_assert_eq(strlen(err), sizeof err - 1);
    cr_assert_eq(mc_dataset_load(dir, NULL, 0, -5, &d, NULL, 0), 0); /* limit <= 0: everything */
    cr_assert_eq(d.n, 15);
    mc_dataset_free(&d);
    mc_dataset_free(&d);
}

/* ---- never crash: every file cut short and corrupted ------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717u;
}

/* Loads both splits; either works with sane contents or fails with a message. */
static void load_any(const char *dir, const char *ds)
{
    for (int test = 0; test < 2; test++) {
        mc_dataset d;
        char err[512] = "";
        int rc = mc_dataset_load(dir, mc_dataset_info_named(ds), test, 0, &d, err, sizeof err);
        if (rc == 0) {
            cr_assert_gt(d.n, 0);
            for (int i = 0; i < d.n; i++)
                cr_assert(d.labels[i] >= 0 && d.labels[i] < d.info->classes);
            mc_dataset_free(&d);
        } else {
            cr_assert_eq(rc, -1);
            cr_assert_neq(err[0], 0);
            cr_assert_null(d.images);
        }
    }
}

static void fuzz_file(const char *dir, const char *ds, const char *name)
{
    size_t len;
    uint8_t *orig = read_whole(dir, name, &len);
    size_t step = len / 60 + 1;
    for (size_t cut = 0; cut < len; cut += cut < 64 || len - cut < 64 ? 1 : step) {
        write_file(dir, name, orig, cut);
        load_any(dir, ds);
    }
    uint8_t *b = malloc(len);
    for (int t = 0; t < 120; t++) {
        memcpy(b, orig, len);
        int flips = 1 + (int)(rnd() % 3);
        for (int k = 0; k < flips; k++) {
            /* Headers and trailers are where parsers break: aim there half the time. */
            size_t at = rnd() % len;
            if (rnd() % 2)
                at = rnd() % 2 ? at % (len < 200 ? len : 200) : len - 1 - at % (len < 200 ? len : 200);
            b[at] = rnd() % 4 ? (uint8_t)rnd() : (uint8_t)(b[at] ^ 0x80);
        }
        write_file(dir, name, b, len);
        load_any(dir, ds);
    }
    write_file(dir, name, orig, len);
    free(b);
    free(orig);
}

static void fuzz_dir(const char *dir, const char *ds)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char names[32][256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 32)
        if (e->d_name[0] != '.')
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        fuzz_file(dir, ds, names[i]);
}

Test(datasets, fuzz_idx, .timeout = 300)
{
    const char *p = subdir("p"), *g = subdir("g");
    make_idx(p, 0);
    make_idx(g, 1);
    fuzz_dir(p, "mnist");
    fuzz_dir(g, "mnist");
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks");
#endif
}

Test(datasets, fuzz_cifar_stl, .timeout = 300)
{
    const char *c10 = subdir("c10"), *c100 = subdir("c100"), *s = subdir("s");
    make_cifar10(c10);
    make_cifar100(c100);
    make_stl(s);
    fuzz_dir(c10, "cifar10");
    fuzz_dir(c100, "cifar100");
    fuzz_dir(s, "stl10");
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks");
#endif
}

Test(datasets, fuzz_npz, .timeout = 300)
{
    const char *in = subdir("in");
    make_imagenet(in);
    static const char *const files[4] = {"val_data.npz", "train_data_batch_2.npz", "train_data_batch_3.npz",
                                         "train_data_batch_4.npz"};
    for (int i = 0; i < 4; i++) /* stored + mean, zip64 directory, zip64 local headers, deflated */
        fuzz_file(in, "imagenet32", files[i]);
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks");
#endif
}

/* ---- the real thing ---------------------------------------------------------------------- */

Test(datasets, fashion_mnist_installed, .timeout = 120)
{
    struct stat st;
    if (stat(FASHION_DIR "/t10k-images-idx3-ubyte.gz", &st) != 0)
        cr_skip_test("Fashion-MNIST is not installed in " FASHION_DIR " (apt-get install dataset-fashion-mnist)");
    expect_detect(FASHION_DIR, "fashion-mnist");
    mc_dataset d;
    load_ok(FASHION_DIR, NULL, 1, 0, &d);
    cr_assert_str_eq(d.info->name, "fashion-mnist");
    cr_assert_eq(d.n, 10000);
    int per_class[10] = {0};
    for (int i = 0; i < d.n; i++) {
        cr_assert(d.labels[i] >= 0 && d.labels[i] < 10);
        per_class[d.labels[i]]++;
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(per_class[c], 1000, "class %d", c);
    /* Computed with Python's gzip module from the same file. */
    cr_assert_eq(d.labels[0], 9);
    cr_assert_eq(d.labels[1], 2);
    long sum = 0;
    for (int k = 0; k < 784; k++)
        sum += d.images[k];
    cr_assert_eq(sum, 33456);
    mc_dataset_free(&d);
    load_ok(FASHION_DIR, NULL, 0, 500, &d);
    cr_assert_eq(d.n, 500);
    mc_dataset_free(&d);
}
