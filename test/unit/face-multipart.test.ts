import { describe, expect, it } from 'vitest';
import { MultipartError, multipartBoundary, parseMultipart } from '../../tools/face-emulator/multipart';

const BOUNDARY = '----AzSDKFormBoundary05d9fa69-a639-4247-8e5d-49c0df770756';

/** The body exactly as `@azure-rest/core-client` frames it (captured from the Face client). */
function azureClientBody(image: Buffer): Buffer {
  const part = (headers: string[], body: Buffer | string) => [
    Buffer.from(`\r\n${headers.join('\r\n')}\r\n\r\n`),
    Buffer.isBuffer(body) ? body : Buffer.from(body),
    Buffer.from(`\r\n--${BOUNDARY}`),
  ];
  const text = (name: string, value: string) =>
    part(['content-type: text/plain; charset=UTF-8', `content-disposition: form-data; name="${name}"`], value);
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}`),
    ...part(['content-type: application/octet-stream', 'content-disposition: form-data; name="verifyImage"; filename="verify-image"'], image),
    ...text('livenessOperationMode', 'Passive'),
    ...text('authTokenTimeToLiveInSeconds', '60'),
    ...text('enableSessionImage', 'true'),
    Buffer.from('--\r\n\r\n'),
  ]);
}

describe('multipartBoundary', () => {
  it('reads the boundary of a multipart/form-data content type, quoted or not', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b;c"')).toBe('a b;c');
  });

  it('finds no boundary in other content types', () => {
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary('multipart/mixed; boundary=x')).toBeUndefined();
    expect(multipartBoundary('multipart/form-data')).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});

describe('parseMultipart', () => {
  it('splits what the Azure client sends into named fields and a binary file', () => {
    // Binary content that contains CRLF, dashes and a near-boundary must come back byte for byte.
    const image = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}\r\n--${BOUNDARY}X\r\n`)]);

    const parts = parseMultipart(azureClientBody(image), BOUNDARY);

    expect(parts.map((part) => part.name)).toEqual(['verifyImage', 'livenessOperationMode', 'authTokenTimeToLiveInSeconds', 'enableSessionImage']);
    expect(parts[0]).toMatchObject({ filename: 'verify-image', contentType: 'application/octet-stream' });
    expect(parts[0]?.data.equals(image)).toBe(true);
    expect(parts.slice(1).map((part) => part.data.toString())).toEqual(['Passive', '60', 'true']);
  });

  it('reads the body that undici FormData produces', async () => {
    const form = new FormData();
    form.set('verifyImage', new Blob([Buffer.from([0xff, 0xd8, 0xff, 0x00])]), 'face.jpg');
    form.set('deviceCorrelationId', 'dev-1');
    const request = new Request('http://localhost/', { method: 'POST', body: form });
    const boundary = multipartBoundary(request.headers.get('content-type') ?? undefined);

    const parts = parseMultipart(Buffer.from(await request.arrayBuffer()), boundary ?? '');

    expect(parts.map((part) => [part.name, part.filename])).toEqual([
      ['verifyImage', 'face.jpg'],
      ['deviceCorrelationId', undefined],
    ]);
    expect([...(parts[0]?.data ?? [])]).toEqual([0xff, 0xd8, 0xff, 0x00]);
  });

  it('skips a preamble and unescapes quoted names', () => {
    const body = Buffer.from(
      `preamble line\r\n--b\r\ncontent-disposition: form-data; name="say \\"hi\\""\r\n\r\nhello\r\n--b--`,
    );

    expect(parseMultipart(body, 'b')).toEqual([{ name: 'say "hi"', data: Buffer.from('hello') }]);
  });

  it.each([
    ['no boundary at all', 'just text'],
    ['a part that never ends', '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nvalue'],
    ['headers that never end', '--b\r\ncontent-disposition: form-data; name="x"'],
    ['a part without a name', '--b\r\ncontent-disposition: form-data\r\n\r\nv\r\n--b--'],
    ['a part without Content-Disposition', '--b\r\ncontent-type: text/plain\r\n\r\nv\r\n--b--'],
    ['a boundary run into its content', '--bX\r\n'],
  ])('refuses %s', (_case, body) => {
    expect(() => parseMultipart(Buffer.from(body), 'b')).toThrow(MultipartError);
  });
});
