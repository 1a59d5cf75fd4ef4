/* The inference emitter (mcgen emit --inference): a planned model (plan
 * option inference) as one self-contained C library. It decides the two
 * layouts the library has and the training step has not:
 * - the parameters: each conv, depthwise, MixConv and linear its weights
 *   then its bias (the folded batch norm's where it took one), each batch
 *   norm left its gamma, beta, mean and variance; what the loader reads
 *   into them and which batch norms it folds;
 * - the workspace: a slot per layer output, reused once all its readers
 *   have run (the training step keeps every activation for the backward).
 * The kernels are the C target's, rendered forward only (templates/c,
 * INFERENCE 1); the model files come from templates/c/infer.m4. */
#include "emit_m4.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mc_safetensors.h"
#include "ops.h"

#include "../templates/c/infer_fold.h"

/* Floats of alignment for every slot and parameter array: a vector of the
 * widest target (64 bytes). */
enum { ALIGN_FLOATS = 16 };

static long long aligned(long long floats) { return (floats + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

typedef struct infer_layout {
    long long *slot;      /* per node: its output in the workspace, per-image floats; -1: the images */
    long long ws_floats;  /* workspace floats per image */
    long long *weight, *bias, *bn; /* per node: parameter offsets, -1 for none */
    int *folded;          /* per conv or depthwise node: the batch norm folded into it, or -1 */
    long long params;     /* floats of the parameters */
} infer_layout;

static bool has_code(const mc_plan *p, int v) { return p->nodes[v].nkernels > 0; }

/* The node whose output slot node v shares (an identity, a fused
 * activation, a folded batch norm, an eval dropout: their input's). */
static int slot_owner(const mc_plan *p, int v)
{
    while (v != 0 && !has_code(p, v))
        v = p->m->nodes[v].inputs[0];
    return v;
}

/* A free list of workspace ranges: first fit, neighbours merged. */
typedef struct ranges {
    long long *at, *len;
    int n;
} ranges;

static long long take(ranges *r, long long floats, long long *top)
{
    for (int i = 0; i < r->n; i++)
        if (r->len[i] >= floats) {
            long long at = r->at[i];
            r->at[i] += floats, r->len[i] -= floats;
            return at;
        }
    long long at = *top; /* none fits: grow the workspace (taking a free range that ends it) */
    if (r->n && r->at[r->n - 1] + r->len[r->n - 1] == *top) {
        at = r->at[--r->n];
        *top = at;
    }
    *top += floats;
    return at;
}

static void give(ranges *r, long long at, long long floats)
{
    int i = 0;
    while (i < r->n && r->at[i] < at)
        i++;
    memmove(r->at + i + 1, r->at + i, (size_t)(r->n - i) * sizeof *r->at);
    memmove(r->len + i + 1, r->len + i, (size_t)(r->n - i) * sizeof *r->len);
    r->at[i] = at, r->len[i] = floats, r->n++;
    if (i + 1 < r->n && r->at[i] + r->len[i] == r->at[i + 1]) { /* merge with the next */
        r->len[i] += r->len[i + 1];
        memmove(r->at + i + 1, r->at + i + 2, (size_t)(r->n - i - 2) * sizeof *r->at);
        memmove(r->len + i + 1, r->len + i + 2, (size_t)(r->n - i - 2) * sizeof *r->len);
        r->n--;
    }
    if (i > 0 && r->at[i - 1] + r->len[i - 1] == r->at[i]) { /* with the previous */
        r->len[i - 1] += r->len[i];
        memmove(r->at + i, r->at + i + 1, (size_t)(r->n - i - 1) * sizeof *r->at);
        memmove(r->len + i, r->len + i + 1, (size_t)(r->n - i - 1) * sizeof *r->len);
        r->n--;
    }
}

/* The floats of node v's output slot, per image. */
static long long slot_floats(const mc_model *m, int v)
{
    const mc_shape o = m->nodes[v].shape;
    return aligned((long long)o.c * o.h * o.w);
}

/* Slots: each layer's output is taken before its inputs are given back
 * (no kernel reads and writes one buffer), and given back after its last
 * reader; the logits are kept to the end. */
static void plan_slots(arena *a, const mc_plan *p, infer_layout *l)
{
    const mc_model *m = p->m;
    int *last = arena_alloc(a, (size_t)m->nnodes * sizeof *last); /* the order index of its last reader */
    for (int i = 0; i < m->nnodes; i++)
        last[i] = -1;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = &m->nodes[m->order[i]];
        if (has_code(p, m->order[i]))
            for (int j = 0; j < n->ninputs; j++)
                last[slot_owner(p, n->inputs[j])] = i;
    }
    last[slot_owner(p, m->output)] = m->norder;
    ranges r = {arena_alloc(a, (size_t)(m->nnodes + 1) * sizeof(long long)),
                arena_alloc(a, (size_t)(m->nnodes + 1) * sizeof(long long)), 0};
    long long top = 0;
    l->slot = arena_alloc(a, (size_t)m->nnodes * sizeof *l->slot);
    l->slot[0] = -1;
    for (int i = 0; i < m->norder; i++) {
        const int v = m->order[i];
        if (!has_code(p, v)) {
            l->slot[v] = l->slot[slot_owner(p, v)];
            continue;
        }
        l->slot[v] = take(&r, slot_floats(m, v), &top);
        const mc_node *n = &m->nodes[v];
        for (int j = 0; j < n->ninputs; j++) {
            const int o = slot_owner(p, n->inputs[j]);
            if (o != 0 && last[o] == i) {
                give(&r, l->slot[o], slot_floats(m, o));
                last[o] = -2; /* given back once, if read twice */
            }
        }
        if (last[v] < i) /* read by nobody */
            give(&r, l->slot[v], slot_floats(m, v));
    }
    l->ws_floats = top;
}

static long long tensor_numel(const mc_model *m, const mc_node *n, int i) { return m->tensors[n->first_tensor + i].numel; }
static const char *tensor_name(const mc_model *m, const mc_node *n, int i) { return m->tensors[n->first_tensor + i].name; }

/* A conv, depthwise, MixConv or linear node's weight tensors (one per
 * kernel of a Multiception list, per group of a MixConv), the bias after
 * them; and their floats. */
static int weight_tensors(const mc_node *n) { return n->ntensors - (n->bias ? 1 : 0); }

static long long weight_floats(const mc_model *m, const mc_node *n)
{
    long long floats = 0;
    for (int t = 0; t < weight_tensors(n); t++)
        floats += tensor_numel(m, n, t);
    return floats;
}

static void plan_params(arena *a, const mc_plan *p, infer_layout *l)
{
    const mc_model *m = p->m;
    const size_t bytes = (size_t)m->nnodes * sizeof(long long);
    l->weight = arena_alloc(a, bytes), l->bias = arena_alloc(a, bytes), l->bn = arena_alloc(a, bytes);
    l->folded = arena_alloc(a, (size_t)m->nnodes * sizeof *l->folded);
    for (int i = 0; i < m->nnodes; i++) {
        l->weight[i] = l->bias[i] = l->bn[i] = -1;
        l->folded[i] = -1;
        if (p->nodes[i].fusion.bn_by == MC_BN_INTO_WEIGHTS)
            l->folded[m->nodes[i].inputs[0]] = i;
    }
    long long at = 0;
    for (int i = 0; i < m->norder; i++) {
        const int v = m->order[i];
        const mc_node *n = &m->nodes[v];
        if (!has_code(p, v))
            continue;
        switch (n->op->code) {
        case OP_CONV:
        case OP_DEPTHWISE:
        case OP_MIXCONV:
        case OP_LINEAR:
            l->weight[v] = at;
            at += aligned(weight_floats(m, n));
            if (mc_plan_has_bias(p, n)) {
                l->bias[v] = at;
                at += aligned(n->shape.c);
            }
            break;
        case OP_BATCHNORM:
            l->bn[v] = at;
            at += aligned(4LL * n->shape.c);
            break;
        default: break;
        }
    }
    l->params = at;
}

/* ---- what the loader does, for the tables and for --weights ---------------------- */

/* The runs of output channels of equal weight blocks of conv, depthwise
 * or MixConv node n (infer_fold.h); their count. */
static int weight_runs(const mc_model *m, const mc_node *n, int *channels, long long *block)
{
    const int c = m->nodes[n->inputs[0]].shape.c;
    if (n->op->code == OP_DEPTHWISE) {
        for (int j = 0; j < n->nks; j++)
            channels[j] = c, block[j] = (long long)n->ks[j] * n->ks[j];
        return n->nks;
    }
    if (n->op->code == OP_MIXCONV) { /* group j: its output channels, each its input channels of 3 + 2j squared */
        int ci[3];
        mc_mix_split(c, ci);
        mc_mix_split(n->out, channels);
        for (int j = 0; j < 3; j++)
            block[j] = (long long)ci[j] * (3 + 2 * j) * (3 + 2 * j);
        return 3;
    }
    channels[0] = n->shape.c;
    block[0] = weight_floats(m, n) / n->shape.c;
    return 1;
}

/* The walk behind both the loader's tables and the weights embedded by
 * --weights: read for each tensor the parameters take as it is, fold for
 * each batch norm folded into a conv (its four tensors, eps, where the
 * conv's weights and bias are, its runs of output channels). */
typedef struct param_walker {
    void (*read)(struct param_walker *w, const char *name, long long at, long long numel);
    void (*fold)(struct param_walker *w, const char *const tensors[4], double eps, long long weight, long long bias,
                 int nseg, const int *channels, const long long *block);
} param_walker;

static void walk_params(const mc_plan *p, const infer_layout *l, param_walker *w)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const int v = m->order[i];
        const mc_node *n = &m->nodes[v];
        if (l->weight[v] >= 0) {
            long long at = l->weight[v];
            for (int t = 0; t < weight_tensors(n); t++) {
                w->read(w, tensor_name(m, n, t), at, tensor_numel(m, n, t));
                at += tensor_numel(m, n, t);
            }
            if (n->bias)
                w->read(w, tensor_name(m, n, weight_tensors(n)), l->bias[v], n->shape.c);
            if (l->folded[v] >= 0) {
                const mc_node *bn = &m->nodes[l->folded[v]];
                const char *const tensors[4] = {tensor_name(m, bn, 0), tensor_name(m, bn, 1), tensor_name(m, bn, 2),
                                                tensor_name(m, bn, 3)};
                int channels[MC_MAX_KERNELS];
                long long block[MC_MAX_KERNELS];
                const int nseg = weight_runs(m, n, channels, block);
                w->fold(w, tensors, bn->eps, l->weight[v], l->bias[v], nseg, channels, block);
            }
        } else if (l->bn[v] >= 0)
            for (int t = 0; t < 4; t++)
                w->read(w, tensor_name(m, n, t), l->bn[v] + (long long)t * n->shape.c, n->shape.c);
    }
}

/* ---- the loader's tables ------------------------------------------------------------ */

typedef struct table_writer {
    param_walker w;
    FILE *f;
    bool folds; /* this pass writes the folds, else the reads */
} table_writer;

static void table_read(param_walker *w, const char *name, long long at, long long numel)
{
    table_writer *t = (table_writer *)w;
    if (!t->folds)
        fprintf(t->f, "MC_INFER_READ(`%s', %lld, %lld)m4_dnl\n", name, at, numel);
}

static void table_fold(param_walker *w, const char *const tensors[4], double eps, long long weight, long long bias,
                       int nseg, const int *channels, const long long *block)
{
    table_writer *t = (table_writer *)w;
    if (!t->folds)
        return;
    fputs("MC_INFER_FOLD(", t->f);
    for (int i = 0; i < 4; i++)
        fprintf(t->f, "`%s', ", tensors[i]);
    fprintf(t->f, "%.17g, %lld, %lld, %d, `", eps, weight, bias, nseg);
    for (int s = 0; s < nseg; s++)
        fprintf(t->f, "%s%d", s ? ", " : "", channels[s]);
    fputs("', `", t->f);
    for (int s = 0; s < nseg; s++)
        fprintf(t->f, "%s%lld", s ? ", " : "", block[s]);
    fputs("')m4_dnl\n", t->f);
}

/* ---- weights embedded (--weights) ----------------------------------------------------- */

typedef struct weight_reader {
    param_walker w;
    mc_st_file *ckpt;
    float *params;
    char *err;
    size_t errlen;
    bool failed;
} weight_reader;

/* Tensor `name` (or module.name) of the checkpoint, numel float32 values, into dst. */
static void ckpt_tensor(weight_reader *r, const char *name, long long numel, float *dst)
{
    if (r->failed)
        return;
    const mc_st_tensor *t = mc_st_find(r->ckpt, name);
    char wrapped[512];
    if (!t && snprintf(wrapped, sizeof wrapped, "module.%s", name) < (int)sizeof wrapped)
        t = mc_st_find(r->ckpt, wrapped);
    if (!t)
        snprintf(r->err, r->errlen, "%s: error: --weights: no tensor %s in it; expected a checkpoint of this model",
                 mc_st_path(r->ckpt), name);
    else if (t->dtype != MC_ST_F32 || t->nbytes != (size_t)numel * sizeof(float))
        snprintf(r->err, r->errlen, "%s: error: --weights: tensor %s is %s with %zu bytes; the model needs float32 "
                 "with %lld values", mc_st_path(r->ckpt), name, mc_st_dtype_name(t->dtype), t->nbytes, numel);
    else {
        memcpy(dst, t->data, t->nbytes);
        return;
    }
    r->failed = true;
}

static void weight_read(param_walker *w, const char *name, long long at, long long numel)
{
    weight_reader *r = (weight_reader *)w;
    ckpt_tensor(r, name, numel, r->params + at);
}

static void weight_fold(param_walker *w, const char *const tensors[4], double eps, long long weight, long long bias,
                        int nseg, const int *channels, const long long *block)
{
    weight_reader *r = (weight_reader *)w;
    int co = 0;
    for (int s = 0; s < nseg; s++)
        co += channels[s];
    float *stats = malloc(sizeof(float) * 4 * (size_t)co);
    if (!stats) {
        snprintf(r->err, r->errlen, "mcgen: error: out of memory");
        r->failed = true;
        return;
    }
    for (int t = 0; t < 4; t++)
        ckpt_tensor(r, tensors[t], co, stats + (size_t)t * co);
    if (!r->failed)
        mc_infer_fold(r->params + weight, r->params + bias, nseg, channels, block, stats, stats + co, stats + 2 * co,
                      stats + 3 * co, eps);
    free(stats);
}

/* ---- what the checkpoint's metadata says of the input and the classes ----------------- */

/* A C string literal of s (quotes and backslashes escaped, control
 * characters dropped). */
static const char *c_string(arena *a, const char *s, size_t len)
{
    char *out = arena_alloc(a, 2 * len + 3), *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *o++ = '\\';
        if ((unsigned char)s[i] >= 32)
            *o++ = s[i];
    }
    *o++ = '"';
    *o = 0;
    return out;
}

/* The normalization (metadata "mean" and "std": IN_C numbers, separated by
 * commas, in brackets or not) as a C initializer list; def where absent or
 * not IN_C numbers. */
static const char *number_list(arena *a, const char *value, int count, const char *def)
{
    const char *list = "";
    const char *p = value;
    for (int i = 0; p && i < count; i++) {
        while (*p == '[' || *p == ' ' || *p == ',')
            p++;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v))
            p = NULL;
        else
            list = arena_printf(a, "%s%s%.9gf", list, i ? ", " : "", v), p = end;
    }
    if (p) {
        while (*p == ' ' || *p == ']')
            p++;
        if (*p)
            p = NULL;
    }
    if (p)
        return list;
    list = "";
    for (int i = 0; i < count; i++)
        list = arena_printf(a, "%s%s%s", list, i ? ", " : "", def);
    return list;
}

/* The class names (metadata "class_names": a JSON array of strings, or one
 * name per line) as a C initializer list; NULLs where absent, or not
 * `classes` names. */
static const char *name_list(arena *a, const char *value, int classes)
{
    const char *list = "";
    if (value && value[strspn(value, " \t\r\n")] != '[') { /* one per line */
        const char *p = value;
        int i = 0;
        for (; *p && i < classes; i++) {
            size_t len = strcspn(p, "\r\n");
            list = arena_printf(a, "%s%s%s", list, i ? ", " : "", c_string(a, p, len));
            p += len;
            p += strspn(p, "\r\n");
        }
        if (i == classes && !*p)
            return list;
        value = NULL;
        list = "";
    }
    const char *p = value ? strchr(value, '[') : NULL;
    for (int i = 0; p && i < classes; i++) {
        p = strchr(p, '"');
        const char *end = p;
        while (end && *++end && *end != '"')
            if (*end == '\\' && end[1])
                end++;
        if (!p || !end || !*end)
            p = NULL;
        else {
            list = arena_printf(a, "%s%s%s", list, i ? ", " : "", c_string(a, p + 1, (size_t)(end - p - 1)));
            p = end + 1;
        }
    }
    if (p && !strchr(p, '"'))
        return list;
    list = "";
    for (int i = 0; i < classes; i++)
        list = arena_printf(a, "%s%sNULL", list, i ? ", " : "");
    return list;
}

/* ---- drivers ---------------------------------------------------------------------- */

typedef struct infer_emitter {
    emitter e;
    infer_layout l;
    const mc_infer_options *io;
    const char *families; /* the kernel files, space separated */
    const char *mean, *std, *names; /* C initializer lists */
    const char *dataset;            /* the checkpoint's, or "" */
    bool embedded;
} infer_emitter;

static void infer_constants(emitter *e)
{
    infer_emitter *ie = (infer_emitter *)e;
    char *upper = arena_printf(e->a, "%s", e->m->name);
    for (char *c = upper; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    em_def(e, "UPPER", "%s", upper);
    em_defi(e, "INFER_PARAMS", ie->l.params);
    em_defi(e, "WS_FLOATS", ie->l.ws_floats);
    em_defi(e, "OUTPUT_SLOT", ie->l.slot[e->m->output]);
    em_def(e, "FAMILIES", "%s", ie->families);
    em_defi(e, "EMBEDDED", ie->embedded);
    em_def(e, "MEAN", "%s", ie->mean);
    em_def(e, "STD", "%s", ie->std);
    em_def(e, "CLASS_NAMES", "%s", ie->names);
    em_def(e, "CHECKPOINT", "%s", ie->io->weights ? ie->io->weights : "no checkpoint");
    em_def(e, "DATASET", "%s", ie->dataset);
    em_def(e, "BUILD", "%s", e->opt->build ? e->opt->build : "");
}

static void api_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    em_driver_begin(e, f, "infer");
    fputs("MC_INFER_API()m4_dnl\n", f);
}

/* A layer's call: the plan's constants, then the library's own slots and
 * parameter offsets in place of the training step's. */
static void call_constants(infer_emitter *ie, const mc_node *n)
{
    emitter *e = &ie->e;
    const int v = (int)(n - e->m->nodes);
    em_call_constants(e, n, 0);
    for (int j = 0; j < n->ninputs; j++) {
        em_defi(e, arena_printf(e->a, "IN%d", j), ie->l.slot[n->inputs[j]]);
        em_defi(e, arena_printf(e->a, "XIN%d", j), ie->l.slot[n->inputs[j]]);
    }
    em_defi(e, "OUT", ie->l.slot[v]);
    em_defi(e, "WEIGHT", ie->l.weight[v]);
    em_defi(e, "BIAS_AT", ie->l.bias[v]);
    if (ie->l.bn[v] >= 0) {
        const long long c = n->shape.c, at = ie->l.bn[v];
        em_defi(e, "GAMMA", at);
        em_defi(e, "BETA", at + c);
        em_defi(e, "RUNNING_MEAN", at + 2 * c);
        em_defi(e, "RUNNING_VAR", at + 3 * c);
    }
}

static void source_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    infer_emitter *ie = (infer_emitter *)e;
    em_driver_begin(e, f, arena_printf(e->a, "infer %s", ie->families));
    fputs("MC_INFER_SOURCE_BEGIN()m4_dnl\nMC_INFER_READS_BEGIN()m4_dnl\n", f);
    table_writer t = {{table_read, table_fold}, f, false};
    walk_params(e->p, &ie->l, &t.w);
    fputs("MC_INFER_READS_END()m4_dnl\nMC_INFER_FOLDS_BEGIN()m4_dnl\n", f);
    t.folds = true;
    walk_params(e->p, &ie->l, &t.w);
    fputs("MC_INFER_FOLDS_END()m4_dnl\nMC_INFER_LOADER()m4_dnl\nMC_INFER_NET_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < e->m->norder; i++) {
        const int v = e->m->order[i];
        const mc_plan_node *pn = &e->p->nodes[v];
        if (pn->nkernels && mc_plan_packs(e->p, &e->p->kernels[pn->kernels[0]]))
            fprintf(f, "MC_INFER_PACK(`%s', %lld)m4_dnl\n", e->p->kernels[pn->kernels[0]].name, ie->l.weight[v]);
    }
    fputs("MC_INFER_NET_END()m4_dnl\nMC_INFER_FN_BEGIN()m4_dnl\n", f);
    const mc_model *m = e->m;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = em_node(e, m->order[i]);
        if (!has_code(e->p, m->order[i]))
            continue;
        fprintf(f, "MC_INFER_LAYER(`%s')m4_dnl\n", n->name);
        call_constants(ie, n);
        fprintf(f, "%s()m4_dnl\n", em_macro(e, n, "CALL_FWD"));
    }
    fputs("MC_INFER_FN_END()m4_dnl\n", f);
}

static void main_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    em_driver_begin(e, f, "infer");
    fputs("MC_INFER_MAIN()m4_dnl\n", f);
}

/* ---- the embedded weights: MODEL_weights.c, or MODEL.bin past embed_max ------------- */

static bool write_weights(infer_emitter *ie, mc_staging *st, const float *params, char *err, size_t errlen)
{
    emitter *e = &ie->e;
    const char *name = ie->embedded ? arena_printf(e->a, "%s_weights.c", e->m->name)
                                    : arena_printf(e->a, "%s.bin", e->m->name);
    const char *path = arena_printf(e->a, "%s/%s", st->dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: error: cannot write: %s", path, strerror(errno));
        return false;
    }
    const long long count = ie->l.params;
    if (ie->embedded) {
        /* data, not code: written here rather than through m4 (a macro call
         * per number would only slow it); hexadecimal floats are exact */
        fprintf(f, "/* Generated by mcgen from %s: the parameters of %s, batch norms folded; do not edit. */\n"
                   "#include \"%s.h\"\n\nconst float %s_params[%lld] = {\n",
                e->opt->source, ie->io->weights, e->m->name, e->m->name, count);
        for (long long i = 0; i < count; i++)
            fprintf(f, "%s%af,%s", i % 6 ? " " : "    ", (double)params[i], i % 6 == 5 || i == count - 1 ? "\n" : "");
        fputs("};\n", f);
    } else {
        unsigned char head[16] = "MCGENW01";
        for (int i = 0; i < 8; i++)
            head[8 + i] = (unsigned char)((unsigned long long)count >> (8 * i));
        fwrite(head, 1, sizeof head, f);
        fwrite(params, sizeof(float), (size_t)count, f);
    }
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "%s: error: cannot write the weights", path);
        return false;
    }
    return mc_staging_add(st, name, err, errlen);
}

/* The folded parameters of the checkpoint, and what its metadata says. */
static float *read_weights(infer_emitter *ie, char *err, size_t errlen)
{
    emitter *e = &ie->e;
    char why[512];
    mc_st_file *ckpt = mc_st_open(ie->io->weights, why, sizeof why);
    if (!ckpt) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    float *params = calloc((size_t)ie->l.params + 1, sizeof(float));
    weight_reader r = {{weight_read, weight_fold}, ckpt, params, err, errlen, !params};
    if (!params)
        snprintf(err, errlen, "mcgen: error: out of memory for %lld parameters", ie->l.params);
    walk_params(e->p, &ie->l, &r.w);
    ie->mean = number_list(e->a, mc_st_metadata(ckpt, "mean"), e->m->input.c, "0.0f");
    ie->std = number_list(e->a, mc_st_metadata(ckpt, "std"), e->m->input.c, "1.0f");
    ie->names = name_list(e->a, mc_st_metadata(ckpt, "class_names"), e->m->classes);
    const char *dataset = mc_st_metadata(ckpt, "dataset");
    ie->dataset = dataset ? c_string(e->a, dataset, strlen(dataset)) : "\"\"";
    mc_st_close(ckpt);
    if (r.failed) {
        free(params);
        return NULL;
    }
    return params;
}

bool mc_emit_inference(arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt,
                       const mc_infer_options *io, mc_staging *st, char *err, size_t errlen)
{
    infer_emitter ie = {.e = {.a = a, .m = m, .p = p, .opt = opt, .model_tmpl = "infer", .more_constants = infer_constants}, .io = io};
    plan_slots(a, p, &ie.l);
    plan_params(a, p, &ie.l);
    ie.families = em_templates_used(&ie.e);
    ie.mean = number_list(a, NULL, m->input.c, "0.0f");
    ie.std = number_list(a, NULL, m->input.c, "1.0f");
    ie.names = name_list(a, NULL, m->classes);
    ie.dataset = "\"\"";
    float *params = NULL;
    if (io->weights) {
        if (!(params = read_weights(&ie, err, errlen)))
            return false;
        ie.embedded = ie.l.params <= io->embed_max;
    }
    bool ok = em_generate(&ie.e, st, arena_printf(a, "%s.h", m->name), api_fn, NULL, err, errlen) &&
              em_generate(&ie.e, st, arena_printf(a, "%s_kernels.h", m->name), em_header_fn, NULL, err, errlen) &&
              em_generate(&ie.e, st, arena_printf(a, "%s.c", m->name), source_fn, NULL, err, errlen) &&
              em_generate_families(&ie.e, st, "%s_%s.c", err, errlen) &&
              (!params || write_weights(&ie, st, params, err, errlen)) &&
              (!opt->main || em_generate(&ie.e, st, arena_printf(a, "%s_main.c", m->name), main_fn, NULL, err, errlen));
    free(params);
    return ok;
}
