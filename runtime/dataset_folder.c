/* See mc_image_list.h: the files of image folders and lists, their class
 * names and the held-out split. Nothing here opens an image. */
#define _XOPEN_SOURCE 700 /* strdup */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dataset_internal.h"
#include "mc_batch.h"
#include "mc_image_list.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_image_name(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm", ".bmp"};
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.')
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growing array of strings. */
typedef struct strs {
    char **v;
    int n, cap;
} strs;

static int strs_add(strs *s, const char *str)
{
    if (s->n == s->cap) {
        const int cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v, s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str)))
        return -1;
    s->n++;
    return 0;
}

static void strs_free(strs *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* The entries of dir that are folders (dirs = 1) or image files, sorted. */
static int list_dir(const char *dir, int dirs, strs *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return mc_ds_fail(err, errlen, "%s: %s", dir, strerror(errno));
    char path[MC_DS_PATH_MAX];
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if ((rc = mc_ds_join(path, dir, e->d_name, err, errlen)) != 0)
            break;
        if (dirs ? is_dir(path) : (is_image_name(e->d_name) && mc_ds_is_file(path)))
            if ((rc = strs_add(out, e->d_name)) != 0)
                mc_ds_fail(err, errlen, "%s: out of memory listing it", dir);
    }
    closedir(d);
    if (rc == 0)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* ---- layouts --------------------------------------------------------------------------- */

int mc_images_is_own(const char *data, int has_release)
{
    if (mc_ds_is_file(data))
        return 1;
    if (has_release || !is_dir(data))
        return 0;
    strs sub = {0};
    const int own = list_dir(data, 1, &sub, NULL, 0) == 0 && sub.n > 0;
    strs_free(&sub);
    return own;
}

/* DIR/name when it is a folder (into out). */
static int sub_dir(const char *data, const char *name, char *out)
{
    return mc_ds_join(out, data, name, NULL, 0) == 0 && is_dir(out);
}

/* The folder of a split's class folders; NULL for a list. *held_out: the
 * split is drawn out of one folder. */
static int split_dir(const char *data, int test, char *out, int *held_out)
{
    char train[MC_DS_PATH_MAX];
    *held_out = 1;
    if (mc_ds_is_file(data))
        return 0;
    if (!sub_dir(data, "train", train)) {
        snprintf(out, MC_DS_PATH_MAX, "%s", data);
        return 1;
    }
    if (test && (sub_dir(data, "val", out) || sub_dir(data, "test", out))) {
        *held_out = 0;
        return 1;
    }
    /* train/ alone is split; train/ beside val/ is all training. */
    char val[MC_DS_PATH_MAX];
    *held_out = !sub_dir(data, "val", val) && !sub_dir(data, "test", val);
    snprintf(out, MC_DS_PATH_MAX, "%s", train);
    return 1;
}

int mc_images_needs_split(const char *data)
{
    char dir[MC_DS_PATH_MAX];
    int held_out;
    split_dir(data, 1, dir, &held_out);
    return held_out;
}

/* ---- lists (CSV) ----------------------------------------------------------------------- */

/* One line's label: a name of names, or an index below classes; -1 if
 * neither. */
static int label_of(const char *label, char *const *names, int classes)
{
    for (int k = 0; names && k < classes; k++)
        if (strcmp(names[k], label) == 0)
            return k;
    char *end;
    errno = 0;
    const long v = strtol(label, &end, 10);
    if (end != label && !*end && errno == 0 && v >= 0 && v < classes)
        return (int)v;
    return -1;
}

static int is_number(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Calls line(ctx, lineno, path, label) for each `path,label` line of the
 * list (blank lines and a `path,label` header skipped, CR LF accepted). */
typedef int (*list_line)(void *ctx, int lineno, const char *path, const char *label, char *err, size_t errlen);
static int read_list(const char *csv, list_line line, void *ctx, char *err, size_t errlen)
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return mc_ds_fail(err, errlen, "%s: %s", csv, strerror(errno));
    char buf[MC_DS_PATH_MAX + 256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        lineno++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            rc = mc_ds_fail(err, errlen, "%s: line %d: longer than %zu characters", csv, lineno, sizeof buf - 2);
            break;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (!len || (lineno == 1 && strcmp(buf, "path,label") == 0))
            continue;
        char *comma = strrchr(buf, ',');
        if (!comma || comma == buf || !comma[1]) {
            rc = mc_ds_fail(err, errlen, "%s: line %d: expected 'path,label', got '%.80s'", csv, lineno, buf);
            break;
        }
        *comma = 0;
        rc = line(ctx, lineno, buf, comma + 1, err, errlen);
    }
    if (rc == 0 && ferror(f))
        rc = mc_ds_fail(err, errlen, "%s: read error", csv);
    fclose(f);
    return rc;
}

static int collect_name(void *ctx, int lineno, const char *path, const char *label, char *err, size_t errlen)
{
    (void)lineno, (void)path;
    strs *names = ctx;
    if (is_number(label))
        return 0;
    for (int i = 0; i < names->n; i++)
        if (strcmp(names->v[i], label) == 0)
            return 0;
    return strs_add(names, label) ? mc_ds_fail(err, errlen, "out of memory reading a list") : 0;
}

/* An entry of a split before it is drawn: a path and its label. */
typedef struct entries {
    strs paths;
    int32_t *labels;
    int cap;
} entries;

static int entries_add(entries *e, const char *path, int label)
{
    if (e->paths.n == e->cap) {
        const int cap = e->cap ? 2 * e->cap : 64;
        int32_t *l = realloc(e->labels, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        e->labels = l, e->cap = cap;
    }
    e->labels[e->paths.n] = label;
    return strs_add(&e->paths, path);
}

typedef struct list_ctx {
    const char *csv;
    char dir[MC_DS_PATH_MAX]; /* the CSV's folder, which relative paths start from */
    char *const *names;
    int classes;
    entries *out;
} list_ctx;

static int add_listed(void *ctx, int lineno, const char *path, const char *label, char *err, size_t errlen)
{
    list_ctx *c = ctx;
    const int k = label_of(label, c->names, c->classes);
    if (k < 0)
        return mc_ds_fail(err, errlen, "%s: line %d: label '%.80s' unknown (expected one of the %d class names or "
                          "an index below %d)", c->csv, lineno, label, c->classes, c->classes);
    char full[MC_DS_PATH_MAX];
    if (path[0] != '/' && c->dir[0]) {
        if (mc_ds_join(full, c->dir, path, err, errlen) != 0)
            return -1;
        path = full;
    }
    return entries_add(c->out, path, k) ? mc_ds_fail(err, errlen, "%s: out of memory", c->csv) : 0;
}

/* ---- classes ----------------------------------------------------------------------------- */

/* names as one allocation: the pointers, then the strings. */
static int pack_names(const strs *s, char ***names, char *err, size_t errlen)
{
    size_t bytes = (size_t)s->n * sizeof(char *);
    for (int i = 0; i < s->n; i++)
        bytes += strlen(s->v[i]) + 1;
    char **v = malloc(bytes ? bytes : 1);
    if (!v)
        return mc_ds_fail(err, errlen, "out of memory for %d class names", s->n);
    char *at = (char *)(v + s->n);
    for (int i = 0; i < s->n; i++) {
        v[i] = strcpy(at, s->v[i]);
        at += strlen(at) + 1;
    }
    *names = v;
    return 0;
}

int mc_images_classes(const char *data, int fallback, char ***names, int *count, char *err, size_t errlen)
{
    char dir[MC_DS_PATH_MAX];
    int held_out;
    strs s = {0};
    int rc;
    if (split_dir(data, 0, dir, &held_out)) {
        rc = list_dir(dir, 1, &s, err, errlen);
        if (rc == 0 && s.n == 0)
            rc = mc_ds_fail(err, errlen, "%s: no class folders (expected one subfolder of images per class)", dir);
    } else {
        rc = read_list(data, collect_name, &s, err, errlen);
        if (rc == 0)
            qsort(s.v, (size_t)s.n, sizeof *s.v, cmp_str);
        char num[16];
        for (int k = 0; rc == 0 && s.n == 0 && k < fallback; k++) { /* labels all indices */
            snprintf(num, sizeof num, "%d", k);
            if (strs_add(&s, num) != 0)
                rc = mc_ds_fail(err, errlen, "out of memory");
        }
        if (rc == 0 && s.n == 0)
            rc = mc_ds_fail(err, errlen, "%s: no images listed", data);
    }
    if (rc == 0 && (rc = pack_names(&s, names, err, errlen)) == 0)
        *count = s.n;
    strs_free(&s);
    return rc;
}

/* ---- splits ------------------------------------------------------------------------------ */

/* The images of every class folder under dir, labelled by names. */
static int scan_folders(const char *dir, char *const *names, int classes, entries *out, char *err, size_t errlen)
{
    strs sub = {0}, files = {0};
    char cls[MC_DS_PATH_MAX], path[MC_DS_PATH_MAX];
    int rc = list_dir(dir, 1, &sub, err, errlen);
    for (int i = 0; rc == 0 && i < sub.n; i++) {
        const int k = label_of(sub.v[i], names, classes);
        if (k < 0 || strcmp(names[k], sub.v[i]) != 0) {
            rc = mc_ds_fail(err, errlen, "%s/%s: class '%s' unknown (the model's classes are the folders it was "
                            "trained on: %s, ...)", dir, sub.v[i], sub.v[i], names[0]);
            break;
        }
        if ((rc = mc_ds_join(cls, dir, sub.v[i], err, errlen)) != 0 || (rc = list_dir(cls, 0, &files, err, errlen)))
            break;
        if (files.n == 0)
            rc = mc_ds_fail(err, errlen, "%s: empty class folder (expected .png, .jpg, .pgm, .ppm or .bmp images)",
                            cls);
        for (int j = 0; rc == 0 && j < files.n; j++)
            if ((rc = mc_ds_join(path, cls, files.v[j], err, errlen)) == 0 && entries_add(out, path, k) != 0)
                rc = mc_ds_fail(err, errlen, "%s: out of memory", cls);
        strs_free(&files);
    }
    strs_free(&sub);
    return rc;
}

/* Marks the held-out images: a fraction of each class, drawn with r. */
static void hold_out(const entries *e, int classes, double fraction, mc_rng *r, uint8_t *held)
{
    int64_t *idx = malloc((size_t)(e->paths.n ? e->paths.n : 1) * sizeof *idx);
    int64_t *perm = malloc((size_t)(e->paths.n ? e->paths.n : 1) * sizeof *perm);
    if (!idx || !perm) { /* nothing held out beats a crash; the caller sees an empty split */
        free(idx), free(perm);
        return;
    }
    for (int k = 0; k < classes; k++) {
        int n = 0;
        for (int i = 0; i < e->paths.n; i++)
            if (e->labels[i] == k)
                idx[n++] = i;
        int take = (int)(fraction * n + 0.5);
        if (fraction > 0 && take == 0 && n >= 2)
            take = 1;
        if (take >= n && n > 0)
            take = n - 1;
        mc_shuffle(perm, n, r);
        for (int j = 0; j < take; j++)
            held[idx[perm[j]]] = 1;
    }
    free(idx), free(perm);
}

int mc_images_list(const char *data, char *const *names, int classes, int test, double val_split, uint64_t seed,
                   long limit, mc_image_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char dir[MC_DS_PATH_MAX];
    int held_out;
    entries all = {0};
    int rc;
    if (split_dir(data, test, dir, &held_out))
        rc = scan_folders(dir, names, classes, &all, err, errlen);
    else {
        list_ctx c = {.csv = data, .names = names, .classes = classes, .out = &all};
        snprintf(c.dir, sizeof c.dir, "%s", data);
        char *slash = strrchr(c.dir, '/');
        if (slash)
            slash[1] = 0;
        else
            c.dir[0] = 0;
        rc = read_list(data, add_listed, &c, err, errlen);
    }
    uint8_t *held = calloc((size_t)(all.paths.n ? all.paths.n : 1), 1);
    int64_t *order = malloc((size_t)(all.paths.n ? all.paths.n : 1) * sizeof *order);
    if (rc == 0 && (!held || !order))
        rc = mc_ds_fail(err, errlen, "%s: out of memory", data);
    if (rc == 0) {
        mc_rng r;
        mc_rng_seed(&r, seed);
        if (held_out)
            hold_out(&all, classes, val_split, &r, held);
        /* The split's images in a drawn order: --limit then keeps a mix of
         * classes, not the first class folder. */
        mc_shuffle(order, all.paths.n, &r);
        out->paths = malloc((size_t)(all.paths.n ? all.paths.n : 1) * sizeof *out->paths);
        out->labels = malloc((size_t)(all.paths.n ? all.paths.n : 1) * sizeof *out->labels);
        if (!out->paths || !out->labels)
            rc = mc_ds_fail(err, errlen, "%s: out of memory", data);
        /* A val/ folder is all test; one folder or list with nothing held
         * out is all of either split (eval --val-split 0: every image). */
        const int split = held_out && val_split > 0;
        for (int i = 0; rc == 0 && i < all.paths.n && (limit <= 0 || out->n < limit); i++) {
            const int64_t j = order[i];
            if (split && held[j] != test)
                continue;
            out->paths[out->n] = all.paths.v[j];
            all.paths.v[j] = NULL; /* moved */
            out->labels[out->n++] = all.labels[j];
        }
        if (rc == 0 && out->n == 0)
            rc = mc_ds_fail(err, errlen, "%s: no images in the %s split", data, test ? "test" : "training");
    }
    free(held), free(order);
    free(all.labels);
    strs_free(&all.paths);
    if (rc != 0)
        mc_image_list_free(out);
    return rc;
}

void mc_image_list_free(mc_image_list *l)
{
    for (int i = 0; l->paths && i < l->n; i++)
        free(l->paths[i]);
    free(l->paths), free(l->labels);
    memset(l, 0, sizeof *l);
}
