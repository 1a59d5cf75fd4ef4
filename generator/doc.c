#include "doc.h"

#include "ops.h"

static const char *const key_types[] = {
    [KEY_INT] = "integer", [KEY_FLOAT] = "number", [KEY_BOOL] = "true/false",
    [KEY_KERNELS] = "list", [KEY_CONVTYPE] = "conv type",
};

void doc_ops_markdown(FILE *f)
{
    fputs("| op | inputs | what it computes | example |\n|---|---|---|---|\n", f);
    for (int i = 1; i < mc_nops; i++) {
        const mc_op_info *op = &mc_ops[i];
        char inputs[32];
        if (op->max_inputs < 0)
            snprintf(inputs, sizeof inputs, "%d or more", op->min_inputs);
        else
            snprintf(inputs, sizeof inputs, "%d", op->min_inputs);
        fprintf(f, "| `%s` | %s | %s%s | `%s` |\n", op->name, inputs, op->doc,
                op->has_params ? " (needs a name)" : "", op->example);
    }
    fputs("\nKeys (positional ones may be given without `key=`, in this order):\n\n"
          "| op | key | type | default | meaning |\n|---|---|---|---|---|\n", f);
    for (int i = 1; i < mc_nops; i++) {
        const mc_op_info *op = &mc_ops[i];
        for (const mc_key *k = op->keys; k->name; k++)
            fprintf(f, "| `%s` | `%s`%s | %s | %s | %s |\n", op->name, k->name, k->positional ? " (positional)" : "",
                    key_types[k->type], k->required ? "required" : k->dflt_doc ? k->dflt_doc : "-", k->doc);
    }
    fputs("| any | `unused` | true/false | false | built, counted and saved, never run nor updated "
          "(nothing may read it) |\n", f);
    fputs("\nInit targets: ", f);
    for (int i = 0; i < mc_ninit_targets; i++)
        fprintf(f, "%s`%s`", i ? ", " : "", mc_init_targets[i]);
    fputs(" (`conv` covers every convolution: conv, pointwise, depthwise, the slot types).\n\n"
          "| init rule | meaning |\n|---|---|\n", f);
    for (int i = 0; i < mc_ninit_rules; i++)
        fprintf(f, "| `%s` | %s |\n", mc_init_rule_docs[i][0], mc_init_rule_docs[i][1]);
}
