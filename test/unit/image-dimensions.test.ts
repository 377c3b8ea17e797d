/**
 * The verify image's width and height are read from its header, per format, and absurd sizes (zero,
 * a side over 16,384, more than 64 megapixels: a decompression bomb) are refused with BAD_USER_INPUT.
 */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors';
import { readImageDimensions } from '../../src/domain/sessions/image-dimensions';
import { decodeVerifyImage, sniffImageFormat } from '../../src/domain/sessions/verify-image';
import {
  bmpCoreHeader,
  bmpHeader,
  gifHeader,
  jpegHeader,
  pngHeader,
  webpVp8Header,
  webpVp8lHeader,
  webpVp8xHeader,
} from '../helpers/image-headers';
import { GIF_1X1, PNG_1X1 } from '../helpers/images';

function dimensionsOf(image: Buffer) {
  const format = sniffImageFormat(image);
  if (!format) throw new Error('the fixture is not recognised as an image');
  return readImageDimensions(image, format);
}

function refusal(image: Buffer): DomainError {
  try {
    decodeVerifyImage(image.toString('base64'));
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected the image to be refused');
}

describe('reading the size from the header', () => {
  it.each([
    ['a PNG', pngHeader(640, 480)],
    ['a baseline JPEG (SOF0)', jpegHeader(640, 480)],
    ['a progressive JPEG (SOF2)', jpegHeader(640, 480, 0xc2)],
    ['a lossless JPEG (SOF3)', jpegHeader(640, 480, 0xc3)],
    ['an arithmetic-coded JPEG (SOF9)', jpegHeader(640, 480, 0xc9)],
    ['a hierarchical lossless arithmetic JPEG (SOF15)', jpegHeader(640, 480, 0xcf)],
    ['a GIF', gifHeader(640, 480)],
    ['a BMP with an info header', bmpHeader(640, 480)],
    ['a top-down BMP (negative height)', bmpHeader(640, -480)],
    ['a BMP with the old core header', bmpCoreHeader(640, 480)],
    ['a lossy WEBP (VP8)', webpVp8Header(640, 480)],
    ['a lossless WEBP (VP8L)', webpVp8lHeader(640, 480)],
    ['an extended WEBP (VP8X)', webpVp8xHeader(640, 480)],
  ])('reads 640 x 480 from %s', (_case, image) => {
    expect(dimensionsOf(image)).toEqual({ width: 640, height: 480 });
  });

  it('reads 1 x 1 from the real 1-pixel PNG and GIF', () => {
    expect(dimensionsOf(Buffer.from(PNG_1X1, 'base64'))).toEqual({ width: 1, height: 1 });
    expect(dimensionsOf(Buffer.from(GIF_1X1, 'base64'))).toEqual({ width: 1, height: 1 });
  });

  it('finds the JPEG frame header after fill bytes and other segments', () => {
    const plain = jpegHeader(300, 200);
    // An extra 0xFF fill byte before the SOF marker, as encoders may write.
    const sof = plain.indexOf(Buffer.from([0xff, 0xc0]));
    const padded = Buffer.concat([plain.subarray(0, sof), Buffer.from([0xff]), plain.subarray(sof)]);
    expect(dimensionsOf(padded)).toEqual({ width: 300, height: 200 });
  });

  it('reads only the bytes it is given, not the rest of the buffer they sit in', () => {
    const cut = Buffer.concat([pngHeader(640, 480), Buffer.alloc(64)]).subarray(0, 18);
    expect(dimensionsOf(cut)).toBeUndefined();
  });

  it('counts a GIF frame that reaches beyond the logical screen', () => {
    expect(dimensionsOf(gifHeader(10, 10, { left: 5, top: 0, width: 20_000, height: 10 }))).toEqual({ width: 20_005, height: 10 });
  });

  it.each([
    ['a PNG cut before its IHDR', pngHeader(640, 480).subarray(0, 18)],
    ['a JPEG whose scan starts without a frame header', Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9])],
    ['a JPEG cut inside its segments', jpegHeader(640, 480).subarray(0, 30)],
    ['a BMP with an unknown info header size', Buffer.concat([bmpHeader(640, 480).subarray(0, 14), Buffer.from([20, 0, 0, 0]), Buffer.alloc(20)])],
    ['a BMP of negative width', bmpHeader(-640, 480)],
    ['a WEBP whose VP8 frame lacks the start code', Buffer.concat([webpVp8Header(640, 480).subarray(0, 23), Buffer.alloc(10)])],
    ['a GIF cut before its first frame', gifHeader(640, 480).subarray(0, 15)],
  ])('gives no size for %s', (_case, image) => {
    expect(dimensionsOf(image)).toBeUndefined();
  });
});

describe('refusing absurd sizes before Face', () => {
  it.each([
    ['a PNG of 100,000 x 100,000', pngHeader(100_000, 100_000)],
    ['a PNG of 16,385 x 1', pngHeader(16_385, 1)],
    ['a PNG of 1 x 16,385', pngHeader(1, 16_385)],
    ['a PNG of 16,384 x 4,000 (65.5 megapixels)', pngHeader(16_384, 4_000)],
    ['a JPEG of 65,535 x 65,535', jpegHeader(65_535, 65_535)],
    [
      'a lossless JPEG of 60,000 x 60,000 followed by a small baseline frame',
      Buffer.concat([jpegHeader(60_000, 60_000, 0xc3).subarray(0, -2), jpegHeader(10, 10).subarray(2)]),
    ],
    ['a GIF of 65,535 x 65,535', gifHeader(65_535, 65_535)],
    ['a GIF whose frame reaches 20,005 pixels wide', gifHeader(10, 10, { left: 5, top: 0, width: 20_000, height: 10 })],
    ['a BMP of 30,000 x 30,000', bmpHeader(30_000, 30_000)],
    ['a top-down BMP of 100 x -20,000', bmpHeader(100, -20_000)],
    ['a lossless WEBP of 16,384 x 16,384', webpVp8lHeader(16_384, 16_384)],
    ['an extended WEBP of 1,000,000 x 1,000,000', webpVp8xHeader(1_000_000, 1_000_000)],
  ])('refuses %s as too large', (_case, image) => {
    const error = refusal(image);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/at most 16384 pixels a side and 64 megapixels/);
  });

  it.each([
    ['a PNG of 0 x 480', pngHeader(0, 480)],
    ['a JPEG of 640 x 0', jpegHeader(640, 0)],
    ['a GIF of 0 x 0 with an empty frame', gifHeader(0, 0)],
    ['a BMP of 0 x 0', bmpHeader(0, 0)],
    ['a lossy WEBP of 0 x 480', webpVp8Header(0, 480)],
  ])('refuses %s as having no pixels', (_case, image) => {
    const error = refusal(image);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/no pixels/);
  });

  it.each([
    ['a PNG cut before its IHDR', pngHeader(640, 480).subarray(0, 18)],
    ['a JPEG without a frame header', Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9])],
  ])('refuses %s as damaged', (_case, image) => {
    const error = refusal(image);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/damaged/);
  });

  it.each([
    ['a PNG of 16,384 x 3,906 (just under 64 megapixels)', pngHeader(16_384, 3_906), 16_384, 3_906],
    ['a JPEG of 4,000 x 3,000', jpegHeader(4_000, 3_000), 4_000, 3_000],
    ['an extended WEBP of 8,000 x 8,000', webpVp8xHeader(8_000, 8_000), 8_000, 8_000],
  ])('accepts %s', (_case, image, width, height) => {
    expect(decodeVerifyImage(image.toString('base64'))).toMatchObject({ width, height });
  });
});
