m4_divert(-1)
# The training loss on the device, with the per-image function of the C
# template: one thread per image writes its softmax and its loss, one
# block sums the losses (fixed order), and one float comes back.
m4_include(`../c/loss.m4')m4_divert(-1)

m4_define(`MC_LOSS',
`
LOSS_IMAGE(`MC_CU_HD static inline ')
CU_MAP(MODEL`'_xent, `n', `int n, const float *z, const int32_t *labels, float *probs, double *losses',
    `n, z, labels, probs, losses', `        losses[i] = MODEL`'_loss_image(z + i * CLASSES, labels[i], probs + i * CLASSES);
')
CU_BODY(MODEL`'_mean, `int n, const double *losses, float *mean')
{
    double v = 0;
    for (long i = block + tid; i < n; i += nthreads)
        v += losses[i];
    const double total = mc_cu_block_sum(v, (double *)shm, tid, nthreads);
    if (tid == 0)
        *mean = (float)(total / n);
}

CU_KERNEL(MODEL`'_mean, `int n, const double *losses, float *mean', `n, losses, mean')
CU_MAP(MODEL`'_xent_grad, `n * CLASSES', `int n, const int32_t *labels, const float *probs, float *d',
    `n, labels, probs, d', `        const float scale = 1.0f / n;
        d[i] += LOSS_GRAD(`i', `i % CLASSES', `labels[i / CLASSES]');
')
/* Mean cross-entropy of the batch (labels and probs in the step memory). */
static float MODEL`'_loss(const mc_state *s, const int32_t *labels, float *probs, int host)
{
    const int n = s->batch;
    const float *z = s->acts + (long)OUTPUT_ACT * n;
    double *losses = (double *)mc_cuda_scratch(host, 2 * (size_t)n + 2);
    float *mean = (float *)(losses + n), result;
    CU_MAP_RUN(MODEL`'_xent, n, `n, z, labels, probs, losses');
    CU_RUN(MODEL`'_mean, 1, CU_THREADS * sizeof(double), `n, losses, mean');
    mc_cuda_to_host(host, &result, mean, sizeof result);
    return result;
}

static void MODEL`'_loss_backward(const mc_state *s, const int32_t *labels, const float *probs, int host)
{
    const int n = s->batch;
    float *d = s->dacts + (long)OUTPUT_ACT * n;
    CU_MAP_RUN(MODEL`'_xent_grad, n * CLASSES, `n, labels, probs, d');
}
')
m4_divert(0)m4_dnl
