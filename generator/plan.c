/* The plan stage (see plan.h): buffer slots and kernel signatures. */
#include "plan.h"

#include <string.h>

#include "arena.h"
#include "ops.h"

void mc_interior(int in, int out, int k, int pad, int stride, int *lo, int *hi)
{
    /* Output o reads inputs o*stride - pad .. o*stride - pad + k - 1. */
    int first = (pad + stride - 1) / stride;
    int last = in - k + pad >= 0 ? (in - k + pad) / stride : -1;
    if (last >= out)
        last = out - 1;
    *lo = first;
    *hi = last + 1;
    if (*hi <= *lo)
        *lo = *hi = 0;
}

static const char *kernel_list(struct arena *a, const int *ks, int nks)
{
    const char *s = "";
    for (int j = 0; j < nks; j++)
        s = arena_printf(a, "%s%s%d", s, j ? "_" : "", ks[j]);
    return s;
}

/* A number as part of a C identifier: %g with '.' as p and '-' as m
 * (eps 0.001 -> "0p001", 1e-05 -> "1em05"). */
static const char *ident_number(struct arena *a, double v)
{
    char *s = arena_printf(a, "%g", v);
    for (char *c = s; *c; c++)
        *c = *c == '.' ? 'p' : *c == '-' ? 'm' : *c == '+' ? 'p' : *c;
    return s;
}

/* The name of the kernel that runs node n (part `k` of an unfused
 * depthwise, else k = 0): everything the code depends on is in it. */
static const char *signature(struct arena *a, const mc_plan *p, const mc_node *n, int k)
{
    const mc_model *m = p->m;
    mc_shape in = n->ninputs ? m->nodes[n->inputs[0]].shape : n->shape, o = n->shape;
    const mc_fusion *fu = &p->nodes[n - m->nodes].fusion;
    const char *fused = fu->act.op ? arena_printf(a, "_%s", mc_op(fu->act.op)->name) : "";
    long long count = (long long)o.c * o.h * o.w;
    switch (n->op->code) {
    case OP_CONV:
        return arena_printf(a, "conv_k%d_c%d_%d_%dx%d_s%d_p%d%s%s%s%s%s", n->k, in.c, n->out, in.h, in.w, n->stride,
                            n->pad, n->groups > 1 ? arena_printf(a, "_g%d", n->groups) : "", mc_plan_has_bias(p, n) ? "_b" : "",
                            fu->applies_bn ? "_bn" : "", fu->stats.writes ? "_stats" : "", fused);
    case OP_DEPTHWISE:
        /* A part of an unfused list writes into the list's output, whose
         * channel count (y<C>) is part of its code. */
        return arena_printf(a, "dw_k%s_c%d_%dx%d_s%d%s%s%s%s", k ? arena_printf(a, "%d", k) : kernel_list(a, n->ks, n->nks),
                            in.c, in.h, in.w, n->stride, mc_plan_has_bias(p, n) ? "_b" : "",
                            k && o.c != in.c ? arena_printf(a, "_y%d", o.c) : "", fu->stats.writes ? "_stats" : "", fused);
    case OP_MIXCONV:
        return arena_printf(a, "mixconv_c%d_%d_%dx%d_s%d%s%s", in.c, n->out, in.h, in.w, n->stride,
                            mc_plan_has_bias(p, n) ? "_b" : "", fused);
    case OP_BATCHNORM: {
        if (fu->bn_by == MC_BN_BY_CONV)
            fused = "_stats";
        else if (fu->bn_by == MC_BN_BY_ADD)
            fused = "_byadd";
        const char *from = fu->stats.reads ? "_pstats" : "";
        if (n->eps != 1e-5 || n->momentum != 0.1)
            return arena_printf(a, "bn_c%d_%dx%d_e%s_m%s%s%s", o.c, o.h, o.w, ident_number(a, n->eps),
                                ident_number(a, n->momentum), fused, from);
        return arena_printf(a, "bn_c%d_%dx%d%s%s", o.c, o.h, o.w, fused, from);
    }
    case OP_RELU: return arena_printf(a, "relu_n%lld", count);
    case OP_RELU6: return arena_printf(a, "relu6_n%lld", count);
    case OP_SIGMOID: return arena_printf(a, "sigmoid_n%lld", count);
    case OP_SILU: return arena_printf(a, "silu_n%lld", count);
    case OP_HARDSWISH: return arena_printf(a, "hardswish_n%lld", count);
    case OP_HARDSIGMOID: return arena_printf(a, "hardsigmoid_n%lld", count);
    case OP_ADD: { /* the inputs it normalizes, as "_bn0_2" */
        const char *bn = "";
        for (int j = 0; j < n->ninputs; j++)
            if (fu->applies_bn >> j & 1)
                bn = arena_printf(a, "%s%s%d", bn, *bn ? "_" : "_bn", j);
        return arena_printf(a, "add%d_n%lld%s%s", n->ninputs, count, bn, fused);
    }
    case OP_CONCAT: {
        const char *cs = "";
        for (int i = 0; i < n->ninputs; i++)
            cs = arena_printf(a, "%s_%d", cs, m->nodes[n->inputs[i]].shape.c);
        return arena_printf(a, "concat_c%s_%dx%d", cs, o.h, o.w);
    }
    case OP_SCALE: return arena_printf(a, "scale_c%d_%dx%d", o.c, o.h, o.w);
    case OP_AVGPOOL:
        if (n->k == 0)
            return arena_printf(a, "gap_c%d_%dx%d", in.c, in.h, in.w);
        return arena_printf(a, "avgpool_k%d_c%d_%dx%d_s%d", n->k, in.c, in.h, in.w, n->stride);
    case OP_MAXPOOL:
        return arena_printf(a, "maxpool_k%d_c%d_%dx%d_s%d_p%d", n->k, in.c, in.h, in.w, n->stride, n->pad);
    case OP_SUBSAMPLE:
        return arena_printf(a, "subsample_c%d_%dx%d_s%d_o%d", in.c, in.h, in.w, n->stride, n->offset);
    case OP_LINEAR:
        return arena_printf(a, "linear_%lld_%d%s", (long long)in.c * in.h * in.w, n->out, n->bias ? "_b" : "");
    case OP_DROPOUT: return arena_printf(a, "dropout_n%lld", count);
    case OP_SHAKE: return arena_printf(a, "shake_n%lld", count);
    default: return NULL; /* input, identity: no code */
    }
}

static int find_or_add_kernel(struct arena *a, mc_plan *p, int *cap, const char *name, int node, int k)
{
    for (int i = 0; i < p->nkernels; i++)
        if (strcmp(p->kernels[i].name, name) == 0) {
            p->kernels[i].uses++;
            return i;
        }
    p->kernels = arena_grow(a, p->kernels, p->nkernels, cap, sizeof *p->kernels);
    p->kernels[p->nkernels] = (mc_kernel){name, node, k, 1, mc_plan_form(p, &p->m->nodes[node], k)};
    return p->nkernels++;
}

/* How many nodes read node b (not counting it being the output). */
static int readers(const mc_model *m, int b)
{
    int count = 0;
    for (int j = 0; j < m->norder; j++)
        for (int q = 0; q < m->nodes[m->order[j]].ninputs; q++)
            count += m->nodes[m->order[j]].inputs[q] == b;
    return count;
}

/* What the backward of activation act fused into a layer of op into reads
 * (mc_act_reads), or -1 where it is not fused. */
static int fused_act_reads(const mc_plan *p, int act, int into)
{
    const bool recomputed = act == OP_SILU || act == OP_HARDSWISH || act == OP_HARDSIGMOID;
    if (into == OP_CONV || into == OP_DEPTHWISE || into == OP_MIXCONV) /* inference: no backward reads it */
        return p->opt.inference && (recomputed || act == OP_RELU || act == OP_RELU6) ? MC_ACT_READS_NONE : -1;
    if (act == OP_RELU || act == OP_RELU6)
        return p->opt.cuda ? MC_ACT_READS_OUTPUT : MC_ACT_READS_BITS;
    return recomputed && into == OP_BATCHNORM && !p->opt.cuda && !p->opt.cuda_too ? MC_ACT_READS_INPUT : -1;
}

/* Inference: the conv, depthwise or MixConv whose stores could apply an
 * activation reading node b: b itself, or the one whose weights took
 * batch norm b (fold_into_weights); -1 for none, and outside inference. */
static int conv_storing(const mc_plan *p, int b)
{
    const mc_model *m = p->m;
    if (!p->opt.inference)
        return -1;
    if (p->nodes[b].fusion.bn_by == MC_BN_INTO_WEIGHTS)
        b = m->nodes[b].inputs[0];
    const int code = m->nodes[b].op->code;
    return code == OP_CONV || code == OP_DEPTHWISE || code == OP_MIXCONV ? b : -1;
}

/* A ReLU or ReLU6 whose input is a batch norm or an add that nothing else
 * reads (not the output either) is done by that layer: it writes the
 * activation of its result, and its backward masks the output gradient
 * where that output is 0 (or 6). The activation's slot is the layer's own,
 * as for an identity. That saves the activation's passes over memory: one
 * read and one write forward, two reads and a write backward, against one
 * more read (the output) in the layer's own backward. Not on planes smaller
 * than a vector (16 floats): a batch norm walks them one short plane at a
 * time, and reading the output too made its backward on 960 x 2 x 2 slower
 * than it and the ReLU apart (0.37 against 0.29 ms, batch 64).
 * SiLU, hard-swish and hard-sigmoid likewise, into a batch norm only and
 * in the C target: their derivative is not 0 or 1, so neither the output
 * nor bits tell it; the batch norm's backward, which reads its input and
 * statistics anyway, recomputes its result before the activation and
 * takes the derivative there (MC_ACT_READS_INPUT). Its two passes each
 * recompute it, a chain of an exponential and a division per vector: on
 * planes of a vector or two that latency, plane after plane, cost more
 * than the activation's own passes saved, so those take planes of 64
 * floats or more.
 * Inference: any of the five after a conv, depthwise or MixConv (its only
 * reader), or after the batch norm folded into one (fold_into_weights), is
 * done by that conv as it stores its result (conv_storing); no backward,
 * so no plane is too small. */
static void fuse_activations(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *r = &m->nodes[m->order[i]];
        if (r->ninputs != 1)
            continue;
        const int b = r->inputs[0];
        const int code = m->nodes[b].op->code;
        const int conv = conv_storing(p, b);
        const int into = conv >= 0 ? conv : b;
        const int reads = fused_act_reads(p, r->op->code, m->nodes[into].op->code);
        const int min_plane = conv >= 0 ? 0 : reads == MC_ACT_READS_INPUT ? 64 : 16;
        if (reads < 0 || (conv < 0 && code != OP_BATCHNORM && code != OP_ADD) || b == m->output ||
            r->shape.h * r->shape.w < min_plane)
            continue;
        if (readers(m, b) == 1) {
            p->nodes[into].fusion.act.op = r->op->code;
            p->nodes[into].fusion.act.reads = (mc_act_reads)reads;
            p->nodes[m->order[i]].fusion.act_by_input = true;
        }
    }
}

/* Inference: a batch norm in eval mode is y = x * scale + shift per channel
 * (scale = gamma / sqrt(var + eps), shift = beta - mean * scale), so one
 * that is the only reader of a conv or depthwise (any kernels, stride or
 * groups) is folded into it: the weights of each output channel times its
 * scale, the bias (0 where there was none) times it plus its shift. The
 * batch norm has no code and its slot is the conv's; an activation after
 * it is the conv's too (fuse_activations). The arithmetic is the emitted
 * library's (templates/c/infer.m4), done once at load time, or by the
 * generator for weights embedded in the C. A MixConv likewise: its groups
 * take the bias there (mixconv.m4), which they have nowhere else. */
static void fold_into_weights(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const int b = m->order[i];
        const mc_node *bn = &m->nodes[b];
        if (bn->op->code != OP_BATCHNORM)
            continue;
        const int c = bn->inputs[0];
        const int code = m->nodes[c].op->code;
        if ((code != OP_CONV && code != OP_DEPTHWISE && code != OP_MIXCONV) || m->nodes[c].unused || c == m->output || readers(m, c) != 1)
            continue;
        p->nodes[b].fusion.bn_by = MC_BN_INTO_WEIGHTS;
        p->nodes[c].fusion.absorbs_bn = true;
    }
}

/* Whether a node's input channels fill whole vectors of the target's lanes
 * (a channels-last depthwise otherwise leaves lanes of its last one idle). */
static bool whole_vectors(const mc_plan *p, const mc_node *n)
{
    return p->m->nodes[n->inputs[0]].shape.c % p->opt.target->lanes == 0;
}

static mc_conv_shape conv_shape(const mc_model *m, const mc_node *n);

bool mc_plan_conv_packs(const mc_plan *p, const mc_conv_shape *c, mc_form f)
{
    return p->opt.inference && f.cl_fwd && c->out.c % p->opt.target->lanes == 0;
}

bool mc_plan_packs(const mc_plan *p, const mc_kernel *k)
{
    if (!p->opt.inference)
        return false;
    const mc_node *n = &p->m->nodes[k->node];
    switch (n->op->code) {
    case OP_CONV: {
        const mc_conv_shape c = conv_shape(p->m, n);
        return mc_plan_conv_packs(p, &c, k->form);
    }
    case OP_DEPTHWISE: /* a vector of channels per tap, the last one whole */
        return k->form.dw_cl && whole_vectors(p, n);
    case OP_MIXCONV: return true; /* each group as mc_plan_conv_packs says (mixconv.m4, PACKS_G<j>) */
    default: return false;
    }
}

bool mc_plan_has_bias(const mc_plan *p, const mc_node *n) { return n->bias || p->nodes[n - p->m->nodes].fusion.absorbs_bn; }

/* A batch norm (no activation after it) read only by a pointwise conv is
 * applied by that conv: conv(bn(x)) = (w * scale) x + (bias + w shift)
 * with scale = gamma / std and shift = beta - mean * scale per channel, so
 * the batch norm's forward only takes the statistics and its output is
 * never written or read. The backward needs no output either: the conv's
 * filter gradient against the normalized input, w^T dy and the batch
 * norm's two sums per channel all come from one product with x normalized
 * as it is transposed (templates/c/conv.m4), and the input gradient of the
 * batch norm is w^T dy scaled plus a per-channel line in x, written by the
 * conv's input-gradient pass. At 48 x 28 x 28 that saves the batch norm's
 * normalizing pass (a read and a write), and in the backward its two
 * passes (five streams) and the write of the conv's input gradient. The
 * templates do it where the filter gradient takes the channels-last form
 * (conv_form: a gathered strided image fitting a thread) and the input
 * channels fill whole vectors (the normalizing transpose reads the
 * statistics a vector at a time). */
static void fold_batchnorms(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const int v = m->order[i];
        const mc_node *c = &m->nodes[v];
        if (c->op->code != OP_CONV || c->k != 1 || c->pad != 0 || c->groups != 1)
            continue;
        const int b = c->inputs[0];
        const mc_node *bn = &m->nodes[b];
        if (bn->op->code != OP_BATCHNORM || p->nodes[b].fusion.act.op || b == m->output || readers(m, b) != 1 ||
            !mc_plan_form(p, c, 0).cl_dw || !whole_vectors(p, c))
            continue;
        p->nodes[b].fusion.bn_by = MC_BN_BY_CONV;
        p->nodes[v].fusion.applies_bn = 1;
    }
}

/* A batch norm (no activation after it) read only by an add, once, is
 * applied by that add in the C target: the add reads the batch norm's
 * input and normalizes it per channel as it sums, so the batch norm's
 * forward only takes the statistics (as a folded one's) and its output is
 * never written or read: a write and a read of a whole activation less
 * (ResNet's bn2 and projection shortcuts' batch norms, before the residual
 * add). The backward is unchanged: the add writes the batch norm's output
 * gradient, whose backward reads its input, not its output. */
static void apply_in_adds(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const int a = m->order[i];
        const mc_node *add = &m->nodes[a];
        if (add->op->code != OP_ADD)
            continue;
        for (int j = 0; j < add->ninputs; j++) {
            const int b = add->inputs[j];
            const mc_fusion *fb = &p->nodes[b].fusion;
            if (m->nodes[b].op->code == OP_BATCHNORM && !fb->act.op && fb->bn_by == MC_BN_ITSELF && b != m->output &&
                readers(m, b) == 1) {
                p->nodes[b].fusion.bn_by = MC_BN_BY_ADD;
                p->nodes[a].fusion.applies_bn |= 1ULL << j;
            }
        }
    }
}

/* ---- kernel forms ------------------------------------------------------------
 * Which form each conv and depthwise kernel takes, decided here once from
 * its shape and the target (target.h): for the kernels (the templates
 * render it) and for the fusions that need one (fold_batchnorms,
 * producer_statistics). The budgets are a thread's share of L2
 * (target->l2): a form whose scratch passes it takes the planar form. */

/* A depthwise conv (kernels ks) takes its channels-last form at stride 1
 * with odd kernels: one vector holds a pixel of VL channels, so every tap
 * reads an aligned vector (depthwise_cl.m4). Channels that do not fill
 * the last vector leave its other lanes idle: the form is taken while at
 * least half the lanes work (taps on flat planes read vectors split over
 * two cache lines, at half the load rate).
 * Its scratch, two padded images and a result of one group of lanes, is
 * taken in bands of output rows that fit the budget: the whole plane when
 * it fits, else bands of equal height (the padding rows read twice at each
 * band's edges). Returns the rows of a band, 0 where the form does not
 * apply (or not even one row fits). */
static int depthwise_cl_rows(const mc_model *m, const mc_target *t, const mc_node *d, const int *ks, int nks)
{
    const mc_shape in = m->nodes[d->inputs[0]].shape;
    int pmax = 0;
    for (int j = 0; j < nks; j++) {
        if (ks[j] % 2 == 0)
            return 0;
        pmax = ks[j] / 2 > pmax ? ks[j] / 2 : pmax;
    }
    const int groups = (in.c + t->lanes - 1) / t->lanes;
    if (d->stride != 1 || 2 * in.c < groups * t->lanes || d->shape.h != in.h || d->shape.w != in.w)
        return 0;
    const long long wp = in.w + 2 * pmax, fixed = 2LL * 2 * pmax * wp * t->lanes * 4,
                    per_row = (2 * wp + in.w) * t->lanes * 4;
    const long long fit = fixed < t->l2 ? (t->l2 - fixed) / per_row : 0;
    if (fit < 1)
        return 0;
    if (fit >= in.h)
        return in.h;
    const long long bands = (in.h + fit - 1) / fit;
    return (int)((in.h + bands - 1) / bands);
}

/* A channels-last depthwise row (depthwise_cl.m4) goes in blocks of u
 * outputs, u accumulators in registers: u divides the row when one of 8,
 * 7, 6, 5 does (no tail), else 8 and a shorter last block; at most half the
 * target's registers for the sums, and 8 (with 16 registers, blocks of 8
 * against 6 made the avx2 [3,5,7] forward at 28 x 28 1.08x and its
 * backward 1.04x faster, the loads of the inputs reissued rather than
 * held; kernels alternated call by call). */
static int depthwise_cl_unroll(const mc_target *t, int wo)
{
    const int umax = t->vregs / 2 < 8 ? t->vregs / 2 : 8;
    if (wo <= umax)
        return wo;
    for (int u = 8; u >= 5; u--)
        if (u <= umax && wo % u == 0)
            return u;
    return umax;
}

/* A grouped conv runs as one product per group (conv.m4) in the shifted
 * (k > 1, stride 1) and pointwise forms, and in the im2col form (strided)
 * when a group has at least 64 filter weights; else plane by plane
 * through unrolled taps, which beat products too thin to fill a tile
 * (docs/shapes.md has the measurements). */
static bool grouped_products(const mc_conv_shape *c)
{
    const bool point = c->k == 1 && c->pad == 0, shifted = c->stride == 1 && c->k > 1 && c->pad <= c->k - 1;
    const long long cig = c->in.c / c->groups, cog = c->out.c / c->groups;
    return point || shifted || cog * cig * c->k * c->k >= 64;
}

/* Winograd F(2x2, 3x3) (winograd.m4): the products of each of the 16
 * transform points take a block of rb tiles by cb vectors of output
 * channels in registers. Sums in flight: at least 8 keep two FMA pipes
 * of latency 4 busy; at most 16, with registers left for the cb (at most
 * 4) filter vectors the block holds and a broadcast (on avx2, 3 x 4 sums
 * spilled: 0.63x the 2 x 4 block). The tiles are rounded up to a multiple
 * of rb (the extra ones computed for nothing), so the block that divides
 * them best wins. A block of nt tiles keeps its transformed input and its
 * products (16 points each) in L1: with blocks 4x as large the avx2
 * 16 -> 16 forward at 28 x 28 ran 0.88x the direct one instead of 1.41x
 * (docs/performance.md). Forward: ci -> co channels; the input gradient:
 * co -> ci. */
static struct mc_wino_tiles wino_tiles(const mc_target *t, long long tiles, long long ci, long long co)
{
    const int nv = (int)(co / t->lanes), most = t->vregs - 4 < 16 ? t->vregs - 4 : 16;
    struct mc_wino_tiles best = {1, 1, 1};
    double best_score = -1;
    for (int cb = 1; cb <= 4 && cb <= nv; cb++) {
        if (nv % cb)
            continue;
        for (int rb = 1; rb * cb <= most && rb * cb + cb + 1 <= t->vregs; rb++) {
            const long long tp = (tiles + rb - 1) / rb * rb;
            const double busy = rb * cb >= 8 ? 1.0 : rb * cb / 8.0;
            const double score = busy * (double)tiles / (double)tp + 1e-3 * rb * cb + 1e-4 * cb;
            if (score > best_score)
                best_score = score, best = (struct mc_wino_tiles){rb, cb, rb};
        }
    }
    const long long tp = (tiles + best.rb - 1) / best.rb * best.rb;
    long long nt = t->l1 / 4 / (16 * (ci + co)) / best.rb * best.rb;
    nt = nt < best.rb ? best.rb : nt > tp ? tp : nt;
    best.nt = (int)nt;
    return best;
}

/* The filter gradient's product (winograd.m4, WINO_DW_HELPERS) sums over
 * tiles into rows of input channels: rb rows that divide them by cb
 * vectors of output channels (the same sums in flight as above), blocks
 * of tiles in L1 as above, though its sums are loaded and stored once a
 * block: blocks in half the L2 budget made the backwards 1.04x to 1.38x
 * slower (docs/performance.md). */
static struct mc_wino_tiles wino_dw_tiles(const mc_target *t, long long tiles, long long ci, long long co)
{
    struct mc_wino_tiles w = wino_tiles(t, ci, ci, co);
    while (ci % w.rb)
        w.rb--;
    const long long nt = t->l1 / 4 / (16 * (ci + co));
    w.nt = (int)(nt < 1 ? 1 : nt > tiles ? tiles : nt);
    return w;
}

static long long wino_tile_count(const mc_conv_shape *c) { return (long long)(c->out.h + 1) / 2 * ((c->out.w + 1) / 2); }

/* The blocks of pass d (0 forward, 1 input gradient, 2 filter gradient). */
static struct mc_wino_tiles wino_pass_tiles(const mc_target *t, const mc_conv_shape *c, int d)
{
    const long long tiles = wino_tile_count(c);
    return d == 2 ? wino_dw_tiles(t, tiles, c->in.c, c->out.c)
                  : wino_tiles(t, tiles, d ? c->out.c : c->in.c, d ? c->in.c : c->out.c);
}

/* Whether every Winograd pass of conv c fits a thread's budget: the
 * padded channels-last image (the tiles' grid), the channels-last result
 * (the output gradient on the tiles' grid for the filter gradient) and a
 * block of products. */
static bool wino_fits(const mc_target *t, const mc_conv_shape *c)
{
    if (c->in.c % t->lanes || c->out.c % t->lanes)
        return false;
    const long long tiles = wino_tile_count(c), grid = 4 * tiles;
    for (int d = 0; d < 3; d++) {
        const long long ci = d == 1 ? c->out.c : c->in.c, co = d == 1 ? c->in.c : c->out.c;
        const struct mc_wino_tiles w = wino_pass_tiles(t, c, d);
        const long long floats = (long long)((c->in.h + 1) / 2 * 2 + 2) * ((c->in.w + 1) / 2 * 2 + 2) * ci +
                                 (d == 2 ? grid : (long long)c->in.h * c->in.w) * co + 16LL * w.nt * (ci + co);
        if (floats > t->l2 / 4)
            return false;
    }
    return true;
}

/* A count of channels rounded up to whole vectors: a pixel's channels in
 * the channels-last forms, zeros past the last channel (conv.m4, CV_CP). */
static long long whole_lanes(const mc_target *t, long long c) { return (c + t->lanes - 1) / t->lanes * t->lanes; }

/* The scratch of a thread in the input gradient of a strided conv by
 * phases (conv.m4, CV_BWD_DX_PHASES): dy padded channels-last by the taps
 * of the widest phase, the channels-last input gradient, and the result
 * of the largest phase. */
static long long phases_floats(const mc_target *t, const mc_conv_shape *c)
{
    const long long s = c->stride, taps = (c->k + s - 1) / s;
    const long long hd = (c->in.h + c->pad + s - 1) / s + taps - 1, wd = (c->in.w + c->pad + s - 1) / s + taps - 1;
    const long long most = (c->in.h + s - 1) / s * ((c->in.w + s - 1) / s);
    return hd * wd * whole_lanes(t, c->out.c) + ((long long)c->in.h * c->in.w + most) * whole_lanes(t, c->in.c);
}

/* What a conv can take on target t: every flag its templates render
 * within the budgets (a thread's scratch on its stack), before the rules
 * choose. */
static mc_form conv_reach(const mc_target *t, const mc_conv_shape *c)
{
    const mc_shape in = c->in, o = c->out;
    const long long vl = t->lanes, l2f = t->l2 / 4, pix = (long long)o.h * o.w, cpix = in.c * pix;
    const long long cp = whole_lanes(t, in.c), cop = whole_lanes(t, o.c);
    const bool s1 = c->stride == 1;
    const bool point = c->k == 1 && c->pad == 0 && c->groups == 1;
    const bool shifted = c->groups == 1 && s1 && c->k > 1 && c->pad <= c->k - 1;
    const bool strided_k = c->groups == 1 && !s1 && c->k > 1; /* forward and filter gradient only */
    const bool cl = shifted || point, whole = in.c % vl == 0 && o.c % vl == 0;
    /* the channels-last image of a thread: padded, or a pointwise conv's pixels gathered when strided */
    const long long xt = s1 || strided_k ? (long long)(in.h + 2 * c->pad) * (in.w + 2 * c->pad) * cp : pix * cp;
    const long long gathered = point && !s1 ? cpix : 0;
    /* the output gradient padded by k - 1 - pad, channels last, and the pixels of the input gradient */
    const long long dyt = s1 ? (long long)(in.h + c->k - 1) * (in.w + c->k - 1) * cop : pix * cop;
    const long long dx_pix = s1 ? (long long)in.h * in.w : pix;
    mc_form f = {0};
    f.dw_own = xt <= l2f;
    f.pw_planar = point && s1;
    f.cl_fwd = (cl || strided_k) && xt + cop * pix + gathered <= l2f;
    f.cl_dx = (cl && dyt + cp * dx_pix + gathered <= l2f) || (strided_k && phases_floats(t, c) <= l2f);
    f.cl_dw = shifted || strided_k || (point && (s1 || f.dw_own));
    f.planes = c->groups > 1;
    f.wino = whole && shifted && c->k == 3 && c->pad == 1 && wino_fits(t, c);
    f.lin = point && in.h == 1 && in.w == 1 && o.h == 1 && o.w == 1;
    return f;
}

/* Where channels do not fill whole vectors, the channels-last forms pad
 * them (a pixel's last vector part zeros) and the planar ones pad the
 * pixels (rows computed on the padded width, planes rounded up to whole
 * vectors): each pass takes the channels-last form where it keeps at
 * least the target's cl_margin times the share of useful lanes the
 * planar form keeps (cl_lanes, planar_lanes), and only with at least a
 * vector of input and of output channels: with fewer, the transposes of
 * mostly padding and the loop of a few channels per tap cost more than
 * the planar forms lose (the 1 -> 20 5x5 stem at 28 x 28, avx2: forward
 * 0.76x). Measured in docs/shapes.md: on avx2 the 20-channel 5x5 convs
 * at 28 x 28 (0.83 of the lanes against 0.88) 1.1x faster forward and
 * 1.4x backward channels-last, on avx512 (0.63 against 0.88) 0.72x and
 * 0.74x. */
static double cl_lanes(const mc_target *t, long long c) { return (double)c / whole_lanes(t, c); }

/* A strided conv wider than its stride is the exception: its planar
 * forward and filter gradient are products over an im2col matrix, every
 * tap of the image copied (K * K / (S * S) times the image, per image)
 * for products of as many rows as output channels; so it takes the
 * channels-last forward and filter gradient wherever every channel
 * vector keeps at least half its lanes, whatever the planar lanes. Where
 * K <= S (a patchify stem) im2col copies each pixel at most once: the
 * rule of the other convs. Below half a vector (a 3-channel stem on 8 or
 * 16 lanes) the taps of a few channels cost more than the copies.
 * docs/shapes.md ("Strided convs take the channels-last forms") has the
 * measurements. */
static bool im2col_copies(const mc_conv_shape *c) { return c->stride > 1 && c->k > c->stride; }
static bool im2col_takes_cl(const mc_target *t, const mc_conv_shape *c)
{
    return cl_lanes(t, c->in.c) >= 0.5 && cl_lanes(t, c->out.c) >= 0.5;
}

/* Its input gradient likewise, by the phases of the stride (conv.m4,
 * CV_BWD_DX_PHASES), where that moves fewer floats than the planar form's
 * col2im: the planar form clears, fills and scatters a matrix of every tap
 * (C K K floats an output pixel), the phases transpose dy (CO) and the
 * input gradient twice (C S S). A 3-channel stem (27 against 48 on a 3x3
 * at stride 2 to 24 channels) keeps col2im. */
static bool phases_move_less(const mc_conv_shape *c)
{
    return (long long)c->in.c * c->k * c->k >= c->out.c + 2LL * c->in.c * c->stride * c->stride;
}

static double planar_lanes(const mc_target *t, long long pix, long long cols)
{
    return (double)pix / whole_lanes(t, cols);
}

/* The columns of a planar forward product (and of its filter gradient's
 * rows): output rows on the padded width (shifted), or the plane. */
static long long planar_cols(const mc_conv_shape *c)
{
    const bool shifted = c->k > 1 && c->stride == 1;
    return shifted ? (long long)c->out.h * (c->in.w + 2 * c->pad) : (long long)c->out.h * c->out.w;
}

/* A pointwise forward at stride 1 on a plane of at most half a vector
 * (2 x 2 on 8 or 16 lanes) takes images into one planar product, 16
 * columns of pixels (PW_BATCH_COLUMNS), where an image alone
 * used a quarter of the lanes (mobilenetv3_small_like's 2 x 2 convs at
 * 0.33x-0.48x of the generic kernels, whose products vectorize over the
 * channels) or took the channels-last form, transposing planes of 4
 * pixels (0.63x-0.69x on avx2). */
enum { PW_BATCH_COLUMNS = 16 }; /* the product's columns: one vector on avx512 (1.1x-1.3x faster than
                                 * two), two on avx2 (1.0x-1.4x faster than one): mobilenetv3_small_like */
static int pointwise_batch(const mc_target *t, const mc_conv_shape *c, mc_form f)
{
    const int pix = c->out.h * c->out.w;
    const bool point = c->k == 1 && c->pad == 0 && c->stride == 1 && c->groups == 1;
    /* the block of images and its product, on a thread's stack: within its budget */
    const long long floats = (long long)(c->in.c + c->out.c) * PW_BATCH_COLUMNS;
    if (!point || f.cl_fwd || f.lin || 2 * pix > t->lanes || PW_BATCH_COLUMNS % pix || floats > t->l2 / 4)
        return 0;
    return PW_BATCH_COLUMNS / pix;
}

/* The planar filter gradient (gemm.m4, MC_GEMM_NT_TAPS) sums over images
 * into a vector per element of the gradient: with the images outside,
 * each image once from memory, a tile loads and stores its sums for
 * every image; on planes of a few vectors that is as many loads and
 * stores as multiply-adds. There the images go inside each tile, its sums
 * in registers over the batch (the rows of the images, read again by each
 * block of tiles, are small). DW_INNER_VECTORS: the longest product row,
 * in vectors, that does. */
enum { DW_INNER_VECTORS = 8 };
static bool dw_images_inner(const mc_target *t, const mc_conv_shape *c, mc_form f)
{
    return !f.cl_dw && !f.wino && !f.planes && whole_lanes(t, planar_cols(c)) <= DW_INNER_VECTORS * t->lanes;
}

/* A pointwise filter gradient at stride 1 takes the channels-last
 * product only with at least this many output channels: it transposes
 * each image for output channels x input channels multiply-adds a pixel,
 * and with fewer the transpose costs more than the planar dot products
 * lose (inception_mix's 24 -> 12 at 24 x 36, avx2: backward 0.70 against
 * 0.41 ms planar; 16 and more took it in resnet20's and mobilenetv2's
 * measurements, and the batch norms folded into those convs need it). */
enum { PW_DW_CL_OUT = 16 };

/* A dense conv (conv.m4): the shifted (k > 1, stride 1, no groups) and
 * pointwise (1x1, no padding) kinds take channels-last products, and the
 * strided ones wider than 1x1 too (the input gradient by phases), where
 * their channels fill whole vectors (or lose few lanes padded: cl_lanes;
 * for strided ones, im2col_takes_cl)
 * and a thread's scratch fits the budget: no lane is lost past the end of
 * a row or plane. Measured (1
 * thread, batch 128, kernels alternated call by call; conv.m4 tells more):
 * a pointwise forward at stride 1 whose planes fill their vectors but for
 * at most a sixteenth of the lanes reads its planes as they are (at 28 x 28
 * 1.56x faster than the transposes); the input gradient takes the
 * channels-last form on planes up to 28 x 28 or strided. A 3x3 conv at
 * stride 1 with padding 1 takes Winograd's F(2x2, 3x3) for its forward
 * and input gradient wherever it renders, in the training step: it beat
 * the channels-last products on every shape measured, 8 to 64 channels on
 * 7 x 7 to 28 x 28 planes (docs/performance.md). The inference library
 * keeps the direct forms: it packs its filters in place, and transformed
 * ones take 16/9 the room. */
static mc_form conv_rules(const mc_plan *p, const mc_conv_shape *c)
{
    const mc_target *t = p->opt.target;
    const mc_form r = conv_reach(t, c);
    const long long vl = t->lanes, pix = (long long)c->out.h * c->out.w;
    const long long dx_pix = c->stride == 1 ? (long long)c->in.h * c->in.w : pix;
    /* the planar products' columns: output rows on the padded width (shifted), or the plane */
    const bool shifted = c->k > 1 && c->stride == 1;
    const long long fwd_cols = planar_cols(c);
    const long long dx_cols = shifted ? (long long)c->in.h * (c->in.w + c->k - 1) : dx_pix;
    const double fwd_planar = planar_lanes(t, pix, fwd_cols), dx_planar = planar_lanes(t, dx_pix, dx_cols);
    const bool vectors = c->in.c >= vl && c->out.c >= vl; /* see cl_lanes */
    const double m = t->cl_margin;
    mc_form f = {0};
    f.planes = r.planes && !grouped_products(c);
    f.dw_own = r.dw_own;
    f.pw_planar = r.pw_planar && whole_lanes(t, pix) * 15 <= pix * 16;
    const bool im2col = im2col_copies(c); /* see im2col_takes_cl */
    f.cl_fwd = r.cl_fwd && (im2col ? im2col_takes_cl(t, c)
                                   : vectors && !f.pw_planar && !pointwise_batch(t, c, f) &&
                                         cl_lanes(t, c->out.c) >= m * fwd_planar);
    f.cl_dx = r.cl_dx && (im2col ? im2col_takes_cl(t, c) && phases_move_less(c)
                                 : vectors && !f.pw_planar && (c->stride != 1 || dx_pix <= 784) &&
                                       cl_lanes(t, c->in.c) >= m * dx_planar);
    f.cl_dw = r.cl_dw && (im2col ? im2col_takes_cl(t, c)
                                 : vectors && cl_lanes(t, c->in.c) >= m * fwd_planar &&
                                       !(c->k == 1 && c->stride == 1 && c->out.c < PW_DW_CL_OUT));
    f.wino = r.wino && !p->opt.inference;
    return f;
}

/* A linear forward (linear_products.m4) takes dot products of an image and
 * a row of w, VL inputs a multiply-add, then adds each output across its
 * VL lanes in order (VL dependent adds, about VL / 2 vector operations
 * with the tile's other chains in flight); or, from some batch on,
 * broadcast products: w transposed once a call (in x out moves), then
 * each input of an image times a vector of outputs (out rounded up to
 * whole vectors). The dot products win where an input fills many
 * vectors for few outputs (a classifier head, 1280 -> 10); the broadcast
 * ones on short inputs (squeeze-excitation: 10 -> 40 ran 0.13x the
 * generic kernels' product as dot products: docs/shapes.md). The
 * transposed w lives on the thread's stack, within its budget. */
int mc_plan_linear_bcast(const mc_plan *p, long long in, long long out)
{
    const mc_target *t = p->opt.target;
    const long long vl = t->lanes, outp = whole_lanes(t, out);
    if (in * outp > t->l2 / 4)
        return 0;
    /* per image: dot products' and broadcast products' vector operations */
    const long long dot = out * ((in + vl - 1) / vl + vl / 2), bcast = outp / vl * in, transpose = in * out;
    if (dot <= bcast)
        return 0;
    return (int)(transpose / (dot - bcast) + 1);
}

/* The dot products' tile (linear_products.m4): r images by r rows of w,
 * r x r sums, r image vectors and a vector of w in registers: 3 x 3 in
 * 16 registers, 4 x 4 in 32. */
int mc_plan_linear_rows(const mc_plan *p) { return p->opt.target->vregs >= 32 ? 4 : 3; }

/* A conv forward given fewer images than threads (batch 1 on 2 threads:
 * the inference library's latency) splits each image over the team when
 * the image is at least SPLIT_MACS multiply-adds; below that the start of
 * the team and its barriers, a few microseconds, cost more than half the
 * work saves (resnet20's 1x28x28 pointwise convs of 100K multiply-adds, 4
 * microseconds on 1 thread, took 7 on 2). The Winograd and linear forms
 * have no such path; forms that run an image per thread otherwise do. */
enum { SPLIT_MACS = 1 << 19 };

static bool split_image(const mc_conv_shape *c, mc_form f)
{
    const long long macs = (long long)c->out.c * c->out.h * c->out.w * (c->in.c / c->groups) * c->k * c->k;
    return !f.wino && !f.lin && !f.pw_batch && macs >= SPLIT_MACS;
}

/* A pointwise conv on a 1x1 plane (squeeze-excitation's) is a linear
 * layer: its products take tiles of images by output channels
 * (linear_products.m4), where one image at a time multiplied a matrix by a vector
 * (at 240 -> 60 channels 4x slower than the generic kernels' one product
 * over the batch: docs/shapes.md). */
mc_form mc_plan_conv_form(const mc_plan *p, const mc_conv_shape *c)
{
    mc_form f = conv_rules(p, c);
    if (conv_reach(p->opt.target, c).lin) {
        f.lin = true;
        f.cl_fwd = f.cl_dx = f.cl_dw = f.pw_planar = false;
    }
    return f;
}

/* A MixConv group's form (mixconv.m4): its conv's, without Winograd or
 * the linear products (the group's view of the image has not been checked
 * with those forms). */
mc_form mc_plan_group_form(const mc_plan *p, const mc_conv_shape *g)
{
    mc_form f = conv_rules(p, g);
    f.wino = false;
    f.split = split_image(g, f);
    f.dw_inner = dw_images_inner(p->opt.target, g, f);
    return f;
}

static mc_conv_shape conv_shape(const mc_model *m, const mc_node *n)
{
    return (mc_conv_shape){m->nodes[n->inputs[0]].shape, n->shape, n->k, n->pad, n->stride, n->groups};
}

static bool same_form(mc_form a, mc_form b)
{
    return a.dw_cl == b.dw_cl && a.cl_fwd == b.cl_fwd && a.cl_dx == b.cl_dx && a.cl_dw == b.cl_dw &&
           a.dw_own == b.dw_own && a.pw_planar == b.pw_planar && a.planes == b.planes && a.wino == b.wino &&
           a.lin == b.lin;
}

static int add_candidate(mc_form *out, int count, mc_form f)
{
    for (int i = 0; i < count; i++)
        if (same_form(out[i], f))
            return count;
    out[count] = f;
    return count + 1;
}

/* The rules' choice, then: a conv every channels-last pass it reaches, or
 * none, or the filter gradient's alone; a grouped one the other of planes
 * and products; a depthwise the planar form where the rules took
 * channels-last (they take it wherever it renders). */
int mc_plan_form_candidates(const mc_plan *p, const mc_node *n, mc_form out[MC_FORM_CANDIDATES])
{
    if (n->op->code == OP_DEPTHWISE) {
        out[0] = mc_plan_form(p, n, 0);
        return add_candidate(out, 1, (mc_form){0});
    }
    if (n->op->code != OP_CONV)
        return 0;
    const mc_conv_shape c = conv_shape(p->m, n);
    const mc_form rules = mc_plan_conv_form(p, &c), r = conv_reach(p->opt.target, &c);
    int count = 0;
    out[count++] = rules;
    mc_form all = rules, none = rules, dw_only = rules, flip = rules;
    all.cl_fwd = r.cl_fwd, all.cl_dx = r.cl_dx, all.cl_dw = r.cl_dw, all.pw_planar = false;
    none.cl_fwd = none.cl_dx = none.cl_dw = false, none.pw_planar = r.pw_planar;
    dw_only.cl_fwd = dw_only.cl_dx = false, dw_only.cl_dw = r.cl_dw, dw_only.pw_planar = r.pw_planar;
    flip.planes = r.planes && !rules.planes;
    all.wino = none.wino = dw_only.wino = false;
    all.lin = none.lin = dw_only.lin = false;
    count = add_candidate(out, count, all);
    count = add_candidate(out, count, none);
    count = add_candidate(out, count, r.planes ? flip : dw_only);
    if (r.wino && !p->opt.inference) { /* the rules' choice but Winograd's flipped */
        mc_form w = rules;
        w.wino = !rules.wino;
        count = add_candidate(out, count, w);
    }
    return count;
}

bool mc_plan_form_allowed(const mc_plan *p, const mc_node *n, mc_form f)
{
    mc_form c[MC_FORM_CANDIDATES];
    const int count = mc_plan_form_candidates(p, n, c);
    for (int i = 0; i < count; i++)
        if (same_form(c[i], f))
            return true;
    return false;
}

/* A pointwise filter gradient at stride 1 in the channels-last form whose
 * image does not fit a thread (not dw_own) goes by bands of rows, a
 * thread's own: the most rows that divide the plane and fit half the
 * thread's L2 (the rest for the band's output gradient and the sums),
 * where whole images transposed past L2 were read back from memory by
 * each block of rows of the product (mobilenetv2's 96 -> 16 with a
 * folded batch norm at 96 x 96 1.46x faster backward: docs/shapes.md).
 * 0 where a row alone does not fit. */
static int pointwise_band_rows(const mc_target *t, const mc_conv_shape *c, mc_form f)
{
    const bool point = c->k == 1 && c->pad == 0 && c->groups == 1 && c->stride == 1;
    if (!point || !f.cl_dw || f.dw_own)
        return 0;
    const long long row = (long long)c->in.w * whole_lanes(t, c->in.c);
    for (int rows = c->in.h; rows > 0; rows--)
        if (c->in.h % rows == 0 && rows * row <= t->l2 / 8)
            return rows;
    return 0;
}

/* What a form's shape and the target decide, whoever chose the form: a
 * depthwise form's band of rows (depthwise_cl_rows), channels-last only
 * where a band fits; a Winograd conv's blocks (wino_tiles); whether a
 * conv splits an image over threads (split_image), batches images into
 * one pointwise product (pointwise_batch) or takes its filter gradient by
 * bands of rows (pointwise_band_rows). */
static mc_form with_derived(const mc_plan *p, const mc_node *n, int k, mc_form f)
{
    if (n->op->code == OP_CONV) {
        const mc_conv_shape c = conv_shape(p->m, n);
        f.pw_batch = pointwise_batch(p->opt.target, &c, f);
        f.dw_inner = dw_images_inner(p->opt.target, &c, f);
        f.dw_band = pointwise_band_rows(p->opt.target, &c, f);
        f.split = split_image(&c, f);
        if (f.wino)
            for (int d = 0; d < 3; d++)
                f.wino_tiles[d] = wino_pass_tiles(p->opt.target, &c, d);
    }
    if (n->op->code == OP_DEPTHWISE) {
        f.dw_rows = k ? depthwise_cl_rows(p->m, p->opt.target, n, &k, 1)
                      : depthwise_cl_rows(p->m, p->opt.target, n, n->ks, n->nks);
        f.dw_cl = f.dw_cl && f.dw_rows > 0;
        if (!f.dw_cl)
            f.dw_rows = 0;
        f.dw_unroll = f.dw_cl ? depthwise_cl_unroll(p->opt.target, n->shape.w) : 0;
    }
    return f;
}

mc_form mc_plan_form(const mc_plan *p, const mc_node *n, int k)
{
    for (int i = 0; i < p->opt.ntuned && !k; i++)
        if (p->opt.tuned[i].node == n - p->m->nodes)
            return with_derived(p, n, k, p->opt.tuned[i].form);
    mc_form f = {0};
    const mc_conv_shape c = n->op->code == OP_CONV ? conv_shape(p->m, n) : (mc_conv_shape){0};
    if (n->op->code == OP_CONV)
        f = mc_plan_conv_form(p, &c);
    else if (n->op->code == OP_DEPTHWISE)
        f.dw_cl = true;
    return with_derived(p, n, k, f);
}

/* A batch norm reading the output of a depthwise conv in its channels-last
 * form, or of a conv whose forward is channels-last, gets its batch
 * statistics from that conv: the conv has each result in cache, a vector
 * of channels at a time, before it transposes it back into planes, and
 * its mean and squared deviations per channel and image cost it two
 * passes over the cache (templates/c/common.m4, MC_BN_SUMS); the batch
 * norm then combines n means and n sums per channel (batchnorm.m4,
 * PSTATS) instead of reading its input twice from memory (48 x 28 x 28 at
 * batch 128: 19 MB, twice). This is the Multiception fusion:
 * the pass that computes every kernel of the list also produces BN1's
 * statistics. (A depthwise that takes its plane in bands of rows has no
 * whole result in cache, one whose channels leave lanes of its last vector
 * idle would write past them: their batch norms read their inputs.) */
static void producer_statistics(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *bn = &m->nodes[m->order[i]];
        if (bn->op->code != OP_BATCHNORM)
            continue;
        const int d = bn->inputs[0];
        const int code = m->nodes[d].op->code;
        const mc_form f = mc_plan_form(p, &m->nodes[d], 0);
        if ((code == OP_DEPTHWISE && f.dw_cl && f.dw_rows == m->nodes[d].shape.h && whole_vectors(p, &m->nodes[d])) ||
            (code == OP_CONV && (f.cl_fwd || f.wino))) {
            p->nodes[d].fusion.stats.writes = true;
            p->nodes[m->order[i]].fusion.stats.reads = true;
        }
    }
}

/* A batch norm or add that applies its activation (fuse_activations)
 * keeps, in the C target, a bit per value for whether the activation
 * passed it: its training forward writes them, its backward reads them
 * instead of the output, a 32nd of that stream (the batch norm's backward
 * walks a channel over the batch twice; at 16 x 28 x 28 its three streams
 * of 400 KB did not stay in L2 from one pass to the next). A word of
 * mc_target_bits_bytes per vector of values (common.m4, MC_PLANE_MASK),
 * per image a run per plane (batchnorm.m4, add.m4), the image rounded up
 * to whole floats of the activation area, in a slot after the layers'. */
static void mask_activations(mc_plan *p)
{
    const mc_model *m = p->m;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = &m->nodes[m->order[i]];
        mc_fused_act *act = &p->nodes[m->order[i]].fusion.act;
        if (act->reads != MC_ACT_READS_BITS)
            continue;
        const int vl = p->opt.target->lanes;
        const long long words = n->shape.c * (((long long)n->shape.h * n->shape.w + vl - 1) / vl);
        act->mask = p->act_floats;
        p->act_floats += (words * mc_target_bits_bytes(p->opt.target) + 3) / 4;
    }
}

long long mc_plan_input_act(const mc_plan *p, const mc_node *n, int j)
{
    int in = n->inputs[j];
    if (p->nodes[in].fusion.bn_by == MC_BN_BY_CONV) /* the conv that applies it reads its input */
        in = p->m->nodes[in].inputs[0];
    return p->nodes[in].act;
}

mc_plan *mc_plan_model(struct arena *a, const mc_model *m, const mc_plan_options *opt)
{
    mc_plan *p = arena_alloc(a, sizeof *p);
    p->m = m;
    if (opt)
        p->opt = *opt;
    if (!p->opt.target)
        p->opt.target = mc_target_native();
    p->nodes = arena_alloc(a, (size_t)m->nnodes * sizeof *p->nodes);
    for (int i = 0; i < m->nnodes; i++)
        p->nodes[i].layer = -1;
    if (p->opt.inference && !p->opt.no_fuse)
        fold_into_weights(p);
    if (!p->opt.no_fuse)
        fuse_activations(p);
    if (!p->opt.no_fuse && !p->opt.cuda && !p->opt.inference) {
        fold_batchnorms(p);
        apply_in_adds(p);
        producer_statistics(p);
    }

    /* Every live node (and the input, for its gradient) gets an output slot;
     * identity aliases its input. Training keeps every activation for the
     * backward, so slots are not reused. */
    int kcap = 0;
    p->nodes[0].act = 0;
    p->act_floats = (long long)m->input.c * m->input.h * m->input.w;
    for (int i = 0; i < m->norder; i++) {
        int v = m->order[i];
        const mc_node *n = &m->nodes[v];
        mc_plan_node *pn = &p->nodes[v];
        pn->layer = i;
        if (n->op->code == OP_IDENTITY || pn->fusion.act_by_input || pn->fusion.bn_by == MC_BN_INTO_WEIGHTS ||
            (p->opt.inference && n->op->code == OP_DROPOUT)) { /* eval dropout: an identity */
            pn->act = p->nodes[n->inputs[0]].act;
            continue;
        }
        pn->act = p->act_floats;
        p->act_floats += (long long)n->shape.c * n->shape.h * n->shape.w;
        if (n->op->code == OP_BATCHNORM) {
            pn->saved = p->saved_floats;
            p->saved_floats += 2LL * n->shape.c;
        } else if (n->op->code == OP_DROPOUT) {
            pn->extra = p->extra_floats;
            p->extra_floats += (long long)n->shape.c * n->shape.h * n->shape.w;
        } else if (n->op->code == OP_SHAKE) {
            pn->extra = p->extra_floats;
            p->extra_floats += 2;
        }
        bool split = p->opt.no_fuse && n->op->code == OP_DEPTHWISE && n->nks > 1;
        for (int j = 0; j < (split ? n->nks : 1); j++) {
            int k = split ? n->ks[j] : 0;
            const char *name = signature(a, p, n, k);
            if (name)
                pn->kernels[pn->nkernels++] = find_or_add_kernel(a, p, &kcap, name, v, k);
        }
    }
    /* The statistics a depthwise writes for its batch norm, and the bits of
     * fused activations: after every layer's slot, so that the layers'
     * slots are those of a plan without them (the CUDA step shares the C
     * target's descriptor). */
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = &m->nodes[m->order[i]];
        mc_fusion *fu = &p->nodes[m->order[i]].fusion;
        fu->stats.at = fu->act.mask = -1;
        if (fu->stats.writes) {
            fu->stats.at = p->act_floats;
            p->act_floats += 2LL * n->shape.c;
        } else if (fu->stats.reads)
            fu->stats.at = p->nodes[n->inputs[0]].fusion.stats.at;
    }
    if (!p->opt.cuda && !p->opt.inference)
        mask_activations(p);
    return p;
}
