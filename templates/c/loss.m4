m4_divert(-1)
# The training loss on the model output (CLASSES logits per image, in the
# activation slot OUTPUT_ACT): mean over the batch of -log softmax at the
# label, and its gradient into the output gradient slot.

# LOSS_IMAGE(qualifiers): the loss of one image, a function of its logits
# zb, its label, writing its softmax to pb (the CUDA template runs the same
# function on the device).
m4_define(`LOSS_IMAGE',
`$1double MODEL`'_loss_image(const float *zb, int32_t label, float *pb)
{
    float max = zb[0];
    for (int j = 1; j < CLASSES; j++)
        max = zb[j] > max ? zb[j] : max;
    double sum = 0;
    for (int j = 0; j < CLASSES; j++)
        sum += exp((double)zb[j] - max);
    for (int j = 0; j < CLASSES; j++)
        pb[j] = (float)(exp((double)zb[j] - max) / sum);
    return log(sum) - ((double)zb[label] - max);
}
')

# LOSS_GRAD(i, j, label): d loss / d logit i (class j of its image).
m4_define(`LOSS_GRAD', `(probs[$1] - ($2 == $3)) * scale')

m4_define(`MC_LOSS',
`
LOSS_IMAGE(`static inline ')
/* Mean cross-entropy of the batch; writes the softmax to probs (n x CLASSES). */
static float MODEL`'_loss(const mc_state *s, const int32_t *labels, float *probs)
{
    const int n = s->batch;
    const float *z = s->acts + (long)OUTPUT_ACT * n;
    double total = 0;
    for (long b = 0; b < n; b++)
        total += MODEL`'_loss_image(z + b * CLASSES, labels[b], probs + b * CLASSES);
    return (float)(total / n);
}

/* d loss / d logits = (softmax - onehot(label)) / n, added to the output gradient. */
static void MODEL`'_loss_backward(const mc_state *s, const int32_t *labels, const float *probs)
{
    const int n = s->batch;
    float *d = s->dacts + (long)OUTPUT_ACT * n;
    const float scale = 1.0f / n;
    for (long b = 0; b < n; b++)
        for (int j = 0; j < CLASSES; j++)
            d[b * CLASSES + j] += LOSS_GRAD(`b * CLASSES + j', `j', `labels[b]');
}
')
m4_divert(0)m4_dnl
