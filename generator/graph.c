/* The graph stage: parse -> expand -> resolve inputs -> order -> shapes ->
 * liveness -> tensors. Every check that needs the whole graph lives here. */
#include "graph.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h"
#include "build.h"
#include "expand.h"

/* ---- the builder (build.h) ------------------------------------------------ */

int build_node(build *b, const char *name, const mc_op_info *op, mc_loc at, const char *where)
{
    mc_model *m = b->m;
    if (m->nnodes == MC_MAX_NODES)
        diag_error(b->d, at, "the model has more than %d layers; expected fewer", MC_MAX_NODES);
    m->nodes = arena_grow(b->a, m->nodes, m->nnodes, &b->node_cap, sizeof *m->nodes);
    mc_node *n = &m->nodes[m->nnodes];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->op = op;
    n->at = at;
    n->where = where;
    return m->nnodes++;
}

int build_ref(build *b, int node, const char *name, mc_loc at, const char *where)
{
    b->refs = arena_grow(b->a, b->refs, b->nrefs, &b->ref_cap, sizeof *b->refs);
    b->refs[b->nrefs] = (ref){node, -1, name, at, where};
    return b->nrefs++;
}

void build_error(build *b, const mc_node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->where)
        diag_error(b->d, n->at, "%s (%s)", msg, n->where);
    diag_error(b->d, n->at, "%s", msg);
}

long long build_mul(build *b, const mc_node *n, long long x, long long y)
{
    long long r;
    if (__builtin_mul_overflow(x, y, &r) || r > (1LL << 50))
        build_error(b, n, "layer '%s' is too large to count (over 2^50 elements or MACs)", n->name);
    return r;
}

const char *shape_str(arena *a, mc_shape s) { return arena_printf(a, "%dx%dx%d", s.c, s.h, s.w); }

void build_tensor(build *b, mc_node *n, const char *suffix, int ndim, const int *shape, bool is_param,
                  mc_dtype dtype, mc_init init)
{
    mc_model *m = b->m;
    m->tensors = arena_grow(b->a, m->tensors, m->ntensors, &b->tensor_cap, sizeof *m->tensors);
    mc_tensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    t->name = arena_printf(b->a, "%s.%s", n->name, suffix);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel = build_mul(b, n, t->numel, shape[i]);
    }
    t->is_param = is_param;
    t->dtype = dtype;
    t->node = (int)(n - m->nodes);
    t->init = init;
    if (n->ntensors == 0)
        n->first_tensor = m->ntensors;
    n->ntensors++;
    if (is_param)
        n->params += t->numel;
    m->ntensors++;
}

static const char *const rule_names[RULE_COUNT] = {
    "default", "kaiming_normal_fan_in", "kaiming_normal_fan_out", "uniform_fan_in", "normal", "zeros", "ones",
};

mc_init build_init(build *b, init_target t, long long fan_in, long long fan_out)
{
    init_choice c = b->init[t];
    init_rule r = c.rule;
    if (r == RULE_DEFAULT) /* PyTorch's defaults */
        r = t == TGT_BN_WEIGHT ? RULE_ONES : t == TGT_BN_BIAS ? RULE_ZEROS : RULE_UNIFORM_FAN_IN;
    mc_init in = {INIT_ZEROS, 0, rule_names[c.rule]};
    switch (r) {
    case RULE_KAIMING_NORMAL_FAN_IN: in = (mc_init){INIT_NORMAL, sqrt(2.0 / (double)fan_in), in.rule}; break;
    case RULE_KAIMING_NORMAL_FAN_OUT: in = (mc_init){INIT_NORMAL, sqrt(2.0 / (double)fan_out), in.rule}; break;
    case RULE_UNIFORM_FAN_IN: in = (mc_init){INIT_UNIFORM, 1.0 / sqrt((double)fan_in), in.rule}; break;
    case RULE_NORMAL: in = (mc_init){INIT_NORMAL, c.arg, in.rule}; break;
    case RULE_ONES: in.kind = INIT_ONES; break;
    default: break;
    }
    return in;
}

/* ---- the header ------------------------------------------------------------ */

static void read_inits(build *b, const program *prog)
{
    for (int i = 0; i < prog->ninits; i++) {
        const init_stmt *s = &prog->inits[i];
        int t, r;
        for (t = 0; t < TGT_COUNT && strcmp(mc_init_targets[t], s->target) != 0; t++)
            ;
        if (t == TGT_COUNT)
            diag_error(b->d, s->at, "unknown init target '%s'; expected conv.weight, conv.bias, linear.weight, "
                       "linear.bias, batchnorm.weight or batchnorm.bias", s->target);
        for (r = 0; r < RULE_COUNT && strcmp(rule_names[r], s->rule) != 0; r++)
            ;
        if (r == RULE_COUNT)
            diag_error(b->d, s->rule_at, "unknown init rule '%s'; expected default, kaiming_normal_fan_in, "
                       "kaiming_normal_fan_out, uniform_fan_in, normal STD, zeros or ones", s->rule);
        double value = 0;
        if (r == RULE_NORMAL) {
            const expr *e = s->arg;
            if (!e || (e->kind != E_FLOAT && e->kind != E_INT))
                diag_error(b->d, s->rule_at, "'normal' needs its standard deviation; expected as in 'init %s normal 0.01'",
                           s->target);
            value = e->kind == E_FLOAT ? e->f : (double)e->i;
            if (!(value > 0 && value <= 100))
                diag_error(b->d, e->at, "bad standard deviation %g; expected a number above 0 and at most 100", value);
        } else if (s->arg) {
            diag_error(b->d, s->arg->at, "init rule '%s' takes no value; expected end of line", s->rule);
        }
        b->init[t] = (init_choice){(init_rule)r, value};
    }
}

static void read_header(build *b, const program *prog, const mc_options *opt)
{
    mc_model *m = b->m;
    mc_loc file = {prog->file, 0, 0};
    if (!prog->model)
        diag_error(b->d, file, "no 'model' line; expected the description to start like 'model resnet20'");
    m->name = prog->model;
    if (opt && opt->input.c)
        m->input = opt->input;
    else if (prog->has_input)
        m->input = (mc_shape){prog->input[0], prog->input[1], prog->input[2]};
    else
        diag_error(b->d, prog->model_at, "no 'input' line; expected the input shape, as in 'input 3x32x32'");
    if (opt && opt->classes)
        m->classes = opt->classes;
    else if (prog->has_classes)
        m->classes = (int)prog->classes;
    else
        diag_error(b->d, prog->model_at, "no 'classes' line; expected the class count, as in 'classes 10'");
    m->conv_type = MC_MULTICEPTION;
    if (prog->conv_type && !mc_parse_conv_type(prog->conv_type, &m->conv_type))
        diag_error(b->d, prog->conv_type_at, "unknown conv type '%s'; expected standard, dsconv, multiception or mixconv",
                   prog->conv_type);
    if (opt && opt->conv_type && !mc_parse_conv_type(opt->conv_type, &m->conv_type))
        diag_error(b->d, file, "unknown conv type '%s' (from --conv); expected standard, dsconv, multiception or mixconv",
                   opt->conv_type);
    read_inits(b, prog);
}

/* ---- whole-graph passes --------------------------------------------------------- */

/* The node a reference ends at, or -1 if its alias chain loops. */
static int follow(const build *b, int r)
{
    for (int steps = 0; b->refs[r].node < 0; steps++) {
        if (b->refs[r].alias < 0 || steps > b->nrefs)
            return -1;
        r = b->refs[r].alias;
    }
    return b->refs[r].node;
}

/* Turns each node's input references into node indices. */
static void resolve_inputs(build *b)
{
    mc_model *m = b->m;
    for (int i = 0; i < m->nnodes; i++) {
        mc_node *n = &m->nodes[i];
        for (int j = 0; j < n->ninputs; j++) {
            int v = follow(b, n->inputs[j]);
            if (v < 0)
                build_error(b, n, "cycle: the input of '%s' leads back to itself", n->name);
            n->inputs[j] = v;
        }
    }
}

/* Depth-first order in which every node follows its inputs, inputs visited
 * in declaration order. Iterative: a chain of 65536 layers must not blow
 * the C stack. A node met again while on the stack closes a cycle. */
static int *topo_order(build *b)
{
    mc_model *m = b->m;
    int *order = arena_alloc(b->a, (size_t)m->nnodes * sizeof *order);
    char *state = arena_alloc(b->a, (size_t)m->nnodes); /* 0 new, 1 on stack, 2 done */
    int *stack = arena_alloc(b->a, (size_t)m->nnodes * sizeof *stack);
    int *next_in = arena_alloc(b->a, (size_t)m->nnodes * sizeof *next_in);
    int norder = 0;
    for (int root = 0; root < m->nnodes; root++) {
        if (state[root])
            continue;
        int sp = 0;
        stack[sp++] = root;
        state[root] = 1;
        while (sp) {
            int v = stack[sp - 1];
            mc_node *n = &m->nodes[v];
            if (next_in[v] < n->ninputs) {
                int u = n->inputs[next_in[v]++];
                if (state[u] == 1) { /* stack holds u ... v, each reading the one before */
                    if (u == v)
                        build_error(b, n, "cycle: '%s' reads itself", n->name);
                    int k = sp - 1;
                    while (stack[k] != u)
                        k--;
                    const char *path = m->nodes[u].name;
                    for (k++; k < sp; k++)
                        path = arena_printf(b->a, "%s -> %s", path, m->nodes[stack[k]].name);
                    build_error(b, &m->nodes[u], "cycle: %s -> %s (each feeds the next)", path, m->nodes[u].name);
                }
                if (state[u] == 0) {
                    state[u] = 1;
                    stack[sp++] = u;
                }
            } else {
                state[v] = 2;
                order[norder++] = v;
                sp--;
            }
        }
    }
    return order;
}

static void check_liveness(build *b, const int *topo)
{
    mc_model *m = b->m;
    char *live = arena_alloc(b->a, (size_t)m->nnodes);
    live[m->output] = 1;
    for (int i = m->nnodes - 1; i >= 0; i--) { /* reverse topological order */
        mc_node *n = &m->nodes[topo[i]];
        if (live[topo[i]])
            for (int j = 0; j < n->ninputs; j++)
                live[n->inputs[j]] = 1;
    }
    m->order = arena_alloc(b->a, (size_t)m->nnodes * sizeof *m->order);
    for (int i = 0; i < m->nnodes; i++) {
        int v = topo[i];
        mc_node *n = &m->nodes[v];
        if (v == 0)
            continue;
        if (live[v] && n->unused) {
            const char *reader = "the model's output";
            for (int k = 0; k < m->nnodes; k++)
                for (int j = 0; j < m->nodes[k].ninputs; j++)
                    if (m->nodes[k].inputs[j] == v && live[k])
                        reader = arena_printf(b->a, "'%s'", m->nodes[k].name);
            build_error(b, n, "'%s' is marked unused=true but %s reads it", n->name, reader);
        }
        if (!live[v] && !n->unused)
            build_error(b, n, "'%s' is never used: its output does not reach the model's output; remove it or "
                        "mark it unused=true", n->name);
        if (live[v])
            m->order[m->norder++] = v;
    }
    if (!live[0])
        diag_error(b->d, (mc_loc){m->file, 0, 0}, "the model's output does not depend on its input");
}

static void check_unique_names(build *b)
{
    mc_model *m = b->m;
    /* Node names are unique unless a layer's name collides with a part of
     * a composite (e.g. "x.bn1" beside a multiception "x"); tensor names
     * then collide too, which would corrupt checkpoints. */
    int cap = 1;
    while (cap < 2 * m->ntensors + 2)
        cap *= 2;
    int *slot = arena_alloc(b->a, (size_t)cap * sizeof *slot);
    for (int i = 0; i < m->ntensors; i++) {
        unsigned h = 2166136261u;
        for (const char *s = m->tensors[i].name; *s; s++)
            h = (h ^ (unsigned char)*s) * 16777619u;
        for (unsigned k = h & (unsigned)(cap - 1);; k = (k + 1) & (unsigned)(cap - 1)) {
            if (!slot[k]) {
                slot[k] = i + 1;
                break;
            }
            const mc_tensor *o = &m->tensors[slot[k] - 1];
            if (strcmp(o->name, m->tensors[i].name) == 0)
                build_error(b, &m->nodes[m->tensors[i].node], "duplicate tensor name '%s' (also made at line %d); "
                            "expected distinct layer names", o->name, m->nodes[o->node].at.line);
        }
    }
}

static void layout(mc_model *m)
{
    for (int i = 0; i < m->ntensors; i++) {
        mc_tensor *t = &m->tensors[i];
        long long *area = t->dtype == MC_I64 ? &m->counters : t->is_param ? &m->param_floats : &m->buffer_floats;
        t->offset = *area;
        *area += t->numel;
        if (t->is_param)
            m->params += t->numel;
    }
    for (int i = 0; i < m->norder; i++)
        m->macs += m->nodes[m->order[i]].macs;
}

static mc_model *load(arena *a, diag *d, const char *name, const char *text, long len, const mc_options *opt)
{
    program *prog = parse_program(a, d, name, text, len);
    build b = {.a = a, .d = d};
    b.m = arena_alloc(a, sizeof *b.m);
    b.m->file = name;
    read_header(&b, prog, opt);
    build_node(&b, "input", mc_op(OP_INPUT), (mc_loc){name, 0, 0}, NULL);

    int out = expand_program(&b, prog);
    resolve_inputs(&b);
    mc_model *m = b.m;
    m->output = follow(&b, out);
    if (m->output <= 0)
        diag_error(d, (mc_loc){name, 0, 0}, "the model has no layers; expected layers after the header, as in 'conv1: conv 16 k=3'");

    int *topo = topo_order(&b);
    for (int i = 0; i < m->nnodes; i++)
        m->nodes[topo[i]].op->infer(&b, &m->nodes[topo[i]]);
    check_liveness(&b, topo);

    mc_node *o = &m->nodes[m->output];
    if (o->shape.c != m->classes || o->shape.h != 1 || o->shape.w != 1)
        build_error(&b, o, "the model's output '%s' is %s; expected %dx1x1 (one score per class: end with "
                    "'fc: linear classes')", o->name, shape_str(a, o->shape), m->classes);

    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].op->tensors)
            m->nodes[i].op->tensors(&b, &m->nodes[i]);
    check_unique_names(&b);
    layout(m);
    return m;
}

mc_model *mc_load_text(arena *a, const char *name, const char *text, long len, const mc_options *opt, char *err,
                       size_t errlen)
{
    diag d;
    if (setjmp(d.jump)) {
        snprintf(err, errlen, "%s", d.msg);
        return NULL;
    }
    long blank = 0;
    while (blank < len && (text[blank] == ' ' || text[blank] == '\t' || text[blank] == '\r' || text[blank] == '\n'))
        blank++;
    if (blank == len)
        diag_error(&d, (mc_loc){name, 0, 0}, "the file is empty; expected a model description starting with "
                   "'model NAME'");
    return load(a, &d, name, text, len, opt);
}

mc_model *mc_load(arena *a, const char *path, const mc_options *opt, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: error: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* Read at most one byte past the limit: enough to know it is too big. */
    char *text = arena_alloc(a, MC_MAX_FILE_BYTES + 2);
    size_t len = fread(text, 1, MC_MAX_FILE_BYTES + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: error: cannot read the file", path);
        return NULL;
    }
    return mc_load_text(a, path, text, (long)len, opt, err, errlen);
}
