/**
 * Image headers crafted byte by byte, each stating a chosen width and height: enough of each format
 * for its magic bytes and its size to be read, as an attacker would craft a decompression bomb.
 * The pixel data is absent or zeros; nothing here is meant to be decoded.
 */

const u16be = (value: number) => Buffer.from([(value >> 8) & 0xff, value & 0xff]);
const u16le = (value: number) => Buffer.from([value & 0xff, (value >> 8) & 0xff]);
const u32be = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
};
const u32le = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0);
  return buffer;
};
const i32le = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return buffer;
};
const u24le = (value: number) => Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff]);
const text = (value: string) => Buffer.from(value, 'latin1');

/** PNG signature and an IHDR chunk (8-bit RGBA). */
export function pngHeader(width: number, height: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    u32be(13),
    text('IHDR'),
    u32be(width),
    u32be(height),
    Buffer.from([8, 6, 0, 0, 0]),
    u32be(0), // CRC, not checked
  ]);
}

/** SOI, an APP0 (JFIF) segment, a DQT segment, then SOFn (baseline C0 by default) with the size. */
export function jpegHeader(width: number, height: number, sof = 0xc0): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    Buffer.from([0xff, 0xe0]),
    u16be(16),
    text('JFIF\0'),
    Buffer.from([1, 1, 0]),
    u16be(1),
    u16be(1),
    Buffer.from([0, 0]),
    Buffer.from([0xff, 0xdb]),
    u16be(67),
    Buffer.alloc(65, 1),
    Buffer.from([0xff, sof]),
    u16be(11),
    Buffer.from([8]),
    u16be(height),
    u16be(width),
    Buffer.from([1, 1, 0x11, 0]),
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** GIF89a with a logical screen of the size, no colour table, and one frame covering it. */
export function gifHeader(width: number, height: number, frame = { left: 0, top: 0, width, height }): Buffer {
  return Buffer.concat([
    text('GIF89a'),
    u16le(width),
    u16le(height),
    Buffer.from([0x00, 0x00, 0x00]),
    Buffer.from([0x2c]),
    u16le(frame.left),
    u16le(frame.top),
    u16le(frame.width),
    u16le(frame.height),
    Buffer.from([0x00]),
    Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]), // LZW min code size, one sub-block, terminator
    Buffer.from([0x3b]),
  ]);
}

/** BMP file header and a BITMAPINFOHEADER; a negative height is a top-down bitmap. */
export function bmpHeader(width: number, height: number): Buffer {
  return Buffer.concat([
    text('BM'),
    u32le(54),
    u32le(0),
    u32le(54),
    u32le(40),
    i32le(width),
    i32le(height),
    u16le(1),
    u16le(24),
    Buffer.alloc(24),
  ]);
}

/** A BMP with the old 12-byte BITMAPCOREHEADER (16-bit sizes). */
export function bmpCoreHeader(width: number, height: number): Buffer {
  return Buffer.concat([text('BM'), u32le(26), u32le(0), u32le(26), u32le(12), u16le(width), u16le(height), u16le(1), u16le(24)]);
}

function riff(chunk: string, data: Buffer): Buffer {
  return Buffer.concat([text('RIFF'), u32le(4 + 8 + data.length), text('WEBP'), text(chunk), u32le(data.length), data]);
}

/** WEBP, lossy: a VP8 key frame header with 14-bit sizes. */
export function webpVp8Header(width: number, height: number): Buffer {
  return riff('VP8 ', Buffer.concat([Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]), u16le(width & 0x3fff), u16le(height & 0x3fff), Buffer.alloc(8)]));
}

/** WEBP, lossless: the VP8L signature and 14-bit sizes minus one. */
export function webpVp8lHeader(width: number, height: number): Buffer {
  const bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14);
  return riff('VP8L', Buffer.concat([Buffer.from([0x2f]), u32le(bits), Buffer.alloc(8)]));
}

/** WEBP, extended: a VP8X canvas with 24-bit sizes minus one. */
export function webpVp8xHeader(width: number, height: number): Buffer {
  return riff('VP8X', Buffer.concat([Buffer.from([0, 0, 0, 0]), u24le(width - 1), u24le(height - 1)]));
}
