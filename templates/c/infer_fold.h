/* A batch norm in eval mode folded into the conv or depthwise before it:
 * y = (conv(x) + bias - mean) * gamma / sqrt(var + eps) + beta per output
 * channel, so each channel's weights are multiplied by its scale and its
 * bias becomes (bias - mean) * scale + beta. The weights hold the output
 * channels one after the other, nseg runs of channels[s] channels of
 * block[s] weights each (a conv: one run; a Multiception's depthwise: one
 * per kernel size). Done in double, rounded once.
 *
 * One file for both places that fold: the inference library's loader
 * (copied into the emitted C by its template) and mcgen emit --weights
 * (compiled into the generator), so that weights embedded in the C and
 * weights loaded at run time are the same floats. It is C text read by m4
 * too: lower-case names only, no quote characters. */
static void mc_infer_fold(float *weights, float *bias, int nseg, const int *channels, const long long *block,
                          const float *gamma, const float *beta, const float *mean, const float *var, double eps)
{
    int out = 0;
    for (int seg = 0; seg < nseg; seg++)
        for (int ch = 0; ch < channels[seg]; ch++, out++) {
            const double scale = (double)gamma[out] / sqrt((double)var[out] + eps);
            for (long long tap = 0; tap < block[seg]; tap++, weights++)
                *weights = (float)(*weights * scale);
            bias[out] = (float)(((double)bias[out] - mean[out]) * scale + beta[out]);
        }
}
