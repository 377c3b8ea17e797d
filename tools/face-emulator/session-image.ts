/**
 * The emulator's session images: a small valid baseline JPEG (64x80, grayscale, a face-like mosaic),
 * written by hand rather than drawn by an image library, with the image's id in a JPEG comment
 * segment so that every image differs, as a real selfie would.
 */

const SELFIE_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAj/wAALCABQAEABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAAPwD0gAAAAONADsgA40AOyAD5zAD6MAcaAAHZAONADsgA41xAdu7IAONADsgAAAAAAAA//9k=',
  'base64',
);

/** The JPEG served for `sessionImageId`: the selfie with a COM segment (0xFFFE) naming the id after SOI. */
export function sessionImageJpeg(sessionImageId: string): Buffer {
  const text = Buffer.from(`liveness-gateway face emulator: ${sessionImageId}`, 'latin1');
  const comment = Buffer.alloc(4);
  comment.writeUInt16BE(0xfffe, 0);
  comment.writeUInt16BE(text.length + 2, 2);
  return Buffer.concat([SELFIE_JPEG.subarray(0, 2), comment, text, SELFIE_JPEG.subarray(2)]);
}
