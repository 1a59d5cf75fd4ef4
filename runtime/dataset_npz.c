/* Downsampled ImageNet 32x32, npz release: train_data_batch_1..10.npz and
 * val_data.npz, each a zip (numpy.savez / savez_compressed) holding
 * data.npy (uint8, (N, 3072): R, G, B planes of 32x32, i.e. CHW already)
 * and labels.npy (integers 1..1000), and maybe mean.npy, which we ignore.
 *
 * The training set is ~3.7 GiB of pixels, so nothing is inflated twice or
 * held compressed in memory: a first pass reads only each file's zip
 * directory and .npy headers (which also catches a bad tenth file before
 * nine good ones are read), the second inflates straight into the dataset.
 * The zip is read through its central directory, not by walking local
 * headers: numpy writes zip64 local headers whose sizes are placeholders. */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "dataset_internal.h"

#define IN32_PIXELS 3072
#define IN32_TRAIN_FILES 10
#define ZIP_EOCD_LEN 22
#define ZIP_EOCD64_LOCATOR_LEN 20
#define ZIP_EOCD64_LEN 56
#define ZIP_CDH_LEN 46
#define ZIP_LFH_LEN 30
#define ZIP_MAX_COMMENT 65535
#define ZIP_MAX_CD (16u << 20)  /* an npz directory has a handful of entries */
#define NPY_MAX_HEADER 65536    /* numpy itself refuses more than 10000 */
#define NPY_MAX_DIMS 8
#define STREAM_CHUNK 65536

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ---- zip directory ----------------------------------------------------------------------- */

typedef struct zip_member {
    int found;
    int method; /* 0 stored, 8 deflated */
    uint32_t crc;
    uint64_t csize, usize, local_off, data_off;
} zip_member;

typedef struct npz_file {
    char path[MC_DS_PATH_MAX];
    FILE *f;
    uint64_t size;
    zip_member data, labels;
    uint64_t data_hdr, labels_hdr; /* bytes of .npy header before the array */
    int label_size, label_signed;
    uint64_t n;
} npz_file;

static int read_at(npz_file *z, uint64_t off, void *buf, size_t len, char *err, size_t errlen)
{
    if (off > z->size || len > z->size - off)
        return mc_ds_fail(err, errlen, "%s: truncated zip (needs bytes %llu..%llu of %llu)", z->path,
                          (unsigned long long)off, (unsigned long long)(off + len), (unsigned long long)z->size);
    if (fseeko(z->f, (off_t)off, SEEK_SET) != 0)
        return mc_ds_fail(err, errlen, "%s: seek failed: %s", z->path, strerror(errno));
    return mc_ds_read_exact(z->f, buf, len, z->path, err, errlen);
}

typedef struct zip_dir {
    uint64_t entries, cd_size, cd_off;
} zip_dir;

/* The end-of-central-directory record: the last "PK\5\6" whose comment
 * fits in the file. Returns its offset in tail, or -1. */
static long find_eocd(const uint8_t *tail, size_t len)
{
    for (size_t i = len - ZIP_EOCD_LEN + 1; i-- > 0;) {
        if (le32(tail + i) != 0x06054b50u)
            continue;
        if (i + ZIP_EOCD_LEN + le16(tail + i + 20) <= len)
            return (long)i;
    }
    return -1;
}

/* Zip64: the 32-bit fields are saturated and the real values sit in a
 * record that a locator just before the EOCD points to. */
static int read_zip64_dir(npz_file *z, uint64_t eocd_off, zip_dir *d, char *err, size_t errlen)
{
    uint8_t loc[ZIP_EOCD64_LOCATOR_LEN], rec[ZIP_EOCD64_LEN];
    if (eocd_off < ZIP_EOCD64_LOCATOR_LEN ||
        read_at(z, eocd_off - ZIP_EOCD64_LOCATOR_LEN, loc, sizeof loc, err, errlen) != 0 ||
        le32(loc) != 0x07064b50u)
        return mc_ds_fail(err, errlen, "%s: zip64 archive without its zip64 end-of-directory locator", z->path);
    if (read_at(z, le64(loc + 8), rec, sizeof rec, err, errlen) != 0 || le32(rec) != 0x06064b50u)
        return mc_ds_fail(err, errlen, "%s: bad zip64 end-of-directory record", z->path);
    if (le32(rec + 16) != 0 || le32(rec + 20) != 0)
        return mc_ds_fail(err, errlen, "%s: multi-disk zip archives are not supported", z->path);
    d->entries = le64(rec + 32);
    d->cd_size = le64(rec + 40);
    d->cd_off = le64(rec + 48);
    return 0;
}

static int read_zip_dir(npz_file *z, zip_dir *d, char *err, size_t errlen)
{
    if (z->size < ZIP_EOCD_LEN)
        return mc_ds_fail(err, errlen, "%s: not a zip file (%llu bytes, too short)", z->path,
                          (unsigned long long)z->size);
    size_t tail_len = z->size < ZIP_EOCD_LEN + ZIP_MAX_COMMENT ? (size_t)z->size : ZIP_EOCD_LEN + ZIP_MAX_COMMENT;
    uint64_t tail_off = z->size - tail_len;
    uint8_t *tail = malloc(tail_len);
    if (!tail)
        return mc_ds_fail(err, errlen, "%s: out of memory", z->path);
    int rc = read_at(z, tail_off, tail, tail_len, err, errlen);
    long at = rc == 0 ? find_eocd(tail, tail_len) : -1;
    if (rc == 0 && at < 0)
        rc = mc_ds_fail(err, errlen, "%s: not a zip file (no end-of-central-directory record)", z->path);
    if (rc == 0) {
        const uint8_t *e = tail + at;
        d->entries = le16(e + 10);
        d->cd_size = le32(e + 12);
        d->cd_off = le32(e + 16);
        if ((le16(e + 4) != 0 && le16(e + 4) != 0xffff) || (le16(e + 6) != 0 && le16(e + 6) != 0xffff))
            rc = mc_ds_fail(err, errlen, "%s: multi-disk zip archives are not supported", z->path);
        else if (d->entries == 0xffff || d->cd_size == 0xffffffffu || d->cd_off == 0xffffffffu)
            rc = read_zip64_dir(z, tail_off + (uint64_t)at, d, err, errlen);
    }
    free(tail);
    if (rc == 0 && (d->cd_off > z->size || d->cd_size > z->size - d->cd_off))
        rc = mc_ds_fail(err, errlen, "%s: zip central directory (%llu bytes at %llu) lies outside the file", z->path,
                        (unsigned long long)d->cd_size, (unsigned long long)d->cd_off);
    if (rc == 0 && d->cd_size > ZIP_MAX_CD)
        rc = mc_ds_fail(err, errlen, "%s: zip central directory of %llu bytes is implausibly large", z->path,
                        (unsigned long long)d->cd_size);
    return rc;
}

/* Zip64 extended information: only the saturated fields are present, in
 * this order. */
static int apply_zip64_extra(const uint8_t *x, size_t xlen, zip_member *m, int need_usize, int need_csize,
                             int need_off)
{
    while (xlen >= 4) {
        uint16_t id = le16(x), sz = le16(x + 2);
        if (sz > xlen - 4)
            return -1;
        if (id == 0x0001) {
            size_t pos = 4, end = 4 + (size_t)sz;
            if (need_usize) {
                if (pos + 8 > end)
                    return -1;
                m->usize = le64(x + pos);
                pos += 8;
            }
            if (need_csize) {
                if (pos + 8 > end)
                    return -1;
                m->csize = le64(x + pos);
                pos += 8;
            }
            if (need_off) {
                if (pos + 8 > end)
                    return -1;
                m->local_off = le64(x + pos);
            }
            return 0;
        }
        x += 4 + (size_t)sz;
        xlen -= 4 + (size_t)sz;
    }
    return need_usize || need_csize || need_off ? -1 : 0;
}

static int name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* One central directory entry at cd[*pos]; records it when it is one of
 * ours, and advances *pos. */
static int parse_cd_entry(npz_file *z, const uint8_t *cd, size_t cd_len, size_t *pos, char *err, size_t errlen)
{
    size_t p = *pos;
    if (cd_len - p < ZIP_CDH_LEN || le32(cd + p) != 0x02014b50u)
        return mc_ds_fail(err, errlen, "%s: corrupt zip central directory (bad entry at byte %zu)", z->path, p);
    const uint8_t *h = cd + p;
    size_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
    if (cd_len - p - ZIP_CDH_LEN < nlen + xlen + clen)
        return mc_ds_fail(err, errlen, "%s: corrupt zip central directory (entry at byte %zu overruns it)", z->path,
                          p);
    const uint8_t *name = h + ZIP_CDH_LEN;
    *pos = p + ZIP_CDH_LEN + nlen + xlen + clen;
    zip_member *m = name_is(name, nlen, "data.npy") ? &z->data : name_is(name, nlen, "labels.npy") ? &z->labels : NULL;
    if (!m)
        return 0;
    const char *mname = m == &z->data ? "data.npy" : "labels.npy";
    if (m->found)
        return mc_ds_fail(err, errlen, "%s: the archive holds %s twice", z->path, mname);
    m->found = 1;
    if (le16(h + 8) & 1)
        return mc_ds_fail(err, errlen, "%s: %s is encrypted", z->path, mname);
    m->method = le16(h + 10);
    if (m->method != 0 && m->method != 8)
        return mc_ds_fail(err, errlen, "%s: %s uses zip compression method %d (only stored and deflated are supported)",
                          z->path, mname, m->method);
    m->crc = le32(h + 16);
    m->csize = le32(h + 20);
    m->usize = le32(h + 24);
    m->local_off = le32(h + 42);
    if (apply_zip64_extra(name + nlen, xlen, m, m->usize == 0xffffffffu, m->csize == 0xffffffffu,
                          m->local_off == 0xffffffffu) != 0)
        return mc_ds_fail(err, errlen, "%s: %s has a bad zip64 extra field", z->path, mname);
    return 0;
}

/* Where the member's bytes start: past its local header, whose name and
 * extra lengths may differ from the central directory's. */
static int locate_member(npz_file *z, zip_member *m, const char *mname, uint64_t cd_off, char *err, size_t errlen)
{
    uint8_t h[ZIP_LFH_LEN];
    if (read_at(z, m->local_off, h, sizeof h, err, errlen) != 0 || le32(h) != 0x04034b50u)
        return mc_ds_fail(err, errlen, "%s: %s: bad zip local header at byte %llu", z->path, mname,
                          (unsigned long long)m->local_off);
    m->data_off = m->local_off + ZIP_LFH_LEN + le16(h + 26) + le16(h + 28);
    if (m->data_off > cd_off || m->csize > cd_off - m->data_off)
        return mc_ds_fail(err, errlen, "%s: %s: %llu compressed bytes at %llu run past the member area (truncated?)",
                          z->path, mname, (unsigned long long)m->csize, (unsigned long long)m->data_off);
    if (m->method == 0 && m->csize != m->usize)
        return mc_ds_fail(err, errlen, "%s: %s is stored but its sizes differ (%llu vs %llu)", z->path, mname,
                          (unsigned long long)m->csize, (unsigned long long)m->usize);
    /* The dataset is allocated from the .npy shape, which must match usize:
     * a usize no deflate stream of csize bytes can reach is refused here,
     * before a small file makes the reader allocate gigabytes. */
    if (m->usize / MC_DS_DEFLATE_MAX_RATIO > m->csize)
        return mc_ds_fail(err, errlen, "%s: %s claims %llu bytes inflated from %llu, more than deflate can produce",
                          z->path, mname, (unsigned long long)m->usize, (unsigned long long)m->csize);
    return 0;
}

static int read_members(npz_file *z, char *err, size_t errlen)
{
    zip_dir d = {0, 0, 0};
    if (read_zip_dir(z, &d, err, errlen) != 0)
        return -1;
    uint8_t *cd = malloc(d.cd_size ? (size_t)d.cd_size : 1);
    if (!cd)
        return mc_ds_fail(err, errlen, "%s: out of memory", z->path);
    int rc = read_at(z, d.cd_off, cd, (size_t)d.cd_size, err, errlen);
    size_t pos = 0;
    for (uint64_t i = 0; rc == 0 && i < d.entries; i++)
        rc = parse_cd_entry(z, cd, (size_t)d.cd_size, &pos, err, errlen);
    free(cd);
    if (rc != 0)
        return -1;
    if (!z->data.found || !z->labels.found)
        return mc_ds_fail(err, errlen, "%s: no %s in the archive (expected data.npy and labels.npy)", z->path,
                          z->data.found ? "labels.npy" : "data.npy");
    if (locate_member(z, &z->data, "data.npy", d.cd_off, err, errlen) != 0 ||
        locate_member(z, &z->labels, "labels.npy", d.cd_off, err, errlen) != 0)
        return -1;
    return 0;
}

/* ---- one member as a byte stream --------------------------------------------------------- */

typedef struct member_reader {
    npz_file *z;
    const zip_member *m;
    const char *name;
    uint64_t in_left, out_done;
    uint32_t crc;
    int inflating, ended;
    z_stream zs;
    uint8_t *inbuf;
} member_reader;

static int member_open(member_reader *r, npz_file *z, const zip_member *m, const char *name, char *err,
                       size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->z = z;
    r->m = m;
    r->name = name;
    r->in_left = m->csize;
    r->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (fseeko(z->f, (off_t)m->data_off, SEEK_SET) != 0)
        return mc_ds_fail(err, errlen, "%s: seek failed: %s", z->path, strerror(errno));
    if (m->method == 0)
        return 0;
    r->inbuf = malloc(STREAM_CHUNK);
    if (!r->inbuf)
        return mc_ds_fail(err, errlen, "%s: out of memory", z->path);
    /* Raw deflate: zip members have no zlib header. */
    if (inflateInit2(&r->zs, -MAX_WBITS) != Z_OK) {
        free(r->inbuf);
        r->inbuf = NULL;
        return mc_ds_fail(err, errlen, "%s: cannot start zlib", z->path);
    }
    r->inflating = 1;
    return 0;
}

static void member_close(member_reader *r)
{
    if (r->inflating)
        inflateEnd(&r->zs);
    free(r->inbuf);
    r->inflating = 0;
    r->inbuf = NULL;
}

static void member_crc(member_reader *r, const uint8_t *p, size_t len)
{
    while (len > 0) {
        uInt k = len > (1u << 30) ? (1u << 30) : (uInt)len;
        r->crc = (uint32_t)crc32(r->crc, p, k);
        p += k;
        len -= k;
    }
}

/* Runs inflate once into out[0..*len); *len becomes what it produced. */
static int inflate_step(member_reader *r, uint8_t *out, size_t *len, char *err, size_t errlen)
{
    const char *path = r->z->path;
    if (r->zs.avail_in == 0 && r->in_left > 0) {
        size_t k = r->in_left < STREAM_CHUNK ? (size_t)r->in_left : STREAM_CHUNK;
        if (mc_ds_read_exact(r->z->f, r->inbuf, k, path, err, errlen) != 0)
            return -1;
        r->zs.next_in = r->inbuf;
        r->zs.avail_in = (uInt)k;
        r->in_left -= k;
    }
    uInt want = *len > UINT_MAX ? UINT_MAX : (uInt)*len;
    r->zs.next_out = out;
    r->zs.avail_out = want;
    int ret = inflate(&r->zs, Z_NO_FLUSH);
    *len = want - r->zs.avail_out;
    if (ret == Z_STREAM_END) {
        r->ended = 1;
        return 0;
    }
    if (ret == Z_OK)
        return 0;
    /* No progress possible with room to write and input refilled above:
     * the member's compressed bytes ran out before the stream's end. */
    if (ret == Z_BUF_ERROR)
        return mc_ds_fail(err, errlen, "%s: %s: compressed data ends early (truncated deflate stream)", path,
                          r->name);
    if (ret == Z_MEM_ERROR)
        return mc_ds_fail(err, errlen, "%s: %s: out of memory in zlib", path, r->name);
    return mc_ds_fail(err, errlen, "%s: %s: corrupt deflate data (%s)", path, r->name,
                      r->zs.msg ? r->zs.msg : "no detail");
}

/* Exactly len more bytes of the member; asking past its size is an error. */
static int member_read(member_reader *r, uint8_t *dst, size_t len, char *err, size_t errlen)
{
    const char *path = r->z->path;
    if (len > r->m->usize - r->out_done)
        return mc_ds_fail(err, errlen, "%s: %s: member ends after %llu bytes, needs %llu", path, r->name,
                          (unsigned long long)r->m->usize, (unsigned long long)(r->out_done + len));
    if (!r->inflating) {
        if (mc_ds_read_exact(r->z->f, dst, len, path, err, errlen) != 0)
            return -1;
        r->in_left -= len;
    } else {
        size_t done = 0;
        while (done < len) {
            if (r->ended)
                return mc_ds_fail(err, errlen, "%s: %s: deflate stream ends after %llu bytes, expected %llu", path,
                                  r->name, (unsigned long long)(r->out_done + done),
                                  (unsigned long long)r->m->usize);
            size_t k = len - done;
            if (inflate_step(r, dst + done, &k, err, errlen) != 0)
                return -1;
            done += k;
        }
    }
    member_crc(r, dst, len);
    r->out_done += len;
    return 0;
}

/* After the whole member was read: the stream must end here and the CRC
 * must match, or the archive is corrupt. */
static int member_finish(member_reader *r, char *err, size_t errlen)
{
    const char *path = r->z->path;
    while (r->inflating && !r->ended) {
        uint8_t extra;
        size_t k = 1;
        if (inflate_step(r, &extra, &k, err, errlen) != 0)
            return -1;
        if (k > 0)
            return mc_ds_fail(err, errlen, "%s: %s: more data than the %llu bytes the zip directory says", path,
                              r->name, (unsigned long long)r->m->usize);
    }
    if (r->crc != r->m->crc)
        return mc_ds_fail(err, errlen, "%s: %s: CRC mismatch (0x%08x, directory says 0x%08x): corrupt archive", path,
                          r->name, (unsigned)r->crc, (unsigned)r->m->crc);
    return 0;
}

/* ---- .npy headers ------------------------------------------------------------------------ */

typedef struct npy_header {
    char kind; /* 'u', 'i', 'f', ... */
    int size;  /* bytes per item */
    char order; /* '<', '>', '|' or '=' */
    int fortran;
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t header_len; /* magic, version, length and dict */
} npy_header;

typedef struct dict_parser {
    const char *p, *end;
    const char *why; /* set on the first error */
} dict_parser;

static void skip_ws(dict_parser *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static int expect(dict_parser *d, char c, const char *why)
{
    skip_ws(d);
    if (d->p < d->end && *d->p == c) {
        d->p++;
        return 0;
    }
    d->why = why;
    return -1;
}

/* A quoted literal without escapes, copied into out. */
static int parse_str(dict_parser *d, char *out, size_t outlen)
{
    skip_ws(d);
    if (d->p >= d->end || (*d->p != '\'' && *d->p != '"')) {
        d->why = "expected a quoted string";
        return -1;
    }
    char q = *d->p++;
    size_t n = 0;
    while (d->p < d->end && *d->p != q) {
        if (*d->p == '\\' || n + 1 >= outlen) {
            d->why = "unexpected string";
            return -1;
        }
        out[n++] = *d->p++;
    }
    if (d->p >= d->end) {
        d->why = "unterminated string";
        return -1;
    }
    d->p++;
    out[n] = 0;
    return 0;
}

static int parse_bool(dict_parser *d, int *v)
{
    skip_ws(d);
    size_t left = (size_t)(d->end - d->p);
    if (left >= 4 && memcmp(d->p, "True", 4) == 0) {
        d->p += 4;
        *v = 1;
        return 0;
    }
    if (left >= 5 && memcmp(d->p, "False", 5) == 0) {
        d->p += 5;
        *v = 0;
        return 0;
    }
    d->why = "fortran_order is not True or False";
    return -1;
}

/* A dimension; Python 2 wrote longs with an L suffix. */
static int parse_dim(dict_parser *d, uint64_t *v)
{
    skip_ws(d);
    if (d->p >= d->end || *d->p < '0' || *d->p > '9') {
        d->why = "shape holds something other than a non-negative integer";
        return -1;
    }
    uint64_t x = 0;
    while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
        if (x > (UINT64_MAX / 4 - 9) / 10) {
            d->why = "a dimension is too large";
            return -1;
        }
        x = x * 10 + (uint64_t)(*d->p++ - '0');
    }
    if (d->p < d->end && (*d->p == 'L' || *d->p == 'l'))
        d->p++;
    *v = x;
    return 0;
}

static int parse_shape(dict_parser *d, npy_header *h)
{
    if (expect(d, '(', "shape is not a tuple") != 0)
        return -1;
    h->ndim = 0;
    for (;;) {
        skip_ws(d);
        if (d->p < d->end && *d->p == ')') {
            d->p++;
            return 0;
        }
        if (h->ndim == NPY_MAX_DIMS) {
            d->why = "too many dimensions";
            return -1;
        }
        if (parse_dim(d, &h->shape[h->ndim++]) != 0)
            return -1;
        skip_ws(d);
        if (d->p < d->end && *d->p == ',')
            d->p++;
        else if (d->p >= d->end || *d->p != ')') {
            d->why = "shape is not a tuple of integers";
            return -1;
        }
    }
}

/* '<u1', '|i8', ...: byte order, kind, item size. */
static int parse_descr(dict_parser *d, npy_header *h)
{
    char s[32];
    if (parse_str(d, s, sizeof s) != 0) {
        d->why = "descr is not a simple dtype string";
        return -1;
    }
    const char *p = s;
    h->order = '|';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=')
        h->order = *p++;
    h->kind = *p ? *p++ : 0;
    h->size = 0;
    while (*p >= '0' && *p <= '9' && h->size < 1000)
        h->size = h->size * 10 + (*p++ - '0');
    if (!h->kind || h->size == 0 || *p) {
        d->why = "descr is not a simple dtype string";
        return -1;
    }
    return 0;
}

/* numpy's header: a Python dict literal with exactly these three keys. */
static int parse_dict(dict_parser *d, npy_header *h)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (expect(d, '{', "not a dict") != 0)
        return -1;
    for (;;) {
        skip_ws(d);
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        char key[32];
        if (parse_str(d, key, sizeof key) != 0 || expect(d, ':', "expected ':' after a key") != 0)
            return -1;
        int rc;
        if (strcmp(key, "descr") == 0) {
            rc = parse_descr(d, h);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            rc = parse_bool(d, &h->fortran);
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            rc = parse_shape(d, h);
            have_shape = 1;
        } else {
            d->why = "unexpected key";
            return -1;
        }
        if (rc != 0)
            return -1;
        skip_ws(d);
        if (d->p < d->end && *d->p == ',')
            d->p++;
        else if (d->p >= d->end || *d->p != '}') {
            d->why = "expected ',' or '}'";
            return -1;
        }
    }
    skip_ws(d);
    if (d->p != d->end)
        d->why = "text after the dict";
    else if (!have_descr || !have_fortran || !have_shape)
        d->why = "missing one of 'descr', 'fortran_order', 'shape'";
    return d->why ? -1 : 0;
}

static int npy_header_read(member_reader *r, npy_header *h, char *err, size_t errlen)
{
    const char *path = r->z->path;
    uint8_t pre[12];
    memset(h, 0, sizeof *h);
    if (r->m->usize < 10)
        return mc_ds_fail(err, errlen, "%s: %s: %llu bytes, too short for a .npy file", path, r->name,
                          (unsigned long long)r->m->usize);
    if (member_read(r, pre, 8, err, errlen) != 0)
        return -1;
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return mc_ds_fail(err, errlen, "%s: %s: not a .npy file (bad magic)", path, r->name);
    int major = pre[6];
    if (major < 1 || major > 3)
        return mc_ds_fail(err, errlen, "%s: %s: unsupported .npy version %d.%d", path, r->name, major, pre[7]);
    size_t lenlen = major == 1 ? 2 : 4;
    if (member_read(r, pre + 8, lenlen, err, errlen) != 0)
        return -1;
    uint64_t hlen = major == 1 ? le16(pre + 8) : le32(pre + 8);
    if (hlen > NPY_MAX_HEADER)
        return mc_ds_fail(err, errlen, "%s: %s: .npy header of %llu bytes is implausibly long", path, r->name,
                          (unsigned long long)hlen);
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return mc_ds_fail(err, errlen, "%s: out of memory", path);
    int rc = member_read(r, (uint8_t *)text, (size_t)hlen, err, errlen);
    if (rc == 0) {
        dict_parser d = {text, text + hlen, NULL};
        if (memchr(text, 0, (size_t)hlen) != NULL)
            d.why = "NUL byte in the header";
        if (d.why || parse_dict(&d, h) != 0)
            rc = mc_ds_fail(err, errlen, "%s: %s: bad .npy header (%s)", path, r->name, d.why);
    }
    free(text);
    if (rc == 0 && h->fortran)
        rc = mc_ds_fail(err, errlen, "%s: %s: fortran_order is True, expected False (C order)", path, r->name);
    h->header_len = 8 + lenlen + hlen;
    return rc;
}

/* "(a, b, c)" for messages. */
static void shape_str(const npy_header *h, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "(");
    for (int i = 0; i < h->ndim && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%llu", i ? ", " : "", (unsigned long long)h->shape[i]);
    if (n < len)
        snprintf(out + n, len - n, "%s)", h->ndim == 1 ? "," : "");
}

/* The rest of the member must be exactly the array the header describes. */
static int check_payload(const member_reader *r, const npy_header *h, uint64_t items, char *err, size_t errlen)
{
    uint64_t want = (uint64_t)h->size * items; /* items <= 2^62 / size by the shape checks */
    if (r->m->usize - h->header_len != want)
        return mc_ds_fail(err, errlen, "%s: %s: %llu bytes of array data, expected %llu for its shape", r->z->path,
                          r->name, (unsigned long long)(r->m->usize - h->header_len), (unsigned long long)want);
    return 0;
}

static int check_data_header(member_reader *r, npy_header *h, uint64_t *n, char *err, size_t errlen)
{
    const char *path = r->z->path;
    char shape[160];
    shape_str(h, shape, sizeof shape);
    if (h->kind != 'u' || h->size != 1)
        return mc_ds_fail(err, errlen, "%s: data.npy: dtype is not uint8", path);
    int flat = h->ndim == 2 && h->shape[1] == IN32_PIXELS;
    int chw = h->ndim == 4 && h->shape[1] == 3 && h->shape[2] == 32 && h->shape[3] == 32;
    if (!flat && !chw)
        return mc_ds_fail(err, errlen, "%s: data.npy: shape %s, expected (N, 3072)", path, shape);
    if (h->shape[0] > UINT64_MAX / 4 / IN32_PIXELS)
        return mc_ds_fail(err, errlen, "%s: data.npy: shape %s is too large", path, shape);
    *n = h->shape[0];
    return check_payload(r, h, *n * IN32_PIXELS, err, errlen);
}

static int check_labels_header(member_reader *r, npy_header *h, uint64_t n, char *err, size_t errlen)
{
    const char *path = r->z->path;
    char shape[160];
    shape_str(h, shape, sizeof shape);
    int sized = h->size == 1 || h->size == 2 || h->size == 4 || h->size == 8;
    if ((h->kind != 'i' && h->kind != 'u') || !sized)
        return mc_ds_fail(err, errlen, "%s: labels.npy: dtype is not an integer of 1, 2, 4 or 8 bytes", path);
    if (h->order == '>' || (h->order == '=' && h->size > 1))
        return mc_ds_fail(err, errlen, "%s: labels.npy: big-endian or native-order labels are not supported", path);
    if (h->ndim != 1)
        return mc_ds_fail(err, errlen, "%s: labels.npy: shape %s, expected (N,)", path, shape);
    if (h->shape[0] != n)
        return mc_ds_fail(err, errlen, "%s: labels.npy: %llu labels but data.npy has %llu images", path,
                          (unsigned long long)h->shape[0], (unsigned long long)n);
    return check_payload(r, h, n, err, errlen);
}

/* ---- the files --------------------------------------------------------------------------- */

/* First pass over one file: its members and their headers. */
static int npz_scan(npz_file *z, char *err, size_t errlen)
{
    z->f = fopen(z->path, "rb");
    if (!z->f)
        return mc_ds_fail(err, errlen, "%s: %s", z->path, strerror(errno));
    if (mc_ds_file_size(z->path, &z->size, err, errlen) != 0 || read_members(z, err, errlen) != 0)
        return -1;
    member_reader r;
    npy_header h = {0};
    int rc = member_open(&r, z, &z->data, "data.npy", err, errlen);
    if (rc == 0)
        rc = npy_header_read(&r, &h, err, errlen);
    if (rc == 0)
        rc = check_data_header(&r, &h, &z->n, err, errlen);
    z->data_hdr = h.header_len;
    member_close(&r);
    if (rc != 0)
        return -1;
    memset(&h, 0, sizeof h);
    rc = member_open(&r, z, &z->labels, "labels.npy", err, errlen);
    if (rc == 0)
        rc = npy_header_read(&r, &h, err, errlen);
    if (rc == 0)
        rc = check_labels_header(&r, &h, z->n, err, errlen);
    z->labels_hdr = h.header_len;
    z->label_size = h.size;
    z->label_signed = h.kind == 'i';
    member_close(&r);
    return rc;
}

/* Reopens a member past its .npy header (already checked by npz_scan). */
static int member_open_array(member_reader *r, npz_file *z, const zip_member *m, const char *name,
                             uint64_t hdr_len, char *err, size_t errlen)
{
    uint8_t skip[256];
    if (member_open(r, z, m, name, err, errlen) != 0)
        return -1;
    while (hdr_len > 0) {
        size_t k = hdr_len < sizeof skip ? (size_t)hdr_len : sizeof skip;
        if (member_read(r, skip, k, err, errlen) != 0)
            return -1;
        hdr_len -= k;
    }
    return 0;
}

static int64_t label_value(const uint8_t *p, int size, int is_signed)
{
    uint64_t u = 0;
    for (int b = size - 1; b >= 0; b--)
        u = u << 8 | p[b];
    if (is_signed && size < 8 && (u >> (size * 8 - 1)) & 1)
        u |= ~(uint64_t)0 << (size * 8);
    return (int64_t)u;
}

/* Every label is checked (they are few); the first `take` are kept. */
static int npz_read_labels(npz_file *z, uint64_t take, int classes, int32_t *labels, char *err, size_t errlen)
{
    member_reader r;
    uint8_t buf[4096];
    int rc = member_open_array(&r, z, &z->labels, "labels.npy", z->labels_hdr, err, errlen);
    size_t per = sizeof buf / (size_t)z->label_size;
    for (uint64_t i = 0; rc == 0 && i < z->n;) {
        size_t k = z->n - i < per ? (size_t)(z->n - i) : per;
        rc = member_read(&r, buf, k * (size_t)z->label_size, err, errlen);
        for (size_t j = 0; rc == 0 && j < k; j++, i++) {
            int64_t v = label_value(buf + j * (size_t)z->label_size, z->label_size, z->label_signed);
            if (v < 1 || v > classes)
                rc = mc_ds_fail(err, errlen, "%s: labels.npy: record %llu has label %lld, expected 1..%d", z->path,
                                (unsigned long long)i, (long long)v, classes);
            else if (i < take)
                labels[i] = (int32_t)(v - 1);
        }
    }
    if (rc == 0)
        rc = member_finish(&r, err, errlen);
    member_close(&r);
    return rc;
}

/* The first `take` images; the stream's end and CRC are checked only when
 * that is all of them. */
static int npz_read_images(npz_file *z, uint64_t take, uint8_t *images, char *err, size_t errlen)
{
    member_reader r;
    int rc = member_open_array(&r, z, &z->data, "data.npy", z->data_hdr, err, errlen);
    if (rc == 0)
        rc = member_read(&r, images, (size_t)(take * IN32_PIXELS), err, errlen);
    if (rc == 0 && take == z->n)
        rc = member_finish(&r, err, errlen);
    member_close(&r);
    return rc;
}

static int npz_paths(const char *dir, int test, npz_file *files, int *nfiles, char *err, size_t errlen)
{
    if (test) {
        *nfiles = 1;
        if (mc_ds_join(files[0].path, dir, "val_data.npz", err, errlen) != 0)
            return -1;
        if (!mc_ds_is_file(files[0].path))
            return mc_ds_fail(err, errlen, "%s: missing (expected the ImageNet32 validation split)", files[0].path);
        return 0;
    }
    *nfiles = IN32_TRAIN_FILES;
    for (int i = 0; i < IN32_TRAIN_FILES; i++) {
        char name[40];
        snprintf(name, sizeof name, "train_data_batch_%d.npz", i + 1);
        if (mc_ds_join(files[i].path, dir, name, err, errlen) != 0)
            return -1;
    }
    for (int i = 0; i < IN32_TRAIN_FILES; i++)
        if (!mc_ds_is_file(files[i].path))
            return mc_ds_fail(err, errlen,
                              "%s: missing (ImageNet32 training needs train_data_batch_1.npz .. "
                              "train_data_batch_10.npz)",
                              files[i].path);
    return 0;
}

static int npz_load(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                    npz_file *files, char *err, size_t errlen)
{
    int nfiles = 0;
    if (npz_paths(dir, test, files, &nfiles, err, errlen) != 0)
        return -1;
    uint64_t total = 0;
    for (int i = 0; i < nfiles; i++) {
        if (npz_scan(&files[i], err, errlen) != 0)
            return -1;
        total += files[i].n; /* each n <= 2^62 / 3072: no wrap */
    }
    uint64_t n = mc_ds_take(total, limit), done = 0;
    if (mc_ds_alloc(out, info, n, files[0].path, err, errlen) != 0)
        return -1;
    for (int i = 0; i < nfiles && done < n; i++) {
        uint64_t take = files[i].n < n - done ? files[i].n : n - done;
        if (npz_read_labels(&files[i], take, info->classes, out->labels + done, err, errlen) != 0 ||
            npz_read_images(&files[i], take, out->images + done * IN32_PIXELS, err, errlen) != 0)
            return -1;
        done += take;
    }
    return 0;
}

int mc_ds_load_npz(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen)
{
    npz_file *files = calloc(IN32_TRAIN_FILES, sizeof *files);
    if (!files)
        return mc_ds_fail(err, errlen, "%s: out of memory", dir);
    int rc = npz_load(dir, info, test, limit, out, files, err, errlen);
    for (int i = 0; i < IN32_TRAIN_FILES; i++)
        if (files[i].f)
            fclose(files[i].f);
    free(files);
    if (rc != 0)
        mc_dataset_free(out);
    return rc;
}
