import { describe, expect, it } from 'vitest';
import { sniffImageFormat } from '../../tools/face-emulator/image-format';

const bytes = (...values: Array<number | string>) =>
  Buffer.concat(values.map((value) => (typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from([value]))));

describe('sniffImageFormat', () => {
  it.each([
    ['jpeg', bytes(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'JFIF')],
    ['png', bytes(0x89, 'PNG', 0x0d, 0x0a, 0x1a, 0x0a, 0x00)],
    ['gif', bytes('GIF89a', 0x01, 0x00)],
    ['gif', bytes('GIF87a', 0x01, 0x00)],
    ['bmp', Buffer.concat([bytes('BM'), Buffer.alloc(30)])],
    ['webp', bytes('RIFF', 0x24, 0x00, 0x00, 0x00, 'WEBPVP8 ')],
  ])('recognises %s by its magic bytes', (format, image) => {
    expect(sniffImageFormat(image)).toBe(format);
  });

  it.each([
    ['text', bytes('this is not an image')],
    ['an empty buffer', Buffer.alloc(0)],
    ['a truncated PNG signature', bytes(0x89, 'PNG')],
    ['a RIFF that is not WEBP', bytes('RIFF', 0x24, 0x00, 0x00, 0x00, 'WAVEfmt ')],
    ['a TIFF', bytes('II*', 0x00, 0x08, 0x00)],
  ])('rejects %s', (_case, image) => {
    expect(sniffImageFormat(image)).toBeUndefined();
  });
});
