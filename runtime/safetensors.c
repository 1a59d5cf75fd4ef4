/* safetensors reading and atomic writing (see mc_safetensors.h).
 *
 * Reading parses the header with a small strict JSON parser (recursive
 * descent, depth-limited) into a tree, checks the tree against the format's
 * schema, then reads the data area into a 64-byte aligned buffer. The file
 * object keeps the tree: tensor names, dtype strings and metadata point
 * into it.
 *
 * Writing builds the header text, writes header and data to a temporary
 * file beside the target, fsyncs it and renames it over the target. */
#define _POSIX_C_SOURCE 200809L

#include "mc_safetensors.h"

#include "mc_durable.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* The reference implementation's limit: a header this big is an attack or
 * garbage, not a checkpoint (ours are a few hundred kB at most). */
#define HEADER_MAX ((uint64_t)100000000)
/* Nesting of a valid header is 3 (object, tensor object, shape array);
 * the limit only keeps hostile input from exhausting the stack. */
enum { JSON_MAX_DEPTH = 32 };
/* The tree costs some 60 to 200 bytes a value, far more than its text: the
 * parser bounds it by what a valid header can hold, not by the header's
 * length. A tensor is at most 14 values (its object, dtype, two arrays and
 * 10 numbers), so 2^17 values hold 9,300 tensors of 8 dimensions, 7 times
 * the zoo's biggest checkpoint with its momentum (1,250 tensors); the tree
 * stays under 20 MB.
 * No array of the format has more than MC_ST_MAX_DIMS elements (shapes;
 * data_offsets has 2, metadata values are strings), so a longer one is
 * refused at its 9th element instead of after it is built. */
enum { JSON_MAX_VALUES = 1 << 17 };
/* Alignment of the data buffer: enough for any element type and for SIMD
 * loads of the start of a tensor. */
enum { DATA_ALIGN = 64 };

/* ------------------------------------------------------------------ */
/* dtypes */

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [MC_ST_F32] = {"F32", 4},  [MC_ST_I64] = {"I64", 8},   [MC_ST_F64] = {"F64", 8},
    [MC_ST_I32] = {"I32", 4},  [MC_ST_U8] = {"U8", 1},     [MC_ST_I8] = {"I8", 1},
    [MC_ST_I16] = {"I16", 2},  [MC_ST_U16] = {"U16", 2},   [MC_ST_U32] = {"U32", 4},
    [MC_ST_U64] = {"U64", 8},  [MC_ST_F16] = {"F16", 2},   [MC_ST_BF16] = {"BF16", 2},
    [MC_ST_BOOL] = {"BOOL", 1}, [MC_ST_OTHER] = {"OTHER", 0},
};

static int dtype_valid(mc_st_dtype t) { return (unsigned)t <= (unsigned)MC_ST_OTHER; }

const char *mc_st_dtype_name(mc_st_dtype t) { return dtype_valid(t) ? DTYPES[t].name : "?"; }

size_t mc_st_dtype_size(mc_st_dtype t) { return dtype_valid(t) ? DTYPES[t].size : 0; }

static mc_st_dtype dtype_from_name(const char *s)
{
    for (int t = 0; t < MC_ST_OTHER; t++)
        if (strcmp(DTYPES[t].name, s) == 0)
            return (mc_st_dtype)t;
    return MC_ST_OTHER;
}

/* ------------------------------------------------------------------ */
/* error messages: "path: what", one line, the first error wins */

typedef struct errbuf {
    char *buf;
    size_t len;
    const char *path;
    int set;
} errbuf;

PRINTF_LIKE(2, 3) static void fail(errbuf *e, const char *fmt, ...)
{
    if (e->set)
        return;
    e->set = 1;
    if (!e->buf || e->len == 0)
        return;
    int n = snprintf(e->buf, e->len, "%s: ", e->path ? e->path : "(null)");
    if (n < 0 || (size_t)n >= e->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A thread-safe strerror (the XSI strerror_r that _POSIX_C_SOURCE selects). */
static const char *sys_error(int errnum, char *buf, size_t len)
{
    if (strerror_r(errnum, buf, len) != 0)
        snprintf(buf, len, "error %d", errnum);
    return buf;
}

/* A name as it may appear in a message: control characters (which would
 * break the one-line promise) become '?', long names are cut at a UTF-8
 * character boundary. */
enum { SHOWN_MAX = 64 };
static const char *shown(const char *s, char out[SHOWN_MAX])
{
    size_t n = strlen(s), max = SHOWN_MAX - 4;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) ? '?' : s[i];
    strcpy(out + n, n < strlen(s) ? "..." : "");
    return out;
}

/* ------------------------------------------------------------------ */
/* UTF-8 */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are invalid, as
 * in RFC 3629. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1Fu;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0Fu;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_valid_len(u + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------ */
/* JSON: a tree of values, parsed strictly per RFC 8259 */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ } jkind;

/* What a number is, as far as offsets and shapes care: only plain
 * non-negative integers that fit a u64 have a value. */
typedef enum { NUM_UINT, NUM_TOO_BIG, NUM_OTHER } jnum;

typedef struct jval {
    jkind kind;
    jnum num;        /* J_NUM */
    uint64_t u;      /* J_NUM with NUM_UINT: the value */
    char *str;       /* J_STR: decoded UTF-8, NUL-free, NUL-terminated */
    size_t n, cap;   /* J_ARR, J_OBJ: elements */
    struct jval *items;
    char **keys;     /* J_OBJ: n keys, parallel to items */
} jval;

typedef struct jparser {
    const unsigned char *s;
    size_t n, pos;
    int depth;
    size_t values; /* parsed so far, against JSON_MAX_VALUES */
    int failed;
    size_t at;      /* where the first error is */
    char msg[96];   /* what it is */
} jparser;

static void jfree(jval *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    *v = (jval){0};
}

PRINTF_LIKE(2, 3) static int jerr(jparser *p, const char *fmt, ...)
{
    if (!p->failed) {
        p->failed = 1;
        p->at = p->pos;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, sizeof p->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "unexpected 'x'" or "unexpected byte 0x01" or "unexpected end". */
static int junexpected(jparser *p, const char *wanted)
{
    if (p->pos >= p->n)
        return jerr(p, "%s, found the end of the header", wanted);
    unsigned char c = p->s[p->pos];
    if (c > 0x20 && c < 0x7F)
        return jerr(p, "%s, found '%c'", wanted, c);
    return jerr(p, "%s, found byte 0x%02x", wanted, c);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                             p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(const jparser *p) { return p->pos < p->n ? p->s[p->pos] : -1; }

static int parse_value(jparser *p, jval *v);

static int hex4(jparser *p, size_t end, uint32_t *v)
{
    *v = 0;
    if (end - p->pos < 4)
        return jerr(p, "incomplete \\u escape");
    for (int i = 0; i < 4; i++) {
        int c = p->s[p->pos + (size_t)i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return jerr(p, "invalid hex digit in \\u escape");
        *v = *v << 4 | (uint32_t)d;
    }
    p->pos += 4;
    return 0;
}

/* \uXXXX at p->pos (after the 'u'), a UTF-16 surrogate pair joined. */
static int parse_unicode_escape(jparser *p, size_t end, uint32_t *cp)
{
    if (hex4(p, end, cp))
        return -1;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return jerr(p, "unpaired low surrogate in \\u escape");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        uint32_t lo = 0;
        if (end - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return jerr(p, "unpaired high surrogate in \\u escape");
        p->pos += 2;
        if (hex4(p, end, &lo))
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jerr(p, "unpaired high surrogate in \\u escape");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (*cp == 0)
        return jerr(p, "\\u0000 in a string (names and metadata cannot hold NUL)");
    return 0;
}

/* One escape at p->pos (the backslash), decoded onto out + *len. */
static int parse_escape(jparser *p, size_t end, char *out, size_t *len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    p->pos++;
    if (p->pos >= end)
        return jerr(p, "incomplete escape");
    int c = p->s[p->pos];
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        out[(*len)++] = to[hit - from];
        p->pos++;
        return 0;
    }
    if (c != 'u')
        return junexpected(p, "invalid escape: expected one of \"\\/bfnrtu");
    p->pos++;
    uint32_t cp = 0;
    if (parse_unicode_escape(p, end, &cp))
        return -1;
    *len += utf8_encode(cp, out + *len);
    return 0;
}

/* The string at p->pos (the opening quote), decoded into a new buffer.
 * A first pass finds the closing quote, so the buffer is no bigger than the
 * string's text (escapes only shrink). */
static int parse_string(jparser *p, char **out)
{
    size_t end = p->pos + 1;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n)
        return jerr(p, "unterminated string");
    char *buf = malloc(end - p->pos);
    if (!buf)
        return jerr(p, "out of memory");
    size_t len = 0;
    p->pos++;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        size_t k;
        if (c == '\\') {
            if (parse_escape(p, end, buf, &len))
                break;
        } else if (c < 0x20) {
            jerr(p, "unescaped control character 0x%02x in a string", c);
            break;
        } else if ((k = utf8_valid_len(p->s + p->pos, end - p->pos)) == 0) {
            jerr(p, "invalid UTF-8 in a string");
            break;
        } else {
            memcpy(buf + len, p->s + p->pos, k);
            len += k;
            p->pos += k;
        }
    }
    if (p->failed) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    p->pos = end + 1;
    *out = buf;
    return 0;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static void skip_digits(jparser *p)
{
    while (is_digit(peek(p)))
        p->pos++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(jparser *p, jval *v)
{
    int plain = 1;
    v->kind = J_NUM;
    if (peek(p) == '-')
        p->pos++, plain = 0;
    if (!is_digit(peek(p)))
        return junexpected(p, "invalid number: expected a digit");
    size_t digits = p->pos;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p)))
            return jerr(p, "invalid number: leading zero");
    } else {
        skip_digits(p);
    }
    size_t digits_end = p->pos;
    if (peek(p) == '.') {
        p->pos++, plain = 0;
        if (!is_digit(peek(p)))
            return junexpected(p, "invalid number: expected a digit after '.'");
        skip_digits(p);
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++, plain = 0;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return junexpected(p, "invalid number: expected a digit in the exponent");
        skip_digits(p);
    }
    v->num = plain ? NUM_UINT : NUM_OTHER;
    for (size_t i = digits; plain && i < digits_end; i++) {
        unsigned d = p->s[i] - (unsigned)'0';
        if (v->u > (UINT64_MAX - d) / 10) {
            v->num = NUM_TOO_BIG;
            break;
        }
        v->u = v->u * 10 + d;
    }
    return 0;
}

static int parse_literal(jparser *p, jval *v)
{
    static const struct {
        const char *text;
        jkind kind;
    } lits[] = {{"true", J_TRUE}, {"false", J_FALSE}, {"null", J_NULL}};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        size_t len = strlen(lits[i].text);
        if (p->n - p->pos >= len && memcmp(p->s + p->pos, lits[i].text, len) == 0) {
            v->kind = lits[i].kind;
            p->pos += len;
            return 0;
        }
    }
    return junexpected(p, "expected a JSON value");
}

/* Room for one more element (and key, for objects). */
static int grow(jparser *p, jval *v)
{
    if (v->n < v->cap)
        return 0;
    size_t cap = v->cap ? 2 * v->cap : 4;
    if (v->kind == J_OBJ) {
        char **keys = realloc(v->keys, cap * sizeof *keys);
        if (!keys)
            return jerr(p, "out of memory");
        v->keys = keys;
    }
    jval *items = realloc(v->items, cap * sizeof *items);
    if (!items)
        return jerr(p, "out of memory");
    v->items = items;
    v->cap = cap;
    return 0;
}

/* After an element: ',' (more follow) or the closing bracket. Returns 1 to
 * go on, 0 at the end, -1 on error. */
static int next_or_close(jparser *p, int close)
{
    skip_ws(p);
    if (peek(p) == ',') {
        p->pos++;
        skip_ws(p);
        return 1;
    }
    if (peek(p) == close) {
        p->pos++;
        return 0;
    }
    return junexpected(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static int parse_member(jparser *p, jval *v)
{
    if (peek(p) != '"')
        return junexpected(p, "expected a string key");
    char *key = NULL;
    if (grow(p, v) || parse_string(p, &key))
        return -1;
    v->keys[v->n] = key;
    v->items[v->n] = (jval){0};
    v->n++; /* counted before the value is parsed, so jfree frees a partial one */
    skip_ws(p);
    if (peek(p) != ':')
        return junexpected(p, "expected ':'");
    p->pos++;
    skip_ws(p);
    return parse_value(p, &v->items[v->n - 1]);
}

static int parse_element(jparser *p, jval *v)
{
    if (v->n >= MC_ST_MAX_DIMS)
        return jerr(p, "an array of more than %d elements (a shape has at most %d dimensions)", MC_ST_MAX_DIMS,
                    MC_ST_MAX_DIMS);
    if (grow(p, v))
        return -1;
    v->items[v->n] = (jval){0};
    v->n++;
    return parse_value(p, &v->items[v->n - 1]);
}

/* An object or array at p->pos (its opening bracket). */
static int parse_container(jparser *p, jval *v, jkind kind)
{
    int close = kind == J_OBJ ? '}' : ']';
    v->kind = kind;
    if (++p->depth > JSON_MAX_DEPTH)
        return jerr(p, "nested deeper than %d levels", JSON_MAX_DEPTH);
    p->pos++;
    skip_ws(p);
    int more = 1;
    if (peek(p) == close) {
        p->pos++;
        more = 0;
    }
    while (more > 0) {
        if ((kind == J_OBJ ? parse_member(p, v) : parse_element(p, v)) != 0)
            return -1;
        more = next_or_close(p, close);
    }
    p->depth--;
    return more;
}

static int parse_value(jparser *p, jval *v)
{
    if (++p->values > JSON_MAX_VALUES)
        return jerr(p, "more than %d JSON values (a header holds at most 14 per tensor)", JSON_MAX_VALUES);
    int c = peek(p);
    if (c == '{')
        return parse_container(p, v, J_OBJ);
    if (c == '[')
        return parse_container(p, v, J_ARR);
    if (c == '"') {
        v->kind = J_STR;
        return parse_string(p, &v->str);
    }
    if (c == '-' || is_digit(c))
        return parse_number(p, v);
    return parse_literal(p, v);
}

/* The whole text must be one value, with only whitespace around it (the
 * format pads the header with trailing spaces). */
static int parse_document(jparser *p, jval *v)
{
    skip_ws(p);
    if (parse_value(p, v))
        return -1;
    skip_ws(p);
    if (p->pos != p->n)
        return junexpected(p, "expected the end of the header after the JSON value");
    return 0;
}

/* ------------------------------------------------------------------ */
/* reading: the schema check */

struct mc_st_file {
    char *path;
    jval header;                  /* owns names, dtype strings and metadata */
    const jval *metadata;         /* the "__metadata__" object, or NULL */
    mc_st_tensor *tensors;        /* in JSON order */
    int count;
    const mc_st_tensor **by_name; /* sorted by name, for mc_st_find */
    void *data;                   /* the data area, DATA_ALIGN-aligned */
    void *copies;                 /* aligned copies of tensors that lay misaligned in data */
};

/* A tensor's place in the data area while the file is validated. */
typedef struct region {
    uint64_t begin, end;
    int index;
} region;

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const mc_st_tensor *const *)a)->name, (*(const mc_st_tensor *const *)b)->name);
}

static int cmp_region(const void *a, const void *b)
{
    const region *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Keys of the metadata object: strings, none repeated. */
static int check_metadata(const jval *m, errbuf *e)
{
    char s[SHOWN_MAX];
    if (m->kind != J_OBJ) {
        fail(e, "\"__metadata__\" is not an object");
        return -1;
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->items[i].kind != J_STR) {
            fail(e, "\"__metadata__\" value of '%s' is not a string", shown(m->keys[i], s));
            return -1;
        }
    char **keys = malloc((m->n ? m->n : 1) * sizeof *keys);
    if (!keys) {
        fail(e, "out of memory");
        return -1;
    }
    if (m->n)
        memcpy(keys, m->keys, m->n * sizeof *keys);
    qsort(keys, m->n, sizeof *keys, cmp_str_ptr);
    for (size_t i = 1; i < m->n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            fail(e, "\"__metadata__\" has the key '%s' twice", shown(keys[i], s));
            break;
        }
    free(keys);
    return e->set ? -1 : 0;
}

/* An array of non-negative integers: shape entries or data offsets. */
static int get_uints(const jval *v, const char *name, const char *field, size_t min, size_t max,
                     uint64_t *out, size_t *n, errbuf *e)
{
    char s[SHOWN_MAX];
    if (v->kind != J_ARR || v->n < min || v->n > max) {
        if (min == max)
            fail(e, "tensor '%s': \"%s\" must be an array of %zu integers", shown(name, s), field, min);
        else
            fail(e, "tensor '%s': \"%s\" must be an array of at most %zu integers", shown(name, s), field,
                 max);
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        const jval *x = &v->items[i];
        if (x->kind != J_NUM || x->num == NUM_OTHER) {
            fail(e, "tensor '%s': \"%s\" entries must be non-negative integers", shown(name, s), field);
            return -1;
        }
        if (x->num == NUM_TOO_BIG || x->u > INT64_MAX) {
            fail(e, "tensor '%s': \"%s\" entry too large", shown(name, s), field);
            return -1;
        }
        out[i] = x->u;
    }
    *n = v->n;
    return 0;
}

/* The fields of one tensor entry, each exactly once, no others. */
static int parse_entry(const char *name, const jval *v, mc_st_tensor *t, region *r, errbuf *e)
{
    char s[SHOWN_MAX];
    const jval *dtype = NULL, *shape = NULL, *offsets = NULL;
    if (v->kind != J_OBJ) {
        fail(e, "tensor '%s': entry is not an object", shown(name, s));
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        const jval **slot = strcmp(k, "dtype") == 0 ? &dtype
                            : strcmp(k, "shape") == 0 ? &shape
                            : strcmp(k, "data_offsets") == 0 ? &offsets
                                                             : NULL;
        char s2[SHOWN_MAX];
        if (!slot) {
            fail(e, "tensor '%s': unknown field '%s'", shown(name, s), shown(k, s2));
            return -1;
        }
        if (*slot) {
            fail(e, "tensor '%s': field \"%s\" appears twice", shown(name, s), k);
            return -1;
        }
        *slot = &v->items[i];
    }
    if (!dtype || !shape || !offsets) {
        fail(e, "tensor '%s': missing \"%s\"", shown(name, s),
             !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
        return -1;
    }
    if (dtype->kind != J_STR) {
        fail(e, "tensor '%s': \"dtype\" is not a string", shown(name, s));
        return -1;
    }
    uint64_t dims[MC_ST_MAX_DIMS], off[2];
    size_t ndim, two;
    if (get_uints(shape, name, "shape", 0, MC_ST_MAX_DIMS, dims, &ndim, e) ||
        get_uints(offsets, name, "data_offsets", 2, 2, off, &two, e))
        return -1;
    if (off[0] > off[1]) {
        fail(e, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin", shown(name, s),
             off[0], off[1]);
        return -1;
    }
    t->name = name;
    t->dtype_str = dtype->str;
    t->dtype = dtype_from_name(dtype->str);
    t->ndim = (int)ndim;
    for (size_t i = 0; i < ndim; i++)
        t->shape[i] = (int64_t)dims[i];
    r->begin = off[0];
    r->end = off[1];
    return 0;
}

/* product(shape) * element size, or -1 if it does not fit. */
static int tensor_bytes(const int64_t *shape, int ndim, size_t elem, uint64_t *out)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d != 0 && n > (uint64_t)INT64_MAX / d)
            return -1;
        n *= d;
    }
    if (elem != 0 && n > UINT64_MAX / elem)
        return -1;
    *out = n * elem;
    return 0;
}

/* Each known dtype's byte length matches its shape. */
static int check_size(const mc_st_tensor *t, const region *r, errbuf *e)
{
    char s[SHOWN_MAX];
    uint64_t want;
    size_t elem = mc_st_dtype_size(t->dtype);
    if (tensor_bytes(t->shape, t->ndim, elem, &want)) {
        fail(e, "tensor '%s': shape too large", shown(t->name, s));
        return -1;
    }
    if (t->dtype != MC_ST_OTHER && want != r->end - r->begin) {
        fail(e, "tensor '%s': %d-D %s shape needs %" PRIu64 " bytes but data_offsets [%" PRIu64 ", %" PRIu64
                "] hold %" PRIu64,
             shown(t->name, s), t->ndim, t->dtype_str, want, r->begin, r->end, r->end - r->begin);
        return -1;
    }
    return 0;
}

/* The regions tile [0, size) exactly: sorted by (begin, end), each begins
 * where the previous ends (empty tensors included), the last ends at the
 * end of the file. */
static int check_tiling(const mc_st_file *f, region *r, uint64_t size, errbuf *e)
{
    char s[SHOWN_MAX];
    uint64_t at = 0;
    qsort(r, (size_t)f->count, sizeof *r, cmp_region);
    for (int i = 0; i < f->count; i++) {
        if (r[i].begin != at) {
            fail(e, "tensor '%s': data begin at byte %" PRIu64 ", %s the previous end %" PRIu64,
                 shown(f->tensors[r[i].index].name, s), r[i].begin,
                 r[i].begin < at ? "overlapping" : "leaving a gap after", at);
            return -1;
        }
        at = r[i].end;
    }
    if (at != size) {
        fail(e, "the tensors' data end at byte %" PRIu64 " of the data area but it has %" PRIu64 " bytes", at,
             size);
        return -1;
    }
    return 0;
}

/* Tensors from the header tree: fills f->tensors and r (one region each). */
static int build_tensors(mc_st_file *f, region **regions, errbuf *e)
{
    const jval *root = &f->header;
    if (root->kind != J_OBJ) {
        fail(e, "header is not a JSON object");
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < root->n; i++) {
        if (strcmp(root->keys[i], "__metadata__") != 0)
            count++;
        else if (f->metadata) {
            fail(e, "\"__metadata__\" appears twice");
            return -1;
        } else if (check_metadata(&root->items[i], e))
            return -1;
        else
            f->metadata = &root->items[i];
    }
    if (count > INT32_MAX) {
        fail(e, "too many tensors");
        return -1;
    }
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    *regions = calloc(count ? count : 1, sizeof **regions);
    if (!f->tensors || !*regions) {
        fail(e, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < root->n; i++) {
        if (strcmp(root->keys[i], "__metadata__") == 0)
            continue;
        mc_st_tensor *t = &f->tensors[f->count];
        region *r = &(*regions)[f->count];
        r->index = f->count++;
        if (parse_entry(root->keys[i], &root->items[i], t, r, e) || check_size(t, r, e))
            return -1;
    }
    return 0;
}

/* The name index; also where repeated names show. */
static int index_names(mc_st_file *f, errbuf *e)
{
    char s[SHOWN_MAX];
    f->by_name = malloc((f->count ? (size_t)f->count : 1) * sizeof *f->by_name);
    if (!f->by_name) {
        fail(e, "out of memory");
        return -1;
    }
    for (int i = 0; i < f->count; i++)
        f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_tensor_name);
    for (int i = 1; i < f->count; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            fail(e, "tensor name '%s' appears twice", shown(f->by_name[i]->name, s));
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------------ */
/* reading: the file */

static void *aligned_buffer(uint64_t size)
{
    uint64_t rounded = (size + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    if (rounded == 0)
        rounded = DATA_ALIGN; /* a valid pointer even for an empty data area */
    if (rounded > SIZE_MAX)
        return NULL;
    return aligned_alloc(DATA_ALIGN, (size_t)rounded); /* C11 wants a multiple of the alignment */
}

/* Reads exactly n bytes; fails on a short read (the file shrank, or I/O error). */
static int read_exact(FILE *fp, void *buf, uint64_t n, errbuf *e)
{
    char sys[128];
    if (n > SIZE_MAX) {
        fail(e, "file too large for this machine");
        return -1;
    }
    if (n && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        if (ferror(fp))
            fail(e, "read error: %s", sys_error(errno, sys, sizeof sys));
        else
            fail(e, "file ended early (changed while being read?)");
        return -1;
    }
    return 0;
}

/* The 8-byte length, checked against the limit and the file size. */
static int read_header_length(FILE *fp, uint64_t fsize, uint64_t *n, errbuf *e)
{
    unsigned char b[8];
    if (fsize < 8) {
        fail(e, "file has %" PRIu64 " bytes, too few for the 8-byte header length", fsize);
        return -1;
    }
    if (read_exact(fp, b, 8, e))
        return -1;
    *n = 0;
    for (int i = 7; i >= 0; i--)
        *n = *n << 8 | b[i];
    if (*n > HEADER_MAX) {
        fail(e, "header says %" PRIu64 " bytes, more than the limit of %" PRIu64, *n, HEADER_MAX);
        return -1;
    }
    if (*n > fsize - 8) {
        fail(e, "header says %" PRIu64 " bytes but the file has only %" PRIu64 " after the length", *n,
             fsize - 8);
        return -1;
    }
    return 0;
}

static int parse_header(mc_st_file *f, FILE *fp, uint64_t n, errbuf *e)
{
    unsigned char *text = malloc(n ? (size_t)n : 1);
    if (!text) {
        fail(e, "out of memory for a %" PRIu64 "-byte header", n);
        return -1;
    }
    if (read_exact(fp, text, n, e)) {
        free(text);
        return -1;
    }
    jparser p = {.s = text, .n = (size_t)n};
    if (parse_document(&p, &f->header))
        fail(e, "invalid header JSON at byte %zu of the header: %s", p.at, p.msg);
    free(text);
    return e->set ? -1 : 0;
}

/* The data area, and each tensor's pointer into it; tensors whose offset
 * is not a multiple of their element size get an aligned copy. */
static int load_data(mc_st_file *f, FILE *fp, const region *sorted, uint64_t size, errbuf *e)
{
    f->data = aligned_buffer(size);
    if (!f->data) {
        fail(e, "out of memory for %" PRIu64 " bytes of data", size);
        return -1;
    }
    if (read_exact(fp, f->data, size, e))
        return -1;
    uint64_t copy_bytes = 0;
    for (int i = 0; i < f->count; i++) {
        mc_st_tensor *t = &f->tensors[sorted[i].index];
        size_t elem = mc_st_dtype_size(t->dtype);
        t->nbytes = (size_t)(sorted[i].end - sorted[i].begin);
        t->data = (char *)f->data + sorted[i].begin;
        if (elem > 1 && sorted[i].begin % elem != 0)
            copy_bytes += (t->nbytes + 7) / 8 * 8;
    }
    if (copy_bytes == 0)
        return 0;
    if (!(f->copies = aligned_buffer(copy_bytes))) {
        fail(e, "out of memory");
        return -1;
    }
    char *at = f->copies;
    for (int i = 0; i < f->count; i++) {
        mc_st_tensor *t = &f->tensors[sorted[i].index];
        size_t elem = mc_st_dtype_size(t->dtype);
        if (elem > 1 && sorted[i].begin % elem != 0) {
            memcpy(at, t->data, t->nbytes);
            t->data = at;
            at += (t->nbytes + 7) / 8 * 8;
        }
    }
    return 0;
}

/* Everything after fopen: header length, header, schema, data. */
static int read_file(mc_st_file *f, FILE *fp, errbuf *e)
{
    char sys[128];
    struct stat st;
    uint64_t n;
    region *regions = NULL;
    if (fstat(fileno(fp), &st) != 0) {
        fail(e, "%s", sys_error(errno, sys, sizeof sys));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(e, "not a regular file");
        return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    int rc = -1;
    if (read_header_length(fp, fsize, &n, e) == 0 && parse_header(f, fp, n, e) == 0 &&
        build_tensors(f, &regions, e) == 0 && index_names(f, e) == 0 &&
        check_tiling(f, regions, fsize - 8 - n, e) == 0 && load_data(f, fp, regions, fsize - 8 - n, e) == 0)
        rc = 0;
    free(regions);
    return rc;
}

mc_st_file *mc_st_open(const char *path, char *err, size_t errlen)
{
    char sys[128];
    errbuf e = {err, errlen, path, 0};
    if (err && errlen)
        err[0] = '\0';
    mc_st_file *f = calloc(1, sizeof *f);
    char *copy = path ? malloc(strlen(path) + 1) : NULL;
    if (!f || !copy) {
        fail(&e, path ? "out of memory" : "no path given");
        free(f);
        free(copy);
        return NULL;
    }
    f->path = strcpy(copy, path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fail(&e, "%s", sys_error(errno, sys, sizeof sys));
        mc_st_close(f);
        return NULL;
    }
    int rc = read_file(f, fp, &e);
    fclose(fp);
    if (rc) {
        mc_st_close(f);
        return NULL;
    }
    return f;
}

int mc_st_count(const mc_st_file *f) { return f ? f->count : 0; }

const mc_st_tensor *mc_st_at(const mc_st_file *f, int i)
{
    return f && i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

static int cmp_name_key(const void *key, const void *elem)
{
    return strcmp(key, (*(const mc_st_tensor *const *)elem)->name);
}

const mc_st_tensor *mc_st_find(const mc_st_file *f, const char *name)
{
    if (!f || !name || f->count == 0)
        return NULL;
    const mc_st_tensor *const *hit =
        bsearch(name, f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_name_key);
    return hit ? *hit : NULL;
}

const char *mc_st_metadata(const mc_st_file *f, const char *key)
{
    if (!f || !key || !f->metadata)
        return NULL;
    for (size_t i = 0; i < f->metadata->n; i++)
        if (strcmp(f->metadata->keys[i], key) == 0)
            return f->metadata->items[i].str;
    return NULL;
}

const char *mc_st_path(const mc_st_file *f) { return f ? f->path : NULL; }

void mc_st_close(mc_st_file *f)
{
    if (!f)
        return;
    jfree(&f->header);
    free(f->tensors);
    free(f->by_name);
    free(f->data);
    free(f->copies);
    free(f->path);
    free(f);
}

/* ------------------------------------------------------------------ */
/* writing: the list */

typedef struct wtensor {
    char *name;
    mc_st_dtype dtype;
    int ndim;
    int64_t shape[MC_ST_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
} wtensor;

struct mc_st_writer {
    wtensor *t;
    size_t n, cap;
    char **meta; /* key, value, key, value, ... */
    size_t nmeta, capmeta;
    char err[200]; /* the first mistake in mc_st_add*, reported by mc_st_write */
};

PRINTF_LIKE(2, 3) static void werr(mc_st_writer *w, const char *fmt, ...)
{
    if (w->err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* Room for one more element of size elem in *arr. */
static int reserve(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

mc_st_writer *mc_st_writer_new(void) { return calloc(1, sizeof(mc_st_writer)); }

/* Why this name cannot be written, or NULL. */
static const char *bad_name(const char *name)
{
    if (!name)
        return "NULL name";
    if (!utf8_valid(name))
        return "name is not valid UTF-8";
    if (strcmp(name, "__metadata__") == 0)
        return "\"__metadata__\" is reserved";
    return NULL;
}

static int check_shape(mc_st_writer *w, const char *name, mc_st_dtype dtype, int ndim, const int64_t *shape,
                       const void *data, uint64_t *nbytes)
{
    char s[SHOWN_MAX];
    if (!dtype_valid(dtype) || dtype == MC_ST_OTHER)
        werr(w, "tensor '%s': dtype %d cannot be written", shown(name, s), (int)dtype);
    else if (ndim < 0 || ndim > MC_ST_MAX_DIMS || (ndim > 0 && !shape))
        werr(w, "tensor '%s': %d dimensions (0 to %d allowed)", shown(name, s), ndim, MC_ST_MAX_DIMS);
    else {
        for (int i = 0; i < ndim; i++)
            if (shape[i] < 0) {
                werr(w, "tensor '%s': negative dimension %" PRId64, shown(name, s), shape[i]);
                return -1;
            }
        if (tensor_bytes(shape, ndim, mc_st_dtype_size(dtype), nbytes) || *nbytes > SIZE_MAX)
            werr(w, "tensor '%s': shape too large", shown(name, s));
        else if (*nbytes > 0 && !data)
            werr(w, "tensor '%s': NULL data", shown(name, s));
        else
            return 0;
    }
    return -1;
}

void mc_st_add(mc_st_writer *w, const char *name, mc_st_dtype dtype, int ndim, const int64_t *shape,
               const void *data)
{
    char s[SHOWN_MAX];
    const char *why = bad_name(name);
    uint64_t nbytes;
    if (!w || w->err[0])
        return;
    if (why) {
        werr(w, "tensor '%s': %s", name ? shown(name, s) : "", why);
        return;
    }
    if (check_shape(w, name, dtype, ndim, shape, data, &nbytes))
        return;
    void *arr = w->t;
    char *copy = dup_str(name);
    if (!copy || reserve(&arr, w->n, &w->cap, sizeof *w->t)) {
        free(copy);
        werr(w, "out of memory");
        return;
    }
    w->t = arr;
    wtensor *t = &w->t[w->n++];
    *t = (wtensor){.name = copy, .dtype = dtype, .ndim = ndim, .data = data, .nbytes = nbytes};
    if (ndim > 0)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
}

void mc_st_add_metadata(mc_st_writer *w, const char *key, const char *value)
{
    char s[SHOWN_MAX];
    if (!w || w->err[0])
        return;
    if (!key || !value || !utf8_valid(key) || !utf8_valid(value)) {
        werr(w, "metadata '%s': key and value must be non-NULL UTF-8", key ? shown(key, s) : "");
        return;
    }
    void *arr = w->meta;
    char *k = dup_str(key), *v = dup_str(value);
    if (!k || !v || reserve(&arr, w->nmeta, &w->capmeta, 2 * sizeof *w->meta)) {
        free(k);
        free(v);
        werr(w, "out of memory");
        return;
    }
    w->meta = arr;
    w->meta[2 * w->nmeta] = k;
    w->meta[2 * w->nmeta + 1] = v;
    w->nmeta++;
}

void mc_st_writer_free(mc_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->t[i].name);
    for (size_t i = 0; i < 2 * w->nmeta; i++)
        free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

/* Sets *hit to a name that appears twice among n names (every stride-th
 * entry of names), or NULL. Sorts a copy, so long lists stay fast. */
static int find_repeat(char **names, size_t n, size_t stride, const char **hit)
{
    char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    *hit = NULL;
    if (!sorted)
        return -1;
    for (size_t i = 0; i < n; i++)
        sorted[i] = names[i * stride];
    qsort(sorted, n, sizeof *sorted, cmp_str_ptr);
    for (size_t i = 1; i < n && !*hit; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            *hit = sorted[i];
    free(sorted);
    return 0;
}

static int check_repeats(mc_st_writer *w)
{
    char s[SHOWN_MAX];
    const char *t = NULL, *m = NULL;
    char **names = malloc((w->n ? w->n : 1) * sizeof *names);
    if (names) {
        for (size_t i = 0; i < w->n; i++)
            names[i] = w->t[i].name;
    }
    if (!names || find_repeat(names, w->n, 1, &t) || find_repeat(w->meta, w->nmeta, 2, &m))
        werr(w, "out of memory");
    else if (t)
        werr(w, "tensor name '%s' added twice", shown(t, s));
    else if (m)
        werr(w, "metadata key '%s' added twice", shown(m, s));
    free(names);
    return w->err[0] ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* writing: the header text */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v)
{
    char num[24];
    sb_put(b, num, (size_t)snprintf(num, sizeof num, "%" PRIu64, v));
}

/* A JSON string as serde_json (the reference implementation) writes it:
 * '"', '\\' and control characters escaped, everything else (including
 * '/' and non-ASCII UTF-8) as is. */
static void sb_json_string(sbuf *b, const char *s)
{
    static const char short_esc[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < sizeof short_esc && short_esc[c]) {
            esc[0] = '\\', esc[1] = short_esc[c];
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            sb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static void sb_tensor(sbuf *b, const wtensor *t, uint64_t begin)
{
    sb_json_string(b, t->name);
    sb_puts(b, ":{\"dtype\":\"");
    sb_puts(b, mc_st_dtype_name(t->dtype));
    sb_puts(b, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
        if (d)
            sb_puts(b, ",");
        sb_u64(b, (uint64_t)t->shape[d]);
    }
    sb_puts(b, "],\"data_offsets\":[");
    sb_u64(b, begin);
    sb_puts(b, ",");
    sb_u64(b, begin + t->nbytes);
    sb_puts(b, "]}");
}

/* The compact JSON header (metadata first, as the reference writes it),
 * padded with spaces to a multiple of 8 bytes. */
static int build_header(const mc_st_writer *w, sbuf *b)
{
    uint64_t at = 0;
    sb_puts(b, "{");
    if (w->nmeta) {
        sb_puts(b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i)
                sb_puts(b, ",");
            sb_json_string(b, w->meta[2 * i]);
            sb_puts(b, ":");
            sb_json_string(b, w->meta[2 * i + 1]);
        }
        sb_puts(b, "}");
    }
    for (size_t i = 0; i < w->n; i++) {
        if (i || w->nmeta)
            sb_puts(b, ",");
        sb_tensor(b, &w->t[i], at);
        at += w->t[i].nbytes;
    }
    sb_puts(b, "}");
    while (b->len % 8)
        sb_puts(b, " ");
    return b->oom ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* writing: the file */

static int write_all(int fd, const void *buf, uint64_t n)
{
    const char *p = buf;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n; /* below every OS's per-call limit */
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        p += k;
        n -= (uint64_t)k;
    }
    return 0;
}

/* Length, header and data, then fsync: everything is on disk before the
 * rename makes it visible. */
static int write_contents(int fd, const mc_st_writer *w, const sbuf *h)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
    if (write_all(fd, len, 8) || write_all(fd, h->p, h->len))
        return -1;
    for (size_t i = 0; i < w->n; i++)
        if (write_all(fd, w->t[i].data, w->t[i].nbytes))
            return -1;
    return fsync(fd);
}

/* Temporary file, contents, rename. The temporary is removed on every
 * failure, so the only way one is left behind is a killed process. */
static int write_atomically(const mc_st_writer *w, const sbuf *h, const char *path, errbuf *e)
{
    char sys[128];
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        fail(e, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp); /* a stale one from a dead process with our pid; O_EXCL below refuses links planted there */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        fail(e, "cannot create temporary file %s: %s", tmp, sys_error(errno, sys, sizeof sys));
        free(tmp);
        return -1;
    }
    const char *what = "cannot write";
    int rc = mc_fault_point("write the temporary checkpoint") || write_contents(fd, w, h) ? -1 : 0;
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        rc = -1, saved = errno;
    if (rc == 0 && (mc_fault_point("rename the checkpoint into place") || rename(tmp, path) != 0))
        rc = -1, saved = errno, what = "cannot rename over it";
    if (rc) {
        unlink(tmp);
        fail(e, "%s (temporary %s): %s", what, tmp, sys_error(saved, sys, sizeof sys));
    } else if (mc_fault_point("sync the checkpoint's folder") || mc_sync_dir(path) != 0) {
        /* The new file is in place and complete; only its survival of a
         * power cut is in doubt. Reported, since the caller asked for it. */
        rc = MC_ST_UNSYNCED;
        fail(e, "written, but syncing its directory failed: %s", sys_error(errno, sys, sizeof sys));
    }
    free(tmp);
    return rc;
}

int mc_st_write(mc_st_writer *w, const char *path, char *err, size_t errlen)
{
    errbuf e = {err, errlen, path, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        fail(&e, "no path given");
        return -1;
    }
    if (!w) {
        fail(&e, "cannot write: out of memory building the tensor list");
        return -1;
    }
    sbuf h = {0};
    int rc = -1;
    if (w->err[0] || check_repeats(w))
        fail(&e, "cannot write: %s", w->err);
    else if (build_header(w, &h))
        fail(&e, "cannot write: out of memory building the header");
    else if (h.len > HEADER_MAX)
        fail(&e, "cannot write: header of %zu bytes is over the format's limit", h.len);
    else
        rc = write_atomically(w, &h, path, &e);
    free(h.p);
    return rc;
}
