/**
 * A small `multipart/form-data` parser (RFC 7578 / RFC 2046) over a fully buffered body.
 *
 * It reads what `@azure-rest/core-client` sends (`--boundary CRLF headers CRLF CRLF body CRLF --boundary ... --boundary--`,
 * text fields as `text/plain; charset=UTF-8` parts, names quoted with JSON escaping) and what browsers and
 * undici's `FormData` send.
 */

/** One part of a form: a text field or a file. */
export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** The body is not well-formed `multipart/form-data`. */
export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_PARTS = 64;

/** The `boundary` parameter of a `multipart/form-data` Content-Type, or `undefined` when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [mediaType, ...parameters] = splitParameters(contentType);
  if (mediaType?.toLowerCase() !== 'multipart/form-data') return undefined;
  const boundary = parameters.find((parameter) => parameter.name === 'boundary')?.value;
  return boundary && boundary.length <= 70 ? boundary : undefined;
}

/** Splits a buffered body into its parts; throws {@link MultipartError} when it is malformed. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const partEnd = Buffer.concat([CRLF, delimiter]);

  let position = body.indexOf(delimiter);
  // The first delimiter opens the body or follows a preamble line.
  while (position > 0 && !(body[position - 2] === 0x0d && body[position - 1] === 0x0a)) {
    position = body.indexOf(delimiter, position + 1);
  }
  if (position < 0) throw new MultipartError('no opening boundary');

  const parts: MultipartPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    while (body[position] === 0x20 || body[position] === 0x09) position += 1;
    if (!(body[position] === 0x0d && body[position + 1] === 0x0a)) throw new MultipartError('boundary not followed by CRLF');
    position += 2;
    if (parts.length === MAX_PARTS) throw new MultipartError('too many parts');

    let headerBlock = '';
    let contentStart: number;
    if (body[position] === 0x0d && body[position + 1] === 0x0a) {
      contentStart = position + 2;
    } else {
      const headerEnd = body.indexOf(HEADER_END, position);
      if (headerEnd < 0) throw new MultipartError('part headers are not terminated');
      headerBlock = body.subarray(position, headerEnd).toString('utf8');
      contentStart = headerEnd + HEADER_END.length;
    }
    const contentEnd = findPartEnd(body, partEnd, contentStart);
    if (contentEnd < 0) throw new MultipartError('part is not terminated by a boundary');
    parts.push(partFrom(headerBlock, body.subarray(contentStart, contentEnd)));
    position = contentEnd + CRLF.length;
  }
}

/** The next `CRLF--boundary` that is a real delimiter (followed by `--`, whitespace or CRLF), not a longer token. */
function findPartEnd(body: Buffer, partEnd: Buffer, from: number): number {
  for (let index = body.indexOf(partEnd, from); index >= 0; index = body.indexOf(partEnd, index + 1)) {
    const next = body[index + partEnd.length];
    if (next === undefined || next === 0x2d || next === 0x0d || next === 0x20 || next === 0x09) return index;
  }
  return -1;
}

function partFrom(headerBlock: string, data: Buffer): MultipartPart {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of headerBlock.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError('malformed part header');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (!disposition) throw new MultipartError('part without Content-Disposition');
  const [type, ...parameters] = splitParameters(disposition);
  if (type?.toLowerCase() !== 'form-data') throw new MultipartError('part is not form-data');
  const name = parameters.find((parameter) => parameter.name === 'name')?.value;
  if (name === undefined) throw new MultipartError('part without a name');
  const filename = parameters.find((parameter) => parameter.name === 'filename')?.value;
  return { name, data, ...(filename !== undefined && { filename }), ...(contentType !== undefined && { contentType }) };
}

interface HeaderParameter {
  name: string;
  value: string;
}

/** Splits `type; a=b; c="d;e"` into the leading token (a string) and its parameters, honouring quoted strings. */
function splitParameters(header: string): [string | undefined, ...HeaderParameter[]] {
  const segments: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < header.length; index += 1) {
    const char = header[index];
    if (quoted && char === '\\' && index + 1 < header.length) {
      current += char + header[index + 1];
      index += 1;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === ';' && !quoted) {
      segments.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (quoted) throw new MultipartError('unterminated quoted string in header');
  segments.push(current);

  const [first, ...rest] = segments.map((segment) => segment.trim());
  const parameters = rest.filter(Boolean).map((segment): HeaderParameter => {
    const equals = segment.indexOf('=');
    if (equals <= 0) return { name: segment.toLowerCase(), value: '' };
    const name = segment.slice(0, equals).trim().toLowerCase();
    const raw = segment.slice(equals + 1).trim();
    const value = raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    return { name, value };
  });
  return [first, ...parameters];
}
