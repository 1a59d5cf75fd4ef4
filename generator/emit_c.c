/* The C emitter: turns a plan into m4 drivers (constants and macro calls,
 * no C text), runs m4 on templates/c, and writes the model's header, its
 * step and tables, and one kernel file per template into DIR.
 *
 * Every template F.m4 defines MC_<OP>_KERNEL (the kernel functions for the
 * constants currently defined), MC_<OP>_PROTO (their prototypes) and
 * MC_<OP>_CALL_FWD / MC_<OP>_CALL_BWD (a layer's statements in the model's
 * forward and backward), where <OP> is the op's name in capitals. */
#include "emit.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "ops.h"
#include "run.h"

typedef struct emitter {
    arena *a;
    const mc_model *m;
    const mc_plan *p;
    const mc_emit_options *opt;
    FILE *f; /* the m4 driver being written */
} emitter;

/* ---- writing m4 ------------------------------------------------------------ */

static void def(emitter *e, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void def(emitter *e, const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(e->f, "m4_define(`%s', `", name);
    va_start(ap, fmt);
    vfprintf(e->f, fmt, ap);
    va_end(ap);
    fputs("')m4_dnl\n", e->f);
}

static void defi(emitter *e, const char *name, long long v) { def(e, name, "%lld", v); }

/* A float literal: "0.1f", "1e-05f", "0.0f" (never "0f"). */
static void deff(emitter *e, const char *name, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", v);
    def(e, name, "%s%sf", buf, strpbrk(buf, ".e") ? "" : ".0");
}

static const char *macro(emitter *e, const mc_node *n, const char *what)
{
    char *s = arena_printf(e->a, "MC_%s_%s", n->op->name, what);
    for (char *c = s; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return s;
}

static const mc_node *node(const emitter *e, int i) { return &e->m->nodes[i]; }
static mc_shape in_shape(const emitter *e, const mc_node *n, int i) { return node(e, n->inputs[i])->shape; }

/* Parameter offsets of a node's tensors: its first param (the weight) and
 * the bias that follows it, or -1. */
static long long tensor_offset(const emitter *e, const mc_node *n, int i)
{
    return i < n->ntensors ? e->m->tensors[n->first_tensor + i].offset : -1;
}

/* ---- per-op constants of a kernel ---------------------------------------- */

/* The interior of a k x k window (see mc_interior) as OY0, OY1, OX0, OX1
 * followed by `suffix` (MixConv names its groups' "GOY00" ...). No interior
 * rows: OY0 = OY1 = 0; rows but no interior columns: OX0 = OX1 = WO. */
static void window_interior(emitter *e, const char *prefix, const char *suffix, mc_shape in, mc_shape out, int k,
                            int pad, int stride)
{
    int y0, y1, x0, x1;
    mc_interior(in.h, out.h, k, pad, stride, &y0, &y1);
    mc_interior(in.w, out.w, k, pad, stride, &x0, &x1);
    if (x0 == x1)
        x0 = x1 = out.w;
    defi(e, arena_printf(e->a, "%sOY0%s", prefix, suffix), y0);
    defi(e, arena_printf(e->a, "%sOY1%s", prefix, suffix), y1);
    defi(e, arena_printf(e->a, "%sOX0%s", prefix, suffix), x0);
    defi(e, arena_printf(e->a, "%sOX1%s", prefix, suffix), x1);
}

/* How many of `out` subsampled positions offset, offset+stride, ... lie
 * inside an input of size `in`; the rest read zeros. */
static int inside(int in, int out, int offset, int stride)
{
    if (offset >= in)
        return 0;
    int v = (in - 1 - offset) / stride + 1;
    return v < out ? v : out;
}

static void kernel_shapes(emitter *e, const mc_node *n)
{
    mc_shape in = in_shape(e, n, 0), o = n->shape;
    defi(e, "C", in.c);
    defi(e, "H", in.h);
    defi(e, "W", in.w);
    defi(e, "CO", o.c);
    defi(e, "HO", o.h);
    defi(e, "WO", o.w);
    defi(e, "S", n->stride);
    defi(e, "BIAS", n->bias);
}

static void kernel_depthwise(emitter *e, const mc_kernel *k, const mc_node *n)
{
    int ks[MC_MAX_KERNELS], nks = k->k ? 1 : n->nks, kmax = 0;
    long long woff = 0;
    mc_shape in = in_shape(e, n, 0);
    const char *list = "";
    for (int j = 0; j < nks; j++) {
        ks[j] = k->k ? k->k : n->ks[j];
        kmax = ks[j] > kmax ? ks[j] : kmax;
        defi(e, arena_printf(e->a, "K%d", j), ks[j]);
        defi(e, arena_printf(e->a, "WOFF%d", j), woff);
        woff += (long long)in.c * ks[j] * ks[j];
        list = arena_printf(e->a, "%s%s%d", list, j ? ", " : "", ks[j]);
    }
    def(e, "KLIST", "%s", list);
    defi(e, "NK", nks);
    defi(e, "PMAX", kmax / 2);
    defi(e, "YC", (long long)in.c * n->nks);
}

/* MixConv's three groups j = 0, 1, 2: kernel GK<j>, input channels
 * [GCIOFF<j>, +GCI<j>), output channels [GCOOFF<j>, +GCO<j>), weights from
 * GWOFF<j>, and each group's interior GOY0<j> .. GOX1<j>. */
static void kernel_mixconv(emitter *e, const mc_node *n)
{
    mc_shape in = in_shape(e, n, 0);
    int ci[3] = {in.c / 3 + in.c % 3, in.c / 3, in.c / 3}, co[3] = {n->out / 3 + n->out % 3, n->out / 3, n->out / 3};
    long long cioff = 0, cooff = 0, woff = 0;
    for (int j = 0; j < 3; j++) {
        int k = 3 + 2 * j;
        defi(e, arena_printf(e->a, "GK%d", j), k);
        defi(e, arena_printf(e->a, "GCI%d", j), ci[j]);
        defi(e, arena_printf(e->a, "GCO%d", j), co[j]);
        defi(e, arena_printf(e->a, "GCIOFF%d", j), cioff);
        defi(e, arena_printf(e->a, "GCOOFF%d", j), cooff);
        defi(e, arena_printf(e->a, "GWOFF%d", j), woff);
        window_interior(e, "G", arena_printf(e->a, "%d", j), in, n->shape, k, k / 2, n->stride);
        cioff += ci[j];
        cooff += co[j];
        woff += (long long)co[j] * ci[j] * k * k;
    }
}

static void kernel_constants(emitter *e, const mc_kernel *k)
{
    const mc_node *n = node(e, k->node);
    def(e, "NAME", "%s", k->name);
    kernel_shapes(e, n);
    switch (n->op->code) {
    case OP_DEPTHWISE: kernel_depthwise(e, k, n); break;
    case OP_CONV:
        defi(e, "K", n->k);
        defi(e, "PAD", n->pad);
        defi(e, "G", n->groups);
        window_interior(e, "", "", in_shape(e, n, 0), n->shape, n->k, n->pad, n->stride);
        break;
    case OP_MIXCONV: kernel_mixconv(e, n); break;
    case OP_BATCHNORM:
        deff(e, "EPS", n->eps);
        deff(e, "MOMENTUM", n->momentum);
        break;
    case OP_AVGPOOL: defi(e, "K", n->k); break;
    case OP_SUBSAMPLE: {
        mc_shape in = in_shape(e, n, 0);
        defi(e, "OFFSET", n->offset);
        defi(e, "VH", inside(in.h, n->shape.h, n->offset, n->stride));
        defi(e, "VW", inside(in.w, n->shape.w, n->offset, n->stride));
        break;
    }
    case OP_ADD:
    case OP_CONCAT:
        defi(e, "NIN", n->ninputs);
        for (int i = 0; i < n->ninputs; i++)
            defi(e, arena_printf(e->a, "C%d", i), in_shape(e, n, i).c);
        break;
    case OP_RELU:
    case OP_RELU6:
    case OP_SIGMOID: def(e, "ACT", "%s", n->op->name); break;
    case OP_DROPOUT: deff(e, "P", n->p); break;
    default: break;
    }
}

/* ---- per-layer constants of a call ------------------------------------------ */

static void call_constants(emitter *e, const mc_node *n, int part)
{
    const mc_plan_node *pn = &e->p->nodes[n - e->m->nodes];
    const mc_kernel *k = &e->p->kernels[pn->kernels[part]];
    def(e, "NAME", "%s", k->name);
    def(e, "LAYER", "%s", n->name);
    defi(e, "NIN", n->ninputs);
    for (int i = 0; i < n->ninputs; i++)
        defi(e, arena_printf(e->a, "IN%d", i), e->p->nodes[n->inputs[i]].act);
    defi(e, "OUT", pn->act);
    long long weight = tensor_offset(e, n, 0), shift = 0;
    if (k->k) { /* part `part` of an unfused Multiception */
        mc_shape in = in_shape(e, n, 0);
        for (int j = 0; j < part; j++)
            weight += (long long)in.c * n->ks[j] * n->ks[j];
        shift = (long long)part * in.c * n->shape.h * n->shape.w;
    }
    defi(e, "WEIGHT", weight);
    defi(e, "BIAS_AT", n->bias ? tensor_offset(e, n, 1) : -1);
    defi(e, "SHIFT", shift);
    if (n->op->code == OP_BATCHNORM) {
        const mc_tensor *t = &e->m->tensors[n->first_tensor];
        defi(e, "GAMMA", t[0].offset);
        defi(e, "BETA", t[1].offset);
        defi(e, "RUNNING_MEAN", t[2].offset);
        defi(e, "RUNNING_VAR", t[3].offset);
        defi(e, "COUNTER", t[4].offset);
        defi(e, "SAVED_MEAN", pn->saved);
        defi(e, "SAVED_INVSTD", pn->saved + n->shape.c);
    }
    defi(e, "EXTRA", pn->extra);
}

/* ---- files ------------------------------------------------------------------------ */

static void model_constants(emitter *e)
{
    const mc_model *m = e->m;
    def(e, "MODEL", "%s", m->name);
    def(e, "SOURCE", "%s", e->opt->source);
    def(e, "CONV_TYPE", "%s", mc_conv_type_names[m->conv_type]);
    defi(e, "CLASSES", m->classes);
    defi(e, "IN_C", m->input.c);
    defi(e, "IN_H", m->input.h);
    defi(e, "IN_W", m->input.w);
    defi(e, "PARAMS", m->params);
    defi(e, "MACS", m->macs);
    defi(e, "NTENSORS", m->ntensors);
    defi(e, "NLAYERS", m->norder);
    defi(e, "PARAM_FLOATS", m->param_floats);
    defi(e, "BUFFER_FLOATS", m->buffer_floats);
    defi(e, "COUNTERS", m->counters);
    defi(e, "ACT_FLOATS", e->p->act_floats);
    defi(e, "SAVED_FLOATS", e->p->saved_floats);
    defi(e, "EXTRA_FLOATS", e->p->extra_floats);
    defi(e, "OUTPUT_ACT", e->p->nodes[m->output].act);
}

static void driver_begin(emitter *e, FILE *f, const char *templates_needed)
{
    e->f = f;
    fprintf(f, "m4_include(`common.m4')m4_dnl\n");
    for (const char *t = templates_needed; *t;) {
        size_t len = strcspn(t, " ");
        fprintf(f, "m4_include(`%.*s.m4')m4_dnl\n", (int)len, t);
        t += len + (t[len] == ' ');
    }
    model_constants(e);
}

/* The templates this model needs, each once, as "depthwise conv ...". */
static const char *templates_used(emitter *e)
{
    const char *list = "";
    for (int i = 0; i < e->p->nkernels; i++) {
        const char *t = node(e, e->p->kernels[i].node)->op->tmpl;
        const char *l = arena_printf(e->a, " %s ", list);
        if (!strstr(l, arena_printf(e->a, " %s ", t)))
            list = arena_printf(e->a, "%s%s%s", list, *list ? " " : "", t);
    }
    return list;
}

static void write_header_driver(emitter *e, FILE *f)
{
    driver_begin(e, f, arena_printf(e->a, "model %s", templates_used(e)));
    fputs("MC_HEADER_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < e->p->nkernels; i++) {
        const mc_kernel *k = &e->p->kernels[i];
        kernel_constants(e, k);
        fprintf(f, "%s()m4_dnl\n", macro(e, node(e, k->node), "PROTO"));
    }
    fputs("MC_HEADER_END()m4_dnl\n", f);
}

static void write_kernels_driver(emitter *e, FILE *f, const char *tmpl)
{
    driver_begin(e, f, arena_printf(e->a, "model %s", tmpl));
    fprintf(f, "MC_KERNELS_BEGIN(`%s')m4_dnl\n", tmpl);
    for (int i = 0; i < e->p->nkernels; i++) {
        const mc_kernel *k = &e->p->kernels[i];
        if (strcmp(node(e, k->node)->op->tmpl, tmpl) != 0)
            continue;
        kernel_constants(e, k);
        fprintf(f, "\n%s()m4_dnl\n", macro(e, node(e, k->node), "KERNEL"));
    }
}

static const char *layer_kind(const mc_node *n)
{
    static const char *const kinds[] = {
        [OP_CONV] = "MC_L_CONV", [OP_DEPTHWISE] = "MC_L_DEPTHWISE", [OP_MIXCONV] = "MC_L_MIXCONV",
        [OP_BATCHNORM] = "MC_L_BATCHNORM", [OP_RELU] = "MC_L_RELU", [OP_RELU6] = "MC_L_RELU6",
        [OP_SIGMOID] = "MC_L_SIGMOID", [OP_IDENTITY] = "MC_L_IDENTITY", [OP_ADD] = "MC_L_ADD",
        [OP_CONCAT] = "MC_L_CONCAT", [OP_SCALE] = "MC_L_SCALE", [OP_AVGPOOL] = "MC_L_AVGPOOL",
        [OP_SUBSAMPLE] = "MC_L_SUBSAMPLE", [OP_LINEAR] = "MC_L_LINEAR", [OP_DROPOUT] = "MC_L_DROPOUT",
        [OP_SHAKE] = "MC_L_SHAKE",
    };
    return kinds[n->op->code];
}

static void layer_row(emitter *e, const mc_node *n)
{
    const mc_plan_node *pn = &e->p->nodes[n - e->m->nodes];
    mc_shape in = in_shape(e, n, 0);
    const char *inputs = "", *ks = "";
    for (int i = 0; i < n->ninputs; i++)
        inputs = arena_printf(e->a, "%s%s%d", inputs, i ? ", " : "", e->p->nodes[n->inputs[i]].layer);
    for (int j = 0; j < n->nks; j++)
        ks = arena_printf(e->a, "%s%s%d", ks, j ? ", " : "", n->ks[j]);
    def(e, "L_NAME", "%s", n->name);
    def(e, "L_KIND", "%s", layer_kind(n));
    def(e, "L_INPUTS", "%s", inputs);
    defi(e, "L_NIN", n->ninputs);
    defi(e, "L_C", n->shape.c);
    defi(e, "L_H", n->shape.h);
    defi(e, "L_W", n->shape.w);
    defi(e, "L_IN_C", in.c);
    defi(e, "L_IN_H", in.h);
    defi(e, "L_IN_W", in.w);
    defi(e, "L_K", n->k);
    defi(e, "L_STRIDE", n->stride);
    defi(e, "L_PAD", n->pad < 0 ? 0 : n->pad);
    defi(e, "L_GROUPS", n->groups);
    defi(e, "L_OFFSET", n->offset);
    defi(e, "L_BIAS", n->bias);
    defi(e, "L_NK", n->nks);
    def(e, "L_KS", "%s", *ks ? ks : "0");
    deff(e, "L_EPS", n->eps);
    deff(e, "L_MOMENTUM", n->momentum);
    deff(e, "L_P", n->p);
    defi(e, "L_ACT", pn->act);
    bool bn = n->op->code == OP_BATCHNORM;
    defi(e, "L_WEIGHT", n->ntensors ? tensor_offset(e, n, 0) : -1);
    defi(e, "L_BIAS_AT", bn ? tensor_offset(e, n, 1) : n->bias ? tensor_offset(e, n, 1) : -1);
    defi(e, "L_RUNNING", bn ? tensor_offset(e, n, 2) : -1);
    defi(e, "L_COUNTER", bn ? tensor_offset(e, n, 4) : -1);
    defi(e, "L_SAVED", pn->saved);
    defi(e, "L_EXTRA", pn->extra);
    fputs("MC_LAYER()m4_dnl\n", e->f);
}

static void write_model_driver(emitter *e, FILE *f)
{
    const mc_model *m = e->m;
    driver_begin(e, f, arena_printf(e->a, "model loss %s", templates_used(e)));
    fputs("MC_SOURCE_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = node(e, m->order[i]);
        const mc_plan_node *pn = &e->p->nodes[m->order[i]];
        fprintf(f, "MC_LAYER_FWD_BEGIN(%d, %s)m4_dnl\n", i, n->name);
        for (int part = 0; part < pn->nkernels; part++) {
            call_constants(e, n, part);
            fprintf(f, "%s()m4_dnl\n", macro(e, n, "CALL_FWD"));
        }
        fprintf(f, "MC_LAYER_END()m4_dnl\nMC_LAYER_BWD_BEGIN(%d, %s)m4_dnl\n", i, n->name);
        for (int part = pn->nkernels - 1; part >= 0; part--) {
            call_constants(e, n, part);
            fprintf(f, "%s()m4_dnl\n", macro(e, n, "CALL_BWD"));
        }
        fputs("MC_LAYER_END()m4_dnl\n", f);
    }
    fputs("MC_STEP()m4_dnl\nMC_TENSORS_BEGIN()m4_dnl\n", f);
    static const char *const init_kinds[] = {"MC_INIT_ZEROS", "MC_INIT_ONES", "MC_INIT_NORMAL", "MC_INIT_UNIFORM"};
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor *t = &m->tensors[i];
        fprintf(f, "MC_TENSOR(%s, %d, %d, %d, %d, %d, %lld, %s, %lld, %s, %.17g, %d)m4_dnl\n", t->name, t->ndim,
                t->shape[0], t->ndim > 1 ? t->shape[1] : 0, t->ndim > 2 ? t->shape[2] : 0,
                t->ndim > 3 ? t->shape[3] : 0, t->numel,
                t->dtype == MC_I64 ? "MC_AREA_COUNTER" : t->is_param ? "MC_AREA_PARAM" : "MC_AREA_BUFFER", t->offset,
                init_kinds[t->init.kind], t->init.a, !m->nodes[t->node].unused);
    }
    fputs("MC_TENSORS_END()m4_dnl\nMC_LAYERS_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < m->norder; i++)
        layer_row(e, node(e, m->order[i]));
    fputs("MC_LAYERS_END()m4_dnl\nMC_DESCRIPTOR()m4_dnl\n", f);
}

/* ---- the driver of it all ------------------------------------------------------------ */

typedef void (*driver_fn)(emitter *e, FILE *f, const char *arg);

static void header_fn(emitter *e, FILE *f, const char *arg) { (void)arg, write_header_driver(e, f); }
static void model_fn(emitter *e, FILE *f, const char *arg) { (void)arg, write_model_driver(e, f); }
static void kernels_fn(emitter *e, FILE *f, const char *arg) { write_kernels_driver(e, f, arg); }

static void main_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    driver_begin(e, f, "main");
    defi(e, "GENERIC", e->opt->generic);
    def(e, "BUILD", "%s", e->opt->build ? e->opt->build : "");
    fputs("MC_MAIN()m4_dnl\n", f);
}

/* Writes one driver, runs m4 on it into `out` inside the staging folder. */
static bool generate(emitter *e, mc_staging *st, const char *out, driver_fn fn, const char *arg, char *err,
                     size_t errlen)
{
    char *driver = arena_printf(e->a, "%s/%s.m4", st->dir, out);
    FILE *f = fopen(driver, "w");
    if (!f) {
        snprintf(err, errlen, "%s: error: cannot write: %s", driver, strerror(errno));
        return false;
    }
    fn(e, f, arg);
    bool ok = !ferror(f);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        snprintf(err, errlen, "%s: error: cannot write the m4 driver", driver);
        return false;
    }
    return mc_run_m4(e->opt->m4, e->opt->templates, driver, arena_printf(e->a, "%s/%s", st->dir, out), err,
                     errlen) &&
           mc_staging_add(st, out, err, errlen);
}

bool mc_emit_c(arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st, char *err,
               size_t errlen)
{
    emitter e = {.a = a, .m = m, .p = p, .opt = opt};
    if (!generate(&e, st, arena_printf(a, "%s.h", m->name), header_fn, NULL, err, errlen) ||
        !generate(&e, st, arena_printf(a, "%s.c", m->name), model_fn, NULL, err, errlen))
        return false;
    const char *list = templates_used(&e);
    for (const char *t = list; *t;) {
        size_t len = strcspn(t, " ");
        const char *tmpl = arena_strndup(a, t, len);
        if (!generate(&e, st, arena_printf(a, "%s_%s.c", m->name, tmpl), kernels_fn, tmpl, err, errlen))
            return false;
        t += len + (t[len] == ' ');
    }
    return !opt->main || generate(&e, st, arena_printf(a, "%s_main.c", m->name), main_fn, NULL, err, errlen);
}
