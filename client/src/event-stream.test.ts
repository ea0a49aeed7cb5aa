import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventStreamParser, type ServerSentEvent } from './event-stream.js';

const parse = (...chunks: (string | Uint8Array)[]): ServerSentEvent[] => {
  const parser = new EventStreamParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
};

describe('EventStreamParser', () => {
  it('reads the collector’s frames: id, event and data, a heartbeat between', () => {
    expect(
      parse('id: 7\nevent: conflict.opened\ndata: {"id":7}\n\n: heartbeat\n\nid: 8\nevent: x\ndata: {}\n\n'),
    ).toEqual([
      { type: 'conflict.opened', data: '{"id":7}', lastEventId: '7' },
      { type: 'x', data: '{}', lastEventId: '8' },
    ]);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('takes %s for a line end', (_, end) => {
    expect(parse(`data: a${end}data: b${end}${end}`)).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it('follows the standard’s field rules', () => {
    expect(
      parse(
        '\uFEFFdata:no space\n\n', // a leading BOM ignored; no space after the colon
        'data:  two spaces\n\n', // only one space is taken off
        'data\n\n', // a field name alone: an empty value, still an event
        'id: 3\n\n', // no data: no event, but the ID stands
        'data: after\n\n',
        'id: a\u0000b\ndata: nul\n\n', // an ID with NUL is ignored
        'retry: 5000\nfoo: bar\ndata: unknown fields ignored\n\n',
        'data: unfinished', // the end of the stream discards what is pending
      ),
    ).toEqual([
      { type: 'message', data: 'no space', lastEventId: '' },
      { type: 'message', data: ' two spaces', lastEventId: '' },
      { type: 'message', data: '', lastEventId: '' },
      { type: 'message', data: 'after', lastEventId: '3' },
      { type: 'message', data: 'nul', lastEventId: '3' },
      { type: 'message', data: 'unknown fields ignored', lastEventId: '3' },
    ]);
    const comments: string[] = [];
    const parser = new EventStreamParser({ lastEventId: '41', onComment: (comment) => comments.push(comment) });
    expect(parser.lastEventId).toBe('41');
    parser.push(': ping\n:\nretry: 5000\nretry: 5s\n\n');
    expect(parser.retryMs).toBe(5000);
    expect(comments).toEqual(['ping', '']);
  });

  it('drops one byte order mark at the start, given as bytes, and no more', () => {
    const bytes = new TextEncoder().encode('\uFEFF\uFEFFdata: x\n\n');
    expect(bytes.subarray(0, 3)).toEqual(new Uint8Array([0xef, 0xbb, 0xbf]));
    // The second is the first field name's: "\uFEFFdata", which is no field the standard knows.
    expect(parse(bytes)).toEqual([]);
    expect(parse(bytes.subarray(3))).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
  });

  it('gives the same events however the bytes are cut, a character or a CRLF across chunks included', () => {
    const stream = fc.array(
      fc.record({
        id: fc.option(fc.integer({ min: 0 }).map(String), { nil: undefined }),
        type: fc.option(fc.constantFrom('conflict.opened', 'conflict.resolved'), { nil: undefined }),
        data: fc.array(
          fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n]/g, '')),
          { minLength: 1, maxLength: 3 },
        ),
        end: fc.constantFrom('\n', '\r\n', '\r'),
      }),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (events, cuts) => {
        const text = events
          .map(({ id, type, data, end }) =>
            [
              ...(id === undefined ? [] : [`id: ${id}`]),
              ...(type === undefined ? [] : [`event: ${type}`]),
              ...data.map((line) => `data: ${line}`),
              '',
              '',
            ].join(end),
          )
          .join('');
        const bytes = new TextEncoder().encode(text);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, k) => bytes.subarray(from, at[k] ?? bytes.length));
        expect(parse(...chunks)).toEqual(parse(text));
        expect(parse(text).map((e) => e.data)).toEqual(events.map((e) => e.data.join('\n')));
      }),
    );
  });
});
