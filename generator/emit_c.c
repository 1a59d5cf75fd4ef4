/* The C emitter: turns a plan into m4 drivers (constants and macro calls,
 * no C text), runs m4 on templates/c, and writes the model's header, its
 * step and tables, and one kernel file per template into DIR. What it
 * shares with the CUDA emitter is in emit_m4.c. */
#include "emit_m4.h"

#include <string.h>

#include "arena.h"
#include "ops.h"

/* A fused activation (see plan.c) runs as part of the layer before it: the
 * runtime sees an identity there, and that layer's fused field. */
static const char *layer_kind(const mc_node *n, const mc_plan_node *pn)
{
    if (pn->fusion.act_by_input)
        return "MC_L_IDENTITY";
    static const char *const kinds[] = {
#define MC_LAYER_KIND(id, name) [OP_##id] = "MC_L_" #id,
#include "../runtime/mc_layer_kinds.def"
    };
    return kinds[n->op->code];
}

static void layer_row(emitter *e, const mc_node *n)
{
    const mc_plan_node *pn = &e->p->nodes[n - e->m->nodes];
    mc_shape in = em_in_shape(e, n, 0);
    const char *inputs = "", *ks = "";
    for (int i = 0; i < n->ninputs; i++)
        inputs = arena_printf(e->a, "%s%s%d", inputs, i ? ", " : "", e->p->nodes[n->inputs[i]].layer);
    for (int j = 0; j < n->nks; j++)
        ks = arena_printf(e->a, "%s%s%d", ks, j ? ", " : "", n->ks[j]);
    em_def(e, "L_NAME", "%s", n->name);
    em_def(e, "L_KIND", "%s", layer_kind(n, pn));
    em_def(e, "L_INPUTS", "%s", inputs);
    em_defi(e, "L_NIN", n->ninputs);
    em_defi(e, "L_C", n->shape.c);
    em_defi(e, "L_H", n->shape.h);
    em_defi(e, "L_W", n->shape.w);
    em_defi(e, "L_IN_C", in.c);
    em_defi(e, "L_IN_H", in.h);
    em_defi(e, "L_IN_W", in.w);
    em_defi(e, "L_K", n->k);
    em_defi(e, "L_STRIDE", n->stride);
    em_defi(e, "L_PAD", n->pad < 0 ? 0 : n->pad);
    em_defi(e, "L_GROUPS", n->groups);
    em_defi(e, "L_OFFSET", n->offset);
    em_defi(e, "L_BIAS", n->bias);
    em_defi(e, "L_NK", n->nks);
    em_def(e, "L_KS", "%s", *ks ? ks : "0");
    em_deff(e, "L_EPS", n->eps);
    em_deff(e, "L_MOMENTUM", n->momentum);
    em_deff(e, "L_P", n->p);
    em_defi(e, "L_ACT", pn->act);
    static const char *const fused[] = {[0] = "MC_FUSED_NONE", [OP_RELU] = "MC_FUSED_RELU", [OP_RELU6] = "MC_FUSED_RELU6",
                                        [OP_SILU] = "MC_FUSED_SILU", [OP_HARDSWISH] = "MC_FUSED_HARDSWISH",
                                        [OP_HARDSIGMOID] = "MC_FUSED_HARDSIGMOID"};
    em_def(e, "L_FUSED", "%s", fused[pn->fusion.act.op]);
    bool bn = n->op->code == OP_BATCHNORM;
    em_defi(e, "L_WEIGHT", n->ntensors ? em_tensor_offset(e, n, 0) : -1);
    em_defi(e, "L_BIAS_AT", bn ? em_tensor_offset(e, n, 1) : n->bias ? em_tensor_offset(e, n, 1) : -1);
    em_defi(e, "L_RUNNING", bn ? em_tensor_offset(e, n, 2) : -1);
    em_defi(e, "L_COUNTER", bn ? em_tensor_offset(e, n, 4) : -1);
    em_defi(e, "L_SAVED", pn->saved);
    em_defi(e, "L_EXTRA", pn->extra);
    static const char *const folds[] = {[MC_BN_ITSELF] = "MC_FOLD_NONE", [MC_BN_BY_CONV] = "MC_FOLD_CONV",
                                        [MC_BN_BY_ADD] = "MC_FOLD_ADD", [MC_BN_INTO_WEIGHTS] = "MC_FOLD_NONE"};
    em_def(e, "L_FOLDED", "%s", folds[pn->fusion.bn_by]);
    em_defi(e, "L_STATS", pn->fusion.stats.at);
    fputs("MC_LAYER()m4_dnl\n", e->f);
}

/* Which backward call writes each activation gradient first. The backward
 * runs the layers in reverse, a layer's kernels in reverse; the first call
 * to write a slot's gradient stores it instead of adding, so the step never
 * clears all of them (hundreds of MB at batch 128). Families that cannot
 * store (their templates do not define MC_<OP>_STORES) get the slot cleared
 * just before. The loss writes the logits' gradient first; a layer whose
 * output gradient nobody wrote (a dead branch) clears it before reading. */
typedef struct {
    int *first_at;    /* per layer: where its flags start in first, [kernel][input] */
    bool *first;      /* that kernel writes that input's gradient first */
    bool *clear_out;  /* per layer: clear its output gradient first */
} first_writers;

/* Adds slot to the written ones; true when it was not there yet. */
static bool newly_written(long long *slots, int *count, long long slot)
{
    for (int k = 0; k < *count; k++)
        if (slots[k] == slot)
            return false;
    slots[(*count)++] = slot;
    return true;
}

static first_writers find_first_writers(emitter *e)
{
    const mc_model *m = e->m;
    first_writers fw = {arena_alloc(e->a, (size_t)m->norder * sizeof(int)), NULL,
                        arena_alloc(e->a, (size_t)m->norder * sizeof(bool))};
    int total = 0;
    for (int i = 0; i < m->norder; i++) {
        fw.first_at[i] = total;
        total += e->p->nodes[m->order[i]].nkernels * em_node(e, m->order[i])->ninputs;
    }
    fw.first = arena_alloc(e->a, (size_t)(total ? total : 1) * sizeof(bool));
    long long *slots = arena_alloc(e->a, (size_t)(m->nnodes + 1) * sizeof *slots);
    int nslots = 0;
    newly_written(slots, &nslots, e->p->nodes[m->order[m->norder - 1]].act);
    for (int i = m->norder - 1; i >= 0; i--) {
        const mc_node *n = em_node(e, m->order[i]);
        const mc_plan_node *pn = &e->p->nodes[m->order[i]];
        if (!pn->nkernels || pn->fusion.bn_by == MC_BN_BY_CONV) /* a folded batch norm's backward is its conv's */
            continue;
        fw.clear_out[i] = newly_written(slots, &nslots, pn->act);
        for (int part = pn->nkernels - 1; part >= 0; part--)
            for (int j = 0; j < n->ninputs; j++)
                fw.first[fw.first_at[i] + part * n->ninputs + j] =
                    newly_written(slots, &nslots, mc_plan_input_act(e->p, n, j));
    }
    return fw;
}

static void write_model_driver(emitter *e, FILE *f)
{
    const mc_model *m = e->m;
    const first_writers fw = find_first_writers(e);
    em_driver_begin(e, f, arena_printf(e->a, "model loss %s", em_templates_used(e)));
    fputs("MC_SOURCE_BEGIN()m4_dnl\n", f);
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = em_node(e, m->order[i]);
        const mc_plan_node *pn = &e->p->nodes[m->order[i]];
        fprintf(f, "MC_LAYER_FWD_BEGIN(%d, %s)m4_dnl\n", i, n->name);
        for (int part = 0; part < pn->nkernels; part++) {
            em_call_constants(e, n, part);
            fprintf(f, "%s()m4_dnl\n", em_macro(e, n, "CALL_FWD"));
        }
        fprintf(f, "MC_LAYER_END()m4_dnl\nMC_LAYER_BWD_BEGIN(%d, %s)m4_dnl\n", i, n->name);
        for (int part = pn->nkernels - 1; part >= 0; part--) {
            em_call_constants(e, n, part);
            em_defi(e, "OUT_FLOATS", (long long)n->shape.c * n->shape.h * n->shape.w);
            for (int j = 0; j < n->ninputs; j++) {
                mc_shape in = em_in_shape(e, n, j);
                em_defi(e, arena_printf(e->a, "FIRST%d", j), fw.first[fw.first_at[i] + part * n->ninputs + j]);
                em_defi(e, arena_printf(e->a, "IN%d_FLOATS", j), (long long)in.c * in.h * in.w);
            }
            if (part == pn->nkernels - 1 && fw.clear_out[i])
                fputs("MC_BWD_CLEAR_OUT()m4_dnl\n", f);
            fprintf(f, "MC_BWD_CLEAR(`%s')m4_dnl\n%s()m4_dnl\n", em_macro(e, n, "STORES"), em_macro(e, n, "CALL_BWD"));
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
        layer_row(e, em_node(e, m->order[i]));
    fputs("MC_LAYERS_END()m4_dnl\nMC_DESCRIPTOR()m4_dnl\n", f);
}


static void model_fn(emitter *e, FILE *f, const char *arg) { (void)arg, write_model_driver(e, f); }

static void main_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    em_driver_begin(e, f, "main");
    em_defi(e, "GENERIC", e->opt->generic);
    em_defi(e, "CUDA", e->opt->cuda);
    em_def(e, "BUILD", "%s", e->opt->build ? e->opt->build : "");
    fputs("MC_MAIN()m4_dnl\n", f);
}

bool mc_emit_c(arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st, char *err,
               size_t errlen)
{
    emitter e = {.a = a, .m = m, .p = p, .opt = opt};
    return em_generate(&e, st, arena_printf(a, "%s.h", m->name), em_header_fn, NULL, err, errlen) &&
           em_generate(&e, st, arena_printf(a, "%s.c", m->name), model_fn, NULL, err, errlen) &&
           em_generate_families(&e, st, "%s_%s.c", err, errlen) &&
           (!opt->main || em_generate(&e, st, arena_printf(a, "%s_main.c", m->name), main_fn, NULL, err, errlen));
}
