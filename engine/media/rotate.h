/*
 * Turning decoded pictures upright: the quarter turns and mirrors a display matrix
 * (ISO/IEC 14496-12 8.5.3 tkhd matrix, as FFmpeg exports it in AV_PKT_DATA_DISPLAYMATRIX)
 * asks a player to apply, done once on the pixels so the output needs no matrix and has
 * square pixels in its display orientation.
 *
 * The matrix maps a stored sample (x, y) to the display point
 *     x' = a*x + c*y + tx,   y' = b*x + d*y + ty
 * (a = m[0], b = m[1], c = m[3], d = m[4], 16.16 fixed point, y grows downwards). A quarter
 * turn, mirrored or not, has a, b, c, d in {-1, 0, 1} with exactly one non-zero entry in
 * each row and column: the eight transforms of the square. Anything else (a 30 degree
 * turn, a shear) is refused.
 */
#ifndef CME_MEDIA_ROTATE_H
#define CME_MEDIA_ROTATE_H

#include <stdint.h>

#include <libavutil/frame.h>

typedef struct CmeRotation {
    int a, b, c, d; /* the matrix's 2x2 part, each -1, 0 or 1 (identity: 1, 0, 0, 1) */
    int degrees;    /* clockwise turn for display, 0/90/180/270, applied first ... */
    int hflip;      /* ... then mirrored left to right */
} CmeRotation;

#define CME_ROTATION_IDENTITY ((CmeRotation){ 1, 0, 0, 1, 0, 0 })

/* Reads a display matrix (9 int32, FFmpeg's layout; NULL = none, the identity) into *out.
 * 0, or CME_EUNSUPPORTED when it is not a quarter turn or a mirrored quarter turn; *out
 * then holds the nearest quarter turn and *ccw_degrees (if not NULL) the matrix's own
 * counter-clockwise angle, for the message. */
int cme__rotation_from_matrix(const int32_t *matrix, CmeRotation *out, double *ccw_degrees);

/* The transform of a clockwise turn (0, 90, 180, 270) followed by an optional mirror. */
CmeRotation cme__rotation_make(int degrees, int hflip);

static inline int cme__rotation_is_identity(const CmeRotation *r)
{
    return r->a == 1 && r->d == 1 && r->b == 0 && r->c == 0;
}

/* Whether the transform swaps width and height (90 or 270 degrees). */
static inline int cme__rotation_transposes(const CmeRotation *r)
{
    return r->a == 0;
}

/* Whether frames of pixel format fmt can be transformed by r (planar YUV or gray with 8 to
 * 16-bit samples; a transposing transform also needs equal horizontal and vertical chroma
 * subsampling, so 4:2:2 can only be mirrored or turned 180 degrees). */
int cme__rotation_supports(const CmeRotation *r, int fmt);

/* Replaces *frame by its transformed picture (new buffers; timestamps, colour description
 * and the other properties copied; sample aspect ratio inverted by a quarter turn; a
 * display matrix side data dropped). The identity leaves the frame as it is. 0,
 * CME_ENOMEM, or CME_EUNSUPPORTED for a pixel format cme__rotation_supports() refuses.
 * On failure *frame is unchanged. */
int cme__rotate_frame(const CmeRotation *r, AVFrame *frame);

/* Transforms one plane of w x h samples of bytes_per_sample (1 or 2) bytes from src to dst
 * (dst is h x w when r transposes). The planes must not overlap. */
void cme__rotate_plane(const CmeRotation *r, const uint8_t *src, int src_stride, uint8_t *dst,
                       int dst_stride, int w, int h, int bytes_per_sample);

#endif
