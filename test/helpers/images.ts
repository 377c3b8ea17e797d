/** Small real images (and not-images) for verify sessions, as base64. */

/** A valid 1x1 PNG. */
export const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** A valid 1x1 GIF. */
export const GIF_1X1 = 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';

/** Plain text, base64-encoded: valid base64, but no image. */
export const TEXT_AS_BASE64 = Buffer.from('this is not an image, just some text').toString('base64');

/** A PNG header followed by zeros, `bytes` long in all: for the size limit. */
export function pngOfSize(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  Buffer.from(PNG_1X1, 'base64').copy(buffer);
  return buffer.toString('base64');
}
