m4_divert(-1)
# The training loss on the model output (CLASSES logits per image, in the
# activation slot OUTPUT_ACT): mean over the batch of -log softmax at the
# label, and its gradient into the output gradient slot.

m4_define(`MC_LOSS',
`
/* Mean cross-entropy of the batch; writes the softmax to probs (n x CLASSES). */
static float MODEL`'_loss(const mc_state *s, const int32_t *labels, float *probs)
{
    const int n = s->batch;
    const float *z = s->acts + (long)OUTPUT_ACT * n;
    double total = 0;
    for (long b = 0; b < n; b++) {
        const float *zb = z + b * CLASSES;
        float *pb = probs + b * CLASSES, max = zb[0];
        for (int j = 1; j < CLASSES; j++)
            max = zb[j] > max ? zb[j] : max;
        double sum = 0;
        for (int j = 0; j < CLASSES; j++)
            sum += exp((double)zb[j] - max);
        for (int j = 0; j < CLASSES; j++)
            pb[j] = (float)(exp((double)zb[j] - max) / sum);
        total += log(sum) - ((double)zb[labels[b]] - max);
    }
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
            d[b * CLASSES + j] += (probs[b * CLASSES + j] - (j == labels[b])) * scale;
}
')
m4_divert(0)m4_dnl
