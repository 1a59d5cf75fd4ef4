/* image_write: writes the images described on stdin, for tests that need
 * real image files in every format the classifiers read. Each record is a
 * line "PATH W H C" followed by W*H*C bytes of interleaved pixels; the
 * format follows PATH's extension: .png, .jpg (quality 90) or .bmp
 * (stb_image_write, as Debian's libstb-dev ships it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

int main(void)
{
    char path[4096];
    int w, h, c, n = 0;
    while (scanf("%4095s %d %d %d", path, &w, &h, &c) == 4) {
        if (getchar() != '\n' || w < 1 || h < 1 || w > 4096 || h > 4096 || (c != 1 && c != 3)) {
            fprintf(stderr, "image_write: bad record header for %s\n", path);
            return 1;
        }
        unsigned char *px = malloc((size_t)w * h * c);
        if (!px || fread(px, 1, (size_t)w * h * c, stdin) != (size_t)w * h * c) {
            fprintf(stderr, "image_write: %s: pixels missing\n", path);
            return 1;
        }
        const char *dot = strrchr(path, '.');
        int ok = 0;
        if (dot && !strcmp(dot, ".png"))
            ok = stbi_write_png(path, w, h, c, px, w * c);
        else if (dot && !strcmp(dot, ".jpg"))
            ok = stbi_write_jpg(path, w, h, c, px, 90);
        else if (dot && !strcmp(dot, ".bmp"))
            ok = stbi_write_bmp(path, w, h, c, px);
        free(px);
        if (!ok) {
            fprintf(stderr, "image_write: cannot write %s\n", path);
            return 1;
        }
        n++;
    }
    printf("image_write: %d images\n", n);
    return 0;
}
