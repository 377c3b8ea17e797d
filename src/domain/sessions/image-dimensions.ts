/**
 * Width and height of a verify image, read from its header without decoding a pixel, so that an image
 * that would blow up when decoded (a few kilobytes of PNG or GIF that claim 100,000 x 100,000 pixels,
 * a "decompression bomb") is refused before anything is sent to Face.
 *
 * - PNG: the IHDR chunk, which must come first.
 * - JPEG: the first start-of-frame marker (SOF0..SOF15 but DHT, JPG and DAC), walking the segments.
 * - GIF: the logical screen, and every frame descriptor's extent on it.
 * - BMP: the info header (BITMAPCOREHEADER or BITMAPINFOHEADER and its successors; a negative height
 *   is a top-down bitmap).
 * - WEBP: the first chunk: VP8 (lossy key frame), VP8L (lossless) or VP8X (extended canvas).
 *
 * Written here rather than taken from `image-size` or `probe-image-size`: neither counts GIF frames
 * that reach past the logical screen, and `image-size` also misses JPEG frames other than SOF0-2 (so
 * a huge lossless frame hides behind a small baseline one), misreads the old BMP core header, and
 * reads past the end of a truncated header into whatever buffer holds it.
 */
/** The formats Face accepts for a verify image. */
export type ImageFormat = 'JPEG' | 'PNG' | 'GIF' | 'BMP' | 'WEBP';

export interface ImageDimensions {
  width: number;
  height: number;
}

/** The dimensions the header states, or undefined when the header is cut short or malformed. */
export function readImageDimensions(bytes: Uint8Array, format: ImageFormat): ImageDimensions | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    switch (format) {
      case 'PNG':
        return pngDimensions(buffer);
      case 'JPEG':
        return jpegDimensions(buffer);
      case 'GIF':
        return gifDimensions(buffer);
      case 'BMP':
        return bmpDimensions(buffer);
      case 'WEBP':
        return webpDimensions(buffer);
    }
  } catch (error) {
    // A read past the end of a truncated header.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function pngDimensions(bytes: Buffer): ImageDimensions | undefined {
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** SOFn markers that carry the frame size: C0..CF except C4 (DHT), C8 (JPG) and CC (DAC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

function jpegDimensions(bytes: Buffer): ImageDimensions | undefined {
  let offset = 2; // after SOI
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    // Any number of 0xFF fill bytes may precede a marker.
    while (bytes[offset] === 0xff) offset += 1;
    const marker = bytes.readUInt8(offset);
    offset += 1;
    // Markers without a length: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    // End of image, or the scan began without any frame header: no size to be had.
    if (marker === 0xd9 || marker === 0xda) return undefined;
    const length = bytes.readUInt16BE(offset);
    if (length < 2) return undefined;
    if (isStartOfFrame(marker)) {
      // length(2) precision(1) height(2) width(2)
      return { height: bytes.readUInt16BE(offset + 3), width: bytes.readUInt16BE(offset + 5) };
    }
    offset += length;
  }
  return undefined;
}

function gifDimensions(bytes: Buffer): ImageDimensions | undefined {
  const screen = { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  const flags = bytes.readUInt8(10);
  let offset = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  const skipSubBlocks = () => {
    for (let size = bytes.readUInt8(offset); size !== 0; size = bytes.readUInt8(offset)) offset += size + 1;
    offset += 1;
  };
  // A frame may reach beyond the logical screen, and decoders allocate for the frame: count its extent too.
  let { width, height } = screen;
  let frames = 0;
  try {
    while (offset < bytes.length) {
      const block = bytes.readUInt8(offset);
      if (block === 0x3b) break; // trailer
      if (block === 0x21) {
        offset += 2; // introducer, label
        skipSubBlocks();
      } else if (block === 0x2c) {
        const left = bytes.readUInt16LE(offset + 1);
        const top = bytes.readUInt16LE(offset + 3);
        const frameWidth = bytes.readUInt16LE(offset + 5);
        const frameHeight = bytes.readUInt16LE(offset + 7);
        const frameFlags = bytes.readUInt8(offset + 9);
        width = Math.max(width, left + frameWidth);
        height = Math.max(height, top + frameHeight);
        frames += 1;
        offset += 10 + (frameFlags & 0x80 ? 3 * 2 ** ((frameFlags & 0x07) + 1) : 0);
        offset += 1; // LZW minimum code size
        skipSubBlocks();
      } else if (frames > 0) {
        break; // bytes after the frames that no decoder reads
      } else {
        return undefined;
      }
    }
  } catch (error) {
    // Cut short after its first frame: what a decoder would allocate is known.
    if (!(error instanceof RangeError) || frames === 0) throw error;
  }
  return { width, height };
}

function bmpDimensions(bytes: Buffer): ImageDimensions | undefined {
  const headerSize = bytes.readUInt32LE(14);
  if (headerSize === 12) return { width: bytes.readUInt16LE(18), height: bytes.readUInt16LE(20) };
  if (headerSize < 40) return undefined;
  const width = bytes.readInt32LE(18);
  const height = bytes.readInt32LE(22);
  if (width < 0 || height === -0x80000000) return undefined;
  return { width, height: Math.abs(height) };
}

function webpDimensions(bytes: Buffer): ImageDimensions | undefined {
  const chunk = bytes.toString('latin1', 12, 16);
  const data = 20;
  if (chunk === 'VP8 ') {
    // A key frame: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (2 bits of scale).
    if (bytes.readUInt8(data + 3) !== 0x9d || bytes.readUInt8(data + 4) !== 0x01 || bytes.readUInt8(data + 5) !== 0x2a) return undefined;
    return { width: bytes.readUInt16LE(data + 6) & 0x3fff, height: bytes.readUInt16LE(data + 8) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (bytes.readUInt8(data) !== 0x2f) return undefined;
    const bits = bytes.readUInt32LE(data + 1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    return { width: bytes.readUIntLE(data + 4, 3) + 1, height: bytes.readUIntLE(data + 7, 3) + 1 };
  }
  return undefined;
}
