#include "summary.h"

#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* 1234567 -> "1,234,567" */
static const char *grouped(char buf[32], long long v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

void summary_table(FILE *f, const mc_model *m)
{
    int w = (int)strlen("layer");
    for (int i = 1; i < m->nnodes; i++) {
        int l = (int)strlen(m->nodes[i].name);
        w = l > w ? l : w;
    }
    char b1[32], b2[32];
    fprintf(f, "%s: conv_type %s, %d classes, input %dx%dx%d\n\n", m->name, mc_conv_type_names[m->conv_type],
            m->classes, m->input.c, m->input.h, m->input.w);
    fprintf(f, "%-*s  %-18s %-12s %12s %15s\n", w, "layer", "op", "output", "params", "MACs");
    for (int i = 1; i < m->nnodes; i++) {
        const mc_node *n = &m->nodes[i];
        char op[40], shape[40];
        snprintf(op, sizeof op, "%s%s", n->op->name, n->unused ? " (unused)" : "");
        snprintf(shape, sizeof shape, "%dx%dx%d", n->shape.c, n->shape.h, n->shape.w);
        fprintf(f, "%-*s  %-18s %-12s %12s %15s\n", w, n->name, op, shape, grouped(b1, n->params),
                grouped(b2, n->unused ? 0 : n->macs));
    }
    fprintf(f, "%-*s  %-18s %-12s %12s %15s\n", w, "total", "", "", grouped(b1, m->params), grouped(b2, m->macs));
    long long buffers = 0;
    for (int i = 0; i < m->ntensors; i++)
        buffers += !m->tensors[i].is_param;
    fprintf(f, "\n%d tensors in the state_dict (%lld buffers); MACs are forward multiply-accumulates per image\n",
            m->ntensors, buffers);
}

/* Names are restricted to [A-Za-z0-9_.#], so only the model's own fields
 * could need escaping; escape everything anyway. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_tensor(FILE *f, const mc_tensor *t)
{
    fputs("{\"name\": ", f);
    json_string(f, t->name);
    fputs(", \"shape\": [", f);
    for (int d = 0; d < t->ndim; d++)
        fprintf(f, "%s%d", d ? ", " : "", t->shape[d]);
    fprintf(f, "], \"kind\": \"%s\", \"dtype\": \"%s\"}", t->is_param ? "param" : "buffer",
            t->dtype == MC_I64 ? "int64" : "float32");
}

/* The shortest of %.15g and %.17g that reads back as the same double:
 * 1e-05, not 1.0000000000000001e-05. */
static void json_double(FILE *f, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
}

/* Every key of the node's op, read through the registry's field offsets, so
 * a new op or key shows up here without a line of its own. */
static void json_attributes(FILE *f, const mc_node *n)
{
    const char *base = (const char *)n;
    for (const mc_key *k = n->op->keys; k->name; k++) {
        fprintf(f, ", \"%s\": ", k->name);
        switch (k->type) {
        case KEY_INT: fprintf(f, "%d", *(const int *)(base + k->field)); break;
        case KEY_FLOAT: json_double(f, *(const double *)(base + k->field)); break;
        case KEY_BOOL: fputs(*(const bool *)(base + k->field) ? "true" : "false", f); break;
        case KEY_KERNELS:
            for (int j = 0; j < n->nks; j++)
                fprintf(f, "%s%d", j ? ", " : "[", n->ks[j]);
            fputs(n->nks ? "]" : "[]", f);
            break;
        case KEY_CONVTYPE: fprintf(f, "\"%s\"", mc_conv_type_names[*(const mc_conv_type *)(base + k->field)]); break;
        }
    }
}

static void json_node(FILE *f, const mc_model *m, const mc_node *n)
{
    fputs("{\"name\": ", f);
    json_string(f, n->name);
    fprintf(f, ", \"op\": \"%s\", \"shape\": [%d, %d, %d], \"params\": %lld, \"macs\": %lld, \"inputs\": [",
            n->op->name, n->shape.c, n->shape.h, n->shape.w, n->params, n->unused ? 0 : n->macs);
    for (int j = 0; j < n->ninputs; j++) {
        fputs(j ? ", " : "", f);
        json_string(f, m->nodes[n->inputs[j]].name); /* node 0 is "input" */
    }
    fputc(']', f);
    json_attributes(f, n);
    /* not keys of the language, but the layer's semantics and names need them */
    fprintf(f, ", \"unused\": %s, \"indexed\": %s,\n   \"tensors\": [", n->unused ? "true" : "false",
            n->indexed ? "true" : "false");
    for (int t = 0; t < n->ntensors; t++) {
        fputs(t ? ", " : "", f);
        json_tensor(f, &m->tensors[n->first_tensor + t]);
    }
    fputs("]}", f);
}

/* Layers in execution order (each after its inputs), then the unused ones,
 * which are built but never run, in declaration order. */
void summary_json(FILE *f, const mc_model *m)
{
    fputs("{\"model\": ", f);
    json_string(f, m->name);
    fprintf(f, ", \"conv\": \"%s\", \"classes\": %d, \"input\": [%d, %d, %d],\n", mc_conv_type_names[m->conv_type],
            m->classes, m->input.c, m->input.h, m->input.w);
    fprintf(f, " \"params\": %lld, \"macs\": %lld, \"output\": ", m->params, m->macs);
    json_string(f, m->nodes[m->output].name);
    fputs(",\n \"layers\": [", f);
    int shown = 0;
    for (int i = 0; i < m->norder; i++, shown++) {
        fputs(shown ? ",\n  " : "\n  ", f);
        json_node(f, m, &m->nodes[m->order[i]]);
    }
    for (int i = 1; i < m->nnodes; i++)
        if (m->nodes[i].unused) {
            fputs(shown++ ? ",\n  " : "\n  ", f);
            json_node(f, m, &m->nodes[i]);
        }
    fputs("],\n \"tensors\": [", f);
    for (int i = 0; i < m->ntensors; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        json_tensor(f, &m->tensors[i]);
    }
    fputs("]}\n", f);
}
