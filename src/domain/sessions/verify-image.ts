/**
 * Checks a liveness-with-verify reference image before anything is sent to Face: the base64 text's
 * length is checked before decoding (so an oversized upload is never decoded), the bytes must be
 * strict base64, the format is recognised by its magic bytes (JPEG, PNG, GIF, BMP, WEBP: what Face
 * accepts), the decoded size is at most 6 MB, and the width and height its header states are sane
 * (`image-dimensions.ts`): neither zero nor absurd, so a decompression bomb never reaches Face.
 */
import { badInput } from '../errors';
import { readImageDimensions, type ImageFormat } from './image-dimensions';

/** Face's limit for the verify image (decoded bytes). */
export const MAX_VERIFY_IMAGE_BYTES = 6 * 1024 * 1024;
/** Face refuses a verify image under 1 KB (`InvalidImageSize`): no photo of a face is that small. */
export const MIN_VERIFY_IMAGE_BYTES = 1024;

/** Larger than any camera's photo, far below what would exhaust a decoder's memory. */
export const MAX_VERIFY_IMAGE_SIDE = 16_384;
/** 64 megapixels: 256 MB as 32-bit pixels; a reference photo of a face needs a tiny fraction of it. */
export const MAX_VERIFY_IMAGE_PIXELS = 64_000_000;

/** The format named by the first bytes, or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const starts = (...signature: number[]) => signature.every((byte, i) => bytes[i] === byte);
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'PNG';
  if (starts(0x47, 0x49, 0x46, 0x38) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) return 'GIF';
  if (starts(0x42, 0x4d) && bytes.length >= 26) return 'BMP';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return 'WEBP';
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Refuses a verify image Face would refuse as too small, before it is sent. Apart from
 * `decodeVerifyImage`, whose format and header checks hold for images of any size.
 */
export function checkVerifyImageSize(bytes: Uint8Array): void {
  if (bytes.length < MIN_VERIFY_IMAGE_BYTES) {
    throw badInput(`verifyImage is ${bytes.length} bytes; Face needs at least ${MIN_VERIFY_IMAGE_BYTES} bytes (1 KB).`);
  }
}

/** Decodes and checks a base64 verify image; throws BAD_USER_INPUT, never echoing the bytes. */
export function decodeVerifyImage(base64: string): { bytes: Buffer; format: ImageFormat; width: number; height: number } {
  // Tolerate a data URL prefix and line breaks, as browsers and `base64` produce them.
  const text = base64.replace(/^data:image\/[a-z]+;base64,/i, '').replace(/[\r\n]/g, '');
  const maxBase64Length = Math.ceil(MAX_VERIFY_IMAGE_BYTES / 3) * 4;
  if (text.length > maxBase64Length) throw badInput('verifyImage is larger than 6 MB.');
  if (text.length === 0) throw badInput('verifyImage is empty.');
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw badInput('verifyImage is not valid base64.');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > MAX_VERIFY_IMAGE_BYTES) throw badInput('verifyImage is larger than 6 MB.');
  const format = sniffImageFormat(bytes);
  if (!format) throw badInput('verifyImage must be a JPEG, PNG, GIF, BMP or WEBP image.');
  const dimensions = readImageDimensions(bytes, format);
  if (!dimensions) throw badInput(`verifyImage is a damaged ${format}: its header does not give its width and height.`);
  const { width, height } = dimensions;
  if (width === 0 || height === 0) throw badInput(`verifyImage has no pixels (${width} x ${height}).`);
  if (width > MAX_VERIFY_IMAGE_SIDE || height > MAX_VERIFY_IMAGE_SIDE || width * height > MAX_VERIFY_IMAGE_PIXELS) {
    throw badInput(
      `verifyImage is ${width} x ${height} pixels; at most ${MAX_VERIFY_IMAGE_SIDE} pixels a side and ${MAX_VERIFY_IMAGE_PIXELS / 1_000_000} megapixels are accepted.`,
    );
  }
  return { bytes, format, width, height };
}
