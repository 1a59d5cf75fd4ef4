/* What the emitters share (see emit_m4.h): m4 drivers from a plan, and
 * running m4 on them. Every template F.m4 defines MC_<OP>_KERNEL (the
 * kernel functions for the constants currently defined), MC_<OP>_PROTO
 * (their prototypes) and MC_<OP>_CALL_FWD / MC_<OP>_CALL_BWD (a layer's
 * statements in the model's forward and backward), where <OP> is the op's
 * name in capitals. */
#include "emit_m4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "ops.h"
#include "run.h"


/* ---- writing m4 ------------------------------------------------------------ */

void em_def(emitter *e, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void em_def(emitter *e, const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(e->f, "m4_define(`%s', `", name);
    va_start(ap, fmt);
    vfprintf(e->f, fmt, ap);
    va_end(ap);
    fputs("')m4_dnl\n", e->f);
}

void em_defi(emitter *e, const char *name, long long v) { em_def(e, name, "%lld", v); }

/* A float literal: "0.1f", "1e-05f", "0.0f" (never "0f"). */
void em_deff(emitter *e, const char *name, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", v);
    em_def(e, name, "%s%sf", buf, strpbrk(buf, ".e") ? "" : ".0");
}

const char *em_macro(emitter *e, const mc_node *n, const char *what)
{
    char *s = arena_printf(e->a, "MC_%s_%s", n->op->name, what);
    for (char *c = s; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return s;
}

const mc_node *em_node(const emitter *e, int i) { return &e->m->nodes[i]; }
mc_shape em_in_shape(const emitter *e, const mc_node *n, int i) { return em_node(e, n->inputs[i])->shape; }

/* Parameter offsets of a node's tensors: its first param (the weight) and
 * the bias that follows it, or -1. */
long long em_tensor_offset(const emitter *e, const mc_node *n, int i)
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
    em_defi(e, arena_printf(e->a, "%sOY0%s", prefix, suffix), y0);
    em_defi(e, arena_printf(e->a, "%sOY1%s", prefix, suffix), y1);
    em_defi(e, arena_printf(e->a, "%sOX0%s", prefix, suffix), x0);
    em_defi(e, arena_printf(e->a, "%sOX1%s", prefix, suffix), x1);
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
    mc_shape in = em_in_shape(e, n, 0), o = n->shape;
    em_defi(e, "C", in.c);
    em_defi(e, "H", in.h);
    em_defi(e, "W", in.w);
    em_defi(e, "CO", o.c);
    em_defi(e, "HO", o.h);
    em_defi(e, "WO", o.w);
    em_defi(e, "S", n->stride);
    em_defi(e, "BIAS", mc_plan_has_bias(e->p, n));
}

static void kernel_depthwise(emitter *e, const mc_kernel *k, const mc_node *n)
{
    int ks[MC_MAX_KERNELS], nks = k->k ? 1 : n->nks, kmax = 0;
    long long woff = 0;
    mc_shape in = em_in_shape(e, n, 0);
    const char *list = "";
    for (int j = 0; j < nks; j++) {
        ks[j] = k->k ? k->k : n->ks[j];
        kmax = ks[j] > kmax ? ks[j] : kmax;
        em_defi(e, arena_printf(e->a, "K%d", j), ks[j]);
        em_defi(e, arena_printf(e->a, "WOFF%d", j), woff);
        woff += (long long)in.c * ks[j] * ks[j];
        list = arena_printf(e->a, "%s%s%d", list, j ? ", " : "", ks[j]);
    }
    em_def(e, "KLIST", "%s", list);
    em_defi(e, "NK", nks);
    em_defi(e, "PMAX", kmax / 2);
    /* What a window spans from PMAX before its output position (kmax with
     * odd sizes; an even kernel reaches one further). */
    int kext = 0;
    for (int j = 0; j < nks; j++)
        kext = kmax / 2 - ks[j] / 2 + ks[j] > kext ? kmax / 2 - ks[j] / 2 + ks[j] : kext;
    em_defi(e, "KEXT", kext);
    em_defi(e, "YC", (long long)in.c * n->nks);
}

/* A conv's form (plan.c, mc_plan_conv_form) as CV_CLF<suffix> ... */
static void conv_form(emitter *e, const char *suffix, mc_form f)
{
    const struct {
        const char *name;
        bool on;
    } flags[] = {{"CV_CLF", f.cl_fwd}, {"CV_CLX", f.cl_dx},           {"CV_CLW", f.cl_dw},
                 {"CV_DW_OWN", f.dw_own}, {"CV_PW_PLANAR", f.pw_planar}, {"CV_PLANES", f.planes},
                 {"CV_WINO", f.wino}, {"CV_LIN", f.lin}, {"CV_SPLIT", f.split}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        em_defi(e, arena_printf(e->a, "%s%s", flags[i].name, suffix), flags[i].on);
    em_defi(e, arena_printf(e->a, "CV_PW_BATCH%s", suffix), f.pw_batch);
    em_defi(e, arena_printf(e->a, "CV_DW_INNER%s", suffix), f.dw_inner);
    em_defi(e, arena_printf(e->a, "CV_DW_BAND%s", suffix), f.dw_band);
    if (f.wino)
        for (int d = 0; d < 3; d++) {
            const char *pass = d == 2 ? "_DW" : d ? "_DX" : "";
            em_defi(e, arena_printf(e->a, "WINO_RB%s%s", pass, suffix), f.wino_tiles[d].rb);
            em_defi(e, arena_printf(e->a, "WINO_CB%s%s", pass, suffix), f.wino_tiles[d].cb);
            em_defi(e, arena_printf(e->a, "WINO_NT%s%s", pass, suffix), f.wino_tiles[d].nt);
        }
}

/* MixConv's three groups j = 0, 1, 2: kernel GK<j>, input channels
 * [GCIOFF<j>, +GCI<j>), output channels [GCOOFF<j>, +GCO<j>), weights from
 * GWOFF<j>, each group's interior GOY0<j> .. GOX1<j>, the form of the
 * conv it runs as (CV_CLF_G<j> ...) and whether the inference library
 * packs its filters (PACKS_G<j>). */
static void kernel_mixconv(emitter *e, const mc_node *n)
{
    mc_shape in = em_in_shape(e, n, 0);
    int ci[3], co[3];
    mc_mix_split(in.c, ci);
    mc_mix_split(n->out, co);
    long long cioff = 0, cooff = 0, woff = 0;
    for (int j = 0; j < 3; j++) {
        int k = 3 + 2 * j;
        em_defi(e, arena_printf(e->a, "GK%d", j), k);
        em_defi(e, arena_printf(e->a, "GCI%d", j), ci[j]);
        em_defi(e, arena_printf(e->a, "GCO%d", j), co[j]);
        em_defi(e, arena_printf(e->a, "GCIOFF%d", j), cioff);
        em_defi(e, arena_printf(e->a, "GCOOFF%d", j), cooff);
        em_defi(e, arena_printf(e->a, "GWOFF%d", j), woff);
        window_interior(e, "G", arena_printf(e->a, "%d", j), in, n->shape, k, k / 2, n->stride);
        const mc_conv_shape g = {{ci[j], in.h, in.w}, {co[j], n->shape.h, n->shape.w}, k, k / 2, n->stride, 1};
        const mc_form f = mc_plan_group_form(e->p, &g);
        conv_form(e, arena_printf(e->a, "_G%d", j), f);
        em_defi(e, arena_printf(e->a, "PACKS_G%d", j), mc_plan_conv_packs(e->p, &g, f));
        cioff += ci[j];
        cooff += co[j];
        woff += (long long)co[j] * ci[j] * k * k;
    }
}

/* FUSED: the activation a batch norm or add applies itself, or in the
 * inference library a conv, depthwise or MixConv as it stores its result
 * (plan.c, fuse_activations): none or the op's name (relu, relu6, silu,
 * hardswish, hardsigmoid).
 * FUSED_READS: what its backward reads (mc_act_reads): none, output, bits
 * or input. */
static void em_fused_act(emitter *e, const mc_fusion *fu)
{
    static const char *const reads[] = {[MC_ACT_READS_OUTPUT] = "output", [MC_ACT_READS_BITS] = "bits",
                                        [MC_ACT_READS_INPUT] = "input", [MC_ACT_READS_NONE] = "none"};
    em_def(e, "FUSED", "%s", fu->act.op ? mc_op(fu->act.op)->name : "none");
    em_def(e, "FUSED_READS", "%s", fu->act.op ? reads[fu->act.reads] : "none");
}

/* FOLD: 1 for a pointwise conv applying the batch norm it reads or that
 * batch norm (plan.c, fold_batchnorms), 2 for a batch norm an add applies
 * (apply_in_adds), 0 for the others. */
static int em_fold(const mc_node *n, const mc_fusion *fu)
{
    if ((n->op->code == OP_CONV && fu->applies_bn) || fu->bn_by == MC_BN_BY_CONV)
        return 1;
    return fu->bn_by == MC_BN_BY_ADD ? 2 : 0;
}

/* APPLY<j>: 1 when an add normalizes its input j itself (apply_in_adds). */
static void em_applies(emitter *e, const mc_node *n, const mc_fusion *fu)
{
    for (int j = 0; j < n->ninputs; j++)
        em_defi(e, arena_printf(e->a, "APPLY%d", j), (long long)(fu->applies_bn >> j & 1));
}

/* The products of a linear layer, or of a conv in its linear form, of `in`
 * inputs (0: a conv in another form) and `out` outputs
 * (linear_products.m4): LIN_BCAST_N, the batch from which its forward
 * broadcasts (0: never), and LIN_RB, its dot products' tile (plan.c). */
static void linear_constants(emitter *e, long long in, long long out)
{
    em_defi(e, "LIN_BCAST_N", in ? mc_plan_linear_bcast(e->p, in, out) : 0);
    em_defi(e, "LIN_RB", mc_plan_linear_rows(e->p));
}

void em_kernel_constants(emitter *e, const mc_kernel *k)
{
    const mc_node *n = em_node(e, k->node);
    const mc_fusion *fu = &e->p->nodes[k->node].fusion;
    em_def(e, "NAME", "%s", k->name);
    /* FOLD and PSTATS are defined for every kernel, 0 for most. PSTATS: a
     * depthwise or conv that writes the batch statistics of its output, or
     * the batch norm that reads them (plan.c, producer_statistics). */
    em_defi(e, "FOLD", em_fold(n, fu));
    em_defi(e, "PSTATS", fu->stats.writes || fu->stats.reads);
    em_defi(e, "PACKED", mc_plan_packs(e->p, k)); /* the inference library's weights packed once */
    kernel_shapes(e, n);
    switch (n->op->code) {
    case OP_DEPTHWISE:
        kernel_depthwise(e, k, n);
        em_defi(e, "DW_CL", k->form.dw_cl);
        em_defi(e, "DW_CL_ROWS", k->form.dw_rows);
        em_defi(e, "DW_CL_U", k->form.dw_unroll);
        em_fused_act(e, fu);
        break;
    case OP_CONV:
        /* its form (plan.c, conv_form) */
        conv_form(e, "", k->form);
        linear_constants(e, k->form.lin ? em_in_shape(e, n, 0).c : 0, n->out);
        em_defi(e, "K", n->k);
        em_defi(e, "PAD", n->pad);
        em_defi(e, "G", n->groups);
        window_interior(e, "", "", em_in_shape(e, n, 0), n->shape, n->k, n->pad, n->stride);
        em_fused_act(e, fu);
        break;
    case OP_MIXCONV:
        kernel_mixconv(e, n);
        em_fused_act(e, fu);
        break;
    case OP_BATCHNORM:
        em_deff(e, "EPS", n->eps);
        em_deff(e, "MOMENTUM", n->momentum);
        em_fused_act(e, fu);
        break;
    case OP_AVGPOOL: em_defi(e, "K", n->k); break;
    case OP_MAXPOOL:
        em_defi(e, "K", n->k);
        em_defi(e, "PAD", n->pad);
        break;
    case OP_SUBSAMPLE: {
        mc_shape in = em_in_shape(e, n, 0);
        em_defi(e, "OFFSET", n->offset);
        em_defi(e, "VH", inside(in.h, n->shape.h, n->offset, n->stride));
        em_defi(e, "VW", inside(in.w, n->shape.w, n->offset, n->stride));
        break;
    }
    case OP_ADD:
        em_applies(e, n, fu);
        /* fall through */
    case OP_CONCAT:
        em_fused_act(e, fu);
        em_defi(e, "NIN", n->ninputs);
        for (int i = 0; i < n->ninputs; i++)
            em_defi(e, arena_printf(e->a, "C%d", i), em_in_shape(e, n, i).c);
        break;
    case OP_RELU:
    case OP_RELU6:
    case OP_SIGMOID:
    case OP_SILU:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID: em_def(e, "ACT", "%s", n->op->name); break;
    case OP_DROPOUT: em_deff(e, "P", n->p); break;
    case OP_LINEAR: {
        const mc_shape in = em_in_shape(e, n, 0);
        linear_constants(e, (long long)in.c * in.h * in.w, n->out);
        break;
    }
    default: break;
    }
}

/* ---- per-layer constants of a call ------------------------------------------ */

/* A batch norm's parameters and statistics, each name followed by suffix
 * (an add names those of its input j "GAMMA<j>" ...). */
static void batchnorm_constants(emitter *e, const mc_node *n, const char *suffix)
{
    const mc_tensor *t = &e->m->tensors[n->first_tensor];
    const long long saved = e->p->nodes[n - e->m->nodes].saved;
    em_defi(e, arena_printf(e->a, "GAMMA%s", suffix), t[0].offset);
    em_defi(e, arena_printf(e->a, "BETA%s", suffix), t[1].offset);
    em_defi(e, arena_printf(e->a, "RUNNING_MEAN%s", suffix), t[2].offset);
    em_defi(e, arena_printf(e->a, "RUNNING_VAR%s", suffix), t[3].offset);
    em_defi(e, arena_printf(e->a, "COUNTER%s", suffix), t[4].offset);
    em_defi(e, arena_printf(e->a, "SAVED_MEAN%s", suffix), saved);
    em_defi(e, arena_printf(e->a, "SAVED_INVSTD%s", suffix), saved + n->shape.c);
}

void em_call_constants(emitter *e, const mc_node *n, int part)
{
    const mc_plan_node *pn = &e->p->nodes[n - e->m->nodes];
    const mc_fusion *fu = &pn->fusion;
    const mc_kernel *k = &e->p->kernels[pn->kernels[part]];
    em_def(e, "NAME", "%s", k->name);
    em_def(e, "LAYER", "%s", n->name);
    em_defi(e, "FOLD", em_fold(n, fu));
    em_defi(e, "PSTATS", fu->stats.writes || fu->stats.reads);
    em_defi(e, "STATS_AT", fu->stats.at);
    em_defi(e, "MASK_AT", fu->act.mask);
    em_fused_act(e, fu);
    em_defi(e, "NIN", n->ninputs);
    for (int i = 0; i < n->ninputs; i++)
        em_defi(e, arena_printf(e->a, "IN%d", i), mc_plan_input_act(e->p, n, i));
    em_defi(e, "OUT", pn->act);
    long long weight = em_tensor_offset(e, n, 0), shift = 0;
    if (k->k) { /* part `part` of an unfused Multiception */
        mc_shape in = em_in_shape(e, n, 0);
        for (int j = 0; j < part; j++)
            weight += (long long)in.c * n->ks[j] * n->ks[j];
        shift = (long long)part * in.c * n->shape.h * n->shape.w;
    }
    em_defi(e, "WEIGHT", weight);
    em_defi(e, "BIAS_AT", n->bias ? em_tensor_offset(e, n, 1) : -1);
    em_defi(e, "SHIFT", shift);
    if (n->op->code == OP_BATCHNORM)
        batchnorm_constants(e, n, "");
    else if (n->op->code == OP_CONV && fu->applies_bn) /* the batch norm it applies: its parameters and statistics */
        batchnorm_constants(e, em_node(e, n->inputs[0]), "");
    else if (n->op->code == OP_ADD) {
        /* XIN<j>: what its forward reads as input j, the input of the
         * batch norm it applies there (IN<j> stays that batch norm, whose
         * output gradient the add's backward writes) */
        em_applies(e, n, fu);
        for (int j = 0; j < n->ninputs; j++) {
            const mc_node *in = em_node(e, n->inputs[j]);
            const bool applied = fu->applies_bn >> j & 1;
            em_defi(e, arena_printf(e->a, "XIN%d", j),
                    applied ? mc_plan_input_act(e->p, in, 0) : mc_plan_input_act(e->p, n, j));
            if (applied)
                batchnorm_constants(e, in, arena_printf(e->a, "%d", j));
        }
    }
    em_defi(e, "EXTRA", pn->extra);
}

/* ---- files ------------------------------------------------------------------------ */

/* The CPU target's row (target.h), as the C templates read it: MC_CPU its
 * name, MC_ISA the intrinsics of its prelude, VL the floats of a vector,
 * VREGS the vector registers, BITS_BYTES the bytes of a vector's activation bits,
 * L2_FLOATS a thread's cache budget in floats, and the product
 * tiles GEMM_MR x GEMM_NV, GEMM_CL_MR x GEMM_CL_NV and GEMM_NT_MR. */
static void target_constants(emitter *e, const mc_target *t)
{
    em_def(e, "MC_CPU", "%s", t->name);
    em_def(e, "MC_ISA", "%s", t->isa);
    em_defi(e, "VL", t->lanes);
    em_defi(e, "VREGS", t->vregs);
    em_defi(e, "BITS_BYTES", mc_target_bits_bytes(t));
    em_defi(e, "L2_FLOATS", t->l2 / 4);
    em_defi(e, "GEMM_MR", t->gemm_mr);
    em_defi(e, "GEMM_NV", t->gemm_nv);
    em_defi(e, "GEMM_CL_MR", t->gemm_cl_mr);
    em_defi(e, "GEMM_CL_NV", t->gemm_cl_nv);
    em_defi(e, "GEMM_NT_MR", t->gemm_nt_mr);
}

static void model_constants(emitter *e)
{
    const mc_model *m = e->m;
    em_def(e, "MODEL", "%s", m->name);
    em_defi(e, "INFERENCE", e->p->opt.inference);
    em_def(e, "SOURCE", "%s", e->opt->source);
    em_def(e, "CONV_TYPE", "%s", mc_conv_type_names[m->conv_type]);
    em_defi(e, "CLASSES", m->classes);
    em_defi(e, "IN_C", m->input.c);
    em_defi(e, "IN_H", m->input.h);
    em_defi(e, "IN_W", m->input.w);
    em_defi(e, "PARAMS", m->params);
    em_defi(e, "MACS", m->macs);
    em_defi(e, "NTENSORS", m->ntensors);
    em_defi(e, "NLAYERS", m->norder);
    em_defi(e, "PARAM_FLOATS", m->param_floats);
    em_defi(e, "BUFFER_FLOATS", m->buffer_floats);
    em_defi(e, "COUNTERS", m->counters);
    em_defi(e, "ACT_FLOATS", e->p->act_floats);
    em_defi(e, "SAVED_FLOATS", e->p->saved_floats);
    em_defi(e, "EXTRA_FLOATS", e->p->extra_floats);
    em_defi(e, "OUTPUT_ACT", e->p->nodes[m->output].act);
}

void em_driver_begin(emitter *e, FILE *f, const char *templates_needed)
{
    e->f = f;
    /* The target's constants first: the templates' definitions (and the
     * macro names their comments mention) may expand them as they are read. */
    target_constants(e, e->p->opt.target);
    fprintf(f, "m4_include(`common.m4')m4_dnl\n");
    for (const char *t = templates_needed; *t;) {
        size_t len = strcspn(t, " ");
        fprintf(f, "m4_include(`%.*s.m4')m4_dnl\n", (int)len, t);
        t += len + (t[len] == ' ');
    }
    model_constants(e);
    if (e->more_constants)
        e->more_constants(e);
}

/* The templates this model needs, each once, as "depthwise conv ...". */
const char *em_templates_used(emitter *e)
{
    const char *list = "";
    for (int i = 0; i < e->p->nkernels; i++) {
        const char *t = em_node(e, e->p->kernels[i].node)->op->tmpl;
        const char *l = arena_printf(e->a, " %s ", list);
        if (!strstr(l, arena_printf(e->a, " %s ", t)))
            list = arena_printf(e->a, "%s%s%s", list, *list ? " " : "", t);
    }
    return list;
}

/* The template of the model files (the training step's or the inference library's). */
static const char *model_tmpl(const emitter *e) { return e->model_tmpl ? e->model_tmpl : "model"; }

static void em_write_header_driver(emitter *e, FILE *f)
{
    em_driver_begin(e, f, arena_printf(e->a, "%s %s", model_tmpl(e), em_templates_used(e)));
    fputs("MC_HEADER_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < e->p->nkernels; i++) {
        const mc_kernel *k = &e->p->kernels[i];
        em_kernel_constants(e, k);
        fprintf(f, "%s()m4_dnl\n", em_macro(e, em_node(e, k->node), "PROTO"));
    }
    fputs("MC_HEADER_END()m4_dnl\n", f);
}

static void em_write_kernels_driver(emitter *e, FILE *f, const char *tmpl)
{
    em_driver_begin(e, f, arena_printf(e->a, "%s %s", model_tmpl(e), tmpl));
    fprintf(f, "MC_KERNELS_BEGIN(`%s')m4_dnl\n", tmpl);
    for (int i = 0; i < e->p->nkernels; i++) {
        const mc_kernel *k = &e->p->kernels[i];
        if (strcmp(em_node(e, k->node)->op->tmpl, tmpl) != 0)
            continue;
        em_kernel_constants(e, k);
        fprintf(f, "\n%s()m4_dnl\n", em_macro(e, em_node(e, k->node), "KERNEL"));
    }
    fprintf(f, "MC_KERNELS_END(`%s')m4_dnl\n", tmpl);
}


void em_header_fn(emitter *e, FILE *f, const char *arg) { (void)arg, em_write_header_driver(e, f); }
void em_kernels_fn(emitter *e, FILE *f, const char *arg) { em_write_kernels_driver(e, f, arg); }

bool em_generate(emitter *e, mc_staging *st, const char *out, em_driver_fn fn, const char *arg, char *err,
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


bool em_generate_families(emitter *e, mc_staging *st, const char *name_fmt, char *err, size_t errlen)
{
    for (const char *t = em_templates_used(e); *t;) {
        size_t len = strcspn(t, " ");
        const char *tmpl = arena_strndup(e->a, t, len);
        if (!em_generate(e, st, arena_printf(e->a, name_fmt, e->m->name, tmpl), em_kernels_fn, tmpl, err, errlen))
            return false;
        t += len + (t[len] == ' ');
    }
    return true;
}
