/* The tuner's bookkeeping and its file (tune.h); main.c runs the builds. */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include "tune.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mc_cpu.h"
#include "ops.h"

/* The form flags as the file spells them. */
static const struct {
    const char *name;
    size_t at;
} flags[] = {
    {"dw_cl", offsetof(mc_form, dw_cl)},   {"cl_fwd", offsetof(mc_form, cl_fwd)},
    {"cl_dx", offsetof(mc_form, cl_dx)},   {"cl_dw", offsetof(mc_form, cl_dw)},
    {"dw_own", offsetof(mc_form, dw_own)}, {"pw_planar", offsetof(mc_form, pw_planar)},
    {"planes", offsetof(mc_form, planes)}, {"wino", offsetof(mc_form, wino)},
    {"lin", offsetof(mc_form, lin)},
};
enum { NFLAGS = sizeof flags / sizeof *flags };

static bool *flag(mc_form *f, int i) { return (bool *)((char *)f + flags[i].at); }

static const char *form_text(struct arena *a, mc_form f)
{
    const char *s = "";
    for (int i = 0; i < NFLAGS; i++)
        if (*flag(&f, i))
            s = arena_printf(a, "%s%s%s", s, *s ? "," : "", flags[i].name);
    return *s ? s : "-";
}

/* What a layer's kernel is, whatever its fusions: a file made for another
 * shape is stale. */
static const char *geometry(struct arena *a, const mc_model *m, const mc_node *n)
{
    const mc_shape in = m->nodes[n->inputs[0]].shape, o = n->shape;
    if (n->op->code == OP_CONV)
        return arena_printf(a, "conv:%dx%dx%d->%d:k%d:s%d:p%d:g%d", in.c, in.h, in.w, o.c, n->k, n->stride, n->pad,
                            n->groups);
    const char *ks = "";
    for (int j = 0; j < n->nks; j++)
        ks = arena_printf(a, "%s%s%d", ks, j ? "_" : "", n->ks[j]);
    return arena_printf(a, "depthwise:%dx%dx%d:k%s:s%d", in.c, in.h, in.w, ks, n->stride);
}

mc_tuning *mc_tune_begin(struct arena *a, const mc_plan *rules)
{
    mc_tuning *t = arena_alloc(a, sizeof *t);
    const mc_model *m = rules->m;
    t->rules = rules;
    t->layers = arena_alloc(a, (size_t)m->norder * sizeof *t->layers);
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = &m->nodes[m->order[i]];
        mc_tune_layer *l = &t->layers[t->nlayers];
        l->ncand = mc_plan_form_candidates(rules, n, l->cand);
        if (l->ncand == 0)
            continue;
        l->node = m->order[i];
        for (int c = 0; c < MC_FORM_CANDIDATES; c++)
            l->cost[c] = -1;
        t->nbuilds = l->ncand > t->nbuilds ? l->ncand : t->nbuilds;
        t->nlayers++;
    }
    return t;
}

const mc_tuned_form *mc_tune_build_forms(struct arena *a, const mc_tuning *t, int v, int *n)
{
    mc_tuned_form *f = arena_alloc(a, (size_t)(t->nlayers ? t->nlayers : 1) * sizeof *f);
    for (int i = 0; i < t->nlayers; i++)
        f[i] = (mc_tuned_form){t->layers[i].node, t->layers[i].cand[v < t->layers[i].ncand ? v : 0]};
    *n = t->nlayers;
    return f;
}

/* Seconds (forward + backward) of the layer named `name` in a times file's
 * lines; 0 for a node without a layer (a fused activation). */
typedef struct timed {
    const char *name;
    double secs;
} timed;

static double time_of(const timed *ts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name))
            return ts[i].secs;
    return 0;
}

/* A layer and the neighbours whose fusions its form decides: the layers
 * that read it (a batch norm taking its statistics from it), and a batch
 * norm it reads (folded into it). */
static double layer_cost(const mc_model *m, int node, const timed *ts, int n)
{
    const mc_node *x = &m->nodes[node];
    double c = time_of(ts, n, x->name);
    for (int i = 0; i < m->norder; i++) {
        const mc_node *r = &m->nodes[m->order[i]];
        for (int j = 0; j < r->ninputs; j++)
            if (r->inputs[j] == node) {
                c += time_of(ts, n, r->name);
                break;
            }
    }
    if (m->nodes[x->inputs[0]].op->code == OP_BATCHNORM)
        c += time_of(ts, n, m->nodes[x->inputs[0]].name);
    return c;
}

bool mc_tune_record(struct arena *a, mc_tuning *t, int v, const char *times, char *err, size_t errlen)
{
    FILE *f = fopen(times, "r");
    if (!f) {
        snprintf(err, errlen, "mcgen tune: error: cannot read %s: %s", times, strerror(errno));
        return false;
    }
    const mc_model *m = t->rules->m;
    timed *ts = arena_alloc(a, (size_t)m->norder * sizeof *ts);
    int n = 0;
    char line[1024], name[512];
    double fwd, bwd;
    while (n < m->norder && fgets(line, sizeof line, f))
        if (sscanf(line, "%511[^\t]\t%lf\t%lf", name, &fwd, &bwd) == 3)
            ts[n++] = (timed){arena_strdup(a, name), fwd + bwd};
    fclose(f);
    for (int i = 0; i < t->nlayers; i++) {
        mc_tune_layer *l = &t->layers[i];
        const int c = v < l->ncand ? v : 0;
        const double cost = layer_cost(m, l->node, ts, n);
        if (l->cost[c] < 0 || cost < l->cost[c]) /* the best of its samples: noise only adds */
            l->cost[c] = cost;
    }
    return true;
}

const mc_tuned_form *mc_tune_choose(struct arena *a, mc_tuning *t, int *n)
{
    for (int i = 0; i < t->nlayers; i++) {
        mc_tune_layer *l = &t->layers[i];
        l->best = 0;
        for (int c = 1; c < l->ncand; c++)
            if (l->cost[c] >= 0 && (l->cost[l->best] < 0 || l->cost[c] < l->cost[l->best]))
                l->best = c;
    }
    mc_tuned_form *f = arena_alloc(a, (size_t)(t->nlayers ? t->nlayers : 1) * sizeof *f);
    for (int i = 0; i < t->nlayers; i++)
        f[i] = (mc_tuned_form){t->layers[i].node, t->layers[i].cand[t->layers[i].best]};
    *n = t->nlayers;
    return f;
}

bool mc_tune_write(const mc_tuning *t, const char *path, const char *note, int threads, int batch, char *err,
                   size_t errlen)
{
    struct arena *a = arena_new();
    const mc_model *m = t->rules->m;
    char *tmp = arena_printf(a, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "mcgen tune: error: cannot write %s: %s", tmp, strerror(errno));
        arena_free(a);
        return false;
    }
    fprintf(f, "# Written by mcgen tune: the form of each conv and depthwise layer measured fastest here, read\n"
               "# by mcgen emit/build --tune. A line: layer NAME GEOMETRY FORM (its flags, - for none).\n");
    if (note)
        fprintf(f, "# %s\n", note);
    fprintf(f, "mcgen-tune 1\nmodel %s\ntarget %s\ncpu %s\nmeasured %d thread%s, batch %d\n", m->name,
            t->rules->opt.target->name, mc_cpu_name(), threads, threads == 1 ? "" : "s", batch);
    for (int i = 0; i < t->nlayers; i++) {
        const mc_tune_layer *l = &t->layers[i];
        const mc_node *n = &m->nodes[l->node];
        fprintf(f, "layer %s %s %s", n->name, geometry(a, m, n), form_text(a, l->cand[l->best]));
        /* what each candidate cost, the rules' first */
        for (int c = 0; c < l->ncand && l->ncand > 1; c++)
            if (l->cost[c] >= 0)
                fprintf(f, "%s %s %.3f ms", c ? ";" : "  #", form_text(a, l->cand[c]), 1e3 * l->cost[c]);
        fprintf(f, "\n");
    }
    const bool ok = fclose(f) == 0 && rename(tmp, path) == 0;
    if (!ok) {
        snprintf(err, errlen, "mcgen tune: error: cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
    arena_free(a);
    return ok;
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct reader {
    const char *path;
    int line;
    char *err;
    size_t errlen;
} reader;

static bool fail(reader *r, const char *fmt, const char *a, const char *b, const char *c)
{
    char what[2048];
    snprintf(what, sizeof what, fmt, a, b, c);
    snprintf(r->err, r->errlen, "%s:%d: error: %.1900s", r->path, r->line, what);
    return false;
}

/* "key VALUE" where VALUE is the rest of the line (comments excluded). */
static bool header(reader *r, const char *line, const char *key, const char *want)
{
    const size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != ' ')
        return fail(r, "expected '%s %s' here", key, want, "");
    if (strcmp(line + k + 1, want) != 0)
        return fail(r, "the file is for %s %s; this is %s: run mcgen tune again for it", key, line + k + 1, want);
    return true;
}

static bool parse_form(reader *r, const char *text, mc_form *f)
{
    *f = (mc_form){0};
    if (!strcmp(text, "-"))
        return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < NFLAGS && strcmp(flags[i].name, w) != 0)
            i++;
        if (i == NFLAGS)
            return fail(r, "unknown form flag '%s'; expected %s", w,
                        "dw_cl, cl_fwd, cl_dx, cl_dw, dw_own, pw_planar, planes, wino or lin (or - for none)", "");
        *flag(f, i) = true;
    }
    return true;
}

const mc_tuned_form *mc_tune_read(struct arena *a, const char *path, const mc_plan *rules, int *n, char *err,
                                  size_t errlen)
{
    reader r = {path, 0, err, errlen};
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: error: cannot read the tune file: %s", path, strerror(errno));
        return NULL;
    }
    mc_tuning *t = mc_tune_begin(a, rules);
    const mc_model *m = rules->m;
    bool *seen = arena_alloc(a, (size_t)(t->nlayers ? t->nlayers : 1) * sizeof *seen);
    mc_tuned_form *out = arena_alloc(a, (size_t)(t->nlayers ? t->nlayers : 1) * sizeof *out);
    const char *heads[][2] = {{"mcgen-tune", "1"}, {"model", m->name}, {"target", rules->opt.target->name},
                              {"cpu", mc_cpu_name()}};
    int nhead = 0;
    bool ok = true;
    char line[4096];
    while (ok && fgets(line, sizeof line, f)) {
        r.line++;
        line[strcspn(line, "#\n")] = '\0';
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ')
            line[--len] = '\0';
        if (!len || !strncmp(line, "measured ", 9))
            continue;
        if (nhead < 4) {
            ok = header(&r, line, heads[nhead][0], heads[nhead][1]);
            nhead++;
            continue;
        }
        char name[512], geom[256], form[256], extra[8];
        if (sscanf(line, "layer %511s %255s %255s %7s", name, geom, form, extra) != 3) {
            ok = fail(&r, "expected 'layer NAME GEOMETRY FORM', as in %s", "'layer conv1 conv:3x32x32->16:k3:s1:p1:g1 cl_dw'",
                      "", "");
            break;
        }
        int i = 0;
        while (i < t->nlayers && strcmp(m->nodes[t->layers[i].node].name, name) != 0)
            i++;
        if (i == t->nlayers) {
            ok = fail(&r, "layer %s is no conv or depthwise layer of %s: the file is stale; run mcgen tune again", name,
                      m->name, "");
            break;
        }
        const mc_node *node = &m->nodes[t->layers[i].node];
        const char *want = geometry(a, m, node);
        if (strcmp(geom, want) != 0) {
            ok = fail(&r, "layer %s is %s now, not %s: the file is stale; run mcgen tune again", name, want, geom);
            break;
        }
        mc_form fm;
        ok = parse_form(&r, form, &fm);
        if (ok && !mc_plan_form_allowed(rules, node, fm))
            ok = fail(&r, "layer %s cannot take the form %s on the %s target", name, form, rules->opt.target->name);
        if (ok && seen[i])
            ok = fail(&r, "layer %s is named twice", name, "", "");
        if (ok) {
            seen[i] = true;
            out[i] = (mc_tuned_form){t->layers[i].node, fm};
        }
    }
    fclose(f);
    if (ok && nhead < 4) {
        r.line++;
        ok = fail(&r, "the file ends before its '%s' line", heads[nhead][0], "", "");
    }
    for (int i = 0; ok && i < t->nlayers; i++)
        if (!seen[i]) {
            snprintf(err, errlen, "%s: error: layer %s of %s is missing: the file is stale; run mcgen tune again", path,
                     m->nodes[t->layers[i].node].name, m->name);
            ok = false;
        }
    *n = t->nlayers;
    return ok ? out : NULL;
}
