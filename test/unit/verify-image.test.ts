/** The verify image is checked before anything goes to Face: base64, magic bytes, at most 6 MB decoded. */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors';
import { decodeVerifyImage, MAX_VERIFY_IMAGE_BYTES, sniffImageFormat } from '../../src/domain/sessions/verify-image';
import { bmpHeader, jpegHeader, webpVp8Header } from '../helpers/image-headers';
import { GIF_1X1, PNG_1X1, pngOfSize, TEXT_AS_BASE64 } from '../helpers/images';

const bytes = (...values: Array<number | string>) =>
  Buffer.concat(values.map((value) => (typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from([value]))));

const JPEG = bytes(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'JFIF', 0x00);
const PNG = Buffer.from(PNG_1X1, 'base64');
const GIF87 = bytes('GIF87a', 0x01, 0x00, 0x01, 0x00);
const GIF89 = Buffer.from(GIF_1X1, 'base64');
const BMP = Buffer.concat([bytes('BM'), Buffer.alloc(24)]);
const WEBP = bytes('RIFF', 0x24, 0x00, 0x00, 0x00, 'WEBPVP8 ', 0x00);

/** Runs `decode` and returns the DomainError it threw. */
function refusal(decode: () => unknown): DomainError {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected the image to be refused');
}

describe('sniffImageFormat', () => {
  it.each([
    ['JPEG', JPEG],
    ['PNG', PNG],
    ['GIF', GIF87],
    ['GIF', GIF89],
    ['BMP', BMP],
    ['WEBP', WEBP],
  ])('recognises %s by its magic bytes', (format, image) => {
    expect(sniffImageFormat(image)).toBe(format);
  });

  it.each([
    ['text', Buffer.from('this is not an image')],
    ['no bytes at all', Buffer.alloc(0)],
    ['a JPEG start of image marker alone, without the next marker', bytes(0xff, 0xd8)],
    ['a PNG signature cut short', bytes(0x89, 'PNG', 0x0d, 0x0a)],
    ['a PNG signature with one byte wrong', bytes(0x89, 'PNG', 0x0d, 0x0a, 0x1a, 0x0b)],
    ['a GIF of an unknown version', bytes('GIF88a', 0x01, 0x00)],
    ['a BMP header too short to hold its info header', bytes('BM', 0x00, 0x00)],
    ['a RIFF file that is not WEBP', bytes('RIFF', 0x24, 0x00, 0x00, 0x00, 'WAVEfmt ')],
    ['a TIFF, which Face does not take', bytes('II*', 0x00, 0x08, 0x00, 0x00, 0x00)],
    ['a PDF', bytes('%PDF-1.7\n')],
  ])('rejects %s', (_case, image) => {
    expect(sniffImageFormat(image)).toBeUndefined();
  });
});

describe('decodeVerifyImage', () => {
  // Images whose headers also state their size (the header-only fixtures above are for sniffing).
  it.each([
    ['JPEG', jpegHeader(640, 480)],
    ['PNG', PNG],
    ['GIF', GIF89],
    ['BMP', bmpHeader(640, 480)],
    ['WEBP', webpVp8Header(640, 480)],
  ])('decodes a %s to its exact bytes', (format, image) => {
    const decoded = decodeVerifyImage(image.toString('base64'));
    expect(decoded.format).toBe(format);
    expect(decoded.bytes.equals(image)).toBe(true);
  });

  it('tolerates a data URL prefix, as browsers produce it', () => {
    expect(decodeVerifyImage(`data:image/png;base64,${PNG_1X1}`).bytes.equals(PNG)).toBe(true);
  });

  it('tolerates line breaks, as the base64 tool produces them', () => {
    const wrapped = PNG_1X1.replace(/(.{20})/g, '$1\r\n');
    expect(wrapped).toContain('\n');
    expect(decodeVerifyImage(wrapped).bytes.equals(PNG)).toBe(true);
  });

  it('accepts exactly 6 MB decoded', () => {
    const decoded = decodeVerifyImage(pngOfSize(MAX_VERIFY_IMAGE_BYTES));
    expect(decoded.bytes.length).toBe(MAX_VERIFY_IMAGE_BYTES);
    expect(decoded.format).toBe('PNG');
  });

  it.each([
    ['one byte over 6 MB', pngOfSize(MAX_VERIFY_IMAGE_BYTES + 1), /larger than 6 MB/],
    ['far over 6 MB', pngOfSize(3 * MAX_VERIFY_IMAGE_BYTES), /larger than 6 MB/],
    ['empty', '', /empty/],
    ['only a data URL prefix', 'data:image/png;base64,', /empty/],
    ['text with characters outside base64', 'not base64 at all!', /not valid base64/],
    ['base64url rather than base64', Buffer.from([0xfb, 0xff, 0xfe, 0xfb]).toString('base64url') + '==', /not valid base64/],
    ['base64 of a length no encoder produces', PNG_1X1.slice(0, -1), /not valid base64/],
    ['padding in the middle', `${PNG_1X1.slice(0, 8)}====${PNG_1X1.slice(8)}`, /not valid base64/],
    ['valid base64 of plain text', TEXT_AS_BASE64, /JPEG, PNG, GIF, BMP or WEBP/],
  ])('refuses an image that is %s with BAD_USER_INPUT', (_case, base64, message) => {
    const error = refusal(() => decodeVerifyImage(base64));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(message);
  });

  it('never puts the bytes it refuses into its message', () => {
    const text = Buffer.from('a secret that is no image, and rather long at that').toString('base64');
    for (const base64 of [text, `${text}!`]) {
      const error = refusal(() => decodeVerifyImage(base64));
      expect(error.message).not.toContain(base64.slice(0, 16));
      expect(error.message).not.toContain('secret');
    }
  });
});
