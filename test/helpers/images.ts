/**
 * Small real images (and not-images) for verify sessions, as base64. Face refuses a verify image
 * under 1 KB, so the images sessions start with carry a metadata chunk that brings them over it; the
 * Face emulator reads `face-emulator:faces=<n>` in such a chunk as the number of faces shown.
 */
import { crc32 } from 'node:zlib';

/** A valid 1x1 PNG, as small as it gets (70 bytes): under Face's 1 KB minimum. */
export const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** A valid 1x1 GIF, as small as it gets (43 bytes). */
export const TINY_GIF = 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';

/** Filler text that brings an image over Face's 1 KB minimum. */
const FILLER = 'Reference photo for liveness-with-verify tests. '.repeat(24);

/** `png` with a `tEXt` chunk (keyword `Comment`) inserted after its IHDR chunk, CRC and all. */
export function pngWithText(png: Buffer, text: string): Buffer {
  const ihdrEnd = 8 + 4 + 4 + 13 + 4;
  const data = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.from(text, 'latin1')]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from('tEXt', 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([png.subarray(0, ihdrEnd), length, typeAndData, crc, png.subarray(ihdrEnd)]);
}

/** `gif` (no global colour table larger than the 1x1 one) with a comment extension after its header. */
function gifWithComment(gif: Buffer, text: string): Buffer {
  const packed = gif[10] ?? 0;
  const headerEnd = 13 + ((packed & 0x80) !== 0 ? 3 * 2 ** ((packed & 0x07) + 1) : 0);
  const bytes = Buffer.from(text, 'latin1');
  const blocks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 255) {
    const block = bytes.subarray(offset, offset + 255);
    blocks.push(Buffer.from([block.length]), block);
  }
  return Buffer.concat([gif.subarray(0, headerEnd), Buffer.from([0x21, 0xfe]), ...blocks, Buffer.from([0]), gif.subarray(headerEnd)]);
}

/** A valid 1x1 PNG over 1 KB (a text chunk): a reference image Face takes, showing one face. */
export const PNG_1X1 = pngWithText(Buffer.from(TINY_PNG, 'base64'), FILLER).toString('base64');

/** A valid 1x1 GIF over 1 KB (a comment extension). */
export const GIF_1X1 = gifWithComment(Buffer.from(TINY_GIF, 'base64'), FILLER).toString('base64');

/** A valid 1x1 PNG over 1 KB that the Face emulator takes as showing `faces` faces. */
export function referencePng(faces: number): string {
  return pngWithText(Buffer.from(TINY_PNG, 'base64'), `face-emulator:faces=${faces} ${FILLER}`).toString('base64');
}

/** Plain text, base64-encoded: valid base64, but no image. */
export const TEXT_AS_BASE64 = Buffer.from('this is not an image, just some text').toString('base64');

/** A PNG header followed by zeros, `bytes` long in all: for the size limit. */
export function pngOfSize(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  Buffer.from(TINY_PNG, 'base64').copy(buffer);
  return buffer.toString('base64');
}
