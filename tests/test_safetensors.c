/* The safetensors reader and atomic writer (runtime/safetensors.c):
 * - round trips of every shape kind we use (scalar, 1-D, 4-D, empty),
 *   awkward names and metadata, misaligned data;
 * - one file compared byte for byte with bytes laid out by hand from the
 *   format's description;
 * - hand-made files the reader must accept (tensors in any JSON order,
 *   whitespace, every JSON escape, unknown dtypes);
 * - every kind of corruption rejected with its message: each truncation of
 *   a small file, bad JSON, bad offsets and sizes, duplicates, oversized
 *   header lengths; and single-byte mutations that must never crash;
 * - atomic writing: failures leave the target untouched and no temporary
 *   behind, and a writer SIGKILLed at random moments always leaves a
 *   complete old or new file. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mc_safetensors.h"
#include "peak.h"

/* ---- helpers ---- */

static char *make_dir(void)
{
    char tmpl[] = "/tmp/mc_st_test_XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
    return strdup(tmpl);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Entries of dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Removes dir and the plain files and empty folders in it; frees dir. */
static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = join(dir, e->d_name);
            if (unlink(p) != 0)
                rmdir(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    for (size_t k; (k = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += k;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *n = len;
    return buf;
}

static int same_file(const char *path, const unsigned char *want, size_t n)
{
    size_t got_n;
    unsigned char *got = read_bytes(path, &got_n);
    int same = got_n == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

/* A safetensors file: the length of header (as given: not padded), header,
 * data. */
static unsigned char *make_file(const char *header, size_t hlen, const void *data, size_t ndata, size_t *n)
{
    unsigned char *buf = malloc(8 + hlen + ndata + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (ndata)
        memcpy(buf + 8 + hlen, data, ndata);
    *n = 8 + hlen + ndata;
    return buf;
}

static void write_file(const char *path, const char *header, const void *data, size_t ndata)
{
    size_t n;
    unsigned char *buf = make_file(header, strlen(header), data, ndata, &n);
    write_bytes(path, buf, n);
    free(buf);
}

/* A message the API promises: non-empty, one line, naming the file. */
static void check_message(const char *err, const char *path)
{
    cr_assert(err[0] != '\0', "empty error message");
    cr_assert_null(strchr(err, '\n'), "message is not one line: %s", err);
    cr_assert(strncmp(err, path, strlen(path)) == 0, "message does not start with the path: %s", err);
}

static void expect_open_fails(const char *path, const char *want)
{
    char err[512];
    mc_st_file *f = mc_st_open(path, err, sizeof err);
    cr_assert_null(f, "accepted a bad file, expected: %s", want);
    check_message(err, path);
    cr_assert_not_null(strstr(err, want), "message '%s' lacks '%s'", err, want);
}

static mc_st_file *open_ok(const char *path)
{
    char err[512];
    mc_st_file *f = mc_st_open(path, err, sizeof err);
    cr_assert_not_null(f, "open failed: %s", err);
    return f;
}

static void write_ok(mc_st_writer *w, const char *path)
{
    char err[512];
    cr_assert_eq(mc_st_write(w, path, err, sizeof err), 0, "write failed: %s", err);
}

static void expect_tensor(const mc_st_tensor *t, const char *name, mc_st_dtype dtype, int ndim,
                          const int64_t *shape, const void *data, size_t nbytes)
{
    cr_assert_not_null(t, "tensor '%s' missing", name);
    cr_assert_str_eq(t->name, name);
    cr_assert_eq(t->dtype, dtype, "'%s': dtype %s", name, mc_st_dtype_name(t->dtype));
    cr_assert_str_eq(t->dtype_str, mc_st_dtype_name(dtype));
    cr_assert_eq(t->ndim, ndim, "'%s': ndim %d", name, t->ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "'%s': dim %d", name, i);
    cr_assert_eq(t->nbytes, nbytes, "'%s': %zu bytes", name, t->nbytes);
    cr_assert_not_null(t->data);
    size_t elem = mc_st_dtype_size(dtype);
    cr_assert_eq((uintptr_t)t->data % (elem ? elem : 1), 0, "'%s' misaligned", name);
    if (nbytes)
        cr_assert(memcmp(t->data, data, nbytes) == 0, "'%s': data differ", name);
}

/* ---- round trips ---- */

Test(safetensors, round_trip)
{
    char *dir = make_dir(), *path = join(dir, "ckpt.safetensors");
    float w[2 * 3], conv[2 * 3 * 4 * 5];
    double d[3] = {0.1, -1e300, 3};
    int64_t count = 42, empty_dummy = 0;
    uint8_t bytes[3] = {1, 2, 255};
    for (int i = 0; i < 6; i++)
        w[i] = (float)i * 0.5f - 1.0f;
    for (int i = 0; i < 120; i++)
        conv[i] = (float)i / 7.0f;
    const char *odd_name = "a \"quoted\" \\ name/with\ttab\nnewline\x01 é 中 😀";
    const int64_t s_w[] = {2, 3}, s_conv[] = {2, 3, 4, 5}, s_d[] = {3}, s_b[] = {3}, s_empty[] = {0, 3};

    mc_st_writer *wr = mc_st_writer_new();
    mc_st_add(wr, "fc.weight", MC_ST_F32, 2, s_w, w);
    mc_st_add(wr, "bn.num_batches_tracked", MC_ST_I64, 0, NULL, &count);
    mc_st_add(wr, "bytes", MC_ST_U8, 1, s_b, bytes); /* 3 bytes: what follows lies misaligned */
    mc_st_add(wr, "conv.weight", MC_ST_F32, 4, s_conv, conv);
    mc_st_add(wr, "empty", MC_ST_F32, 2, s_empty, &empty_dummy);
    mc_st_add(wr, odd_name, MC_ST_F64, 1, s_d, d);
    mc_st_add_metadata(wr, "model", "resnet20");
    mc_st_add_metadata(wr, "odd \"key\"", "value\\with\nescapes é");
    write_ok(wr, path);
    mc_st_writer_free(wr);

    mc_st_file *f = open_ok(path);
    cr_assert_str_eq(mc_st_path(f), path);
    cr_assert_eq(mc_st_count(f), 6);
    const char *order[] = {"fc.weight", "bn.num_batches_tracked", "bytes", "conv.weight", "empty", odd_name};
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(mc_st_at(f, i)->name, order[i]);
    cr_assert_null(mc_st_at(f, 6));
    cr_assert_null(mc_st_at(f, -1));
    expect_tensor(mc_st_find(f, "fc.weight"), "fc.weight", MC_ST_F32, 2, s_w, w, sizeof w);
    const char *nbt = "bn.num_batches_tracked";
    expect_tensor(mc_st_find(f, nbt), nbt, MC_ST_I64, 0, NULL, &count, 8);
    expect_tensor(mc_st_find(f, "bytes"), "bytes", MC_ST_U8, 1, s_b, bytes, 3);
    expect_tensor(mc_st_find(f, "conv.weight"), "conv.weight", MC_ST_F32, 4, s_conv, conv, sizeof conv);
    expect_tensor(mc_st_find(f, "empty"), "empty", MC_ST_F32, 2, s_empty, NULL, 0);
    expect_tensor(mc_st_find(f, odd_name), odd_name, MC_ST_F64, 1, s_d, d, sizeof d);
    cr_assert_null(mc_st_find(f, "absent"));
    cr_assert_null(mc_st_find(f, "fc.weigh"));
    cr_assert_str_eq(mc_st_metadata(f, "model"), "resnet20");
    cr_assert_str_eq(mc_st_metadata(f, "odd \"key\""), "value\\with\nescapes é");
    cr_assert_null(mc_st_metadata(f, "absent"));
    mc_st_close(f);

    size_t n;
    unsigned char *raw = read_bytes(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    cr_assert_eq(hlen % 8, 0, "header not padded to 8: %llu", (unsigned long long)hlen);
    cr_assert_eq(raw[8 + hlen - 1], ' ', "padding is not spaces"); /* this header needs padding */
    free(raw);
    remove_dir(dir);
    free(path);
}

Test(safetensors, empty_list_and_overwrite)
{
    char *dir = make_dir(), *path = join(dir, "x.safetensors");
    mc_st_writer *w = mc_st_writer_new();
    write_ok(w, path);
    mc_st_file *f = open_ok(path);
    cr_assert_eq(mc_st_count(f), 0);
    cr_assert_null(mc_st_find(f, "x"));
    cr_assert_null(mc_st_metadata(f, "x"));
    mc_st_close(f);
    cr_assert(same_file(path, (const unsigned char *)"\x08\0\0\0\0\0\0\0{}      ", 16));

    float v = 5.0f;
    mc_st_add(w, "v", MC_ST_F32, 0, NULL, &v);
    write_ok(w, path); /* the same writer again, over the old file */
    f = open_ok(path);
    cr_assert_eq(mc_st_count(f), 1);
    cr_assert_eq(*(const float *)mc_st_find(f, "v")->data, 5.0f);
    mc_st_close(f);
    mc_st_writer_free(w);
    cr_assert_eq(count_entries(dir), 1);
    remove_dir(dir);
    free(path);
}

/* The bytes of a small file, laid out by hand from the format. */
Test(safetensors, byte_exact)
{
    char *dir = make_dir(), *path = join(dir, "exact.safetensors");
    float w[2] = {1.0f, -2.0f};
    int64_t n = 7;
    const int64_t shape[1] = {2};
    mc_st_writer *wr = mc_st_writer_new();
    mc_st_add_metadata(wr, "format", "pt");
    mc_st_add(wr, "w", MC_ST_F32, 1, shape, w);
    mc_st_add(wr, "n", MC_ST_I64, 0, NULL, &n);
    write_ok(wr, path);
    mc_st_writer_free(wr);

    static const char header[] = "{\"__metadata__\":{\"format\":\"pt\"},"
                                 "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}"
                                 "      "; /* 138 bytes of JSON + 6 spaces = 144 */
    unsigned char want[8 + 144 + 16] = {0x90, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(sizeof header - 1, 144);
    memcpy(want + 8, header, 144);
    static const unsigned char data[16] = {0x00, 0x00, 0x80, 0x3f, /* 1.0f */
                                           0x00, 0x00, 0x00, 0xc0, /* -2.0f */
                                           0x07, 0, 0, 0, 0, 0, 0, 0};
    memcpy(want + 8 + 144, data, 16);
    cr_assert(same_file(path, want, sizeof want), "file differs from the hand-made bytes");
    remove_dir(dir);
    free(path);
}

/* How names are escaped: '"', '\\' and control characters only, like the
 * reference (serde_json). */
Test(safetensors, byte_exact_escapes)
{
    char *dir = make_dir(), *path = join(dir, "esc.safetensors");
    uint8_t b = 9;
    mc_st_writer *wr = mc_st_writer_new();
    mc_st_add(wr, "q\"b\\s/n\nt\tc\x1f\x7f\xc3\xa9", MC_ST_U8, 0, NULL, &b);
    write_ok(wr, path);
    mc_st_writer_free(wr);
    static const char json[] = "{\"q\\\"b\\\\s/n\\nt\\tc\\u001f\x7f\xc3\xa9\":"
                               "{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}";
    char header[128];
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    memset(header, ' ', padded);
    memcpy(header, json, len);
    size_t n;
    unsigned char *want = make_file(header, padded, &b, 1, &n);
    cr_assert(same_file(path, want, n), "escaping differs from the reference's");
    free(want);
    remove_dir(dir);
    free(path);
}

/* ---- files written by others ---- */

Test(safetensors, json_order_differs_from_data_order)
{
    char *dir = make_dir(), *path = join(dir, "order.safetensors");
    unsigned char data[4 + 8 + 4];
    float a = 1.5f, c = -3.0f;
    int64_t b = -5;
    memcpy(data, &a, 4);
    memcpy(data + 4, &b, 8);
    memcpy(data + 12, &c, 4);
    /* Misaligned for I64 on purpose: b lies at data offset 4. Leading,
     * inner and trailing whitespace of every kind, no padding to 8. */
    write_file(path,
               " \t\n{ \"c\" : {\"data_offsets\":[12,16],\"shape\":[1],\"dtype\":\"F32\"},\r\n"
               "  \"__metadata__\": {\"k\": \"v\"},\n"
               "  \"b\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [4, 12]},\n"
               "  \"a\": {\"dtype\": \"F32\", \"shape\": [1, 1, 1, 1], \"data_offsets\": [0, 4]} }\n   ",
               data, sizeof data);
    mc_st_file *f = open_ok(path);
    cr_assert_eq(mc_st_count(f), 3);
    cr_assert_str_eq(mc_st_at(f, 0)->name, "c");
    cr_assert_str_eq(mc_st_at(f, 1)->name, "b");
    cr_assert_str_eq(mc_st_at(f, 2)->name, "a");
    const int64_t s1[] = {1}, s4[] = {1, 1, 1, 1};
    expect_tensor(mc_st_find(f, "a"), "a", MC_ST_F32, 4, s4, &a, 4);
    expect_tensor(mc_st_find(f, "b"), "b", MC_ST_I64, 0, NULL, &b, 8);
    expect_tensor(mc_st_find(f, "c"), "c", MC_ST_F32, 1, s1, &c, 4);
    cr_assert_str_eq(mc_st_metadata(f, "k"), "v");
    mc_st_close(f);
    remove_dir(dir);
    free(path);
}

Test(safetensors, json_escapes_decoded)
{
    char *dir = make_dir(), *path = join(dir, "esc.safetensors");
    unsigned char data[3] = {1, 2, 3};
    write_file(path,
               "{\"a\\/b\\\"\\\\\\b\\f\\n\\r\\t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"\\u00e9\\u4E2D\\ud83d\\ude00x\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[1,2]},"
               "\"\xc3\xa9\xf0\x9f\x98\x80\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[2,3]},"
               "\"__metadata__\":{\"\\u0041\":\"\\u00ff\\/\"}}",
               data, sizeof data);
    mc_st_file *f = open_ok(path);
    cr_assert_str_eq(mc_st_at(f, 0)->name, "a/b\"\\\b\f\n\r\t");
    cr_assert_str_eq(mc_st_at(f, 1)->name, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80x");
    cr_assert_eq(mc_st_at(f, 1)->dtype, MC_ST_BOOL);
    cr_assert_str_eq(mc_st_at(f, 2)->name, "é😀");
    cr_assert_eq(*(const int8_t *)mc_st_find(f, "é😀")->data, 3);
    cr_assert_str_eq(mc_st_metadata(f, "A"), "\xc3\xbf/");
    mc_st_close(f);
    remove_dir(dir);
    free(path);
}

/* Dtypes we do not know are kept as raw bytes; shapes are not checked
 * against their size. */
Test(safetensors, unknown_dtype_kept)
{
    char *dir = make_dir(), *path = join(dir, "fp8.safetensors");
    unsigned char data[6] = {1, 2, 3, 4, 5, 6};
    write_file(path,
               "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,2],\"data_offsets\":[0,4]},"
               "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]}}",
               data, sizeof data);
    mc_st_file *f = open_ok(path);
    const mc_st_tensor *q = mc_st_find(f, "q");
    cr_assert_eq(q->dtype, MC_ST_OTHER);
    cr_assert_str_eq(q->dtype_str, "F8_E4M3");
    cr_assert_eq(q->nbytes, 4);
    cr_assert(memcmp(q->data, data, 4) == 0);
    cr_assert_eq(mc_st_find(f, "h")->dtype, MC_ST_F16);
    mc_st_close(f);
    remove_dir(dir);
    free(path);
}

Test(safetensors, dtype_names)
{
    const char *want[] = {"F32", "I64", "F64", "I32", "U8",  "I8",  "I16",
                          "U16", "U32", "U64", "F16", "BF16", "BOOL"};
    const size_t size[] = {4, 8, 8, 4, 1, 1, 2, 2, 4, 8, 2, 2, 1};
    for (int t = 0; t < MC_ST_OTHER; t++) {
        cr_assert_str_eq(mc_st_dtype_name((mc_st_dtype)t), want[t]);
        cr_assert_eq(mc_st_dtype_size((mc_st_dtype)t), size[t]);
    }
    cr_assert_str_eq(mc_st_dtype_name(MC_ST_OTHER), "OTHER");
    cr_assert_eq(mc_st_dtype_size(MC_ST_OTHER), 0);
}

/* ---- corrupt files ---- */

/* A valid small file made by the writer, in memory. */
static unsigned char *small_file(const char *dir, size_t *n)
{
    char *path = join(dir, "small.safetensors");
    float w[3] = {1, 2, 3};
    int64_t c = 9;
    const int64_t shape[] = {3};
    mc_st_writer *wr = mc_st_writer_new();
    mc_st_add(wr, "w", MC_ST_F32, 1, shape, w);
    mc_st_add(wr, "c", MC_ST_I64, 0, NULL, &c);
    mc_st_add_metadata(wr, "m", "x");
    write_ok(wr, path);
    mc_st_writer_free(wr);
    unsigned char *buf = read_bytes(path, n);
    unlink(path);
    free(path);
    return buf;
}

Test(corrupt, every_truncation)
{
    char *dir = make_dir(), *path = join(dir, "t.safetensors");
    size_t n;
    unsigned char *full = small_file(dir, &n);
    for (size_t len = 0; len < n; len++) {
        char err[512];
        write_bytes(path, full, len);
        mc_st_file *f = mc_st_open(path, err, sizeof err);
        cr_assert_null(f, "accepted the file cut to %zu of %zu bytes", len, n);
        check_message(err, path);
    }
    write_bytes(path, full, n);
    mc_st_close(open_ok(path));
    free(full);
    remove_dir(dir);
    free(path);
}

/* Single-byte changes anywhere: the reader may accept or reject, but must
 * not crash or misbehave (ASan/UBSan builds check), and what it accepts
 * must be consistent. */
Test(corrupt, byte_mutations_never_crash)
{
    char *dir = make_dir(), *path = join(dir, "m.safetensors");
    size_t n;
    unsigned char *full = small_file(dir, &n);
    static const unsigned char values[] = {0x00, 0xff, '"', '\\', '{', '}', ',', ' ', '9', 0x80, 0xc3};
    for (size_t at = 0; at < n; at++)
        for (size_t v = 0; v <= sizeof values; v++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, full, n);
            copy[at] = v < sizeof values ? values[v] : (unsigned char)(copy[at] ^ 1);
            write_bytes(path, copy, n);
            char err[512];
            mc_st_file *f = mc_st_open(path, err, sizeof err);
            if (f) {
                for (int i = 0; i < mc_st_count(f); i++) {
                    const mc_st_tensor *t = mc_st_at(f, i);
                    cr_assert_eq(mc_st_find(f, t->name), t);
                    cr_assert(t->nbytes <= n);
                }
                mc_st_close(f);
            } else {
                check_message(err, path);
            }
            free(copy);
        }
    free(full);
    remove_dir(dir);
    free(path);
}

typedef struct bad_case {
    const char *header;
    size_t ndata;   /* data bytes after the header (zeros) */
    const char *want; /* part of the message */
} bad_case;

#define T(name, extra) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" extra "}"

static const bad_case BAD[] = {
    {"", 0, "expected a JSON value, found the end"},
    {"   ", 0, "expected a JSON value, found the end"},
    {"{}x", 0, "expected the end of the header after the JSON value, found 'x'"},
    {"{} {}", 0, "expected the end of the header"},
    {"[]", 0, "header is not a JSON object"},
    {"\"x\"", 0, "header is not a JSON object"},
    {"null", 0, "header is not a JSON object"},
    {"{", 0, "expected a string key, found the end"},
    {"{\"a\"", 0, "expected ':'"},
    {"{\"a\":}", 0, "expected a JSON value, found '}'"},
    {"{\"a\":tru}", 0, "expected a JSON value"},
    {"{" T("a", "[0,4]") ",}", 4, "expected a string key, found '}'"},
    {"{" T("a", "[0,4]") " " T("b", "[4,8]") "}", 8, "expected ',' or '}'"},
    {"{'a':1}", 0, "expected a string key, found '''"},
    {"{\"a\":[1 2]}", 0, "expected ',' or ']'"},
    {"{\"a", 0, "unterminated string"},
    {"{\"a\x01\":1}", 0, "unescaped control character 0x01"},
    {"{\"a\\x\":1}", 0, "invalid escape"},
    {"{\"a\\u12\":1}", 0, "\\u escape"},
    {"{\"a\\u12g4\":1}", 0, "invalid hex digit"},
    {"{\"\\ud800\":1}", 0, "unpaired high surrogate"},
    {"{\"\\ud800\\u0041\":1}", 0, "unpaired high surrogate"},
    {"{\"\\udc00\":1}", 0, "unpaired low surrogate"},
    {"{\"\\u0000\":1}", 0, "NUL"},
    {"{\"\xff\":1}", 0, "invalid UTF-8"},
    {"{\"\xc0\xaf\":1}", 0, "invalid UTF-8"},          /* overlong '/' */
    {"{\"\xed\xa0\x80\":1}", 0, "invalid UTF-8"},      /* a surrogate in UTF-8 */
    {"{\"\xf4\x90\x80\x80\":1}", 0, "invalid UTF-8"},  /* past U+10FFFF */
    {"{\"\xe4\xb8\":1}", 0, "invalid UTF-8"},          /* cut short */
    {"{\"a\":01}", 0, "leading zero"},
    {"{\"a\":-}", 0, "expected a digit"},
    {"{\"a\":1.}", 0, "expected a digit after '.'"},
    {"{\"a\":1e}", 0, "expected a digit in the exponent"},
    {"{\"a\":" "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
     "nested deeper than"},
    {"{" T("a", "[0,4.0]") "}", 4, "\"data_offsets\" entries must be non-negative integers"},
    {"{" T("a", "[0,4e0]") "}", 4, "\"data_offsets\" entries must be non-negative integers"},
    {"{" T("a", "[-0,4]") "}", 4, "\"data_offsets\" entries must be non-negative integers"},
    {"{" T("a", "[\"0\",4]") "}", 4, "\"data_offsets\" entries must be non-negative integers"},
    {"{" T("a", "[0,99999999999999999999]") "}", 4, "\"data_offsets\" entry too large"},
    {"{" T("a", "[0,9223372036854775808]") "}", 4, "\"data_offsets\" entry too large"},
    {"{" T("a", "[0,4,8]") "}", 4, "\"data_offsets\" must be an array of 2 integers"},
    {"{" T("a", "[0]") "}", 4, "\"data_offsets\" must be an array of 2 integers"},
    {"{" T("a", "{}") "}", 4, "\"data_offsets\" must be an array of 2 integers"},
    {"{" T("a", "[4,0]") "}", 4, "end before they begin"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
     "\"shape\" entries must be non-negative integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "\"shape\" entries must be"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}", 4, "\"shape\" entries must be"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "\"shape\" must be an array"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "at most 8"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4,
     "shape too large"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4,
     "shape too large"},
    {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is not a string"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing \"data_offsets\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
     "unknown field 'extra'"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "field \"dtype\" appears twice"},
    {"{\"a\":[]}", 0, "tensor 'a': entry is not an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8 bytes"},
    {"{\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "needs 8 bytes"},
    {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4, "needs 6 bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,4]}}", 4, "needs 0 bytes"},
    {"{" T("a", "[0,4]") "," T("a", "[4,8]") "}", 8, "tensor name 'a' appears twice"},
    {"{" T("a", "[0,4]") "," T("b", "[2,6]") "}", 6, "overlapping"},
    {"{" T("a", "[0,4]") "," T("b", "[0,4]") "}", 4, "overlapping"},
    {"{" T("a", "[0,4]") "," T("b", "[6,10]") "}", 10, "leaving a gap"},
    {"{" T("a", "[4,8]") "}", 8, "leaving a gap"},
    {"{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]}," T("a", "[0,4]") "}", 4,
     "overlapping"}, /* an empty tensor inside another's data */
    {"{" T("a", "[0,4]") "}", 2, "data end at byte 4 of the data area but it has 2 bytes"},
    {"{" T("a", "[0,4]") "}", 8, "data end at byte 4 of the data area but it has 8 bytes"},
    {"{}", 1, "data end at byte 0 of the data area but it has 1 bytes"},
    {"{\"__metadata__\":[]}", 0, "\"__metadata__\" is not an object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, "\"__metadata__\" value of 'k' is not a string"},
    {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "\"__metadata__\" has the key 'k' twice"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice"},
    {"{\"bad\\nname\":[]}", 0, "tensor 'bad?name'"}, /* names in messages stay on one line */
};

Test(corrupt, bad_headers)
{
    char *dir = make_dir(), *path = join(dir, "bad.safetensors");
    static const unsigned char zeros[16];
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const bad_case *c = &BAD[i];
        size_t hlen = strlen(c->header), n;
        unsigned char *buf = make_file(c->header, hlen, zeros, c->ndata, &n);
        write_bytes(path, buf, n);
        free(buf);
        cr_log_info("case %zu: %s", i, c->want);
        expect_open_fails(path, c->want);
    }
    /* Padding with anything but whitespace is garbage. */
    write_bytes(path, "\x08\0\0\0\0\0\0\0{}\0\0\0\0\0\0", 16);
    expect_open_fails(path, "expected the end of the header after the JSON value, found byte 0x00");
    remove_dir(dir);
    free(path);
}

static void write_length_only(const char *path, uint64_t hlen, size_t total)
{
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    if (total > 8)
        buf[8] = '{';
    write_bytes(path, buf, total);
    free(buf);
}

Test(corrupt, header_length)
{
    char *dir = make_dir(), *path = join(dir, "len.safetensors");
    write_bytes(path, "", 0);
    expect_open_fails(path, "file has 0 bytes, too few for the 8-byte header length");
    write_bytes(path, "\x02\0\0\0\0\0\0", 7);
    expect_open_fails(path, "file has 7 bytes");
    write_length_only(path, 1234, 100);
    expect_open_fails(path, "header says 1234 bytes but the file has only 92 after the length");
    write_length_only(path, UINT64_MAX, 100);
    expect_open_fails(path, "more than the limit of 100000000");
    write_length_only(path, (uint64_t)1 << 63, 100);
    expect_open_fails(path, "more than the limit");
    write_length_only(path, 100000001, 100);
    expect_open_fails(path, "header says 100000001 bytes, more than the limit");

    /* The limit holds even when the file is long enough (sparse file). */
    write_length_only(path, 100000001, 16);
    cr_assert_eq(truncate(path, 8 + 100000001 + 8), 0);
    expect_open_fails(path, "more than the limit");
    remove_dir(dir);
    free(path);
}

Test(corrupt, not_a_file)
{
    char *dir = make_dir(), *path = join(dir, "absent.safetensors");
    expect_open_fails(path, "No such file or directory");
    expect_open_fails(dir, "not a regular file");
    char err[16]; /* a short buffer truncates, never overflows */
    cr_assert_null(mc_st_open(path, err, sizeof err));
    cr_assert_eq(strlen(err), sizeof err - 1);
    cr_assert_null(mc_st_open(path, NULL, 0));
    remove_dir(dir);
    free(path);
}

/* ---- writer mistakes: reported by mc_st_write, no file touched ---- */

typedef void (*mistake_fn)(mc_st_writer *w);
static const float ONE[4] = {1, 2, 3, 4};
static void m_ndim(mc_st_writer *w)
{
    mc_st_add(w, "a", MC_ST_F32, 9, (const int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, ONE);
}
static void m_negative(mc_st_writer *w) { mc_st_add(w, "a", MC_ST_F32, 1, (const int64_t[1]){-1}, ONE); }
static void m_null_data(mc_st_writer *w) { mc_st_add(w, "a", MC_ST_F32, 1, (const int64_t[1]){2}, NULL); }
static void m_bad_utf8(mc_st_writer *w) { mc_st_add(w, "a\xff", MC_ST_F32, 0, NULL, ONE); }
static void m_reserved(mc_st_writer *w) { mc_st_add(w, "__metadata__", MC_ST_F32, 0, NULL, ONE); }
static void m_other(mc_st_writer *w) { mc_st_add(w, "a", MC_ST_OTHER, 0, NULL, ONE); }
static void m_bad_dtype(mc_st_writer *w) { mc_st_add(w, "a", (mc_st_dtype)99, 0, NULL, ONE); }
static void m_null_name(mc_st_writer *w) { mc_st_add(w, NULL, MC_ST_F32, 0, NULL, ONE); }
static void m_too_big(mc_st_writer *w)
{
    mc_st_add(w, "a", MC_ST_F32, 2, (const int64_t[2]){INT64_MAX, 2}, ONE);
}
static void m_repeat(mc_st_writer *w)
{
    mc_st_add(w, "a", MC_ST_F32, 0, NULL, ONE);
    mc_st_add(w, "b", MC_ST_F32, 0, NULL, ONE);
    mc_st_add(w, "a", MC_ST_F32, 0, NULL, ONE);
}
static void m_meta_repeat(mc_st_writer *w)
{
    mc_st_add_metadata(w, "k", "1");
    mc_st_add_metadata(w, "k", "2");
}
static void m_meta_null(mc_st_writer *w) { mc_st_add_metadata(w, "k", NULL); }

Test(writer, mistakes_reported_and_nothing_written)
{
    static const struct {
        mistake_fn fn;
        const char *want;
    } cases[] = {
        {m_ndim, "9 dimensions"},         {m_negative, "negative dimension"},
        {m_null_data, "NULL data"},       {m_bad_utf8, "not valid UTF-8"},
        {m_reserved, "reserved"},         {m_other, "cannot be written"},
        {m_bad_dtype, "cannot be written"}, {m_null_name, "NULL name"},
        {m_too_big, "shape too large"},   {m_repeat, "tensor name 'a' added twice"},
        {m_meta_repeat, "metadata key 'k' added twice"}, {m_meta_null, "non-NULL UTF-8"},
    };
    char *dir = make_dir(), *path = join(dir, "ckpt.safetensors");
    float old = 1.0f;
    mc_st_writer *w = mc_st_writer_new();
    mc_st_add(w, "old", MC_ST_F32, 0, NULL, &old);
    write_ok(w, path);
    mc_st_writer_free(w);
    size_t n;
    unsigned char *before = read_bytes(path, &n);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512];
        w = mc_st_writer_new();
        mc_st_add(w, "fine", MC_ST_F32, 0, NULL, ONE);
        cases[i].fn(w);
        mc_st_add(w, "after", MC_ST_F32, 0, NULL, ONE); /* later calls do not hide the first mistake */
        cr_assert_eq(mc_st_write(w, path, err, sizeof err), -1, "case %zu written", i);
        check_message(err, path);
        cr_assert_not_null(strstr(err, cases[i].want), "message '%s' lacks '%s'", err, cases[i].want);
        mc_st_writer_free(w);
        cr_assert(same_file(path, before, n), "case %zu: the old file changed", i);
        cr_assert_eq(count_entries(dir), 1, "case %zu left a file behind", i);
    }
    char err[512];
    cr_assert_eq(mc_st_write(NULL, path, err, sizeof err), -1);
    check_message(err, path);
    mc_st_writer_free(NULL);
    mc_st_add(NULL, "a", MC_ST_F32, 0, NULL, ONE);
    mc_st_add_metadata(NULL, "a", "b");
    mc_st_close(NULL);
    free(before);
    remove_dir(dir);
    free(path);
}

/* ---- atomic writing ---- */

Test(atomic, missing_directory)
{
    char *dir = make_dir(), *path = join(dir, "no/such/dir/ckpt.safetensors");
    float v = 1;
    char err[512];
    mc_st_writer *w = mc_st_writer_new();
    mc_st_add(w, "v", MC_ST_F32, 0, NULL, &v);
    cr_assert_eq(mc_st_write(w, path, err, sizeof err), -1);
    mc_st_writer_free(w);
    check_message(err, path);
    cr_assert_not_null(strstr(err, "No such file or directory"), "%s", err);
    cr_assert_eq(count_entries(dir), 0);
    remove_dir(dir);
    free(path);
}

/* Renaming over a directory fails after the temporary is complete: it must
 * be removed, and the directory left alone. */
Test(atomic, rename_fails)
{
    char *dir = make_dir(), *path = join(dir, "ckpt.safetensors");
    cr_assert_eq(mkdir(path, 0755), 0);
    float v = 1;
    char err[512];
    mc_st_writer *w = mc_st_writer_new();
    mc_st_add(w, "v", MC_ST_F32, 0, NULL, &v);
    cr_assert_eq(mc_st_write(w, path, err, sizeof err), -1);
    mc_st_writer_free(w);
    check_message(err, path);
    cr_assert_not_null(strstr(err, "cannot rename"), "%s", err);
    cr_assert_eq(count_entries(dir), 1);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    remove_dir(dir);
    free(path);
}

Test(atomic, read_only_directory)
{
    if (geteuid() == 0)
        cr_skip_test("running as root: permissions do not stop root");
    char *dir = make_dir(), *path = join(dir, "ckpt.safetensors");
    float v = 1, v2 = 2;
    mc_st_writer *w = mc_st_writer_new();
    mc_st_add(w, "v", MC_ST_F32, 0, NULL, &v);
    write_ok(w, path);
    mc_st_writer_free(w);
    size_t n;
    unsigned char *before = read_bytes(path, &n);
    cr_assert_eq(chmod(dir, 0555), 0);
    char err[512];
    w = mc_st_writer_new();
    mc_st_add(w, "v", MC_ST_F32, 0, NULL, &v2);
    int rc = mc_st_write(w, path, err, sizeof err);
    mc_st_writer_free(w);
    chmod(dir, 0755);
    cr_assert_eq(rc, -1);
    check_message(err, path);
    cr_assert_not_null(strstr(err, "Permission denied"), "%s", err);
    cr_assert(same_file(path, before, n));
    cr_assert_eq(count_entries(dir), 1);
    free(before);
    remove_dir(dir);
    free(path);
}

/* A checkpoint of generation g: a 1 MB tensor of g, a scalar g, and g in
 * the metadata, so any mix of two generations is detected. */
enum { BIG = 256 * 1024 };

static int write_generation(const char *path, int64_t g, float *big)
{
    char meta[32], err[512];
    for (int i = 0; i < BIG; i++)
        big[i] = (float)g;
    snprintf(meta, sizeof meta, "%lld", (long long)g);
    mc_st_writer *w = mc_st_writer_new();
    mc_st_add_metadata(w, "generation", meta);
    mc_st_add(w, "step", MC_ST_I64, 0, NULL, &g);
    mc_st_add(w, "big", MC_ST_F32, 2, (const int64_t[2]){256, 1024}, big);
    int rc = mc_st_write(w, path, err, sizeof err);
    mc_st_writer_free(w);
    return rc;
}

static int64_t check_generation(const char *path)
{
    mc_st_file *f = open_ok(path);
    const char *meta = mc_st_metadata(f, "generation");
    const mc_st_tensor *step = mc_st_find(f, "step"), *big = mc_st_find(f, "big");
    cr_assert(meta && step && big, "a tensor is missing");
    int64_t g = *(const int64_t *)step->data;
    cr_assert_eq(strtoll(meta, NULL, 10), g);
    cr_assert_eq(big->nbytes, BIG * sizeof(float));
    const float *x = big->data;
    for (int i = 0; i < BIG; i++)
        cr_assert_eq(x[i], (float)g, "element %d of generation %lld is %g", i, (long long)g, (double)x[i]);
    mc_st_close(f);
    return g;
}

/* After a kill: the target plus at most the killed writer's own temporary
 * (`<path>.tmp.<pid>`), which is removed as a cleaner would. Returns 1 if
 * there was one. */
static int clean_after_kill(const char *dir, pid_t pid)
{
    char tmp_name[64];
    int found = 0;
    snprintf(tmp_name, sizeof tmp_name, "ckpt.safetensors.tmp.%ld", (long)pid);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "ckpt.safetensors") == 0)
            continue;
        cr_assert_str_eq(e->d_name, tmp_name, "stray file %s", e->d_name);
        char *p = join(dir, e->d_name);
        cr_assert_eq(unlink(p), 0);
        free(p);
        found = 1;
    }
    closedir(d);
    return found;
}

/* A child rewrites the checkpoint with ever newer generations, telling the
 * parent (one byte down a pipe) after each complete write. The parent waits
 * for 0, 1 or 2 complete writes, then kills the child at a random moment
 * within about two more writes: kills land before the first write ends,
 * mid-write and between writes. */
Test(atomic, sigkill_never_loses_the_checkpoint, .timeout = 120)
{
    char *dir = make_dir(), *path = join(dir, "ckpt.safetensors");
    float *big = malloc(BIG * sizeof(float));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(write_generation(path, 0, big), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long write_ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    /* Two writes' time, within [10 ms, 800 ms] (nanosleep takes under 1 s). */
    unsigned long window = write_ns < 5000000L     ? 10000000UL
                           : write_ns > 400000000L ? 800000000UL
                                                   : 2UL * (unsigned long)write_ns;
    unsigned long rng = 12345u;
    int temporaries = 0, newer = 0;
    int64_t last = 0;
    for (int round = 0; round < 45; round++) {
        int done[2];
        cr_assert_eq(pipe(done), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(done[0]);
            for (int64_t g = 1000 * (round + 1);; g++)
                if (write_generation(path, g, big) != 0 || write(done[1], "w", 1) != 1)
                    _exit(1);
        }
        close(done[1]);
        int complete = round % 3;
        for (int i = 0; i < complete; i++) {
            char c;
            cr_assert_eq(read(done[0], &c, 1), 1, "the writer failed");
        }
        rng = rng * 6364136223846793005UL + 1442695040888963407UL;
        struct timespec pause = {0, (long)((rng >> 33) % window)};
        nanosleep(&pause, NULL);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        close(done[0]);
        cr_assert(WIFSIGNALED(status), "the writer stopped by itself (status %d)", status);
        int64_t g = check_generation(path);
        cr_assert(g == last || g >= 1000 * (round + 1), "generation %lld after %lld", (long long)g,
                  (long long)last);
        if (complete > 0)
            cr_assert(g >= 1000 * (round + 1) + complete - 1, "a completed write was lost: generation %lld",
                      (long long)g);
        newer += g != last;
        last = g;
        temporaries += clean_after_kill(dir, pid);
    }
    cr_log_info("45 kills (a write takes %.1f ms): %d left a temporary, %d saw a newer generation",
                write_ns / 1e6, temporaries, newer);
    cr_assert_eq(count_entries(dir), 1);
    free(big);
    remove_dir(dir);
    free(path);
}

/* ---- memory bombs: headers whose tree would dwarf their text ---------------------------- */

static int open_in_child(void *path, char *msg, size_t len)
{
    mc_st_file *f = mc_st_open(path, msg, len);
    mc_st_close(f);
    return f != NULL;
}

/* A header of `count` copies of `unit` between prefix and suffix, opened in
 * a child: it must be refused with want, in under limit_kb of memory (the
 * header's text alone is most of it). */
static void expect_bomb_refused(const char *prefix, const char *unit, size_t count, const char *suffix,
                                const char *want, long limit_kb)
{
    char *dir = make_dir(), *path = join(dir, "bomb.safetensors");
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix), hlen = pl + ul * count + sl, n;
    char *h = malloc(hlen);
    memcpy(h, prefix, pl);
    for (size_t i = 0; i < count; i++)
        memcpy(h + pl + i * ul, unit, ul);
    memcpy(h + pl + ul * count, suffix, sl);
    unsigned char *buf = make_file(h, hlen, NULL, 0, &n);
    free(h);
    write_bytes(path, buf, n);
    free(buf); /* before the fork: the child's peak is the reader's alone */
    char msg[512];
    int status = -1;
    long kb = peak_run(open_in_child, path, msg, sizeof msg, &status);
    cr_log_info("%zu-byte header: %ld kB peak: %s", hlen, kb, msg);
    cr_assert(kb > 0 && status == 0, "the child failed (status %d): %s", status, msg);
    check_message(msg, path);
    cr_assert_not_null(strstr(msg, want), "message '%s' lacks '%s'", msg, want);
    cr_assert(kb < limit_kb, "%ld kB peak to refuse a %zu-byte header, expected under %ld", kb, hlen, limit_kb);
    remove_dir(dir);
    free(path);
}

/* One shape of 1 million [0] arrays (4 MB): refused at its 9th element
 * (it took 1.5 GB for 20 MB before the parser knew the schema). */
Test(bombs, long_shape)
{
    expect_bomb_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[", "[0],", 1000000, "[0]],\"data_offsets\":[0,0]}}",
                        "an array of more than 8 elements", 40 * 1024);
}

/* 16 MB of tiny tensors: refused at the value limit, the tree bounded. */
Test(bombs, many_tensors)
{
    expect_bomb_refused("{", "\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},", 300000,
                        "\"u\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", "more than 131072 JSON values",
                        64 * 1024);
}
