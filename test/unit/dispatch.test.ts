import { describe, expect, it } from 'vitest';
import { parseRequestUrl } from '../../src/fhir/dispatch.js';

/** The routing part of a parsed URL, with the query as [key, value] pairs for comparison. */
function route(url: string) {
  const r = parseRequestUrl(url);
  return r && { ...r, query: [...r.query] };
}

describe('parseRequestUrl: relative FHIR request URLs (Bundle.entry.request.url and REST paths)', () => {
  it.each<[string, Record<string, unknown>]>([
    ['Patient', { type: 'Patient', query: [] }],
    ['Patient/1', { type: 'Patient', id: '1', query: [] }],
    ['Patient/a-b.C9', { type: 'Patient', id: 'a-b.C9', query: [] }],
    ['Patient?identifier=x|1', { type: 'Patient', query: [['identifier', 'x|1']] }],
    ['Patient?x=1&x=2', { type: 'Patient', query: [['x', '1'], ['x', '2']] }],
    ['Patient?a=b?c', { type: 'Patient', query: [['a', 'b?c']] }],
    ['Patient?', { type: 'Patient', query: [] }],
    ['Patient?name=J%C3%B6rg&given=a+b', { type: 'Patient', query: [['name', 'Jörg'], ['given', 'a b']] }],
    ['Patient/1?_format=json', { type: 'Patient', id: '1', query: [['_format', 'json']] }],
    ['Patient/_history', { type: 'Patient', compartment: '_history', query: [] }],
    ['Patient/_history?_since=2026', { type: 'Patient', compartment: '_history', query: [['_since', '2026']] }],
    ['Patient/_search', { type: 'Patient', compartment: '_search', query: [] }],
    ['Patient/_search?identifier=x', { type: 'Patient', compartment: '_search', query: [['identifier', 'x']] }],
    ['Patient/1/_history', { type: 'Patient', id: '1', compartment: '_history', query: [] }],
    ['Patient/1/_history?_count=2', { type: 'Patient', id: '1', compartment: '_history', query: [['_count', '2']] }],
    ['Patient/1/_history/2', { type: 'Patient', id: '1', versionId: '2', query: [] }],
    ['/Patient/1', { type: 'Patient', id: '1', query: [] }],
    ['Patient/1/', { type: 'Patient', id: '1', query: [] }],
    ['//Patient/1/_history/2//', { type: 'Patient', id: '1', versionId: '2', query: [] }],
    // Not decoded here: an escaped id reaches the interaction as sent, and fails its id check there.
    ['Patient/a%20b', { type: 'Patient', id: 'a%20b', query: [] }],
    // Any first segment is a type here; whether it is served is the interaction's concern (404).
    ['Foo/1', { type: 'Foo', id: '1', query: [] }],
  ])('%s', (url, expected) => {
    expect(route(url)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['/', 'only a slash'],
    ['?x=1', 'only a query'],
    ['Patient/1/foo', 'a third segment that is not _history'],
    ['Patient/1/_search', '_search after an id'],
    ['Patient/1/_history/2/3', 'a fifth segment'],
    ['Patient/_history/1', 'a type history with a version'],
    ['Patient/_search/1', 'a search with an id'],
    ['Patient//1', 'an empty id'],
    ['http://signpost.test/fhir/Patient/1', 'an absolute URL'],
    ['http://x/Patient', 'an absolute URL with a short path'],
  ])('%s is not a FHIR request URL (%s)', (url) => {
    expect(parseRequestUrl(url)).toBeUndefined();
  });
});
